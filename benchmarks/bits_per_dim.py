"""Test bits per dimension of colour VAEs beside lossless PNG and WebP, in one run.

    python benchmarks/bits_per_dim.py --dataset patches --minutes 8
    python benchmarks/bits_per_dim.py --dataset shapes --models logistic,gaussian_learned

Every model trains for the same CPU-time budget (`--minutes`, wall clock,
checked after each batch) on the training split, then its test bits/dim on
the 0-255 scale are estimated with `evaluation.bits_per_dim_8bit` (IWAE,
`--num-samples` codes per image): a discretized logistic gives the mass of
the 8-bit values directly; a Gaussian is scored on uniformly dequantised
data plus 8 bits/dim. The codecs compress each test image on its own
(PIL; PNG with `optimize=True`, WebP `lossless=True, quality=100, method=6`)
and count the whole file. The table prints each model's bits/dim and its
ratio to PNG and to WebP on the same test images (< 1: the model wins).
A model whose loss turns NaN or infinite is stopped by `NaNGuard` with its
last good weights restored; those are scored and saved, and its row says so
(`diverged`: the guard's message).

Models (`--models`, comma-separated):
- `gaussian`: residual conv VAE, Gaussian likelihood, fixed variance 1/2;
- `gaussian_learned`: the same with one learned variance per sub-pixel;
- `logistic`: the same networks, discretized logistic per sub-pixel;
- `logistic_mixture`: the same, a mixture of 5 logistics per pixel (coupled colours);
- `pixelvae`: the recommended colour model: residual encoder, residual
  decoder emitting per-pixel features, a PixelCNN with a mixture of 5
  discretized logistics (PixelCNN++'s likelihood) reading the pixels before
  each one. Sampling it is sequential.
- `hierarchical`: the `HierarchicalVAE` (its defaults: 2 latent groups at 16x16 and 3 at
  8x8 for 32x32 images) with a mixture of 5 discretized logistics per pixel, the gradient's
  global norm clipped at 200 (its MNIST recipe). Sampling it is parallel.
"""

import argparse
import io
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _budget.py, however this is loaded
from _budget import TimeBudget  # noqa: E402

from vae_keras import VAE, HierarchicalVAE, datasets, evaluation, likelihoods, networks, recipes
from vae_keras.callbacks import NonFiniteLossError

MODELS = (
    "gaussian",
    "gaussian_learned",
    "logistic",
    "logistic_mixture",
    "pixelvae",
    "hierarchical",
)


def codec_bits_per_dim(x, fmt, **options):
    """Per-image bits/dim of `x` (float in [0, 1], 8-bit grid) compressed by PIL."""
    from PIL import Image

    images = np.round(x * 255).astype(np.uint8)
    out = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image).save(
            buffer, fmt, **options
        )
        out.append(8 * len(buffer.getvalue()) / image.size)
    return np.asarray(out)


