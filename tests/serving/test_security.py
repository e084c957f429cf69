"""Security headers on every kind of response, who may frame what, the rate limit, and XSS.

XSS: a payload that breaks out of attributes, scripts and tags goes into every
field that reaches a page (each field of the lab's form, the lab's URL
parameters, preset ids, state tokens). Wherever it comes back in HTML it must
come back escaped: no element, attribute or script the payload would create.
"""
from __future__ import annotations

import base64
import io
import json
import re
import zlib
from html.parser import HTMLParser

import pytest
from flask import Blueprint
from markupsafe import escape

from engine import presets
from webapp import create_app
from webapp.serving import security
from webapp.serving.settings import Settings
from webapp.training.form import FORM_DEFAULTS

BASE_DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
}


def directives(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    pairs = [part.strip().split(" ", 1) for part in policy.split(";")]
    return {name: value for name, value in pairs}


def assert_secure_headers(response, frame_ancestors: str = "'self'") -> None:
    policy = directives(response)
    assert policy == {**BASE_DIRECTIVES, "frame-ancestors": frame_ancestors}
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    if frame_ancestors == "'self'":
        assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    else:
        assert "X-Frame-Options" not in response.headers


def preset_body(preset_id: str = "seed002-ex2") -> dict:
    return presets.get(preset_id).body()


def state_token(data: dict) -> str:
    packed = zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 9)
    return base64.urlsafe_b64encode(packed).rstrip(b"=").decode()


# Headers on every kind of response ------------------------------------------------------------------------------

EVERY_KIND = [
    ("gallery page", "GET", "/", {}, 200),
    ("lab page", "GET", "/lab/xor", {}, 200),
    ("lab page, 404", "GET", "/lab/no-such-preset", {}, 404),
    ("lab page, bad link", "GET", "/lab?state=!!!", {}, 400),
    ("unknown page", "GET", "/no/such/page", {}, 404),
    ("API JSON", "GET", "/api/v1/presets", {}, 200),
    ("API trace", "POST", "/api/v1/trace", {"json": preset_body()}, 200),
    ("API 422", "POST", "/api/v1/trace", {"json": {"layers": []}}, 422),
    ("API 415", "POST", "/api/v1/trace", {"data": "x", "content_type": "text/plain"}, 415),
    ("API 413", "POST", "/api/v1/trace", {"data": " " * (5 * 2**20), "content_type": "application/json"}, 413),
    ("API 405", "GET", "/api/v1/trace", {}, 405),
    ("API 404", "GET", "/api/v1/no-such-thing", {}, 404),
    ("static file", "GET", "/static/lab.css", {}, 200),
    ("static file, missing", "GET", "/static/no-such-file.js", {}, 404),
    ("health check", "GET", "/healthz", {}, 200),
    ("HEAD", "HEAD", "/", {}, 200),
    ("OPTIONS", "OPTIONS", "/api/v1/trace", {}, 200),
    ("export", "GET", f"/export?state={state_token(preset_body())}", {}, 200),
    ("export, bad state", "GET", "/export?state=abc", {}, 400),
    ("oEmbed, no url", "GET", "/oembed", {}, 400),
]


@pytest.mark.parametrize(("method", "url", "kwargs", "status"), [c[1:] for c in EVERY_KIND],
                         ids=[c[0] for c in EVERY_KIND])
def test_every_response_has_the_headers(client, method, url, kwargs, status):
    with client.open(url, method=method, **kwargs) as response:
        assert response.status_code == status
        assert_secure_headers(response)


