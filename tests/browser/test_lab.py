"""The lab in headless Chromium: loading, stepping, editing, play/pause, layout; numbers checked against the API."""
from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from engine import presets
from webapp.api.limits import Limits
from webapp.lab import state

PRESET_IDS = [preset.id for preset in presets.PRESETS]

# Everything the page shows at the current sub-step: read from the DOM and from Plotly's drawn data.
STATE = """() => {
  const lab = document.getElementById('lab');
  const section = lab.querySelector('.substep:not([hidden])');
  // In the order the page shows them (the flex order: the cards keep their place in the DOM).
  const shown = Array.from(lab.querySelectorAll('#panels > .panel:not([hidden])'));
  shown.sort((a, b) => Number(a.style.order) - Number(b.style.order));
  const panels = shown.map(panel => {
    const plot = panel.querySelector('.plots > .plot:not([hidden])');
    const z = plot._fullData ? Array.from(plot._fullData[0].z, row => Array.from(row)) : null;
    const title = plot.layout && plot.layout.title ? plot.layout.title.text : null;
    return {name: panel.dataset.tensor, z: z, title: title,
            table: Array.from(panel.querySelectorAll('table:not([aria-hidden]) tbody td')).map(td => td.textContent)};
  });
  return {
    index: Number(lab.dataset.position),
    title: section.querySelector('.substep-title').textContent,
    loss: document.getElementById('loss-readout').textContent,
    panels: panels,
    at: document.getElementById('at-field').value,
    scrubber: Number(document.getElementById('scrubber').value),
  };
}"""


def shoot(page, path) -> None:
    """A full-page screenshot from the top (the timeline and the editor are sticky)."""
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=True)


def lab_url(preset_id: str, substep: str) -> str:
    """The lab's URL of a preset's network at a sub-step."""
    return "/lab?state=" + state.encode(state.LabState(presets.get(preset_id).body(), substep, None, preset_id))


def open_lab(watched, path: str) -> dict:
    page = watched.page
    page.goto(f"{watched.base_url}{path}")
    page.wait_for_selector("#lab[data-position] #panels > .panel:not([hidden]) .main-svg")
    return page.evaluate(STATE)


def wait_for_new_lab(page, action) -> dict:
    """Run an action that swaps the lab (an htmx request) and wait until the new one is drawn."""
    page.evaluate("() => { document.getElementById('lab').dataset.old = '1'; }")
    action()
    page.wait_for_function(
        "() => { const lab = document.getElementById('lab');"
        " return lab && !lab.dataset.old && lab.dataset.position !== undefined"
        " && lab.querySelector('#panels > .panel:not([hidden]) .main-svg'); }"
    )
    return page.evaluate(STATE)


# --- what the numbers must be, from the API's trace ----------------------------------------------


def vector(values, layout):
    values = np.asarray(values, dtype=np.float64)
    return values.reshape(1, -1) if layout == "rows" else values.reshape(-1, 1)


