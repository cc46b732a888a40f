"""Pictures decoded from chosen latent codes: manifold, traversals, interpolation."""

import numpy as np

from vae_keras.models.capabilities import input_shape, require
from vae_keras.plotting._common import as_images, check_int, encode_mean, finish
from vae_keras.plotting.grids import _title, grid_figure, image_grid
from vae_keras.plotting.latent import _check_dims


def _latent_dim(model, purpose: str) -> int:
    require(model, "latent_vector", purpose)
    return int(model.latent_dim)


def _decode(model, z):
    return as_images(model.decode(np.asarray(z, "float32")), "decoded images")


def _single_code(model, x, name):
    """z_mean of one example `x` (per-example shape, or a batch of one)."""
    x = np.asarray(x, "float32")
    shape = input_shape(model, default=x.shape)
    if x.shape == shape:
        x = x[None]
    if len(x) != 1:
        raise ValueError(
            f"`{name}` must be one example of shape {shape} (or a batch of one). "
            f"Received shape {x.shape}."
        )
    return encode_mean(model, x, name)[0]


def manifold_grid(
    n: int = 20,
    latent_dim: int = 2,
    dims=(0, 1),
    quantiles=(0.05, 0.95),
    center=None,
    ppf=None,
):
    """Latent codes of the 2-D manifold picture (Kingma & Welling 2014, Fig. 4).

    Evenly spaced quantiles `q = np.linspace(quantiles[0], quantiles[1], n)`
    are mapped through the inverse Gaussian CDF, `v = scipy.stats.norm.ppf(q)`,
    so the grid covers the prior N(0, 1) with equal probability mass per
    cell. Other dimensions are held at `center` (default 0). `ppf(q, dim)`
    replaces the inverse CDF by a model's prior marginal (`model.prior_quantiles`).

    Returns:
        `(n * n, latent_dim)` float32 codes in row-major picture order: code
        `r * n + c` has `z[dims[0]] = v[c]` (left to right) and
        `z[dims[1]] = v[n - 1 - r]` (top row highest, like a plot's y axis).

    Example:

    >>> z = manifold_grid(3)
    >>> z.shape
    (9, 2)
    """
    from scipy.stats import norm

    n = check_int(n, "n")
    latent_dim = check_int(latent_dim, "latent_dim")
    dims = _check_dims(dims, latent_dim)
    if len(dims) != 2 or dims[0] == dims[1]:
        raise ValueError(f"`dims` must be two different dimensions. Received: dims={dims!r}")
    low, high = (float(q) for q in quantiles)
    if not 0.0 < low < high < 1.0:
        raise ValueError(
            f"`quantiles` must satisfy 0 < low < high < 1. Received: quantiles={quantiles!r}"
        )
    levels = np.linspace(low, high, n)
    ppf = ppf or (lambda q, dim: norm.ppf(q))
    x_values, y_values = (np.asarray(ppf(levels, d), "float64") for d in dims)
    base = np.zeros(latent_dim) if center is None else np.asarray(center, "float64").reshape(-1)
    if base.shape != (latent_dim,):
        raise ValueError(
            f"`center` must have latent_dim={latent_dim} entries. Received shape {base.shape}."
        )
    z = np.tile(base, (n, n, 1))
    z[:, :, dims[0]] = x_values[None, :]
    z[:, :, dims[1]] = y_values[::-1, None]
    return z.reshape(n * n, latent_dim).astype("float32")


def latent_manifold(
    model,
    n: int = 20,
    dims=(0, 1),
    quantiles=(0.05, 0.95),
    center=None,
    scale: int | None = None,
    dpi: int = 100,
    path=None,
):
    """Decodes an `n x n` grid of latent codes spread by the prior's inverse CDF.

    The picture of Kingma & Welling (2014), Fig. 4: see `manifold_grid` for
    the codes. Tiles touch (no padding) so a smooth manifold reads as one
    image; the axes are labelled with the `z` values.

    Args:
        model: A model with `decode`, `latent_dim >= 2` and `prior_quantiles` (every
            `LatentModel`, e.g. `VAE`).
        n: Tiles per side.
        dims: The two latent dimensions that vary (x axis, y axis).
        quantiles: Lowest and highest prior quantile on each axis.
        center: Values of the other dimensions (default: the prior's medians, 0 for
            N(0, I)).
        scale: Screen pixels per image pixel (None: automatic, small images upscaled).
        dpi: Figure resolution.
        path: When given, the figure is also saved there (atomically).

    The quantiles are the model's prior marginals (`model.prior_quantiles`:
    `norm.ppf` for N(0, I), the mixture's CDF inverted for the learned priors).

    Returns:
        A `matplotlib.figure.Figure`.
    """
    latent_dim = _latent_dim(model, "latent_manifold")
    if latent_dim < 2:
        raise ValueError(
            f"The manifold picture needs latent_dim >= 2. Received a model with "
            f"latent_dim={latent_dim}; use `latent_traversals` instead."
        )
    if center is None:  # the prior's medians (0 for N(0, I))
        center = [float(model.prior_quantiles(0.5, d)) for d in range(latent_dim)]
    z = manifold_grid(n, latent_dim, dims, quantiles, center, ppf=model.prior_quantiles)
    images = _decode(model, z)
    grid = image_grid(images, ncols=n, padding=0)
    h, w = images.shape[1:3]
    fig, ax = grid_figure(grid, scale=scale, dpi=dpi, left_px=56, top_px=12, bottom_px=44)
    values = z.reshape(n, n, latent_dim)[0, :, dims[0]]
    y_values = z.reshape(n, n, latent_dim)[::-1, 0, dims[1]]  # bottom row first
    ticks = np.unique(np.round(np.linspace(0, n - 1, min(n, 9))).astype(int))
    ax.set_xticks([j * w + w / 2 - 0.5 for j in ticks])
    ax.set_xticklabels([f"{values[j]:.2f}" for j in ticks], fontsize="x-small")
    ax.set_yticks([i * h + h / 2 - 0.5 for i in ticks])
    ax.set_yticklabels([f"{y_values[n - 1 - i]:.2f}" for i in ticks], fontsize="x-small")
    ax.set_xlabel(f"z[{dims[0]}]", fontsize="small")
    ax.set_ylabel(f"z[{dims[1]}]", fontsize="small")
    return finish(fig, path)


