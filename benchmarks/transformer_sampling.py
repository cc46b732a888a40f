"""TransformerPrior sampling: the key/value cache against full reruns, and images from a prompt.

An (untrained: the time does not depend on the weights) `TransformerPrior` over an
8x8 grid (64 code tokens) of `--codes` codes after the shapes captions' 8-word
prompt, the package's default width 64, depth 2, 4 heads:

- `cached` and `full`: seconds to draw `--num-samples` grids from one prompt,
  median of `--repeats`, and the draws asserted equal (same seed, same grids);
- `prompt -> images`: `VQVAE(prior="transformer").sample(64, captions=...)` end to
  end (a 32x32x3 model whose encoder makes the 8x8 grid), in-process, median.

    python benchmarks/transformer_sampling.py
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from vae_keras import VQVAE, networks  # noqa: E402
from vae_keras.layers import VectorQuantizer  # noqa: E402
from vae_keras.models import TransformerPrior  # noqa: E402

PROMPT = "a large red heart at the top left"


def median_seconds(call, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=128)
    parser.add_argument("--num-samples", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    prior = TransformerPrior.for_codes((8, 8), args.codes, 16)
    condition = prior.condition(args.num_samples, captions=PROMPT)
    print(f"backend {keras.backend.backend()}, 8x8 grid, K={args.codes}, n={args.num_samples}")
    draws = {}
    for sampler in ("cached", "full"):
        seconds, draws[sampler] = median_seconds(
            lambda s=sampler: prior.sample(args.num_samples, condition, seed=0, sampler=s),
            args.repeats,
        )
        print(f"{sampler:>6}: {seconds:6.2f} s  ({1000 * seconds / 64:5.1f} ms per code)")
    np.testing.assert_array_equal(draws["cached"], draws["full"])
    print("cached and full drew the same grids")

    model = VQVAE(
        networks.vq_encoder((32, 32, 3), 16, filters=(32, 64)),
        networks.vq_decoder((8, 8, 16), (32, 32, 3), filters=(64, 32)),
        VectorQuantizer(args.codes, 16, seed=0),
        prior="transformer",
        seed=0,
    )
    model.prior.remember_codebook(model.quantizer.embeddings)  # as if fitted: timing only
    seconds, images = median_seconds(
        lambda: model.sample(64, captions=PROMPT, seed=0), args.repeats
    )
    print(f"prompt -> 64 images {images.shape[1:]}: {seconds:.2f} s")


if __name__ == "__main__":
    main()
