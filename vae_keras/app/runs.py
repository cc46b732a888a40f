"""Run folders: atomic writes, one owner at a time, and resumable stages.

A `vae-keras train` run folder is a small state machine. `state.json`
records the last finished stage (`STAGES`); every file is written to a
unique temporary name and renamed into place, so a run killed at any point
leaves a folder the next identical command understands and finishes:

- while training, `checkpoint.keras` holds the model, the optimizer *and*
  the per-epoch history in one file (one rename), so the epoch count and
  the weights cannot disagree; `history.json` is a readable copy;
- while a VQ model's prior over codes is fitted (after training), the same
  file holds the model with the part-fitted prior and `prior_epochs`;
- after training, `model.keras` is the model; then the test losses,
  figures, SavedModel and report follow, and `metrics.json` comes last.

`RunLock` makes one process the owner of a folder. This is the `vae-keras`
application; the atomic writes and safe loading it uses are the library's
(`vae_keras.saving`), re-exported here.
"""

import contextlib
import fcntl
import json
import math
import os
import shutil
import socket
import sys
import time
import zipfile
from pathlib import Path

import keras

# The library's saving primitives, re-exported: the app's modules and tests reach them here.
from vae_keras.saving import (  # noqa: F401
    DIR_MODE,
    FILE_MODE,
    MAX_LAYER_SIZE,
    RUN_RECORD,
    FaultHook,
    atomic_write_bytes,
    atomic_write_text,
    clean_leftovers,
    fault_point,
    load_model,
    read_json,
    read_record,
    save_model,
    temporary_prefix,
    write_json,
)


def run_config(model_path) -> dict:
    """The `config.json` written beside a run's model, or {} when absent."""
    config = Path(model_path).with_name("config.json")
    return read_json(config) if config.is_file() else {}


# === One owner per run folder ===


class RunInUseError(RuntimeError):
    """Another live process owns the run folder."""


class RunLock:
    """An exclusive `fcntl.flock` on `DIRECTORY/run.lock`, holding pid, host and command.

    The kernel releases the lock when its process dies, so a lock left by a
    killed run is taken over (with a note); a live owner is refused with a
    message naming it.
    """

    NAME = "run.lock"

    def __init__(self, directory, command=None):
        self.path = Path(directory) / self.NAME
        self.command = " ".join(command if command is not None else sys.argv)
        self._fd = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 4096).decode(errors="replace").strip() or "unknown process"
            os.close(fd)
            raise RunInUseError(
                f"Run folder {self.path.parent} is in use by another process ({owner}). Wait "
                "for it to finish, or pass another --output."
            ) from None
        previous = os.read(fd, 4096).decode(errors="replace").strip()
        if previous:
            print(f"Taking over {self.path} left by a process that no longer runs ({previous})")
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        os.write(
            fd,
            f"pid {os.getpid()} on {socket.gethostname()}, since {started}: {self.command}\n".encode(),
        )
        self._fd = fd
        return self

    def __exit__(self, *exc):
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            os.close(self._fd)  # releases the lock
            self._fd = None
        return False


# === Stages of a training run ===

CHECKPOINT = "checkpoint.keras"
HISTORY = "history.json"
STATE = "state.json"
STAGES = ("training", "model", "evaluated", "figures", "exported", "done")
# What a run writes; `--overwrite` removes all of it (and `evaluate`'s results),
# the marks of a finished run first, so a half-cleared folder never looks finished.
PRODUCTS = (
    "metrics.json",
    STATE,
    CHECKPOINT,
    HISTORY,
    "model.keras",
    "evaluation.json",
    "report.html",
    "samples.png",
    "reconstructions.png",
    "figures",
    "saved_model",
)


def read_state(directory) -> dict:
    path = Path(directory) / STATE
    return read_json(path) if path.is_file() else {}


def reached(state: dict, stage: str) -> bool:
    """True when `state` records `stage` (or a later one) as finished."""
    current = state.get("stage")
    return current in STAGES and STAGES.index(current) >= STAGES.index(stage)


def write_state(directory, state: dict, stage: str):
    state["stage"] = stage
    write_json(Path(directory) / STATE, state)


