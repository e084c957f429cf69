"""States too long for a URL that servers accept travel in the fragment (#state=): pages, embeds, exports, oEmbed."""
from __future__ import annotations

import re
from urllib.parse import quote

import numpy as np

from webapp.api.limits import Limits
from webapp.lab import state
from tests.lab.test_pages import Page, lab_data


def wide_body(units: int = 32, layers: int = 3, examples: int = 64) -> dict:
    rng = np.random.default_rng(7)
    widths = [units] * (layers + 1)
    return {
        "layers": [{"weights": rng.uniform(-1, 1, (a, b)).round(6).tolist(), "bias": rng.uniform(-1, 1, b).round(6).tolist(),
                    "activation": "tanh"} for a, b in zip(widths, widths[1:])],
        "inputs": rng.uniform(-1, 1, (examples, units)).round(6).tolist(),
        "targets": rng.uniform(-1, 1, (examples, units)).round(6).tolist(),
        "loss": {"name": "squared_error"},
        "steps": 2,
    }


def test_a_short_state_stays_in_the_query_and_a_long_one_goes_in_the_fragment(client):
    short = state.encode(state.LabState(wide_body(units=3, layers=1, examples=4)))
    long = state.encode(state.LabState(wide_body()))
    assert len(f"/lab?state={long}") > 8190 > len(f"/lab?state={short}")  # gunicorn's longest request line
    for token, where in ((short, "?state="), (long, "#state=")):
        html = client.post("/lab/render", data={"state": token}).get_data(as_text=True)
        page = Page(html)
        address = page.ids["lab"]["data-url"]  # the state with the sub-step shown
        assert address.startswith(f"/lab{where}")
        shown = address.split(where, 1)[1]
        assert state.decode(shown, Limits()).state.request == state.decode(token, Limits()).state.request
        assert page.ids["share-permalink"]["value"].endswith(f"/lab{where}{shown}")
        assert f"/embed{where}{shown}" in html  # the embed snippet


def test_the_lab_without_a_query_is_the_page_that_posts_its_fragment(client):
    page = Page(client.get("/lab").get_data(as_text=True))
    shell = page.ids["lab-shell"]
    assert shell["data-render-url"] == "/lab/render" and shell["data-view"] == "lab"
    embed = Page(client.get("/embed").get_data(as_text=True))
    assert embed.ids["lab-shell"]["data-view"] == "embed"


def test_a_posted_state_renders_the_lab_and_the_embed(client):
    token = state.encode(state.LabState(wide_body(), "s1-loss"))
    lab = client.post("/lab/render", data={"state": token})
    assert lab.status_code == 200
    html = lab.get_data(as_text=True)
    assert "<html" not in html and 'id="lab"' in html  # the lab alone, for the page that asked
    assert lab_data(html)["position"] == 2 * 3 + 2 + 3  # SGD step 2's loss: forward 1..3 of it come first
    embed = client.post("/lab/render", data={"state": token, "view": "embed", "panels": "heatmaps,loss",
                                              "readonly": "1"}).get_data(as_text=True)
    assert "lab-embed" in embed and "data-edit=" not in embed and 'data-panel="diagram" hidden' in embed
    bad = client.post("/lab/render", data={"state": token[:-5]})
    assert bad.status_code == 400 and "cut short" in bad.get_data(as_text=True)


def test_exports_and_oembed_take_a_long_state(client):
    token = state.encode(state.LabState(wide_body()))
    posted = client.post("/export", data={"state": token, "format": "json"})
    assert posted.status_code == 200 and posted.get_json()["version"] == 1
    script = client.post("/export", data={"state": token, "format": "py"})
    assert script.status_code == 200 and "import numpy as np" in script.get_data(as_text=True)
    url = quote(f"http://localhost/lab#state={token}", safe="")
    answer = client.get(f"/oembed?url={url}&format=json")
    assert answer.status_code == 200
    assert re.search(r'src="http://localhost/embed#state=', answer.get_json()["html"])


def test_a_large_matrix_is_typed_as_text_a_row_per_line(client):
    from tests.lab.test_pages import pushed_state

    def post_edit(fields):
        return client.post("/lab", data=fields, headers={"HX-Request": "true"})

    body = wide_body(units=12, layers=1, examples=6)  # W1 is 12 x 12: 144 entries, typed as text
    html = client.post("/lab/render", data={"state": state.encode(state.LabState(body))}).get_data(as_text=True)
    page = Page(html)
    assert "W1[1,1]" not in page.inputs and "X[1,1]" not in page.inputs  # no field per entry
    text = re.search(r'<textarea name="W1-rows"[^>]*>(.*?)</textarea>', html, re.S).group(1)
    rows = [line.split() for line in text.strip().split("\n")]
    assert [[float(v) for v in row] for row in rows] == body["layers"][0]["weights"]
    assert page.ids["cell-W1-1-1"]["name"] == "W1-rows"  # the card's "Edit W1" link and the jump list reach it
    fields = {name: value for name, value in page.fields.items()}
    for name in ("W1-rows", "X-rows", "T-rows"):
        fields[name] = re.search(rf'<textarea name="{name}"[^>]*>(.*?)</textarea>', html, re.S).group(1)
    rows[1][2] = "0.125"
    response = post_edit(dict(fields, **{"W1-rows": "\n".join(" ".join(r) for r in rows)}))
    assert response.status_code == 200
    assert pushed_state(response).request["layers"][0]["weights"][1][2] == 0.125
    rows[0][0] = "x"
    bad = post_edit(dict(fields, **{"W1-rows": "\n".join(" ".join(r) for r in rows)}))
    out = bad.get_data(as_text=True)
    assert "HX-Push-Url" not in bad.headers
    assert re.search(r'<textarea name="W1-rows"[^>]*aria-invalid="true"', out)
    assert "W1[1,1]: “x” is not a number" in out