def expected_matrix(name: str, step: int, request: dict, trace: dict) -> np.ndarray:
    """The matrix the lab calls `name` at SGD step `step`, from the request and the API's trace."""
    layout = request.get("layout", "rows")
    record = trace["steps"][step]
    last = len(request["layers"])

    def parameters(layer: int):
        if step == 0:
            found = request["layers"][layer - 1]
            return found["weights"], found.get("bias")
        found = trace["steps"][step - 1]["update"][layer - 1]
        return found["weights"], found["bias"]

    def backward(layer: int) -> dict:
        return next(b for b in record["backward"] if b["layer"] == layer)

    if name == "X":
        return np.asarray(request["inputs"], dtype=np.float64)
    if name == "T":
        if request.get("labels") is None:
            return np.asarray(request["targets"], dtype=np.float64)
        outputs = np.asarray(record["forward"][-1]["activation"])
        onehot = np.eye(outputs.shape[1] if layout == "rows" else outputs.shape[0])[request["labels"]]
        return onehot if layout == "rows" else onehot.T
    if name == "Y":
        return np.asarray(record["forward"][-1]["activation"])
    if name == "dL/dY":
        return np.asarray(record["output_gradient"])
    match = re.fullmatch(r"(S|Z|W|b|δ|dL/dW|dL/db|dL/dZ|ΔW|Δb)(\d+)( \(new\))?", name)
    assert match, name
    kind, layer, new = match.group(1), int(match.group(2)), bool(match.group(3))
    update = record["update"][layer - 1]
    if kind == "S":
        return np.asarray(record["forward"][layer - 1]["pre_activation"])
    if kind == "Z":
        return np.asarray(record["forward"][layer - 1]["activation"])
    if kind == "W":
        return np.asarray(update["weights"] if new else parameters(layer)[0])
    if kind == "b":
        return vector(update["bias"] if new else parameters(layer)[1], layout)
    if kind == "δ":
        return np.asarray(backward(layer)["delta"])
    if kind == "dL/dW":
        return np.asarray(backward(layer)["grad_weights"])
    if kind == "dL/db":
        return vector(backward(layer)["grad_bias"], layout)
    if kind == "dL/dZ":
        assert layer < last
        return np.asarray(backward(layer)["grad_activation"])
    if kind == "ΔW":
        return np.asarray(update["weights"]) - np.asarray(parameters(layer)[0])
    return vector(update["bias"], layout) - vector(parameters(layer)[1], layout)


def expected_substeps(layers: int, steps: int) -> list[tuple[int, str, int | None]]:
    order = []
    for step in range(steps):
        order += [(step, "forward", layer) for layer in range(1, layers + 1)]
        order.append((step, "loss", None))
        order += [(step, "backward", layer) for layer in range(layers, 0, -1)]
        order.append((step, "update", None))
    return order


def state_in_url(url: str) -> state.LabState | None:
    """The lab state a URL holds in ?state= (decoded and validated as the server does), or None."""
    token = parse_qs(urlsplit(url).query).get("state")
    return state.decode(token[0], Limits()).state if token else None


def wait_for_url_at(page, key: str, timeout: float = 5.0) -> state.LabState:
    """The URL's state names the sub-step shown (written once stepping pauses); returns that state."""
    deadline = time.monotonic() + timeout
    while True:
        found = state_in_url(page.url)
        if found is not None and found.substep == key:
            return found
        assert time.monotonic() < deadline, f"the URL's state is at {found and found.substep}, not {key}"
        page.wait_for_timeout(50)


def check_state(state: dict, request: dict, trace: dict) -> None:
    """The sub-step shown is the right one, and every drawn number is the API's."""
    layers = len(request["layers"])
    step, kind, layer = expected_substeps(layers, request.get("steps", 1))[state["index"]]
    words = {"forward": f"Forward, layer {layer}:", "loss": "Loss:", "backward": f"Backward, layer {layer}:",
             "update": "Update:"}[kind]
    assert state["title"].startswith(words), state["title"]
    assert state["scrubber"] == state["index"]
    assert state["at"] == f"s{step}-{kind}" + (f"-{layer}" if layer else "")
    assert state["loss"].startswith(f"L = {trace['steps'][step]['loss']:.6g} before SGD step {step + 1}")
    names = [panel["name"] for panel in state["panels"]]
    required = {
        "forward": [f"W{layer}", f"S{layer}", f"Z{layer}"],
        "loss": ["Y", "T"],
        "backward": [f"δ{layer}", f"dL/dW{layer}"],
        "update": [f"W{i} (new)" for i in range(1, layers + 1)],
    }[kind]
    assert set(required) <= set(names), (required, names)
    for panel in state["panels"]:
        expected = expected_matrix(panel["name"], step, request, trace)
        np.testing.assert_allclose(np.asarray(panel["z"]), expected, rtol=1e-12, atol=1e-15, err_msg=panel["name"])
        assert panel["title"].startswith(f"{panel['name']}  ({expected.shape[0]}×{expected.shape[1]})")
        np.testing.assert_allclose([float(v) for v in panel["table"]], expected.reshape(-1), rtol=1e-15)


