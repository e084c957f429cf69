"""The gallery and the lab pages, through the Flask test client; numbers checked against the JSON API."""
import base64
import json
import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from engine import presets
from webapp.api.limits import Limits
from webapp.lab import state

PRESET_IDS = [preset.id for preset in presets.PRESETS]


class Page(HTMLParser):
    """What a browser would see of the lab: the form's fields, ids, and text by element id."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.fields: dict[str, str] = {}
        self.inputs: dict[str, dict] = {}
        self.ids: dict[str, dict] = {}
        self._select: str | None = None
        self._text_of: list[tuple[str, list[str]]] = []
        self.text: dict[str, str] = {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = {name: value if value is not None else "" for name, value in attrs}
        if "id" in attrs:
            self.ids[attrs["id"]] = attrs
            if tag not in ("input", "br", "img", "meta", "link"):
                self._text_of.append((attrs["id"], []))
        if tag == "input" and "name" in attrs:
            self.inputs[attrs["name"]] = attrs
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.fields[attrs["name"]] = attrs.get("value", "on")
            elif kind != "submit":
                self.fields[attrs["name"]] = attrs.get("value", "")
        elif tag == "select":
            self._select = attrs.get("name")
        elif tag == "option" and self._select and "selected" in attrs:
            self.fields[self._select] = attrs["value"]

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None

    def handle_data(self, data):
        for _, parts in self._text_of:
            parts.append(data)

    def close(self):
        super().close()

    def text_of(self, element_id: str) -> str:
        for found, parts in self._text_of:
            if found == element_id:
                return " ".join("".join(parts).split())
        raise KeyError(element_id)


def lab_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="lab-data">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def decode(value):
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        return flat.reshape([int(n) for n in str(value["shape"]).split(",")])
    return np.asarray(value, dtype=np.float64)


def api_trace(client, body):
    response = client.post("/api/v1/trace", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def lab_url(preset_id: str, substep: str) -> str:
    """The lab's URL of a preset's network at a sub-step."""
    return "/lab?state=" + state.encode(state.LabState(presets.get(preset_id).body(), substep, None, preset_id))


def post_edit(client, preset_id, fields, htmx=True):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(f"/lab/{preset_id}", data=fields, headers=headers)


def loss_of(html: str) -> str:
    """The loss line of the sub-step the page shows."""
    return re.search(r'<p class="loss-readout" id="loss-readout">(.*?)</p>', html, re.S).group(1).strip()


def token_of(html: str) -> str:
    """The state token of the lab a page shows (its address holds it)."""
    return parse_qs(urlsplit(Page(html).ids["lab"]["data-url"]).query)["state"][0]


def frames_of(client, html: str) -> dict:
    """Every sub-step of the lab a page shows, as the script asks for them (POST /lab/frames, a few steps at a time)."""
    data = lab_data(html)
    out = {"substeps": [], "values": {}, "errata": {}}
    for first in range(0, data["steps"], 8):
        response = client.post("/lab/frames", json={"state": token_of(html), "from": first,
                                                    "to": min(data["steps"], first + 8)})
        assert response.status_code == 200, response.get_data(as_text=True)
        window = response.get_json()
        out["substeps"] += window["substeps"]
        for key in ("values", "errata"):
            for slug, frames in window[key].items():
                out[key].setdefault(slug, {}).update(frames)
    return out


# --- gallery ------------------------------------------------------------------------------------


def test_gallery_lists_every_preset_with_a_link_to_its_lab(client):
    html = client.get("/").get_data(as_text=True)
    for preset in presets.PRESETS:
        assert f'href="/lab/{preset.id}"' in html
        assert preset.title.replace("'", "&#39;") in html
        assert preset.source.replace("'", "&#39;") in html
    assert "2 → 3 → 1" in html  # seed 002's shape
    assert html.count('<svg class="preview"') == len(presets.PRESETS)


# --- the lab page -------------------------------------------------------------------------------


@pytest.mark.parametrize("preset_id", PRESET_IDS)
def test_lab_page_draws_the_trace_the_api_gives(client, preset_id):
    html = client.get(f"/lab/{preset_id}").get_data(as_text=True)
    preset = presets.get(preset_id)
    expected = api_trace(client, preset.body())
    data = lab_data(html)
    layers = len(preset.request["layers"])
    steps = preset.request["steps"]
    assert data["total"] == steps * (2 * layers + 2)
    frames = frames_of(client, html)
    assert [s["index"] for s in frames["substeps"]] == list(range(data["total"]))
    values = frames["values"]
    for k, step in enumerate(expected["steps"]):
        for forward in step["forward"]:
            frame = values[f"t-S{forward['layer']}"][str(k)]
            np.testing.assert_allclose(decode(frame), forward["pre_activation"], rtol=1e-12)
        for backward in step["backward"]:
            frame = values[f"t-delta{backward['layer']}"][str(k)]
            np.testing.assert_allclose(decode(frame), backward["delta"], rtol=1e-12)
        for update in step["update"]:
            frame = values[f"t-W{update['layer']}-new"][str(k)]
            np.testing.assert_allclose(decode(frame), update["weights"], rtol=1e-12)
    # The page's own frames (the shown SGD step) are the same numbers.
    for slug, own in data["frames"]["values"].items():
        for frame, value in own.items():
            np.testing.assert_array_equal(decode(value), decode(values[slug][frame]))
    page = Page(html)
    assert f"{expected['steps'][0]['loss']:.6g}" in page.text_of("loss-readout")


def test_every_sub_step_is_named_in_words_and_the_page_shows_one(client):
    html = client.get("/lab/seed002-ex2").get_data(as_text=True)
    page = Page(html)
    substeps = frames_of(client, html)["substeps"]
    keys = [s["key"] for s in substeps]
    assert keys == ["s0-forward-1", "s0-forward-2", "s0-loss", "s0-backward-2", "s0-backward-1", "s0-update"]
    titles = {s["key"]: s["title"] for s in substeps}
    assert titles["s0-forward-1"].startswith("Forward, layer 1:")
    assert titles["s0-backward-2"].startswith("Backward, layer 2: δ2 =")
    assert titles["s0-update"].startswith("Update:")
    assert page.text_of("substep-title").startswith(titles["s0-forward-1"])
    assert page.ids["substep"]["data-key"] == "s0-forward-1"
    assert "<math" in html and all("<math" in s["equation"] for s in substeps)
    assert html.count('class="substep ') == 1


def test_cells_are_labelled_in_math_notation(client):
    page = Page(client.get("/lab/seed002-ex2").get_data(as_text=True))
    weights = presets.get("seed002-ex2").request["layers"][0]["weights"]
    cell = page.inputs["W1[2,1]"]
    assert cell["aria-label"] == "W1[2,1]" and float(cell["value"]) == weights[1][0]
    assert page.inputs["X[1,2]"]["aria-label"] == "X[1,2]"
    assert page.inputs["T[1,1]"]["aria-label"] == "T[1,1]"
    quiz = Page(client.get("/lab/quiz4-softmax-ce").get_data(as_text=True))
    assert quiz.inputs["b2[1]"]["aria-label"] == "b2[1]"
    assert quiz.inputs["label[1]"]["value"] == "0"


def test_every_heatmap_has_a_table_for_screen_readers(client):
    html = client.get(lab_url("mazur-2-2-2", "s0-forward-2")).get_data(as_text=True)
    expected = api_trace(client, presets.get("mazur-2-2-2").body())
    shown = [slug for slug, *_ in lab_data(html)["frames"]["substeps"][1]["panels"]]
    assert "t-Z2" in shown
    for slug in shown:
        assert re.search(rf'<figure class="panel" id="{re.escape(slug)}".*?<table class="visually-hidden"', html, re.S)
    table = re.search(r'<figure class="panel" id="t-Z2".*?<table class="visually-hidden".*?</table>', html, re.S).group(0)
    cells = [float(v) for v in re.findall(r"<td>([-0-9.e]+)</td>", table)]
    assert cells == [v for row in expected["steps"][0]["forward"][1]["activation"] for v in row]


def test_the_state_picks_the_sub_step(client):
    html = client.get(lab_url("seed002-ex2", "s0-backward-1")).get_data(as_text=True)
    assert 'data-start="4"' in html
    page = Page(html)
    assert page.ids["substep"]["data-key"] == "s0-backward-1"
    assert page.text_of("substep-title").startswith("Backward, layer 1:")
    # a sub-step the network does not have is a friendly error page, not a 500
    missing = client.get(lab_url("seed002-ex2", "s7-loss"))
    assert missing.status_code == 422 and "gallery of worked examples" in missing.get_data(as_text=True)


def test_a_preset_page_starts_at_the_first_sub_step_whatever_its_query(client):
    # /lab/<preset_id> is the gallery's link; sub-steps and edited networks live in /lab?state= only
    for query in ("", "?at=s0-backward-1", "?net=garbage", "?utm_source=course-site"):
        response = client.get(f"/lab/seed002-ex2{query}")
        assert response.status_code == 200 and 'data-start="0"' in response.get_data(as_text=True)


def test_unknown_preset_is_404(client):
    assert client.get("/lab/no-such-example").status_code == 404


@pytest.mark.parametrize("token", ["garbage!", "eJzLSM3JyQcABiwCFQ"])
def test_a_bad_state_in_the_url_is_400(client, token):
    assert client.get(f"/lab?state={token}").status_code == 400


def test_a_bad_last_valid_network_in_the_form_falls_back_to_the_preset(client):
    page = Page(client.get("/lab/seed002-ex2").get_data(as_text=True))
    assert state.decode(page.fields["last-valid"], Limits()).state.request == presets.get("seed002-ex2").request
    fields = dict(page.fields, **{"W1[1,1]": "x", "last-valid": "eJzLSM3JyQcABiwCFQ"})
    html = post_edit(client, "seed002-ex2", fields).get_data(as_text=True)
    assert loss_of(html) == loss_of(client.get("/lab/seed002-ex2").get_data(as_text=True))


def test_gradient_check_panel(client):
    html = client.get("/lab/mazur-2-2-2").get_data(as_text=True)
    assert "Gradient check" in html
    largest = float(re.search(r"largest relative error\s*<strong[^>]*>([^<]+)</strong>", html).group(1))
    assert largest < 1e-6
    for entry in ("W1[1,1]", "W2[2,2]", "b1[1]", "b2[2]"):
        assert f'<th scope="row">{entry}</th>' in html


def test_seed_errata_are_shown_beside_the_values(client):
    html = client.get(lab_url("seed002-ex2", "s0-loss")).get_data(as_text=True)
    card = re.search(r'<figure class="panel" id="t-Y".*?</figure>', html, re.S).group(0)
    assert "0.0985" in card and "Y[1,1]" in card
    notes = frames_of(client, html)["errata"]["t-Y"]["0"]
    assert any(note["cell"] == "Y[1,1]" and "0.0985" in note["text"] for note in notes)


def test_parameter_and_data_cards_link_to_their_grids(client):
    def card_of(html, tensor):
        return re.search(rf'<figure class="panel" id="[^"]*" data-tensor="{re.escape(tensor)}".*?</figure>', html, re.S)

    html = client.get("/lab/quiz4-softmax-ce").get_data(as_text=True)
    page = Page(html)
    loss = client.get(lab_url("quiz4-softmax-ce", "s0-loss")).get_data(as_text=True)
    update = client.get(lab_url("quiz4-softmax-ce", "s0-update")).get_data(as_text=True)
    for tensor, cell, shown in [("W1", "W1[1,1]", html), ("b2", "b2[1]", update), ("X", "X[1,1]", html),
                                ("T", "label[1]", loss)]:
        link = re.search(r'<a class="card-edit" href="#([^"]+)" data-edit="([^"]+)">', card_of(shown, tensor).group(0))
        assert link.group(1) == link.group(2) == page.inputs[cell]["id"], tensor
    for tensor, shown in (("S1", html), ("δ2", client.get(lab_url("quiz4-softmax-ce", "s0-backward-2")).get_data(
            as_text=True)), ("W1 (new)", update)):  # not something to type in
        assert "card-edit" not in card_of(shown, tensor).group(0), tensor
    # The script makes the cards of later sub-steps with the same links.
    edits = json.loads(re.search(r'<script type="application/json" id="lab-edits">(.*?)</script>', html, re.S).group(1))
    assert edits["T"] == [page.inputs["label[1]"]["id"], "the labels"] and edits["W2"][0] == page.inputs["W2[1,1]"]["id"]
    assert "S1" not in edits
    # the editor opens with a link to every grid
    jump = re.search(r'<nav class="jump".*?</nav>', html, re.S).group(0)
    targets = re.findall(r'data-edit="([^"]+)"', jump)
    assert targets == [page.inputs[name]["id"] for name in ("X[1,1]", "W1[1,1]", "b1[1]", "W2[1,1]", "b2[1]", "label[1]")]


def test_a_read_only_embed_has_no_edit_links(client):
    token = state.encode(state.LabState(presets.get("xor").body(), preset="xor"))
    html = client.get("/embed", query_string={"state": token, "readonly": "1"}).get_data(as_text=True)
    assert "data-edit=" not in html
    editable = client.get("/embed", query_string={"state": token}).get_data(as_text=True)
    assert 'class="card-edit"' in editable


# --- editing ------------------------------------------------------------------------------------


def edited_body(preset_id, changes):
    """The preset's body with some entries changed: changes maps (layer index, row, col) -> value in its layout."""
    body = presets.get(preset_id).body()
    for (layer, row, col), value in changes.items():
        body["layers"][layer]["weights"][row][col] = value
    return body


