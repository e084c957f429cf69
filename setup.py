"""What pyproject.toml cannot say: the package list, and the pinned front-end files in every build.

templates/ and static/ install as webapp.templates and webapp.static (package-dir in pyproject.toml), where
webapp._folder finds them; the repository keeps them at the top level. A wheel or sdist built without
static/vendor gets it from scripts/vendor.py (npm ci, then the copy), or the build stops and says what is
missing: never a wheel whose pages answer 500. The editable install leaves it to `make install`.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent


def ensure_vendor_files() -> None:
    spec = importlib.util.spec_from_file_location("vendor", ROOT / "scripts" / "vendor.py")
    vendor = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(vendor)
    try:
        vendor.ensure(ROOT)
    except vendor.VendorError as error:
        raise SystemExit(f"error: cannot put the pinned front-end files into the build: {error}") from None


class BuildPy(build_py):
    def run(self) -> None:
        if not self.editable_mode:
            ensure_vendor_files()
        super().run()


class Sdist(sdist):
    def run(self) -> None:
        ensure_vendor_files()
        super().run()


setup(
    packages=find_namespace_packages(include=["engine", "engine.*", "webapp", "webapp.*"], exclude=["*.__pycache__"])
    + ["webapp.templates", "webapp.static"],
    cmdclass={"build_py": BuildPy, "sdist": Sdist},
)
