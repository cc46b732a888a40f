"""Likelihoods `p(x | decoder outputs)`: one small object per family.

A model is a combination of networks and a likelihood, not a branch in a
shared class: `VAE(..., likelihood="bernoulli" | "gaussian" |
"discretized_logistic")` picks one of these by name, and any
`Likelihood` instance can be passed instead (e.g.
`DiscretizedLogistic(num_mixtures=5)`). Each one knows

- `output_channels(channels)`: how many channels the decoder emits per
  pixel for data with `channels` channels (Bernoulli, Gaussian: the same;
  discretized logistic: a location and a log-scale per sub-pixel),
- `nll(x, outputs)`: `-log p(x | outputs)` per example, in nats,
- `mean(outputs)`: the decoded image in data space ([0, 1]),
- `sample(outputs, seed)`: a draw from `p(x | outputs)`,
- `discrete`: whether `nll` is a probability *mass* on the 8-bit grid
  (`x = k / 255`), so bits per dimension follow from it directly; a
  density needs dequantisation first (see `evaluation.bits_per_dim_8bit`).
"""

import math

import keras
import numpy as np
from keras import ops

from vae_keras import losses
from vae_keras._registry import Registry

BINS = 255  # 8-bit data: x = k / 255, k = 0..255
# PixelCNN++'s floor on the logistic log-scale: a bin is 2/255 wide on the
# [-1, 1] scale used inside, so scales far below exp(-7) buy nothing.
MIN_LOG_SCALE = -7.0
# And a ceiling: beyond it the bin width in standard units underflows in float32.
MAX_LOG_SCALE = 7.0
# The bin masses are computed from `x - loc`, clipped to this many units of the [-1, 1]
# scale: far beyond the data (a diverging decoder) the standardised edges stay finite in
# float32 (1e4 * exp(7) ~ 1e7) and the mass is already ~exp(-1e4) or less.
MAX_CENTRED = 1e4
GRID_TOLERANCE = 1e-3  # in units of one 8-bit step
LOG_HALF = math.log(0.5)  # the Gaussian's default variance 1/2: summed squared error + const
LEARNED_VARIANCES = ("learned", "learned_per_pixel")


def off_8bit_grid(x) -> np.ndarray:
    """Boolean mask of the values of `x` that are not `k / 255` (within `GRID_TOLERANCE` steps).

    >>> off_8bit_grid(np.array([0.0, 1 / 255, 0.5])).tolist()
    [False, False, True]
    """
    steps = np.asarray(x, dtype="float64") * BINS
    return np.abs(steps - np.round(steps)) > GRID_TOLERANCE


def _sum_over_example(values):
    return (
        ops.sum(values, axis=tuple(range(1, len(values.shape))))
        if len(values.shape) > 1
        else values
    )


class Likelihood:
    """Base class: a family of distributions `p(x | decoder outputs)`."""

    name = "likelihood"
    # What consumers read (never the name): a probability mass on the 8-bit grid, so
    # bits/dim come directly; data confined to [0, 1]; binary pixels (no 8-bit figure);
    # the variance the model learns as its own weight (None, "learned", "learned_per_pixel").
    discrete = False
    unit_interval = False
    binary = False
    learned_variance = None

    @property
    def density(self) -> bool:
        """A density on [0, 1]: 8-bit figures need uniform dequantisation (+8 bits/dim)."""
        return not (self.discrete or self.binary)

    def log_variance_value(self):
        """The current log-variance of a Gaussian-type likelihood, else None."""
        return None

    def output_channels(self, channels: int) -> int:
        """Decoder channels per pixel for data with `channels` channels."""
        return channels

    def nll(self, x, outputs):
        """`-log p(x | outputs)` per example (summed over every data axis), in nats."""
        raise NotImplementedError

    def mean(self, outputs):
        """The decoded example in data space."""
        raise NotImplementedError

    def sample(self, outputs, seed=None):
        """A draw from `p(x | outputs)`, in data space."""
        raise NotImplementedError

    def check_data(self, x: np.ndarray, name: str = "x") -> np.ndarray:
        """Checks data beyond shape and range (e.g. the 8-bit grid); returns it."""
        return x

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@keras.saving.register_keras_serializable(package="vae_keras")
class Bernoulli(Likelihood):
    """Independent Bernoulli pixels: binary cross-entropy summed over pixels.

    Args:
        from_probabilities: The decoder emits probabilities (ends in a
            sigmoid) rather than logits. Logits are exact and finite even
            when the decoder saturates; probabilities are clipped.
    """

    name = "bernoulli"
    unit_interval = True
    binary = True

    def __init__(self, from_probabilities: bool = False):
        self.from_probabilities = bool(from_probabilities)

    def nll(self, x, outputs):
        if self.from_probabilities:
            return losses.bernoulli_nll_from_probabilities(x, outputs)
        return losses.bernoulli_nll(x, outputs)

    def mean(self, outputs):
        return outputs if self.from_probabilities else ops.sigmoid(outputs)

    def sample(self, outputs, seed=None):
        p = self.mean(outputs)
        return ops.cast(keras.random.uniform(ops.shape(p), seed=seed) < p, "float32")

    def get_config(self):
        return {"from_probabilities": self.from_probabilities}


