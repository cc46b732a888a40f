"""Pictures of the latent codes themselves: scatter (with projection) and histograms."""

import numpy as np

from vae_keras.plotting._common import check_int, finish, latent_codes, new_figure

METHODS = ("auto", "tsne", "pca")
_MAX_LEGEND_CLASSES = 20


def project_2d(z, method: str = "auto", seed: int = 0):
    """Projects `(N, d)` codes to 2-D; returns `(points, axis_names)`.

    `d <= 2` with `"auto"` is drawn as is (1-D codes get a jitter axis);
    above 2 dims `"auto"` means t-SNE. `"pca"` and `"tsne"` use scikit-learn.
    """
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}. Received: method={method!r}")
    z = np.asarray(z, "float64")
    d = z.shape[1]
    if d == 1:
        jitter = np.random.default_rng(seed).uniform(-0.5, 0.5, size=len(z))
        return np.stack([z[:, 0], jitter], axis=1), ("z[0]", "jitter")
    if method == "auto":
        method = "tsne" if d > 2 else None
    if method is None:
        return z, ("z[0]", "z[1]")
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(z), ("PC 1", "PC 2")
    from sklearn.manifold import TSNE

    if len(z) < 4:
        raise ValueError(f"t-SNE needs at least 4 points. Received {len(z)}; use method='pca'.")
    perplexity = min(30.0, (len(z) - 1) / 3.0)
    tsne = TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=seed)
    return tsne.fit_transform(z), ("t-SNE 1", "t-SNE 2")


def latent_scatter(
    model_or_z,
    x=None,
    labels=None,
    method: str = "auto",
    max_points: int | None = 5000,
    seed: int = 0,
    figsize=(6, 6),
    point_size: float = 4.0,
    title: str | None = None,
    path=None,
):
    """Scatter plot of latent means, coloured by label.

    Args:
        model_or_z: A model with `encode` (then `x` is required and its
            `z_mean` is drawn) or an array of codes `(N, latent_dim)`.
        x: Data to encode when a model is given.
        labels: Optional `(N,)` labels. Integer labels (up to 20 classes) get
            a discrete palette and a legend; other values a colour bar.
        method: `"auto"` (2-D codes drawn as is, above 2 dims t-SNE), `"tsne"`
            or `"pca"` (scikit-learn) for the 2-D projection.
        max_points: Draw (and project) a seeded random subset of at most this
            many points; `None` for all. t-SNE on 60000 points takes minutes.
        seed: Seed of the subset, the jitter (1-D codes) and the projection.
        figsize: Figure size in inches.
        point_size: Marker area.
        title: Optional title.
        path: When given, the figure is also saved there (atomically).

    Returns:
        A `matplotlib.figure.Figure`: one axes, plus a colour-bar axes for
        continuous labels.

    Example:

    >>> z = np.random.default_rng(0).normal(size=(100, 2))
    >>> fig = latent_scatter(z, labels=np.arange(100) % 3)
    >>> len(fig.axes)
    1
    """
    z = latent_codes(model_or_z, x)
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(z):
            raise ValueError(f"`labels` has {len(labels)} entries but there are {len(z)} codes.")
    if max_points is not None and len(z) > check_int(max_points, "max_points"):
        keep = np.sort(np.random.default_rng(seed).choice(len(z), max_points, replace=False))
        z = z[keep]
        labels = None if labels is None else labels[keep]
    points, names = project_2d(z, method, seed)

    fig = new_figure(figsize)
    ax = fig.add_subplot(1, 1, 1)
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=point_size, alpha=0.6, linewidths=0)
    elif _is_discrete(labels):
        classes = np.unique(labels)
        cmap = _palette(len(classes))
        for i, c in enumerate(classes):
            sel = labels == c
            ax.scatter(
                points[sel, 0],
                points[sel, 1],
                s=point_size,
                alpha=0.7,
                linewidths=0,
                color=cmap(i),
                label=str(c),
            )
        ax.legend(markerscale=3.0, fontsize="small", loc="best", framealpha=0.8, title="label")
    else:
        sc = ax.scatter(
            points[:, 0],
            points[:, 1],
            s=point_size,
            c=labels.astype("float64"),
            cmap="viridis",
            alpha=0.7,
            linewidths=0,
        )
        fig.colorbar(sc, ax=ax, label="label")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title(title or f"latent means ({len(z)} points)")
    fig.tight_layout()
    return finish(fig, path)


def _is_discrete(labels) -> bool:
    if labels.dtype.kind in "biuUSO":
        return len(np.unique(labels)) <= _MAX_LEGEND_CLASSES
    return False


def _palette(n):
    import matplotlib

    return matplotlib.colormaps["tab10" if n <= 10 else "tab20"]


def latent_histograms(
    model_or_z, x=None, dims=None, bins: int = 50, ncols: int = 4, panel_size=(2.5, 2.0), path=None
):
    """Histograms of each latent dimension's `z_mean`, against the N(0, 1) density.

    The aggregate posterior of a well-trained VAE roughly matches its prior;
    collapsed (inactive) dimensions show up as a spike at 0.

    Args:
        model_or_z: A model with `encode` (then `x` is required) or codes
            `(N, latent_dim)`.
        x: Data to encode when a model is given.
        dims: Dimensions to draw (default: all).
        bins: Histogram bins.
        ncols: Panels per row.
        panel_size: Size of one panel in inches.
        path: When given, the figure is also saved there (atomically).

    Returns:
        A `matplotlib.figure.Figure` with exactly one axes per dimension.

    Example:

    >>> fig = latent_histograms(np.random.default_rng(0).normal(size=(500, 3)))
    >>> len(fig.axes)
    3
    """
    from scipy.stats import norm

    z = latent_codes(model_or_z, x)
    dims = _check_dims(dims, z.shape[1])
    ncols = min(check_int(ncols, "ncols"), len(dims))
    nrows = int(np.ceil(len(dims) / ncols))
    fig = new_figure((panel_size[0] * ncols, panel_size[1] * nrows))
    grid = np.linspace(-4.0, 4.0, 201)
    for i, d in enumerate(dims):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        values = z[:, d]
        low, high = min(-4.0, values.min()), max(4.0, values.max())
        ax.hist(values, bins=bins, range=(low, high), density=True, alpha=0.6, label="z_mean")
        ax.plot(grid, norm.pdf(grid), color="black", linewidth=1.0, label="N(0, 1)")
        ax.set_title(f"z[{d}]  mean {values.mean():.2f}  sd {values.std():.2f}", fontsize="small")
        ax.tick_params(labelsize="x-small")
        if i == 0:
            ax.legend(fontsize="x-small")
    fig.tight_layout()
    return finish(fig, path)


def _check_dims(dims, latent_dim):
    if dims is None:
        return list(range(latent_dim))
    dims = [dims] if isinstance(dims, (int, np.integer)) else list(dims)
    if not dims:
        raise ValueError("`dims` must name at least one latent dimension. Received: dims=[]")
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not 0 <= d < latent_dim:
            raise ValueError(
                f"`dims` entries must be integers in [0, {latent_dim}) "
                f"(latent_dim={latent_dim}). Received: dims={dims!r}"
            )
    return [int(d) for d in dims]
