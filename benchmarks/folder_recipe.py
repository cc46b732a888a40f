"""The user's path for colour images: `vae-keras train --dataset folder` with the command's
defaults for a PixelVAE, scored on held-out photo crops beside lossless PNG and WebP.

It writes (once; an interrupted write is finished by the next run) the `patches` training crops
(`datasets.load("patches", "train")`: 32x32 crops of six scikit-image photographs) as PNG
files into `--folder`, the way a user has a folder of images, then runs the command a user
types, in a subprocess, timed:

    vae-keras train --dataset folder --data-dir FOLDER --image-size 32 \\
        --architecture pixelcnn --latent-dim 32 --batch-size 32 --epochs E --output RUN

and scores `RUN/model.keras` on the `patches` test crops (two other photographs, never in the
folder) with `evaluation.bits_per_dim_8bit` (IWAE, `--num-samples` codes per image), PNG
(`optimize=True`) and lossless WebP (`quality=100, method=6`) compressing each test crop on
its own, in the same run. Ratios < 1: the model needs fewer bits than the codec.

    python benchmarks/folder_recipe.py --epochs 8 --folder /tmp/patches_png --output /tmp/run
    python benchmarks/folder_recipe.py --num-train 512 --num-test 50 --epochs 1 --num-samples 2 \\
        --folder /tmp/small_png --output /tmp/small_run   # a check, about a minute
"""

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's vae_keras
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bits_per_dim import codec_bits_per_dim  # noqa: E402


def write_folder(folder: Path, images) -> int:
    """`images` as PNG files, 1,000 per subfolder; files already written are kept (each
    is written under a temporary name and renamed, so none is half-written)."""
    from PIL import Image

    written = 0
    for i, image in enumerate(images):
        path = folder / f"{i // 1000:03d}" / f"{i:06d}.png"
        if path.is_file():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".png.partial")
        Image.fromarray(image).save(partial, format="PNG")
        os.replace(partial, path)
        written += 1
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", required=True, help="where the training crops are written")
    parser.add_argument("--output", required=True, help="the run folder of `vae-keras train`")
    parser.add_argument("--num-train", type=int, default=20000)
    parser.add_argument("--num-test", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--num-samples", type=int, default=20, help="IWAE codes per test image")
    parser.add_argument("--json", help="append the result here as one JSON row")
    args = parser.parse_args(argv)

    import numpy as np

    from vae_keras import datasets

    def load(split, n):
        x = datasets.load("patches", split, image_size=32, num_examples=n)
        return x[0] if isinstance(x, tuple) else x

    x_train, x_test = load("train", args.num_train), load("test", args.num_test)
    folder = Path(args.folder)
    written = write_folder(folder, np.round(x_train * 255).astype(np.uint8))
    print(f"{folder}: {len(x_train)} PNG crops ({written} written now)", flush=True)

    command = [
        sys.executable, "-m", "vae_keras", "train", "--dataset", "folder",
        "--data-dir", str(folder), "--image-size", "32", "--architecture", "pixelcnn",
        "--latent-dim", "32", "--batch-size", "32", "--epochs", str(args.epochs),
        "--output", args.output,
    ]  # fmt: skip
    print(" ".join(command[2:]).replace("vae_keras", "vae-keras", 1), flush=True)
    start = time.time()
    subprocess.run(command, check=True, cwd=ROOT)
    wall_minutes = (time.time() - start) / 60
    metrics = json.loads((Path(args.output) / "metrics.json").read_text())

    import keras

    from vae_keras import evaluation

    model = keras.models.load_model(Path(args.output) / "model.keras", safe_mode=True)
    bpd = evaluation.bits_per_dim_8bit(
        model, x_test, num_samples=args.num_samples, batch_size=50, verbose=False
    )
    png = codec_bits_per_dim(x_test, "PNG", optimize=True)
    webp = codec_bits_per_dim(x_test, "WEBP", lossless=True, quality=100, method=6)
    row = {
        "epochs": args.epochs,
        "train_minutes": round(metrics["train_seconds"] / 60, 1),
        "command_minutes": round(wall_minutes, 1),
        "folder_test_bits_per_dim": metrics["test"].get("bits_per_dim"),
        "bits_per_dim": float(bpd.mean()),
        "standard_error": float(bpd.std(ddof=1) / math.sqrt(len(bpd))),
        "png": float(png.mean()),
        "webp": float(webp.mean()),
        "num_train": len(x_train),
        "num_test": len(x_test),
        "num_samples": args.num_samples,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
    }
    print(json.dumps(row), flush=True)
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(row) + "\n")
    b = row["bits_per_dim"]
    print(f"\n`vae-keras train --dataset folder ... --epochs {args.epochs}` "
          f"({row['train_minutes']} min of training), {len(x_test)} held-out crops:\n")  # fmt: skip
    print("| | bits/dim | / PNG | / WebP |\n| --- | ---: | ---: | ---: |")
    print(f"| PixelVAE, the command's defaults | {b:.3f} ± {row['standard_error']:.3f} "
          f"| {b / row['png']:.3f} | {b / row['webp']:.3f} |")  # fmt: skip
    print(f"| PNG (optimize) | {row['png']:.3f} | 1.000 | {row['png'] / row['webp']:.3f} |")
    print(f"| WebP lossless | {row['webp']:.3f} | {row['webp'] / row['png']:.3f} | 1.000 |")


if __name__ == "__main__":
    main()
