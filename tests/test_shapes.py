"""Tests for the procedural datasets: colour `shapes` (factors, rendering) and `patches`."""

import time

import numpy as np
import pytest

from vae_keras import datasets
from vae_keras.datasets import shapes as shapes_module

AREAS = {"square": 4 * 0.68**2, "ellipse": 1.57, "triangle": 1.299, "heart": 2.34}  # x radius^2


def one(shape, color=0, scale=1.0, rotation=0.0, x=0.5, y=0.5):
    names = datasets.FACTOR_NAMES
    values = (datasets.SHAPE_NAMES.index(shape), color, scale, rotation, x, y)
    return np.array([values], shapes_module.FACTOR_DTYPE)[list(names)]


def coverage(image):
    """Per-pixel coverage of a shape drawn in a colour with a channel at 1."""
    return image.max(axis=-1)


# --- shapes --------------------------------------------------------------------------


def test_deterministic_and_aligned_with_factors():
    x, y = datasets.load("shapes", split="train", image_size=16, num_examples=50)
    x2, y2 = datasets.load("shapes", split="train", image_size=16, num_examples=50)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert x.shape == (50, 16, 16, 3) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    factors = datasets.shapes_factors("train", num_examples=50)
    assert factors.dtype.names == datasets.FACTOR_NAMES
    np.testing.assert_array_equal(y, factors["shape"])
    np.testing.assert_array_equal(x, datasets.render_shapes(factors, 16))
    # A prefix does not depend on how many are generated; `limit` agrees with it.
    np.testing.assert_array_equal(datasets.shapes_factors("train", 10), factors[:10])
    x_limit, _ = datasets.load("shapes", image_size=16, limit=10)
    np.testing.assert_array_equal(x_limit, x[:10])
    # Other seeds and the test split are other streams.
    x_seed, _ = datasets.load("shapes", image_size=16, num_examples=50, seed=1)
    x_test, _ = datasets.load("shapes", split="test", image_size=16, num_examples=50)
    assert not np.array_equal(x_seed, x) and not np.array_equal(x_test, x)
    assert len(datasets.shapes_factors("test")) == 2000
    # Factors cover their documented ranges.
    f = datasets.shapes_factors("train", 2000)
    assert set(np.unique(f["shape"])) == {0, 1, 2, 3} and set(np.unique(f["color"])) == set(
        range(len(datasets.COLOR_NAMES))
    )
    for name, low, high in (("scale", 0.5, 1), ("rotation", 0, 360), ("x", 0.25, 0.75)):
        margin = 0.01 * (high - low)
        assert low <= f[name].min() < low + margin and high - margin < f[name].max() <= high


@pytest.mark.parametrize("color", range(8))
def test_color_factor_is_the_shape_colour(color):
    image = datasets.render_shapes(one("ellipse", color=color), 32)[0]
    inside = coverage(image) == 1.0
    assert inside.sum() > 50
    np.testing.assert_array_equal(image[inside].mean(0), datasets.PALETTE[color])
    assert image[coverage(image) == 0].max() == 0.0  # black background
    assert datasets.COLOR_NAMES[0] == "red"


@pytest.mark.parametrize("shape", datasets.SHAPE_NAMES)
def test_position_scale_and_area(shape):
    size, rng = 64, np.random.default_rng(0)
    for _ in range(3):
        x, y, rotation = rng.uniform(0.25, 0.75), rng.uniform(0.25, 0.75), rng.uniform(0, 360)
        c = coverage(datasets.render_shapes(one(shape, rotation=rotation, x=x, y=y), size)[0])
        rows, cols = np.indices(c.shape) + 0.5  # pixel centres
        centroid = (c * cols).sum() / c.sum(), (c * rows).sum() / c.sum()
        np.testing.assert_allclose(centroid, (x * size, y * size), atol=0.15)
    # Area: radius = 0.24 * scale * size, so it grows with scale squared.
    areas = [
        coverage(datasets.render_shapes(one(shape, scale=s, rotation=30), size)[0]).sum()
        for s in (0.5, 0.75, 1.0)
    ]
    assert areas[0] < areas[1] < areas[2]
    radius = 0.24 * size
    np.testing.assert_allclose(areas[2], AREAS[shape] * radius**2, rtol=0.02)
    np.testing.assert_allclose(areas[2] / areas[0], 4.0, rtol=0.03)


