"""Tests for `vae_keras.datasets`: IDX files, local folders, digits, TFDS (mocked, offline)."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from vae_keras import datasets

ENV = "VAE_KERAS_DATA_DIR"
SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
TYPE_CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def write_idx(path, array, type_code=0x08, gz=None):
    """Writes `array` as an IDX file; gzip-compressed when `gz` (default: name ends in .gz)."""
    array = np.asarray(array)
    header = struct.pack(">HBB", 0, type_code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(TYPE_CODES[type_code]).tobytes()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    gz = path.name.endswith(".gz") if gz is None else gz
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def make_split(rng, n, height=4, width=3):
    images = rng.integers(0, 256, size=(n, height, width), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 0, 255  # both ends of the range
    return images, rng.integers(0, 10, size=n, dtype=np.uint8)


def write_mnist(folder, seed=0):
    """Tiny MNIST-layout folder: train files gzipped, test files raw (both must work)."""
    rng = np.random.default_rng(seed)
    data = {"train": make_split(rng, 6), "test": make_split(rng, 3)}
    for split, prefix, ext in (("train", "train", ".gz"), ("test", "t10k", "")):
        write_idx(Path(folder) / f"{prefix}-images-idx3-ubyte{ext}", data[split][0])
        write_idx(Path(folder) / f"{prefix}-labels-idx1-ubyte{ext}", data[split][1])
    return data


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)


@pytest.fixture
def failing_download(monkeypatch):
    """Makes every TFDS download fail as it does without internet; records the calls."""
    tfds = pytest.importorskip("tensorflow_datasets")
    calls = []

    def fake_load(name, *args, **kwargs):
        calls.append(name)
        raise ConnectionError("no internet (test)")

    monkeypatch.setattr(tfds, "load", fake_load)
    return calls


# --- load_idx ------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("type_code", sorted(TYPE_CODES))
def test_load_idx_round_trip(tmp_path, type_code, gz):
    offset = 0 if type_code == 0x08 else -20  # negative values for the signed types
    expected = (np.arange(24).reshape(2, 3, 4) * 3 + offset).astype(TYPE_CODES[type_code])
    path = write_idx(tmp_path / "f.idx", expected, type_code, gz=gz)
    got = datasets.load_idx(path)
    assert got.shape == (2, 3, 4)
    assert got.dtype == np.dtype(TYPE_CODES[type_code]).newbyteorder("=")
    np.testing.assert_array_equal(got, expected)


def corrupt(path, mutate):
    raw = bytearray(gzip.decompress(path.read_bytes()))
    path.write_bytes(gzip.compress(bytes(mutate(raw))))


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda raw: b"\x01" + raw[1:], "first two bytes must be zero"),
        (lambda raw: raw[:2] + b"\x07" + raw[3:], "unknown data type byte 0x07"),
        (
            lambda raw: raw[:-5],
            "truncated: expected 36 bytes of data for shape (3, 4, 3), found 31",
        ),
        (lambda raw: raw + b"\x00", "trailing bytes: expected 36 bytes"),
        (lambda raw: raw[:10], "truncated header"),
        (lambda raw: raw[:3], "truncated header"),
        (lambda raw: raw[:3] + b"\x00" + raw[4:], "declares 0 dimensions"),
    ],
)
def test_corrupt_idx_errors_name_the_file(tmp_path, no_env, mutate, message):
    write_mnist(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(gzip.compress(path.read_bytes()))  # corrupt() works on gzip
    corrupt(path, mutate)
    with pytest.raises(ValueError) as info:
        datasets.load("mnist", split="test", data_dir=tmp_path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_corrupt_gzip_stream(tmp_path):
    path = tmp_path / "x-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05abcde")[:-12])
    with pytest.raises(ValueError, match="corrupt gzip"):
        datasets.load_idx(path)


def test_mismatched_image_and_label_counts(tmp_path, no_env):
    write_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match="do not match"):
        datasets.load("mnist", split="test", data_dir=tmp_path)


# --- mnist / fashion_mnist from local IDX files ------------------------------------------


def test_local_idx_exact_values(tmp_path, no_env, failing_download):
    data = write_mnist(tmp_path)
    for split in ("train", "test"):
        images, labels = data[split]
        x, y = datasets.load("mnist", split=split, data_dir=str(tmp_path))
        assert x.shape == (len(images), 4, 3, 1) and x.dtype == np.float32
        assert y.shape == (len(images),) and y.dtype == np.int64
        np.testing.assert_array_equal(x[..., 0], images.astype(np.float32) / np.float32(255))
        np.testing.assert_array_equal(y, labels)
        assert x.min() == 0.0 and x.max() == 1.0
    assert failing_download == []  # a local copy never touches TFDS


def test_subfolder_layout_and_env_var(tmp_path, monkeypatch, failing_download):
    data = write_mnist(tmp_path / "fashion_mnist", seed=1)
    x, y = datasets.load("fashion_mnist", split="test", data_dir=tmp_path)
    np.testing.assert_array_equal(y, data["test"][1])
    monkeypatch.setenv(ENV, str(tmp_path))
    x_env, y_env = datasets.load("fashion_mnist", split="test")
    np.testing.assert_array_equal(x_env, x)
    np.testing.assert_array_equal(y_env, y)
    # The fashion_mnist subfolder must not be served as mnist: no local copy -> download.
    with pytest.raises(FileNotFoundError):
        datasets.load("mnist", split="test")
    assert failing_download == ["mnist"]


def test_named_subfolder_wins_over_files_in_root(tmp_path, no_env):
    mnist = write_mnist(tmp_path, seed=2)  # e.g. a folder with MNIST directly inside...
    fashion = write_mnist(tmp_path / "fashion_mnist", seed=3)  # ...and a fashion subfolder
    _, y = datasets.load("fashion_mnist", split="test", data_dir=tmp_path)
    np.testing.assert_array_equal(y, fashion["test"][1])
    _, y = datasets.load("mnist", split="test", data_dir=tmp_path)
    np.testing.assert_array_equal(y, mnist["test"][1])


def test_limit(tmp_path, no_env):
    data = write_mnist(tmp_path)
    x, y = datasets.load("mnist", data_dir=tmp_path, limit=2)
    assert x.shape == (2, 4, 3, 1)
    np.testing.assert_array_equal(x[..., 0] * 255, data["train"][0][:2])
    np.testing.assert_array_equal(y, data["train"][1][:2])
    x, _ = datasets.load("mnist", data_dir=tmp_path, limit=1000)
    assert len(x) == 6
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="limit"):
            datasets.load("mnist", data_dir=tmp_path, limit=bad)


def test_image_size_resizes(tmp_path, no_env):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.full((2, 4, 3), 128, np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([3, 7], np.uint8))
    x, y = datasets.load("mnist", split="test", data_dir=tmp_path, image_size=(8, 6))
    assert x.shape == (2, 8, 6, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x, 128 / 255, atol=1e-6)  # a flat image stays flat
    np.testing.assert_array_equal(y, [3, 7])
    with pytest.raises(ValueError, match="image_size"):
        datasets.load("mnist", split="test", data_dir=tmp_path, image_size=(8,))


def test_out_of_range_pixels_rejected(tmp_path, no_env):
    images = np.zeros((2, 2, 2), np.float32)
    images[1, 1, 1] = np.nan
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images, type_code=0x0D)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([0, 1], np.uint8))
    with pytest.raises(ValueError, match="finite and in \\[0, 1\\]"):
        datasets.load("mnist", split="test", data_dir=tmp_path)


def test_bad_split(tmp_path, no_env):
    write_mnist(tmp_path)
    for name in ("mnist", "digits"):
        with pytest.raises(ValueError, match="'validation'.*'train', 'test'"):
            datasets.load(name, split="validation", data_dir=tmp_path)


def test_missing_data_dir_fails_without_download(tmp_path, monkeypatch, failing_download):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere") as info:
        datasets.load("mnist", data_dir=missing)
    assert str(missing) in str(info.value)
    monkeypatch.setenv(ENV, str(missing))  # a mistyped env var fails the same way
    with pytest.raises(FileNotFoundError, match=f"nowhere.*from \\${ENV}"):
        datasets.load("fashion_mnist")
    assert failing_download == []


def test_no_local_copy_and_failed_download(tmp_path, no_env, failing_download):
    with pytest.raises(FileNotFoundError) as info:
        datasets.load("mnist", split="test", data_dir=tmp_path)
    message = str(info.value)
    for part in (
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
        str(tmp_path),
        str(tmp_path / "mnist"),
        ENV,
        "data_dir=",
        "--data-dir",
        "no internet",
    ):
        assert part in message, part
    assert failing_download == ["mnist"]
    with pytest.raises(FileNotFoundError, match=f"data_dir is not set and \\${ENV}"):
        datasets.load("fashion_mnist")


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="no ../shared/datasets/mnist")
def test_real_mnist_test_split(monkeypatch):
    monkeypatch.setenv(ENV, str(SHARED_MNIST.parent))
    x, y = datasets.load("mnist", split="test")
    assert x.shape == (10000, 28, 28, 1) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y, minlength=10), MNIST_TEST_COUNTS)
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_allclose(x * 255, np.round(x * 255), atol=1e-3)  # original uint8 levels
    assert 0.10 < x.mean() < 0.15  # MNIST's mean intensity is about 0.13


# --- digits (scikit-learn, offline) ------------------------------------------------------


def sorted_rows(a):
    a = a.reshape(len(a), -1)
    return a[np.lexsort(a.T[::-1])]


def test_digits_split():
    from sklearn.datasets import load_digits

    x_train, y_train = datasets.load("digits", split="train")
    x_test, y_test = datasets.load("digits", split="test")
    assert x_train.shape == (1438, 8, 8, 1) and x_test.shape == (359, 8, 8, 1)
    assert len(x_train) + len(x_test) == 1797
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0 and x_test.max() <= 1.0
    # Train and test together are exactly the whole set: a partition (disjoint + complete).
    full = load_digits()
    both = np.concatenate(
        [
            np.concatenate([x_train, x_test]).reshape(-1, 64) * 16,
            np.concatenate([y_train, y_test])[:, None],
        ],
        axis=1,
    )
    reference = np.concatenate([full.data, full.target[:, None]], axis=1)
    np.testing.assert_array_equal(sorted_rows(both), sorted_rows(reference))
    # Deterministic for a seed, different for another.
    x_again, y_again = datasets.load("digits", split="test")
    np.testing.assert_array_equal(x_again, x_test)
    np.testing.assert_array_equal(y_again, y_test)
    _, y_other = datasets.load("digits", split="test", seed=1)
    assert not np.array_equal(y_other, y_test)
    x_small, _ = datasets.load("digits", split="test", limit=4, image_size=(16, 16))
    assert x_small.shape == (4, 16, 16, 1)


# --- TFDS (mock_data: offline, no metadata download needed) ------------------------------
# `tfds.testing.mock_data` builds random examples from the feature specs that ship with
# tensorflow-datasets (tested offline for cifar10, mnist and celeb_a), so nothing is fetched.


@pytest.fixture
def tfds():
    return pytest.importorskip("tensorflow_datasets")


def test_tfds_image_dataset(tfds):
    with tfds.testing.mock_data(num_examples=5):
        x, y = datasets.load("cifar10", split="train")
        reference = list(tfds.as_numpy(tfds.load("cifar10", split="train")))
    assert x.shape == (5, 32, 32, 3) and x.dtype == np.float32
    assert y.shape == (5,) and y.dtype == np.int64
    assert x.min() >= 0.0 and x.max() <= 1.0
    np.testing.assert_array_equal(x, np.stack([e["image"] for e in reference]) / np.float32(255))
    np.testing.assert_array_equal(y, [e["label"] for e in reference])


def test_tfds_unlabelled_and_resized(tfds):
    import tensorflow as tf

    with tfds.testing.mock_data(num_examples=3):
        x, y = datasets.load("celeb_a", split="test", image_size=(16, 12), limit=2)
        full, _ = datasets.load("celeb_a", split="test", limit=2)
    assert x.shape == (2, 16, 12, 3) and x.dtype == np.float32
    assert y is None  # celeb_a has attributes but no `label` feature
    assert full.shape == (2, 218, 178, 3) and x.min() >= 0.0 and x.max() <= 1.0
    expected = tf.image.resize(full, (16, 12), antialias=True).numpy()
    expected = np.round(expected.clip(0, 1) * 255) / 255  # the 8-bit grid of the files
    np.testing.assert_allclose(x, expected, atol=1e-5)


def test_mnist_download_branch(tmp_path, tfds, no_env):
    with tfds.testing.mock_data(num_examples=5):
        x, y = datasets.load("mnist")  # no data_dir, no env var -> TFDS
        x3, _ = datasets.load("mnist", split="test", limit=3)
        x_tmp, _ = datasets.load("mnist", data_dir=tmp_path)  # empty folder -> TFDS too
    assert x.shape == (5, 28, 28, 1) and x.dtype == np.float32
    assert y.shape == (5,) and y.dtype == np.int64 and x.max() <= 1.0
    assert x3.shape == (3, 28, 28, 1) and x_tmp.shape == (5, 28, 28, 1)


def test_unknown_name_suggests_close_match(tfds):
    with pytest.raises(ValueError) as info:
        datasets.load("mnsit")
    message = str(info.value)
    assert "Unknown dataset 'mnsit'" in message and "Did you mean 'mnist'" in message
    assert "mnist, fashion_mnist, digits" in message
    with pytest.raises(ValueError, match="Unknown dataset 'no_such_dataset_xyz'\\. Built-in"):
        datasets.load("no_such_dataset_xyz")


def test_tfds_dataset_without_image_feature(tfds):
    with pytest.raises(ValueError, match="no 'image' feature"):
        datasets.load("imdb_reviews")


def test_known_datasets():
    assert datasets.KNOWN_DATASETS == ("mnist", "fashion_mnist", "digits")


# --- tfds_stream: streaming TFDS (mocked) ------------------------------------------------


def test_tfds_stream_celeba_crop_and_attributes(tfds):
    import tensorflow as tf

    with tfds.testing.mock_data(num_examples=5):
        ds = datasets.tfds_stream(
            "celeb_a", "test", batch_size=3, preprocessing="celeba", attributes=True
        )
        batches = [(x.numpy(), a.numpy()) for x, a in ds]
        raw = list(tfds.as_numpy(tfds.load("celeb_a", split="test")))
    assert [b[0].shape for b in batches] == [(3, 64, 64, 3), (2, 64, 64, 3)]
    x = np.concatenate([b[0] for b in batches])
    attrs = np.concatenate([b[1] for b in batches])
    assert x.dtype == np.float32 and attrs.dtype == np.float32 and attrs.shape == (5, 40)
    assert len(ds.attribute_names) == 40 and ds.attribute_names[31] == "Smiling"
    assert ds.tfds_name == "celeb_a"
    expected_attrs = [[float(e["attributes"][k]) for k in ds.attribute_names] for e in raw]
    np.testing.assert_array_equal(attrs, expected_attrs)
    # NVAE's box: rows 40..187, columns 15..162 of the 218x178 face, then 64x64.
    assert datasets.CELEBA_CROP_BOX == (40, 15, 148, 148)
    crops = np.stack([e["image"][40:188, 15:163] for e in raw]).astype(np.float32) / 255
    expected = tf.image.resize(crops, (64, 64), antialias=True).numpy().clip(0, 1)
    expected = np.round(expected * 255) / 255  # the 8-bit grid of the files
    np.testing.assert_allclose(x, expected, atol=1e-5)


def test_tfds_stream_matches_load_and_streams(tfds):
    with tfds.testing.mock_data(num_examples=7):
        ds = datasets.tfds_stream("cifar10", "train", batch_size=4, image_size=16)
        assert ds.element_spec.shape.as_list() == [None, 16, 16, 3]
        streamed = np.concatenate([b.numpy() for b in ds])
        x, _ = datasets.load("cifar10", image_size=(16, 16))
        shuffled = datasets.tfds_stream("cifar10", batch_size=7, shuffle=True, seed=1)
        one_epoch = next(iter(shuffled)).numpy()
        with pytest.raises(ValueError, match="no 'attributes' feature.*attributes=False"):
            datasets.tfds_stream("cifar10", attributes=True)
    np.testing.assert_array_equal(streamed, x)
    assert one_epoch.shape == (7, 32, 32, 3)
    with pytest.raises(ValueError, match="preprocessing.*Received: preprocessing='ffhq'"):
        datasets.tfds_stream("celeb_a", preprocessing="ffhq")
    with pytest.raises(ValueError, match="batch_size"):
        datasets.tfds_stream("celeb_a", batch_size=0)


@pytest.mark.backend
def test_fit_vae_on_tfds_stream(tfds):
    from vae_keras import VAE, networks

    with tfds.testing.mock_data(num_examples=8):
        ds = datasets.tfds_stream("celeb_a", image_size=8, batch_size=4, preprocessing="celeba")
        vae = VAE(networks.dense_encoder((8, 8, 3), 2), networks.dense_decoder(2, (8, 8, 3)))
        vae.compile(optimizer="adam")
        history = vae.fit(ds, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][-1])


def test_load_procedural_datasets(tfds):  # tfds: unknown names are looked up there
    x, y = datasets.load("shapes", split="test", num_examples=4)
    assert x.shape == (4, 32, 32, 3) and y.shape == (4,)
    pytest.importorskip("skimage")
    x, y = datasets.load("patches", split="test", image_size=(8, 12), limit=3)
    assert x.shape == (3, 8, 12, 3) and y is None
    with pytest.raises(ValueError, match="Did you mean 'shapes'"):
        datasets.load("shape")
