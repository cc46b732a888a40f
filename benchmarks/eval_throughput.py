"""Likelihood evaluation throughput against this machine's matmul peak, in one run.

    python benchmarks/eval_throughput.py --num-samples 200 --images 100

For the default conv decoder (`vae-keras train`'s model) and a dense one, times
`evaluation.log_likelihood` (importance samples per second), converts it to
FLOP/s with the decoder's FLOPs per code (ARCHITECTURE.md's convention: 2 x
multiply-adds; Conv2DTranspose counted input-side) and divides by a float32
2048x2048 matmul measured in the same run. Rows: the estimator eagerly (the
package's path for these models) and as a TensorFlow graph (the path
`HierarchicalVAE` takes, `evaluate_as_graph`). The conv decoder also runs with
its output layer forced to Keras's computation (`TapConv2DTranspose` off), the
reference for that layer. Untrained weights: the work does
not depend on them.

`--per-layer` times the conv decoder's layers instead, each alone on its real
input for `--per-layer-codes` codes (forward only, as in evaluation; one compiled
function per layer, `_layers.py`), median of `--per-layer-repeats`, beside the
whole decoder as one function, and the output layer (`TapConv2DTranspose`) with
each form forced (matmuls over its taps, Keras's `Conv2DTranspose.call`):

    python benchmarks/eval_throughput.py --per-layer
"""

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np


def layer_flops(layer) -> float:
    """FLOPs of one pass per code through a Dense, Conv2D or Conv2DTranspose layer (else 0)."""
    if isinstance(layer, keras.layers.Dense):
        return 2 * layer.input.shape[-1] * layer.units
    if isinstance(layer, keras.layers.Conv2DTranspose):
        _, h, w, c_in = layer.input.shape
        kh, kw = layer.kernel_size
        return 2 * h * w * kh * kw * c_in * layer.filters
    if isinstance(layer, keras.layers.Conv2D):
        _, h, w, c_out = layer.output.shape
        kh, kw = layer.kernel_size
        return 2 * h * w * kh * kw * layer.input.shape[-1] * c_out
    return 0.0


def decoder_flops(decoder) -> float:
    """FLOPs of one decoder pass per code (Dense, Conv2D, Conv2DTranspose layers)."""
    return float(sum(layer_flops(layer) for layer in decoder.layers))


def matmul_peak(seconds=3.0) -> float:
    """FLOP/s of a float32 2048x2048 matmul (best of repeated runs), in this backend."""
    a = keras.random.normal((2048, 2048), seed=0)
    keras.ops.convert_to_numpy(keras.ops.matmul(a, a))
    best, end = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        keras.ops.convert_to_numpy(keras.ops.matmul(a, a))
        best = min(best, time.perf_counter() - start)
    return 2 * 2048**3 / best


def keras_output(decoder):
    """`decoder` with its `TapConv2DTranspose` layers running Keras's computation."""
    from vae_keras.networks import TapConv2DTranspose

    for layer in decoder.layers:
        if isinstance(layer, TapConv2DTranspose):
            layer.TAP_BACKENDS = ()  # this instance only
    return decoder


