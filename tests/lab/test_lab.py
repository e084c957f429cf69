"""The lab's state: drafts of raw strings, form fields in math notation, edits, positions, bounds."""
import numpy as np
import pytest
from werkzeug.datastructures import MultiDict

from engine import presets
from engine import spec as specmod
from engine.timeline import substeps
from webapp.lab import draft as lab_draft
from webapp.lab import edits as lab_edits
from webapp.lab import form as lab_form
from webapp.lab import run as lab
from webapp.lab import view as lab_view

SEED002 = presets.get("seed002-ex2")  # columns layout, no biases
QUIZ4 = presets.get("quiz4-softmax-ce")  # rows layout, biases, labels


def form_of(body: dict, **changes) -> MultiDict:
    """The fields the lab's form posts for a body, as a browser sends them, with some changed."""
    draft = lab_draft.draft_from_body(body, seed=5)
    fields = {
        "rendered-shape": lab_form.rendered_shape(draft),
        "rendered-layout": draft.layout,
        "layout": draft.layout,
        "examples": str(draft.examples),
        "loss": draft.loss,
        "reduction": draft.reduction,
        "margin": draft.margin,
        "learning-rate": draft.learning_rate,
        "steps": draft.steps,
        "seed": draft.seed,
        "targets-mode": "labels" if draft.labels is not None else "targets",
    }
    if draft.half:
        fields["half"] = "on"
    for index, width in enumerate(draft.widths):
        fields[f"units-{index}"] = str(width)
    for index, layer in enumerate(draft.layers, start=1):
        fields[f"activation-{index}"] = layer.activation
        fields[f"slope-{index}"] = layer.slope
        if layer.bias is not None:
            fields[f"bias-{index}"] = "on"
        if layer.train_weights:
            fields[f"train-weights-{index}"] = "on"
        if layer.train_bias:
            fields[f"train-bias-{index}"] = "on"
    for grid in lab_form.grids(draft, {}).values():
        for row in grid.cells:
            for cell in row:
                fields[cell.name] = cell.value
    fields.update(changes)
    return MultiDict({k: v for k, v in fields.items() if v is not None})


def spec_of(body):
    return specmod.from_request(body)


@pytest.mark.parametrize("text, value", [("0.6", 0.6), (" -1.5e-3 ", -0.0015), ("\u22122", -2.0), (".5", 0.5), ("3.", 3.0)])
def test_parse_number(text, value):
    assert lab_draft.parse_number(text) == value


@pytest.mark.parametrize("text", ["", "abc", "1,5", "nan", "inf", "1e999", "0x10", "1_000", "--1"])
def test_parse_number_rejects(text):
    with pytest.raises(ValueError):
        lab_draft.parse_number(text)


@pytest.mark.parametrize("value, text", [(0.6, "0.6"), (1.0, "1"), (-0.0, "0"), (1e-05, "1e-05"), (0.1 + 0.2, "0.30000000000000004")])
def test_number_text_reads_back_exactly(value, text):
    assert lab_draft.number_text(value) == text
    assert float(text) == value


@pytest.mark.parametrize("preset", presets.PRESETS, ids=lambda p: p.id)
def test_a_body_survives_the_form(preset):
    body, errors = lab_draft.body_from_draft(lab_form.draft_from_form(form_of(preset.request)))
    assert errors == {}
    original, again = spec_of(preset.request), spec_of(body)
    assert again.layout == original.layout
    np.testing.assert_array_equal(again.inputs, original.inputs)
    for a, b in zip(again.layers, original.layers):
        np.testing.assert_array_equal(a.weights, b.weights)
        assert (a.bias is None) == (b.bias is None)
        if a.bias is not None:
            np.testing.assert_array_equal(a.bias, b.bias)
        assert (a.activation, a.train_weights, a.train_bias) == (b.activation, b.train_weights, b.train_bias)
    assert again.labels == original.labels
    if original.targets is not None:
        np.testing.assert_array_equal(again.targets, original.targets)
    assert (again.loss, again.optimizer, again.steps) == (original.loss, original.optimizer, original.steps)


def test_cells_are_named_as_written_in_the_layout():
    grids = lab_form.grids(lab_draft.draft_from_body(SEED002.request), {})
    weights = SEED002.request["layers"][0]["weights"]  # columns layout: W1 is 3 x 2
    assert grids["W1"].shape == (3, 2)
    assert grids["W1"].cells[1][0].name == "W1[2,1]"
    assert float(grids["W1"].cells[1][0].value) == weights[1][0]
    assert grids["X"].cells[0][1].name == "X[1,2]"
    assert float(grids["X"].cells[0][1].value) == SEED002.request["inputs"][0][1]
    assert grids["T"].cells[0][2].name == "T[1,3]"


