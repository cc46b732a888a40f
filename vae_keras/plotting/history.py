"""Training curves: total loss, reconstruction and KL terms, train and validation."""

import numpy as np

from vae_keras.plotting._common import finish, new_figure

PANELS = (
    ("loss", "total loss (negative ELBO)"),
    ("reconstruction_loss", "reconstruction (nats)"),
    ("kl_loss", "KL (nats)"),
    ("beta", "beta"),
)


def history_dict(history) -> dict:
    """The `{name: [per-epoch values]}` dict of a keras `History` or a plain dict."""
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict):
        raise ValueError(
            "`history` must be a keras History (what `fit` returns) or a dict of "
            f"per-epoch lists. Received: {type(history).__name__}"
        )
    return {str(k): np.asarray(v, "float64").reshape(-1) for k, v in logs.items()}


def training_history(
    history, panel_size=(4.0, 3.0), log_scale: bool = False, path=None, stages=None
):
    """Learning curves, one panel per loss term, train solid and validation dashed.

    Panels: `loss`, `reconstruction_loss`, `kl_loss` (and `beta` when a
    `BetaSchedule` logged it); a panel is drawn when the train or the `val_`
    series is present. Other numeric series (an AE's, a custom metric's)
    get panels of their own after these.

    Args:
        history: `keras.callbacks.History` (returned by `fit`) or a dict
            `{name: per-epoch values}`, e.g. loaded from the run's JSON.
        panel_size: Size of one panel in inches.
        log_scale: Logarithmic y axes for the loss panels.
        path: When given, the figure is also saved there (atomically).
        stages: Optional `[(first epoch, label), ...]` (epochs counted from 1):
            later stages of the run that train on another objective, e.g.
            `[(181, "IWAE k=5")]` for `vae-keras train --epochs 180 --finetune-iwae 5`.
            Each gets a dotted line and its label on every panel, and the
            loss panel says its values after the first line are the stages'.

    Returns:
        A `matplotlib.figure.Figure` with one axes per panel.

    Example:

    >>> fig = training_history({"loss": [3, 2, 1], "kl_loss": [1, 2, 2],
    ...                         "val_loss": [3.5, 2.5, 1.5]})
    >>> [ax.get_title() for ax in fig.axes]
    ['total loss (negative ELBO)', 'KL (nats)']
    >>> fig = training_history({"loss": [3, 2, 1, 0.9]}, stages=[(4, "IWAE k=5")])
    >>> fig.axes[0].get_title()
    'total loss (−ELBO, then marked bounds)'
    """
    stages = list(stages or ())
    if not all(
        isinstance(mark, (tuple, list))
        and len(mark) == 2
        and isinstance(mark[0], (int, float, np.integer, np.floating))
        and mark[0] >= 1
        for mark in stages
    ):
        raise ValueError(
            "`stages` are (first epoch, label) pairs with epochs counted from 1, e.g. "
            f"[(181, 'IWAE k=5')]. Received: stages={stages!r}"
        )
    stages = [(float(first), str(label)) for first, label in stages]
    logs = history_dict(history)
    if not logs or all(len(v) == 0 for v in logs.values()):
        raise ValueError("`history` is empty: train for at least one epoch first.")
    known = {name for name, _ in PANELS}
    extra = sorted(
        name for name in logs if not name.startswith("val_") and name not in known
    ) + sorted(
        name[4:]
        for name in logs
        if name.startswith("val_") and name[4:] not in known and name[4:] not in logs
    )
    panels = [(n, t) for n, t in PANELS if n in logs or f"val_{n}" in logs]
    panels += [(n, n) for n in extra]
    fig = new_figure((panel_size[0] * len(panels), panel_size[1]))
    for i, (name, title) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        if stages and name == "loss":  # a fine-tuning stage's loss is its own bound
            title = "total loss (−ELBO, then marked bounds)"
        for key, style, label in ((name, "-", "train"), (f"val_{name}", "--", "validation")):
            if key in logs and len(logs[key]):
                epochs = np.arange(1, len(logs[key]) + 1)
                ax.plot(epochs, logs[key], style, marker="o", markersize=3, label=label)
        for first, label in stages:
            ax.axvline(first - 0.5, color="grey", linestyle=":", linewidth=1)
            ax.annotate(
                label,
                (first - 0.5, 1.0),
                xycoords=("data", "axes fraction"),
                rotation=90,
                va="top",
                ha="right",
                fontsize="x-small",
                color="grey",
            )
        ax.set_title(title)
        ax.set_xlabel("epoch")
        if (
            log_scale
            and name != "beta"
            and all((logs.get(k, np.ones(1)) > 0).all() for k in (name, f"val_{name}"))
        ):
            ax.set_yscale("log")
        if name == "beta":  # start at 0: a warm-up's last value is 0.998, not a drop
            top = max(float(np.nanmax(logs.get(name, [1.0]))), 1e-3)
            ax.set_ylim(0.0, 1.05 * top)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    return finish(fig, path)
