"""The dataset names `load()` knows, and the error for one it does not."""

import difflib

KNOWN_DATASETS = ("mnist", "fashion_mnist", "digits")
"""Names `load()` reads from files or scikit-learn; any TensorFlow Datasets image dataset works too."""

PROCEDURAL_DATASETS = ("shapes", "patches")
"""Names `load()` generates in code (no files, no network): see `load_shapes`, `load_patches`."""


def unknown_name_error(name, builders):
    candidates = dict.fromkeys([*KNOWN_DATASETS, *PROCEDURAL_DATASETS, *builders])
    matches = difflib.get_close_matches(name, list(candidates), n=3)
    hint = f" Did you mean {' or '.join(repr(m) for m in matches)}?" if matches else ""
    return ValueError(
        f"Unknown dataset {name!r}.{hint} Built-in: "
        f"{', '.join(KNOWN_DATASETS + PROCEDURAL_DATASETS)}; or any TensorFlow Datasets "
        "image dataset name."
    )
