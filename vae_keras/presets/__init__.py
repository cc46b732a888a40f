"""Small pretrained models shipped with the package, in the KerasHub style.

Each preset is a plain `.keras` file inside this package (loaded with
`safe_mode=True`, so no pickled code runs) with a JSON card beside it: the command that
trained it, the data, the epochs, the wall time and the test metrics. They load offline on
TensorFlow, JAX and PyTorch.

Example:

>>> from vae_keras import presets
>>> "mnist_conv_z2" in presets.list()
True
>>> model = presets.load("mnist_conv_z2")  # doctest: +SKIP
>>> images = model.sample(16, seed=0)  # doctest: +SKIP

`VAE.from_preset("mnist_conv_z16")` does the same and checks the model's class.
Every preset is reproducible with `python examples/train_presets.py --only NAME`.
"""

import builtins
import hashlib
import json
from pathlib import Path

from vae_keras.presets.table import RECIPES, optimizer
from vae_keras.saving import load_model

FOLDER = Path(__file__).resolve().parent / "weights"


def list() -> builtins.list[str]:  # noqa: A001  the KerasHub-style name users expect
    """The names of the shipped presets, in a fixed order."""
    return builtins.list(RECIPES)


def _checked_name(name) -> str:
    if name not in RECIPES:
        raise ValueError(
            f"Unknown preset {name!r}. Available presets: {', '.join(RECIPES)} "
            "(`vae_keras.presets.list()`)."
        )
    return name


def path(name: str) -> Path:
    """The `.keras` file of preset `name`."""
    return FOLDER / f"{_checked_name(name)}.keras"


def info(name: str) -> dict:
    """The card of preset `name`: description, training command, data, epochs, metrics."""
    card = FOLDER / f"{_checked_name(name)}.json"
    if not card.is_file():
        raise FileNotFoundError(
            f"Preset {name!r} has no card at {str(card)!r}: the package's preset files are "
            "missing. Reinstall vae_keras, or retrain it with "
            f"`python examples/train_presets.py --only {name}`."
        )
    return json.loads(card.read_text())


def examples(name: str):
    """A few test images of preset `name`'s data, shipped with it (no download needed).

    Returns:
        `(x, y)`: float32 images in [0, 1] shaped like the model's inputs, and their labels
        (digit classes; for `shapes`, the shape index).
    """
    import numpy as np

    file = FOLDER / f"{_checked_name(name)}.examples.npz"
    if not file.is_file():
        raise FileNotFoundError(
            f"Preset {name!r} has no example images at {str(file)!r}. Reinstall vae_keras, or "
            f"retrain it with `python examples/train_presets.py --only {name}`."
        )
    with np.load(file) as data:
        return data["x"].astype("float32") / 255.0, data["y"]


def _sha256(file: Path) -> str:
    return hashlib.sha256(file.read_bytes()).hexdigest()


def load(name: str, *, check_integrity: bool = True):
    """Loads preset `name` (see `list()`) as a ready-to-use model.

    Args:
        name: a preset name, e.g. `"mnist_conv_z2"`.
        check_integrity: compare the file's SHA-256 with its card first, so a damaged or
            replaced file gives a clear error instead of wrong numbers.

    Returns:
        The model (a `VAE`, `ConditionalVAE`, ...), compiled with the optimizer it was
        trained with, so `fit` continues training it.
    """
    card = info(name)
    file = path(name)
    if not file.is_file():
        raise FileNotFoundError(
            f"Preset {name!r} has no weights file at {str(file)!r}. Reinstall vae_keras, or "
            f"retrain it with `python examples/train_presets.py --only {name}`."
        )
    if check_integrity and _sha256(file) != card["sha256"]:
        raise ValueError(
            f"Preset file {str(file)!r} does not match the SHA-256 on its card (damaged or "
            f"replaced). Reinstall vae_keras, or retrain it with "
            f"`python examples/train_presets.py --only {name}`."
        )
    model = load_model(file)
    # Saved without optimizer state (smaller, portable): compile with the preset's optimizer.
    model.compile(optimizer=optimizer(RECIPES[name]))
    return model


__all__ = ["list", "load", "info", "path", "examples", "RECIPES"]