def clear_run(directory):
    """Removes everything a run (and `vae-keras evaluate`) wrote in `directory`."""
    directory = Path(directory)
    for name in PRODUCTS:
        path = directory / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    for path in directory.glob("evaluation*.json"):
        path.unlink()


def resume_state(directory):
    """`(model, initial_epoch, history)` from an interrupted run, or `(None, 0, {})`.

    While training, `checkpoint.keras` holds model, optimizer and the run
    record (epoch count and per-epoch logs) in one atomically written file.
    After training, `model.keras` and `state.json` take its place.
    """
    try:
        return _resume_state(Path(directory))
    except ValueError as error:
        raise ValueError(
            f"{error} The run in {directory} cannot be resumed: rerun with --overwrite to "
            "start it over, or pass another --output."
        ) from None


def _resume_state(directory):
    checkpoint, state = directory / CHECKPOINT, read_state(directory)
    if checkpoint.is_file():
        try:
            record = read_record(checkpoint)
        except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{str(checkpoint)!r} is corrupt ({error}).") from None
        if record is None and (directory / HISTORY).is_file():  # folders of older versions
            record = read_json(directory / HISTORY)
        if record is not None:
            return load_model(checkpoint), int(record["completed_epochs"]), record["history"]
    if reached(state, "model") and (directory / "model.keras").is_file():
        return (
            load_model(directory / "model.keras"),
            int(state["completed_epochs"]),
            state["history"],
        )
    return None, 0, {}


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

    def on_train_batch_end(self, batch, logs=None):
        fault_point("train_batch")

    def on_epoch_end(self, epoch, logs=None):
        if not all(math.isfinite(float(v)) for v in (logs or {}).values()):
            return  # never checkpoint a diverged model over the last good one
        for key, value in (logs or {}).items():
            values = self.history.setdefault(key, [])
            del values[epoch:]  # after a resume, an epoch is logged once
            values.append(float(value))
        record = {"completed_epochs": epoch + 1, "history": self.history}
        # One file, one rename: the weights, optimizer and epoch count agree.
        save_model(self.model, self.directory / CHECKPOINT, record=record, fault="checkpoint_write")
        fault_point("after_checkpoint")
        write_json(self.directory / HISTORY, record)  # a readable copy

    def finish(self):
        """Removes the checkpoint once the final model is safely written."""
        (self.directory / CHECKPOINT).unlink(missing_ok=True)


class PriorCheckpoint(keras.callbacks.Callback):
    """Saves the whole trained model after every epoch of its `fit_prior`, atomically.

    The prior is fitted after the model's training, as a `fit` of its own; this
    callback rides on that `fit` and writes `owner` (the model the prior belongs to,
    with the part-trained prior) over the run's checkpoint, its record the training's
    `record` plus `prior_epochs`. A kill during the prior's fitting then loses at most
    one of its epochs: `prior_epochs(directory)` says where to resume. (A rerun that
    trains more epochs first replaces the checkpoint without `prior_epochs`: the codes
    change, so the prior is fitted again for all its epochs, from its saved weights.)

    Args:
        directory: The run folder.
        owner: The model whose prior is being fitted.
        record: The training's record (`completed_epochs`, `history`).
        done: Epochs of the prior's fitting before this attempt (`prior_epochs`).
    """

    def __init__(self, directory, owner, record, done: int = 0):
        super().__init__()
        self.directory, self.owner, self.record = Path(directory), owner, dict(record)
        self.done = done

    def on_epoch_end(self, epoch, logs=None):
        # Counted, not read from `epoch`: a VQVAE2 fits two priors, each from its epoch 0.
        self.done += 1
        if not all(math.isfinite(float(v)) for v in (logs or {}).values()):
            return  # never checkpoint a diverged prior over the last good one
        record = {**self.record, "prior_epochs": self.done}
        save_model(self.owner, self.directory / CHECKPOINT, record=record, fault="checkpoint_write")
        fault_point("after_prior_checkpoint")


def prior_epochs(directory) -> int:
    """The epochs of `fit_prior` the run's checkpoint holds (0 without one)."""
    path = Path(directory) / CHECKPOINT
    record = read_record(path) if path.is_file() else None
    return int((record or {}).get("prior_epochs", 0))
