"""A trace body asked again is answered from the kept answers: the same bytes, no second run, never across limits."""
from __future__ import annotations

import copy
import json

from webapp import create_app
from webapp.api import routes
from webapp.api.answers import Answers

from tests.paths import REFCASES_FILE

REFCASES = {case["name"]: case for case in json.loads(REFCASES_FILE.read_text())["cases"]}
SEED002 = REFCASES["seed_assignment1_ex2"]["request"]


def counting_runs(monkeypatch) -> list:
    runs = []
    real = routes.trace_result

    def counted(spec):
        runs.append(spec)
        return real(spec)

    monkeypatch.setattr(routes, "trace_result", counted)
    monkeypatch.setattr(routes, "ANSWERS", Answers())
    return runs


def test_the_same_body_is_run_once_and_answered_the_same(client, monkeypatch):
    runs = counting_runs(monkeypatch)
    text = json.dumps(SEED002)
    first = client.post("/api/v1/trace", data=text, content_type="application/json")
    second = client.post("/api/v1/trace", data=text, content_type="application/json")
    assert first.status_code == second.status_code == 200
    assert first.data == second.data
    assert len(runs) == 1
    # The kept answer is the refcase's trace, not a copy of something else.
    expected = REFCASES["seed_assignment1_ex2"]["expected"]["steps"][0]["backward"][-1]["grad_weights"]
    got = json.loads(second.data)["steps"][0]["backward"][-1]["grad_weights"]
    assert max(abs(a - b) for ra, rb in zip(got, expected) for a, b in zip(ra, rb)) < 1e-9


def test_another_body_is_run_and_answered_for_itself(client, monkeypatch):
    runs = counting_runs(monkeypatch)
    other = copy.deepcopy(SEED002)
    other["optimizer"]["learning_rate"] = 0.25
    a = client.post("/api/v1/trace", json=SEED002)
    b = client.post("/api/v1/trace", json=other)
    assert len(runs) == 2
    assert json.loads(a.data)["steps"][0]["update"] != json.loads(b.data)["steps"][0]["update"]


def test_errors_are_not_kept(client, monkeypatch):
    counting_runs(monkeypatch)
    bad = copy.deepcopy(SEED002)
    bad["layers"][0]["weights"][0][0] = "x"
    for _ in range(2):
        response = client.post("/api/v1/trace", json=bad)
        assert response.status_code == 422
    assert len(routes.ANSWERS) == 0


def test_an_answer_kept_under_other_limits_is_not_used(monkeypatch):
    counting_runs(monkeypatch)
    text = json.dumps(dict(SEED002, steps=3))
    roomy = create_app({"TESTING": True}).test_client()
    tight = create_app({"TESTING": True, "LIMITS": {"max_steps": 2}}).test_client()
    assert roomy.post("/api/v1/trace", data=text, content_type="application/json").status_code == 200
    refused = tight.post("/api/v1/trace", data=text, content_type="application/json")
    assert refused.status_code == 413
    assert "max_steps" in refused.get_data(as_text=True)


def test_the_least_recently_used_answers_go_first_and_big_ones_are_not_kept():
    answers = Answers(max_bytes=10, max_answer_bytes=6, entry_overhead=0)
    answers.put(b"a", b"1234")
    answers.put(b"b", b"1234")
    assert answers.get(b"a") == b"1234"  # now the most recent
    answers.put(b"c", b"1234")  # 12 bytes: b, the least recent, goes
    assert answers.get(b"b") is None
    assert answers.get(b"a") == b"1234" and answers.get(b"c") == b"1234"
    assert answers.size == 8
    answers.put(b"d", b"1234567")  # over max_answer_bytes
    assert answers.get(b"d") is None and len(answers) == 2
    assert Answers.key(b"ab", b"c") != Answers.key(b"a", b"bc")


def test_each_answer_is_counted_with_what_keeping_it_costs():
    answers = Answers(max_bytes=1000, max_answer_bytes=100, entry_overhead=300)
    for name in (b"a", b"b", b"c", b"d"):
        answers.put(name, b"x")  # 301 bytes each: three fit in 1000, the fourth pushes out the first
    assert len(answers) == 3 and answers.size == 903
    assert answers.get(b"a") is None and answers.get(b"d") == b"x"
    answers.put(b"d", b"yy")  # the same key again replaces, and is counted once
    assert len(answers) == 3 and answers.size == 904
