"""Finite scalar quantisation (FSQ; Mentzer et al. 2023) as a Keras layer.

Each of the `len(levels)` channels is bounded to `levels[i]` values and
rounded: the codebook is the implicit grid of all `prod(levels)` level
combinations, so there is nothing to learn and no codebook loss. A channel can
still die: once the encoder drives it deep into tanh's saturation its gradient
vanishes and it sits on one level for good (on `shapes` one of four channels
did, capping use at 20% of the 1000 codes), so a small penalty keeps the inputs
inside the range where every level is reachable. Otherwise it matches
google-research's `fsq/fsq.ipynb` (the paper's reference code; lucidrains'
`finite_scalar_quantization.py` follows it too): tanh bounding with a
half-level offset for even levels, rounding with the straight-through
gradient, normalisation to [-1, 1], mixed-radix indices with the first
channel least significant.
"""

import numbers

import keras
import numpy as np
from keras import ops

from vae_keras.quantizer_base import (
    Quantizer,
    _check_float,
    _per_example_sum,
    _positions,
    code_statistics,
    marginal_kl_to_uniform,
)

# The reference's margin: tanh stays inside (L - 1)(1 - EPS) / 2, so the extreme levels are
# reached without a value ever rounding beyond them.
EPS = 1e-3
# Inputs within +-RANGE reach every level (tanh(2) = 0.964) with tanh's gradient >= 0.07.
RANGE = 2.0
# The diversity term's soft assignment: softmax of minus the squared distance to each code in
# level units (neighbouring codes are 1 apart) over this temperature.
DIVERSITY_TEMPERATURE = 0.5


def _check_levels(levels):
    fix = "Pass one integer >= 2 per channel, e.g. levels=(8, 5, 5, 5) (1000 codes)."
    if isinstance(levels, (str, bytes)) or not hasattr(levels, "__iter__"):
        raise ValueError(
            f"`levels` must be a sequence of integers. Received: levels={levels!r}. {fix}"
        )
    levels = tuple(levels)
    bad = [v for v in levels if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 2]
    if not levels or bad:
        raise ValueError(
            f"`levels` must hold integers >= 2 (a channel of one level carries nothing). "
            f"Received: levels={levels!r}. {fix}"
        )
    if int(np.prod([int(v) for v in levels], dtype=np.float64)) >= 2**31:
        raise ValueError(
            f"`levels` give {int(np.prod([int(v) for v in levels], dtype=np.float64))} codes, "
            f"more than int32 indices hold. Received: levels={levels!r}. Use fewer or smaller levels."
        )
    return tuple(int(v) for v in levels)