# --- tests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset_id", PRESET_IDS)
def test_each_preset_loads_cleanly_and_offline(watched, api, preset_id):
    state = open_lab(watched, f"/lab/{preset_id}")
    preset = presets.get(preset_id)
    check_state(state, preset.request, api("/trace", preset.body()))
    assert watched.errors == []
    assert watched.foreign_requests() == []
    # the network diagram and the loss curve are drawn too
    for plot in ("#network-plot", "#loss-plot"):
        watched.page.wait_for_selector(f"{plot} > .plot:not([hidden]) .main-svg")
        assert watched.page.locator(f"{plot} > .plot:not([hidden])").count() == 1


@pytest.mark.parametrize("preset_id", ["hw7-relu-softmax", "quiz4-softmax-ce"])
def test_keyboard_steps_through_every_sub_step_and_back(watched, api, screenshots, preset_id):
    preset = presets.get(preset_id)
    trace = api("/trace", preset.body())
    page = watched.page
    total = len(expected_substeps(len(preset.request["layers"]), preset.request["steps"]))
    shown = [open_lab(watched, f"/lab/{preset_id}")]
    check_state(shown[0], preset.request, trace)
    for index in range(1, total):
        page.keyboard.press("ArrowRight")
        state = page.evaluate(STATE)
        assert state["index"] == index
        check_state(state, preset.request, trace)
        shown.append(state)
        if index in (2, total - 1):
            shoot(page, screenshots / f"{preset_id}-{state['at']}.png")
    wait_for_url_at(page, shown[-1]["at"])
    page.keyboard.press("ArrowRight")  # past the end: stays
    assert page.evaluate(STATE) == shown[-1]
    for index in range(total - 2, -1, -1):
        page.keyboard.press("ArrowLeft")
        assert page.evaluate(STATE) == shown[index]  # going back shows exactly what was shown before
    page.keyboard.press("End")
    assert page.evaluate(STATE) == shown[-1]
    page.keyboard.press("Home")
    assert page.evaluate(STATE) == shown[0]
    wait_for_url_at(page, shown[0]["at"])
    assert watched.errors == []


def test_buttons_and_scrubber_step(watched, api, screenshots):
    preset = presets.get("seed002-ex2")
    trace = api("/trace", preset.body())
    page = watched.page
    first = open_lab(watched, "/lab/seed002-ex2")
    seen = [first]
    for index in range(1, 6):
        page.get_by_role("button", name="Next").click()
        state = page.evaluate(STATE)
        assert state["index"] == index
        check_state(state, preset.request, trace)
        seen.append(state)
    shoot(page, screenshots / "seed002-ex2-update.png")
    page.get_by_role("button", name="Previous").click()
    assert page.evaluate(STATE) == seen[4]
    page.get_by_role("button", name="First sub-step").click()
    assert page.evaluate(STATE) == seen[0]
    page.get_by_role("button", name="Last sub-step").click()
    assert page.evaluate(STATE) == seen[5]
    page.locator(".chip").nth(3).click()
    assert page.evaluate(STATE) == seen[3]
    page.locator("#scrubber").fill("2")
    assert page.evaluate(STATE) == seen[2]
    shoot(page, screenshots / "seed002-ex2-loss.png")
    # the URL names the sub-step: opening it shows the same
    wait_for_url_at(page, "s0-loss")
    url = page.url
    page.goto(url)
    page.wait_for_selector("#lab[data-position] #panels > .panel:not([hidden]) .main-svg")
    assert page.evaluate(STATE) == seen[2]