def test_bias_and_label_cells():
    grids = lab_form.grids(lab_draft.draft_from_body(QUIZ4.request), {})
    assert [cell.name for cell in grids["b2"].cells[0]] == ["b2[1]", "b2[2]", "b2[3]"]  # a row in the rows layout
    assert [cell.value for cell in grids["label"].cells[0]] == [str(c) for c in QUIZ4.request["labels"]]
    assert grids["label"].cells[0][2].name == "label[3]"


def test_layout_toggle_transposes_every_matrix():
    edit = lab_edits.read_form(form_of(SEED002.request, layout="rows"))
    body, errors = lab_draft.body_from_draft(edit.draft)
    assert errors == {} and body["layout"] == "rows"
    np.testing.assert_array_equal(body["inputs"], np.array(SEED002.request["inputs"]).T)
    np.testing.assert_array_equal(body["targets"], np.array(SEED002.request["targets"]).T)
    for layer, original in zip(body["layers"], SEED002.request["layers"]):
        np.testing.assert_array_equal(layer["weights"], np.array(original["weights"]).T)
    grids = lab_form.grids(edit.draft, {})
    assert float(grids["W1"].cells[0][1].value) == SEED002.request["layers"][0]["weights"][1][0]


def test_an_invalid_cell_keeps_its_text_and_gets_a_message():
    edit = lab_edits.read_form(form_of(SEED002.request, **{"W1[2,1]": "0.7x"}))
    body, errors = lab_draft.body_from_draft(edit.draft)
    assert set(errors) == {"W1[2,1]"}
    assert "not a number" in errors["W1[2,1]"]
    cell = lab_form.grids(edit.draft, errors)["W1"].cells[1][0]
    assert (cell.value, cell.error) == ("0.7x", errors["W1[2,1]"])
    # every other number is still there
    assert body["layers"][0]["weights"][0] == SEED002.request["layers"][0]["weights"][0]


def test_too_many_steps_are_refused_with_the_bound():
    _, errors = lab_draft.body_from_draft(lab_edits.read_form(form_of(SEED002.request, steps="201")).draft)
    assert "at most 200" in errors["steps"]
    _, errors = lab_draft.body_from_draft(lab_edits.read_form(form_of(SEED002.request, steps="200")).draft)
    assert "steps" not in errors


@pytest.mark.parametrize(
    "path, name",
    [
        ("layers/0/weights/1/0", "W1[2,1]"),
        ("layers/2/bias/0", "b3[1]"),
        ("inputs/0/3", "X[1,4]"),
        ("targets/1/1", "T[2,2]"),
        ("labels/4", "label[5]"),
        ("labels", "targets-mode"),
        ("layers/1/negative_slope", "slope-2"),
        ("optimizer/learning_rate", "learning-rate"),
        ("loss/margin", "margin"),
        ("steps", "steps"),
        ("version", None),
    ],
)
def test_error_paths_point_at_fields(path, name):
    assert lab.field_of_path(path) == name


def test_units_grow_keeping_the_old_numbers():
    edit = lab_edits.read_form(form_of(SEED002.request, **{"units-1": "4"}))
    body, errors = lab_draft.body_from_draft(edit.draft)
    assert errors == {}
    spec = spec_of(body)
    assert spec.widths == (2, 4, 1)
    old_w1, old_w2 = (np.array(layer["weights"]) for layer in SEED002.request["layers"])
    np.testing.assert_array_equal(spec.layers[0].weights[:3], old_w1)  # columns: W1 is d1 x d0
    np.testing.assert_array_equal(spec.layers[1].weights[:, :3], old_w2)
    assert spec.layers[0].weights[3].any()  # the new unit has seeded weights, not zeros


def test_more_examples_start_at_zero():
    body, errors = lab_draft.body_from_draft(lab_edits.read_form(form_of(QUIZ4.request, examples="6")).draft)
    assert errors == {}
    assert len(body["inputs"]) == 6 and body["inputs"][5] == [0.0] * 4
    assert body["labels"] == QUIZ4.request["labels"] + [0]


@pytest.mark.parametrize("field, value", [("units-1", "0"), ("units-1", "33"), ("examples", "two"), ("examples", "65")])
def test_bad_counts_keep_the_shape(field, value):
    edit = lab_edits.read_form(form_of(SEED002.request, **{field: value}))
    assert field in edit.errors
    assert edit.draft.widths == [2, 3, 1] and edit.draft.examples == 4


def test_add_and_remove_a_hidden_layer():
    edit = lab_edits.read_form(form_of(SEED002.request, action="add-layer"))
    assert edit.draft.widths == [2, 3, 3, 1]
    body, errors = lab_draft.body_from_draft(edit.draft)
    assert errors == {} and spec_of(body).widths == (2, 3, 3, 1)
    # the output layer is untouched; the new layer has a bias and the hidden activation
    assert body["layers"][2]["weights"] == SEED002.request["layers"][1]["weights"]
    assert body["layers"][1]["activation"] == "relu" and body["layers"][1]["bias"] == [0.0] * 3

    again = lab_edits.read_form(form_of(body, action="remove-layer-1"))
    body, errors = lab_draft.body_from_draft(again.draft)
    assert errors == {} and spec_of(body).widths == (2, 3, 1)


