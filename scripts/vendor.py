"""The pinned front-end files the app serves from static/vendor: which files, and how they get there.

    python scripts/vendor.py     npm ci (the versions in package-lock.json), then copy the files into static/vendor

`make install` runs it; setup.py calls `ensure` when it builds a wheel or an sdist, so a build from a clean
clone carries the files as well. This is the one list of them. Standard library only: it runs before any
virtual environment exists, and inside setuptools' build.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = Path("static") / "vendor"
# static/vendor/<name> <- node_modules/<path>
FILES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "plotly-cartesian.min.js": "plotly.js-cartesian-dist-min/plotly-cartesian.min.js",
}
NPM_CI_OPTIONS = ["--no-audit", "--no-fund", "--loglevel=error"]


class VendorError(RuntimeError):
    """The front-end files are missing and cannot be fetched here."""


def missing(root: Path = ROOT) -> list[str]:
    """The vendor files (paths relative to root) that root/static/vendor lacks."""
    return [(VENDOR / name).as_posix() for name in FILES if not (root / VENDOR / name).is_file()]


def install(root: Path = ROOT) -> None:
    """Run `npm ci` in root, then copy the files from root/node_modules into root/static/vendor."""
    wanted = " and ".join((VENDOR / name).as_posix() for name in FILES)
    if not (root / "package-lock.json").is_file():
        raise VendorError(f"{root / 'package-lock.json'} not found: it pins the versions of {wanted}")
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError(
            f"npm not found on PATH. It installs the front-end packages pinned in package-lock.json, "
            f"from which {wanted} are copied. Install Node.js and npm (Debian: apt-get install npm), "
            f"or build from the sdist, which carries the files."
        )
    result = subprocess.run([npm, "ci", *NPM_CI_OPTIONS], cwd=root, check=False)
    if result.returncode != 0:
        raise VendorError(f"`npm ci` failed in {root} (exit status {result.returncode}): {wanted} not copied")
    (root / VENDOR).mkdir(parents=True, exist_ok=True)
    for name, source in FILES.items():
        shutil.copyfile(root / "node_modules" / source, root / VENDOR / name)


def ensure(root: Path = ROOT) -> None:
    """The vendor files in root/static/vendor: `install` them when any is missing."""
    if missing(root):
        install(root)


def main() -> int:
    try:
        install()
    except VendorError as error:
        print(f"scripts/vendor.py: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
