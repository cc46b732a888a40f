"""Trains the package's presets (`vae_keras.presets`) and writes them with their cards.

Each preset is trained from its recipe (`vae_keras/presets/recipes.py`) with fixed seeds,
scored on the test split, and written into `vae_keras/presets/weights/` as `NAME.keras`
(weights and compile config, no optimizer state, so it stays small) plus `NAME.json` (the
command, data, epochs, wall time, test metrics and the file's SHA-256). Writes are atomic,
and a preset whose card already exists is skipped unless `--overwrite`, so an interrupted
run is finished by rerunning the same command.

    python examples/train_presets.py --data-dir /work/shared/datasets/mnist
    python examples/train_presets.py --only mnist_conv_z2 --overwrite
"""

import argparse
import hashlib
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

NLL_IMAGES, NLL_SAMPLES = 500, 100


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("VAE_KERAS_DATA_DIR"),
        help="folder with the MNIST IDX files (default: $VAE_KERAS_DATA_DIR)",
    )
    parser.add_argument("--only", nargs="*", help="preset names (default: all)")
    parser.add_argument("--overwrite", action="store_true", help="retrain existing presets")
    parser.add_argument("--out", help="folder for the files (default: the package's presets)")
    return parser.parse_args()


def test_metrics(model, recipe, x_test, y_test) -> dict:
    """Test loss terms (whole test split) and, for VAEs, an importance-sampled NLL."""
    import numpy as np

    from vae_keras import evaluation

    data = (x_test, y_test) if recipe.model == "conditional" else x_test
    scores = model.evaluate(data, batch_size=500, verbose=0, return_dict=True)
    metrics = {f"test_{k}": round(float(v), 3) for k, v in scores.items()}
    metrics["test_images"] = len(x_test)
    if recipe.model == "vae":
        log_p = evaluation.log_likelihood(
            model, x_test[:NLL_IMAGES], num_samples=NLL_SAMPLES, seed=0, verbose=False
        )
        metrics["test_nll"] = round(float(-log_p.mean()), 3)
        metrics["test_nll_standard_error"] = round(float(log_p.std() / np.sqrt(len(log_p))), 3)
        metrics["test_nll_estimator"] = f"IWAE bound, k={NLL_SAMPLES}, first {NLL_IMAGES} images"
    return metrics


def portable_copy(model, recipe):
    """An uncompiled copy with the trained weights: no optimizer state in the file (small,
    and no optimizer-variable mismatch on load); `presets.load` compiles it."""
    from vae_keras.presets.recipes import build_model

    copy = build_model(recipe, model.input_shape_, compile=False)
    copy.set_weights(model.get_weights())
    return copy


EXAMPLES = 32  # test images shipped beside a preset: what the explorer encodes offline


def write_examples(name, x_test, y_test, out):
    """`NAME.examples.npz`: the first test images (8-bit, as the data are) and their labels."""
    import io

    import numpy as np

    from vae_keras import runs

    buffer = io.BytesIO()
    pixels = np.round(np.asarray(x_test[:EXAMPLES]) * 255).astype("uint8")
    np.savez_compressed(buffer, x=pixels, y=np.asarray(y_test[:EXAMPLES]).astype("int64"))
    runs.atomic_write_bytes(out / f"{name}.examples.npz", buffer.getvalue())


def train_one(recipe, args, out):
    import keras
    import numpy as np

    from vae_keras import runs
    from vae_keras.presets import recipes as presets_recipes

    start = time.perf_counter()
    x, y = presets_recipes.load_data(recipe, "train", args.data_dir)
    x_test, y_test = presets_recipes.load_data(recipe, "test", args.data_dir)
    model = presets_recipes.build_model(recipe, x.shape[1:])
    data = (x, y) if recipe.model == "conditional" else x
    print(f"{recipe.name}: {len(x)} training images {x.shape[1:]}, {recipe.epochs} epochs")
    history = model.fit(
        data, epochs=recipe.epochs, batch_size=recipe.batch_size, shuffle=True, verbose=2
    ).history
    metrics = test_metrics(model, recipe, x_test, y_test)
    model = portable_copy(model, recipe)
    file = out / f"{recipe.name}.keras"
    runs.save_model(model, file)
    write_examples(recipe.name, x_test, y_test, out)
    card = {
        "name": recipe.name,
        "description": recipe.description,
        "class": type(model).__name__,
        "command": f"python examples/train_presets.py --only {recipe.name} --overwrite",
        "recipe": recipe.to_dict(),
        "data": {"dataset": recipe.dataset, "train_images": len(x), "shape": list(x.shape[1:])},
        "train_loss_last_epoch": round(float(history["loss"][-1]), 3),
        "metrics": metrics,
        "parameters": int(sum(np.prod(w.shape) for w in model.weights)),
        "file_bytes": file.stat().st_size,
        "sha256": hashlib.sha256(file.read_bytes()).hexdigest(),
        "trained_on": {
            "backend": keras.backend.backend(),
            "keras": keras.__version__,
            "python": platform.python_version(),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
            "wall_seconds": round(time.perf_counter() - start, 1),
        },
    }
    runs.write_json(out / f"{recipe.name}.json", card)
    print(json.dumps({"name": recipe.name, **metrics, "file_bytes": card["file_bytes"]}))


def main():
    from pathlib import Path

    from vae_keras import presets

    args = parse_args()
    names = args.only or presets.list()
    unknown = [n for n in names if n not in presets.RECIPES]
    if unknown:
        sys.exit(f"unknown preset(s) {unknown}; available: {presets.list()}")
    out = Path(args.out) if args.out else presets.FOLDER
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        if (out / f"{name}.json").is_file() and not args.overwrite:
            print(f"{name}: already trained (pass --overwrite to retrain)")
            continue
        train_one(presets.RECIPES[name], args, out)


if __name__ == "__main__":
    main()