def test_the_output_layer_cannot_be_removed():
    edit = lab_edits.read_form(form_of(SEED002.request, action="remove-layer-2"))
    assert "layers" in edit.errors and edit.draft.widths == [2, 3, 1]


def test_randomize_is_seeded_and_shows_the_seed():
    first = lab_edits.read_form(form_of(SEED002.request, seed="7", action="randomize"))
    second = lab_edits.read_form(form_of(SEED002.request, seed="7", action="randomize"))
    assert [layer.weights for layer in first.draft.layers] == [layer.weights for layer in second.draft.layers]
    assert first.draft.layers[0].weights != lab_draft.draft_from_body(SEED002.request).layers[0].weights
    assert any("default_rng(7)" in note for note in first.notes)
    assert first.draft.seed == "8"
    other = lab_edits.read_form(form_of(SEED002.request, seed="8", action="randomize"))
    assert other.draft.layers[0].weights != first.draft.layers[0].weights
    # inputs and targets are not touched
    body, _ = lab_draft.body_from_draft(first.draft)
    assert body["inputs"] == SEED002.request["inputs"]


def test_bias_toggle_adds_zeros_and_removes():
    edit = lab_edits.read_form(form_of(SEED002.request, **{"bias-1": "on"}))
    assert edit.draft.layers[0].bias == ["0", "0", "0"]
    edit = lab_edits.read_form(form_of(QUIZ4.request, **{"bias-2": None}))
    assert edit.draft.layers[1].bias is None


def test_targets_and_labels_switch():
    edit = lab_edits.read_form(form_of(QUIZ4.request, **{"targets-mode": "targets"}))
    body, _ = lab_draft.body_from_draft(edit.draft)
    expected = np.zeros((5, 3))
    expected[np.arange(5), QUIZ4.request["labels"]] = 1
    np.testing.assert_array_equal(body["targets"], expected)
    back = lab_edits.read_form(form_of(body, **{"targets-mode": "labels"}))
    assert lab_draft.body_from_draft(back.draft)[0]["labels"] == QUIZ4.request["labels"]


def test_a_reduction_the_loss_does_not_take_falls_back_to_mean():
    edit = lab_edits.read_form(form_of(SEED002.request, loss="cross_entropy", reduction="mean_all"))
    assert edit.draft.reduction == "mean" and edit.notes


def test_same_network_ignores_the_layout():
    transposed, _ = lab_draft.body_from_draft(lab_edits.read_form(form_of(SEED002.request, layout="rows")).draft)
    assert lab_draft.same_network(transposed, SEED002.request)
    edited, _ = lab_draft.body_from_draft(lab_edits.read_form(form_of(SEED002.request, **{"W1[1,1]": "0.61"})).draft)
    assert not lab_draft.same_network(edited, SEED002.request)


def test_position_keeps_a_key_or_goes_to_the_nearest():
    two_layers = substeps(2, 2)
    keys = [s.key for s in two_layers]
    assert lab_view.position_of(two_layers, "s1-backward-2") == keys.index("s1-backward-2")
    assert lab_view.position_of(two_layers, None) == 0
    assert lab_view.position_of(two_layers, "garbage") == 0
    # a step that is gone: the same sub-step in the last step
    assert lab_view.position_of(two_layers, "s5-loss") == keys.index("s1-loss")
    # a layer that is gone: the same kind at the nearest layer
    assert lab_view.position_of(two_layers, "s0-forward-3") == keys.index("s0-forward-2")


def test_run_rejects_what_the_lab_cannot_draw(app):
    body = QUIZ4.body()
    body["steps"] = 201
    with app.test_request_context():
        with pytest.raises(lab.Rejected) as rejected:
            lab.run(body)
    assert "at most 200 SGD steps" in str(rejected.value)
    body["steps"] = 200
    with app.test_request_context():
        spec, summary = lab.run(body)
    assert spec.steps == 200 and len(summary.loss_history) == 201


def test_run_places_api_errors_on_fields(app):
    body = QUIZ4.body()
    body["labels"][2] = 7
    with app.test_request_context():
        with pytest.raises(lab.Rejected) as rejected:
            lab.run(body)
    assert "label[3]" in rejected.value.errors


def test_run_reports_an_overflow(app):
    body = SEED002.body()
    body["layers"][1]["weights"][0][0] = 1e200  # the squared error of ~1e200 overflows
    with app.test_request_context():
        with pytest.raises(lab.Rejected) as rejected:
            lab.run(body)
    assert "finite" in str(rejected.value)
