"""The wheel as a user gets it: built from the committed tree alone, installed into a fresh virtual
environment from a local wheelhouse, served from a folder outside the checkout.

`git archive HEAD` is the clean clone: no node_modules, no static/vendor, none of the working tree's
uncommitted edits. `python -m build` builds the sdist, then the wheel from the sdist, so both must carry
what a server needs; the build fetches the pinned front-end files itself (scripts/vendor.py), or stops
with a message naming npm when it cannot.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from scripts import vendor
from tests.paths import REPO

PRESET = "seed002-ex2"
# Each step is bounded; together they take well under a minute here (two cores, warm pip cache).
BUILD_TIMEOUT = 300
INSTALL_TIMEOUT = 300
START_TIMEOUT = 60
REQUEST_TIMEOUT = 30


def run(command: list[str], text: bool = True, **options) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=text, check=False, **options)


def output(result: subprocess.CompletedProcess) -> str:
    return f"{result.args[0]} exited with {result.returncode}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("wheel")


@pytest.fixture(scope="module")
def clean_tree(work) -> Path:
    """The committed HEAD, as a clean clone has it."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: no committed tree to build from")
    archive = run(["git", "-C", str(REPO), "archive", "--format=tar", "HEAD"], text=False, timeout=60)
    assert archive.returncode == 0, archive.stderr
    tree = work / "src"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    assert not (tree / "node_modules").exists() and not (tree / vendor.VENDOR).exists()
    return tree


@pytest.fixture(scope="module")
def dist(clean_tree, work) -> Path:
    """dist/ with the sdist and the wheel built from it (no isolation: the test's own setuptools, no download)."""
    out = work / "dist"
    command = [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(clean_tree)]
    if shutil.which("npm") is None:
        result = run(command, cwd=clean_tree, timeout=BUILD_TIMEOUT)
        assert result.returncode != 0 and "npm not found" in result.stdout + result.stderr, output(result)
        pytest.skip("npm not found: the build stops and says so (checked), so there is no wheel to serve")
    result = run(command, cwd=clean_tree, timeout=BUILD_TIMEOUT)
    assert result.returncode == 0, output(result)
    return out


@pytest.fixture(scope="module")
def wheel(dist) -> Path:
    (found,) = dist.glob("*.whl")
    return found


@pytest.fixture(scope="module")
def environment(wheel, work) -> Path:
    """A fresh virtual environment with the wheel installed from a wheelhouse, and nothing else."""
    wheelhouse = work / "wheelhouse"
    fetched = run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(wheelhouse), str(wheel)],
        timeout=INSTALL_TIMEOUT,
    )
    assert fetched.returncode == 0, output(fetched)
    env_dir = work / "venv"
    created = run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], timeout=120)
    assert created.returncode == 0, output(created)
    installed = run(
        [sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"), "install", "--quiet",
         "--no-index", "--find-links", str(wheelhouse), "backprop-visualizer"],
        # only the wheelhouse: no index, no find-links of the machine's pip configuration
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
        timeout=INSTALL_TIMEOUT,
    )
    assert installed.returncode == 0, output(installed)
    return env_dir


@pytest.fixture(scope="module")
def outside(work) -> Path:
    folder = work / "elsewhere"
    folder.mkdir()
    return folder


@pytest.fixture(scope="module")
def server(environment, outside) -> Iterator[str]:
    """`backprop-viz serve` of the fresh environment on a free loopback port; stopped at the end."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("BACKPROP_VIZ_") and name not in ("PYTHONPATH", "PYTHONHOME")}
    log_path = outside / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(environment / "bin" / "backprop-viz"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=outside, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                try:
                    with urllib.request.urlopen(base + "/healthz", timeout=2):
                        break
                except OSError:
                    assert process.poll() is None, f"the server exited:\n{log_path.read_text()[-4000:]}"
                    assert time.monotonic() < deadline, f"no answer within {START_TIMEOUT} s"
                    time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def fetch(url: str, body: bytes | None = None) -> tuple[int, str, bytes]:
    """(status, content type, body) of a GET, or of a JSON POST when body is given."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"} if body else {})
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            return response.status, response.headers.get_content_type(), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers.get_content_type(), error.read()


class Assets(HTMLParser):
    """The `<script src>` and `<link rel=stylesheet href>` of a page, and its canonical link."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.canonical: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        rel = (attributes.get("rel") or "").split()
        if tag == "script" and attributes.get("src"):
            self.urls.append(attributes["src"])
        elif tag == "link" and "stylesheet" in rel and attributes.get("href"):
            self.urls.append(attributes["href"])
        elif tag == "link" and "canonical" in rel:
            self.canonical = attributes.get("href")


def assets(page: bytes) -> Assets:
    parser = Assets()
    parser.feed(page.decode("utf-8"))
    return parser


def test_the_wheel_has_the_templates_and_static_files_inside_webapp(wheel):
    with zipfile.ZipFile(wheel) as archive:
        sizes = {info.filename: info.file_size for info in archive.infolist()}
    top_level = {name.split("/")[0] for name in sizes if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"engine", "webapp"}
    for name in vendor.FILES:
        assert sizes.get(f"webapp/static/vendor/{name}", 0) > 0, name
    for name in ("webapp/static/lab.js", "webapp/templates/lab.html", "webapp/templates/partials/_lab.html",
                 "webapp/notation/errata.json"):
        assert name in sizes
    assert "webapp/static/vendor/.installed" not in sizes


def test_the_sdist_carries_what_its_wheel_is_built_from(dist):
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    wanted = {"setup.py", "pyproject.toml", "MANIFEST.in", "package.json", "package-lock.json", "scripts/vendor.py"}
    wanted |= {f"static/vendor/{name}" for name in vendor.FILES}
    assert wanted <= names


def test_the_installed_app_serves_its_own_files(environment, outside):
    code = "import webapp; print(webapp._folder('templates')); print(webapp._folder('static'))"
    result = run([str(environment / "bin" / "python"), "-c", code], cwd=outside, timeout=60)
    assert result.returncode == 0, output(result)
    for folder in result.stdout.split():
        assert Path(folder).is_relative_to(environment), folder


def test_every_page_and_its_scripts_and_styles_answer_200(server):
    status, _, lab = fetch(f"{server}/lab/{PRESET}")
    assert status == 200
    canonical = assets(lab).canonical
    assert canonical
    (token,) = parse_qs(urlsplit(canonical).query)["state"]
    pages = ["/", f"/lab/{PRESET}", "/train", "/embed?" + urlencode({"state": token})]
    failures = []
    for page in pages:
        status, content_type, html = fetch(server + page)
        if status != 200 or content_type != "text/html":
            failures.append(f"{page}: {status} {content_type}")
            continue
        urls = assets(html).urls
        assert urls, f"{page} has no scripts or styles"
        for url in urls:
            status, _, body = fetch(server + url)
            if status != 200 or not body:
                failures.append(f"{page} -> {url}: {status}, {len(body)} bytes")
    assert not failures


def test_the_api_traces_a_preset(server):
    status, _, preset = fetch(f"{server}/api/v1/presets/{PRESET}")
    assert status == 200
    status, content_type, body = fetch(f"{server}/api/v1/trace", body=preset)
    assert (status, content_type) == (200, "application/json"), body[:500]
    trace = json.loads(body)
    assert trace["steps"] and isinstance(trace["final_loss"], float)