def test_editing_a_weight_retraces_and_pushes_the_url(client):
    page = Page(client.get("/lab/seed002-ex2").get_data(as_text=True))
    fields = dict(page.fields, **{"W1[1,1]": "0.5"})
    response = post_edit(client, "seed002-ex2", fields)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    expected = api_trace(client, edited_body("seed002-ex2", {(0, 0, 0): 0.5}))
    assert loss_of(html) == f"L = {expected['steps'][0]['loss']:.6g} before SGD step 1"
    url = response.headers["HX-Push-Url"]
    assert url.startswith("/lab?state=")
    assert pushed_state(response).preset == "seed002-ex2"
    assert "Edited network" in html
    # the URL alone gives the same state
    again = client.get(url).get_data(as_text=True)
    assert loss_of(again) == loss_of(html)
    assert Page(again).inputs["W1[1,1]"]["value"] == "0.5"


def test_an_invalid_entry_gets_a_message_and_keeps_the_rest(client):
    html = client.get("/lab/seed002-ex2").get_data(as_text=True)
    page = Page(html)
    fields = dict(page.fields, **{"W1[1,1]": "0.5", "W1[2,2]": "4,3"})
    response = post_edit(client, "seed002-ex2", fields)
    out = response.get_data(as_text=True)
    edited = Page(out)
    cell = edited.inputs["W1[2,2]"]
    assert cell["value"] == "4,3"
    assert cell["aria-invalid"] == "true"
    assert "not a number" in edited.text_of(cell["aria-describedby"])
    assert edited.inputs["W1[1,1]"]["value"] == "0.5"  # the other edit is kept too
    assert loss_of(out) == loss_of(html)  # the lab still shows the last valid network
    assert "HX-Push-Url" not in response.headers


