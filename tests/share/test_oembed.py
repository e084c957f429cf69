"""oEmbed 1.0 (https://oembed.com): a `rich` response for lab and embed URLs, and the discovery link."""
from __future__ import annotations

import html.parser
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from engine import presets
from webapp.lab import state

HOST = "http://localhost"


def token_of(preset_id: str, **lab_fields) -> str:
    return state.encode(state.LabState(presets.get(preset_id).body(), preset=preset_id, **lab_fields))


class Tags(html.parser.HTMLParser):
    """Every start tag of a document with its attributes."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(text: str) -> list[tuple[str, dict]]:
    parser = Tags()
    parser.feed(text)
    return parser.tags


def assert_valid_rich_response(data: dict) -> None:
    """The oEmbed spec's section 2.3.4 (every response) and 2.3.4.4 (the rich type)."""
    assert data["type"] == "rich"
    assert data["version"] == "1.0"
    for field in ("html", "width", "height"):
        assert field in data, field
    assert isinstance(data["html"], str) and data["html"]
    for field in ("width", "height"):
        assert isinstance(data[field], int) and not isinstance(data[field], bool) and data[field] > 0
    for field in ("title", "provider_name", "provider_url", "author_name", "author_url"):
        assert field not in data or isinstance(data[field], str)
    assert "cache_age" not in data or (isinstance(data["cache_age"], int) and data["cache_age"] >= 0)
    thumbnail = [field in data for field in ("thumbnail_url", "thumbnail_width", "thumbnail_height")]
    assert all(thumbnail) or not any(thumbnail)


@pytest.mark.parametrize("endpoint", ["/lab", "/embed"])
def test_oembed_answers_a_rich_iframe_of_the_embed_page(client, endpoint):
    token = token_of("mazur-2-2-2", substep="s0-backward-2")
    answer = client.get("/oembed", query_string={"url": f"{HOST}{endpoint}?state={token}", "format": "json"})
    assert answer.status_code == 200
    assert answer.mimetype == "application/json"
    data = answer.get_json()
    assert_valid_rich_response(data)
    assert data["title"] == presets.get("mazur-2-2-2").title
    (iframe,) = [attrs for tag, attrs in tags(data["html"]) if tag == "iframe"]
    assert (int(iframe["width"]), int(iframe["height"])) == (data["width"], data["height"])
    src = urlsplit(iframe["src"])
    assert (src.scheme, src.netloc, src.path) == ("http", "localhost", "/embed")
    assert parse_qs(src.query)["state"] == [token]
    assert iframe["title"] == data["title"]
    # The iframe's page is there and shows the same state.
    page = client.get(f"{src.path}?{src.query}")
    assert page.status_code == 200


def test_oembed_keeps_the_embed_options_of_the_url(client):
    token = token_of("xor")
    url = f"{HOST}/embed?state={token}&panels=heatmaps,loss&step=s0-loss&readonly=1&utm=x"
    data = client.get("/oembed", query_string={"url": url}).get_json()
    (iframe,) = [attrs for tag, attrs in tags(data["html"]) if tag == "iframe"]
    query = parse_qs(urlsplit(iframe["src"]).query)
    assert query == {"state": [token], "panels": ["heatmaps,loss"], "step": ["s0-loss"], "readonly": ["1"]}


def test_oembed_respects_maxwidth_and_maxheight(client):
    url = f"{HOST}/lab?state={token_of('xor')}"
    data = client.get("/oembed", query_string={"url": url, "maxwidth": "400", "maxheight": "300"}).get_json()
    assert_valid_rich_response(data)
    assert data["width"] <= 400 and data["height"] <= 300
    (iframe,) = [attrs for tag, attrs in tags(data["html"]) if tag == "iframe"]
    assert (iframe["width"], iframe["height"]) == (str(data["width"]), str(data["height"]))
    large = client.get("/oembed", query_string={"url": url, "maxwidth": "5000"}).get_json()
    assert large["width"] <= 5000


def test_oembed_title_is_escaped_in_the_html(client):
    # A title comes from the preset table; quotes and brackets in it must not break the iframe tag.
    url = f"{HOST}/lab?state={token_of('seed004-p2-case1')}"
    data = client.get("/oembed", query_string={"url": url}).get_json()
    parsed = tags(data["html"])
    assert [tag for tag, _ in parsed] == ["iframe"]


