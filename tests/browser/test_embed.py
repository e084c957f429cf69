"""Sharing in headless Chromium: the URL holds the state, the Embed dialog's iframe works on another
site (and steps with the keyboard there), other pages refuse to be framed, broken links get a kind page."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

from engine import presets
from webapp.lab import state

from .test_lab import STATE, check_state, open_lab, shoot, state_in_url, wait_for_new_lab, wait_for_url_at

# What an embed shows, read in its frame (a read-only embed has no form, so no #at-field).
EMBED_STATE = """() => {
  const lab = document.getElementById('lab');
  const visible = selector => Array.from(lab.querySelectorAll(selector)).filter(el => !el.closest('[hidden]'));
  return {
    index: Number(lab.dataset.position),
    title: lab.querySelector('.substep:not([hidden]) .substep-title').textContent,
    panels: visible('#panels > .panel').map(panel => panel.dataset.tensor),
    shown: visible('[data-panel]').map(el => el.dataset.panel),
    editor: lab.querySelector('form') !== null,
    chrome: document.querySelector('.site-header') !== null,
  };
}"""
DRAWN = "#lab[data-position] #panels > .panel:not([hidden]) .main-svg"


class Iframes(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.found: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "iframe":
            self.found.append(dict(attrs))


def host_page(iframes: str) -> str:
    head = '<!doctype html><html lang=en><title>Course page</title><link rel=icon href="data:,">'
    return f"{head}<h1>Week 3: backpropagation</h1>{iframes}</html>"


def lab_token(page) -> str:
    """The state token of the lab page shown (its script writes it into the URL on load)."""
    page.wait_for_function("() => new URLSearchParams(location.search).has('state')")
    return parse_qs(urlsplit(page.url).query)["state"][0]


def embed_frame(page, timeout: float = 10.0):
    """The host page's embed frame, once its lab is drawn."""
    for _ in range(int(timeout / 0.05)):
        found = [frame for frame in page.frames if urlsplit(frame.url).path == "/embed"]
        if found:
            found[0].wait_for_selector(DRAWN)
            return found[0]
        page.wait_for_timeout(50)
    raise AssertionError(f"no embed frame among {[frame.url for frame in page.frames]}")


def test_the_embed_dialogs_iframe_renders_and_steps_on_another_site(watched, other_origin, screenshots):
    page = watched.page
    open_lab(watched, "/lab/mazur-2-2-2")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    lab_state = wait_for_url_at(page, "s0-backward-2")

    page.get_by_role("button", name="Embed").click()
    dialog = page.get_by_role("dialog", name="Share and embed")
    assert dialog.is_visible()
    permalink = page.locator("#share-permalink").input_value()
    assert state_in_url(permalink) == lab_state
    dialog.get_by_label("Network diagram").uncheck()
    dialog.get_by_label("Loss curve").uncheck()
    dialog.get_by_label("Read-only: no editor").check()
    shoot(page, screenshots / "embed-dialog.png")
    snippet = page.locator("#share-snippet").input_value()
    (iframe,) = Iframes(snippet).found
    src = urlsplit(iframe["src"])
    assert src.path == "/embed"
    query = parse_qs(src.query)
    assert query["panels"] == ["heatmaps,equation,controls"] and query["readonly"] == ["1"]
    assert state_in_url(iframe["src"]) == lab_state
    # The export links carry the same state.
    for fmt in ("html", "json", "py"):
        href = page.locator(f'[data-export="{fmt}"]').get_attribute("href")
        assert parse_qs(urlsplit(href).query)["format"] == [fmt]
        assert state_in_url(href) == lab_state
    page.keyboard.press("Escape")
    assert not dialog.is_visible()

    # Another site pastes the snippet.
    page.goto(other_origin.page(host_page(snippet)))
    frame = embed_frame(page)
    shown = frame.evaluate(EMBED_STATE)
    assert shown["index"] == 3 and shown["title"].startswith("Backward, layer 2")
    assert shown["shown"] == ["controls", "equation", "heatmaps", "heatmaps"]
    assert not shown["editor"] and not shown["chrome"]
    shoot(page, screenshots / "embed-on-another-site.png")

    # Keyboard: focus inside the iframe, then step.
    page.frame_locator("iframe").locator(".substep:not([hidden])").click()
    page.keyboard.press("ArrowRight")
    frame.wait_for_function("() => document.getElementById('lab').dataset.position === '4'")
    assert frame.evaluate(EMBED_STATE)["title"].startswith("Backward, layer 1")
    page.keyboard.press("End")
    frame.wait_for_function("() => document.getElementById('lab').dataset.position === '5'")
    page.keyboard.press("Home")
    frame.wait_for_function("() => document.getElementById('lab').dataset.position === '0'")
    next_button = page.frame_locator("iframe").get_by_role("button", name="Next")
    next_button.focus()
    page.keyboard.press("Enter")
    frame.wait_for_function("() => document.getElementById('lab').dataset.position === '1'")
    # The iframe's own URL follows, so a reload there shows the same sub-step.
    frame.wait_for_function("() => !new URLSearchParams(location.search).has('step')")
    for _ in range(100):
        substep = state_in_url(frame.url).substep
        if substep == "s0-forward-2":
            break
        page.wait_for_timeout(50)
    assert substep == "s0-forward-2"
    shoot(page, screenshots / "embed-on-another-site-stepped.png")
    assert page.context.cookies() == []
    assert watched.errors == []


