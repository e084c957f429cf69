"""The training page's setup form: its fields, their defaults, and the setup they describe.

A link (/train?dataset=xor&...) and the posted form give the same fields; the
form keeps what was typed, so a field that does not parse is shown back with
its message next to it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from webapp.api.limits import current_limits
from webapp.api.problems import Problem

FORM_DEFAULTS = {
    "dataset": "spiral", "size": "500", "noise": "0.1", "test_percent": "20", "data_seed": "0", "csv": "",
    "task": "auto", "features": ["x1", "x2"], "standardize": "", "hidden": "8, 8", "activation": "tanh",
    "head": "auto", "optimizer": "adam", "learning_rate": "0.01", "momentum": "0.9", "nesterov": "",
    "beta1": "0.9", "beta2": "0.999", "batch_size": "16", "seed": "0",
}
OPTIMIZER_CHOICES = {"sgd": "SGD", "momentum": "SGD with momentum", "adam": "Adam"}
# The form field a size limit concerns.
LIMIT_FIELD = {"max_examples": "size", "max_units": "hidden", "max_layers": "hidden"}
# Where a field of the setup is on the form.
FORM_FIELD = {"test_fraction": "test_percent", "optimizer/name": "optimizer", "optimizer/learning_rate": "learning_rate",
              "optimizer/momentum": "momentum", "optimizer/nesterov": "nesterov", "optimizer/betas/0": "beta1",
              "optimizer/betas/1": "beta2"}


@dataclass
class Form:
    values: dict
    errors: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)


def read_form(source, files=None, posted: bool = False) -> Form:
    """The form's values: the defaults with what `source` (query args or a posted form) gives over them.

    In a posted form an unticked box is absent; in a link, absent features keep the default.
    """
    values = dict(FORM_DEFAULTS)
    given = bool(source)
    for key in FORM_DEFAULTS:
        if key == "features":
            if posted or "features" in source:
                values[key] = source.getlist("features")
        elif key in ("standardize", "nesterov"):
            if given:
                values[key] = "on" if source.get(key) else ""
        elif key in source:
            values[key] = source.get(key, "").strip() if key != "csv" else source.get(key, "")
    form = Form(values)
    upload = files.get("csv_file") if files else None
    if upload and upload.filename:
        most = current_limits().max_body_bytes
        data = upload.read(most + 1)
        values["dataset"] = "csv"
        if len(data) > most:
            form.errors["csv"] = f"{upload.filename} is over the limit max_body_bytes = {most}"
        else:
            try:
                values["csv"] = data.decode("utf-8-sig")
            except UnicodeDecodeError as error:
                form.errors["csv"] = f"{upload.filename} is not UTF-8 text (byte {error.start})"
    return form


def setup_from_form(form: Form) -> dict | None:
    """The setup the form describes, or None with the form's errors filled in."""
    v = form.values

    def number(key: str, kind=float, scale: float = 1.0):
        try:
            return kind(v[key]) * scale if kind is float else kind(v[key])
        except ValueError:
            form.errors[key] = "must be a whole number" if kind is int else "must be a number"
            return None

    hidden = []
    for part in v["hidden"].replace(";", ",").split(","):
        if part.strip():
            try:
                hidden.append(int(part))
            except ValueError:
                form.errors["hidden"] = "write the hidden layers' widths as whole numbers, e.g. 8, 8"
    choice = v["optimizer"] if v["optimizer"] in OPTIMIZER_CHOICES else "adam"
    optimizer = {"name": "adam" if choice == "adam" else "sgd", "learning_rate": number("learning_rate")}
    if choice == "momentum":
        optimizer.update(momentum=number("momentum"), nesterov=bool(v["nesterov"]))
    if choice == "adam":
        optimizer["betas"] = [number("beta1"), number("beta2")]
    setup = {
        "dataset": v["dataset"], "size": number("size", int), "noise": number("noise"),
        "test_fraction": number("test_percent", float, 0.01), "data_seed": number("data_seed", int),
        "task": v["task"], "standardize": bool(v["standardize"]),
        # no box ticked: CSV data feeds its columns as they are; generated data needs a feature
        "features": list(v["features"]) or (None if v["dataset"] == "csv" else []),
        "hidden": hidden, "activation": v["activation"], "head": None if v["head"] == "auto" else v["head"],
        "optimizer": optimizer, "batch_size": number("batch_size", int) if v["batch_size"] else None,
        "seed": number("seed", int),
    }
    if v["dataset"] == "csv":
        setup["csv"] = v["csv"]
    return None if form.errors else setup


def form_errors(form: Form, problem: Problem) -> None:
    """Put a problem's messages next to the form fields they concern."""
    limit_field = LIMIT_FIELD.get(problem.extra.get("limit"))
    if limit_field is not None and problem.errors is None:
        form.errors.setdefault(limit_field, problem.detail)
        return
    for error in problem.errors or [{"path": "", "message": problem.detail}]:
        path = error["path"].removeprefix("setup/").removeprefix("setup")
        key = FORM_FIELD.get(path, path.split("/")[0])
        if key in FORM_DEFAULTS:
            form.errors.setdefault(key, error["message"])
        else:
            form.general.append(error["message"])


def page_query(form: Form) -> dict:
    """The form as query arguments (a deep link), without CSV text."""
    return {key: value for key, value in form.values.items() if key != "csv" and value not in ("", [])}
