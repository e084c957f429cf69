"""JSON API, version 1 (contract: shared/api/trace-v1.md)."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
