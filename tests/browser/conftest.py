"""Browser tests: the app on a real server in a thread, driven by headless Chromium (Playwright).

Debian's /usr/bin/chromium is used (Playwright's own browser download is not available).
Screenshots go to test-output/screenshots/ at the top of the checkout.
"""
from __future__ import annotations

import json
import os
import threading
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from webapp import create_app

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"

sync_api = pytest.importorskip("playwright.sync_api")
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}", allow_module_level=True)


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


@pytest.fixture(scope="session")
def live_server():
    """The app served on 127.0.0.1 at a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, create_app(), threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture(scope="session")
def other_origin():
    """Another site on another 127.0.0.1 port: other_origin.page(html) serves a page, returns its URL."""

    class OtherSite:
        def __init__(self):
            self.pages: dict[str, str] = {}

        def __call__(self, environ, start_response):
            html = self.pages.get(environ.get("PATH_INFO", ""))
            if html is None:
                start_response("404 Not Found", [("Content-Type", "text/plain")])
                return [b"not found"]
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [html.encode()]

        def page(self, html: str) -> str:
            path = f"/page-{len(self.pages)}.html"
            self.pages[path] = html
            return f"http://127.0.0.1:{server.server_port}{path}"

    site = OtherSite()
    server = make_server("127.0.0.1", 0, site, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    server.shutdown()
    thread.join(5)


@pytest.fixture(scope="session")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Watched:
    """A page with every console error, page error and request it made (and which of them were POSTs)."""

    def __init__(self, page, base_url: str):
        self.page, self.base_url = page, base_url
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.posts: list[str] = []
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("request", self._record)

    def _record(self, request) -> None:
        self.requests.append(request.url)
        if request.method == "POST":
            self.posts.append(request.url)

    def foreign_requests(self) -> list[str]:
        host = urlsplit(self.base_url).netloc
        return [url for url in self.requests if urlsplit(url).scheme in ("http", "https", "ws", "wss")
                and urlsplit(url).netloc != host]


@pytest.fixture
def watched(browser, live_server):
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield Watched(page, live_server)
    context.close()


@pytest.fixture
def api(live_server):
    """POST a body to the live server's JSON API: api("/trace", body) -> parsed JSON."""

    def post(path: str, body: dict) -> dict:
        request = urllib.request.Request(
            f"{live_server}/api/v1{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    return post


@pytest.fixture(scope="session")
def screenshots() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


# --- accessibility: axe-core (pinned in package.json, installed into node_modules by `make install`) --------

AXE_SCRIPT = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

# axe's report, cut to what a reader needs: each rule broken, and where.
AXE_RUN = """tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})
  .then(results => results.violations.map(rule => ({
    id: rule.id, impact: rule.impact, help: rule.help, url: rule.helpUrl,
    nodes: rule.nodes.map(node => ({target: node.target, html: node.html.slice(0, 200),
                                    summary: node.failureSummary}))})))"""


def axe_report(violations: list[dict]) -> str:
    """One line a rule (id, impact, help, count), one a failing element (its target and why)."""
    lines = [f"{len(violations)} axe rule(s) broken:"]
    for rule in violations:
        lines.append(f"- {rule['id']} ({rule['impact']}, {len(rule['nodes'])} elements): {rule['help']} <{rule['url']}>")
        for node in rule["nodes"]:
            why = " ".join((node["summary"] or "").split())
            lines.append(f"    {node['target']} {node['html']!r}: {why}")
    return "\n".join(lines)


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_SCRIPT.exists():
        pytest.fail(f"no axe-core at {AXE_SCRIPT}: run `make install` (npm ci)")
    return AXE_SCRIPT.read_text(encoding="utf-8")


@pytest.fixture
def audit(axe_source):
    """audit(page or frame): axe's WCAG 2.0/2.1 A and AA rules on what it shows now; fails on any violation.

    axe is evaluated through the DevTools protocol, which the pages' CSP (script-src 'self') does not
    govern: the page audited is the one a student gets, CSP and all.
    """

    def run(target) -> None:
        if not target.evaluate("() => typeof window.axe === 'object'"):
            target.evaluate(axe_source)
        violations = target.evaluate(AXE_RUN, WCAG_TAGS)
        assert not violations, axe_report(violations)

    return run
