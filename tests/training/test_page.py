"""The training page: the setup form, its messages, the htmx partial and the data the script starts from."""
from __future__ import annotations

import io
import json
import re

import pytest


def page_data(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="train-data">(.*?)</script>', html, re.S)
    assert match, "no #train-data"
    return json.loads(match.group(1))


def test_the_page_starts_a_run_with_its_figures(client):
    response = client.get("/train")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    data = page_data(html)
    assert data["setup"]["dataset"] == "spiral" and data["state"]["optimizer"]["step"] == 0
    assert set(data["figures"]) == {"field", "boundary", "units", "unit_frames", "curves"}
    assert data["urls"] == {"advance": "/api/v1/train/advance", "open": "/api/v1/train/open"}
    assert len(data["points"]) == data["metrics"]["steps"][0] + 400  # 400 training points
    assert "</script>" not in html.split('id="train-data">', 1)[1].split("</script>", 1)[0]
    for src in ("vendor/plotly-cartesian.min.js", "vendor/htmx.min.js", "train.js", "train.css"):
        assert src in html
    assert 'hx-post="/train"' in html


def test_the_data_the_page_starts_from_is_what_the_api_answers(client):
    data = page_data(client.get("/train?dataset=xor&size=80&hidden=4&optimizer=sgd&learning_rate=0.1").get_data(as_text=True))
    answer = client.post("/api/v1/train/advance", json={"setup": data["setup"], "state": None, "steps": 0}).get_json()
    assert answer["state"] == data["state"] and answer["metrics"] == data["metrics"]


def test_query_arguments_fill_the_form(client):
    html = client.get("/train?dataset=sine&noise=0.3&features=x1&features=sin_x1&hidden=5&optimizer=momentum"
                      "&momentum=0.8&nesterov=on&batch_size=16&seed=4").get_data(as_text=True)
    data = page_data(html)
    setup = data["setup"]
    assert setup["dataset"] == "sine" and setup["noise"] == 0.3 and setup["features"] == ["x1", "sin_x1"]
    assert setup["optimizer"] == {"name": "sgd", "learning_rate": 0.01, "momentum": 0.8, "nesterov": True,
                                  "betas": [0.9, 0.999], "eps": 1e-8}
    assert setup["batch_size"] == 16 and setup["seed"] == 4 and setup["hidden"] == [5]
    assert 'id="feature-x2"' in html and re.search(r'id="feature-x2"[^>]*disabled', html)


def test_the_form_posts_back_the_partial_with_a_true_url(client):
    response = client.post("/train", data={"dataset": "circle", "size": "100", "noise": "0", "test_percent": "10",
                                           "data_seed": "2", "features": ["x1", "x2"], "hidden": "4, 3",
                                           "activation": "relu", "head": "auto", "optimizer": "adam",
                                           "learning_rate": "0.02", "beta1": "0.9", "beta2": "0.99", "seed": "1"},
                           headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<section class="train" id="train">')
    assert "<html" not in html
    assert response.headers["HX-Push-Url"].startswith("/train?dataset=circle")
    data = page_data(html)
    assert data["setup"]["hidden"] == [4, 3] and data["setup"]["optimizer"]["betas"] == [0.9, 0.99]
    assert "90 training and 10 test examples" in html


@pytest.mark.parametrize(
    "form, field, message",
    [
        ({"learning_rate": "fast"}, "learning_rate", "must be a number"),
        ({"learning_rate": "-1"}, "learning_rate", "greater than 0"),
        ({"hidden": "8, x"}, "hidden", "whole numbers"),
        ({"size": "5000"}, "size", "over the limit max_examples"),
        ({"dataset": "csv", "csv": "a,b,y\n1,2,0\n1,2\n"}, "csv", "row 3 has 2 columns, but row 1 has 3"),
        ({"dataset": "csv", "csv": ""}, "csv", "paste or upload CSV data"),
        ({"batch_size": "0"}, "batch_size", "greater than or equal to 1"),
        ({"features": []}, "features", "at least one input feature"),
    ],
)
def test_bad_settings_are_shown_at_their_field(client, form, field, message):
    base = {"dataset": "spiral", "features": ["x1", "x2"], "hidden": "8", "optimizer": "sgd", "learning_rate": "0.1"}
    response = client.post("/train", data={**base, **form}, headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="train-data"' not in html
    error = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', html, re.S)
    assert error and message in error.group(1), html[:2000]
    assert "HX-Push-Url" not in response.headers


def test_a_csv_file_can_be_uploaded(client):
    csv = "# two blobs\nu,v,label\n" + "\n".join(f"{i % 5},{(i * 7) % 5},{int(i % 5 > 2)}" for i in range(30))
    response = client.post("/train", data={"dataset": "spiral", "features": ["x1", "x2"], "hidden": "3",
                                           "optimizer": "sgd", "learning_rate": "0.1", "test_percent": "0",
                                           "csv_file": (io.BytesIO(csv.encode()), "blobs.csv")},
                           content_type="multipart/form-data", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    data = page_data(html)
    assert data["setup"]["dataset"] == "csv" and data["setup"]["csv"] == csv
    assert "30 training and 0 test examples" in html
    assert "HX-Push-Url" not in response.headers  # CSV text does not go into the URL


def test_wide_csv_data_trains_on_its_columns_without_a_plane(client):
    csv = "a,b,c,y\n" + "\n".join(f"{i},{i % 3},{i % 4},{i % 2}" for i in range(12))
    response = client.post("/train", data={"dataset": "csv", "csv": csv, "features": ["x1", "x2"], "hidden": "3",
                                           "optimizer": "sgd", "learning_rate": "0.1", "test_percent": "25"},
                           headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    data = page_data(html)
    assert data["figures"]["field"] is None and data["figures"]["curves"] is not None
    assert "The inputs are the CSV&#39;s 3 feature columns as they are." in html


def test_an_upload_that_is_not_text_says_so(client):
    response = client.post("/train", data={"dataset": "spiral", "features": ["x1", "x2"], "hidden": "3",
                                           "optimizer": "sgd", "learning_rate": "0.1",
                                           "csv_file": (io.BytesIO(b"\xff\xfe\x00\x81"), "data.xlsx")},
                           content_type="multipart/form-data", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert "data.xlsx is not UTF-8 text (byte 0)" in html and 'id="train-data"' not in html
