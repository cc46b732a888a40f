"""Tests for `vae_keras.report`: which figures a run gets, that they are real
PNGs of the expected size, and the HTML report's links and metrics table."""

import html
import os
import re
from pathlib import Path

import keras
import matplotlib.image
import numpy as np
import pytest
from sklearn.datasets import load_digits

from vae_keras import VAE, networks
from vae_keras.report import write_report, write_run_figures

ALL_FIGURES = [
    "training_history",
    "samples",
    "reconstructions",
    "latent_scatter",
    "latent_histograms",
    "latent_manifold",
    "latent_traversals",
    "interpolation",
]


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    x = (data.images / 16.0).astype("float32")[..., None]
    return x[:120], data.target[:120]


def trained_vae(x, latent_dim):
    vae = VAE(
        networks.dense_encoder((8, 8, 1), latent_dim, hidden_units=(32,)),
        networks.dense_decoder(latent_dim, (8, 8, 1), hidden_units=(32,)),
        seed=0,
    )
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = vae.fit(x, epochs=2, batch_size=40, validation_data=(x[:40],), verbose=0)
    return vae, history


def png_size(path):
    image = matplotlib.image.imread(path)
    return image.shape[1], image.shape[0]


@pytest.mark.backend
def test_run_figures_and_report_in_two_calls(tmp_path, digits):
    x, y = digits
    vae, history = trained_vae(x, latent_dim=2)
    run = tmp_path / "run"
    figures = write_run_figures(vae, x, y, history, run / "figures", num_images=16)
    report = write_report(run, {"epochs": 2, "test": {"elbo": -61.234567}}, figures)

    assert list(figures) == ALL_FIGURES
    for name, path in figures.items():
        assert path == os.path.join(str(run / "figures"), f"{name}.png")
        image = matplotlib.image.imread(path)
        assert image.ndim == 3 and min(image.shape[:2]) >= 30, name
    # 8x8 digits are upscaled until legible (plotting.grids.legible_scale): 16 in 4x4 at 8x.
    assert png_size(figures["samples"]) == (8 * (4 * 9 - 1), 8 * (4 * 9 - 1))
    # 8 pairs -> 4 columns, 4 image rows, plus the 24-pixel label margin.
    assert png_size(figures["reconstructions"]) == (8 * (4 * 9 - 1) + 24, 8 * (4 * 9 - 1))
    assert png_size(figures["latent_manifold"]) == (3 * 20 * 8 + 56, 3 * 20 * 8 + 56)

    assert report == os.path.join(str(run), "report.html")
    page = Path(report).read_text(encoding="utf-8")
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert sources == [f"figures/{name}.png" for name in ALL_FIGURES]
    assert all(os.path.exists(run / src) for src in sources)
    assert "<th>epochs</th><td>2</td>" in page
    assert "<th>test ELBO (nats)</th><td>-61.2346</td>" in page
    assert sorted(os.listdir(run)) == ["figures", "report.html"]  # no temp files


@pytest.mark.backend
def test_one_dimensional_latent_gets_no_manifold(tmp_path, digits):
    x, y = digits
    vae, _ = trained_vae(x, latent_dim=1)
    figures = write_run_figures(vae, x, y, None, tmp_path)
    assert list(figures) == [
        name for name in ALL_FIGURES if name not in ("training_history", "latent_manifold")
    ]
    assert all(os.path.exists(p) for p in figures.values())


@pytest.mark.backend
def test_conditional_vae_figures(tmp_path, digits):
    from vae_keras.models import ConditionalVAE, conditional_decoder, conditional_encoder

    x, y = digits
    cvae = ConditionalVAE(
        conditional_encoder((8, 8, 1), 2, 10, hidden_units=(16,)),
        conditional_decoder(2, (8, 8, 1), 10, hidden_units=(16,)),
        num_classes=10,
        seed=0,
    )
    cvae.compile(optimizer="adam")
    cvae.fit((x, y), epochs=1, batch_size=40, verbose=0)
    figures = write_run_figures(cvae, x, y, None, tmp_path, num_images=20)
    assert list(figures) == ALL_FIGURES[1:]
    # A column per class; upscaled 6x (89 px wide -> 534).
    assert png_size(figures["samples"]) == (6 * (10 * 9 - 1), 6 * (2 * 9 - 1))
    with pytest.raises(ValueError, match="is conditional: pass the labels"):
        write_run_figures(cvae, x, None, None, tmp_path)


