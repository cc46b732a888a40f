"""Latent arithmetic: the attribute vector against NumPy, decoding along it, the
figure, and a measured colour change on a small trained colour VAE."""

import matplotlib.image
import numpy as np
import pytest

from vae_keras import plotting


class LinearStub:
    """encode: z = flat(x) @ W (a known linear code); decode: z @ W.T as 4x4 RGB images."""

    def __init__(self, latent_dim=3, shape=(4, 4, 3), seed=0):
        self.input_shape_, self.latent_dim = shape, latent_dim
        self.w = np.random.default_rng(seed).normal(size=(int(np.prod(shape)), latent_dim))
        self.encoded_batches = []

    def encode(self, x):
        self.encoded_batches.append(len(x))
        z = np.asarray(x, "float64").reshape(len(x), -1) @ self.w
        return z.astype("float32"), np.zeros_like(z, "float32")

    def decode(self, z):
        return (np.asarray(z, "float64") @ self.w.T).reshape((-1,) + self.input_shape_)


def test_attribute_vector_matches_numpy():
    rng = np.random.default_rng(1)
    model = LinearStub()
    x = rng.uniform(size=(50, 4, 4, 3)).astype("float32")
    has = rng.uniform(size=50) < 0.3
    z = x.reshape(50, -1).astype("float64") @ model.w
    expected = z[has].mean(axis=0) - z[~has].mean(axis=0)
    vector = plotting.attribute_vector(model, x, has, batch_size=16)
    np.testing.assert_allclose(vector, expected, rtol=1e-4, atol=1e-5)
    assert vector.dtype == np.float32 and vector.shape == (3,)
    assert model.encoded_batches == [16, 16, 16, 2]  # batched
    np.testing.assert_allclose(plotting.attribute_vector(model, x, has.astype(int)), vector)


@pytest.mark.parametrize(
    "has, match",
    [
        (np.zeros(6, bool), "Received 0 with and 6 without"),
        (np.ones(6, bool), "Received 6 with and 0 without"),
        (np.ones(5, bool), r"x has 6 examples.*shape \(5,\)"),
        (np.array([0, 1, 2, 0, 1, 0]), "boolean"),
        (np.array(list("ababab")), "boolean"),
    ],
)
def test_attribute_vector_rejects_bad_groups(has, match):
    with pytest.raises(ValueError, match=match):
        plotting.attribute_vector(LinearStub(), np.ones((6, 4, 4, 3)), has)


def test_apply_attribute_adds_multiples_of_the_vector():
    model = LinearStub()
    x = np.random.default_rng(2).uniform(size=(3, 4, 4, 3)).astype("float32")
    vector = np.array([1.0, -0.5, 2.0], "float32")
    out = plotting.apply_attribute(model, x, vector, steps=(-1, 0, 2.5))
    assert out.shape == (3, 3, 4, 4, 3)
    z = model.encode(x)[0]
    for j, s in enumerate((-1, 0, 2.5)):
        np.testing.assert_allclose(out[:, j], model.decode(z + s * vector), rtol=1e-5, atol=1e-5)
    assert plotting.apply_attribute(model, x[0], vector, steps=4).shape == (1, 4, 4, 4, 3)
    with pytest.raises(ValueError, match=r"latent shape \(3,\).*Received shape \(2,\)"):
        plotting.apply_attribute(model, x, vector[:2])
    with pytest.raises(ValueError, match="steps=\\[\\]"):
        plotting.apply_attribute(model, x, vector, steps=[])
    with pytest.raises(ValueError, match="steps=0"):
        plotting.apply_attribute(model, x, vector, steps=0)


@pytest.mark.parametrize("side, scale", [(32, 3), (64, 2)])
def test_figure_rows_columns_labels_and_file(tmp_path, side, scale):
    model = LinearStub(latent_dim=2, shape=(side, side, 3))
    x = np.random.default_rng(3).uniform(size=(2, side, side, 3)).astype("float32")
    fig = plotting.attribute_arithmetic(
        model, x, np.array([0.1, -0.1]), steps=(-1, 0, 1), title="red", path=tmp_path / "a.png"
    )
    ax = fig.axes[0]
    grid = np.asarray(ax.images[0].get_array())
    assert grid.shape == (2 * (side + 1) - 1, 4 * (side + 1) - 1, 3)  # 2 rows, x + 3 steps
    np.testing.assert_allclose(grid[:side, :side], x[0], atol=1e-6)  # the original first
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "-1", "0", "1"]
    png = matplotlib.image.imread(tmp_path / "a.png")  # upscaled to be legible
    assert png.shape[:2] == (grid.shape[0] * scale + 16 + 24, grid.shape[1] * scale)
    plain = plotting.attribute_arithmetic(model, x, [0.1, -0.1], steps=5, show_original=False)
    assert [t.get_text() for t in plain.axes[0].get_xticklabels()] == ["-2", "-1", "0", "1", "2"]


