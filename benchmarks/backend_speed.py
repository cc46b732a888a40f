"""Conv decoder upsampling on three backends: train-step speed and test loss.

The model is the package's default conv VAE for MNIST (what `vae-keras train`
builds, at latent 2): `conv_encoder((28, 28, 1), 2)` + `conv_decoder(2,
(28, 28, 1), upsampling=...)`, Bernoulli likelihood, Adam, batch 128. For each
backend (its own process, `KERAS_BACKEND` set) and each `upsampling` choice:

- ms/step: median over interleaved rounds (every choice once per round, same
  batches) of `fit` over `--steps` batches, after `--warmup` untimed steps;
  the ratio is against TensorFlow's `"transpose"` (today's default) from the
  same run, so every row shares the machine's load of that hour.
- `transpose_keras` and `transpose_shuffled` are `"transpose"` with its
  `ShuffledConv2DTranspose` stages forced to Keras's `Conv2DTranspose.call`
  or to the convolution + pixel shuffle form on every backend (`"transpose"`
  itself takes the shuffle only on the backends in `SHUFFLED_BACKENDS`);
- `transpose_keras_output` is `"transpose"` with its output layer
  (`TapConv2DTranspose`) forced to Keras's `Conv2DTranspose.call`; the
  default takes the matmul-over-taps form on the backends in `TAP_BACKENDS`;
- test loss: the negative ELBO on the first `--test-images` test images after
  `--epochs` epochs on the first `--train-images` training images (seed 0),
  so a faster choice cannot silently cost quality;
- `--per-layer`: every encoder and decoder layer with weights of each choice's
  model, alone on its real input at `--batch-size` (`_layers.py`): ms of the
  forward pass and of the forward pass with the gradients of its input and
  weights, median of `--per-layer-repeats`; the output layer
  (`TapConv2DTranspose`) also with each form forced (matmuls over its taps, Keras's
  `Conv2DTranspose.call`).

    python benchmarks/backend_speed.py --data-dir ../shared/datasets/mnist
    python benchmarks/backend_speed.py --backends tensorflow,jax --upsampling transpose \
        --epochs 0 --per-layer
"""

import argparse
import contextlib
import json
import os
import platform
import sys
import time

from _layers import implementation_forms, layer_inputs, time_layer
from _timing import interleaved_ms_per_step, run_worker

CHOICES = ("transpose", "resize", "depth_to_space")
TRANSPOSE_FORMS = {"transpose_keras": False, "transpose_shuffled": True}  # shuffled?
KERAS_OUTPUT = "transpose_keras_output"

# The decoder's second upsampling stage (14x14x64 -> 28x28x32), batch 128: the
# transposed convolution, and the convolution `"depth_to_space"` runs instead.
OPS = {
    "conv_transpose 3x3 /2": ((128, 14, 14, 64), (3, 3, 32, 64)),
    "conv 2x2 to 4x filters (depth_to_space, transpose_shuffled)": (
        (128, 14, 14, 64),
        (2, 2, 64, 128),
    ),
}


def profile_ops(repeats=5):
    """ms of the forward pass, the input gradient and the kernel gradient of `OPS`."""
    import keras
    import numpy as np
    from keras import ops

    def forward(name, x, w):
        if name.startswith("conv_transpose"):
            return ops.conv_transpose(x, w, strides=2, padding="same")
        return ops.conv(x, w, padding="same")

    backend = keras.backend.backend()
    out = {}
    for name, (x_shape, w_shape) in OPS.items():
        rng = np.random.default_rng(0)
        x = ops.convert_to_tensor(rng.normal(size=x_shape).astype("float32"))
        w = ops.convert_to_tensor(rng.normal(size=w_shape).astype("float32"))
        fns = {"forward": lambda x, w, name=name: forward(name, x, w)}
        for which in ("d_input", "d_kernel"):
            fns[which] = _gradient(backend, lambda x, w, name=name: forward(name, x, w), which)
        if backend == "tensorflow":
            import tensorflow as tf

            fns["forward"] = tf.function(fns["forward"])
        elif backend == "jax":
            import jax

            fns["forward"] = jax.jit(fns["forward"])
        out[name] = {}
        for which, fn in fns.items():
            keras.ops.convert_to_numpy(fn(x, w))  # compile
            best = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                keras.ops.convert_to_numpy(fn(x, w))
                best = min(best, time.perf_counter() - start)
            out[name][which] = 1000 * best
    return out


