"""Run folders: atomic writes of JSON and model files, and reading them back."""

import json
import os
import tempfile
from pathlib import Path


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
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path, data: dict):
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=_jsonable) + "\n")


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
    import keras

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
