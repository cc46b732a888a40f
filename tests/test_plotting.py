"""Tests for `vae_keras.plotting`: grid tiling, exact pixel sizes, the inverse-CDF
manifold, traversals, interpolation, histograms, scatter and training curves.

Most tests use a NumPy stand-in model whose decoder writes its codes into the
pixels, so each tile of a picture can be traced back to the code it shows."""

import os
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from scipy.stats import norm

from vae_keras import plotting


class StubModel:
    """encode: the first `latent_dim` pixels; decode: left half = Phi(z[0]), right = Phi(z[1])."""

    def __init__(self, latent_dim=2, shape=(6, 6, 1)):
        self.latent_dim, self.input_shape_ = latent_dim, shape

    def encode(self, x):
        z = np.asarray(x, "float32").reshape(len(x), -1)[:, : self.latent_dim]
        return z, np.zeros_like(z)

    def decode(self, z):
        z = np.asarray(z, "float64")
        h, w, c = self.input_shape_
        images = np.empty((len(z), h, w, c), "float32")
        images[:, :, : w // 2] = norm.cdf(z[:, 0])[:, None, None, None]
        second = z[:, 1] if z.shape[1] > 1 else z[:, 0]
        images[:, :, w // 2 :] = norm.cdf(second)[:, None, None, None]
        return images

    def reconstruct(self, x):
        return self.decode(self.encode(x)[0])

    def sample(self, n, seed=None):
        return self.decode(np.random.default_rng(seed).standard_normal((n, self.latent_dim)))

    def prior_quantiles(self, q, dim):  # N(0, 1), as `LatentModel.prior_quantiles`
        return norm.ppf(q)


def png_size(path):
    """(width, height) of a PNG, decoded by matplotlib."""
    image = matplotlib.image.imread(path)
    return image.shape[1], image.shape[0]


def shown_image(fig):
    """The array drawn by the (first) image axes of a figure."""
    return np.asarray(fig.axes[0].images[0].get_array())


def tile(grid, r, c, h, w, padding=1):
    return grid[
        r * (h + padding) : r * (h + padding) + h, c * (w + padding) : c * (w + padding) + w
    ]


# --- grids -----------------------------------------------------------------


def test_image_grid_tiles_row_by_row_with_padding():
    images = np.arange(6, dtype="float32").reshape(6, 1, 1, 1) * np.ones((6, 4, 4, 1))
    grid = plotting.image_grid(images, ncols=3)
    assert grid.shape == (9, 14, 1)
    for i in range(6):
        r, c = divmod(i, 3)
        np.testing.assert_array_equal(tile(grid, r, c, 4, 4), i)
    assert (grid[4, :, 0] == 1.0).all() and (grid[:, 4, 0] == 1.0).all()  # gaps


def test_paired_grid_alternates_rows_of_originals_and_reconstructions():
    x = np.zeros((6, 3, 3, 1), "float32") + np.arange(6)[:, None, None, None] / 10
    grid = plotting.paired_grid(x, x + 0.5, ncols=4)
    assert grid.shape == (4 * 4 - 1, 4 * 4 - 1, 1)  # 2 chunks -> 4 image rows
    for i in range(6):
        chunk, c = divmod(i, 4)
        np.testing.assert_allclose(tile(grid, 2 * chunk, c, 3, 3), i / 10, atol=1e-6)
        np.testing.assert_allclose(tile(grid, 2 * chunk + 1, c, 3, 3), i / 10 + 0.5, atol=1e-6)
    np.testing.assert_array_equal(tile(grid, 2, 2, 3, 3), 1.0)  # blank filler
    with pytest.raises(ValueError, match=r"\(6, 3, 3, 1\) and \(5, 3, 3, 1\)"):
        plotting.paired_grid(x, x[:5])


def test_save_image_grid_writes_an_exact_png(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(10, 5, 7, 1)).astype("float32")
    path = plotting.save_image_grid(images, tmp_path / "g.png", ncols=4, scale=3)
    assert png_size(path) == ((4 * 8 - 1) * 3, (3 * 6 - 1) * 3)
    decoded = matplotlib.image.imread(path)[::3, ::3, :3]
    np.testing.assert_allclose(decoded[:5, :7, 0], images[0, ..., 0], atol=1 / 255)
    assert sorted(os.listdir(tmp_path)) == ["g.png"]  # no temp file left behind
    open(tmp_path / "plain.txt", "w").close()  # the mode any new file gets (umask)
    assert os.stat(path).st_mode & 0o777 == os.stat(tmp_path / "plain.txt").st_mode & 0o777


def test_a_failed_save_leaves_no_file(tmp_path):
    from vae_keras.plotting._common import atomic_path

    with pytest.raises(RuntimeError), atomic_path(tmp_path / "x.png") as tmp:
        Path(tmp).write_bytes(b"partial")
        raise RuntimeError("disk full")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_sample_grid_figure_is_pixel_exact_for_any_channel_count(tmp_path, channels):
    images = np.random.default_rng(0).uniform(size=(16, 8, 8, channels))
    fig = plotting.sample_grid(images, ncols=4, scale=4, path=tmp_path / "s.png")
    assert png_size(tmp_path / "s.png") == (35 * 4, 35 * 4)
    assert shown_image(fig).shape[:2] == (35, 35)
    plotting.sample_grid(images, ncols=4, scale=4, title="epoch 3", path=tmp_path / "t.png")
    assert png_size(tmp_path / "t.png") == (140, 140 + 24)


def test_sample_grid_accepts_gray_and_flat_square_images(tmp_path):
    fig = plotting.sample_grid(np.ones((4, 64)), ncols=2, scale=1)
    assert shown_image(fig).shape == (17, 17)
    fig = plotting.sample_grid(np.ones((4, 8, 8)), ncols=4, scale=1)
    assert shown_image(fig).shape == (8, 35)


@pytest.mark.parametrize(
    "images, message",
    [
        (np.ones((4, 8, 8, 2)), "Received 2 channels"),
        (np.ones((4, 10)), "flat vectors of size 10"),
        (np.ones((0, 8, 8, 1)), r"Received shape \(0, 8, 8, 1\)"),
        (np.full((2, 4, 4, 1), np.nan), "NaN"),
    ],
)
def test_bad_images_raise_value_errors(images, message):
    with pytest.raises(ValueError, match=message):
        plotting.sample_grid(images)


def test_reconstruction_grid_figure_size_and_row_labels(tmp_path):
    x = np.random.default_rng(0).uniform(size=(8, 8, 8, 1))
    fig = plotting.reconstruction_grid(x, 1 - x, ncols=4, scale=2, path=tmp_path / "r.png")
    assert png_size(tmp_path / "r.png") == (35 * 2 + 24, 35 * 2)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["x", "x̂", "x", "x̂"]


def test_saving_needs_an_extension(tmp_path):
    with pytest.raises(ValueError, match="extension"):
        plotting.sample_grid(np.ones((1, 4, 4)), path=tmp_path / "noext")


# --- manifold ----------------------------------------------------------------


def test_manifold_grid_uses_the_inverse_gaussian_cdf():
    n = 7
    expected = norm.ppf(np.linspace(0.05, 0.95, n))
    z = plotting.manifold_grid(n, latent_dim=4, dims=(1, 3)).reshape(n, n, 4)
    for r in range(n):
        np.testing.assert_allclose(z[r, :, 1], expected, rtol=1e-6)  # x axis: left to right
    for c in range(n):
        np.testing.assert_allclose(z[:, c, 3], expected[::-1], rtol=1e-6)  # y axis: top high
    np.testing.assert_array_equal(z[..., [0, 2]], 0.0)
    centered = plotting.manifold_grid(3, 3, center=[0.0, 0.0, 2.5]).reshape(3, 3, 3)
    np.testing.assert_array_equal(centered[..., 2], 2.5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"quantiles": (0.0, 0.9)}, r"quantiles=\(0.0, 0.9\)"),
        ({"dims": (0, 0)}, r"dims=\[0, 0\]"),
        ({"dims": (0, 5)}, r"dims=\[0, 5\]"),
        ({"n": 0}, "n=0"),
        ({"center": [1.0]}, r"Received shape \(1,\)"),
    ],
)
def test_manifold_grid_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plotting.manifold_grid(**{"n": 4, "latent_dim": 2, **kwargs})