@keras.saving.register_keras_serializable(package="vae_keras")
class Gaussian(Likelihood):
    """Independent Gaussian pixels `N(x; decoder(z), variance)`.

    Args:
        variance: A number > 0 (fixed; the default 1/2 makes the NLL the summed squared
            error plus a constant), `"learned"` (one log-variance for all pixels, a weight of
            the model that uses this likelihood) or `"learned_per_pixel"` (one per pixel).
            Learned variances start at 1/2 and are clipped to [1e-3, 1e3].
        log_variance: The older spelling of a fixed variance (its log), or a callable
            returning the current log-variance tensor (how a model binds its learned weight).
            When given, it overrides `variance`.

    Example:

    >>> Gaussian(variance="learned").learned_variance
    'learned'
    >>> round(float(Gaussian(variance=0.5).log_variance_value()), 4)
    -0.6931
    """

    name = "gaussian"

    def __init__(self, variance=0.5, log_variance=None):
        self.learned_variance = None
        if isinstance(variance, str):
            if variance not in LEARNED_VARIANCES:
                raise ValueError(
                    f"`variance` must be a number > 0 or one of {LEARNED_VARIANCES}. "
                    f"Received: variance={variance!r}"
                )
            self.learned_variance = variance
            default = LOG_HALF  # the learned weight's starting value, until a model binds it
        else:
            value = _positive_float(variance, "variance")
            default = math.log(value)
        self.log_variance = default if log_variance is None else log_variance

    def _log_var(self):
        return self.log_variance() if callable(self.log_variance) else self.log_variance

    def log_variance_value(self):
        return self._log_var()

    def nll(self, x, outputs):
        return losses.gaussian_nll(x, outputs, self._log_var())

    def mean(self, outputs):
        return outputs

    def sample(self, outputs, seed=None):
        std = ops.exp(0.5 * ops.cast(self._log_var(), outputs.dtype))
        return outputs + std * keras.random.normal(ops.shape(outputs), seed=seed)

    def get_config(self):
        if self.learned_variance is not None:
            return {"variance": self.learned_variance}
        if callable(self.log_variance):
            return {}
        return {"log_variance": float(self.log_variance)}


def _positive_float(value, name):
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be a finite number > 0. Received: {name}={value!r}")
    return value


