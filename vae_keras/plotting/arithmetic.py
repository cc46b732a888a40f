"""Latent arithmetic: attribute vectors and the "add a smile" pictures.

An attribute vector is the mean code of the examples that have an attribute
minus the mean code of those that do not (White 2016, "Sampling generative
networks"; the CelebA figures of the slides). Adding multiples of it to an
image's code and decoding adds (or removes) the attribute.
"""

import math

import numpy as np

from vae_keras.models.capabilities import input_shape
from vae_keras.plotting._common import as_images, check_int, encode_mean, finish
from vae_keras.plotting.grids import _title, grid_figure, image_grid

DEFAULT_STEPS = (-2.0, -1.0, 0.0, 1.0, 2.0)
# Default on-screen size of one image: small images are upscaled (nearest
# neighbour, integer factor) until they are about this many pixels tall.
_TARGET_PX = 96


def _codes(model, x, batch_size: int) -> np.ndarray:
    """z_mean of `x`, in batches (any model whose `encode` takes a batch)."""
    batch_size = check_int(batch_size, "batch_size")
    x = np.asarray(x, "float32")
    return np.concatenate(
        [encode_mean(model, x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    )


def _batch(model, x, name: str = "x") -> np.ndarray:
    """`x` as a batch: one example (the model's input shape) gets a batch axis."""
    x = np.asarray(x, "float32")
    shape = input_shape(model)
    if shape is not None and x.shape == shape:
        x = x[None]
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(
            f"`{name}` must be a non-empty batch of examples. Received shape {x.shape}."
        )
    return x


def _steps(steps) -> np.ndarray:
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool):
        count = check_int(steps, "steps")
        return (
            np.linspace(-2.0, 2.0, count, dtype="float32") if count > 1 else np.zeros(1, "float32")
        )
    try:
        values = np.asarray(steps, "float32").reshape(-1)
    except (TypeError, ValueError):
        values = np.zeros(0)
    if len(values) == 0 or not np.isfinite(values).all():
        raise ValueError(
            "`steps` must be a count or a non-empty list of finite multiples of the vector, "
            f"e.g. (-2, -1, 0, 1, 2). Received: steps={steps!r}"
        )
    return values


def attribute_vector(model, x, has_attribute, batch_size: int = 256) -> np.ndarray:
    """Mean code of the examples with an attribute minus that of those without.

    Codes are the deterministic `z_mean` of `model.encode(x)`.

    Args:
        model: A model with `encode` (e.g. `VAE`).
        x: A batch of examples.
        has_attribute: Boolean array, one entry per example of `x`.
        batch_size: Examples encoded at a time.

    Returns:
        A float32 array of shape `(latent_dim,)`.

    Example:

    >>> import numpy as np
    >>> class Identity:  # stands in for a VAE: the code is the input
    ...     def encode(self, x):
    ...         return np.asarray(x), np.zeros_like(x)
    >>> x = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 1.0]])
    >>> attribute_vector(Identity(), x, [True, True, False]).tolist()
    [2.0, -1.0]
    """
    x = _batch(model, x)
    mask = np.asarray(has_attribute)
    if mask.dtype != bool:
        if mask.dtype.kind not in "iuf" or not np.isin(mask, (0, 1)).all():
            raise ValueError(
                "`has_attribute` must be a boolean array (or 0/1), one entry per example. "
                f"Received values of dtype {mask.dtype}: {np.unique(mask)[:5]!r}"
            )
        mask = mask.astype(bool)
    if mask.shape != (len(x),):
        raise ValueError(
            f"`has_attribute` must have one entry per example: x has {len(x)} examples. "
            f"Received has_attribute of shape {mask.shape}."
        )
    with_count, without_count = int(mask.sum()), int((~mask).sum())
    if with_count == 0 or without_count == 0:
        raise ValueError(
            "Both groups need examples: an attribute vector is the mean code of the "
            "examples with the attribute minus the mean code of those without. Received "
            f"{with_count} with and {without_count} without."
        )
    z = _codes(model, x, batch_size).astype("float64")
    return (z[mask].mean(axis=0) - z[~mask].mean(axis=0)).astype("float32")


def apply_attribute(model, x, vector, steps=DEFAULT_STEPS, batch_size: int = 256) -> np.ndarray:
    """Decodes `z_mean(x) + s * vector` for every example and step `s`.

    Args:
        model: A model with `encode` and `decode` (e.g. `VAE`).
        x: A batch of examples (or one example).
        vector: An attribute vector of shape `(latent_dim,)`, e.g. from
            `attribute_vector`.
        steps: Multiples of `vector` to add, or a count `n` for `n` values
            evenly spaced from -2 to 2.
        batch_size: Examples encoded (and codes decoded) at a time.

    Returns:
        The decoded data-space array (probabilities or means) of shape
        `(n, len(steps), *example_shape)`; `[:, j]` is step `steps[j]`.

    Example:

    >>> import numpy as np
    >>> class Identity:  # stands in for a VAE: code = input, decode = code
    ...     def encode(self, x):
    ...         return np.asarray(x), np.zeros_like(x)
    ...     def decode(self, z):
    ...         return np.asarray(z)
    >>> out = apply_attribute(Identity(), np.zeros((2, 3)), [1.0, 0.0, -1.0], steps=(0, 2))
    >>> out.shape, out[0, 1].tolist()
    ((2, 2, 3), [2.0, 0.0, -2.0])
    """
    x = _batch(model, x)
    values = _steps(steps)
    z = _codes(model, x, batch_size)
    vector = np.asarray(vector, "float32")
    if vector.shape != z.shape[1:]:
        raise ValueError(
            f"`vector` must have the latent shape {z.shape[1:]} of the model's codes. "
            f"Received shape {vector.shape}."
        )
    codes = (z[:, None, :] + values[None, :, None] * vector).reshape(-1, z.shape[1])
    batch_size = check_int(batch_size, "batch_size")
    decoded = np.concatenate(
        [
            np.asarray(model.decode(codes[i : i + batch_size]), "float32")
            for i in range(0, len(codes), batch_size)
        ]
    )
    return decoded.reshape((len(x), len(values)) + decoded.shape[1:])


def attribute_arithmetic(
    model,
    x,
    vector,
    steps=DEFAULT_STEPS,
    show_original: bool = True,
    scale: int | None = None,
    dpi: int = 100,
    title: str | None = None,
    path=None,
):
    """A figure of latent arithmetic: one row per image, one column per step.

    Column `j` shows `decode(z_mean(x) + steps[j] * vector)` and is labelled
    with the step; with `show_original`, a first column "x" shows the input.
    Step 0 is the plain reconstruction.

    Args:
        model: A model with `encode` and `decode` (e.g. `VAE`).
        x: A batch of images (or one image).
        vector: An attribute vector of shape `(latent_dim,)`.
        steps: Multiples of `vector`, or a count (evenly from -2 to 2).
        show_original: Whether the first column shows the input.
        scale: Screen pixels per image pixel (nearest neighbour, so small
            images stay sharp); default: images about 96 px tall (32 px ->
            3, 64 px -> 2).
        dpi: Figure resolution.
        title: Optional title.
        path: When given, the figure is also saved there (atomically).

    Returns:
        A `matplotlib.figure.Figure`.

    Example:

    >>> import numpy as np
    >>> class Identity:  # code = the pixels; decode = the code as an image
    ...     def encode(self, x):
    ...         z = np.asarray(x).reshape(len(x), -1)
    ...         return z, np.zeros_like(z)
    ...     def decode(self, z):
    ...         return np.asarray(z).reshape(-1, 4, 4, 3)
    >>> x = np.full((2, 4, 4, 3), 0.5, "float32")
    >>> red = np.tile([0.2, 0.0, -0.2], 16)
    >>> fig = attribute_arithmetic(Identity(), x, red, steps=3)
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['x', '-2', '0', '2']
    """
    x = _batch(model, x)
    values = _steps(steps)
    decoded = apply_attribute(model, x, vector, values)
    n, k = decoded.shape[:2]
    images = as_images(decoded.reshape((n * k,) + decoded.shape[2:]), "decoded images")
    labels = [f"{v:g}" for v in np.round(values, 2)]
    if show_original:
        originals = as_images(x, "x")
        if originals.shape[1:] != images.shape[1:]:
            raise ValueError(
                f"The decoded images have shape {images.shape[1:]} but `x` has "
                f"{originals.shape[1:]}; pass show_original=False to draw the steps only."
            )
        images = np.concatenate([originals[:, None], images.reshape((n, k) + images.shape[1:])], 1)
        images = images.reshape((-1,) + images.shape[2:])
        labels, k = ["x"] + labels, k + 1
    h, w = images.shape[1:3]
    scale = max(1, math.ceil(_TARGET_PX / max(h, w))) if scale is None else scale
    grid = image_grid(images, ncols=k)
    top = 24 if title else 0
    fig, ax = grid_figure(grid, scale=scale, dpi=dpi, top_px=top + 16)
    ax.xaxis.tick_top()
    ax.set_xticks([j * (w + 1) + w / 2 - 0.5 for j in range(k)])
    ax.set_xticklabels(labels, fontsize="x-small")
    ax.tick_params(length=0, pad=2)
    _title(fig, ax, title, top)
    return finish(fig, path)