def _gradient(backend, f, which):
    """The gradient of `sum(f(x, w))` with respect to x or w, compiled where the backend can."""
    if backend == "jax":
        import jax

        return jax.jit(jax.grad(lambda x, w: f(x, w).sum(), 0 if which == "d_input" else 1))
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def grad(x, w):
            with tf.GradientTape() as tape:
                tape.watch(x if which == "d_input" else w)
                y = tf.reduce_sum(f(x, w))
            return tape.gradient(y, x if which == "d_input" else w)

        return grad
    import torch

    def grad(x, w):
        x, w = x.detach().requires_grad_(which == "d_input"), w.detach()
        w.requires_grad_(which == "d_kernel")
        return torch.autograd.grad(f(x, w).sum(), x if which == "d_input" else w)[0]

    return grad


def per_layer(model, x, args):
    """{layer label: (forward ms, forward + gradients ms)} for the model's weighted layers."""
    import numpy as np

    batch = x[: args.batch_size]
    z = np.random.default_rng(0).normal(size=(args.batch_size, model.latent_dim))
    out = {}
    for part, inputs in (("encoder", batch), ("decoder", z.astype("float32"))):
        for layer, layer_x in layer_inputs(getattr(model, part), inputs):
            for suffix in implementation_forms(layer):
                out[f"{part} {layer.name}{suffix}"] = tuple(
                    time_layer(layer, layer_x, args.per_layer_repeats, gradients=g)
                    for g in (False, True)
                )
    return out


