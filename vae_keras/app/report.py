"""A run's figures and a one-page HTML report of them.

Two calls after training (what `vae-keras train` and `vae-keras plot` do):

    figures = write_run_figures(model, x_test, y_test, history, run_dir / "figures")
    write_report(run_dir, metrics, figures)
"""

import html
import json
import os

import numpy as np

from vae_keras import plotting
from vae_keras.models.capabilities import capabilities, require
from vae_keras.plotting._common import atomic_path, encode_mean
from vae_keras.plotting.history import history_dict

CAPTIONS = {
    "training_history": "Training curves: total loss, reconstruction and KL terms "
    "(solid: train, dashed: validation).",
    "samples": "Samples: decoded draws from the model's prior p(z) (N(0, I) unless trained "
    "with --prior).",
    "reconstructions": "Reconstructions: rows of images (x) above their reconstructions (x̂).",
    "latent_scatter": "Latent means of the data, coloured by label "
    "(t-SNE projection above two dimensions).",
    "latent_histograms": "Per-dimension histograms of the latent means against N(0, 1).",
    "latent_manifold": "Latent manifold: a grid of codes spread by the prior's inverse CDF "
    "per dimension (Gaussian for N(0, I)), decoded (Kingma & Welling 2014, Fig. 4).",
    "latent_traversals": "Latent traversals: one dimension swept per row, the others at 0 "
    "(most active dimensions first).",
    "interpolation": "Interpolation between two examples: in latent space (top) and in "
    "pixel space (bottom).",
    "hierarchy_levels": "What each level holds: each row keeps an image's top k latent groups "
    "and redraws the lower ones from the prior (temperature 0.8).",
}