def test_lab_partial_has_the_headers(client):
    form = lab_form(client, "xor")
    response = client.post("/lab/xor", data=form, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "<html" not in response.get_data(as_text=True)
    assert_secure_headers(response)


def test_versioned_static_and_304_have_the_headers(client):
    html = client.get("/lab/xor").get_data(as_text=True)
    url = re.search(r'/static/lab\.js\?v=[0-9a-f]+', html).group(0)
    with client.get(url) as first:
        assert "immutable" in first.headers["Cache-Control"]
        assert_secure_headers(first)
        etag = first.headers["ETag"]
    with client.get(url, headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304
        assert_secure_headers(again)


def test_an_unhandled_error_has_the_headers():
    app = create_app({"PROPAGATE_EXCEPTIONS": False})

    @app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert_secure_headers(response)


def test_pages_run_no_inline_script(client):
    """What the CSP forbids, the pages must not need: scripts are files, handlers are in them."""
    for url in ["/"] + [f"/lab/{preset.id}" for preset in presets.PRESETS]:
        page = parse(client.get(url).get_data(as_text=True))
        for attrs, text in page.scripts:
            assert attrs.get("src") or attrs.get("type") == "application/json", (url, attrs, text[:80])
            if attrs.get("src"):
                assert attrs["src"].startswith("/static/"), attrs["src"]
        assert not page.handlers, (url, page.handlers[:3])
        assert not page.script_urls, (url, page.script_urls[:3])


# Framing ----------------------------------------------------------------------------------------------------------


def app_with_embeds(**settings):
    """The app plus two stand-in embed views: one by endpoint name, one by the decorator."""
    app = create_app({"TESTING": True, "SETTINGS": Settings(**settings)})
    widgets = Blueprint("widgets", __name__)

    @widgets.get("/widget")
    def embed():
        return "<p>an embeddable page</p>"

    @widgets.get("/chart")
    @security.frameable
    def chart():
        return "<p>another</p>"

    @widgets.get("/plain")
    def plain():
        return "<p>a page</p>"

    app.register_blueprint(widgets)
    return app


@pytest.mark.parametrize("url", ["/widget", "/chart"])
def test_embed_views_may_be_framed_by_anyone_by_default(url):
    response = app_with_embeds().test_client().get(url)
    assert_secure_headers(response, frame_ancestors="*")


@pytest.mark.parametrize("url", ["/widget", "/chart"])
def test_embed_views_follow_the_allow_list(url):
    app = app_with_embeds(embed_frame_ancestors=("https://course.example.edu", "https://*.lms.example.org"))
    response = app.test_client().get(url)
    assert_secure_headers(response, frame_ancestors="https://course.example.edu https://*.lms.example.org")


def test_embed_views_limited_to_the_own_origin_say_so_twice():
    response = app_with_embeds(embed_frame_ancestors=("'self'",)).test_client().get("/widget")
    assert_secure_headers(response, frame_ancestors="'self'")


def test_other_views_are_framed_only_by_the_own_origin():
    client = app_with_embeds(embed_frame_ancestors=("https://course.example.edu",)).test_client()
    for url in ("/plain", "/", "/lab/xor", "/api/v1/presets", "/no-such-page", "/widget/nothing"):
        assert_secure_headers(client.get(url))


def test_the_apps_own_embed_endpoints_are_frameable(app, client):
    """Every route of the app named *.embed gets the allow-list (none until the embed page lands)."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint.endswith(".embed") and not rule.arguments:
            response = client.get(rule.rule + "?state=" + state_token(preset_body()))
            assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
            assert "X-Frame-Options" not in response.headers


# Rate limit -----------------------------------------------------------------------------------------------------


def test_no_rate_limit_by_default(client):
    for _ in range(30):
        assert client.get("/api/v1/limits").status_code == 200
    assert "X-RateLimit-Limit" not in client.get("/api/v1/limits").headers


def test_rate_limit_counts_every_route_per_client():
    client = create_app({"TESTING": True, "SETTINGS": Settings(rate_limit="3/minute")}).test_client()
    assert [client.get(url).status_code for url in ("/api/v1/limits", "/", "/api/v1/presets")] == [200] * 3
    over = client.get("/api/v1/limits")
    assert over.status_code == 429
    assert over.mimetype == "application/problem+json"
    assert int(over.headers["Retry-After"]) > 0
    assert_secure_headers(over)
    other = client.get("/api/v1/limits", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 200  # another address has its own budget


def test_rate_limit_spares_health_checks_and_static_files():
    client = create_app({"TESTING": True, "SETTINGS": Settings(rate_limit="1/minute")}).test_client()
    assert client.get("/").status_code == 200
    assert client.get("/").status_code == 429
    for _ in range(5):
        assert client.get("/healthz").status_code == 200
        with client.get("/static/lab.css") as response:
            assert response.status_code == 200


# XSS ------------------------------------------------------------------------------------------------------------

PAYLOAD = "\"'></textarea></script><script>xss()</script><img src=x onerror=xss()><svg onload=xss()>{{7*7}}"
# For a path segment: no slash, so the URL still reaches the route.
SEGMENT = "\"'><img src=x onerror=xss()><svg onload=xss()>"


class Page(HTMLParser):
    """What a page would run: scripts, event-handler attributes, javascript: URLs, and the form's fields."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.scripts: list[tuple[dict, str]] = []
        self.handlers: list[tuple[str, str, str]] = []
        self.script_urls: list[str] = []
        self.sources: list[tuple[str, str]] = []
        self.fields: list[tuple[str, dict]] = []
        self.options: dict[str, list[tuple[str, bool]]] = {}
        self._select: str | None = None
        self._script: dict | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        if "src" in attributes:
            self.sources.append((tag, attributes["src"]))
        for name, value in attributes.items():
            if name.startswith("on"):
                self.handlers.append((tag, name, value))
            if name in ("href", "src", "action", "formaction") and value.strip().lower().startswith("javascript:"):
                self.script_urls.append(value)
        if tag == "script":
            self._script, self._text = attributes, []
        if tag in ("input", "textarea") and "name" in attributes:
            self.fields.append((tag, attributes))
        if tag == "select":
            self._select = attributes.get("name")
            self.options[self._select] = []
        if tag == "option" and self._select:
            self.options[self._select].append((attributes.get("value", ""), "selected" in attributes))

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._text)))
            self._script = None
        if tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._script is not None:
            self._text.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def lab_form(client, preset_id: str) -> dict[str, str]:
    """The lab's form as a browser would submit it unchanged."""
    page = parse(client.get(f"/lab/{preset_id}").get_data(as_text=True))
    form: dict[str, str] = {}
    for tag, attributes in page.fields:
        kind = attributes.get("type", "text")
        if kind in ("checkbox", "radio") and "checked" not in attributes:
            continue
        if kind in ("submit", "button"):
            continue
        form[attributes["name"]] = attributes.get("value", "")
    for name, options in page.options.items():
        chosen = [value for value, selected in options if selected] or [options[0][0]]
        form[name] = chosen[0]
    return form