def latent_traversals(
    model,
    x=None,
    dims=None,
    values=None,
    scale: int | None = None,
    dpi: int = 100,
    path=None,
    labels=None,
):
    """One row per latent dimension, sweeping it over `values` with the others fixed.

    Args:
        model: A model with `decode` and `latent_dim` (and `encode` with `x`).
        x: One example whose `z_mean` fixes the other dimensions; default:
            all zeros (the prior mean).
        dims: Dimensions to traverse, one row each (default: the first 10).
        values: Values each traversed dimension takes, one column each (default:
            nine values from -3 to 3).
        scale: Screen pixels per image pixel.
        dpi: Figure resolution.
        path: When given, the figure is also saved there (atomically).
        labels: One label per row instead of `z[d]` (e.g. the factor each
            dimension best explains, from `disentanglement.best_factors`).

    Returns:
        A `matplotlib.figure.Figure`; rows are labelled `z[d]`, columns by value.
    """
    latent_dim = _latent_dim(model, "latent_traversals")
    dims = _check_dims(dims, latent_dim) if dims is not None else list(range(min(latent_dim, 10)))
    values = np.linspace(-3.0, 3.0, 9) if values is None else values
    values = np.asarray(values, "float32").reshape(-1)
    if len(values) == 0 or not np.isfinite(values).all():
        raise ValueError(f"`values` must be a non-empty finite list. Received: {values!r}")
    base = np.zeros(latent_dim, "float32") if x is None else _single_code(model, x, "x")
    z = np.tile(base, (len(dims), len(values), 1))
    for row, d in enumerate(dims):
        z[row, :, d] = values
    images = _decode(model, z.reshape(-1, latent_dim))
    grid = image_grid(images, ncols=len(values))
    h, w = images.shape[1:3]
    if labels is None:
        labels = [f"z[{d}]" for d in dims]
    elif len(labels) != len(dims):
        raise ValueError(
            f"`labels` needs one label per row ({len(dims)}). Received {len(labels)} labels."
        )
    left = max(40, 6 * max(len(str(label)) for label in labels) + 8)
    fig, ax = grid_figure(grid, scale=scale, dpi=dpi, left_px=left, top_px=18)
    ax.xaxis.tick_top()
    ax.set_xticks([j * (w + 1) + w / 2 - 0.5 for j in range(len(values))])
    ax.set_xticklabels([f"{v:g}" for v in np.round(values, 2)], fontsize="x-small")
    ax.set_yticks([i * (h + 1) + h / 2 - 0.5 for i in range(len(dims))])
    ax.set_yticklabels([str(label) for label in labels], fontsize="x-small")
    ax.tick_params(length=0, pad=2)
    return finish(fig, path)


def interpolation(
    model,
    x_a,
    x_b,
    steps: int = 10,
    scale: int | None = None,
    dpi: int = 100,
    title: str | None = None,
    path=None,
):
    """Latent-space versus pixel-space interpolation between two examples.

    Top row: `decode((1 - t) * z_a + t * z_b)` with `z = z_mean`; bottom
    row: `(1 - t) * x_a + t * x_b`; `t = np.linspace(0, 1, steps)`. A good
    VAE morphs one digit into the other; pixel space cross-fades.

    Args:
        model: A model with `encode` and `decode`.
        x_a, x_b: One example each (per-example shape or a batch of one).
        steps: Images per row, endpoints included.
        scale: Screen pixels per image pixel.
        dpi: Figure resolution.
        title: Optional title.
        path: When given, the figure is also saved there (atomically).

    Returns:
        A `matplotlib.figure.Figure` with rows labelled "latent" and "pixel".
    """
    steps = check_int(steps, "steps", minimum=2)
    t = np.linspace(0.0, 1.0, steps, dtype="float32")[:, None]
    z_a, z_b = _single_code(model, x_a, "x_a"), _single_code(model, x_b, "x_b")
    latent_row = _decode(model, (1 - t) * z_a[None] + t * z_b[None])
    a = np.asarray(x_a, "float32").reshape((1,) + latent_row.shape[1:])
    b = np.asarray(x_b, "float32").reshape((1,) + latent_row.shape[1:])
    pixel_row = as_images((1 - t[:, :, None, None]) * a + t[:, :, None, None] * b)
    grid = image_grid(np.concatenate([latent_row, pixel_row]), ncols=steps)
    h = latent_row.shape[1]
    top = 24 if title else 0
    fig, ax = grid_figure(grid, scale=scale, dpi=dpi, left_px=44, top_px=top)
    ax.set_yticks([h / 2 - 0.5, h + 1 + h / 2 - 0.5])
    ax.set_yticklabels(["latent", "pixel"], fontsize="x-small")
    ax.tick_params(length=0, pad=2)
    _title(fig, ax, title, top)
    return finish(fig, path)
