"""The training page in headless Chromium: train the spiral, pause, pick a step, open it in the lab.

The numbers the page and the lab show are checked against the API: /api/v1/train
replays the run from its setup, and /api/v1/trace traces the opened step.
"""
from __future__ import annotations

import time

import numpy as np

SPIRAL = "/train?dataset=spiral&size=300&noise=0.1&test_percent=20&features=x1&features=x2&hidden=8,8" \
         "&activation=tanh&optimizer=adam&learning_rate=0.02&batch_size=16&seed=2"

PAGE = """() => {
  const train = document.getElementById('train');
  const field = document.querySelector('[data-figure="field"]');
  const batch = document.querySelector('[data-figure="boundary"]').data.find(trace => trace.meta === 'batch');
  return {
    step: Number(train.dataset.step || 0),
    frames: Number(train.dataset.frames || 0),
    status: document.querySelector('[data-role="status"]').textContent,
    readout: document.querySelector('[data-role="readout"]').textContent,
    pick: document.querySelector('[data-role="open-result"]').textContent,
    link: (document.querySelector('.open-link') || {}).href || null,
    ringed: batch ? Array.from(batch.x || []).length : 0,
    fieldRevision: field.layout.datarevision || 0,
  };
}"""


# The lab's drawn matrices at its current sub-step: name -> the numbers Plotly holds.
LAB_PANELS = """() => {
  const lab = document.getElementById('lab');
  const panels = {};
  lab.querySelectorAll('#panels > .panel:not([hidden])').forEach(panel => {
    const plot = panel.querySelector('.plots > .plot:not([hidden])');
    if (plot && plot._fullData) panels[panel.dataset.tensor] = Array.from(plot._fullData[0].z, row => Array.from(row));
  });
  return {position: Number(lab.dataset.position), text: lab.textContent, panels: panels};
}"""


def wait_until(page, predicate, timeout=30.0, what="the page"):
    """Poll the page's state until predicate(state) holds (no eval in the page: the CSP forbids it)."""
    deadline = time.monotonic() + timeout
    while True:
        state = page.evaluate(PAGE)
        if predicate(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {state}")
        time.sleep(0.05)


def shoot(page, path) -> None:
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=True)


def setup_of(page) -> dict:
    return page.evaluate("() => JSON.parse(document.getElementById('train-data').textContent).setup")


def test_spiral_trains_pauses_and_opens_the_exact_step(watched, api, screenshots):
    page = watched.page
    page.goto(watched.base_url + SPIRAL)
    page.wait_for_selector('#train[data-frames] [data-figure="field"] .main-svg')
    start = page.evaluate(PAGE)
    assert start["step"] == 0 and "train loss" in start["readout"]

    page.select_option('[data-role="speed"]', "10")
    page.click('[data-action="play"]')
    assert page.get_attribute('[data-action="play"]', "aria-pressed") == "true"
    playing = wait_until(page, lambda s: s["step"] >= 300, what="300 steps")
    page.click('[data-action="play"]')
    paused = wait_until(page, lambda s: s["status"].startswith("Paused at step"), what="the pause")
    assert paused["fieldRevision"] > 10  # the boundary moved while training
    assert f"Paused at step {paused['step']}." in paused["status"] and paused["step"] >= playing["step"]
    time.sleep(0.3)
    assert page.evaluate(PAGE)["step"] == paused["step"]  # paused means paused
    shoot(page, screenshots / "train-spiral-paused.png")

    # The page's readout is the API's: replay the run to the paused step.
    setup = setup_of(page)
    replay = api("/train/advance", {"setup": setup, "state": None, "steps": 50, "every": 50})
    state, metrics = replay["state"], replay["metrics"]
    while replay["step"] < paused["step"]:
        replay = api("/train/advance", {"setup": setup, "state": state, "steps": min(50, paused["step"] - replay["step"])})
        state, metrics = replay["state"], replay["metrics"]
    assert f"train loss {metrics['train_loss'][-1]:.4f}" in paused["status"]

    # Pick a step that is not on a checkpoint; the page replays it from the checkpoint before it.
    picked = 237
    page.fill('[data-role="open-step"]', str(picked))
    page.click('.open-form button[type="submit"]')
    shown = wait_until(page, lambda s: s["pick"].startswith(f"Step {picked}.") and "batch of 16" in s["pick"].lower(),
                       what="the picked step")
    assert shown["ringed"] == 16  # the batch is ringed on the plane
    opened = api("/train/open", {"setup": setup, "checkpoint": None, "step": picked})
    assert "#" + ", #".join(str(i) for i in opened["batch"][:8]) in shown["pick"]
    assert opened["request"]["optimizer"]["state"]["step"] == picked

    # The opened request traces the very step training took: its update is the state after the step.
    traced = api("/trace", opened["request"])["steps"][0]
    after = api("/train/advance", {"setup": setup, "state": api("/train/advance", {
        "setup": setup, "state": None, "steps": picked})["state"], "steps": 1})["state"]
    for layer in traced["update"]:
        np.testing.assert_array_equal(layer["weights"], after["parameters"][f"W{layer['layer']}"])
    shoot(page, screenshots / "train-spiral-picked.png")

    # The lab opens in a new tab at that step: the weights it starts from, its batch, then the new weights.
    with page.context.expect_page() as opening:
        page.click(".open-link")
    lab_page = opening.value
    lab_page.wait_for_selector("#lab[data-position] #panels > .panel:not([hidden]) .main-svg")
    lab = lab_page.evaluate(LAB_PANELS)
    np.testing.assert_array_equal(lab["panels"]["W1"], opened["request"]["layers"][0]["weights"])
    np.testing.assert_array_equal(lab["panels"]["X"], opened["request"]["inputs"])
    shoot(lab_page, screenshots / "train-step-in-lab.png")
    lab_page.keyboard.press("End")  # the last sub-step: the update
    deadline = time.monotonic() + 10
    while "W1 (new)" not in (lab := lab_page.evaluate(LAB_PANELS))["panels"]:
        assert time.monotonic() < deadline, lab["panels"].keys()
        time.sleep(0.05)
    np.testing.assert_array_equal(lab["panels"]["W1 (new)"], after["parameters"]["W1"])
    assert "Adam" in lab["text"]
    shoot(lab_page, screenshots / "train-step-in-lab-update.png")
    lab_page.close()
    assert page.evaluate(PAGE)["step"] == paused["step"]  # the run is still there

    # A click on the curves picks the step under the pointer.
    box = page.locator('[data-figure="curves"] .nsewdrag').first.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    clicked = wait_until(page, lambda s: s["pick"].startswith("Step ") and not s["pick"].startswith(f"Step {picked}."),
                         what="a step picked on the curves")
    step = int(clicked["pick"].split()[1].rstrip("."))
    assert 0 < step <= paused["step"]
    assert watched.errors == [] and watched.foreign_requests() == []


