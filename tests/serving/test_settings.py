"""BACKPROP_VIZ_... settings: defaults, parsing, refusal of bad values, and how create_app applies them."""
from __future__ import annotations

import os

import pytest
from flask import request

from webapp import create_app
from webapp.serving.settings import Settings, SettingsError


def test_defaults_without_environment():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 5000, 0)
    assert (settings.timeout, settings.graceful_timeout) == (30, 30)
    assert (settings.read_timeout, settings.max_connections) == (10, 1000)
    assert (settings.max_body_bytes, settings.max_work) == (4 * 1024 * 1024, 300_000_000)
    assert settings.rate_limit == ""
    assert settings.embed_frame_ancestors == ("*",)
    assert settings.proxies == 0


def test_every_variable_is_read():
    settings = Settings.from_env(
        {
            "BACKPROP_VIZ_HOST": "0.0.0.0",
            "BACKPROP_VIZ_PORT": "8000",
            "BACKPROP_VIZ_WORKERS": "3",
            "BACKPROP_VIZ_TIMEOUT": "10",
            "BACKPROP_VIZ_GRACEFUL_TIMEOUT": "20",
            "BACKPROP_VIZ_READ_TIMEOUT": "5",
            "BACKPROP_VIZ_MAX_CONNECTIONS": "200",
            "BACKPROP_VIZ_MAX_BODY_BYTES": "1_000_000",
            "BACKPROP_VIZ_MAX_WORK": " 5000000 ",
            "BACKPROP_VIZ_RATE_LIMIT": "60/minute; 1000/day",
            "BACKPROP_VIZ_EMBED_FRAME_ANCESTORS": "https://course.example.edu  https://*.lms.example.org:8443",
            "BACKPROP_VIZ_PROXIES": "1",
            "UNRELATED": "x",
        }
    )
    assert settings == Settings(
        host="0.0.0.0",
        port=8000,
        workers=3,
        timeout=10,
        graceful_timeout=20,
        read_timeout=5,
        max_connections=200,
        max_body_bytes=1_000_000,
        max_work=5_000_000,
        rate_limit="60/minute; 1000/day",
        embed_frame_ancestors=("https://course.example.edu", "https://*.lms.example.org:8443"),
        proxies=1,
    )


def test_workers_zero_means_one_per_cpu():
    assert Settings(workers=0).worker_count == (os.cpu_count() or 1)
    assert Settings(workers=5).worker_count == 5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BACKPROP_VIZ_PORT", "eighty"),
        ("BACKPROP_VIZ_PORT", "0"),
        ("BACKPROP_VIZ_PORT", "70000"),
        ("BACKPROP_VIZ_PORT", "-1"),
        ("BACKPROP_VIZ_WORKERS", "2.5"),
        ("BACKPROP_VIZ_TIMEOUT", "0"),
        ("BACKPROP_VIZ_TIMEOUT", ""),
        ("BACKPROP_VIZ_READ_TIMEOUT", "0"),
        ("BACKPROP_VIZ_READ_TIMEOUT", "10s"),
        ("BACKPROP_VIZ_MAX_CONNECTIONS", "0"),
        ("BACKPROP_VIZ_MAX_BODY_BYTES", "4MB"),
        ("BACKPROP_VIZ_MAX_WORK", "1e9"),
        ("BACKPROP_VIZ_RATE_LIMIT", "lots"),
        ("BACKPROP_VIZ_RATE_LIMIT", "60/fortnight"),
        ("BACKPROP_VIZ_EMBED_FRAME_ANCESTORS", "https://a.example.edu; script-src *"),
        ("BACKPROP_VIZ_EMBED_FRAME_ANCESTORS", "https://a.example.edu,https://b.example.edu"),
        ("BACKPROP_VIZ_EMBED_FRAME_ANCESTORS", "'unsafe-inline'"),
        ("BACKPROP_VIZ_EMBED_FRAME_ANCESTORS", "'none' https://a.example.edu"),
        ("BACKPROP_VIZ_EMBED_FRAME_ANCESTORS", "   "),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


@pytest.mark.parametrize(
    "sources",
    ["*", "'self'", "'none'", "https:", "https://course.example.edu", "http://localhost:8080",
     "https://*.example.edu", "course.example.edu", "https://lms.example.edu/courses/"],
)
def test_frame_ancestor_sources(sources):
    assert Settings.from_env({"BACKPROP_VIZ_EMBED_FRAME_ANCESTORS": sources}).embed_frame_ancestors == (sources,)


def test_an_unset_rate_limit_needs_no_limiter():
    assert Settings.from_env({"BACKPROP_VIZ_RATE_LIMIT": ""}).rate_limit == ""


def test_create_app_reads_the_environment(monkeypatch):
    monkeypatch.setenv("BACKPROP_VIZ_MAX_BODY_BYTES", "2000")
    monkeypatch.setenv("BACKPROP_VIZ_MAX_WORK", "100")
    app = create_app({"TESTING": True})
    assert app.config["MAX_CONTENT_LENGTH"] == 2000
    client = app.test_client()
    limits = client.get("/api/v1/limits").get_json()
    assert (limits["max_body_bytes"], limits["max_work"]) == (2000, 100)
    # Seed 002 costs 108 multiply-adds per step: over a max_work of 100.
    response = client.get("/api/v1/presets/seed002-ex2")
    answer = client.post("/api/v1/trace", json=response.get_json())
    assert answer.status_code == 413 and answer.get_json()["limit"] == "max_work"


def test_a_bad_environment_stops_the_app(monkeypatch):
    monkeypatch.setenv("BACKPROP_VIZ_MAX_WORK", "lots")
    with pytest.raises(SettingsError, match="BACKPROP_VIZ_MAX_WORK"):
        create_app({"TESTING": True})


def test_the_apps_own_limits_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("BACKPROP_VIZ_MAX_BODY_BYTES", "2000")
    app = create_app({"TESTING": True, "LIMITS": {"max_body_bytes": 999, "max_steps": 3}})
    limits = app.test_client().get("/api/v1/limits").get_json()
    assert (limits["max_body_bytes"], limits["max_steps"], limits["max_work"]) == (999, 3, 300_000_000)


def test_given_settings_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("BACKPROP_VIZ_MAX_WORK", "100")
    app = create_app({"TESTING": True, "SETTINGS": Settings(max_work=12345)})
    assert app.test_client().get("/api/v1/limits").get_json()["max_work"] == 12345


def _whoami(app):
    @app.get("/whoami")
    def whoami():
        return {"address": request.remote_addr, "scheme": request.scheme, "host": request.host}

    return app.test_client()


def test_forwarded_headers_are_ignored_without_proxies():
    client = _whoami(create_app({"TESTING": True, "SETTINGS": Settings()}))
    answer = client.get("/whoami", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
    assert answer.get_json() == {"address": "127.0.0.1", "scheme": "http", "host": "localhost"}


def test_one_proxy_is_trusted_for_one_hop():
    client = _whoami(create_app({"TESTING": True, "SETTINGS": Settings(proxies=1)}))
    answer = client.get(
        "/whoami",
        headers={
            "X-Forwarded-For": "198.51.100.1, 203.0.113.9",  # the first was written by the client itself
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "viz.example.edu",
        },
    )
    assert answer.get_json() == {"address": "203.0.113.9", "scheme": "https", "host": "viz.example.edu"}
