"""Training in chunks: steps against a network written out here, exact reproduction of any step, the batch order."""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine import batches, datasets, experiment, training
from engine import spec as specmod
from engine import trace as tracemod
from engine.spec import Layer, Loss, Optimizer, Spec

# --- a 2-3-1 network written out by hand: tanh hidden layer, then identity or sigmoid ------------------------

X = np.array([[0.5, -1.0], [1.5, 0.25], [-0.75, 0.8], [0.1, 0.3], [-1.2, -0.6]])
W1 = np.array([[0.3, -0.2, 0.5], [0.1, 0.4, -0.3]])
B1 = np.array([0.05, -0.1, 0.2])
W2 = np.array([[0.7], [-0.5], [0.25]])
B2 = np.array([0.1])


def reference_gradients(params, x, t, head):
    """(loss, grads) for 1/2-mean squared error after identity, or mean binary cross-entropy after sigmoid."""
    w1, b1, w2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    n = x.shape[0]
    hidden = np.tanh(x @ w1 + b1)
    logit = hidden @ w2 + b2
    if head == "identity":
        loss = 0.5 * np.sum((logit - t) ** 2) / n
        d_logit = (logit - t) / n
    else:
        y = 1 / (1 + np.exp(-logit))
        loss = -np.sum(t * np.log(y) + (1 - t) * np.log(1 - y)) / n
        d_logit = (y - t) / n
    d_hidden = (d_logit @ w2.T) * (1 - hidden**2)
    return loss, {"W1": x.T @ d_hidden, "b1": d_hidden.sum(0), "W2": hidden.T @ d_logit, "b2": d_logit.sum(0)}


def reference_training(head, optimizer, targets, batch_size, steps, seed):
    params = {"W1": W1.copy(), "b1": B1.copy(), "W2": W2.copy(), "b2": B2.copy()}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v2 = {k: np.zeros_like(v) for k, v in params.items()}
    history, losses = [], []
    for step in range(steps):
        epoch, position = divmod(step, 3)  # 5 examples in batches of 2: 3 batches per epoch
        order = np.random.default_rng([seed, epoch]).permutation(5)
        batch = np.sort(order[position * batch_size : (position + 1) * batch_size])
        _, grads = reference_gradients(params, X[batch], targets[batch], head)
        for k in params:
            if optimizer == "momentum":
                velocity[k] = 0.9 * velocity[k] + grads[k]
                params[k] = params[k] - 0.1 * velocity[k]
            else:
                m[k] = 0.9 * m[k] + 0.1 * grads[k]
                v2[k] = 0.999 * v2[k] + 0.001 * grads[k] ** 2
                m_hat, v_hat = m[k] / (1 - 0.9 ** (step + 1)), v2[k] / (1 - 0.999 ** (step + 1))
                params[k] = params[k] - 0.1 * m_hat / (np.sqrt(v_hat) + 1e-8)
        history.append({k: v.copy() for k, v in params.items()})
        losses.append(reference_gradients(params, X, targets, head)[0])
    return history, losses


def make_run(head="identity", optimizer=None, batch_size=2, seed=11, test=True) -> training.Run:
    optimizer = optimizer or Optimizer("sgd", 0.1, momentum=0.9)
    targets = np.array([[0.5], [-0.3], [0.8], [0.0], [-0.6]]) if head == "identity" else np.array([[1.0], [0.0], [1.0], [1.0], [0.0]])
    loss = Loss("squared_error", "mean", half=True) if head == "identity" else Loss("binary_cross_entropy")
    spec = Spec(
        layout="rows",
        layers=(Layer(W1, B1, "tanh"), Layer(W2, B2, head)),
        inputs=X,
        loss=loss,
        targets=targets,
        optimizer=optimizer,
        batch_size=batch_size,
        shuffle_seed=seed,
    )
    test_inputs = X[:2] * 2 if test else np.zeros((0, 2))
    test_targets = targets[:2] if test else np.zeros((0, 1))
    return training.make_run(spec, test_inputs, test_targets, "regression" if head == "identity" else "classification")


@pytest.mark.parametrize("head, optimizer", [("identity", "momentum"), ("sigmoid", "adam")])
def test_steps_match_a_network_written_out_by_hand(head, optimizer):
    config = Optimizer("sgd", 0.1, momentum=0.9) if optimizer == "momentum" else Optimizer("adam", 0.1)
    run = make_run(head, config)
    expected_params, expected_losses = reference_training(head, optimizer, run.targets, 2, 7, seed=11)
    state, metrics = training.advance(run, training.start(run), 7)
    assert metrics.steps == list(range(1, 8))
    assert metrics.train_loss == pytest.approx(expected_losses, rel=1e-12)
    named = dict(zip(("W1", "b1", "W2", "b2"), [a for pair in state.params for a in pair]))
    for name, value in named.items():
        np.testing.assert_allclose(value, expected_params[-1][name], rtol=1e-12, atol=1e-15)