def test_embed_options_from_the_url_and_an_editable_embed(watched, other_origin, api):
    page = watched.page
    open_lab(watched, "/lab/xor")
    token = lab_token(page)
    base = watched.base_url
    src = f"{base}/embed?state={token}&panels=heatmaps,controls&step=s0-loss"
    page.goto(other_origin.page(host_page(f'<iframe src="{src}" width="900" height="700"></iframe>')))
    frame = embed_frame(page)
    shown = frame.evaluate(EMBED_STATE)
    assert shown["index"] == 2 and shown["title"].startswith("Loss")
    assert set(shown["shown"]) == {"controls", "heatmaps"}
    assert shown["editor"]  # not read-only: the editor is there, folded
    # An edit inside the embed stays an embed, at the same sub-step.
    page.frame_locator("iframe").get_by_text("Edit the network").click()
    cell = page.frame_locator("iframe").get_by_label("W1[1,1]", exact=True)
    frame.evaluate("() => { document.getElementById('lab').dataset.old = '1'; }")
    cell.fill("0.7")
    cell.press("Tab")
    frame.wait_for_function("() => { const lab = document.getElementById('lab');"
                            " return lab && !lab.dataset.old && lab.querySelector('#panels > .panel:not([hidden]) .main-svg'); }")
    after = frame.evaluate(EMBED_STATE)
    assert after["index"] == 2 and set(after["shown"]) == {"controls", "heatmaps"} and not after["chrome"]
    assert urlsplit(frame.url).path == "/embed"
    body = presets.get("xor").body()
    body["layers"][0]["weights"][0][0] = 0.7
    loss = api("/trace", body)["steps"][0]["loss"]
    assert frame.locator("#loss-readout").inner_text().startswith(f"L = {loss:.6g}")
    assert watched.errors == []


def test_the_embed_fits_and_follows_its_iframes_size(watched, other_origin):
    page = watched.page
    open_lab(watched, "/lab/hw7-autoencoder")
    token = lab_token(page)
    src = f"{watched.base_url}/embed?state={token}&panels=heatmaps,diagram,controls&readonly=1"
    page.goto(other_origin.page(host_page(f'<iframe id="embed" src="{src}" width="1000" height="800"></iframe>')))
    frame = embed_frame(page)
    plot = "#network-plot > .plot:not([hidden]) .main-svg"
    frame.wait_for_selector(plot)
    wide = frame.evaluate(f"() => document.querySelector('{plot}').getBoundingClientRect().width")
    page.evaluate("() => { document.getElementById('embed').width = '560'; }")
    frame.wait_for_function(
        f"() => document.querySelector('{plot}').getBoundingClientRect().width < {wide} - 200", timeout=10_000
    )
    narrow = frame.evaluate(f"() => document.querySelector('{plot}').getBoundingClientRect().width")
    assert narrow <= 560
    assert frame.evaluate("() => document.documentElement.scrollWidth") <= 560
    assert watched.errors == []


def test_pages_other_than_the_embed_refuse_to_be_framed_elsewhere(watched, other_origin):
    page = watched.page
    open_lab(watched, "/lab/xor")
    token = lab_token(page)
    base = watched.base_url
    frames = "".join(
        f'<iframe src="{url}" width="400" height="300"></iframe>'
        for url in (f"{base}/lab?state={token}", f"{base}/lab/xor", f"{base}/", f"{base}/api/v1/limits")
    )
    page.goto(other_origin.page(host_page(frames + f'<iframe src="{base}/embed?state={token}"></iframe>')))
    embed_frame(page)  # the embed itself is drawn
    refused = [frame for frame in page.frames if frame is not page.main_frame and urlsplit(frame.url).path != "/embed"]
    assert len(refused) == 4
    for frame in refused:
        assert frame.url.startswith("chrome-error://"), frame.url
    assert all(re.search(r"frame-ancestors|X-Frame-Options", error) for error in watched.errors), watched.errors
    assert watched.errors


