"""What the image-grid callbacks cost per epoch of the default MNIST run.

The default `vae-keras train` run is the conv VAE on MNIST, batch 128. This
script trains it on (a subset of) real MNIST and compares epochs without
callbacks, with `SampleGrid(num_samples=64)`, with `ReconstructionGrid` (16
test images) and with both. Configurations take turns, one epoch at a time,
so drift (thermal, other processes) hits them alike. With `--beta-schedule`,
`BetaSchedule` setting a new beta before every batch is timed too (on JAX
each change syncs the trainer state back to the variables).

Two figures per configuration:
- epoch ms: wall time of a one-epoch `fit` (noisy on a shared CPU);
- callback ms: time spent inside the callbacks' epoch and batch hooks
  (for the grids: decode + PNG write), measured directly; its share is
  this divided by the epoch time without callbacks. The grids cost the
  same per epoch whatever the epoch's size, so their share of the full
  60000-image epoch is `callback ms / (epoch ms * 60000 / subset)`;
  BetaSchedule's cost grows with the steps, so its share stays the same.

Usage:

    python benchmarks/callback_overhead.py --data-dir ../shared/datasets/mnist \
        [--limit 12800] [--repeats 3] [--latent-dim 2]
"""

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

from vae_keras import VAE, datasets, networks
from vae_keras.callbacks import BetaSchedule, ReconstructionGrid, SampleGrid

FULL_EPOCH = 60000
SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"


class Timed(keras.callbacks.Callback):
    """Wraps a callback and adds up the time spent in its per-epoch and per-batch hooks."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.seconds = inner, 0.0
        for hook in (
            "on_epoch_begin",
            "on_epoch_end",
            "on_train_batch_begin",
            "on_train_batch_end",
        ):
            setattr(self, hook, self._timed(getattr(inner, hook)))

    def _timed(self, method):
        def call(*args, **kwargs):
            start = time.perf_counter()
            method(*args, **kwargs)
            self.seconds += time.perf_counter() - start

        return call

    def set_model(self, model):
        super().set_model(model)
        self.inner.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        self.inner.set_params(params)

    def on_train_begin(self, logs=None):
        self.inner.on_train_begin(logs)

    def on_train_end(self, logs=None):
        self.inner.on_train_end(logs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("VAE_KERAS_DATA_DIR")
        or (SHARED_MNIST if SHARED_MNIST.exists() else None),
    )
    parser.add_argument("--limit", type=int, default=12800, help="training images (<= 60000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per configuration")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--latent-dim", type=int, default=2)
    parser.add_argument(
        "--beta-schedule",
        action="store_true",
        help="also time BetaSchedule updating beta before every batch",
    )
    args = parser.parse_args()

    x, _ = datasets.load("mnist", "train", data_dir=args.data_dir)
    x_test, _ = datasets.load("mnist", "test", data_dir=args.data_dir)
    x = x[: args.limit]
    vae = VAE(
        networks.conv_encoder(x.shape[1:], args.latent_dim),
        networks.conv_decoder(args.latent_dim, x.shape[1:]),
        seed=0,
    )
    vae.compile(optimizer="adam")
    vae.fit(x, epochs=1, batch_size=args.batch_size, verbose=0)  # trace and warm up

    out = tempfile.mkdtemp(prefix="callback_overhead_")
    configs = {
        "none": list,
        "SampleGrid(64)": lambda: [SampleGrid(os.path.join(out, "s"), num_samples=64)],
        "ReconstructionGrid(16)": lambda: [ReconstructionGrid(os.path.join(out, "r"), x_test[:16])],
        "both": lambda: [
            SampleGrid(os.path.join(out, "s"), num_samples=64),
            ReconstructionGrid(os.path.join(out, "r"), x_test[:16]),
        ],
    }
    if args.beta_schedule:  # beta changes before every batch: the worst case
        configs["BetaSchedule(batch)"] = lambda: [BetaSchedule("linear", warmup_steps=10**9)]
    epoch_s = {name: [] for name in configs}
    callback_s = {name: [] for name in configs}
    for _ in range(args.repeats):
        for name, make in configs.items():
            timed = [Timed(cb) for cb in make()]
            start = time.perf_counter()
            vae.fit(x, epochs=1, batch_size=args.batch_size, verbose=0, callbacks=timed)
            epoch_s[name].append(time.perf_counter() - start)
            callback_s[name].append(sum(t.seconds for t in timed))

    base = float(np.median(epoch_s["none"]))
    full = base * FULL_EPOCH / len(x)
    print(
        f"backend {keras.backend.backend()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPU cores; conv VAE latent {args.latent_dim}, batch {args.batch_size}, "
        f"{len(x)} MNIST training images per epoch, median of {args.repeats} epochs"
    )
    print(
        f"{'callbacks':<24}{'epoch ms':>10}{'vs none':>9}{'callback ms':>13}"
        f"{'share':>8}{'share @60000':>14}"
    )
    for name in configs:
        epoch_ms = 1000 * float(np.median(epoch_s[name]))
        cb_ms = 1000 * float(np.median(callback_s[name]))
        full_cb_ms = cb_ms * (FULL_EPOCH / len(x) if name.startswith("BetaSchedule") else 1.0)
        print(
            f"{name:<24}{epoch_ms:>10.0f}{epoch_ms / (1000 * base):>9.3f}{cb_ms:>13.1f}"
            f"{cb_ms / (1000 * base):>8.2%}{full_cb_ms / (1000 * full):>14.3%}"
        )


if __name__ == "__main__":
    main()