def run_backend(args):
    """Times and trains every choice on the current backend; prints one JSON line."""
    import keras

    from vae_keras import VAE, datasets, networks
    from vae_keras.networks.output_conv import TapConv2DTranspose
    from vae_keras.networks.upsampling import ShuffledConv2DTranspose

    choices = args.upsampling.split(",")
    x_train, _ = datasets.load("mnist", "train", args.data_dir, limit=args.train_images)
    x_test, _ = datasets.load("mnist", "test", args.data_dir, limit=args.test_images)
    timed = x_train[: args.batch_size * args.steps]

    def build(upsampling):
        keras.utils.set_random_seed(0)
        plain = upsampling in TRANSPOSE_FORMS or upsampling == KERAS_OUTPUT
        decoder = networks.conv_decoder(
            2, (28, 28, 1), upsampling="transpose" if plain else upsampling
        )
        if upsampling == KERAS_OUTPUT:
            for layer in decoder.layers:
                if isinstance(layer, TapConv2DTranspose):
                    layer.TAP_BACKENDS = ()  # this instance only
        if upsampling in TRANSPOSE_FORMS:
            shuffled = (keras.backend.backend(),) if TRANSPOSE_FORMS[upsampling] else ()
            for layer in decoder.layers:
                if isinstance(layer, ShuffledConv2DTranspose):
                    layer.SHUFFLED_BACKENDS = shuffled  # this instance only
        model = VAE(networks.conv_encoder((28, 28, 1), 2), decoder, seed=0)
        model.compile(optimizer=keras.optimizers.Adam())
        return model

    result = {"backend": keras.backend.backend(), "ms_per_step": {}, "test_loss": {}}
    result["ops_ms"] = profile_ops()
    models = {}
    for choice in choices:
        models[choice] = build(choice)
        models[choice].fit(
            x_train[: args.batch_size * args.warmup],
            batch_size=args.batch_size,
            shuffle=False,
            verbose=0,
        )
        result.setdefault("params", {})[choice] = models[choice].decoder.count_params()
    result["ms_per_step"], result["all_ms"] = interleaved_ms_per_step(
        models, timed, args.batch_size, args.rounds, args.steps
    )
    if args.per_layer:
        result["layers_ms"] = {c: per_layer(models[c], timed, args) for c in choices}
    if args.epochs:
        for choice in choices:
            model = build(choice)
            start = time.perf_counter()
            model.fit(x_train, batch_size=args.batch_size, epochs=args.epochs, verbose=0)
            seconds = time.perf_counter() - start
            loss = model.evaluate(x_test, batch_size=500, verbose=0, return_dict=True)["loss"]
            result["test_loss"][choice] = float(loss)
            result.setdefault("train_s", {})[choice] = seconds
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data-dir", default=os.environ.get("VAE_KERAS_DATA_DIR", "../shared/datasets/mnist")
    )
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--upsampling", default=",".join(CHOICES))
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps (compilation)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2, help="0 skips the quality check")
    parser.add_argument("--train-images", type=int, default=10000)
    parser.add_argument("--test-images", type=int, default=2000)
    parser.add_argument(
        "--per-layer", action="store_true", help="also time each layer alone (forward; + grads)"
    )
    parser.add_argument("--per-layer-repeats", type=int, default=20, help="median of this many")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps > args.train_images // args.batch_size:
        parser.error("--steps must fit in --train-images // --batch-size batches")
    if args.worker:
        return run_backend(args)

    load_before = os.getloadavg()
    rows = []
    for backend in args.backends.split(","):
        cmd = [sys.executable, __file__, "--worker"]
        for name in ("data_dir", "upsampling", "batch_size", "steps", "warmup", "rounds"):
            cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
        for name in ("epochs", "train_images", "test_images", "per_layer_repeats"):
            cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
        cmd += ["--per-layer"] if args.per_layer else []
        start = time.perf_counter()
        row = run_worker(cmd, backend)
        if row is None:
            continue
        rows.append(row)
        rows[-1]["wall_s"] = time.perf_counter() - start
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)

    versions = _versions()
    print(
        f"\nConv VAE (latent 2) on MNIST, batch {args.batch_size}, Adam. ms/step: median of "
        f"{args.rounds} interleaved rounds x {args.steps} steps after {args.warmup} warm-up steps. "
        f"Test loss: negative ELBO (nats) on {args.test_images} test images after {args.epochs} "
        f"epochs on {args.train_images} training images, seed 0."
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, load average "
        f"{load_before[0]:.1f} before / {os.getloadavg()[0]:.1f} after; {versions}"
    )
    reference = next(
        (r["ms_per_step"].get("transpose") for r in rows if r["backend"] == "tensorflow"), None
    )
    print("| backend | upsampling | decoder params | ms/step | / TF transpose | test loss |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        for choice, ms in row["ms_per_step"].items():
            ratio = f"{ms / reference:.2f}" if reference else "—"
            loss = row["test_loss"].get(choice)
            loss = f"{loss:.1f}" if loss is not None else "—"
            print(
                f"| {row['backend']} | {choice} | {row['params'][choice]} | {ms:.1f} | {ratio} "
                f"| {loss} |"
            )
    print("\nOne upsampling stage alone (14x14x64 -> 28x28x32, batch 128), best of 5, ms:")
    print("| backend | op | forward | d/input | d/kernel |")
    print("| --- | --- | ---: | ---: | ---: |")
    for row in rows:
        for name, t in row["ops_ms"].items():
            print(
                f"| {row['backend']} | {name} | {t['forward']:.1f} | {t['d_input']:.1f} "
                f"| {t['d_kernel']:.1f} |"
            )

    if args.per_layer:
        print(
            f"\nEach layer alone on its input, batch {args.batch_size}, median of "
            f"{args.per_layer_repeats}, ms (gradients of sum(y * dy) w.r.t. input and weights):"
        )
        print("| backend | upsampling | layer | forward | forward + gradients |")
        print("| --- | --- | --- | ---: | ---: |")
        for row in rows:
            for choice, layers in row.get("layers_ms", {}).items():
                for name, (forward, both) in layers.items():
                    print(f"| {row['backend']} | {choice} | {name} | {forward:.1f} | {both:.1f} |")


def _versions():
    from importlib.metadata import PackageNotFoundError, version

    out = [f"Python {platform.python_version()}"]
    for name in ("keras", "tensorflow", "jax", "torch"):
        with contextlib.suppress(PackageNotFoundError):
            out.append(f"{name} {version(name)}")
    return ", ".join(out)


if __name__ == "__main__":
    main()
