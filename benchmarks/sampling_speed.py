"""Autoregressive sampling speed: the banded loop against the cached sampler, in one run.

    PYTHONPATH=$PWD python benchmarks/sampling_speed.py            # 64 MNIST PixelVAE samples
    PYTHONPATH=$PWD python benchmarks/sampling_speed.py --repeats 3 --prior

The model is the package's MNIST PixelVAE recipe (`vae-keras train --architecture
pixelcnn`, binary 28x28x1: `recipes.build_model`), untrained: sampling time does
not depend on the weights. Rows:
- `banded`: `PixelVAE.sample(..., sampler="banded")`, the plain PixelCNN on the rows
  each pixel can see, one call per pixel (the reference; the loop before the cache);
- `cached`: the default, `networks.CachedPixelCNN`: each layer at the new pixel only.
Each row is the median over `--repeats` runs (after one small warm-up call each),
the two samplers alternating. The same seed must give the same images: the script
checks it and prints how many pixels differ (0). `--prior` adds the VQ-VAE recipe's
code prior (`CodePrior`, 7x7 grid of 128 codes), sampled the same two ways.
`--hierarchical` adds the default `HierarchicalVAE` (a factorised decoder: one
parallel pass, no pixel loop) beside the cached PixelVAE sampler; with `--eager`
(TensorFlow) also the same pass run eagerly (`tf.config.run_functions_eagerly`),
the reference for its graph (`vae_keras/_graph.py`).

    PYTHONPATH=$PWD python benchmarks/sampling_speed.py --hierarchical --eager --repeats 3
"""

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from vae_keras import recipes


def timed(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def compare(label, draw, repeats):
    """Times `draw(sampler)` for both samplers (alternating); returns a table row."""
    for sampler in ("banded", "cached"):
        draw(sampler, warmup=True)
    times = {"banded": [], "cached": []}
    results = {}
    for _ in range(repeats):
        for sampler in ("banded", "cached"):
            seconds, results[sampler] = timed(lambda s=sampler: draw(s), 1)
            times[sampler].append(seconds)
    banded, cached = (statistics.median(times[s]) for s in ("banded", "cached"))
    differ = int(np.sum(results["banded"] != results["cached"]))
    return f"| {label} | {banded:.2f} | {cached:.2f} | {banded / cached:.1f}x | {differ} |"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-samples", type=int, default=64)
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prior", action="store_true", help="also time the VQ-VAE prior")
    parser.add_argument(
        "--hierarchical", action="store_true", help="also time HierarchicalVAE.sample"
    )
    parser.add_argument(
        "--eager",
        action="store_true",
        help="with --hierarchical on TensorFlow: also time its sampling pass run eagerly",
    )
    args = parser.parse_args()
    if args.eager and not args.hierarchical:
        parser.error("--eager times HierarchicalVAE.sample: pass --hierarchical too")

    model = recipes.build_model(
        architecture="pixelcnn",
        likelihood="bernoulli",
        shape=(28, 28, 1),
        latent_dim=args.latent_dim,
        seed=args.seed,
    )

    def pixel_draw(sampler, warmup=False):
        if warmup:
            return model.sample(2, seed=args.seed, sampler=sampler)
        # The binary draws themselves (not the probabilities) are compared.
        z = model._prior_draws(args.num_samples, args.seed)
        return model._generate(z, [args.seed, 0], sampler)[0]

    rows = [
        compare(f"PixelVAE, MNIST recipe, {args.num_samples} x 28x28x1", pixel_draw, args.repeats)
    ]
    if args.prior:
        from vae_keras.models import CodePrior, kinds

        prior = CodePrior((7, 7), kinds.VQ_CODES, args.latent_dim)
        rng = np.random.default_rng(args.seed)  # untrained weights give near-uniform codes
        for weight in prior.pixelcnn.weights:
            weight.assign(0.3 * rng.normal(size=weight.shape).astype("float32"))

        def prior_draw(sampler, warmup=False):
            n = 2 if warmup else args.num_samples
            return prior.sample(n, seed=args.seed, sampler=sampler)

        rows.append(
            compare(f"VQ-VAE CodePrior, {args.num_samples} x 7x7 codes", prior_draw, args.repeats)
        )

    parallel = []
    if args.hierarchical:
        from vae_keras.models import HierarchicalVAE

        hvae = HierarchicalVAE((28, 28, 1), seed=args.seed)
        n = args.num_samples
        hvae.sample(n, seed=args.seed)  # traces the graph once (TensorFlow)
        model.sample(2, seed=args.seed)
        repeats = max(3, args.repeats)
        pixel, _ = timed(lambda: model.sample(n, seed=args.seed), repeats)
        hier, _ = timed(lambda: hvae.sample(n, seed=args.seed), repeats)
        parallel = [
            f"| PixelVAE, cached sampler (reference) | {n} | {pixel:.3f} | 1.0x |",
            f"| HierarchicalVAE, default recipe | {n} | {hier:.3f} | {pixel / hier:.1f}x |",
        ]
        if args.eager and keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.run_functions_eagerly(True)  # the same graph function, op by op
            try:
                hvae.sample(n, seed=args.seed)  # warm-up, as for the graph
                eager, _ = timed(lambda: hvae.sample(n, seed=args.seed), repeats)
            finally:
                tf.config.run_functions_eagerly(False)
            parallel.append(
                f"| HierarchicalVAE, same pass eagerly | {n} | {eager:.3f} | {pixel / eager:.1f}x |"
            )
        elif args.eager:
            print(f"--eager: {keras.backend.backend()} runs the pass eagerly already")

    load = os.getloadavg()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, backend "
        f"{keras.backend.backend()}, keras {keras.__version__}; load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; untrained weights; median of "
        f"{args.repeats} run(s)"
    )
    print("| model | banded loop (s) | cached (s) | speed-up | pixels that differ |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(row)
    if parallel:
        print("\n| model | samples | seconds (median) | speed-up |\n|---|---|---|---|")
        print("\n".join(parallel))


if __name__ == "__main__":
    main()