def write_run_figures(
    model,
    x,
    y=None,
    history=None,
    directory="figures",
    *,
    num_images: int = 64,
    max_points: int = 5000,
    seed: int = 0,
    scatter_method: str = "auto",
    stages=None,
) -> dict:
    """Writes every figure that makes sense for `model` as PNGs into `directory`.

    Figures (file `{name}.png`; skipped when they do not apply):
    `training_history` (a history is given), `samples` (the model has
    `sample`), `reconstructions`, `latent_scatter`, `latent_histograms`,
    `latent_manifold` (`sample` and `latent_dim >= 2`; the two most active
    dimensions), `latent_traversals` (up to 10 most active dimensions),
    `interpolation` (two examples, of different labels when `y` is given),
    `hierarchy_levels` (a `HierarchicalVAE`: what each level of latents holds).

    A conditional model (`ConditionalVAE`, with `num_classes`) needs `y`:
    it encodes and reconstructs with the labels, its samples cycle through
    the classes (one column per class), and its manifold, traversals and
    interpolation (two examples of one class) are decoded under `y[0]`.

    Args:
        model: A trained model with `encode`, `decode`, `reconstruct` and
            `latent_dim` (`VAE`, `AE`, `IWAE`, `ConditionalVAE`, or one
            loaded from `.keras`).
        x: Data to picture, e.g. the test split `(N, *input_shape)`.
        y: Optional integer labels of `x` (colours the scatter).
        history: `keras.callbacks.History`, a dict of per-epoch lists, or None.
        directory: Output folder (created if needed).
        num_images: Images in the sample and reconstruction grids.
        max_points: Examples encoded for the scatter and histograms
            (a seeded random subset when `x` is larger).
        seed: Seed of the samples, the subset and the projection.
        scatter_method: `method` of `plotting.latent_scatter`.
        stages: `[(first epoch, label), ...]` of later stages that train on
            another objective, marked on the training history
            (`finetune_stage_marks` reads them from a run's metrics).

    Returns:
        `{figure name: path}`, in the order written (pass it to `write_report`).
    """
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    x = np.asarray(x, "float32")
    if len(x) == 0:
        raise ValueError(f"`x` is empty (shape {x.shape}); pass the data to picture.")
    if y is not None:
        y = np.asarray(y).reshape(-1)
        if len(y) != len(x):
            raise ValueError(f"`y` has {len(y)} labels but `x` has {len(x)} examples.")
    declared = capabilities(model)
    if declared.discrete_codes:  # VQVAE: discrete codes (plotting/codes.py)
        return plotting.codes.run_figures(model, x, history, directory, num_images, seed)
    require(model, "latent_vector", "write_run_figures")
    latent_dim = int(model.latent_dim)
    has_prior = declared.samples
    conditional = declared.conditional
    if conditional and y is None:
        raise ValueError(
            f"{type(model).__name__} is conditional: pass the labels `y` of `x` so the data "
            "can be encoded and reconstructed."
        )
    figures = {}

    def path(name):
        figures[name] = os.path.join(directory, f"{name}.png")
        return figures[name]

    def codes(idx):
        labels = {"labels": y[idx]} if conditional else {}
        return encode_mean(model, x[idx], **labels)

    if history is not None and any(len(v) for v in history_dict(history).values()):
        plotting.training_history(history, path=path("training_history"), stages=stages)
    if has_prior:  # a conditional model's samples cycle through the classes, one per column
        ncols = int(model.num_classes) if conditional else None
        plotting.sample_grid(model.sample(num_images, seed=seed), ncols=ncols, path=path("samples"))
    shown = np.arange(min(len(x), max(1, num_images // 2)))
    x_hat = (
        model.reconstruct(x[shown], labels=y[shown]) if conditional else model.reconstruct(x[shown])
    )
    plotting.reconstruction_grid(x[shown], x_hat, path=path("reconstructions"))
    if declared.latent_groups:  # HierarchicalVAE: what each level of latents holds
        plotting.hierarchy_levels(model, x[:2], seed=seed, path=path("hierarchy_levels"))

    keep = np.arange(len(x))
    if len(x) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(x), max_points, replace=False))
    z = codes(keep)
    labels = None if y is None else y[keep]
    plotting.latent_scatter(
        z,
        labels=labels,
        method=scatter_method,
        max_points=None,
        seed=seed,
        path=path("latent_scatter"),
    )
    plotting.latent_histograms(z, dims=range(min(latent_dim, 32)), path=path("latent_histograms"))
    active = [int(d) for d in np.argsort(-z.var(axis=0), kind="stable")]
    # Decoded pictures of a conditional model are drawn under the label of x[0].
    decoder = _FixedLabel(model, y[0]) if conditional else model
    if has_prior and latent_dim >= 2:
        plotting.latent_manifold(
            decoder, dims=tuple(sorted(active[:2])), path=path("latent_manifold")
        )
    plotting.latent_traversals(decoder, dims=active[:10], path=path("latent_traversals"))
    if len(x) >= 2:
        a, b = 0, 1
        if y is not None:  # a different class; the same class for a conditional model
            other = (y == y[0]) if conditional else (y != y[0])
            other[0] = False
            b = int(np.argmax(other)) if other.any() else 1
        plotting.interpolation(decoder, x[a], x[b], path=path("interpolation"))
    return figures


class _FixedLabel:
    """A conditional model seen as unconditional: every call uses one label."""

    def __init__(self, model, label):
        self.model, self.label = model, int(label)
        self.latent_dim, self.input_shape_ = model.latent_dim, model.input_shape_

    def encode(self, x):
        return self.model.encode(x, labels=np.full(len(x), self.label))

    def decode(self, z):
        return self.model.decode(z, labels=np.full(len(z), self.label))

    def prior_quantiles(self, q, dim):  # the prior does not depend on the label
        return self.model.prior_quantiles(q, dim)


def finetune_stage_marks(finetune, num_epochs: int) -> list:
    """`[(first epoch, "IWAE k=K"), ...]` of a run's fine-tuning stages, the last
    `sum(finetune["epochs"])` of its `num_epochs` (metrics.json's `finetune` record;
    None or empty: no stages). A stage the history does not reach is left out.

    >>> finetune_stage_marks({"k": [5, 20], "epochs": [3, 2]}, 10)
    [(6, 'IWAE k=5'), (9, 'IWAE k=20')]
    """
    if not finetune:
        return []
    first = num_epochs - sum(finetune["epochs"]) + 1
    marks = []
    for k, epochs in zip(finetune["k"], finetune["epochs"], strict=True):
        if 1 <= first <= num_epochs:
            marks.append((first, f"IWAE k={k}"))
        first += epochs
    return marks


def write_report(
    directory,
    metrics: dict | None = None,
    figures: dict | None = None,
    title: str = "vae_keras run",
    filename: str = "report.html",
) -> str:
    """Writes `directory/report.html`: a metrics table and the figures.

    The page is self-contained (inline style, no scripts); images are
    linked by paths relative to `directory`, so the run folder can be
    moved or served as is.

    Args:
        directory: The run folder; the report is written there.
        metrics: `{name: value}`; nested dicts are flattened as `a.b`,
            numbers shown with 6 significant digits, lists by their last value.
        figures: `{name: path}` as returned by `write_run_figures`.
        title: Page title.
        filename: Name of the HTML file.

    Returns:
        The path of the report.
    """
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    rows = "".join(
        f"<tr><th>{html.escape(label)}</th>"
        f"<td>{html.escape(_format(v, per_epoch=key.split('.')[0] == 'history'))}</td></tr>"
        for key, label, v in _keyed_rows(metrics or {})
    )
    sections = []
    for name, figure_path in (figures or {}).items():
        src = os.path.relpath(os.fspath(figure_path), directory).replace(os.sep, "/")
        caption = CAPTIONS.get(name, name.replace("_", " "))
        sections.append(
            f'<figure id="{html.escape(name)}"><h2>{html.escape(name.replace("_", " "))}</h2>'
            f'<img src="{html.escape(src)}" alt="{html.escape(name)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    page = _PAGE.format(
        title=html.escape(title),
        metrics=f"<table>{rows}</table>" if rows else "<p>No metrics recorded.</p>",
        figures="\n".join(sections) or "<p>No figures.</p>",
    )
    report = os.path.join(directory, filename)
    with atomic_path(report) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(page)
    return report


# The report's metric names, in words and in one fixed order (the test set first); other keys
# follow in their own order, their names with "_" as spaces. Values in nats per image.
METRIC_LABELS = {
    "test.loss": "test loss (nats)",
    "test.reconstruction_loss": "test reconstruction (nats)",
    "test.kl_loss": "test KL (nats)",
    "test.bits_per_dim_8bit": "test bits/dim (0-255 scale)",
    "test.reconstruction_bits_per_dim": "test reconstruction bits/dim (without the codes)",
    "test.elbo": "test ELBO (nats)",
    "history.loss": "loss, last epoch (nats)",
    "history.reconstruction_loss": "reconstruction, last epoch (nats)",
    "history.kl_loss": "KL, last epoch (nats)",
    "history.val_loss": "validation loss, last epoch (nats)",
    "history.val_reconstruction_loss": "validation reconstruction, last epoch (nats)",
    "history.val_kl_loss": "validation KL, last epoch (nats)",
    "history.bits_per_dim": "bits/dim, last epoch",
    "history.val_bits_per_dim": "validation bits/dim, last epoch",
    "history.reconstruction_bits_per_dim": "reconstruction bits/dim, last epoch",
    "history.val_reconstruction_bits_per_dim": "validation reconstruction bits/dim, last epoch",
    "epochs": "epochs",
    "resumed_from_epoch": "resumed from epoch",
    "train_seconds": "training time (s)",
    "num_train": "training images",
    "num_test": "test images",
    "finetune.k": "IWAE fine-tuning: samples k per stage",
    "finetune.epochs": "IWAE fine-tuning: epochs per stage",
    "finetune.learning_rate": "IWAE fine-tuning: learning rate",
}


def metric_rows(metrics: dict) -> list:
    """`(label, value)` rows of `metrics` (nested dicts flattened as `a.b`) in report order."""
    return [(label, value) for _, label, value in _keyed_rows(metrics)]


def _keyed_rows(metrics: dict) -> list:
    """`(key, label, value)`: `metric_rows` with each row's flattened key."""
    flat = list(_flatten(metrics))
    order = {key: i for i, key in enumerate(METRIC_LABELS)}
    flat.sort(key=lambda item: order.get(item[0], len(order)))  # stable: the rest keep theirs
    return [(k, METRIC_LABELS.get(k, k.replace("_", " ")), v) for k, v in flat]


def _flatten(metrics, prefix=""):
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, f"{name}.")
        else:
            yield name, value


def _format(value, per_epoch=False):
    """`value` as the table shows it: a per-epoch list (the history) by its last value,
    another list (one value per fine-tuning stage) whole."""
    if isinstance(value, (list, tuple, np.ndarray)) and len(value) and not isinstance(value, str):
        items = list(value)
        return _format(items[-1]) if per_epoch else ", ".join(_format(v) for v in items)
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return value if isinstance(value, str) else json.dumps(value, default=str)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; margin-bottom: 2em; }}
th, td {{ border: 1px solid #ccc; padding: 4px 10px; text-align: left; }}
th {{ background: #f4f4f4; font-weight: 600; }}
figure {{ margin: 0 0 2em 0; }}
img {{ max-width: 100%; border: 1px solid #eee; }}
figcaption {{ color: #555; font-size: 0.9em; }}
</style></head>
<body><h1>{title}</h1>
<h2>Metrics</h2>
{metrics}
{figures}
</body></html>
"""