def assert_payload_inert(response) -> None:
    """The payload, wherever it comes back, creates nothing: it is text, never markup or script."""
    body = response.get_data(as_text=True)
    if response.mimetype != "text/html":
        assert response.mimetype in ("application/json", "application/problem+json"), response.mimetype
        return
    assert PAYLOAD not in body and SEGMENT not in body
    page = parse(body)
    assert not page.handlers, page.handlers[:3]
    assert ("img", "x") not in page.sources
    for attrs, text in page.scripts:
        if attrs.get("type") == "application/json":
            json.loads(text)  # whole: the payload did not end the script early
        else:
            assert "xss()" not in text and "xss()" not in attrs.get("src", ""), text[:200]


def reflected_escaped(response) -> bool:
    """Whether the payload's <img> tag is in the page as text (escaped by Jinja or werkzeug)."""
    return str(escape("<img src=x onerror=xss()>")) in response.get_data(as_text=True)


def lab_fields() -> list[str]:
    client = create_app({"TESTING": True}).test_client()
    return sorted(lab_form(client, "quiz4-softmax-ce")) + sorted(set(lab_form(client, "xor")) - set(lab_form(client, "quiz4-softmax-ce")))


LAB_FIELDS = lab_fields()
# Fields whose typed text the lab shows back (numbers and counts that did not parse).
ECHOED = re.compile(r"^(?:[WbXT][0-9]*\[[0-9,]+\]|label\[[0-9]+\]|examples|units-[0-9]+|steps|learning-rate|seed)$")