def test_layout_toggle_shows_the_same_numbers_transposed(client):
    page = Page(client.get("/lab/seed002-ex2").get_data(as_text=True))
    response = post_edit(client, "seed002-ex2", dict(page.fields, layout="rows"))
    rows = Page(response.get_data(as_text=True))
    weights = presets.get("seed002-ex2").request["layers"][0]["weights"]
    for i in range(3):
        for j in range(2):
            assert float(rows.inputs[f"W1[{j + 1},{i + 1}]"]["value"]) == weights[i][j]
    assert "X[4,2]" in rows.inputs and "X[2,4]" not in rows.inputs
    assert "Numbers as in the source" in response.get_data(as_text=True)


def test_structure_edits(client):
    page = Page(client.get("/lab/xor").get_data(as_text=True))
    added = Page(post_edit(client, "xor", dict(page.fields, action="add-layer")).get_data(as_text=True))
    assert "W3[1,1]" in added.inputs and added.fields["units-2"] == "3"
    removed = Page(post_edit(client, "xor", dict(added.fields, action="remove-layer-2")).get_data(as_text=True))
    assert "W3[1,1]" not in removed.inputs
    wider = Page(post_edit(client, "xor", dict(page.fields, **{"units-1": "5"})).get_data(as_text=True))
    assert "W1[2,5]" in wider.inputs and "W2[5,1]" in wider.inputs