def test_editing_w1_changes_the_loss_to_the_apis(watched, api, screenshots):
    page = watched.page
    before = open_lab(watched, lab_url("seed002-ex2", "s0-backward-1"))
    cell = page.get_by_label("W1[1,1]", exact=True)
    cell.fill("0.25")
    after = wait_for_new_lab(page, lambda: cell.press("Tab"))
    body = presets.get("seed002-ex2").body()
    body["layers"][0]["weights"][0][0] = 0.25
    trace = api("/trace", body)
    assert after["loss"] != before["loss"]
    check_state(after, body, trace)
    assert after["at"] == "s0-backward-1"  # the position stays
    in_url = wait_for_url_at(page, "s0-backward-1").request  # the URL holds the edited network
    assert in_url["layers"][0]["weights"] == body["layers"][0]["weights"]
    assert page.get_by_label("W1[1,1]", exact=True).input_value() == "0.25"
    assert page.locator("#network-state").inner_text() == "Edited network"
    shoot(page, screenshots / "seed002-ex2-edited.png")
    assert watched.errors == []


def test_invalid_input_shows_a_message_and_keeps_the_state(watched):
    page = watched.page
    before = open_lab(watched, lab_url("mazur-2-2-2", "s0-loss"))
    cell = page.get_by_label("W2[2,1]", exact=True)
    cell.fill("0.5.5")
    after = wait_for_new_lab(page, lambda: cell.press("Tab"))
    cell = page.get_by_label("W2[2,1]", exact=True)
    assert cell.input_value() == "0.5.5"
    assert cell.get_attribute("aria-invalid") == "true"
    message = page.locator(f"#{cell.get_attribute('aria-describedby')}")
    assert message.is_visible() and "not a number" in message.inner_text()
    assert after == before  # the same sub-step and numbers are shown
    assert page.get_by_label("W2[1,1]", exact=True).input_value() == "0.4"
    # fixing it applies it
    cell.fill("0.45")
    fixed = wait_for_new_lab(page, lambda: cell.press("Tab"))
    assert fixed["loss"] != before["loss"]
    assert page.locator(".cell-error").count() == 0
    assert watched.errors == []


def test_play_and_pause(watched):
    page = watched.page
    open_lab(watched, "/lab/xor")
    play = page.locator('[data-move="play"]')
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("Space")
    assert play.get_attribute("aria-pressed") == "true"
    page.wait_for_function("() => Number(document.getElementById('lab').dataset.position) >= 2", timeout=8000)
    page.keyboard.press("Space")
    assert play.get_attribute("aria-pressed") == "false"
    stopped = page.evaluate(STATE)["index"]
    page.wait_for_timeout(2500)
    assert page.evaluate(STATE)["index"] == stopped
    play.click()
    assert play.get_attribute("aria-pressed") == "true"
    page.wait_for_function(f"() => Number(document.getElementById('lab').dataset.position) > {stopped}", timeout=8000)
    play.click()
    assert play.get_attribute("aria-pressed") == "false"
    assert watched.errors == []


def test_layout_toggle_shows_transposed_numbers(watched, screenshots):
    page = watched.page
    columns = open_lab(watched, "/lab/seed002-ex2")
    weights = {name: page.get_by_label(name, exact=True).input_value() for name in ("W1[2,1]", "W1[3,2]", "X[1,4]")}
    rows = wait_for_new_lab(page, lambda: page.get_by_label("Examples as rows").check())
    assert page.get_by_label("W1[1,2]", exact=True).input_value() == weights["W1[2,1]"]
    assert page.get_by_label("W1[2,3]", exact=True).input_value() == weights["W1[3,2]"]
    assert page.get_by_label("X[4,1]", exact=True).input_value() == weights["X[1,4]"]
    by_name = lambda state: {panel["name"]: np.asarray(panel["z"]) for panel in state["panels"]}  # noqa: E731
    for name, matrix in by_name(columns).items():
        np.testing.assert_array_equal(by_name(rows)[name], matrix.T)
    assert rows["loss"] == columns["loss"]
    assert page.locator("#network-state").inner_text() == "Numbers as in the source"
    shoot(page, screenshots / "seed002-ex2-rows.png")


