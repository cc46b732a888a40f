"""Codebook use of the three quantizers in one VQVAE, for the same short training budget.

`VectorQuantizer(1000, D)` (package defaults: EMA codebook, dead-code restarts),
`GumbelQuantizer(1000, D)` (DALL-E's relaxation, its temperature annealed from 1
to 1/16 by `callbacks.GumbelTemperatureSchedule`; defaults: logits initialised as
the nearest-entry rule, diversity term on) and `FiniteScalarQuantizer((8, 5, 5,
5))` (1000 implicit codes, D = 4; default range penalty on), each between the same `networks.vq_encoder`
/ `vq_decoder` (an 8x8 code grid for 32x32 images), trained with the Bernoulli
likelihood on `datasets.load("shapes", "train", image_size=32)` for `--minutes` of
wall time each (Adam 1e-3, batch 64). Columns, on the test split: the codes,
codebook use in % (`codebook_statistics(x_test)["usage"]`, the share of the codes
that encode at least one grid position), the perplexity of the codes, the
reconstruction loss (Bernoulli NLL, nats per image, from `evaluate`) and its
MSE per pixel, bits per image of the code grid (positions x log2 K: equal for
the three), training steps done.

    python benchmarks/codebooks.py --minutes 2
"""

import argparse
import ast
import json
import math
import os
import platform
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # _budget.py, however this is loaded
from _budget import TimeBudget  # noqa: E402

KINDS = ("VectorQuantizer", "GumbelQuantizer", "FiniteScalarQuantizer")


def build(kind, embedding_dim, anneal_steps, options=None):
    """(quantizer, its callbacks) for one row of the table; `options` are keyword arguments
    of the quantizer that replace its defaults (`--set`)."""
    from vae_keras import callbacks
    from vae_keras.layers import FiniteScalarQuantizer, GumbelQuantizer, VectorQuantizer

    options = options or {}
    if kind == "VectorQuantizer":
        return VectorQuantizer(1000, embedding_dim, seed=0, **options), []
    if kind == "GumbelQuantizer":
        schedule = callbacks.GumbelTemperatureSchedule(1.0, 1 / 16, steps=anneal_steps)
        return GumbelQuantizer(1000, embedding_dim, seed=0, **options), [schedule]
    return FiniteScalarQuantizer((8, 5, 5, 5), **options), []


def parse_settings(items):
    """`["GumbelQuantizer.kl_weight=0.5", ...]` -> {"GumbelQuantizer": {"kl_weight": 0.5}}
    (values are Python literals: numbers, True/False, tuples; anything else a string)."""
    settings = {}
    for item in items or ():
        key, _, value = item.partition("=")
        kind, _, name = key.partition(".")
        if kind not in KINDS or not name.isidentifier() or not value:
            raise SystemExit(
                f"--set takes QUANTIZER.ARGUMENT=VALUE with QUANTIZER one of {', '.join(KINDS)}, "
                f"e.g. FiniteScalarQuantizer.diversity_weight=0.1. Received: {item!r}"
            )
        try:
            settings.setdefault(kind, {})[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            settings[kind][name] = value
    return settings


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="training budget per quantizer")
    parser.add_argument(
        "--steps", type=int, default=None, help="also stop each row after this many steps"
    )
    parser.add_argument("--embedding-dim", type=int, default=4, help="D of the VQ and Gumbel rows")
    parser.add_argument("--anneal-steps", type=int, default=1000, help="Gumbel: 1 -> 1/16 over")
    parser.add_argument("--limit", type=int, default=None, help="training images (default all)")
    parser.add_argument("--json", default=None, help="also write the numbers here")
    parser.add_argument(
        "--only", nargs="+", default=list(KINDS), choices=KINDS, help="rows to run (default all)"
    )
    parser.add_argument(
        "--set",
        nargs="+",
        default=[],
        metavar="QUANTIZER.ARGUMENT=VALUE",
        help="a quantizer argument other than its default, e.g. GumbelQuantizer.kl_weight=0",
    )
    args = parser.parse_args()
    settings = parse_settings(args.set)
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be >= 1. Received: {args.steps}")

    import keras
    import numpy as np

    from vae_keras import VQVAE, datasets, networks

    x_train, _ = datasets.load("shapes", "train", image_size=32)
    x_test, _ = datasets.load("shapes", "test", image_size=32)
    if args.limit:
        x_train = x_train[: args.limit]
    print(
        f"shapes 32x32: {len(x_train)} train, {len(x_test)} test; {args.minutes} min each"
        + (f" or {args.steps} steps; " if args.steps else "; ")
        + f"backend {keras.backend.backend()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    rows = []
    for kind in args.only:
        keras.utils.set_random_seed(0)
        quantizer, extra = build(kind, args.embedding_dim, args.anneal_steps, settings.get(kind))
        dim = quantizer.embedding_dim
        encoder = networks.vq_encoder((32, 32, 3), dim, filters=(32, 64))
        decoder = networks.vq_decoder(tuple(encoder.output.shape[1:]), (32, 32, 3), (64, 32))
        model = VQVAE(encoder, decoder, quantizer, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        budget = TimeBudget(60 * args.minutes, after_first_batch=True, max_steps=args.steps)
        model.fit(x_train, epochs=10_000, batch_size=64, verbose=0, callbacks=[budget, *extra])
        stats = model.codebook_statistics(x_test)
        scores = model.evaluate(x_test, batch_size=256, verbose=0, return_dict=True)
        mse = float(np.mean((model.reconstruct(x_test) - x_test) ** 2))
        positions = int(np.prod(model.grid_shape))
        rows.append(
            {
                "quantizer": kind,
                "settings": settings.get(kind, {}),
                "codes": quantizer.num_embeddings,
                "embedding_dim": dim,
                "usage_percent": 100 * stats["usage"],
                "perplexity": stats["perplexity"],
                "reconstruction_nats": float(scores["reconstruction_loss"]),
                "mse": mse,
                "bits_per_image": positions * math.log2(quantizer.num_embeddings),
                "steps": budget.steps,
            }
        )
        print(f"  {kind}: done ({budget.steps} steps)", flush=True)

    header = (
        f"{'quantizer':<22}{'codes':>6}{'D':>3}{'codebook use %':>16}{'perplexity':>12}"
        f"{'rec. nats':>11}{'MSE':>9}{'bits/image':>12}{'steps':>7}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['quantizer']:<22}{r['codes']:>6}{r['embedding_dim']:>3}"
            f"{r['usage_percent']:>16.1f}{r['perplexity']:>12.1f}{r['reconstruction_nats']:>11.1f}"
            f"{r['mse']:>9.4f}{r['bits_per_image']:>12.1f}{r['steps']:>7}"
        )
    for r in rows:
        if r["settings"]:
            print(f"{r['quantizer']} arguments other than its defaults: {r['settings']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": vars(args), "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