def per_layer(codes, repeats):
    """Prints ms per layer of the default conv decoder (z=16) on `codes` random codes."""
    from _layers import implementation_forms, layer_inputs, time_layer

    from vae_keras import networks

    decoder = networks.conv_decoder(16, (28, 28, 1))
    z = np.random.default_rng(0).normal(size=(codes, 16)).astype("float32")
    rows = []
    for layer, x in layer_inputs(decoder, z):
        for suffix in implementation_forms(layer):
            flops = layer_flops(layer) * codes
            ms = time_layer(layer, x, repeats)
            rows.append((layer.name + suffix, ms, flops / ms / 1e6))
    whole = time_layer(decoder, z, repeats)
    rows.append(
        ("whole decoder, one function", whole, decoder_flops(decoder) * codes / whole / 1e6)
    )
    print(
        f"conv decoder (z=16) layer by layer, {codes} codes, forward, median of {repeats}, "
        f"backend {keras.backend.backend()}, load average {os.getloadavg()[0]:.2f}"
    )
    print("| layer | ms | GFLOP/s |\n|---|---:|---:|")
    for name, ms, gflops in rows:
        print(f"| {name} | {ms:.1f} | {gflops:.1f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-samples", type=int, default=200)
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (median)")
    parser.add_argument(
        "--max-rows",
        default="default",
        help="decoder rows per call to compare on the eager path, comma-separated "
        "(`default`: `evaluation.default_max_rows`, 20000 for MNIST)",
    )
    parser.add_argument(
        "--per-layer", action="store_true", help="time the conv decoder's layers one by one instead"
    )
    parser.add_argument("--per-layer-codes", type=int, default=2000)
    parser.add_argument("--per-layer-repeats", type=int, default=7)
    args = parser.parse_args()
    if args.per_layer:
        return per_layer(args.per_layer_codes, args.per_layer_repeats)

    from vae_keras import VAE, evaluation, networks

    shape = (28, 28, 1)
    max_rows = list(dict.fromkeys(args.max_rows.split(",")))
    models = {
        "conv (vae-keras train default, z=16)": VAE(
            networks.conv_encoder(shape, 16), networks.conv_decoder(16, shape), seed=0
        ),
        # The reference for the output layer: the same decoder with Keras's own
        # Conv2DTranspose computation in place of `TapConv2DTranspose`'s.
        "conv, Keras output layer": VAE(
            networks.conv_encoder(shape, 16), keras_output(networks.conv_decoder(16, shape)), seed=0
        ),
        "dense (512-256, z=32)": VAE(
            networks.dense_encoder(shape, 32, hidden_units=(512, 256)),
            networks.dense_decoder(32, shape, hidden_units=(256, 512)),
            seed=0,
        ),
    }
    x = (np.random.default_rng(0).random((args.images,) + shape) < 0.5).astype("float32")
    peak = matmul_peak()
    rows = []
    for name, model in models.items():
        flops = decoder_flops(model.decoder)
        default_rows = evaluation.default_max_rows(shape)
        # The package evaluates these models eagerly; the graph row: what it would give.
        paths = [("eager", default_rows if r == "default" else int(r)) for r in max_rows]
        paths.append(("graph", default_rows))
        times = {path: [] for path in paths}
        for _ in range(args.rounds + 1):  # the first round warms up (tracing, kernel caches)
            for path in paths:
                model.evaluate_as_graph = path[0] == "graph"
                start = time.perf_counter()
                evaluation.log_likelihood(
                    model, x, num_samples=args.num_samples, max_rows=path[1], verbose=False
                )
                times[path].append(time.perf_counter() - start)
        for (path, max_rows_), measured in times.items():
            seconds = statistics.median(measured[1:])
            rate = args.images * args.num_samples / seconds
            rows.append(
                (name, path, max_rows_, flops / 1e6, rate, rate * flops / 1e9, rate * flops / peak)
            )
    load = os.getloadavg()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, backend "
        f"{keras.backend.backend()}; load average {load[0]:.2f}; matmul peak "
        f"{peak / 1e9:.1f} GFLOP/s (float32 2048x2048, same run); k={args.num_samples}, "
        f"{args.images} images, median of {args.rounds} interleaved rounds after one warm-up"
    )
    print(
        "| decoder | estimator | rows per call | MFLOP/code | codes/s | GFLOP/s "
        "| % of matmul peak |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, path, max_rows_, mflop, rate, gflops, share in rows:
        print(
            f"| {name} | {path} | {max_rows_} | {mflop:.2f} | {rate:.0f} | {gflops:.1f} "
            f"| {share:.1%} |"
        )


if __name__ == "__main__":
    main()
