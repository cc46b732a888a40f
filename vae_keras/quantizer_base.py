"""The quantizer contract: what `VQVAE`, its prior over codes and its export rely on.

A quantizer turns an encoder's grid of `embedding_dim`-vectors into discrete
codes in `[0, num_embeddings)`. `VectorQuantizer` (nearest codebook entry),
`GumbelQuantizer` (DALL-E's relaxed categorical) and `FiniteScalarQuantizer`
(FSQ's rounded channels) all derive from `Quantizer`, so any of them fits
`VQVAE(encoder, decoder, quantizer)`.
"""

import math
import numbers

import keras
from keras import ops


def _check_int(value, name, minimum, fix):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(
            f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}. {fix}"
        )
    return int(value)


def _check_float(value, name, low, high, fix=""):
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = float("nan")
    if not low <= value <= high:
        raise ValueError(f"`{name}` must lie in [{low}, {high}]. Received: {name}={value!r}. {fix}")
    return value


def _per_example_sum(values):
    return ops.sum(values, axis=tuple(range(1, len(values.shape))))


def _positions(inputs):
    """Code positions per example (static)."""
    return math.prod(int(n) for n in inputs.shape[1:-1])


def code_statistics(indices, num_embeddings):
    """`(perplexity, usage)` of a batch of code indices (float32 scalars).

    `perplexity` is the exp of the entropy of the batch's code frequencies (K
    when all codes are used equally); `usage` the share of the K codes chosen
    at least once.
    """
    flat = ops.reshape(ops.cast(indices, "int32"), (-1,))
    counts = ops.sum(ops.one_hot(flat, num_embeddings, dtype="float32"), axis=0)
    frequencies = counts / ops.maximum(ops.sum(counts), 1.0)
    perplexity = ops.exp(-ops.sum(frequencies * ops.log(frequencies + 1e-10)))
    usage = ops.mean(ops.cast(counts > 0, "float32"))
    return perplexity, usage


def marginal_kl_to_uniform(probs):
    """`KL(mean probs || uniform(K))` in nats, a scalar: the average over every position
    of a batch of code distributions `(..., K)` against uniform (wav2vec 2.0's diversity
    term). 0 when the batch spreads over all codes, whatever each position's certainty."""
    num_codes = int(probs.shape[-1])
    mean = ops.mean(ops.reshape(probs, (-1, num_codes)), axis=0)
    return ops.sum(mean * ops.log(mean + 1e-10)) + math.log(num_codes)


class Quantizer(keras.layers.Layer):
    """Base class of the layers `VQVAE` accepts as its `quantizer`.

    A subclass sets, in `__init__`:

    - `num_embeddings`: the number of codes `K` (indices lie in `[0, K)`);
    - `embedding_dim`: the channels `D` of the grid it reads;
    - `embeddings`: the `(K, D)` code vectors (a variable, or a tensor
      property for an implicit codebook); a `VQVAE`'s prior remembers them
      when it is fitted, to refuse sampling once they change;

    and implements:

    - `quantize_vectors(inputs, training=False)` -> a dict with at least
      `quantized` (shaped like `inputs`, carrying the gradient to them in
      training), `indices` (int32, `inputs.shape[:-1]`), `vq_loss` (a scalar
      added to the model's loss: per-example sums averaged over the batch),
      `perplexity` and `usage` (see `code_statistics`);
    - `lookup(indices)` -> the code vectors of `indices`, shape
      `indices.shape + (D,)`: `lookup(indices)` equals `quantized` at
      `training=False`.

    Calling the layer returns `(quantized, indices)` and, in training, adds
    `vq_loss` with `add_loss` (for functional graphs of your own).

    Example:

    >>> import numpy as np
    >>> from vae_keras.layers import FiniteScalarQuantizer
    >>> quantizer = FiniteScalarQuantizer((3, 3))
    >>> isinstance(quantizer, Quantizer)
    True
    >>> out = quantizer.quantize_vectors(np.zeros((1, 2, 2, 2), "float32"))
    >>> sorted(k for k in out if k in ("indices", "perplexity", "quantized", "usage", "vq_loss"))
    ['indices', 'perplexity', 'quantized', 'usage', 'vq_loss']
    """

    def quantize_vectors(self, inputs, training=False) -> dict:
        raise NotImplementedError(
            f"{type(self).__name__} must implement `quantize_vectors(inputs, training)`."
        )

    def lookup(self, indices):
        """Codebook vectors of integer `indices`: shape `indices.shape + (embedding_dim,)`."""
        indices = ops.cast(ops.convert_to_tensor(indices), "int32")
        return ops.take(ops.convert_to_tensor(self.embeddings), indices, axis=0)

    def _check_inputs(self, inputs):
        channels = inputs.shape[-1]
        if channels is not None and channels != self.embedding_dim:
            raise ValueError(
                f"The quantizer's embedding_dim is {self.embedding_dim} but its input has "
                f"{channels} channels (shape {tuple(inputs.shape)}). Build the encoder with "
                f"{self.embedding_dim} output channels, or the quantizer with "
                f"embedding_dim={channels}."
            )

    def call(self, inputs, training=False):
        out = self.quantize_vectors(inputs, training=training)
        if training:
            self.add_loss(out["vq_loss"])
        return out["quantized"], out["indices"]

    def compute_output_spec(self, inputs, training=False):
        return (
            keras.KerasTensor(inputs.shape, dtype=self.compute_dtype),
            keras.KerasTensor(inputs.shape[:-1], dtype="int32"),
        )
