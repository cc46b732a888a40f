"""The data of a `vae-keras` run: training input for `fit`, and test images as arrays.

In-memory datasets (`mnist`, `digits`, `shapes`, `patches`, TFDS sets through
`datasets.load`) give arrays. `--dataset folder` streams the training images from disk
(`datasets.image_folder`, constant memory) and holds out a fixed-seed 10% of the files:
the first `MAX_FOLDER_TEST` of those, gathered into an array, are the test images that
evaluation, figures and the report use.
"""

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FOLDER = "folder"
FOLDER_VALIDATION_SPLIT = 0.1
MAX_FOLDER_TEST = 2000
DEFAULT_FOLDER_SIZE = 64
PROCEDURAL_SIZE = 32  # shapes and patches without --image-size


@dataclass
class RunData:
    """`train` is an array or a `tf.data.Dataset` of batches; the rest are arrays."""

    train: object
    num_train: int
    x_test: np.ndarray
    y_test: np.ndarray | None
    shape: tuple
    captions: list | None = None  # one per training image (`--captions`)

    @property
    def streamed(self) -> bool:
        return not isinstance(self.train, np.ndarray)


def _image_size(dataset, image_size):
    if image_size is not None:
        return (image_size, image_size)
    if dataset == FOLDER:
        return (DEFAULT_FOLDER_SIZE,) * 2
    if dataset in ("shapes", "patches"):
        return (PROCEDURAL_SIZE,) * 2
    return None


def _check_folder_args(data_dir):
    if not data_dir:
        raise ValueError(
            "--dataset folder reads your images from --data-dir. Pass the folder: "
            "vae-keras train --dataset folder --data-dir PHOTOS --image-size 64"
        )


def _folder(data_dir, image_size, batch_size, seed, subset):
    """The training files (reshuffled every epoch) or the held-out ones (in file order)."""
    from vae_keras import datasets

    return datasets.image_folder(
        data_dir,
        image_size=image_size,
        batch_size=batch_size,
        validation_split=FOLDER_VALIDATION_SPLIT,
        subset=subset,
        seed=seed,
        shuffle=subset == "training",
    )


def _gather(dataset, limit):
    parts, n = [], 0
    for batch in dataset:
        parts.append(np.asarray(batch))
        n += len(parts[-1])
        if n >= limit:
            break
    if not parts:
        raise ValueError(
            "The held-out part of the folder (10% of the files, fixed seed) yielded no "
            "readable image. Add more images to the folder."
        )
    return np.concatenate(parts)[:limit]


# Where TFDS downloads from (its Cloud Storage mirror, MNIST's own files), and how long
# `train` waits to learn that it cannot: TFDS itself retries for minutes.
# (`VAE_KERAS_PROBE_HOST=HOST:PORT` points the probe elsewhere: the test suite keeps it local.)
DOWNLOAD_HOST, PROBE_SECONDS = ("storage.googleapis.com", 443), 5.0
_PROXY_VARIABLES = ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
_OFFLINE = ("digits", "shapes", "patches")


def _check_download_possible(dataset, data_dir):
    """Fails in seconds, naming --data-dir, where the data would come from a TFDS download
    that cannot start (no --data-dir, no $VAE_KERAS_DATA_DIR, not in TFDS's folder, and
    no network)."""
    import socket

    from vae_keras import datasets

    if data_dir or os.environ.get(datasets.ENV_VAR) or dataset.lower() in _OFFLINE:
        return
    if any(os.environ.get(v) for v in _PROXY_VARIABLES):
        return  # downloads go through the proxy: it decides
    absl = logging.getLogger("absl")  # TFDS warns of a dataset folder it has not made yet
    level = absl.level
    absl.setLevel(logging.ERROR)
    try:
        import tensorflow_datasets as tfds

        if tfds.builder(dataset).is_prepared():  # downloaded before
            return
    except Exception:  # noqa: BLE001  (no TFDS, an unknown name: `datasets.load` says so)
        return
    finally:
        absl.setLevel(level)
    host, _, port = os.environ.get("VAE_KERAS_PROBE_HOST", "").rpartition(":")
    address = (host, int(port)) if host else DOWNLOAD_HOST
    try:
        socket.create_connection(address, timeout=PROBE_SECONDS).close()
    except OSError as error:
        raise FileNotFoundError(
            f"No {dataset} files here and no network to download them ({address[0]} "
            f"unreachable: {error}). Pass --data-dir with the dataset files (for MNIST: the "
            f"four IDX files), or set ${datasets.ENV_VAR} to a folder holding them."
        ) from None