def test_latent_manifold_decodes_the_inverse_cdf_grid(tmp_path):
    n, model = 5, StubModel()
    fig = plotting.latent_manifold(model, n=n, scale=2, path=tmp_path / "m.png")
    grid = shown_image(fig)
    assert grid.shape == (n * 6, n * 6)  # tiles touch
    q = np.linspace(0.05, 0.95, n)  # the stub decodes Phi(z): the quantiles come back
    for r in range(n):
        for c in range(n):
            t = tile(grid, r, c, 6, 6, padding=0)
            np.testing.assert_allclose(t[:, :3], q[c], atol=1e-6)
            np.testing.assert_allclose(t[:, 3:], q[n - 1 - r], atol=1e-6)
    assert png_size(tmp_path / "m.png") == (n * 6 * 2 + 56, n * 6 * 2 + 12 + 44)
    assert fig.axes[0].get_xlabel() == "z[0]" and fig.axes[0].get_ylabel() == "z[1]"
    with pytest.raises(ValueError, match="latent_dim=1"):
        plotting.latent_manifold(StubModel(latent_dim=1))


# --- traversals and interpolation ----------------------------------------------


def test_latent_traversals_sweep_one_dimension_per_row():
    model, values = StubModel(latent_dim=3), np.array([-2.0, 0.0, 2.0])
    x = np.zeros((6, 6, 1), "float32")
    x.reshape(-1)[:3] = [0.5, -1.0, 0.0]  # the stub's z_mean of x
    fig = plotting.latent_traversals(model, x=x, dims=[1, 0], values=values)
    grid = shown_image(fig)
    assert grid.shape == (2 * 7 - 1, 3 * 7 - 1)
    for c, v in enumerate(values):
        row0, row1 = tile(grid, 0, c, 6, 6), tile(grid, 1, c, 6, 6)
        np.testing.assert_allclose(row0[:, :3], norm.cdf(0.5), atol=1e-6)  # z[0] fixed at x's
        np.testing.assert_allclose(row0[:, 3:], norm.cdf(v), atol=1e-6)  # z[1] swept
        np.testing.assert_allclose(row1[:, :3], norm.cdf(v), atol=1e-6)  # z[0] swept
        np.testing.assert_allclose(row1[:, 3:], norm.cdf(-1.0), atol=1e-6)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["z[1]", "z[0]"]
    default = plotting.latent_traversals(StubModel(latent_dim=12))
    assert shown_image(default).shape[0] == 10 * 7 - 1  # at most 10 rows, 9 values
    assert shown_image(default).shape[1] == 9 * 7 - 1
    with pytest.raises(ValueError, match=r"dims=\[3\]"):
        plotting.latent_traversals(model, dims=[3])


