"""Which examples each SGD step uses: a fixed function of the seed and the step.

Full batch (batch_size None, or at least N): every step uses all N examples in
order. Mini-batches: each epoch takes its own permutation of the N examples,
drawn from a Generator seeded with (seed, epoch), and cuts it into
ceil(N / batch_size) batches; the last may be smaller (PyTorch's DataLoader
with drop_last=False). Step k is batch k mod B of epoch k // B, so any step's
batch is found without replaying the ones before it.
"""
from __future__ import annotations

import numpy as np


def per_epoch(num_examples: int, batch_size: int | None) -> int:
    """Batches B in one pass over the data."""
    if batch_size is None or batch_size >= num_examples:
        return 1
    return -(-num_examples // batch_size)


def epoch_order(num_examples: int, seed: int, epoch: int) -> np.ndarray:
    """The permutation of the examples used in `epoch`."""
    return np.random.default_rng([seed, epoch]).permutation(num_examples)


def indices(num_examples: int, batch_size: int | None, seed: int, step: int, order: np.ndarray | None = None) -> np.ndarray:
    """The example indices of `step` (0-based), in increasing order.

    `order` may pass in the epoch's permutation when the caller has it already.
    """
    count = per_epoch(num_examples, batch_size)
    if count == 1:
        return np.arange(num_examples)
    epoch, position = divmod(step, count)
    if order is None:
        order = epoch_order(num_examples, seed, epoch)
    return np.sort(order[position * batch_size : (position + 1) * batch_size])