def log_logistic_bin_mass(x, loc, log_scale):
    """`log P(x)` of each sub-pixel for a logistic discretised to the 8-bit grid.

    All arguments are on the `[-1, 1]` scale (`x = 2 k / 255 - 1`). The bin of
    `x` is `[x - 1/255, x + 1/255]`; the two edge values take the tails
    (`k = 0`: everything below `-1 + 1/255`; `k = 255`: everything above
    `1 - 1/255`), so the 256 masses sum to one. Computed from the logistic's
    logits only: with `a`, `b` the standardised upper and lower bin edges,

        log(sigmoid(a) - sigmoid(b)) = -softplus(-a) - softplus(b) + log(1 - exp(b - a))

    which is finite for any location and scale (no difference of two
    probabilities that both round to 1 or to 0; `b - a` is taken as
    `-2 / (255 scale)`, not as a difference of the edges, which round to one
    value far from the location; `x - loc` is clipped to `MAX_CENTRED`).
    """
    inv_scale = ops.exp(-log_scale)
    centred = ops.clip(x - loc, -MAX_CENTRED, MAX_CENTRED)
    upper = inv_scale * (centred + 1.0 / BINS)
    lower = inv_scale * (centred - 1.0 / BINS)
    log_cdf_upper = -ops.softplus(-upper)  # log sigmoid(upper): the k = 0 tail
    log_sf_lower = -ops.softplus(lower)  # log(1 - sigmoid(lower)): the k = 255 tail
    # b - a = -2 inv_scale / 255 < 0, taken exactly rather than as `lower - upper`: far from
    # the location (|x - loc| >~ 2e5 in float32) the two edges round to one value, and the
    # difference would be 0 (an infinite NLL, NaN gradients through the `where` below).
    log_middle = log_cdf_upper + log_sf_lower + ops.log(-ops.expm1(-2.0 / BINS * inv_scale))
    edge = 1.0 - 0.5 / BINS
    return ops.where(x < -edge, log_cdf_upper, ops.where(x > edge, log_sf_lower, log_middle))