def test_interpolation_rows_latent_versus_pixel():
    model = StubModel()
    x_a, x_b = np.zeros((6, 6, 1), "float32"), np.zeros((6, 6, 1), "float32")
    x_a.reshape(-1)[:2], x_b.reshape(-1)[:2] = [-1.0, 1.0], [1.0, 1.0]
    x_a[3:], x_b[3:] = 0.2, 0.6  # bottom halves differ in pixel space
    grid = shown_image(plotting.interpolation(model, x_a, x_b[None], steps=3))
    assert grid.shape == (13, 20)
    np.testing.assert_allclose(tile(grid, 0, 1, 6, 6)[:, :3], norm.cdf(0.0), atol=1e-6)
    np.testing.assert_allclose(tile(grid, 0, 2, 6, 6)[:, :3], norm.cdf(1.0), atol=1e-6)
    np.testing.assert_allclose(tile(grid, 1, 1, 6, 6)[3:], 0.4, atol=1e-6)
    with pytest.raises(ValueError, match="steps=1"):
        plotting.interpolation(model, x_a, x_b, steps=1)
    with pytest.raises(ValueError, match=r"Received shape \(2, 6, 6, 1\)"):
        plotting.interpolation(model, np.stack([x_a, x_b]), x_b)


# --- latent codes -----------------------------------------------------------------


