"""Train a colour VAE on your own folder of images, streamed from disk.

    python examples/image_folder.py --data-dir PHOTOS --image-size 64 --epochs 20
    python examples/image_folder.py --demo --epochs 3       # a generated folder of shapes

The folder is read batch by batch (`datasets.image_folder`), never loaded whole:
any number of PNG/JPEG/BMP/GIF files, subfolders included. 10% of the files
(a fixed-seed split) are held out. The model is the package's default for
the image size (`networks.default_networks`: residual nets for colour) with a
discretized-logistic likelihood, so the held-out score is in bits per
dimension on the 0-255 scale, beside lossless PNG on the same images.
Writes into --out: sample and reconstruction grids per epoch, an
interpolation figure, the model, and metrics.json.
"""

import argparse
import json
import math
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from vae_keras import VAE, datasets, evaluation, likelihoods, networks, plotting
from vae_keras.callbacks import ReconstructionGrid, SampleGrid


def write_demo_folder(folder, count=2000, image_size=48, seed=0):
    """A folder of `count` PNG files of coloured shapes (in class subfolders by shape)."""
    from PIL import Image

    folder = Path(folder)
    if folder.is_dir() and len(list(folder.rglob("*.png"))) >= count:
        return folder
    x, y = datasets.load("shapes", "train", image_size=image_size, num_examples=count, seed=seed)
    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        sub = folder / datasets.SHAPE_NAMES[label]
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.round(image * 255).astype(np.uint8)).save(sub / f"{i:05d}.png")
    return folder


def gather(dataset, limit):
    """Up to `limit` images of a (batched) dataset as one NumPy array."""
    parts, n = [], 0
    for batch in dataset:
        parts.append(np.asarray(batch))
        n += len(parts[-1])
        if n >= limit:
            break
    return np.concatenate(parts)[:limit]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", help="the folder of images")
    parser.add_argument("--demo", action="store_true", help="generate a folder of shapes")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--latent-dim", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", default="runs/example_image_folder")
    args = parser.parse_args()
    if not args.data_dir and not args.demo:
        parser.error("pass --data-dir FOLDER (your images) or --demo")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    folder = args.data_dir or write_demo_folder(out / "demo_images")

    keras.utils.set_random_seed(0)
    train, val = datasets.image_folder(
        folder,
        image_size=args.image_size,
        batch_size=args.batch_size,
        validation_split=0.1,
        subset="both",
        seed=0,
    )
    print(f"{folder}: {len(train.file_paths)} training, {len(val.file_paths)} held-out images")
    x_val = gather(val, 256)
    shape = x_val.shape[1:]

    likelihood = likelihoods.DiscretizedLogistic()
    encoder, decoder = networks.default_networks(
        shape, args.latent_dim, output_channels=likelihood.output_channels(shape[-1])
    )
    vae = VAE(encoder, decoder, likelihood=likelihood, seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    vae.fit(
        train,
        validation_data=val,
        epochs=args.epochs,
        callbacks=[
            SampleGrid(out / "samples", seed=0),
            ReconstructionGrid(out / "recon", x_val[:8]),
        ],
        verbose=2,
    )

    bpd = evaluation.bits_per_dim_8bit(vae, x_val, num_samples=20, verbose=False)
    import io

    from PIL import Image

    png = []
    for image in np.round(x_val * 255).astype(np.uint8):
        buffer = io.BytesIO()
        Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image).save(
            buffer, "PNG", optimize=True
        )
        png.append(8 * len(buffer.getvalue()) / image.size)
    metrics = {
        "held_out_bits_per_dim": float(bpd.mean()),
        "held_out_png_bits_per_dim": float(np.mean(png)),
        "num_held_out": len(x_val),
        "epochs": args.epochs,
        "image_shape": list(shape),
    }
    print(json.dumps(metrics, indent=1))
    plotting.save_image_grid(vae.sample(64, seed=0), out / "samples.png", ncols=8)
    pairs = [
        im for pair in zip(x_val[:16], vae.reconstruct(x_val[:16]), strict=True) for im in pair
    ]
    plotting.save_image_grid(pairs, out / "reconstructions.png", ncols=8)
    plotting.interpolation(vae, x_val[0], x_val[1], path=out / "interpolation.png")
    vae.save(out / "model.keras")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(
        f"wrote {out} (held-out {metrics['held_out_bits_per_dim']:.3f} bits/dim, "
        f"PNG {metrics['held_out_png_bits_per_dim']:.3f}; {math.prod(shape)} dims)"
    )


if __name__ == "__main__":
    main()
