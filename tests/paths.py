"""Where the tests find the checkout and the shared reference files."""
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
REFCASES_FILE = SHARED / "refcases" / "trace-v1-cases.json"
ERRATA_FILE = SHARED / "refcases" / "seed-errata.json"
STATIC = REPO / "static"