def test_randomize_shows_the_seed(client):
    page = Page(client.get("/lab/xor").get_data(as_text=True))
    html = post_edit(client, "xor", dict(page.fields, seed="11", action="randomize")).get_data(as_text=True)
    assert "default_rng(11)" in html
    assert Page(html).fields["seed"] == "12"


def test_reset_returns_to_the_preset(client):
    page = Page(client.get("/lab/xor").get_data(as_text=True))
    edited = Page(post_edit(client, "xor", dict(page.fields, **{"W1[1,1]": "3"})).get_data(as_text=True))
    response = post_edit(client, "xor", dict(edited.fields, action="reset"))
    assert response.headers["HX-Push-Url"].startswith("/lab?state=")
    assert pushed_state(response).request == presets.get("xor").request
    assert Page(response.get_data(as_text=True)).inputs["W1[1,1]"]["value"] == page.inputs["W1[1,1]"]["value"]


def test_the_position_survives_an_edit(client):
    page = Page(client.get(lab_url("xor", "s3-backward-1")).get_data(as_text=True))
    assert page.fields["at"] == "s3-backward-1"
    response = post_edit(client, "xor", dict(page.fields, **{"W1[1,1]": "0.2"}))
    assert pushed_state(response).substep == "s3-backward-1"
    fewer = post_edit(client, "xor", dict(page.fields, steps="2"))
    assert pushed_state(fewer).substep == "s1-backward-1"


