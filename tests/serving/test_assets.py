"""Static assets: versioned URLs, immutable caching, brotli/gzip compression."""
import gzip
import hashlib
import re
from pathlib import Path

import brotli
import pytest
from flask import render_template_string

from tests.paths import STATIC


@pytest.fixture
def asset(tmp_path, app):
    """A JavaScript file in a throw-away static folder, big enough to be worth compressing."""
    app.static_folder = str(tmp_path)
    text = "".join(f"function f{i}(x) {{ return x * {i} + 1; }}\n" for i in range(400))
    (tmp_path / "demo.js").write_text(text)
    return text.encode()


def fetch(client, url, **kwargs):
    """GET and close (an uncompressed static file is streamed from an open file)."""
    with client.get(url, **kwargs) as response:
        return response, response.get_data()


def versioned(app, filename):
    with app.test_request_context():
        return render_template_string("{{ asset_url(name) }}", name=filename)


def test_asset_url_carries_the_content_hash(app, asset):
    url = versioned(app, "demo.js")
    assert url.startswith("/static/demo.js?v=")
    assert url.endswith(hashlib.sha256(asset).hexdigest()[:16])


def test_asset_url_changes_with_the_content(app, asset):
    before = versioned(app, "demo.js")
    path = Path(app.static_folder) / "demo.js"
    path.write_bytes(asset + b"// changed\n")
    assert versioned(app, "demo.js") != before


def test_versioned_asset_is_immutable(app, client, asset):
    response, body = fetch(client, versioned(app, "demo.js"))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert body == asset


def test_stale_version_is_not_cached_for_a_year(client, asset):
    response, _ = fetch(client, "/static/demo.js?v=0000000000000000")
    assert response.status_code == 200
    assert "immutable" not in response.headers.get("Cache-Control", "")


@pytest.mark.parametrize(
    "accept, encoding, decode",
    [
        ("gzip, deflate, br", "br", brotli.decompress),
        ("gzip", "gzip", gzip.decompress),
        ("br;q=0, gzip", "gzip", gzip.decompress),
    ],
)
def test_static_files_are_compressed(app, client, asset, accept, encoding, decode):
    response, body = fetch(client, versioned(app, "demo.js"), headers={"Accept-Encoding": accept})
    assert response.headers["Content-Encoding"] == encoding
    assert "Accept-Encoding" in response.headers["Vary"]
    assert len(body) < len(asset) / 4
    assert decode(body) == asset
    assert int(response.headers["Content-Length"]) == len(body)


def test_no_compression_without_accept_encoding(app, client, asset):
    response, body = fetch(client, versioned(app, "demo.js"))
    assert "Content-Encoding" not in response.headers
    assert body == asset


def test_pages_are_compressed(client):
    response = client.get("/", headers={"Accept-Encoding": "br"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "br"
    assert b"<html" in brotli.decompress(response.get_data())


@pytest.mark.parametrize("name", ["lab.js", "lab.css"])
def test_pages_link_versioned_assets(client, name):
    html = client.get("/lab/xor").get_data(as_text=True)
    match = re.search(rf'/static/{re.escape(name)}\?v=([0-9a-f]{{16}})', html)
    assert match, f"{name} is not linked with a version"
    assert match.group(1) == hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:16]


def test_vendor_scripts_are_served_locally(client):
    html = client.get("/lab/xor").get_data(as_text=True)
    for name in ("vendor/htmx.min.js", "vendor/plotly-cartesian.min.js"):
        assert f"/static/{name}?v=" in html
    assert "://" not in "".join(re.findall(r'(?:src|href)="([^"]*)"', html))
