"""Conv decoder upsampling on three backends: train-step speed and test loss.

The model is the package's default conv VAE for MNIST (what `vae-keras train`
builds, at latent 2): `conv_encoder((28, 28, 1), 2)` + `conv_decoder(2,
(28, 28, 1), upsampling=...)`, Bernoulli likelihood, Adam, batch 128. For each
backend (its own process, `KERAS_BACKEND` set) and each `upsampling` choice:

- ms/step: median over interleaved rounds (every choice once per round, same
  batches) of `fit` over `--steps` batches, after `--warmup` untimed steps;
  the ratio is against TensorFlow's `"transpose"` (today's default) from the
  same run, so every row shares the machine's load of that hour.
- test loss: the negative ELBO on the first `--test-images` test images after
  `--epochs` epochs on the first `--train-images` training images (seed 0),
  so a faster choice cannot silently cost quality.

    python benchmarks/backend_speed.py --data-dir ../shared/datasets/mnist
"""

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time

CHOICES = ("transpose", "resize", "depth_to_space")


def run_backend(args):
    """Times and trains every choice on the current backend; prints one JSON line."""
    import keras

    from vae_keras import VAE, datasets, networks

    choices = args.upsampling.split(",")
    x_train, _ = datasets.load("mnist", "train", args.data_dir, limit=args.train_images)
    x_test, _ = datasets.load("mnist", "test", args.data_dir, limit=args.test_images)
    timed = x_train[: args.batch_size * args.steps]

    def build(upsampling):
        keras.utils.set_random_seed(0)
        model = VAE(
            networks.conv_encoder((28, 28, 1), 2),
            networks.conv_decoder(2, (28, 28, 1), upsampling=upsampling),
            seed=0,
        )
        model.compile(optimizer=keras.optimizers.Adam())
        return model

    result = {"backend": keras.backend.backend(), "ms_per_step": {}, "test_loss": {}}
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
    times = {choice: [] for choice in choices}
    for _ in range(args.rounds):
        for choice, model in models.items():
            start = time.perf_counter()
            model.fit(timed, batch_size=args.batch_size, epochs=1, shuffle=False, verbose=0)
            times[choice].append(1000 * (time.perf_counter() - start) / args.steps)
    result["ms_per_step"] = {k: statistics.median(v) for k, v in times.items()}
    result["all_ms"] = times
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
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.steps > args.train_images // args.batch_size:
        parser.error("--steps must fit in --train-images // --batch-size batches")
    if args.worker:
        return run_backend(args)

    load_before = os.getloadavg()
    rows = []
    for backend in args.backends.split(","):
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        cmd = [sys.executable, __file__, "--worker"]
        for name in ("data_dir", "upsampling", "batch_size", "steps", "warmup", "rounds"):
            cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
        for name in ("epochs", "train_images", "test_images"):
            cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
        start = time.perf_counter()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        if proc.returncode or not lines:
            print(f"{backend}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(lines[-1]))
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


def _versions():
    from importlib.metadata import PackageNotFoundError, version

    out = [f"Python {platform.python_version()}"]
    for name in ("keras", "tensorflow", "jax", "torch"):
        with contextlib.suppress(PackageNotFoundError):
            out.append(f"{name} {version(name)}")
    return ", ".join(out)


if __name__ == "__main__":
    main()
