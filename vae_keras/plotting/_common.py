"""Shared helpers of the plots: lazy matplotlib, atomic saving, input checks.

Figures are `matplotlib.figure.Figure` objects built without pyplot: they
render headless (Agg) on any machine, never switch the user's interactive
backend, and are not kept alive by pyplot's global figure list (a callback
drawing every epoch does not leak memory). In Jupyter, a returned figure
still displays inline.
"""

import contextlib
import os
import uuid

import numpy as np

from vae_keras.models.capabilities import capabilities

IMAGE_CHANNELS = (1, 3, 4)


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path next to `path`; renames it onto `path` on success.

    Readers (a browser, TensorBoard, a test) never see a half-written file.
    The temporary file is created by the writer itself, so the result gets
    the usual permissions (umask), not the private 0600 of `mkstemp`.
    """
    path = os.fspath(path)
    directory, name = os.path.split(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    suffix = os.path.splitext(name)[1]
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def new_figure(figsize, dpi: int = 100):
    """A pyplot-free matplotlib Figure: renders with Agg, needs no display.

    No `matplotlib.use(...)` call is needed (or made): a bare `Figure`
    saves through the Agg canvas whatever backend is configured, so a
    user's interactive or notebook backend is left alone.
    """
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, dpi=dpi)


def finish(fig, path=None, dpi=None):
    """Saves `fig` to `path` (atomically) when given; returns `fig`."""
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi or fig.dpi, format=_format_of(path))
    return fig


def _format_of(path) -> str:
    ext = os.path.splitext(os.fspath(path))[1].lstrip(".").lower()
    if not ext:
        raise ValueError(f"`path` needs a file extension such as .png. Received: path={path!r}")
    return ext


def as_images(images, name: str = "images") -> np.ndarray:
    """Returns images as float32 `(N, H, W, C)` in [0, 1], C in {1, 3, 4}.

    Accepts `(N, H, W)` (gray), `(N, H, W, C)` and flat `(N, D)` vectors
    when `D` is a perfect square (shown as `sqrt(D) x sqrt(D)` gray images).
    Values are clipped to [0, 1] (Gaussian decoders may overshoot).
    """
    try:
        images = np.asarray(images, dtype="float32")
    except (TypeError, ValueError) as error:
        raise ValueError(f"`{name}` could not be read as a float array: {error}") from None
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(
                f"`{name}` holds flat vectors of size {images.shape[1]}, which is not a square "
                f"image. Reshape it to (N, height, width, channels). Received shape {images.shape}."
            )
        images = images.reshape(-1, side, side, 1)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(
            f"`{name}` must be shaped (N, height, width[, channels]) with N >= 1. "
            f"Received shape {images.shape}."
        )
    if images.shape[-1] not in IMAGE_CHANNELS:
        raise ValueError(
            f"`{name}` must have 1 (gray), 3 (RGB) or 4 (RGBA) channels. "
            f"Received {images.shape[-1]} channels (shape {images.shape})."
        )
    if not np.isfinite(images).all():
        raise ValueError(f"`{name}` contains NaN or inf; cannot draw it.")
    return np.clip(images, 0.0, 1.0)


def is_model(obj) -> bool:
    """Whether `obj` is a model (declares, or offers, `encode` and `decode`)."""
    declared = capabilities(obj)
    return declared.encode and declared.decode


def encode_mean(model, x, name: str = "x", **kwargs) -> np.ndarray:
    """`z_mean` of `x` under `model` (a VAE's `encode` returns a pair; an AE's a code)."""
    if x is None:
        raise ValueError(
            f"Pass the data to encode: `{name}=` is required when the first argument is a model."
        )
    encoded = model.encode(x, **kwargs)
    z = encoded[0] if isinstance(encoded, (tuple, list)) else encoded
    return np.asarray(z, dtype="float32")


def latent_codes(model_or_z, x=None) -> np.ndarray:
    """Latent means from a model and data, or a `(N, latent_dim)` array as given."""
    if is_model(model_or_z):
        z = encode_mean(model_or_z, x)
    else:
        if x is not None:
            raise ValueError(
                "`x` is only used with a model; the first argument is already an array "
                f"of latent codes (type {type(model_or_z).__name__})."
            )
        z = np.asarray(model_or_z, dtype="float32")
    if z.ndim == 1:
        z = z[:, None]
    if z.ndim != 2 or len(z) == 0:
        raise ValueError(
            f"Latent codes must be shaped (N, latent_dim) with N >= 1. Received shape {z.shape}."
        )
    return z


def check_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")
    return int(value)


def image_axes(fig, grid, rect=(0.0, 0.0, 1.0, 1.0)):
    """Draws an `(H, W, C)` grid in [0, 1] on a frameless axes filling `rect`."""
    ax = fig.add_axes(rect)
    if grid.shape[-1] == 1:
        ax.imshow(grid[..., 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(grid, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    return ax