@keras.saving.register_keras_serializable(package="vae_keras")
class DiscretizedLogistic(Likelihood):
    """8-bit pixels from a logistic per sub-pixel, discretised to 256 bins.

    The probability of each value `k / 255` is the logistic mass of its bin
    (Salimans et al., 2017, PixelCNN++); the end values 0 and 255 take the
    tails. The result is a probability mass: `-log p(x | z) / (D ln 2)` is
    bits per dimension on the 0-255 scale, the unit of the natural-image
    literature. Data must be on the 8-bit grid `k / 255` in [0, 1].

    With `num_mixtures=None` (default) the decoder emits `2 * C` channels per
    pixel: `C` locations, then `C` log-scales (clipped to [-7, 7]), on the
    `[-1, 1]` scale (`x * 2 - 1`). With `num_mixtures=K` it is PixelCNN++'s
    mixture of `K` logistics per pixel, with the channels of a component
    coupled linearly (green's location moves with red, blue's with red and
    green, so a pixel's colours are no longer independent given `z`): the
    decoder emits `K` mixture logits, then `C * K` locations, `C * K`
    log-scales and `C (C - 1) / 2 * K` coefficients (10 K channels for RGB).

    Args:
        num_mixtures: `None` for one logistic per sub-pixel, or the number
            of mixture components `K >= 1` per pixel.

    Example:

    >>> import numpy as np
    >>> likelihood = DiscretizedLogistic()
    >>> likelihood.output_channels(3)
    6
    >>> x = np.arange(256, dtype="float32").reshape(256, 1) / 255
    >>> outputs = np.tile(np.array([[0.1, -1.0]], "float32"), (256, 1))
    >>> round(float(np.exp(-likelihood.nll(x, outputs)).sum()), 5)  # the 256 masses
    1.0
    """

    name = "discretized_logistic"
    discrete = True
    unit_interval = True

    def __init__(self, num_mixtures: int | None = None):
        if num_mixtures is not None and (
            isinstance(num_mixtures, bool)
            or not isinstance(num_mixtures, (int, np.integer))
            or num_mixtures < 1
        ):
            raise ValueError(
                "`num_mixtures` must be None (one logistic per sub-pixel) or an integer >= 1. "
                f"Received: num_mixtures={num_mixtures!r}"
            )
        self.num_mixtures = None if num_mixtures is None else int(num_mixtures)

    def output_channels(self, channels):
        if self.num_mixtures is None:
            return 2 * channels
        k = self.num_mixtures
        return k * (1 + 2 * channels + channels * (channels - 1) // 2)

    def get_config(self):
        return {"num_mixtures": self.num_mixtures}

    # === Parameters ===

    def _split(self, outputs, channels):
        """Mixture outputs -> (logits (..., K), loc, log_scale (..., C, K), coeffs (..., P, K))."""
        k = self.num_mixtures
        lead = tuple(ops.shape(outputs)[:-1])
        logits = outputs[..., :k]
        # Explicit sizes, not -1: a traced batch of unknown size must keep them static.
        per_component = 2 * channels + channels * (channels - 1) // 2
        params = ops.reshape(outputs[..., k:], lead + (per_component, k))
        loc = params[..., :channels, :]
        log_scale = ops.clip(params[..., channels : 2 * channels, :], MIN_LOG_SCALE, MAX_LOG_SCALE)
        coeffs = ops.tanh(params[..., 2 * channels :, :])
        return logits, loc, log_scale, coeffs

    @staticmethod
    def _coupled_locations(loc, coeffs, x_prev, channels):
        """Each channel's location plus the coefficient-weighted earlier channels of `x_prev`
        (shape (..., C, 1) or (..., C, K)); PixelCNN++'s ordering of the coefficients."""
        rows, c = [loc[..., 0, :]], 0
        for i in range(1, channels):
            shift = 0.0
            for j in range(i):
                shift = shift + coeffs[..., c, :] * x_prev[..., j, :]
                c += 1
            rows.append(loc[..., i, :] + shift)
        return ops.stack(rows, axis=-2)

    # === Likelihood ===

    def _check_outputs(self, x, outputs):
        channels = x.shape[-1]
        wanted = self.output_channels(channels)
        if outputs.shape[-1] != wanted:
            raise ValueError(
                f"The discretized logistic needs {wanted} decoder channels for {channels}-channel "
                f"data; the decoder emits {outputs.shape[-1]}. Build the decoder with "
                f"output_channels=likelihood.output_channels({channels})."
            )

    def nll(self, x, outputs):
        outputs = ops.cast(outputs, "float32")
        x = ops.cast(ops.convert_to_tensor(x), "float32") * 2.0 - 1.0
        self._check_outputs(x, outputs)
        channels = x.shape[-1]
        if self.num_mixtures is None:
            loc, log_scale = outputs[..., :channels], outputs[..., channels:]
            log_scale = ops.clip(log_scale, MIN_LOG_SCALE, MAX_LOG_SCALE)
            return -_sum_over_example(log_logistic_bin_mass(x, loc, log_scale))
        logits, loc, log_scale, coeffs = self._split(outputs, channels)
        x = ops.expand_dims(x, -1)  # (..., C, 1)
        means = self._coupled_locations(loc, coeffs, x, channels)
        per_component = ops.sum(log_logistic_bin_mass(x, means, log_scale), axis=-2)  # (..., K)
        log_weights = logits - ops.logsumexp(logits, axis=-1, keepdims=True)
        return -_sum_over_example(ops.logsumexp(per_component + log_weights, axis=-1))

    def mean(self, outputs):
        """The expected image (the logistics' means, each clipped to [0, 1])."""
        outputs = ops.cast(outputs, "float32")
        if self.num_mixtures is None:
            channels = outputs.shape[-1] // 2
            return ops.clip((outputs[..., :channels] + 1.0) * 0.5, 0.0, 1.0)
        channels = self._channels(outputs.shape[-1])
        logits, loc, _, coeffs = self._split(outputs, channels)
        # Within a component, E[x_i] = loc_i + sum_j c_ij E[x_j] (j < i).
        means = loc
        for _ in range(channels):
            means = self._coupled_locations(loc, coeffs, means, channels)
        weights = ops.expand_dims(ops.softmax(logits, axis=-1), -2)
        return ops.clip((ops.sum(weights * means, axis=-1) + 1.0) * 0.5, 0.0, 1.0)

    def sample(self, outputs, seed=None):
        """Draws 8-bit images `k / 255`: a component per pixel, then the channels in order."""
        outputs = ops.cast(outputs, "float32")
        seed = keras.random.SeedGenerator(seed) if isinstance(seed, (int, type(None))) else seed
        if self.num_mixtures is None:
            channels = outputs.shape[-1] // 2
            loc = outputs[..., :channels]
            log_scale = ops.clip(outputs[..., channels:], MIN_LOG_SCALE, MAX_LOG_SCALE)
            return _quantise(loc + ops.exp(log_scale) * _logistic_noise(ops.shape(loc), seed))
        channels = self._channels(outputs.shape[-1])
        logits, loc, log_scale, coeffs = self._split(outputs, channels)
        gumbel = -ops.log(
            -ops.log(keras.random.uniform(ops.shape(logits), 1e-6, 1 - 1e-6, seed=seed))
        )
        pick = ops.one_hot(ops.argmax(logits + gumbel, axis=-1), self.num_mixtures)
        pick = ops.expand_dims(pick, -2)  # (..., 1, K)
        loc = ops.sum(loc * pick, axis=-1)
        scale = ops.exp(ops.sum(log_scale * pick, axis=-1))
        coeffs = ops.sum(coeffs * pick, axis=-1)
        noise = _logistic_noise(ops.shape(loc), seed)
        # Each channel is quantised as it is drawn and the later channels couple on that
        # 8-bit value, as `nll` couples on the (8-bit) data: samples follow the scored mass.
        draws, values, c = [], [], 0
        for i in range(channels):
            mu = loc[..., i]
            for j in range(i):
                mu = mu + coeffs[..., c] * values[j]
                c += 1
            draws.append(_quantise(mu + scale[..., i] * noise[..., i]))  # k / 255
            values.append(draws[-1] * 2.0 - 1.0)  # the [-1, 1] scale `nll` couples on
        return ops.stack(draws, axis=-1)

    def _channels(self, total):
        k = self.num_mixtures
        for c in range(1, 65):
            if self.output_channels(c) == total:
                return c
        raise ValueError(f"{total} decoder channels fit no channel count for {k} mixtures.")

    # === Data ===

    def check_data(self, x, name="x"):
        x = np.asarray(x)
        off = off_8bit_grid(x)
        if off.any():
            value = float(x[off].flat[0])
            raise ValueError(
                f"likelihood='discretized_logistic' models 8-bit data (values k/255), but "
                f"{off.mean():.1%} of the values of `{name}` are off that grid, e.g. {value:.6g} "
                f"(= {value * BINS:.3f}/255). Quantise it (np.round(x * 255) / 255) if it came "
                "from 8-bit images, or use likelihood='gaussian' for continuous data."
            )
        return x


def _logistic_noise(shape, seed):
    u = keras.random.uniform(shape, 1e-5, 1.0 - 1e-5, seed=seed)
    return ops.log(u) - ops.log1p(-u)


def _quantise(values):
    """`[-1, 1]` scale -> the nearest `k / 255` in [0, 1]."""
    return ops.round(ops.clip((values + 1.0) * 0.5, 0.0, 1.0) * BINS) / BINS


NAMES = ("bernoulli", "gaussian", "discretized_logistic")
ALL_OBJECTS_DICT = {
    "bernoulli": Bernoulli,
    "gaussian": Gaussian,
    "discretized_logistic": DiscretizedLogistic,
}
_REGISTRY = Registry("likelihood", Likelihood, ALL_OBJECTS_DICT, Bernoulli)


def get(identifier=None, **kwargs) -> Likelihood:
    """A `Likelihood` from None (`Bernoulli()`), a name in `NAMES` (with `kwargs` for its
    constructor), a config dict (as `serialize` writes it) or an instance, as `keras.losses.get`.

    >>> get("discretized_logistic")
    DiscretizedLogistic(num_mixtures=None)
    >>> get(None)
    Bernoulli(from_probabilities=False)
    >>> get(serialize(Gaussian(variance="learned")))
    Gaussian(variance='learned')
    """
    return _REGISTRY.get(identifier, **kwargs)


def serialize(likelihood: Likelihood) -> dict:
    """The config dict of `likelihood` (what a model's `get_config` stores)."""
    return _REGISTRY.serialize(likelihood)


def deserialize(config: dict) -> Likelihood:
    """A `Likelihood` from `serialize`'s dict (or a plain `{"class_name", "config"}`)."""
    return _REGISTRY.deserialize(config)