def test_latent_histograms_one_axes_per_dimension(tmp_path):
    z = np.random.default_rng(0).normal(size=(300, 5))
    fig = plotting.latent_histograms(z, ncols=2, path=tmp_path / "h.png")
    assert len(fig.axes) == 5
    assert fig.axes[3].get_title().startswith("z[3]")
    density = fig.axes[0].lines[0].get_ydata()
    assert density.max() == pytest.approx(norm.pdf(0.0), rel=1e-6)  # the N(0, 1) curve
    assert len(plotting.latent_histograms(z, dims=[4, 1]).axes) == 2
    assert len(plotting.latent_histograms(StubModel(3), x=np.ones((10, 6, 6, 1))).axes) == 3
    with pytest.raises(ValueError, match=r"dims=\[7\]"):
        plotting.latent_histograms(z, dims=[7])
    with pytest.raises(ValueError, match="x="):
        plotting.latent_histograms(StubModel())


def test_latent_scatter_draws_codes_with_a_legend_per_class(tmp_path):
    z = np.random.default_rng(0).normal(size=(90, 2))
    labels = np.arange(90) % 3
    fig = plotting.latent_scatter(z, labels=labels, path=tmp_path / "sc.png")
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1", "2"]
    np.testing.assert_allclose(ax.collections[1].get_offsets(), z[labels == 1], rtol=1e-6)
    assert ax.get_xlabel() == "z[0]"
    assert os.path.exists(tmp_path / "sc.png")


def test_latent_scatter_continuous_labels_get_a_colorbar():
    z = np.random.default_rng(0).normal(size=(50, 2))
    assert len(plotting.latent_scatter(z, labels=np.linspace(0, 1, 50)).axes) == 2


@pytest.mark.parametrize(
    "method, xlabel", [("pca", "PC 1"), ("tsne", "t-SNE 1"), ("auto", "t-SNE 1")]
)
def test_latent_scatter_projects_higher_dimensions(method, xlabel):
    z = np.random.default_rng(0).normal(size=(60, 5))
    fig = plotting.latent_scatter(z, labels=np.arange(60) % 4, method=method)
    assert fig.axes[0].get_xlabel() == xlabel
    assert sum(len(c.get_offsets()) for c in fig.axes[0].collections) == 60


def test_latent_scatter_subsamples_and_validates():
    z = np.random.default_rng(0).normal(size=(500, 2))
    fig = plotting.latent_scatter(z, max_points=100)
    assert len(fig.axes[0].collections[0].get_offsets()) == 100
    fig = plotting.latent_scatter(StubModel(), x=np.ones((20, 6, 6, 1)), labels=np.zeros(20, int))
    assert len(fig.axes[0].collections[0].get_offsets()) == 20
    with pytest.raises(ValueError, match="method='umap'"):
        plotting.latent_scatter(z, method="umap")
    with pytest.raises(ValueError, match="`labels` has 3 entries but there are 500"):
        plotting.latent_scatter(z, labels=[0, 1, 2])


# --- training curves ------------------------------------------------------------------


class FakeHistory:
    def __init__(self, history):
        self.history = history


def test_training_history_panels_and_lines(tmp_path):
    logs = {
        "loss": [3.0, 2.0, 1.5],
        "reconstruction_loss": [2.5, 1.6, 1.2],
        "kl_loss": [0.5, 0.4, 0.3],
        "val_loss": [3.1, 2.2, 1.7],
        "val_reconstruction_loss": [2.6, 1.8, 1.4],
        "val_kl_loss": [0.5, 0.4, 0.3],
    }
    fig = plotting.training_history(FakeHistory(logs), path=tmp_path / "h.png")
    assert [ax.get_title() for ax in fig.axes] == [
        "total loss (negative ELBO)",
        "reconstruction (nats)",
        "KL (nats)",
    ]
    assert all(len(ax.lines) == 2 for ax in fig.axes)
    np.testing.assert_array_equal(fig.axes[0].lines[1].get_ydata(), logs["val_loss"])
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_xdata(), [1, 2, 3])
    with_beta = plotting.training_history({**logs, "beta": [0.0, 0.5, 1.0]})
    assert len(with_beta.axes) == 4 and with_beta.axes[3].get_title() == "beta"
    assert len(plotting.training_history({"loss": [1.0]}).axes) == 1


