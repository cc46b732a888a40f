"""Saving that never leaves a half-written file: atomic writes, safe `.keras` loading.

Every file is written to a unique temporary name beside its target and renamed into place
(`os.replace`), so a process killed at any moment leaves either the old file or the new one.
Temporary names carry the writer's pid (".NAME.PID.RANDOM.tmp"), so `clean_leftovers` can
remove what killed processes left while sparing the files of live ones.

`load_model` reads a `.keras` file in safe mode (no pickled code) after checking that it is a
readable vae_keras archive whose layer sizes are sane; a damaged file gives one line naming it.

Setting the environment variable `VAE_KERAS_FAULT=name[:n]` kills the process (SIGKILL) the
n-th time it reaches the fault point `name` (a testing hook; see `fault_point`).
"""

import errno
import json
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

import keras


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()
FILE_MODE = 0o666 & ~_UMASK
DIR_MODE = 0o777 & ~_UMASK

# === Fault injection (testing hook) ===

_FAULT_COUNTS = {}


def fault_point(name: str):
    """Kills this process with SIGKILL at the `n`-th call with `name` when
    `VAE_KERAS_FAULT=name[:n]` is set (n defaults to 1). Tests use it to
    check that every stage of a run resumes; it does nothing otherwise."""
    spec = os.environ.get("VAE_KERAS_FAULT")
    if not spec:
        return
    target, _, count = spec.partition(":")
    if target != name:
        return
    _FAULT_COUNTS[name] = _FAULT_COUNTS.get(name, 0) + 1
    if _FAULT_COUNTS[name] >= int(count or 1):
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)


class FaultHook(keras.callbacks.Callback):
    """Calls `fault_point(name)` after every batch of `fit` or `evaluate`."""

    def __init__(self, name):
        super().__init__()
        self.name = name

    def on_train_batch_end(self, batch, logs=None):
        fault_point(self.name)

    def on_test_batch_end(self, batch, logs=None):
        fault_point(self.name)


# === Atomic writes with unique temporary names ===

# Temporary names carry the writer's pid (".NAME.PID.RANDOM.tmp"), so leftovers
# of a killed process can be told from the files of a live one.
_TEMPORARY = re.compile(r"^\..+?\.(\d+)\.[^/]*\.(tmp|old)(\.keras)?$")
_OLD_TEMPORARY = re.compile(r"^\.[^.]+\.tmp\.keras$")  # fixed names of earlier versions


def temporary_prefix(path) -> str:
    return f".{Path(path).name}.{os.getpid()}."


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_leftovers(directory, prefix: str = "") -> list:
    """Removes temporary files and folders left in `directory` by killed processes.

    With `prefix` (e.g. `".saved_model."`), only the leftovers whose names start with it."""
    removed = []
    directory = Path(directory)
    if not directory.is_dir():
        return removed
    for path in directory.iterdir():
        if not path.name.startswith(prefix):
            continue
        match = _TEMPORARY.match(path.name)
        if match is None and not _OLD_TEMPORARY.match(path.name):
            continue
        if match is not None and _pid_alive(int(match.group(1))):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path.name)
    return removed