def test_the_address_bar_follows_every_change(watched, api, screenshots):
    page = watched.page
    open_lab(watched, "/lab/xor")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    wait_for_url_at(page, "s0-loss")
    page.locator(".view-toggles").get_by_label("Loss curve").uncheck()
    assert page.locator(".loss-card").is_hidden()
    for _ in range(100):
        in_url = state_in_url(page.url)
        if in_url.panels is not None:
            break
        page.wait_for_timeout(50)
    assert in_url.panels == ("heatmaps", "diagram", "equation", "controls") and in_url.substep == "s0-loss"
    before_edit = page.url

    page.reload()
    page.wait_for_selector(DRAWN)
    assert page.evaluate(STATE)["at"] == "s0-loss"
    assert page.locator(".loss-card").is_hidden() and not page.locator(".view-toggles").get_by_label("Loss curve").is_checked()

    cell = page.get_by_label("W1[1,1]", exact=True)
    cell.fill("0.3")
    edited = wait_for_new_lab(page, lambda: cell.press("Tab"))
    assert edited["at"] == "s0-loss"
    body = presets.get("xor").body()
    body["layers"][0]["weights"][0][0] = 0.3
    check_state(edited, body, api("/trace", body))
    after_edit = wait_for_url_at(page, "s0-loss")
    assert after_edit.request["layers"][0]["weights"][0][0] == 0.3
    assert after_edit.panels == in_url.panels and page.locator(".loss-card").is_hidden()

    page.go_back()
    page.wait_for_selector(DRAWN)
    assert state_in_url(page.url) == state_in_url(before_edit)
    assert page.get_by_label("W1[1,1]", exact=True).input_value() == "-0.5"
    assert page.evaluate(STATE)["at"] == "s0-loss"
    page.go_forward()
    page.wait_for_selector(DRAWN)
    assert page.get_by_label("W1[1,1]", exact=True).input_value() == "0.3"
    shoot(page, screenshots / "lab-after-edit-back-forward.png")
    assert watched.errors == []


def test_a_broken_link_gets_a_friendly_page_with_the_gallery(watched, screenshots):
    page = watched.page
    open_lab(watched, "/lab/quiz4-softmax-ce")
    token = lab_token(page)
    response = page.goto(f"{watched.base_url}/lab?state={token[:-6]}")
    assert response.status == 400
    assert page.get_by_role("heading", level=1).inner_text() == "This link does not hold a network the lab can show"
    assert "cut short" in page.locator(".error-detail").inner_text()
    shoot(page, screenshots / "broken-link.png")
    page.get_by_role("link", name="Open the gallery of worked examples").click()
    page.wait_for_selector(".gallery")

    tampered = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
    response = page.goto(f"{watched.base_url}/embed?state={tampered}")
    assert response.status in (400, 422)
    assert page.locator(".site-header").count() == 0
    assert page.get_by_role("link", name="Open the gallery of worked examples").get_attribute("target") == "_blank"
    shoot(page, screenshots / "broken-embed.png")
    assert all("400" in error or "422" in error for error in watched.errors)


def test_a_link_to_a_network_from_no_worked_example(watched, api):
    body = {
        "layout": "columns",
        "layers": [
            {"weights": [[0.5, -0.25], [0.75, 0.1]], "bias": [0.0, 0.2], "activation": "tanh"},
            {"weights": [[1.5, -0.5]], "bias": None, "activation": "identity"},
        ],
        "inputs": [[1.0, 2.0, -1.0], [0.5, -0.5, 0.25]],
        "targets": [[0.5, -1.0, 0.25]],
        "loss": {"name": "squared_error", "half": True},
        "optimizer": {"name": "sgd", "learning_rate": 0.2},
        "steps": 2,
    }
    token = state.encode(state.LabState(body, "s1-backward-2"))
    page = watched.page
    shown = open_lab(watched, f"/lab?state={token}")
    assert page.get_by_role("heading", level=1).inner_text() == "A shared network"
    check_state(shown, body, api("/trace", body))
    assert shown["at"] == "s1-backward-2"
    assert page.get_by_role("button", name="Reset to the worked example").count() == 0
    cell = page.get_by_label("W2[1,2]", exact=True)
    cell.fill("-0.75")
    edited = wait_for_new_lab(page, lambda: cell.press("Tab"))
    body["layers"][1]["weights"][0][1] = -0.75
    check_state(edited, body, api("/trace", body))
    in_url = wait_for_url_at(page, "s1-backward-2")
    assert in_url.preset is None and in_url.request["layers"][1]["weights"] == [[1.5, -0.75]]
    assert watched.errors == []