def test_accuracy_counts_outputs_on_the_right_side_of_the_threshold():
    run = make_run("sigmoid", Optimizer("adam", 0.1))
    state, metrics = training.advance(run, training.start(run), 3)
    w1, b1 = state.params[0]
    w2, b2 = state.params[1]
    for inputs, targets, accuracy in (
        (run.inputs, run.targets, metrics.train_accuracy[-1]),
        (run.test_inputs, run.test_targets, metrics.test_accuracy[-1]),
    ):
        logit = np.tanh(inputs @ w1 + b1) @ w2 + b2
        assert accuracy == np.mean((logit[:, 0] > 0) == (targets[:, 0] == 1))
    assert metrics.test_loss is not None and len(metrics.test_loss) == 3


def test_regression_has_no_accuracy_and_no_test_set_no_test_curves():
    run = make_run("identity", test=False)
    _, metrics = training.advance(run, training.start(run), 2)
    assert metrics.train_accuracy is None and metrics.test_loss is None and metrics.test_accuracy is None


CONFIGS = [
    pytest.param(Optimizer("sgd", 0.05), None, id="sgd-full-batch"),
    pytest.param(Optimizer("sgd", 0.05, momentum=0.9, nesterov=True), 32, id="nesterov-32"),
    pytest.param(Optimizer("adam", 0.01), 50, id="adam-50"),
]


def spiral_run(optimizer, batch_size, seed=4) -> training.Run:
    rng = np.random.default_rng(seed)
    train, test = datasets.split(datasets.generate("spiral", 200, 0.2, rng), 0.2, rng)
    return experiment.build(
        train, test, features=("x1", "x2", "sin_x1"), hidden=(6, 4), activation="tanh", head="tanh",
        optimizer=optimizer, batch_size=batch_size, seed=seed,
    ).run


def same_state(a: training.State, b: training.State) -> bool:
    arrays = lambda s: [x for pair in s.params for x in pair if x is not None] + [
        x for values in training.optimizers.arrays(s.optimizer).values() for x in values.values()
    ]
    return a.step == b.step and all(np.array_equal(x, y) for x, y in zip(arrays(a), arrays(b), strict=True))


@pytest.mark.parametrize("optimizer, batch_size", CONFIGS)
def test_chunks_give_bit_for_bit_the_same_run(optimizer, batch_size):
    run = spiral_run(optimizer, batch_size)
    whole, metrics = training.advance(run, training.start(run), 120)
    state, parts = training.start(run), []
    for count in (1, 49, 50, 20):
        # the state crosses a JSON round trip between chunks, as it does between requests
        state = training.state_from_dict(run, json.loads(json.dumps(state.to_dict())))
        state, chunk = training.advance(run, state, count)
        parts.append(chunk)
    assert same_state(state, whole)
    assert [x for part in parts for x in part.train_loss] == metrics.train_loss
    assert [x for part in parts for x in part.test_accuracy] == metrics.test_accuracy


@pytest.mark.parametrize("optimizer, batch_size", CONFIGS)
def test_any_step_is_reproduced_from_its_checkpoint(optimizer, batch_size):
    run = spiral_run(optimizer, batch_size)
    trainer = training.Trainer(run, checkpoint_every=50)
    trainer.advance(130)
    assert sorted(trainer.checkpoints) == [0, 50, 100]
    assert trainer.history["train_loss"] == training.advance(run, training.start(run), 130)[1].train_loss
    for step in (0, 49, 50, 77, 130):
        direct, _ = training.advance(run, training.start(run), step)
        assert same_state(trainer.state_at(step), direct)
    with pytest.raises(ValueError, match="not in 0..130"):
        trainer.state_at(131)


@pytest.mark.parametrize("optimizer, batch_size", CONFIGS)
def test_the_trace_of_a_step_holds_the_numbers_training_used(optimizer, batch_size):
    run = spiral_run(optimizer, batch_size)
    trainer = training.Trainer(run)
    trainer.advance(80)
    step = 63
    before, after = trainer.state_at(step), trainer.state_at(step + 1)
    traced = trainer.trace_at(step).steps[0]
    for params, (w, b) in zip(traced.parameters, before.params):
        assert np.array_equal(params.weights, w) and np.array_equal(params.bias, b)
    for params, (w, b) in zip(traced.update, after.params):
        assert np.array_equal(params.weights, w) and np.array_equal(params.bias, b)
    expected_batch = None if batch_size is None else tuple(batches.indices(160, batch_size, 4, step).tolist())
    assert traced.batch == expected_batch
    if optimizer.momentum or optimizer.name == "adam":
        assert traced.optimizer_state.step == step + 1
        for field, values in training.optimizers.arrays(after.optimizer).items():
            for name, value in values.items():
                assert np.array_equal(training.optimizers.arrays(traced.optimizer_state)[field][name], value)
    # the trace's loss is the batch's loss at the start of the step; with a full batch it is the train curve's
    if batch_size is None:
        assert traced.loss == trainer.history["train_loss"][step - 1]