def test_typing_while_an_edit_is_on_its_way_is_not_lost(watched):
    page = watched.page
    open_lab(watched, "/lab/mazur-2-2-2")
    held = []
    page.route("**/lab/mazur-2-2-2", lambda route: held.append(route) if route.request.method == "POST"
               else route.continue_())
    first = page.get_by_label("W1[1,1]", exact=True)
    first.fill("0.2")
    first.press("Tab")  # the edit leaves; the focus moves to W1[1,2]
    page.wait_for_function("() => document.activeElement && document.activeElement.name === 'W1[1,2]'")
    page.keyboard.type("0.33")  # typed while the answer is on its way
    page.wait_for_timeout(200)
    assert len(held) == 1
    swapped = wait_for_new_lab(page, lambda: held.pop().continue_())
    second = page.get_by_label("W1[1,2]", exact=True)
    assert second.input_value().endswith("0.33")
    assert page.evaluate("() => document.activeElement.name") == "W1[1,2]"
    assert page.get_by_label("W1[1,1]", exact=True).input_value() == "0.2"
    # leaving the field sends what was typed
    page.unroute("**/lab/mazur-2-2-2")
    after = wait_for_new_lab(page, lambda: page.keyboard.press("Tab"))
    assert after["loss"] != swapped["loss"]
    assert float(page.get_by_label("W1[1,2]", exact=True).input_value()) == float(second.input_value())
    assert watched.errors == []


# --- what a student sees: nothing cut off or piled up, the grids within reach ----------------------

# Every drawn heatmap: its cell width, the widths of the values written in it, and its colour bar's tick boxes.
HEATMAP_GEOMETRY = """() => Array.from(document.querySelectorAll('#panels > .panel:not([hidden])')).map(panel => {
  const plot = panel.querySelector('.plots > .plot:not([hidden])');
  const columns = plot._fullData[0].z[0].length;
  const ticks = Array.from(plot.querySelectorAll('.colorbar .cbaxis text')).map(text => {
    const box = text.getBoundingClientRect();
    return [box.top, box.bottom];
  });
  const title = plot.querySelector('.gtitle').getBBox();
  return {name: panel.dataset.tensor, cell: plot._fullLayout.xaxis._length / columns,
          title: title.x + title.width, width: plot._fullLayout.width,
          labels: Array.from(plot.querySelectorAll('.heatmap-label text')).map(text => text.getComputedTextLength()),
          ticks: ticks};
})"""


@pytest.mark.parametrize("preset_id", ["seed002-ex2", "quiz4-softmax-ce", "hw7-relu-softmax"])
def test_values_fit_their_cells_and_colour_bar_ticks_do_not_overlap(watched, preset_id):
    page = watched.page
    open_lab(watched, f"/lab/{preset_id}")
    total = page.evaluate("() => document.querySelectorAll('.substep').length")
    for _ in range(total):
        for heatmap in page.evaluate(HEATMAP_GEOMETRY):
            assert heatmap["labels"], heatmap["name"]  # small matrices have their values written
            assert max(heatmap["labels"]) <= heatmap["cell"] - 2, heatmap["name"]  # 1 px gap each side
            assert heatmap["title"] <= heatmap["width"], heatmap["name"]  # the title is not cut off
            ticks = sorted(heatmap["ticks"])
            assert len(ticks) == 3, heatmap["name"]
            assert all(above[1] <= below[0] for above, below in zip(ticks, ticks[1:])), (heatmap["name"], ticks)
        page.keyboard.press("ArrowRight")