def test_training_history_marks_later_stages_and_says_their_loss_is_another_bound():
    logs = {"loss": [3.0, 2.0, 1.5, 1.4, 1.3], "kl_loss": [0.5, 0.4, 0.3, 0.3, 0.3]}
    fig = plotting.training_history(logs, stages=[(4, "IWAE k=5"), (5, "IWAE k=20")])
    assert [ax.get_title() for ax in fig.axes] == [
        "total loss (−ELBO, then marked bounds)",
        "KL (nats)",
    ]
    for ax in fig.axes:  # the train curve, then one dotted line between epochs per stage
        assert [line.get_xdata()[0] for line in ax.lines[1:]] == [3.5, 4.5]
        assert [t.get_text() for t in ax.texts] == ["IWAE k=5", "IWAE k=20"]
    plain = plotting.training_history(logs)
    assert all(len(ax.lines) == 1 and not ax.texts for ax in plain.axes)
    for bad in ([(0, "IWAE k=5")], [("4", "IWAE k=5")], [4]):
        with pytest.raises(ValueError, match="counted from 1, e.g.") as caught:
            plotting.training_history(logs, stages=bad)
        assert f"stages={bad!r}" in str(caught.value)


def test_training_history_rejects_bad_input():
    with pytest.raises(ValueError, match="Received: list"):
        plotting.training_history([1, 2, 3])
    with pytest.raises(ValueError, match="empty"):
        plotting.training_history({"loss": []})


# --- headless, no pyplot ---------------------------------------------------------------


def test_plots_run_headless_and_leave_pyplot_alone(tmp_path):
    # keras itself imports pyplot; the plots must not register figures with it
    # (no leak across epochs) nor switch the configured backend.
    code = (
        "import numpy as np, matplotlib\n"
        "from vae_keras import plotting\n"
        "backend = matplotlib.get_backend()\n"
        "z = np.random.default_rng(0).normal(size=(40, 2))\n"
        f"plotting.latent_scatter(z, labels=np.arange(40) % 2, path={str(tmp_path / 'a.png')!r})\n"
        f"plotting.sample_grid(np.ones((4, 8, 8, 3)), path={str(tmp_path / 'b.png')!r})\n"
        "import matplotlib.pyplot as plt\n"
        "print(plt.get_fignums(), matplotlib.get_backend() == backend)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[] True"
    assert png_size(tmp_path / "b.png") == (8 * 17, 8 * 17)  # small images upscaled (8x)


# --- with a real VAE ----------------------------------------------------------------------


@pytest.mark.backend
def test_plots_of_a_real_vae(tmp_path):
    from vae_keras import VAE, networks

    x = np.random.default_rng(0).uniform(size=(40, 8, 8, 1)).astype("float32")
    vae = VAE(
        networks.dense_encoder((8, 8, 1), 2, hidden_units=(8,)),
        networks.dense_decoder(2, (8, 8, 1), hidden_units=(8,)),
        seed=0,
    )
    fig = plotting.latent_manifold(vae, n=4, scale=1, path=tmp_path / "m.png")
    np.testing.assert_allclose(
        shown_image(fig),
        plotting.image_grid(vae.decode(plotting.manifold_grid(4)), 4, 0)[..., 0],
        atol=1e-6,
    )
    assert png_size(tmp_path / "m.png") == (32 + 56, 32 + 56)
    assert len(plotting.latent_scatter(vae, x=x, labels=np.arange(40) % 2).axes) == 1
    assert len(plotting.latent_histograms(vae, x=x).axes) == 2
    assert shown_image(plotting.interpolation(vae, x[0], x[1], steps=4)).shape == (17, 35)
    assert shown_image(plotting.latent_traversals(vae, x=x[0])).shape == (17, 9 * 9 - 1)


def test_small_images_are_upscaled_until_legible():
    from vae_keras.plotting.grids import legible_scale

    digits_8x8 = plotting.image_grid(np.ones((64, 8, 8, 1)), ncols=8)  # 71 px a side
    assert legible_scale(digits_8x8) == 7  # ~500 px: each digit 56 px
    mnist = plotting.image_grid(np.ones((64, 28, 28, 1)), ncols=8)  # 231 px
    assert legible_scale(mnist) == 3
    assert legible_scale(np.ones((560, 560, 1))) == 1  # a 20x20 MNIST manifold: as is
    assert legible_scale(np.ones((8, 8, 1))) == 8  # capped
    assert legible_scale(mnist, scale=2) == 2  # an explicit scale wins
    with pytest.raises(ValueError, match="scale=0"):
        legible_scale(mnist, scale=0)