@pytest.mark.parametrize("field", LAB_FIELDS)
@pytest.mark.parametrize("htmx", [True, False], ids=["partial", "page"])
def test_lab_form_fields_come_back_escaped(client, field, htmx):
    preset_id = "xor" if field not in lab_form(client, "quiz4-softmax-ce") else "quiz4-softmax-ce"
    form = {**lab_form(client, preset_id), field: PAYLOAD}
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.post(f"/lab/{preset_id}", data=form, headers=headers)
    assert response.status_code in (200, 303, 400, 422), response.status_code
    assert_secure_headers(response)
    assert_payload_inert(response)
    if ECHOED.match(field):
        assert reflected_escaped(response), f"{field} is not shown back"


def test_the_echoed_fields_are_there():
    assert {"W1[1,1]", "X[1,1]", "label[1]", "steps", "learning-rate", "examples", "units-0"} <= set(LAB_FIELDS)


@pytest.mark.parametrize(
    "url",
    [
        "/lab/{segment}",
        "/lab/xor?at={p}",
        "/lab?state={p}",
        "/lab?state={net}",
        "/lab?state={net_activation}",
        "/lab?state={state}",
        "/export?state={p}",
        "/export?state={state}",
        "/export?format={p}&state={state_ok}",
        "/oembed?url={p}",
        "/oembed?url=http://localhost/lab/xor?state={state}",
        "/oembed?format={p}&url=x",
        "/api/v1/presets/{segment}",
        "/{segment}",
    ],
)
def test_url_parameters_come_back_escaped(client, url):
    bad_state = {**preset_body(), "preset": PAYLOAD, "substep": PAYLOAD}
    filled = url.format(
        p=PAYLOAD,
        segment=SEGMENT,
        net=state_token({**preset_body(), "layout": PAYLOAD}),
        net_activation=state_token({**preset_body(), "loss": {"name": PAYLOAD}}),
        state=state_token(bad_state),
        state_ok=state_token(preset_body()),
    )
    response = client.get(filled)
    assert response.status_code != 500  # oEmbed answers 501 for a format it does not serve
    assert_secure_headers(response)
    assert_payload_inert(response)


def test_a_preset_id_in_a_404_page_is_escaped(client):
    response = client.get("/lab/" + SEGMENT)
    assert response.status_code == 404
    assert reflected_escaped(response)


# The training page: its setup form, its links, and a CSV's column names and file name.

TRAIN_BASE = {"dataset": "moons", "size": "40", "hidden": "3", "features": "x1"}


@pytest.mark.parametrize("field", sorted(FORM_DEFAULTS))
@pytest.mark.parametrize("htmx", [True, False], ids=["partial", "page"])
def test_train_form_fields_come_back_escaped(client, field, htmx):
    headers = {"HX-Request": "true"} if htmx else {}
    response = client.post("/train", data={**TRAIN_BASE, field: PAYLOAD}, headers=headers)
    assert response.status_code == 200
    assert_secure_headers(response)
    assert_payload_inert(response)


@pytest.mark.parametrize("field", sorted(FORM_DEFAULTS))
def test_train_links_come_back_escaped(client, field):
    response = client.get("/train", query_string={**TRAIN_BASE, field: PAYLOAD})
    assert response.status_code == 200
    assert_payload_inert(response)


def test_csv_column_names_and_file_name_come_back_escaped(client):
    rows = "".join(f"{x / 10},{(x * 7 % 10) / 10},{x % 2}\n" for x in range(20))
    table = f"{SEGMENT},x2,label\n{rows}"
    typed = client.post("/train", data={**TRAIN_BASE, "dataset": "csv", "csv": table, "features": ""})
    assert typed.status_code == 200
    assert_payload_inert(typed)
    assert reflected_escaped(typed)
    uploaded = client.post(
        "/train",
        data={**TRAIN_BASE, "csv_file": (io.BytesIO(b"\xff\xfe not utf-8"), "<img src=x onerror=xss()>.csv")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 200
    assert_payload_inert(uploaded)
    assert reflected_escaped(uploaded)