def test_a_wide_equation_scrolls_inside_its_card(watched, screenshots):
    page = watched.page
    open_lab(watched, lab_url("seed002-ex2", "s0-backward-1"))
    sizes = page.evaluate("""() => {
      const section = document.querySelector('.substep:not([hidden])');
      const equation = section.querySelector('.equation');
      return {wide: equation.scrollWidth > equation.clientWidth, overflow: getComputedStyle(equation).overflowX,
              card: section.scrollWidth <= section.clientWidth};
    }""")
    assert sizes["wide"]  # the δ1 line is wider than the card at this size
    assert sizes["overflow"] == "auto" and sizes["card"]  # so it scrolls, and only the equation does
    equation = page.locator(".substep:not([hidden]) .equation")
    equation.evaluate("element => { element.scrollLeft = element.scrollWidth; }")
    last = page.locator(".substep:not([hidden]) .equation math").first.locator("mtable").last
    box, frame = last.bounding_box(), equation.bounding_box()
    assert box["x"] + box["width"] <= frame["x"] + frame["width"] + 1  # the last matrix can be brought into view
    shoot(page, screenshots / "seed002-ex2-s0-backward-1.png")


def test_heatmap_cards_and_the_numbers_links_lead_to_the_grids(watched):
    page = watched.page
    open_lab(watched, "/lab/seed002-ex2")
    page.get_by_role("link", name="Edit W1").click()
    focused = page.evaluate("() => document.activeElement.getAttribute('aria-label')")
    assert focused == "W1[1,1]"
    cell = page.get_by_label("W1[1,1]", exact=True)
    box, editor = cell.bounding_box(), page.locator(".editor").bounding_box()
    assert 0 <= box["y"] and box["y"] + box["height"] <= 1000  # in the viewport
    assert editor["y"] <= box["y"] and box["y"] + box["height"] <= editor["y"] + editor["height"]  # and the panel
    page.locator(".jump").get_by_role("link", name="T", exact=True).click()
    assert page.evaluate("() => document.activeElement.getAttribute('aria-label')") == "T[1,1]"
    assert "#" not in page.url  # the address keeps the state, not a fragment
    assert watched.errors == []


def test_what_a_sub_step_does_not_show_is_invisible_to_everyone(watched):
    """The page holds the shown sub-step's cards (and, hidden, those of the sub-steps either side): a hidden one is
    display: none, or drawn ahead for the next key ("warm": laid out off the page, aria-hidden, no tab stop in it),
    so out of sight, of the pointer's way, of screen readers and of the tab order."""
    page = watched.page
    open_lab(watched, "/lab/hw7-relu-softmax")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('#panels > .panel[hidden]')")
    found = page.evaluate("""() => {
      const lab = document.getElementById('lab');
      const hidden = Array.from(lab.querySelectorAll('#panels > .panel[hidden], .substep[hidden]'));
      const shown = Array.from(lab.querySelectorAll('#panels > .panel:not([hidden])'))
        .sort((a, b) => Number(a.style.order) - Number(b.style.order)).map(card => card.id);
      return {
        display: hidden.map(element => getComputedStyle(element).display),
        unreachable: hidden.map(element => {
          if (getComputedStyle(element).display === 'none') return 'none';
          const box = element.getBoundingClientRect();
          const stops = Array.from(element.querySelectorAll('a[href], button, input, [tabindex]'))
            .concat([element]).filter(el => el.tabIndex >= 0 && (el !== element || el.hasAttribute('tabindex')));
          return element.getAttribute('aria-hidden') === 'true' && box.right < 0 && stops.length === 0
            ? 'warm' : 'reachable ' + element.id + ' ' + box.right + ' ' + stops.length;
        }),
        owns: document.getElementById('panels').getAttribute('aria-owns').split(' '),
        shown: shown,
        sections: lab.querySelectorAll('.substep').length,
        hits: Array.from(lab.querySelectorAll('#panels > .panel:not([hidden])')).map(card => {
          const box = card.getBoundingClientRect();
          const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
          return hit !== null && card.contains(hit);
        }),
      };
    }""")
    assert found["display"] and set(found["unreachable"]) <= {"none", "warm"}, found["unreachable"]
    assert "warm" in found["unreachable"]  # the next key's cards are drawn ahead
    assert found["sections"] == 1
    assert found["owns"] == found["shown"]  # screen readers read the cards in the equation's order
    assert found["hits"] and all(found["hits"])
    for _ in range(3):
        page.keyboard.press("ArrowLeft")
    tab_stops = page.evaluate("""() => Array.from(document.querySelectorAll('#panels > .panel:not([hidden]) a'))
      .map(link => link.tabIndex)""")
    assert tab_stops and set(tab_stops) == {0}