def load_train_and_test(
    dataset, data_dir, *, image_size, batch_size, limit, seed, captions=False, hold_out=None
) -> RunData:
    """Training input and test arrays for `vae-keras train` (`captions`: with the training
    images' captions, `hold_out` colour:shape pairs left out of them; shapes only)."""
    from vae_keras import datasets

    size = _image_size(dataset, image_size)
    if dataset == FOLDER:
        _check_folder_args(data_dir)
        train = _folder(data_dir, size, batch_size, seed, "training")
        held_out = _folder(data_dir, size, batch_size, seed, "validation")
        num_train = len(train.file_paths)
        if limit is not None:
            train = train.take(math.ceil(limit / batch_size))
            num_train = min(num_train, limit)
        x_test = _gather(held_out, MAX_FOLDER_TEST)
        return RunData(train, num_train, x_test, None, tuple(x_test.shape[1:]))
    _check_download_possible(dataset, data_dir)
    text = {"captions": True, "hold_out": hold_out} if captions else {}
    x_train, y_train = datasets.load(
        dataset, "train", data_dir, limit=limit, image_size=size, **text
    )
    x_test, y_test = datasets.load(dataset, "test", data_dir, image_size=size)
    shape = tuple(x_train.shape[1:])
    return RunData(x_train, len(x_train), x_test, y_test, shape, list(y_train) if text else None)


def load_test(dataset, data_dir, *, image_size, limit, seed=0, labels=False):
    """Test images (and labels) for `evaluate` and `plot`, as the run saw them."""
    from vae_keras import datasets

    size = _image_size(dataset, image_size)
    if dataset == FOLDER:
        _check_folder_args(data_dir)
        x = _gather(_folder(data_dir, size, 64, seed, "validation"), limit or MAX_FOLDER_TEST)
        return (x, None) if labels else x
    _check_download_possible(dataset, data_dir)
    x, y = datasets.load(dataset, "test", data_dir, limit=limit, image_size=size)
    return (x, y) if labels else x


def absolute_data_dir(data_dir):
    """`data_dir` as `train` records it in config.json: absolute, so the run's other
    commands find the data from any folder (None stays None: $VAE_KERAS_DATA_DIR or TFDS)."""
    return os.path.abspath(os.path.expanduser(data_dir)) if data_dir else data_dir


def recorded_data_dir(model_path, config):
    """The `data_dir` a run's config.json records, as a path that exists from here, or None.

    New runs record an absolute path. An older run's relative one is tried from the current
    folder, then from the run folder and each folder above it (one of them is usually where
    the run was trained). Raises FileNotFoundError naming config.json and `--data-dir` when
    none of them exists.
    """
    recorded = config.get("data_dir")
    if not recorded:
        return None
    path = Path(recorded).expanduser()
    run_folder = Path(os.path.abspath(model_path)).parent
    bases = [Path.cwd(), run_folder, *run_folder.parents] if not path.is_absolute() else [None]
    for base in bases:
        candidate = path if base is None else base / path
        if candidate.is_dir():
            return str(candidate)
    tried = "" if path.is_absolute() else f" (tried from {Path.cwd()} and from {run_folder} up)"
    raise FileNotFoundError(
        f"The data folder {recorded!r} recorded in {run_folder / 'config.json'} does not "
        f"exist{tried}. Pass --data-dir with the run's dataset files (it overrides config.json)."
    )
