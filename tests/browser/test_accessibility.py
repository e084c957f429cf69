"""Every kind of page passes axe-core's WCAG 2.0/2.1 A and AA rules (the `audit` fixture) in the states a
student meets it in: the gallery, the lab at several sub-steps and with a bad entry, the Embed dialog, the
training page while it plays, embeds, the HTML export and the error page. And what the audit asks for works
from the keyboard: a wide equation is reached and scrolled, Enter in a field sends one request.

Each lab is audited once it is ready (data-drawn="all": the sub-step shown is drawn and no frames are on
their way), as a student who pauses finds it.
"""
from __future__ import annotations

import urllib.request
from urllib.parse import urlencode

import pytest

from engine import presets
from webapp.lab import state

from .test_embed import DRAWN
from .test_lab import STATE, expected_substeps, lab_url, open_lab, shoot, wait_for_new_lab
from .test_train import PAGE as TRAIN_PAGE
from .test_train import SPIRAL, wait_until

ALL_DRAWN = "() => document.getElementById('lab').dataset.drawn === 'all'"


def token_of(preset_id: str, substep: str | None = None) -> str:
    return state.encode(state.LabState(presets.get(preset_id).body(), substep, None, preset_id))


def test_the_gallery(watched, audit):
    watched.page.goto(watched.base_url + "/")
    watched.page.wait_for_selector(".gallery")
    audit(watched.page)
    assert watched.errors == []


# A sigmoid/relu network, a three-layer one over three SGD steps, a softmax with cross-entropy. (xor, ten SGD
# steps, adds nothing of another kind: ten frames of every figure, some 70 000 elements, 30 s to draw and audit.)
@pytest.mark.parametrize("preset_id", ["seed002-ex2", "hw7-relu-softmax", "quiz4-softmax-ce"])
def test_a_lab_at_several_sub_steps(watched, audit, screenshots, preset_id):
    page = watched.page
    open_lab(watched, f"/lab/{preset_id}")
    request = presets.get(preset_id).request
    layers = len(request["layers"])
    order = expected_substeps(layers, request["steps"])
    for place in ("first", "backward", "update"):
        if place == "backward":  # past the forward layers and the loss: the output layer's backward sub-step
            while page.evaluate(STATE)["index"] < layers + 1:
                page.keyboard.press("ArrowRight")
        elif place == "update":
            page.keyboard.press("End")
        shown = page.evaluate(STATE)
        assert order[shown["index"]][1] == {"first": "forward"}.get(place, place), shown["at"]
        page.wait_for_function(ALL_DRAWN)
        audit(page)
    shoot(page, screenshots / f"a11y-{preset_id}-{shown['at']}.png")
    assert watched.errors == []


def test_a_lab_with_a_bad_entry(watched, audit, screenshots):
    page = watched.page
    open_lab(watched, lab_url("mazur-2-2-2", "s0-loss"))
    cell = page.get_by_label("W2[2,1]", exact=True)
    cell.fill("0.5.5")
    wait_for_new_lab(page, lambda: cell.press("Tab"))
    assert page.locator(".cell-error").is_visible()  # the message beside the cell
    page.wait_for_function(ALL_DRAWN)
    audit(page)
    shoot(page, screenshots / "a11y-bad-entry.png")
    assert watched.errors == []


def test_the_embed_dialog(watched, audit):
    page = watched.page
    open_lab(watched, "/lab/mazur-2-2-2")
    page.get_by_role("button", name="Embed").click()
    page.get_by_role("dialog", name="Share and embed").wait_for()
    audit(page)
    assert watched.errors == []


def test_the_training_page_while_it_plays(watched, audit, screenshots):
    page = watched.page
    page.goto(watched.base_url + SPIRAL)
    page.wait_for_selector('#train[data-frames] [data-figure="field"] .main-svg')
    page.click('[data-action="play"]')
    wait_until(page, lambda s: s["step"] >= 20, what="20 steps")
    audit(page)
    assert page.get_attribute('[data-action="play"]', "aria-pressed") == "true"  # it played all along
    assert page.evaluate(TRAIN_PAGE)["status"] == ""
    shoot(page, screenshots / "a11y-train-playing.png")
    page.click('[data-action="play"]')
    assert watched.errors == []


@pytest.mark.parametrize(("options", "width"), [
    ("", 1440),
    ("&panels=heatmaps,controls&step=s0-loss", 1440),
    ("&readonly=1", 560),  # a narrow iframe: the equation is wider than its card
])
def test_an_embed(watched, audit, screenshots, options, width):
    page = watched.page
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{watched.base_url}/embed?state={token_of('mazur-2-2-2', 's0-backward-1')}{options}")
    page.wait_for_selector(DRAWN)
    page.wait_for_function(ALL_DRAWN)
    if width < 1000:
        equation = page.locator(".substep:not([hidden]) .equation")
        page.wait_for_function("() => document.querySelector('.substep:not([hidden]) .equation').tabIndex === 0")
        assert equation.evaluate("element => element.scrollWidth > element.clientWidth")
        shoot(page, screenshots / "a11y-embed-narrow.png")
    audit(page)
    assert watched.errors == []