def build(name, shape, latent_dim, seed):
    channels = shape[-1]
    if name == "pixelvae":  # the command line's colour recipe (vae_keras/recipes.py)
        return recipes.build_model(
            architecture="pixelcnn",
            likelihood="discretized_logistic",
            shape=shape,
            latent_dim=latent_dim,
            seed=seed,
        )
    if name == "hierarchical":
        mixture = likelihoods.DiscretizedLogistic(num_mixtures=5)
        return HierarchicalVAE(shape, likelihood=mixture, seed=seed)
    kwargs = {
        "gaussian": {"likelihood": "gaussian"},
        "gaussian_learned": {"likelihood": "gaussian", "gaussian_variance": "learned_per_pixel"},
        "logistic": {"likelihood": "discretized_logistic"},
        "logistic_mixture": {"likelihood": likelihoods.DiscretizedLogistic(num_mixtures=5)},
    }[name]
    out_channels = likelihoods.get(kwargs["likelihood"]).output_channels(channels)
    if kwargs["likelihood"] == "gaussian":
        out_channels = channels
    return VAE(
        networks.residual_encoder(shape, latent_dim),
        networks.residual_decoder(latent_dim, shape, output_channels=out_channels),
        seed=seed,
        **kwargs,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=("patches", "shapes"), default="patches")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--num-train", type=int, default=20000)
    parser.add_argument("--num-test", type=int, default=500)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--minutes", type=float, default=8.0, help="training budget per model")
    parser.add_argument("--latent-dim", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--num-samples", type=int, default=20, help="IWAE codes per test image")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-dir", help="keep each trained model here (.keras)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue training the models saved in --save-dir (optimizer state included) "
        "for another --minutes; the row reports the total",
    )
    parser.add_argument("--json", help="append one JSON row per model here")
    args = parser.parse_args(argv)

    def load(split, n):
        x = datasets.load(args.dataset, split, image_size=args.image_size, num_examples=n)
        return x[0] if isinstance(x, tuple) else x

    x_train, x_test = load("train", args.num_train), load("test", args.num_test)
    dims = math.prod(x_test.shape[1:])
    png = codec_bits_per_dim(x_test, "PNG", optimize=True)
    webp = codec_bits_per_dim(x_test, "WEBP", lossless=True, quality=100, method=6)
    print(
        f"{args.dataset} {x_test.shape[1:]}: {len(x_train)} train / {len(x_test)} test images; "
        f"PNG {png.mean():.3f} bits/dim, WebP lossless {webp.mean():.3f} "
        f"(backend {keras.backend.backend()}, {os.cpu_count()} CPUs, {args.minutes} min/model)",
        flush=True,
    )
    rows = []
    for name in args.models.split(","):
        keras.utils.set_random_seed(args.seed)
        saved = os.path.join(args.save_dir or "", f"{args.dataset}-{name}.keras")
        before = {"train_seconds": 0.0, "train_steps": 0}
        if args.resume:
            model = keras.models.load_model(saved, safe_mode=True)
            model.optimizer.learning_rate = args.learning_rate
            with open(saved + ".json") as f:
                before = json.load(f)
        else:
            model = build(name, x_train.shape[1:], args.latent_dim, args.seed)
            # The gradient clipping a model's recipe names (HierarchicalVAE), else none.
            clipnorm = getattr(model, "RECIPE_GLOBAL_CLIPNORM", None)
            model.compile(
                optimizer=keras.optimizers.Adam(args.learning_rate, global_clipnorm=clipnorm)
            )
        budget = TimeBudget(60 * args.minutes)
        start = time.time()
        diverged = None
        try:
            model.fit(
                x_train, epochs=1000, batch_size=args.batch_size, callbacks=[budget], verbose=2
            )
        except NonFiniteLossError as error:  # NaNGuard stopped it and restored the weights
            diverged = str(error)
            print(f"{name}: {error} Scoring and saving the restored model.", flush=True)
        train_seconds = time.time() - start + before["train_seconds"]
        steps = budget.steps + before["train_steps"]
        start = time.time()
        bpd = evaluation.bits_per_dim_8bit(
            model, x_test, num_samples=args.num_samples, batch_size=50, verbose=False
        )
        row = {
            "dataset": args.dataset,
            "image_size": args.image_size,
            "model": name,
            "params": int(model.count_params()),
            "train_seconds": round(train_seconds, 1),
            "train_steps": steps,
            "epochs": round(steps * args.batch_size / len(x_train), 2),
            "resumed": bool(args.resume),
            "diverged": diverged,  # NaNGuard's message when training stopped at a NaN/inf loss
            "bits_per_dim": float(bpd.mean()),
            "standard_error": float(bpd.std(ddof=1) / math.sqrt(len(bpd))),
            "png": float(png.mean()),
            "webp": float(webp.mean()),
            "eval_seconds": round(time.time() - start, 1),
            "num_samples": args.num_samples,
            "num_test": len(x_test),
            "dims": dims,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(row) + "\n")
        if args.save_dir:
            os.makedirs(args.save_dir, exist_ok=True)
            model.save(saved)
            with open(saved + ".json", "w") as f:
                json.dump({"train_seconds": train_seconds, "train_steps": steps}, f)

    print("\n| model | params | train (min, epochs) | bits/dim | / PNG | / WebP |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['model']}{' (diverged, restored)' if r['diverged'] else ''} | {r['params']:,} "
            f"| {r['train_seconds'] / 60:.1f}, {r['epochs']} "
            f"| {r['bits_per_dim']:.3f} ± {r['standard_error']:.3f} | "
            f"{r['bits_per_dim'] / r['png']:.3f} | {r['bits_per_dim'] / r['webp']:.3f} |"
        )
    print(f"| PNG (optimize) | | | {png.mean():.3f} | 1.000 | {png.mean() / webp.mean():.3f} |")
    print(f"| WebP lossless | | | {webp.mean():.3f} | {webp.mean() / png.mean():.3f} | 1.000 |")
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
