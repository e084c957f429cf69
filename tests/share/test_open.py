"""/open: a pasted or uploaded request (or a JSON export) opens in the lab; a broken one comes back with the API's paths."""
from __future__ import annotations

import io
import json
from urllib.parse import parse_qs, urlsplit

from engine import presets
from webapp.lab import state

SEED002 = presets.get("seed002-ex2").body()


def state_of(location: str) -> dict:
    token = parse_qs(urlsplit(location).query)["state"][0]
    return {key: value for key, value in _token_json(token).items() if key not in ("substep", "panels", "preset")}


def _token_json(token: str) -> dict:
    """A state token read back by hand (base64url, zlib, JSON), not by the code under test."""
    import base64
    import zlib
    return json.loads(zlib.decompress(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))))


def test_the_form_is_served(client):
    page = client.get("/open")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="json"' in html and 'type="file"' in html and 'for="open-json"' in html


def test_a_pasted_request_opens_the_lab_with_it(client):
    answer = client.post("/open", data={"json": json.dumps(SEED002)})
    assert answer.status_code == 303
    assert state_of(answer.headers["Location"]) == SEED002
    lab = client.get(answer.headers["Location"])
    assert lab.status_code == 200


def test_an_export_opens_again_as_the_same_network(app, client):
    with app.app_context():
        token = state.encode(state.LabState(presets.get("hw7-relu-softmax").body()))
    exported = client.get("/export", query_string={"state": token, "format": "json"}).get_data(as_text=True)
    answer = client.post("/open", data={"file": (io.BytesIO(exported.encode()), "network.json")},
                         content_type="multipart/form-data")
    assert answer.status_code == 303
    assert state_of(answer.headers["Location"]) == presets.get("hw7-relu-softmax").body()


def test_a_broken_request_comes_back_with_the_path_and_the_text(client):
    broken = {**SEED002, "layers": [{**SEED002["layers"][0], "weights": [[0.6, 0.01], [0.7]]}, SEED002["layers"][1]]}
    text = json.dumps(broken, indent=1)
    answer = client.post("/open", data={"json": text})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "layers/0/weights" in html
    assert 'role="alert"' in html and 'aria-invalid="true"' in html
    assert json.loads(_textarea(html)) == broken  # nothing typed is lost


def test_not_json_and_a_response_alone_are_explained(client):
    answer = client.post("/open", data={"json": '{"layers": [1, }'})
    assert answer.status_code == 400
    assert "not valid JSON" in answer.get_data(as_text=True) and "line 1" in answer.get_data(as_text=True)
    response_only = client.post("/api/v1/trace", json=SEED002).get_data(as_text=True)
    answer = client.post("/open", data={"json": response_only})
    assert answer.status_code == 422
    assert "without its request" in answer.get_data(as_text=True)
    assert client.post("/open", data={"json": "  "}).status_code == 400


def test_over_the_limits_is_refused_with_413(client):
    big = {**SEED002, "steps": 10**6}
    answer = client.post("/open", data={"json": json.dumps(big)})
    assert answer.status_code == 413
    assert "max_steps" in answer.get_data(as_text=True)
    huge = client.post("/open", data={"json": " " * (5 * 2**20)})  # over the 4 MiB body limit of the app
    assert huge.status_code == 413
    assert "body limit" in huge.get_data(as_text=True)


def _textarea(html: str) -> str:
    import html as htmlmod
    start = html.index(">", html.index('<textarea id="open-json"')) + 1
    return htmlmod.unescape(html[start:html.index("</textarea>", start)])