def test_the_html_export(live_server, browser, audit, tmp_path, screenshots):
    query = urlencode({"state": token_of("quiz4-softmax-ce", "s0-backward-2"), "format": "html"})
    path = tmp_path / "quiz4-softmax-ce.html"
    with urllib.request.urlopen(f"{live_server}/export?{query}", timeout=60) as answer:
        path.write_bytes(answer.read())
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    try:
        page = context.new_page()
        errors = []
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(path.as_uri())
        page.wait_for_selector(DRAWN)
        page.wait_for_function(ALL_DRAWN)
        audit(page)
        shoot(page, screenshots / "a11y-export.png")
        assert errors == []
    finally:
        context.close()


@pytest.mark.parametrize("path", ["/lab?state=garbage", "/embed?state=garbage"])
def test_the_error_page(watched, audit, path):
    page = watched.page
    response = page.goto(watched.base_url + path)
    assert response.status == 400
    page.get_by_role("link", name="Open the gallery of worked examples").wait_for()
    audit(page)
    assert all("400" in error for error in watched.errors)  # the page's own status, logged by the browser


# --- from the keyboard -----------------------------------------------------------------------------------


def test_a_wide_equation_is_reached_and_scrolled_from_the_keyboard(watched):
    page = watched.page
    open_lab(watched, lab_url("seed002-ex2", "s0-backward-1"))
    equation = page.locator(".substep:not([hidden]) .equation")
    page.wait_for_function("() => document.querySelector('.substep:not([hidden]) .equation').tabIndex === 0")
    assert equation.get_attribute("role") == "region" and equation.get_attribute("aria-label") == "Equation"
    page.locator(".chip").last.focus()
    page.keyboard.press("Tab")  # the next tab stop after the sub-step chips
    assert equation.evaluate("element => element === document.activeElement")
    before = page.evaluate(STATE)
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    # the arrows scroll it (an animated scroll: give it time)...
    page.wait_for_function("() => document.querySelector('.substep:not([hidden]) .equation').scrollLeft > 0")
    assert page.evaluate(STATE) == before  # ...and do not step
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("End")  # keys other than the arrows still step
    request = presets.get("seed002-ex2").request
    assert page.evaluate(STATE)["index"] == len(expected_substeps(len(request["layers"]), request["steps"])) - 1
    # The page's one equation now holds the update's: a tab stop only if that overflows too.
    page.wait_for_function("() => document.getElementById('substep').dataset.key === 's0-update'")
    page.wait_for_timeout(100)  # regions are looked at in the frame after a step
    shown = page.locator(".substep:not([hidden]) .equation")
    if not shown.evaluate("element => element.scrollWidth > element.clientWidth"):
        assert shown.get_attribute("tabindex") is None
    assert watched.errors == []


def test_enter_in_a_grid_cell_sends_the_edit_once(watched, api):
    page = watched.page
    before = open_lab(watched, lab_url("seed002-ex2", "s0-backward-1"))
    cell = page.get_by_label("W1[1,1]", exact=True)
    cell.fill("0.25")
    after = wait_for_new_lab(page, lambda: cell.press("Enter"))
    page.wait_for_timeout(300)  # room for a second request, were one sent
    assert len(watched.posts) == 1
    body = presets.get("seed002-ex2").body()
    body["layers"][0]["weights"][0][0] = 0.25
    assert after["loss"] != before["loss"]
    assert after["loss"].startswith(f"L = {api('/trace', body)['steps'][0]['loss']:.6g}")
    # Typing, then Apply: one request too.
    cell = page.get_by_label("W1[2,1]", exact=True)
    cell.fill("-0.5")
    wait_for_new_lab(page, lambda: page.get_by_role("button", name="Apply").click())
    page.wait_for_timeout(300)
    assert len(watched.posts) == 2
    # Enter with nothing changed applies the form as it is: one request.
    wait_for_new_lab(page, lambda: page.get_by_label("W1[2,1]", exact=True).press("Enter"))
    page.wait_for_timeout(300)
    assert len(watched.posts) == 3
    assert watched.errors == []


def test_enter_in_a_training_setting_starts_one_run(watched):
    page = watched.page
    page.goto(watched.base_url + SPIRAL)
    page.wait_for_selector('#train[data-frames] [data-figure="field"] .main-svg')
    page.evaluate("() => { document.getElementById('train').dataset.old = '1'; }")
    page.fill("#noise", "0.2")
    page.press("#noise", "Enter")
    page.wait_for_function("() => { const train = document.getElementById('train');"
                           " return train && !train.dataset.old && train.dataset.frames; }")
    page.wait_for_timeout(300)
    assert len(watched.posts) == 1
    assert page.input_value("#noise") == "0.2"
    assert watched.errors == []
