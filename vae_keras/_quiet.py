"""A quiet start for the `vae-keras` command: no TensorFlow/CUDA start-up log.

Importing TensorFlow prints C++ log lines straight to file descriptor 2 (oneDNN notes,
"Could not find cuda drivers", "failed call to cuInit: ... CUDA error" on machines without a
GPU) that read like failures but are not. For the command line only, the backend is imported
with descriptor 2 captured; the capture is replayed if the import fails, so real errors
still show. Library users (`import vae_keras` in their own code) see the backend's log as
usual. Set `VAE_KERAS_BACKEND_LOGS=1` (or pass `--backend-logs`) to see it on the command
line too.
"""

import contextlib
import logging
import os
import sys
import tempfile

COMMAND_NAMES = ("vae-keras",)


def running_the_command_line() -> bool:
    """True inside `vae-keras ...` or `python -m vae_keras ...` (while the package imports)."""
    program = os.path.basename(sys.argv[0]) if sys.argv else ""
    # `python -m vae_keras`: argv[0] is "-m" while the package's __init__ runs.
    return program in COMMAND_NAMES or program == "-m"


def backend_logs_wanted() -> bool:
    return os.environ.get("VAE_KERAS_BACKEND_LOGS", "") not in ("", "0") or (
        "--backend-logs" in sys.argv
    )


@contextlib.contextmanager
def _descriptor_2_captured():
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield capture
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def import_backend_quietly():
    """Imports keras (and so the backend) with its start-up log hidden."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the backend's later C++ log, too
    # JAX's "no GPU/TPU found, falling back to CPU" notice comes through Python logging.
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.ERROR)
    error, log = None, b""
    with _descriptor_2_captured() as capture:
        try:
            import keras

            keras.backend.backend()
        except BaseException as caught:  # noqa: BLE001  re-raised below, after the log
            error = caught
            capture.seek(0)
            log = capture.read()
    if error is not None:
        os.write(2, log)  # what the backend said explains the failure
        raise error


def quiet_start():
    """Called first by the package: hides the backend's start-up log in the command line."""
    if running_the_command_line() and not backend_logs_wanted():
        import_backend_quietly()


quiet_start()