def test_shapes_have_distinct_pixel_counts_and_orientation():
    counts = sorted(
        coverage(datasets.render_shapes(one(s), 32)[0]).sum() for s in datasets.SHAPE_NAMES
    )
    assert all(b / a > 1.1 for a, b in zip(counts, counts[1:], strict=False))
    # Rotating by 180 degrees about the image centre is a point reflection.
    heart, turned = (datasets.render_shapes(one("heart", rotation=r), 32)[0] for r in (0.0, 180.0))
    assert np.abs(turned - heart[::-1, ::-1]).mean() < 1e-3
    # Upright: the heart's tip (bottom) is further from its centroid than its lobes (top).
    rows = np.flatnonzero(coverage(heart).max(axis=1) > 0)
    assert 16 - rows[0] < rows[-1] + 1 - 16
    square, diamond = (datasets.render_shapes(one("square", rotation=r), 32)[0] for r in (0, 45))
    assert coverage(square)[16].sum() < coverage(diamond)[16].sum()  # wider across the middle


@pytest.mark.parametrize("size", [16, 28, 32, 64, (24, 40)])
def test_any_image_size(size):
    x, y = datasets.load("shapes", image_size=size, num_examples=20)
    height, width = (size, size) if isinstance(size, int) else size
    assert x.shape == (20, height, width, 3) and y.shape == (20,)
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert (x.max(axis=(1, 2, 3)) == 1.0).all()  # every image shows a shape


def test_fast_enough():
    start = time.perf_counter()
    x, _ = datasets.load("shapes", image_size=32)
    assert x.shape == (10_000, 32, 32, 3)
    assert time.perf_counter() - start < 20  # ~2.5 s on 2 CPU cores


def test_bad_factors_and_arguments():
    f = datasets.shapes_factors("test", 3)
    with pytest.raises(ValueError, match="lacks the fields \\['rotation'\\]"):
        datasets.render_shapes({k: f[k] for k in datasets.FACTOR_NAMES if k != "rotation"})
    bad = f.copy()
    bad["shape"][1] = 4
    with pytest.raises(ValueError, match="shape.*Received: 4"):
        datasets.render_shapes(bad)
    with pytest.raises(ValueError, match="Invalid split 'validation'.*'train', 'test'"):
        datasets.load("shapes", split="validation")
    with pytest.raises(ValueError, match="num_examples"):
        datasets.shapes_factors("train", 0)
    with pytest.raises(ValueError, match="image_size"):
        datasets.load("shapes", image_size=0)


# --- patches -------------------------------------------------------------------------


def find(patch, photo):
    windows = np.lib.stride_tricks.sliding_window_view(photo, patch.shape)
    return bool((windows == patch).all(axis=(-3, -2, -1)).any())


def test_patches_are_exact_crops_of_the_split_photos():
    data = pytest.importorskip("skimage.data")

    assert not set(datasets.TRAIN_PHOTOS) & set(datasets.TEST_PHOTOS)
    x, y = datasets.load("patches", split="test", image_size=8, num_examples=6)
    assert y is None and x.shape == (6, 8, 8, 3) and x.dtype == np.float32
    levels = x * 255
    np.testing.assert_array_equal(levels, np.round(levels))  # exactly k / 255
    test_photos = [getattr(data, n)() for n in datasets.TEST_PHOTOS]
    for patch in np.round(levels).astype(np.uint8):
        assert any(find(patch, p) for p in test_photos)
    # Deterministic; another seed or split differs; a prefix is stable.
    again = datasets.load_patches("test", 8, num_examples=6)
    np.testing.assert_array_equal(again, x)
    np.testing.assert_array_equal(datasets.load_patches("test", 8, num_examples=3), x[:3])
    assert not np.array_equal(datasets.load_patches("test", 8, num_examples=6, seed=1), x)
    train = datasets.load_patches("train", 8, num_examples=200)
    assert train.std() > 0.1 and train.min() >= 0.0 and train.max() <= 1.0
    assert not any(find(np.round(p * 255).astype(np.uint8), test_photos[0]) for p in train[:5])


def test_patches_resized_stay_on_the_grid():
    pytest.importorskip("skimage")
    x = datasets.load_patches("train", (12, 16), num_examples=20, crop_size=(24, 32))
    assert x.shape == (20, 12, 16, 3)
    np.testing.assert_array_equal(x * 255, np.round(x * 255))
    with pytest.raises(ValueError, match="crop_size.*larger"):
        datasets.load_patches("test", 32, crop_size=400)


def test_patches_need_scikit_image(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "skimage", None)
    with pytest.raises(ImportError, match="pip install scikit-image"):
        datasets.load("patches", num_examples=2)
