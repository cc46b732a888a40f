"""Errors users can fix -> an exit status and one line naming the value and the fix."""

import errno

# What to do about an operating-system error, by errno.
_OS_FIXES = {
    errno.EROFS: "the file system is read-only: pass a path on a writable one",
    errno.EACCES: "no permission: pass a path you may write (or read)",
    errno.EPERM: "no permission: pass a path you may write (or read)",
    errno.ENOSPC: "the disk is full: free space or pass a path on another disk",
    errno.EDQUOT: "the disk quota is exceeded: free space or pass a path on another disk",
    errno.EISDIR: "that is a folder: pass a file path",
    errno.ENOTDIR: "a part of that path is a file, not a folder: pass another path",
    errno.ENOENT: "no such file or folder: check the path",
    errno.ENAMETOOLONG: "the name is too long: pass a shorter path",
    errno.EEXIST: "a file is in the way: pass a folder path, or remove the file",
}


def describe(error) -> tuple[int, str] | None:
    """(exit status, one-line message) for errors users can fix, else None."""
    from vae_keras.app.runs import RunInUseError

    out_of_memory = type(error).__name__ in ("ResourceExhaustedError", "OutOfMemoryError") or (
        "RESOURCE_EXHAUSTED" in str(error)  # JAX/XLA
    )
    if isinstance(error, MemoryError) or out_of_memory:
        return 2, (
            "out of memory. Lower --batch-size (or --num-samples), or use a machine with "
            "more memory."
        )
    if isinstance(error, OSError) and error.errno in _OS_FIXES:
        where = f" {error.filename!r}" if error.filename else ""
        return 2, f"cannot use{where} ({error.strerror}): {_OS_FIXES[error.errno]}."
    # Other I/O failures (e.g. from h5py): still the environment. (Our own FileNotFoundError
    # messages carry no errno and say the fix themselves.)
    ours = isinstance(error, FileNotFoundError) and error.errno is None
    if isinstance(error, OSError) and not ours:
        where = f" {error.filename!r}" if getattr(error, "filename", None) else ""
        return 2, (
            f"input/output error{where}: {' '.join(str(error).split()).rstrip('.')}. Check the "
            "path, the "
            "free disk space and the permissions."
        )
    if isinstance(
        error,
        (ValueError, FileNotFoundError, FileExistsError, ImportError, RunInUseError, RuntimeError),
    ):
        return 2, " ".join(str(error).split())  # one line
    return None
