"""HTML pages: the preset gallery and the lab."""
from flask import Blueprint

bp = Blueprint("pages", __name__)
