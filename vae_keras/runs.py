"""Run folders: atomic writes of JSON and model files, and reading them back."""

import json
import math
import os
import tempfile
from pathlib import Path

import keras


def _current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def atomic_write_text(path, text: str):
    """Writes `text` to `path` via a temporary file and `os.replace` (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; use the usual file mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
    with open(path) as f:
        return json.load(f)


def save_model(model, path):
    """`model.save` to a temporary `.keras` file, then rename into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def load_model(path):
    """Loads a `.keras` model saved by this package (safe mode: no pickled code)."""
    import vae_keras  # noqa: F401  registers the package's serializable classes

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No model file at {str(path)!r}. Pass the `model.keras` written by `vae-keras train`."
        )
    return keras.models.load_model(path, safe_mode=True)


def run_config(model_path) -> dict:
    """The `config.json` written beside a run's model, or {} when absent."""
    config = Path(model_path).with_name("config.json")
    return read_json(config) if config.is_file() else {}


CHECKPOINT = "checkpoint.keras"
HISTORY = "history.json"


def resume_state(directory):
    """`(model, initial_epoch, history)` from an interrupted run, or `(None, 0, {})`.

    A run folder holds `checkpoint.keras` (model and optimizer state after the
    last completed epoch) and `history.json` (that epoch's index and the
    per-epoch logs), both written atomically by `RunCheckpoint`.
    """
    directory = Path(directory)
    checkpoint, history = directory / CHECKPOINT, directory / HISTORY
    if not (checkpoint.is_file() and history.is_file()):
        return None, 0, {}
    state = read_json(history)
    return load_model(checkpoint), int(state["completed_epochs"]), state["history"]


class RunCheckpoint(keras.callbacks.Callback):
    """Saves model + optimizer and the history after every epoch, atomically.

    Rerunning the same `vae-keras train` command resumes from the last
    completed epoch (see `resume_state`); each epoch appears once in the
    history however often the run was interrupted.

    Args:
        directory: The run folder.
        history: Per-epoch logs of earlier, interrupted attempts.
    """

    def __init__(self, directory, history=None):
        super().__init__()
        self.directory = Path(directory)
        self.history = {k: list(v) for k, v in (history or {}).items()}

    def on_epoch_end(self, epoch, logs=None):
        if not all(math.isfinite(float(v)) for v in (logs or {}).values()):
            return  # never checkpoint a diverged model over the last good one
        for key, value in (logs or {}).items():
            values = self.history.setdefault(key, [])
            del values[epoch:]  # after a resume, an epoch is logged once
            values.append(float(value))
        save_model(self.model, self.directory / CHECKPOINT)
        write_json(
            self.directory / HISTORY, {"completed_epochs": epoch + 1, "history": self.history}
        )

    def finish(self):
        """Removes the checkpoint once the final model is safely written."""
        (self.directory / CHECKPOINT).unlink(missing_ok=True)