def test_too_many_steps_says_the_bound(client):
    page = Page(client.get("/lab/xor").get_data(as_text=True))
    html = post_edit(client, "xor", dict(page.fields, steps="500")).get_data(as_text=True)
    edited = Page(html)
    assert "at most 200 SGD steps" in edited.text_of(edited.ids["f-steps"]["aria-describedby"])
    assert edited.fields["steps"] == "500"


def test_an_overflow_is_reported_and_the_state_stays(client):
    page = Page(client.get("/lab/seed002-ex2").get_data(as_text=True))
    response = post_edit(client, "seed002-ex2", dict(page.fields, **{"W2[1,1]": "1e200"}))
    html = response.get_data(as_text=True)
    assert "no longer finite" in html and Page(html).fields["W2[1,1]"] == "1e200"


def test_without_javascript_a_valid_edit_redirects_and_an_invalid_one_is_422(client):
    page = Page(client.get("/lab/seed002-ex2").get_data(as_text=True))
    response = post_edit(client, "seed002-ex2", dict(page.fields, **{"W1[1,1]": "0.5"}), htmx=False)
    assert response.status_code == 303
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert set(query) == {"state"}
    assert state.decode(query["state"][0], Limits()).state.request["layers"][0]["weights"][0][0] == 0.5
    bad = post_edit(client, "seed002-ex2", dict(page.fields, **{"W1[1,1]": "x"}), htmx=False)
    assert bad.status_code == 422 and "<html" in bad.get_data(as_text=True)


def test_edited_networks_lose_the_errata(client):
    page = Page(client.get("/lab/seed002-ex2").get_data(as_text=True))
    html = post_edit(client, "seed002-ex2", dict(page.fields, **{"W1[1,1]": "0.5"})).get_data(as_text=True)
    assert not re.search(r'<ul class="errata"[^>]*>\s*<li', html)
    assert frames_of(client, html)["errata"] == {}
    source = client.get(lab_url("seed002-ex2", "s0-loss")).get_data(as_text=True)
    assert re.search(r'<ul class="errata"[^>]*>\s*<li', source)  # the check above can fail


def test_a_malformed_form_is_400(client):
    assert client.post("/lab/xor", data={"W1[1,1]": "1"}).status_code == 400


def test_a_saturated_output_is_explained_not_drawn(client, refcases):
    request = refcases["stability_softmax_ce"]["request"]
    token = state.encode(state.LabState(request, "s0-loss", None, "quiz4-softmax-ce"))
    html = client.get(f"/lab?state={token}").get_data(as_text=True)
    assert "dL/dY is not finite here" in html
    loss_panels = next(s for s in lab_data(html)["frames"]["substeps"] if s["key"] == "s0-loss")["panels"]
    assert [slug for slug, *_ in loss_panels] == ["t-Y", "t-T"]
    expected = refcases["stability_softmax_ce"]["expected"]["steps"][0]["loss"]
    assert f"L = {expected:.6g}" in html


def pushed_state(response) -> state.LabState:
    """The lab state in the URL an edit pushes to the address bar."""
    query = parse_qs(urlsplit(response.headers["HX-Push-Url"]).query)
    return state.decode(query["state"][0], Limits()).state