def test_a_long_run_keeps_one_page_and_steps_with_the_apis_numbers(watched, api):
    """20 SGD steps: as many figures as one step has, frames asked for on the way, the API's numbers throughout."""
    page = watched.page
    count = """() => ({figures: document.querySelectorAll('figure, .js-plotly-plot, .substep, table').length,
                      elements: document.getElementsByTagName('*').length})"""
    body = presets.get("xor").body()
    one = dict(body, steps=1)
    long = dict(body, steps=20)
    open_lab(watched, "/lab?state=" + state.encode(state.LabState(one, preset="xor")))
    small = page.evaluate(count)
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('#panels > .panel:not([hidden]) .main-svg')"
                           " && document.getElementById('lab').dataset.position === '5'")
    page.wait_for_timeout(300)
    small_at_end = page.evaluate(count)
    first = open_lab(watched, "/lab?state=" + state.encode(state.LabState(long, preset="xor")))
    assert page.evaluate(count)["figures"] == small["figures"]
    trace = api("/trace", long)
    total = len(expected_substeps(len(long["layers"]), 20))
    shown = {0: first}
    for index in range(1, total):
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"() => document.getElementById('lab').dataset.position === '{index}'")
        if index % 7 == 0 or index == total - 1:
            shown[index] = page.evaluate(STATE)
            check_state(shown[index], long, trace)
    page.wait_for_timeout(300)
    # At the last update, the page holds about what the one-step page held at its update (the loss table
    # reads 11 steps, not 2): it did not grow with the steps.
    assert page.evaluate(count)["elements"] < 1.1 * small_at_end["elements"]
    for index in range(total - 2, 0, -1):
        page.keyboard.press("ArrowLeft")
        if index in shown:
            page.wait_for_function(f"() => document.getElementById('lab').dataset.position === '{index}'")
            assert page.evaluate(STATE) == shown[index]  # going back shows exactly what was shown
    page.keyboard.press("End")
    page.wait_for_function(f"() => document.getElementById('lab').dataset.position === '{total - 1}'")
    assert page.evaluate(STATE) == shown[total - 1]
    page.keyboard.press("Home")
    page.wait_for_function("() => document.getElementById('lab').dataset.position === '0'")
    assert page.evaluate(STATE) == first
    assert watched.errors == []


def test_a_state_too_long_for_a_url_lives_in_the_fragment(watched, api):
    """A 32-unit network's state is over 8 KB: /lab#state= opens it, the address keeps it, a reload shows it again."""
    from tests.lab.test_long_states import wide_body

    body = wide_body()
    token = state.encode(state.LabState(body, "s0-loss"))
    page = watched.page
    shown = open_lab(watched, f"/lab#state={token}")
    check_state(shown, body, api("/trace", body))
    page.keyboard.press("ArrowRight")  # F1 F2 F3 L B3 ...: from the loss to backward 3
    page.wait_for_function("() => document.getElementById('lab').dataset.position === '4'")
    deadline = time.monotonic() + 5
    while True:
        address = page.evaluate("() => ({hash: location.hash, search: location.search})")
        assert address["hash"].startswith("#state=") and "state" not in address["search"]
        moved = state.decode(address["hash"][len("#state="):], Limits()).state
        if moved.substep == "s0-backward-3" or time.monotonic() > deadline:
            break
        page.wait_for_timeout(50)
    assert moved.substep == "s0-backward-3" and moved.request == body
    page.reload()
    page.wait_for_selector("#lab[data-position] #panels > .panel:not([hidden]) .main-svg")
    assert page.evaluate(STATE)["at"] == "s0-backward-3"
    assert watched.errors == []
