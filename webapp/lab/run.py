"""The lab: what it can draw, and running a network for it.

The page draws one sub-step at a time from frames it asks for a few SGD steps
at a time (webapp.lab.frames), so its own bounds (layers, units, examples, SGD
steps) are about what a student can read, on top of the server's limits.
`run(body)` validates a request body exactly as the API does, checks both and
summarises the whole run once (the loss history, one colour range per matrix);
what it refuses comes back as `Rejected`, with each message placed on the form
field it is about (`field_of_path`).

The lab's other modules: `draft` (a network as typed text), `form` (the form's
fields), `edits` (what an edit asks for), `frames` (what each sub-step shows),
`view` (the page's first sub-step and data) and `check` (the gradient-check panel).
"""
from __future__ import annotations

import json
from functools import lru_cache

from engine import spec as specmod
from engine import trace as tracemod
from webapp.api import schemas
from webapp.api.limits import check_spec, current_limits
from webapp.api.problems import InvalidRequest, TooLarge

from . import frames

# What the lab draws. A page holds one sub-step at a time, so these bound what a student can read, not the page.
LAB_MAX_LAYERS = 8
LAB_MAX_UNITS = 32
LAB_MAX_EXAMPLES = 64
LAB_MAX_STEPS = 200


class Rejected(Exception):
    """A network the lab cannot show: messages by form field, and messages about the whole."""

    def __init__(self, errors: dict[str, str], general: list[str]):
        super().__init__("; ".join(general + list(errors.values())))
        self.errors, self.general = errors, general


def run(body: dict):
    """Validate a body as the API does, check the lab's and the server's bounds, and trace it.

    Returns (spec, summary); raises Rejected with the messages placed on the form's fields.
    """
    try:
        request = schemas.parse_trace_request(body)
    except InvalidRequest as problem:
        errors, general = {}, []
        for item in problem.errors or []:
            name = field_of_path(item["path"])
            if name is None:
                general.append(f"{item['path']}: {item['message']}")
            else:
                errors.setdefault(name, item["message"])
        raise Rejected(errors, general) from None
    try:
        spec = specmod.from_request(request.to_body())
    except ValueError as error:
        raise Rejected({}, [str(error)]) from None
    bounds = lab_bounds(spec)
    if bounds:
        raise Rejected({}, bounds)
    try:
        check_spec(spec, current_limits())
    except TooLarge as error:
        raise Rejected({}, [error.detail]) from None
    try:
        return spec, _summary(json.dumps(request.to_body(), sort_keys=True, separators=(",", ":")))
    except tracemod.Overflow as error:
        raise Rejected({}, [f"{error} Try a smaller learning rate or smaller weights."]) from None


@lru_cache(maxsize=32)
def _summary(key: str) -> frames.Summary:
    """The summary of a network (a validated body's canonical JSON), kept for the frames the page asks for next."""
    return frames.summarise(specmod.from_request(json.loads(key)))


def lab_bounds(spec) -> list[str]:
    """Why a (valid) network is too big to draw in the lab, if it is."""
    problems = []
    if len(spec.layers) > LAB_MAX_LAYERS:
        problems.append(f"the lab shows at most {LAB_MAX_LAYERS} layers")
    if max(spec.widths) > LAB_MAX_UNITS:
        problems.append(f"the lab shows at most {LAB_MAX_UNITS} units per layer")
    if spec.num_examples > LAB_MAX_EXAMPLES:
        problems.append(f"the lab shows at most {LAB_MAX_EXAMPLES} examples")
    if spec.steps > LAB_MAX_STEPS:
        problems.append(f"the lab shows at most {LAB_MAX_STEPS} SGD steps")
    return problems


def field_of_path(path: str) -> str | None:
    """The form field an API error path points at ("layers/0/weights/1/0" -> "W1[2,1]"), or None."""
    parts = path.split("/")
    numbers = [int(p) for p in parts if p.isdigit()]
    shape = [p for p in parts if not p.isdigit()]
    if shape == ["layers", "weights"] and len(numbers) == 3:
        return f"W{numbers[0] + 1}[{numbers[1] + 1},{numbers[2] + 1}]"
    if shape == ["layers", "bias"] and len(numbers) == 2:
        return f"b{numbers[0] + 1}[{numbers[1] + 1}]"
    if shape in (["inputs"], ["targets"]) and len(numbers) == 2:
        return f"{'X' if shape == ['inputs'] else 'T'}[{numbers[0] + 1},{numbers[1] + 1}]"
    if shape == ["labels"] and len(numbers) == 1:
        return f"label[{numbers[0] + 1}]"
    if shape in (["labels"], ["targets"]) and not numbers:
        return "targets-mode"
    if len(shape) == 2 and shape[0] == "layers" and len(numbers) == 1:
        simple = {"activation": "activation", "negative_slope": "slope", "train_weights": "train-weights",
                  "train_bias": "train-bias", "bias": "units", "weights": "units"}
        if shape[1] in simple:
            return f"{simple[shape[1]]}-{numbers[0] + 1}"
    return {"loss/name": "loss", "loss/reduction": "reduction", "loss/half": "half", "loss/margin": "margin",
            "optimizer/learning_rate": "learning-rate", "steps": "steps", "layout": "layout"}.get(path)