def test_step_and_reset(watched):
    page = watched.page
    page.goto(watched.base_url + SPIRAL)
    page.wait_for_selector('#train[data-frames] [data-figure="field"] .main-svg')
    for expected in (1, 2, 3):
        page.click('[data-action="step"]')
        wait_until(page, lambda s: s["step"] == expected and s["status"] == f"Paused at step {expected}. " + s["readout"],
                   what=f"step {expected}")
    page.click('[data-action="reset"]')
    reset = wait_until(page, lambda s: s["step"] == 0, what="the reset")
    assert reset["status"] == ""
    assert watched.errors == []


def test_own_csv_data_with_messages_at_the_cell(watched, screenshots):
    page = watched.page
    page.goto(watched.base_url + "/train")
    page.wait_for_selector('#train[data-frames]')
    page.select_option("#dataset", "csv")
    page.wait_for_selector("#csv")
    page.fill("#csv", "u,v,label\n0.5,1.0,0\n-1.2,0.3,1\n0.7,oops,0\n")
    page.locator("#csv").blur()
    # The page answers the choice of CSV (empty data: "paste or upload ...") and then the data typed; wait for the
    # second answer, which may come after the first is shown.
    page.wait_for_function("() => { const error = document.querySelector('#csv-error');"
                           " return error !== null && error.textContent.includes('oops'); }")
    assert page.text_content("#csv-error") == "row 4, column 2 (v): 'oops' is not a number"
    shoot(page, screenshots / "train-csv-error.png")
    rows = "\n".join(f"{(i % 7) - 3},{(i * 3 % 5) - 2},{int((i % 7) - 3 > 0)}" for i in range(40))
    page.fill("#csv", "u,v,label\n" + rows)
    page.locator("#csv").blur()
    page.wait_for_selector('#train[data-frames] [data-figure="field"] .main-svg')
    assert page.locator("#csv-error").count() == 0
    assert "32 training and 8 test examples" in page.text_content(".train-summary")
    page.click('[data-action="step"]')
    wait_until(page, lambda s: s["step"] == 1, what="one step on the CSV data")
    assert watched.errors == []


def test_the_boundary_keeps_moving_while_playing(watched):
    page = watched.page
    page.goto(watched.base_url + SPIRAL)
    page.wait_for_selector('#train[data-frames] [data-figure="field"] .main-svg')
    page.select_option('[data-role="speed"]', "5")
    page.click('[data-action="play"]')
    first = wait_until(page, lambda s: s["step"] >= 50, what="50 steps")
    time.sleep(2.0)
    last = page.evaluate(PAGE)
    page.click('[data-action="play"]')
    # a loose floor (the machine is shared); benchmarks/training.py measures the frame rate
    assert (last["fieldRevision"] - first["fieldRevision"]) / 2.0 >= 5
    assert watched.errors == []