def colour_squares(n=512, side=16, square=6, seed=0):
    """Black images with one red or blue square at a random position."""
    rng = np.random.default_rng(seed)
    red = rng.uniform(size=n) < 0.5
    x = np.zeros((n, side, side, 3), "float32")
    for i, (r, c) in enumerate(rng.integers(0, side - square + 1, size=(n, 2))):
        x[i, r : r + square, c : c + square, 0 if red[i] else 2] = 1.0
    return x, red


def foreground(images, count):
    """The `count` brightest pixels of each image: `(..., count, channels)`."""
    flat = images.reshape(images.shape[:-3] + (-1, images.shape[-1]))
    brightest = np.argsort(flat.max(axis=-1), axis=-1)[..., -count:]
    return np.take_along_axis(flat, brightest[..., None], axis=-2)


def test_adding_the_red_vector_turns_blue_squares_red():
    import keras

    from vae_keras import VAE, networks

    keras.utils.set_random_seed(0)
    x, red = colour_squares()
    vae = VAE(
        networks.dense_encoder(x.shape[1:], 4, hidden_units=(128,)),
        networks.dense_decoder(4, x.shape[1:], hidden_units=(128,)),
        seed=0,
    )
    vae.compile(optimizer=keras.optimizers.Adam(2e-3))
    vae.fit(x, epochs=15, batch_size=32, verbose=0)

    vector = plotting.attribute_vector(vae, x, red)
    steps = (0.0, 0.5, 1.0, 1.5, 2.0)
    out = plotting.apply_attribute(vae, x[~red][:16], vector, steps)
    square = foreground(out, 6 * 6)  # (16 images, 5 steps, 36 pixels, RGB)
    r, b = square[..., 0].mean(axis=-1), square[..., 2].mean(axis=-1)  # (16, 5)
    # Every image: red rises and blue falls with each step, so R - B rises.
    assert (np.diff(r - b, axis=1) > 0).all(), r - b
    mean_r, mean_b = r.mean(axis=0), b.mean(axis=0)
    assert (np.diff(mean_r) > 0).all() and (np.diff(mean_b) < 0).all(), (mean_r, mean_b)
    # Step 0 reconstructs blue squares; two steps turn them clearly red.
    assert mean_b[0] > 0.5 > mean_r[0] and mean_r[-1] > 0.5 > mean_b[-1]


def test_red_vector_on_shapes_turns_decoded_shapes_red():
    # The check on the package's own factor dataset: the "red" vector (mean code of
    # red shapes minus that of the others) added to green, blue and cyan shapes must raise
    # the red share of their pixels at every step, measured, not looked at.
    import keras

    from vae_keras import VAE, datasets, networks

    keras.utils.set_random_seed(0)
    x, _ = datasets.load("shapes", "train", image_size=16, num_examples=1500)
    colour = datasets.shapes_factors("train", 1500)["color"]
    red = colour == datasets.COLOR_NAMES.index("red")
    vae = VAE(
        networks.dense_encoder(x.shape[1:], 8, hidden_units=(256,)),
        networks.dense_decoder(8, x.shape[1:], hidden_units=(256,)),
        seed=0,
    )
    vae.compile(optimizer=keras.optimizers.Adam(2e-3))
    vae.fit(x, epochs=15, batch_size=32, verbose=0)

    vector = plotting.attribute_vector(vae, x, red)
    no_red = np.isin(colour, [datasets.COLOR_NAMES.index(c) for c in ("green", "blue", "cyan")])
    steps = (0.0, 0.5, 1.0, 1.5, 2.0)
    out = plotting.apply_attribute(vae, x[no_red][:24], vector, steps)
    pixels = foreground(out, 12)  # the shape, not the black background
    share = pixels[..., 0].sum(-1) / pixels.sum(axis=(-1, -2))  # red share: (24 images, 5 steps)
    mean_share = share.mean(axis=0)
    assert (np.diff(mean_share) > 0).all(), mean_share
    assert mean_share[0] < 0.15 and mean_share[-1] > 0.5, mean_share
