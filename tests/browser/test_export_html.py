"""The HTML export in headless Chromium: opened from a file with every network request blocked, it draws
and steps through every sub-step to the end with the API's numbers and no console error."""
from __future__ import annotations

import re
import urllib.request
from urllib.parse import urlencode

import pytest

from engine import presets
from webapp.lab import state

from .test_lab import STATE, check_state, expected_substeps, shoot

# The lab's reader, with the sub-step key taken from the section shown (the export has no form).
STANDALONE_STATE = STATE.replace(
    "at: document.getElementById('at-field').value",
    "at: section.dataset.key",
)
DRAWN = "#lab[data-position] #panels > .panel:not([hidden]) .main-svg"


def download_export(base_url: str, preset_id: str, substep: str | None = None) -> str:
    token = state.encode(state.LabState(presets.get(preset_id).body(), substep, None, preset_id))
    with urllib.request.urlopen(f"{base_url}/export?{urlencode({'state': token, 'format': 'html'})}", timeout=60) as answer:
        assert answer.status == 200
        assert answer.headers["Content-Disposition"] == f'attachment; filename="{preset_id}.html"'
        return answer.read().decode("utf-8")


class Offline:
    """A browser page on which every request fails but the file it is opened on; it records them all."""

    def __init__(self, context):
        self.document: str | None = None
        self.errors: list[str] = []
        self.requests: list[str] = []
        context.route("**/*", lambda route: route.continue_() if route.request.url == self.document else route.abort())
        self.page = context.new_page()
        self.page.set_default_timeout(20_000)
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("request", lambda request: self.requests.append(request.url))

    def open(self, path) -> None:
        self.document = path.as_uri()
        self.page.goto(self.document)
        self.page.wait_for_selector(DRAWN)


@pytest.fixture
def offline(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    yield Offline(context)
    context.close()


@pytest.mark.parametrize("preset_id", ["hw7-relu-softmax", "mazur-2-2-2"])
def test_the_exported_page_steps_to_the_end_offline(live_server, offline, api, tmp_path, screenshots, preset_id):
    html = download_export(live_server, preset_id)
    # Nothing in it loads from elsewhere: every script and style is inline.
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=\"(?!data:)", html)
    path = tmp_path / f"{preset_id}.html"
    path.write_text(html, encoding="utf-8")
    offline.open(path)
    page = offline.page
    preset = presets.get(preset_id)
    trace = api("/trace", preset.body())
    total = len(expected_substeps(len(preset.request["layers"]), preset.request["steps"]))
    first = page.evaluate(STANDALONE_STATE)
    assert first["index"] == 0
    check_state(first, preset.request, trace)
    shoot(page, screenshots / f"export-{preset_id}-first.png")
    for index in range(1, total):
        page.keyboard.press("ArrowRight")
        shown = page.evaluate(STANDALONE_STATE)
        assert shown["index"] == index
        check_state(shown, preset.request, trace)
    page.wait_for_selector("#network-plot > .plot:not([hidden]) .main-svg")
    page.wait_for_selector("#loss-plot > .plot:not([hidden]) .main-svg")
    shoot(page, screenshots / f"export-{preset_id}-last.png")
    page.get_by_role("button", name="First sub-step").click()
    assert page.evaluate(STANDALONE_STATE)["index"] == 0
    page.get_by_role("button", name="Play").click()
    page.wait_for_function("() => Number(document.getElementById('lab').dataset.position) >= 1", timeout=5000)
    assert offline.errors == []
    assert offline.requests == [path.as_uri()]
    assert page.url == path.as_uri()  # the player leaves the address alone


def test_the_export_opens_at_the_states_sub_step(live_server, offline, tmp_path):
    path = tmp_path / "xor.html"
    path.write_text(download_export(live_server, "xor", "s0-backward-1"), encoding="utf-8")
    offline.open(path)
    shown = offline.page.evaluate(STANDALONE_STATE)
    assert shown["at"] == "s0-backward-1" and shown["title"].startswith("Backward, layer 1")
    assert offline.errors == [] and offline.requests == [path.as_uri()]