@pytest.mark.parametrize("optimizer, batch_size", CONFIGS)
def test_the_request_of_a_step_traces_that_step_from_its_batch_alone(optimizer, batch_size):
    run = spiral_run(optimizer, batch_size)
    trainer = training.Trainer(run)
    trainer.advance(60)
    body = json.loads(json.dumps(training.request_at(run, trainer.state_at(57))))
    rows = range(160) if batch_size is None else batches.indices(160, batch_size, 4, 57)
    assert body["inputs"] == run.inputs[rows].tolist() and body["steps"] == 1
    traced = tracemod.run(specmod.from_request(body)).steps[0]
    after = trainer.state_at(58)
    for params, (w, b) in zip(traced.update, after.params):
        np.testing.assert_array_equal(params.weights, w)
        np.testing.assert_array_equal(params.bias, b)
    if optimizer.momentum or optimizer.name == "adam":
        assert body["optimizer"]["state"]["step"] == 57


def test_mini_batches_are_a_fixed_function_of_the_seed():
    epoch_of = lambda seed, epoch: [batches.indices(10, 4, seed, 3 * epoch + j) for j in range(3)]
    first = epoch_of(5, 0)
    assert [len(b) for b in first] == [4, 4, 2]
    assert sorted(np.concatenate(first).tolist()) == list(range(10))  # every example once per epoch
    assert all(np.array_equal(a, b) for a, b in zip(first, epoch_of(5, 0)))
    assert not all(np.array_equal(a, b) for a, b in zip(first, epoch_of(5, 1)))  # a new order each epoch
    assert not all(np.array_equal(a, b) for a, b in zip(first, epoch_of(6, 0)))
    assert batches.indices(10, None, 5, 7).tolist() == list(range(10))
    assert batches.indices(10, 12, 5, 7).tolist() == list(range(10))


def test_divergence_is_an_overflow_naming_the_step():
    # step 0 makes W2 ~ 1e200, so step 1's output ~ 1e200 squares past the largest float in the loss
    run = make_run("identity", Optimizer("sgd", 1e200))
    state, _ = training.advance(run, training.start(run), 1, measure=False)
    with pytest.raises(tracemod.Overflow) as caught:
        training.advance(run, state, 5)
    assert (caught.value.step, caught.value.stage) == (1, "loss")
    assert "no longer finite at step 1" in str(caught.value)


def test_a_state_that_does_not_fit_the_run_is_a_value_error():
    run = spiral_run(Optimizer("adam", 0.01), None)
    raw = training.start(run).to_dict()
    raw["parameters"]["W1"] = [[0.0]]
    with pytest.raises(ValueError, match="W1 must be finite with shape"):
        training.state_from_dict(run, raw)


# --- building a run from choices ---------------------------------------------------------------------------


def test_softmax_head_takes_the_classes_as_labels_and_one_unit_each():
    data = datasets.parse_csv("a,b,c\n0,0,0\n1,0,1\n0,1,2\n1,1,0\n", 10, 4)
    built = experiment.build(
        data, data.subset(np.arange(2)), features=None, hidden=(3,), activation="relu", head="softmax",
        optimizer=Optimizer("sgd", 0.1), batch_size=None, seed=0,
    )
    assert built.run.spec.labels == (0, 1, 2, 0) and built.run.spec.widths == (2, 3, 3)
    assert built.run.test_targets.tolist() == [[1, 0, 0], [0, 1, 0]]


def test_tanh_classifier_targets_are_plus_minus_one_and_inputs_can_be_standardized():
    rng = np.random.default_rng(0)
    data = datasets.generate("gaussians", 40, 0.1, rng)
    built = experiment.build(
        data, data.subset(np.arange(0)), features=("x1", "x1_squared"), hidden=(), activation="tanh", head="tanh",
        optimizer=Optimizer("sgd", 0.1), batch_size=8, seed=0, standardize=True,
    )
    assert sorted(set(built.run.targets[:, 0].tolist())) == [-1.0, 1.0]
    np.testing.assert_allclose(built.run.inputs.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(built.run.inputs.std(0), 1, atol=1e-12)
    raw = np.column_stack([data.points[:, 0], data.points[:, 0] ** 2])
    np.testing.assert_allclose(built.encoder(data.points), (raw - raw.mean(0)) / raw.std(0), atol=1e-12)


@pytest.mark.parametrize(
    "name, head, message",
    [("sine", "sigmoid", "for regression"), ("circle", "identity", "for classes"), ("circle", "bent", "unknown output")],
)
def test_heads_that_do_not_fit_the_task_are_refused(name, head, message):
    data = datasets.generate(name, 20, 0.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match=message):
        experiment.build(
            data, data, features=("x1",), hidden=(2,), activation="tanh", head=head,
            optimizer=Optimizer("sgd", 0.1), batch_size=None, seed=0,
        )


def test_initial_weights_are_seeded_and_bounded():
    a = experiment.initial_layers((2, 8, 1), ("relu", "tanh"), np.random.default_rng(1))
    b = experiment.initial_layers((2, 8, 1), ("relu", "tanh"), np.random.default_rng(1))
    assert all(np.array_equal(x.weights, y.weights) for x, y in zip(a, b))
    assert np.abs(a[0].weights).max() <= np.sqrt(6 / 2) and np.abs(a[1].weights).max() <= np.sqrt(6 / 9)
    assert not a[0].bias.any()
