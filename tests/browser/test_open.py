"""Opening JSON in the lab, in Chromium: an exported trace pasted back shows the same lab; a broken one
comes back with its path named beside the field and the text kept; the page passes the axe audit."""
from __future__ import annotations

import json
import urllib.request

from engine import presets
from webapp.lab import state

from .test_lab import STATE, open_lab, shoot


def test_an_export_pasted_back_opens_the_same_lab(watched, live_server, audit, screenshots):
    page = watched.page
    body = presets.get("quiz4-softmax-ce").body()
    before = open_lab(watched, "/lab?state=" + state.encode(state.LabState(body)))
    token = state.encode(state.LabState(body))
    with urllib.request.urlopen(f"{live_server}/export?state={token}&format=json", timeout=30) as response:
        exported = response.read().decode()
    page.goto(f"{live_server}/open")
    audit(page)
    page.get_by_label("Request body (JSON)").fill(exported)
    page.get_by_role("button", name="Open in the lab").click()
    page.wait_for_selector("#lab[data-position] #panels > .panel:not([hidden]) .main-svg")
    after = page.evaluate(STATE)
    assert [panel["z"] for panel in after["panels"]] == [panel["z"] for panel in before["panels"]]
    assert after["at"] == before["at"]
    assert watched.errors == []


def test_a_broken_request_is_named_by_its_path_and_kept(watched, live_server, audit, screenshots):
    page = watched.page
    body = presets.get("seed002-ex2").body()
    broken = json.dumps({**body, "loss": {"name": "squared_error", "reduction": "median"}}, indent=2)
    page.goto(f"{live_server}/open")
    field = page.get_by_label("Request body (JSON)")
    field.fill(broken)
    field.press("Tab")  # to the file input, then to the button, from the keyboard alone
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.get_by_role("alert").wait_for()
    alert = page.get_by_role("alert").inner_text()
    assert "loss/reduction" in alert
    assert json.loads(page.get_by_label("Request body (JSON)").input_value()) == json.loads(broken)
    assert page.get_by_label("Request body (JSON)").get_attribute("aria-invalid") == "true"
    audit(page)
    shoot(page, screenshots / "open-broken.png")
    assert [e for e in watched.errors if "422" not in e] == []
