"""Argument checks shared by the network factories."""

import math
import numbers

from vae_keras.validation import check_positive_int  # noqa: F401  (the factories import it here)


def check_shape(shape, name, min_rank=1, max_rank=3):
    """Returns `shape` as a tuple of positive ints, or raises a clear error."""
    if isinstance(shape, int):
        shape = (shape,)
    try:
        shape = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"`{name}` must be a tuple of positive integers such as (28, 28, 1). "
            f"Received: {name}={shape!r}"
        ) from None
    if not min_rank <= len(shape) <= max_rank or any(d <= 0 for d in shape):
        raise ValueError(
            f"`{name}` must be a tuple of {min_rank} to {max_rank} positive "
            f"integers (no batch axis). Received: {name}={shape!r}"
        )
    return shape


def check_units(units, name):
    """Returns a tuple of positive layer widths (an int is one layer)."""
    if isinstance(units, numbers.Integral):
        units = (units,)
    return tuple(check_positive_int(u, f"{name} entries") for u in units)


def flat_size(shape):
    return math.prod(shape)