def atomic_write_bytes(path, data: bytes):
    """Writes `data` to `path` via a temporary file and `os.replace` (never half-written)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temporary_prefix(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)  # mkstemp creates 0600; use the usual file mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path, text: str):
    """Writes `text` to `path` via a temporary file and `os.replace` (never half-written)."""
    return atomic_write_bytes(path, text.encode())


def write_json(path, data: dict):
    return atomic_write_text(
        path, json.dumps(data, indent=2, sort_keys=True, default=_jsonable) + "\n"
    )


def _jsonable(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def read_json(path) -> dict:
    """Reads a JSON file; a corrupt or truncated one raises a ValueError naming it."""
    path = Path(path)
    try:
        with open(path) as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{str(path)!r} is not valid JSON (corrupt or truncated: {error}). Delete or "
            "restore it; for a run folder, rerun `vae-keras train` with --overwrite."
        ) from None
    if not isinstance(data, dict):
        raise ValueError(
            f"{str(path)!r} holds a JSON {type(data).__name__}, not an object. Delete or "
            "restore it; for a run folder, rerun `vae-keras train` with --overwrite."
        )
    return data


# === Model files ===

RUN_RECORD = "vae_keras_run.json"  # the run's epoch count and history inside a checkpoint


def save_model(model, path, record: dict | None = None, fault: str = "model_write"):
    """`model.save` to a unique temporary `.keras` file, then rename into place.

    `record` (JSON) is stored inside the same file, so a checkpoint and its
    epoch count are written by one rename."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temporary_prefix(path), suffix=".tmp.keras")
    os.close(fd)
    tmp = Path(tmp)
    try:
        model.save(tmp)
        if record is not None:
            with zipfile.ZipFile(tmp, "a") as archive:
                archive.writestr(RUN_RECORD, json.dumps(record, default=_jsonable))
        os.chmod(tmp, FILE_MODE)
        fault_point(fault)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def read_record(path) -> dict | None:
    """The run record stored in a checkpoint by `save_model(record=...)`, or None."""
    with zipfile.ZipFile(path) as archive:
        if RUN_RECORD not in archive.namelist():
            return None
        return json.loads(archive.read(RUN_RECORD))


# Keys whose values size a layer's weights; a config asking for more than this
# in one of them is refused before Keras allocates it.
_SIZE_KEYS = {"units", "filters", "input_dim", "output_dim", "num_embeddings", "embedding_dim"}
MAX_LAYER_SIZE = 1 << 20


def _check_sizes(config, path):
    if isinstance(config, dict):
        for key, value in config.items():
            if (
                key in _SIZE_KEYS
                and isinstance(value, int)
                and not isinstance(value, bool)
                and value > MAX_LAYER_SIZE
            ):
                raise ValueError(
                    f"{str(path)!r} declares a layer with {key}={value}, more than "
                    f"{MAX_LAYER_SIZE} (its weights would exhaust memory on load). This is not "
                    "a model written by vae_keras; pass the `model.keras` of a training run."
                )
            if key in ("batch_shape", "target_shape") and isinstance(value, list):
                dims = [d for d in value if isinstance(d, int) and not isinstance(d, bool)]
                if math.prod(dims) > MAX_LAYER_SIZE * 64:
                    raise ValueError(
                        f"{str(path)!r} declares a tensor of shape {value}, more than "
                        f"{MAX_LAYER_SIZE * 64} values per example. This is not a model written "
                        "by vae_keras; pass the `model.keras` of a training run."
                    )
            _check_sizes(value, path)
    elif isinstance(config, list):
        for value in config:
            _check_sizes(value, path)


def _inspect_model_file(path):
    """Checks that `path` is a readable `.keras` archive of a vae_keras model."""
    fix = "Pass the `model.keras` written by `vae-keras train` (or retrain)."
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a folder, not a model file. {fix}")
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{str(path)!r} is not a readable .keras model file (corrupt or truncated: "
            f"{error}). {fix}"
        ) from None
    name = str(config.get("registered_name") or config.get("class_name"))
    if not name.startswith("vae_keras>"):
        raise ValueError(
            f"{str(path)!r} holds a {config.get('class_name')!r}, not a vae_keras model. {fix}"
        )
    _check_sizes(config, path)


def load_model(path):
    """Loads a `.keras` model saved by this package (safe mode: no pickled code)."""
    import vae_keras  # noqa: F401  registers the package's serializable classes

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"No model file at {str(path)!r}. Pass the `model.keras` written by `vae-keras train`."
        )
    _inspect_model_file(path)
    try:
        model = keras.models.load_model(path, safe_mode=True)
    except (
        ValueError,
        TypeError,
        KeyError,
        OSError,
        EOFError,
        zipfile.BadZipFile,
        zlib.error,
    ) as error:
        # A damaged member (bad CRC, truncated weights) surfaces inside Keras' reader.
        raise ValueError(
            f"{str(path)!r} could not be loaded as a vae_keras model "
            f"({type(error).__name__}: {str(error)[:300]}). Pass the `model.keras` written by "
            "`vae-keras train` (or retrain)."
        ) from None
    if not model.compiled:  # saved without a compile config (e.g. a preset): evaluate/fit work
        model.compile()
    return model
