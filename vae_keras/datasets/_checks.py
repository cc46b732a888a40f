"""Argument checks shared by the dataset loaders."""

import numpy as np

from vae_keras.validation import check_positive_int  # noqa: F401  (the loaders import it here)


def is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def image_size_pair(image_size, name: str = "image_size") -> tuple[int, int]:
    """`N` or `(height, width)` of positive integers -> `(height, width)`."""
    if is_int(image_size) and image_size > 0:
        return int(image_size), int(image_size)
    if (
        isinstance(image_size, (tuple, list))
        and len(image_size) == 2
        and all(is_int(s) and s > 0 for s in image_size)
    ):
        return int(image_size[0]), int(image_size[1])
    raise ValueError(
        f"`{name}` must be a positive integer or a tuple (height, width) of positive "
        f"integers. Received: {name}={image_size!r}"
    )


def check_choice(value, name: str, choices) -> str:
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ValueError(f"`{name}` must be one of {valid}. Received: {name}={value!r}")
    return value
