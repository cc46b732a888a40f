"""Training-time input corruption for denoising autoencoders (keras.ops only).

Vincent et al. (2008): corrupt the input, reconstruct the clean example. The
models call `corrupt` inside `compute_losses` only when `training=True`, with
their own `SeedGenerator`, so it runs inside the traced train step on every
backend and never touches `evaluate`, `encode` or `reconstruct`.
"""

import math

import keras
from keras import ops

CORRUPTIONS = (None, "gaussian", "mask")


def check_corruption(corruption, corruption_level):
    """Validates the pair; returns `corruption_level` as a float."""
    if corruption not in CORRUPTIONS:
        raise ValueError(
            f"`corruption` must be one of {CORRUPTIONS}. Received: corruption={corruption!r}"
        )
    try:
        level = float(corruption_level)
    except (TypeError, ValueError):
        raise ValueError(
            f"`corruption_level` must be a number. Received: corruption_level={corruption_level!r}"
        ) from None
    if not math.isfinite(level) or level < 0:
        raise ValueError(
            f"`corruption_level` must be a finite number >= 0. "
            f"Received: corruption_level={corruption_level!r}"
        )
    if corruption == "mask" and not level < 1.0:
        raise ValueError(
            "With corruption='mask', `corruption_level` is the probability of zeroing a "
            f"pixel and must be < 1. Received: corruption_level={corruption_level!r}"
        )
    return level


def corrupt(x, corruption, level, seed, clip=True):
    """Returns a corrupted copy of the batch `x`.

    Args:
        x: A batch of examples.
        corruption: `"gaussian"`: adds `N(0, level^2)` noise to every value
            (then clips to [0, 1] when `clip`); `"mask"`: sets every value to
            0 independently with probability `level` (no rescaling, unlike
            `Dropout`: a missing pixel reads as background). `None`: `x`.
        level: Noise standard deviation, or masking probability.
        seed: A `keras.random.SeedGenerator` (or an integer seed).
        clip: Clip Gaussian-corrupted values to [0, 1] (data in the unit
            interval, as the Bernoulli likelihood requires).
    """
    x = ops.cast(ops.convert_to_tensor(x), "float32")
    if corruption is None or level == 0:
        return x
    if corruption == "gaussian":
        noisy = x + level * keras.random.normal(ops.shape(x), dtype="float32", seed=seed)
        return ops.clip(noisy, 0.0, 1.0) if clip else noisy
    keep = keras.random.uniform(ops.shape(x), dtype="float32", seed=seed) >= level
    return ops.where(keep, x, ops.zeros_like(x))