@pytest.mark.parametrize(
    "query, status",
    [
        ({"url": f"{HOST}/lab?state=x", "format": "xml"}, 501),
        ({}, 400),
        ({"url": "https://elsewhere.example/lab?state=abc"}, 404),
        ({"url": "ftp://localhost/lab?state=abc"}, 404),
        ({"url": f"{HOST}/api/v1/limits?state=abc"}, 404),
        ({"url": f"{HOST}/no/such/page"}, 404),
        ({"url": f"{HOST}/lab"}, 404),
        ({"url": f"{HOST}/lab?state=broken"}, 404),
        ({"url": f"{HOST}/lab?state=" + token_of("xor")[:-4]}, 404),
        ({"url": f"{HOST}/embed?state=" + token_of("xor")[:-4]}, 404),
        ({"url": f"{HOST}/lab?state=" + token_of("xor"), "maxwidth": "-3"}, 400),
        ({"url": f"{HOST}/lab?state=" + token_of("xor"), "maxheight": "wide"}, 400),
    ],
)
def test_oembed_refuses_what_it_cannot_embed(client, query, status):
    answer = client.get("/oembed", query_string=query)
    assert answer.status_code == status
    assert answer.mimetype == "application/problem+json"
    assert answer.get_json()["detail"]


def test_lab_page_carries_the_oembed_discovery_link(app, client):
    token = token_of("quiz4-softmax-ce")
    page = client.get(f"/lab?state={token}")
    assert page.status_code == 200
    links = [
        attrs
        for tag, attrs in tags(page.get_data(as_text=True))
        if tag == "link" and attrs.get("rel") == "alternate" and attrs.get("type") == "application/json+oembed"
    ]
    assert len(links) == 1
    href = urlsplit(links[0]["href"])
    assert href.path == "/oembed"
    query = parse_qs(href.query)
    assert query["format"] == ["json"]
    (target,) = query["url"]
    (shown,) = parse_qs(urlsplit(target).query)["state"]
    with app.app_context():
        # The page's own state: the same network at the sub-step it opens on.
        assert state.decode(shown).state == state.LabState(presets.get("quiz4-softmax-ce").body(), "s0-forward-1",
                                                           None, "quiz4-softmax-ce")
    data = client.get(f"{href.path}?{href.query}").get_json()
    assert_valid_rich_response(data)


# The embed page the oEmbed iframe points at ------------------------------------------------------------


def test_the_embed_page_is_frameable_by_anyone_and_sets_no_cookie(client):
    answer = client.get("/embed", query_string={"state": token_of("xor"), "panels": "heatmaps,controls"})
    assert answer.status_code == 200
    assert "frame-ancestors *" in answer.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in answer.headers
    assert "Set-Cookie" not in answer.headers
    html = answer.get_data(as_text=True)
    assert 'class="site-header"' not in html
    assert 'data-panel="diagram" hidden' in html and 'data-panel="heatmaps" hidden' not in html


def test_the_lab_may_only_be_framed_by_its_own_site(client):
    answer = client.get(f"/lab?state={token_of('xor')}")
    assert answer.status_code == 200
    assert "frame-ancestors 'self'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_a_read_only_embed_has_no_editor(client):
    token = token_of("mazur-2-2-2")
    editable = client.get("/embed", query_string={"state": token}).get_data(as_text=True)
    readonly = client.get("/embed", query_string={"state": token, "readonly": "1"}).get_data(as_text=True)
    assert 'id="lab-form"' in editable and "htmx.min.js" in editable
    assert 'id="lab-form"' not in readonly and "htmx.min.js" not in readonly


def test_step_picks_the_embeds_first_sub_step(client):
    html = client.get("/embed", query_string={"state": token_of("mazur-2-2-2"), "step": "s0-backward-1"}).get_data(
        as_text=True
    )
    # The sub-steps of a 2-layer network: F1 F2 L B2 B1 U, so backward-1 is the fifth.
    assert 'data-start="4"' in html


@pytest.mark.parametrize(
    "query, status, words",
    [
        ({"state": token_of("xor"), "panels": "heatmaps,sidebar"}, 400, "unknown panel"),
        ({"state": token_of("xor"), "panels": ""}, 400, "at least one panel"),
        ({"state": token_of("xor"), "step": "s99-loss"}, 422, "steps"),
        ({"state": token_of("xor"), "step": "sideways"}, 422, "not a sub-step"),
        ({"state": token_of("xor")[:-4]}, 400, "cut short"),
        ({"state": ""}, 400, "empty"),
    ],
)
def test_a_broken_embed_gets_a_friendly_page_not_a_500(client, query, status, words):
    answer = client.get("/embed", query_string=query)
    assert answer.status_code == status
    html = answer.get_data(as_text=True)
    assert "This embedded example cannot be shown" in html and words in unescape(html).lower()
    assert 'target="_blank"' in html and 'href="/"' in html
