"""VQ-VAE-2 against the one-level VQ-VAE on binarized MNIST, for the same wall time.

Both models get the same budget (`--minutes` each, priors included): a share
`--prior-share` of it trains the priors (`fit_prior`; VQVAE2 splits it evenly
between its top and bottom prior), the rest the autoencoder, each stopped by
the clock (epochs of dynamically binarized training images, batch 128). The
one-level model is `benchmarks/vq_vae.py`'s: keras.io networks, a 7x7 grid of
`VectorQuantizer(128, 16)` codes; VQVAE2 is `VQVAE2((28, 28, 1))` with its
defaults (7x7 bottom grid of 128 codes, 4x4 top grid of 64). Scored on the test
images binarized with seed 0: `nll_bound` in nats (reconstruction NLL + the
priors' NLL of the codes), an upper bound on -log p(x); lower is better.

    python benchmarks/vq_vae2.py --data-dir ../shared/datasets/mnist --minutes 5
"""

import argparse
import json
import os
import platform
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def deadlines(keras, *times):
    """A callback that stops the `k`-th `fit` it joins at `times[k]` (`time.perf_counter`)."""

    class Deadline(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.pending, self.deadline, self.epochs = list(times), None, 0

        def on_train_begin(self, logs=None):
            self.deadline = self.pending.pop(0)

        def on_train_batch_end(self, batch, logs=None):
            if time.perf_counter() > self.deadline:
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            self.epochs += 1

    return Deadline()


def one_level(seed):
    from vae_keras import VQVAE, networks
    from vae_keras.layers import VectorQuantizer

    return VQVAE(
        networks.vq_encoder((28, 28, 1), 16),
        networks.vq_decoder((7, 7, 16), (28, 28, 1)),
        VectorQuantizer(128, 16, seed=seed),
        seed=seed,
    )


def two_level(top_codes, bottom_codes=128):
    """VQVAE2's defaults, with `top_codes` and `bottom_codes` entries in its codebooks."""

    def build(seed):
        from vae_keras import VQVAE2

        return VQVAE2((28, 28, 1), num_embeddings=(top_codes, bottom_codes), seed=seed)

    return build


def run(name, build, priors, x_train, x_prior, x_test, minutes, prior_share, seed=0):
    """Trains `build(seed)` for `minutes` in all; returns its row of figures."""
    import keras

    keras.utils.set_random_seed(seed)
    from vae_keras.binarization import DynamicBinarization

    model = build(seed)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    budget = minutes * 60
    start = time.perf_counter()
    train_limit = deadlines(keras, start + budget * (1 - prior_share))
    model.fit(
        DynamicBinarization(x_train, batch_size=128, seed=seed),
        epochs=10_000,
        verbose=0,
        callbacks=[train_limit],
    )
    train_seconds = time.perf_counter() - start
    # The prior's share, split evenly between the model's priors, which train one after the
    # other (encoding the training images counts too).
    start = time.perf_counter()
    share = budget * prior_share / priors
    prior_limit = deadlines(keras, *(start + share * (i + 1) for i in range(priors)))
    model.fit_prior(x_prior, epochs=10_000, verbose=0, callbacks=[prior_limit])
    prior_seconds = time.perf_counter() - start
    bound = model.nll_bound(x_test)
    prior_nll = model.prior_nll(x_test)
    return {
        "model": name,
        "train_minutes": train_seconds / 60,
        "prior_minutes": prior_seconds / 60,
        "train_epochs": train_limit.epochs,
        "parameters": model.count_params(),
        "nll_bound": float(bound.mean()),
        "nll_bound_se": float(bound.std() / np.sqrt(len(bound))),
        "reconstruction_nll": float((bound - prior_nll).mean()),
        "prior_nll": float(prior_nll.mean()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("VAE_KERAS_DATA_DIR"))
    parser.add_argument("--limit", type=int, default=20000)
    parser.add_argument("--test-limit", type=int, default=2000)
    parser.add_argument("--minutes", type=float, default=5.0, help="per model, priors included")
    parser.add_argument("--prior-share", type=float, default=0.4)
    parser.add_argument("--top-codes", type=int, default=64, help="VQVAE2's top codebook")
    parser.add_argument("--bottom-codes", type=int, default=128, help="VQVAE2's bottom codebook")
    parser.add_argument("--json", default=None, help="also write the numbers here")
    args = parser.parse_args()
    if (
        not 0 < args.prior_share < 1
        or args.minutes <= 0
        or min(args.top_codes, args.bottom_codes) < 2
    ):
        parser.error(
            "--minutes must be > 0, --prior-share in (0, 1), --top-codes and --bottom-codes >= 2"
        )

    import keras

    from vae_keras import datasets
    from vae_keras.binarization import binarize

    x_train, _ = datasets.load("mnist", "train", data_dir=args.data_dir, limit=args.limit)
    x_test, _ = datasets.load("mnist", "test", data_dir=args.data_dir, limit=args.test_limit)
    x_prior, x_test = binarize(x_train, seed=1), binarize(x_test, seed=0)
    load = os.getloadavg()
    print(
        f"binarized MNIST: {len(x_train)} train, {len(x_test)} test; {args.minutes:g} min per "
        f"model ({args.prior_share:.0%} for the priors); backend {keras.backend.backend()}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load {load[0]:.1f} at start"
    )
    rows = [
        run(name, build, priors, x_train, x_prior, x_test, args.minutes, args.prior_share)
        for name, build, priors in (
            ("VQVAE 7x7, K=128", one_level, 1),
            (
                f"VQVAE2 4x4 (K={args.top_codes}) + 7x7 (K={args.bottom_codes})",
                two_level(args.top_codes, args.bottom_codes),
                2,
            ),
        )
    ]
    reference = rows[0]["nll_bound"]
    print(
        "\n| model | train + prior min | epochs | params | test NLL bound (nats) "
        "| rec. NLL | prior NLL | ratio |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        row["ratio"] = row["nll_bound"] / reference
        print(
            f"| {row['model']} | {row['train_minutes']:.1f} + {row['prior_minutes']:.1f} "
            f"| {row['train_epochs']} | {row['parameters']:,} "
            f"| {row['nll_bound']:.2f} ± {row['nll_bound_se']:.2f} "
            f"| {row['reconstruction_nll']:.2f} | {row['prior_nll']:.2f} | {row['ratio']:.3f} |"
        )
    print(f"load {os.getloadavg()[0]:.1f} at the end")
    if args.json:
        from vae_keras.runs import atomic_write_bytes

        results = {"config": vars(args), "load_at_start": load, "rows": rows}
        atomic_write_bytes(args.json, json.dumps(results, indent=1).encode())


if __name__ == "__main__":
    main()
