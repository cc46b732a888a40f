"""Tests for `datasets.image_folder`: decoding, cropping, labels, splits, bad files, fit."""

import logging

import numpy as np
import pytest
from PIL import Image

from vae_keras import datasets

RED, BLUE, GREEN = (255, 0, 0), (0, 0, 255), (0, 255, 0)


def solid(path, color, size=(8, 8), mode="RGB", fmt=None):
    """A one-colour image file; `size` is (width, height) as PIL counts it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path, fmt)
    return path


def collect(ds):
    return np.concatenate([b.numpy() for b in ds])


@pytest.fixture
def mixed_folder(tmp_path):
    """Five formats and channel counts, each one known colour; one file that is no image."""
    folder = tmp_path / "mixed"
    solid(folder / "a_rgb.png", RED)
    solid(folder / "b_gray.png", 128, mode="L")
    solid(folder / "c_rgba.png", (0, 0, 255, 40), mode="RGBA")
    solid(folder / "d.bmp", GREEN)
    solid(folder / "e.gif", RED, mode="RGB")
    solid(folder / "sub" / "f.jpg", BLUE, size=(16, 16))
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_formats_channels_and_values(mixed_folder):
    ds = datasets.image_folder(mixed_folder, 4, batch_size=4, shuffle=False)
    assert ds.num_files == 6 and ds.skipped_files == []
    assert [p.split("mixed/")[1] for p in ds.file_paths] == [
        "a_rgb.png",
        "b_gray.png",
        "c_rgba.png",
        "d.bmp",
        "e.gif",
        "sub/f.jpg",
    ]
    assert ds.element_spec.shape.as_list() == [None, 4, 4, 3]
    x = collect(ds)
    assert x.shape == (6, 4, 4, 3) and x.dtype == np.float32
    means = x.mean(axis=(1, 2))
    np.testing.assert_allclose(means[0], [1, 0, 0], atol=1e-6)  # PNG: exact
    np.testing.assert_allclose(means[1], [128 / 255] * 3, atol=1e-6)  # gray -> 3 channels
    np.testing.assert_allclose(means[2], [0, 0, 1], atol=1e-6)  # alpha dropped
    np.testing.assert_allclose(means[3], [0, 1, 0], atol=1e-6)
    np.testing.assert_allclose(means[4], [1, 0, 0], atol=0.02)  # GIF: palette colour
    np.testing.assert_allclose(means[5], [0, 0, 1], atol=0.02)  # JPEG: lossy
    gray = collect(datasets.image_folder(mixed_folder, (2, 3), color_mode="grayscale"))
    assert gray.shape == (6, 2, 3, 1) and gray.min() >= 0 and gray.max() <= 1
    np.testing.assert_allclose(
        np.sort(gray.mean(axis=(1, 2, 3))),
        np.sort([0.299, 128 / 255, 0.114, 0.587, 0.299, 0.114]),  # ITU-R 601 luma
        atol=0.01,
    )


def test_center_crop_then_resize(tmp_path):
    # 12 wide x 8 tall: red 2-pixel borders left and right, blue in the middle 8x8.
    image = np.zeros((8, 12, 3), np.uint8)
    image[:, :, 2] = 255
    image[:, :2] = image[:, -2:] = RED
    Image.fromarray(image).save(tmp_path / "wide.png")
    cropped = collect(datasets.image_folder(tmp_path, 4))
    np.testing.assert_allclose(cropped[0].reshape(-1, 3), [[0, 0, 1]] * 16, atol=1e-6)
    squashed = collect(datasets.image_folder(tmp_path, 4, center_crop=False))
    assert squashed[0, :, 0, 0].min() > 0.5  # the red border is now in the left column
    # A non-square target crops to its own aspect ratio: 8 tall x 12 wide keeps all.
    whole = collect(datasets.image_folder(tmp_path, (4, 6)))
    assert whole[0, :, 0, 0].min() > 0.5


def test_inferred_labels_for_conditional_vae(tmp_path):
    for name, color, n in (("cats", RED, 3), ("dogs", BLUE, 2)):
        for i in range(n):
            solid(tmp_path / name / f"{i}.png", color)
    solid(tmp_path / "stray.png", GREEN)  # files at the top level are not in a class
    ds = datasets.image_folder(tmp_path, 4, labels="inferred", batch_size=8, seed=1)
    assert ds.class_names == ["cats", "dogs"] and ds.num_files == 5
    ((x, y),) = next(iter(ds))
    x, y = x.numpy(), y.numpy()
    assert x.shape == (5, 4, 4, 3) and y.dtype == np.int32
    assert sorted(y.tolist()) == [0, 0, 0, 1, 1]
    # Each label matches its image: red cats, blue dogs.
    np.testing.assert_allclose(x[..., 0].mean(axis=(1, 2)), (y == 0).astype(float), atol=1e-6)
    with pytest.raises(ValueError, match="one subfolder per class"):
        datasets.image_folder(tmp_path / "cats", 4, labels="inferred")


def test_validation_split_is_fixed_and_disjoint(tmp_path):
    for i in range(20):
        solid(tmp_path / f"{i:02d}.png", (i * 10, 0, 0))
    train, val = datasets.image_folder(tmp_path, 4, validation_split=0.25, subset="both")
    assert (train.num_files, val.num_files) == (15, 5)
    assert set(train.file_paths).isdisjoint(val.file_paths)
    assert len(set(train.file_paths) | set(val.file_paths)) == 20
    again = datasets.image_folder(tmp_path, 4, validation_split=0.25, subset="validation")
    assert again.file_paths == val.file_paths
    other = datasets.image_folder(tmp_path, 4, validation_split=0.25, subset="validation", seed=3)
    assert other.file_paths != val.file_paths
    # The validation images are the validation files, in any order.
    reds = sorted(np.round(collect(val)[:, 0, 0, 0] * 255).astype(int).tolist())
    assert reds == sorted(int(p[-6:-4]) * 10 for p in val.file_paths)
    with pytest.raises(ValueError, match="subset"):
        datasets.image_folder(tmp_path, 4, validation_split=0.25)
    with pytest.raises(ValueError, match="validation_split=1.5"):
        datasets.image_folder(tmp_path, 4, validation_split=1.5, subset="training")


def test_shuffle_reorders_each_epoch(tmp_path):
    for i in range(12):
        solid(tmp_path / f"{i:02d}.png", (i * 20, 0, 0))
    ds = datasets.image_folder(tmp_path, 2, batch_size=12, seed=0)
    first, second = (np.round(collect(ds)[:, 0, 0, 0] * 255 / 20).astype(int) for _ in "ab")
    assert sorted(first) == sorted(second) == list(range(12))
    assert first.tolist() != second.tolist()
    ordered = collect(datasets.image_folder(tmp_path, 2, batch_size=5, shuffle=False))
    np.testing.assert_array_equal(np.round(ordered[:, 0, 0, 0] * 255 / 20), np.arange(12))


def test_corrupt_files_skipped_with_one_warning_or_raised(tmp_path, caplog):
    for i in range(4):
        solid(tmp_path / f"good{i}.png", RED)
    good = (tmp_path / "good0.png").read_bytes()
    (tmp_path / "bad_truncated.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "bad_text.jpg").write_text("not a jpeg")
    (tmp_path / "bad_empty.gif").write_bytes(b"")
    with caplog.at_level(logging.WARNING):
        ds = datasets.image_folder(tmp_path, 4)
    assert ds.num_files == 4 and len(ds.skipped_files) == 3
    warnings = [r.getMessage() for r in caplog.records if "unreadable" in r.getMessage()]
    assert len(warnings) == 1 and "3 unreadable" in warnings[0]
    assert "bad_empty.gif" in warnings[0]  # the first bad file, in sorted order
    x = collect(ds)
    assert x.shape == (4, 4, 4, 3)
    np.testing.assert_allclose(x[..., 0], 1.0)
    with pytest.raises(ValueError, match="bad_empty.gif.*3 of 7"):
        datasets.image_folder(tmp_path, 4, on_error="raise")


def test_mid_file_corruption_is_skipped_while_streaming(tmp_path):
    for i in range(3):
        solid(tmp_path / f"good{i}.png", RED)
    data = bytearray((tmp_path / "good0.png").read_bytes())
    data[40:60] = b"\x00" * 20  # the IDAT chunk: header and IEND intact, data broken
    (tmp_path / "broken.png").write_bytes(bytes(data))
    ds = datasets.image_folder(tmp_path, 4)
    assert ds.num_files == 4  # the cheap check cannot see it ...
    assert collect(ds).shape == (3, 4, 4, 3)  # ... but decoding drops it


def test_bad_folders_and_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.*does not exist"):
        datasets.image_folder(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="No images found in .*empty.*it is empty"):
        datasets.image_folder(empty)
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "a.txt").write_text("x")
    with pytest.raises(ValueError, match="holds 1 other files.*a.txt.*\\.png"):
        datasets.image_folder(texts)
    with pytest.raises(NotADirectoryError, match="a.txt.*is a file"):
        datasets.image_folder(texts / "a.txt")
    solid(tmp_path / "one.png", RED)
    for bad in (0, -3, (4,), (4, 0), 2.5, "64"):
        with pytest.raises(ValueError, match="image_size"):
            datasets.image_folder(tmp_path, bad)
    for kwargs, word in (
        ({"color_mode": "rgba"}, "color_mode"),
        ({"labels": "folders"}, "labels"),
        ({"on_error": "ignore"}, "on_error"),
        ({"batch_size": 0}, "batch_size"),
    ):
        with pytest.raises(ValueError, match=f"{word}.*Received"):
            datasets.image_folder(tmp_path, 4, **kwargs)
    (tmp_path / "junk.png").write_bytes(b"junk")
    only_bad = tmp_path / "only_bad"
    only_bad.mkdir()
    (only_bad / "junk.png").write_bytes(b"junk")
    with pytest.raises(ValueError, match="None of the 1 image files"):
        datasets.image_folder(only_bad)


@pytest.mark.backend
def test_fit_vae_and_conditional_vae_from_folder(tmp_path):
    from vae_keras import VAE, ConditionalVAE, networks
    from vae_keras.models import conditional_decoder, conditional_encoder

    rng = np.random.default_rng(0)
    for i in range(20):  # two classes of 10 noise images, PNG and JPEG mixed
        folder = tmp_path / ("class_a" if i < 10 else "class_b")
        folder.mkdir(exist_ok=True)
        pixels = rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i}.{'png' if i % 2 else 'jpg'}")
    ds = datasets.image_folder(tmp_path, 8, batch_size=8)
    vae = VAE(networks.conv_encoder((8, 8, 3), 2), networks.conv_decoder(2, (8, 8, 3)), seed=0)
    vae.compile(optimizer="adam")
    history = vae.fit(ds, epochs=2, verbose=0).history
    assert sorted(history) == ["kl_loss", "loss", "reconstruction_loss"]
    assert all(np.isfinite(history["loss"]))
    # 8x8x3 Bernoulli cross-entropy of noise images: ~0.69 nats per dimension at best.
    assert 100 < history["reconstruction_loss"][-1] < 200

    labelled = datasets.image_folder(tmp_path, 8, batch_size=8, labels="inferred")
    cvae = ConditionalVAE(
        conditional_encoder((8, 8, 3), 2, 2, hidden_units=(16,)),
        conditional_decoder(2, (8, 8, 3), 2, hidden_units=(16,)),
        num_classes=2,
        seed=0,
    )
    cvae.compile(optimizer="adam")
    history = cvae.fit(labelled, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][-1])