class NoPriorModel:
    """A model with encode, decode and reconstruct but no `sample` (no prior to draw from)."""

    latent_dim, input_shape_ = 3, (8, 8, 1)

    def encode(self, x):
        return np.asarray(x).reshape(len(x), -1)[:, :3] * 4.0 - 2.0

    def decode(self, z):
        return np.repeat(1 / (1 + np.exp(-np.asarray(z)[:, :1])), 64, axis=1).reshape(-1, 8, 8, 1)

    def reconstruct(self, x):
        return self.decode(self.encode(x))


def test_model_without_a_prior_gets_no_samples_or_manifold(tmp_path, digits):
    x, _ = digits
    figures = write_run_figures(
        NoPriorModel(), x[:60], None, {"loss": [2.0, 1.0]}, tmp_path, scatter_method="pca"
    )
    assert list(figures) == [
        "training_history",
        "reconstructions",
        "latent_scatter",
        "latent_histograms",
        "latent_traversals",
        "interpolation",
    ]


def test_run_figures_validate_data(tmp_path, digits):
    x, y = digits
    with pytest.raises(ValueError, match="`y` has 5 labels but `x` has 120"):
        write_run_figures(NoPriorModel(), x, y[:5], None, tmp_path)
    with pytest.raises(ValueError, match=r"empty \(shape \(0, 8, 8, 1\)\)"):
        write_run_figures(NoPriorModel(), x[:0], None, None, tmp_path)


def test_report_escapes_and_links_relative_to_the_run(tmp_path):
    elsewhere = tmp_path / "shared" / "fig.png"
    report = write_report(
        tmp_path / "run",
        {"<b>name</b>": "a & b", "history": [3.0, 2.5], "ok": True, "n": np.int64(7)},
        {"custom_plot": str(elsewhere)},
        title="run <1>",
    )
    page = Path(report).read_text(encoding="utf-8")
    assert "<title>run &lt;1&gt;</title>" in page
    assert f"<th>{html.escape('<b>name</b>')}</th><td>a &amp; b</td>" in page
    assert "<th>history</th><td>2.5</td>" in page  # lists show their last value
    assert "<th>ok</th><td>True</td>" in page and "<th>n</th><td>7</td>" in page
    assert '<img src="../shared/fig.png"' in page
    assert "<figcaption>custom plot</figcaption>" in page
    # Per-epoch histories show their last value; one value per fine-tuning stage, all.
    tuned = write_report(
        tmp_path / "tuned",
        {"history": {"loss": [90.0, 85.0]}, "finetune": {"k": [5, 20, 50], "epochs": [3, 5, 2]}},
    )
    page = Path(tuned).read_text(encoding="utf-8")
    assert "<th>loss, last epoch (nats)</th><td>85</td>" in page
    assert "<th>IWAE fine-tuning: samples k per stage</th><td>5, 20, 50</td>" in page
    assert "<th>IWAE fine-tuning: epochs per stage</th><td>3, 5, 2</td>" in page
    empty = Path(write_report(tmp_path / "empty")).read_text(encoding="utf-8")
    assert "No metrics recorded." in empty and "No figures." in empty


def test_metric_rows_read_in_words_in_one_order():
    from vae_keras.report import metric_rows

    metrics = {
        "history": {"loss": [120.0, 110.0], "kl_loss": [9.0, 8.5], "val_loss": [115.0, 112.0]},
        "custom_thing": 3,
        "test": {"kl_loss": 8.0, "loss": 111.5, "reconstruction_loss": 103.5},
        "epochs": 2,
    }
    rows = metric_rows(metrics)
    assert [label for label, _ in rows] == [
        "test loss (nats)",
        "test reconstruction (nats)",
        "test KL (nats)",
        "loss, last epoch (nats)",
        "KL, last epoch (nats)",
        "validation loss, last epoch (nats)",
        "epochs",
        "custom thing",
    ]
    assert rows[3][1] == [120.0, 110.0]  # the report shows the last value