@keras.saving.register_keras_serializable(package="vae_keras")
class FiniteScalarQuantizer(Quantizer):
    """Finite scalar quantisation: bounded, rounded channels (Mentzer et al. 2023).

    For inputs `z` shaped `(batch, ..., D)` with `D = len(levels)`, channel
    `i` with `L = levels[i]` levels is

        bounded = tanh(z + shift) * half_l - offset
        half_l = (L - 1)(1 - 1e-3) / 2,  offset = 0.5 if L is even else 0,
        shift = tan(offset / half_l)

    then rounded to the nearest integer (ties to even, as the reference's
    `jnp.round`) with the straight-through gradient, and divided by `L // 2`:
    odd `L` gives the `L` values `-1 ... 1`, even `L` the values
    `-1 ... 1 - 2/L` (the reference's grid). The index of a code is the
    mixed-radix number of its levels `k_i = rounded_i + L // 2` in `[0, L)`,
    `sum_i k_i * prod(levels[:i])`; `lookup` inverts it.

    `vq_loss = range_weight * sum(relu(|z| - 2)^2) + diversity_weight *
    positions * KL(mean q || uniform(K))`. The first term, summed over an
    example's channels and positions and averaged over the batch, is 0 while
    every input lies within +-2 (where tanh reaches every level and still
    has a gradient): it pulls a saturated channel back into use. The second
    (`diversity_loss`; off by default) is `GumbelQuantizer`'s diversity term
    for the implicit codebook: `q` assigns each bounded input softly to the
    codes, `softmax(-|bounded - code|^2 / 0.5)` in level units, and the KL of
    the batch's average `q` to uniform is 0 when the batch spreads over all
    codes; it pushes the encoder towards level combinations it leaves unused
    (a data set whose inputs cluster, such as `shapes` with its flat
    background, leaves lattice corners empty); it is computed in training
    only (0 at `training=False`). There is no codebook to train or commit to.
    `perplexity` and `usage` are reported as by `VectorQuantizer`.
    `embeddings` is the constant `(prod(levels), D)` grid of every code
    vector, in index order.

    Args:
        levels: Levels per channel (integers >= 2). The paper's choices for
            about 2^10 codes are `(8, 5, 5, 5)` (1000 codes, the default);
            `(8, 8, 8, 6, 5)` for about 2^14.
        gradient_leak: In training, a gradient of this slope added to the
            straight-through one (0 in value), so that a channel saturated
            at one end of the tanh still learns (0, the default: the
            reference's gradient; `range_weight` does this better on its own).
        range_weight: Weight of the penalty on inputs beyond +-2 (0: the
            reference's loss-free FSQ).
        diversity_weight: Weight of the batch-average KL to uniform (0, the
            default: not computed).
        **kwargs: Base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: A float tensor whose last axis is `len(levels)`.
        training: Unused (the layer has no state); accepted for the contract.

    Example:

    >>> import numpy as np
    >>> fsq = FiniteScalarQuantizer((8, 5, 5, 5))
    >>> fsq.num_embeddings, fsq.embedding_dim
    (1000, 4)
    >>> quantized, indices = fsq(np.zeros((2, 4, 4, 4), "float32"))
    >>> tuple(quantized.shape), tuple(indices.shape)
    ((2, 4, 4, 4), (2, 4, 4))
    >>> bool(np.allclose(fsq.lookup(indices), quantized))
    True
    """

    def __init__(
        self,
        levels=(8, 5, 5, 5),
        gradient_leak=0.0,
        range_weight=1.0,
        diversity_weight=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.levels = _check_levels(levels)
        self.range_weight = _check_float(range_weight, "range_weight", 0.0, float("inf"))
        self.diversity_weight = _check_float(
            diversity_weight, "diversity_weight", 0.0, float("inf")
        )
        self.gradient_leak = _check_float(
            gradient_leak, "gradient_leak", 0.0, float("inf"), "0 is the reference's gradient."
        )
        self.embedding_dim = len(self.levels)
        self.num_embeddings = int(np.prod(self.levels))
        levels_np = np.asarray(self.levels, "float64")
        # Constants of the reference's bound, per channel (float64, then float32).
        half_l = (levels_np - 1) * (1 - EPS) / 2
        offset = np.where(levels_np % 2 == 1, 0.0, 0.5)
        self._half_l = half_l.astype("float32")
        self._offset = offset.astype("float32")
        self._shift = np.tan(offset / half_l).astype("float32")
        self._half_width = (np.asarray(self.levels) // 2).astype("float32")
        self._basis = np.concatenate([[1], np.cumprod(self.levels[:-1])]).astype("int32")
        self._codes = self._indices_to_codes_np(np.arange(self.num_embeddings))
        # Every code in level units (K, D) and its squared norm: the diversity term's grid.
        self._grid = (self._codes * self._half_width).astype("float32")
        self._grid_sq = (self._grid**2).sum(axis=-1).astype("float32")
        self.built = True

    # === The grid ===

    def _indices_to_codes_np(self, indices):
        digits = (indices[..., None] // self._basis) % np.asarray(self.levels)
        return ((digits - self._half_width) / self._half_width).astype("float32")

    @property
    def embeddings(self):
        """All `prod(levels)` code vectors `(K, D)`, row `k` the code of index `k`."""
        return ops.convert_to_tensor(self._codes)

    def bound(self, inputs):
        """The channels squashed into `(-(L-1)/2 - offset, (L-1)/2 - offset)`, float32."""
        z = ops.cast(ops.convert_to_tensor(inputs), "float32")
        shift, half_l, offset = (
            ops.convert_to_tensor(c) for c in (self._shift, self._half_l, self._offset)
        )
        return ops.tanh(z + shift) * half_l - offset

    def code_logits(self, inputs):
        """Logits `(..., K)` of the soft assignment of each input to the codes: minus the
        squared distance in level units between its bounded value and each code, over
        `DIVERSITY_TEMPERATURE` (the argmax is the rounded code)."""
        return self._logits_of_bounded(self.bound(inputs))

    def _logits_of_bounded(self, bounded):
        grid = ops.convert_to_tensor(self._grid)
        distances = (
            ops.sum(bounded**2, axis=-1, keepdims=True)
            - 2.0 * ops.matmul(bounded, ops.transpose(grid))
            + ops.convert_to_tensor(self._grid_sq)
        )
        return -distances / DIVERSITY_TEMPERATURE

    def quantize_vectors(self, inputs, training=False):
        """Quantises `inputs`; returns `quantized`, `indices`, `vq_loss`, `range_loss` and
        `diversity_loss` (unweighted), `perplexity` and `usage` (see the class docstring)."""
        inputs = ops.convert_to_tensor(inputs)
        self._check_inputs(inputs)
        half_width = ops.convert_to_tensor(self._half_width)
        bounded = self.bound(inputs)
        rounded = ops.round(ops.stop_gradient(bounded))
        # Integer-valued floats are exact, so the indices and `lookup` agree bit for bit.
        digits = ops.cast(rounded + half_width, "int32")
        indices = ops.sum(digits * ops.convert_to_tensor(self._basis), axis=-1)
        codes = rounded / half_width
        if training:
            # Straight-through: `scaled - sg(scaled)` is exactly 0 in value and passes the
            # bound's gradient, so the value stays the rounded code bit for bit.
            scaled = bounded / half_width
            codes = codes + (scaled - ops.stop_gradient(scaled))
            # tanh's gradient vanishes once a channel saturates, and a channel the encoder
            # pushes to one end early stays there for good (a dead channel divides the codes in
            # use by its levels). The leak, exactly 0 in value, keeps a gradient to bring it back.
            z = ops.cast(inputs, "float32")
            codes = codes + self.gradient_leak * (z - ops.stop_gradient(z))
        perplexity, usage = code_statistics(indices, self.num_embeddings)
        excess = ops.relu(ops.abs(ops.cast(inputs, "float32")) - RANGE)
        range_loss = ops.mean(_per_example_sum(excess**2))
        vq_loss = self.range_weight * range_loss
        diversity_loss = ops.zeros((), "float32")
        # K distances per position: only when asked for, and only in training (a term that
        # shapes training, not part of any bound; inference need not hold (positions, K)).
        if self.diversity_weight and training:
            probs = ops.softmax(self._logits_of_bounded(bounded), axis=-1)
            diversity_loss = marginal_kl_to_uniform(probs) * _positions(inputs)
            vq_loss = vq_loss + self.diversity_weight * diversity_loss
        return {
            "quantized": ops.cast(codes, inputs.dtype),
            "indices": indices,
            "vq_loss": vq_loss,
            "range_loss": range_loss,
            "diversity_loss": diversity_loss,
            "perplexity": perplexity,
            "usage": usage,
        }

    def lookup(self, indices):
        """Code vectors of integer `indices`: shape `indices.shape + (len(levels),)`."""
        indices = ops.expand_dims(ops.cast(ops.convert_to_tensor(indices), "int32"), -1)
        basis, levels, half_width = (
            ops.convert_to_tensor(c)
            for c in (self._basis, np.asarray(self.levels, "int32"), self._half_width)
        )
        digits = ops.mod(ops.floor_divide(indices, basis), levels)
        return (ops.cast(digits, "float32") - half_width) / half_width

    # === Config ===

    def get_config(self):
        return {
            **super().get_config(),
            "levels": list(self.levels),
            "gradient_leak": self.gradient_leak,
            "range_weight": self.range_weight,
            "diversity_weight": self.diversity_weight,
        }
