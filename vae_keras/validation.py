"""Checks of user data at the public surface, with errors that say what to fix.

Backends fail deep inside a traced function when shapes or values are off;
these checks run on NumPy data before any training or inference starts.
"""

import numbers

import numpy as np


def as_float_array(x, name: str) -> np.ndarray:
    """Converts array-like data to a float32 NumPy array, or raises."""
    try:
        array = np.asarray(x)
    except (TypeError, ValueError, RuntimeError) as error:  # ragged lists, grad-tracking tensors
        raise ValueError(f"`{name}` could not be read as an array: {error}") from None
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise ValueError(
            f"`{name}` must hold numbers. Received dtype {array.dtype} "
            f"for `{name}` of shape {array.shape}."
        )
    return array.astype("float32", copy=False)


_DISPLAY_NAMES = {"bernoulli": "Bernoulli"}


def check_data(
    x,
    expected_shape,
    name: str = "x",
    unit_interval: bool = False,
    pixels: bool = False,
    likelihood="bernoulli",
) -> np.ndarray:
    """Validates a batch of examples against a model's per-example shape.

    Args:
        x: Array-like data with a leading batch axis.
        expected_shape: Per-example shape, without the batch axis; `None`
            entries match any size.
        name: How the data is called in error messages.
        unit_interval: Require values in [0, 1] (Bernoulli likelihood).
        pixels: `x` are images: refuse integers above 1 (unscaled 8-bit pixels).
        likelihood: The likelihood that needs [0, 1] (a `likelihoods.Likelihood` or its
            name), named in the message.

    Returns:
        `x` as a float32 NumPy array.

    Raises:
        ValueError: empty data, wrong shape, NaN or inf, or (with
            `unit_interval`) values outside [0, 1]; the message names the
            offending value and the fix.
    """
    array = as_float_array(x, name)
    expected_shape = tuple(expected_shape)
    if array.ndim == 0 or array.shape[0] == 0:
        raise ValueError(f"`{name}` is empty (shape {array.shape}). Pass at least one example.")
    per_example = array.shape[1:]
    if len(per_example) != len(expected_shape) or any(
        e is not None and e != d for e, d in zip(expected_shape, per_example, strict=True)
    ):
        hint = ""
        if (
            len(per_example) == 3 == len(expected_shape)
            and per_example == (expected_shape[2],) + tuple(expected_shape[:2])
            and expected_shape[2] != expected_shape[0]
        ):  # channels first: a reshape would scramble the pixels
            hint = f" It looks channels-first: transpose it, `np.transpose({name}, (0, 2, 3, 1))`."
        elif per_example + (1,) == expected_shape:
            hint = f" Add a channel axis: `{name}[..., None]`."
        elif int(np.prod(per_example)) == int(np.prod([d or 0 for d in expected_shape])):
            hint = f" Reshape it: `{name}.reshape(-1, {', '.join(map(str, expected_shape))})`."
        raise ValueError(
            f"`{name}` has per-example shape {per_example} (full shape {array.shape}), "
            f"but the model expects {expected_shape}.{hint}"
        )
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.argwhere(~finite)[0]
        raise ValueError(
            f"`{name}` contains NaN or inf ({int((~finite).sum())} values; first at index "
            f"{tuple(int(i) for i in bad)}: {array[tuple(bad)]}). Clean or impute the data first."
        )
    if unit_interval:
        # A likelihood object says what it models; a name (the older argument) is looked up.
        label = likelihood if isinstance(likelihood, str) else likelihood.name
        binary = likelihood == "bernoulli" if isinstance(likelihood, str) else likelihood.binary
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 1.0:
            raise ValueError(
                f"`{name}` has values in [{low:g}, {high:g}], but the "
                f"{_DISPLAY_NAMES.get(label, label.replace('_', ' '))} likelihood "
                "needs pixels in [0, 1]. Rescale the data (e.g. `x / 255.0`)"
                + (' or use `likelihood="gaussian"`.' if binary else ".")
            )
    dtype = x.dtype if isinstance(x, np.ndarray) else np.asarray(x).dtype
    high = float(array.max()) if pixels else 0.0
    if (
        not unit_interval
        and 1 < high <= 255
        and (np.issubdtype(dtype, np.integer) or bool((array == np.round(array)).all()))
    ):
        # 8-bit pixels: a Gaussian likelihood would train to NaN on them without a word.
        raise ValueError(
            f"`{name}` holds integers in [{array.min():g}, {high:g}] (dtype "
            f"{dtype}), which look like 8-bit pixels. Scale them to [0, 1] "
            f"first: `{name}.astype('float32') / 255`."
        )
    return array


def check_non_negative(value, name: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a number. Received: {name}={value!r}") from None
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"`{name}` must be a finite number >= 0. Received: {name}={value!r}")
    return value


def check_positive_int(value, name: str) -> int:
    """`value` as an int when it is a positive integer (NumPy integers too), else raises."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    if int(value) < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)
