"""Listing and cheaply checking the image files of a folder, for `image_folder`."""

import logging
import os
from pathlib import Path

import numpy as np

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")

logger = logging.getLogger("vae_keras.datasets.folder")

# The first bytes of each format, and a cheap test of its end (a truncated file lacks it).
_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "png",
    b"\xff\xd8\xff": "jpeg",
    b"GIF87a": "gif",
    b"GIF89a": "gif",
    b"BM": "bmp",
}
_TAIL_BYTES = 1024


def check_folder(path):
    root = Path(path).expanduser()
    if not root.exists():
        raise FileNotFoundError(
            f"Image folder {str(root)!r} does not exist. Pass the path of an existing "
            "folder of images (PNG, JPEG, BMP, GIF)."
        )
    if not root.is_dir():
        raise NotADirectoryError(
            f"{str(root)!r} is a file, not a folder. Pass the folder that holds the images "
            f"(e.g. {str(root.parent)!r})."
        )
    return root


def _walk(folder, follow_links):
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=follow_links):
        dirnames.sort()
        found.extend(os.path.join(dirpath, f) for f in sorted(filenames))
    return found


def list_files(root, labels, follow_links):
    if labels is None:
        everything, class_names = _walk(root, follow_links), None
        files = [f for f in everything if f.lower().endswith(IMAGE_EXTENSIONS)]
        targets = np.zeros(len(files), np.int32)
    else:
        class_names = sorted(d.name for d in root.iterdir() if d.is_dir())
        if not class_names:
            raise ValueError(
                f'labels="inferred" needs one subfolder per class in {str(root)!r}, and it '
                "has none. Put each class's images in its own subfolder, or pass "
                "labels=None."
            )
        everything, files, targets = [], [], []
        for k, name in enumerate(class_names):
            listed = _walk(root / name, follow_links)
            everything += listed
            images = [f for f in listed if f.lower().endswith(IMAGE_EXTENSIONS)]
            files += images
            targets += [k] * len(images)
        targets = np.asarray(targets, np.int32)
    if not files:
        what = (
            "it is empty"
            if not everything
            else f"it holds {len(everything)} other files, e.g. {everything[0]!r}"
        )
        raise ValueError(
            f"No images found in {str(root)!r} ({what}). Expected files ending in "
            f"{', '.join(IMAGE_EXTENSIONS)} (in subfolders too)."
        )
    return files, targets, class_names


def _readable(path):
    """A cheap structural check: the format's signature, and its end marker near the end."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - _TAIL_BYTES))
            tail = f.read()
    except OSError:
        return False
    kind = next((k for sig, k in _SIGNATURES.items() if head.startswith(sig)), None)
    if kind == "png":
        return b"IEND" in tail
    if kind == "jpeg":
        return b"\xff\xd9" in tail
    if kind == "gif":
        return b"\x3b" in tail[-16:]
    if kind == "bmp":  # the header states the file size
        return len(head) >= 6 and int.from_bytes(head[2:6], "little") <= size
    return False


def check_files(root, files, targets, on_error):
    ok = np.fromiter((_readable(f) for f in files), bool, len(files))
    skipped = [f for f, good in zip(files, ok, strict=True) if not good]
    if skipped and on_error == "raise":
        raise ValueError(
            f"Unreadable image file {skipped[0]!r} ({len(skipped)} of {len(files)} files in "
            f"{str(root)!r} are not valid PNG/JPEG/BMP/GIF: wrong format or truncated). "
            'Remove or fix them, or pass on_error="skip".'
        )
    if skipped:
        if len(skipped) == len(files):
            raise ValueError(
                f"None of the {len(files)} image files in {str(root)!r} is readable, e.g. "
                f"{skipped[0]!r} (wrong format or truncated)."
            )
        logger.warning(
            "image_folder: skipping %d unreadable file(s) of %d in %s, the first: %s",
            len(skipped),
            len(files),
            root,
            skipped[0],
        )
    return [f for f, good in zip(files, ok, strict=True) if good], targets[ok], skipped
