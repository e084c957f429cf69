"""GET /healthz, and HTTP caching of the presets and the OpenAPI document."""
from __future__ import annotations

import brotli
import pytest

from engine import presets


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_answers_head_and_refuses_post(client):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


CACHEABLE = ["/api/v1/presets", "/api/v1/openapi.json"] + [f"/api/v1/presets/{p.id}" for p in presets.PRESETS]


@pytest.mark.parametrize("url", CACHEABLE)
def test_presets_are_cacheable_and_revalidate_with_304(client, url):
    first = client.get(url)
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "public, max-age=3600"
    etag = first.headers["ETag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    changed = client.get(url, headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200 and changed.get_data() == first.get_data()


def test_compressed_presets_revalidate_with_their_own_etag(client):
    first = client.get("/api/v1/presets", headers={"Accept-Encoding": "br"})
    assert first.headers["Content-Encoding"] == "br"
    plain = client.get("/api/v1/presets")
    assert brotli.decompress(first.get_data()) == plain.get_data()
    assert first.headers["ETag"] != plain.headers["ETag"]  # a different body, a different tag
    again = client.get("/api/v1/presets", headers={"Accept-Encoding": "br", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_the_etag_follows_the_content(client):
    """Two presets, two tags: the tag is of the body, not of the URL pattern."""
    tags = {client.get(f"/api/v1/presets/{p.id}").headers["ETag"] for p in presets.PRESETS}
    assert len(tags) == len(presets.PRESETS)


@pytest.mark.parametrize(
    ("method", "url"),
    [("GET", "/api/v1/limits"), ("GET", "/api/v1/presets/no-such-preset"), ("GET", "/healthz"), ("GET", "/")],
)
def test_other_responses_are_not_publicly_cached(client, method, url):
    response = client.open(url, method=method)
    assert "public" not in response.headers.get("Cache-Control", "")


def test_a_trace_is_not_cached(client):
    body = client.get("/api/v1/presets/seed002-ex2").get_json()
    response = client.post("/api/v1/trace", json=body)
    assert response.status_code == 200
    assert "Cache-Control" not in response.headers and "ETag" not in response.headers
