"""HierarchicalVAE speed: train steps (XLA on/off, cell widths) and evaluation throughput.

    python benchmarks/hierarchical_speed.py --jit-compile              # XLA A/B, default widths
    python benchmarks/hierarchical_speed.py --widths 24/48,32/64,48/96 --eval
    python benchmarks/hierarchical_speed.py --steps 0 --eval --eval-rounds 2   # graph vs eager

The model is `HierarchicalVAE((28, 28, 1), widths=...)` with every other argument
at its default (5 latent groups, Bernoulli likelihood), compiled with its recipe
(`compile()`: Adam 2e-3, global norm clipped at 200, XLA off). Inputs are random
binary 28x28x1 images: step and evaluation times do not depend on the values or
the weights. Rows:

- ms/step: `fit` over `--steps` batches of `--batch-size`, median over
  `--rounds` interleaved rounds (every row once per round, same batches) after
  `--warmup` untimed steps; with `--jit-compile` each width also runs compiled with
  `jit_compile=True` (TensorFlow's XLA; the default is off);
- `--eval`: importance samples per second of `evaluation.log_likelihood` (k =
  `--num-samples` on `--images` images), the package's path (the top-down passes as
  a TensorFlow graph, `evaluate_as_graph`) and the same estimator eagerly, in
  `--eval-rounds` interleaved rounds after one warm-up round; `--max-rows` compares
  decoder rows per call on the graph path (`default`: the model's
  `evaluation_rows`, 4,000).
"""

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from _timing import interleaved_ms_per_step


def parse_widths(text):
    """ "24/48,32/64" -> [(24, 48), (32, 64)]."""
    return [tuple(int(w) for w in item.split("/")) for item in text.split(",") if item]


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--widths",
        default="24/48",
        help="cell widths per scale, finest first; comma-separated variants (24/48 is the default)",
    )
    parser.add_argument(
        "--jit-compile", action="store_true", help="also time each width with XLA on"
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per round (0: none)")
    parser.add_argument(
        "--warmup", type=int, default=3, help="untimed steps (tracing), at most --steps"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--eval", action="store_true", help="also time the NLL estimator")
    parser.add_argument("--num-samples", type=int, default=200, help="k of the estimator")
    parser.add_argument("--images", type=int, default=100, help="images the estimator scores")
    parser.add_argument("--eval-rounds", type=int, default=2, help="timed estimator rounds")
    parser.add_argument(
        "--max-rows",
        default="default",
        help="rows per call to compare on the graph path, comma-separated "
        "(`default`: the model's evaluation_rows)",
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)

    import keras
    import numpy as np

    from vae_keras import evaluation
    from vae_keras.models import HierarchicalVAE

    widths = parse_widths(args.widths)
    rng = np.random.default_rng(args.seed)
    n = max(args.batch_size * max(args.steps, 1), args.images)
    x = (rng.random((n, 28, 28, 1)) < 0.3).astype("float32")

    def build(width, jit_compile=False):
        keras.utils.set_random_seed(args.seed)
        model = HierarchicalVAE((28, 28, 1), widths=width, seed=args.seed)
        model.compile(jit_compile=jit_compile)
        return model

    def label(width):
        return "/".join(map(str, width))

    load_before = os.getloadavg()
    step_rows = {}
    if args.steps:
        models = {}
        for width in widths:
            for xla in (False, True) if args.jit_compile else (False,):
                name = f"widths {label(width)}, jit_compile={xla}"
                models[name] = build(width, xla)
                # Warm-up on the timed array itself (`steps_per_epoch` of it): a fit on
                # an array of another size left a retrace in the first timed round.
                models[name].fit(
                    x[: args.batch_size * args.steps],
                    batch_size=args.batch_size,
                    steps_per_epoch=max(1, min(args.warmup, args.steps)),
                    shuffle=False,
                    verbose=0,
                )
                step_rows[name] = models[name].count_params()
        timed = x[: args.batch_size * args.steps]
        medians, every = interleaved_ms_per_step(
            models, timed, args.batch_size, args.rounds, args.steps
        )
        step_rows = {name: (step_rows[name], ms, every[name]) for name, ms in medians.items()}

    eval_rows = {}
    if args.eval:
        images = x[: args.images]
        paths = {}
        for width in widths:
            model = build(width)
            for rows in dict.fromkeys(args.max_rows.split(",")):
                rows = model.evaluation_rows if rows == "default" else int(rows)
                paths[(label(width), True, rows)] = model
            paths[(label(width), False, model.evaluation_rows)] = model
        times = {path: [] for path in paths}
        for _ in range(args.eval_rounds + 1):  # the first round warms up (tracing)
            for (name, graph, rows), model in paths.items():
                model.evaluate_as_graph = graph  # this instance; the class default is True
                start = time.perf_counter()
                evaluation.log_likelihood(
                    model, images, num_samples=args.num_samples, max_rows=rows, verbose=False
                )
                times[(name, graph, rows)].append(time.perf_counter() - start)
        for path, measured in times.items():
            rates = [args.images * args.num_samples / t for t in measured[1:]]
            eval_rows[path] = (statistics.median(rates), rates)

    print(
        f"\nHierarchicalVAE((28, 28, 1)), recipe compile(); backend {keras.backend.backend()}, "
        f"keras {keras.__version__}; machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"load average {load_before[0]:.1f} before / {os.getloadavg()[0]:.1f} after"
    )
    if step_rows:
        print(
            f"\nms/step: median of {args.rounds} interleaved rounds x {args.steps} steps of "
            f"batch {args.batch_size}, after {args.warmup} warm-up steps"
        )
        print("| model | params | ms/step (median) | each round |\n| --- | ---: | ---: | --- |")
        for name, (params, ms, rounds) in step_rows.items():
            each = ", ".join(f"{t:.1f}" for t in rounds)
            print(f"| {name} | {params:,} | {ms:.1f} | {each} |")
    if eval_rows:
        print(
            f"\nlog_likelihood, k = {args.num_samples} on {args.images} images: importance "
            f"samples (rows) per second, median of {args.eval_rounds} rounds after one warm-up"
        )
        print(
            "| widths | estimator | rows per call | rows/s (median) | each round |\n"
            "| --- | --- | ---: | ---: | --- |"
        )
        for (name, graph, rows), (rate, rates) in eval_rows.items():
            path = "graph (evaluate_as_graph, the default)" if graph else "eager"
            each = ", ".join(f"{r:,.0f}" for r in rates)
            print(f"| {name} | {path} | {rows:,} | {rate:,.0f} | {each} |")


if __name__ == "__main__":
    main()
