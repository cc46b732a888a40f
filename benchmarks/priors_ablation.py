"""Does a learned prior help at an equal budget? A standard-normal vs VampPrior ablation.

Trains the command line's recipes (`vae-keras train`: `vae_keras.app.recipes`, built by
`vae_keras.models.kinds`) of a conv VAE, a HierarchicalVAE and a PixelVAE, each with
`--prior standard_normal` and with `--prior vampprior` (over z; a hierarchy's top group), for
the same wall-clock minutes on dynamically binarized MNIST, then scores the first `--images`
test images (binarized with seed 0) by the importance-weighted estimate with `--num-samples`
codes, and prints one table: model, prior, minutes, epochs, NLL (nats) and its difference to the
standard-normal row of the same model (negative: the VampPrior is better).

The recipe's PixelVAE trains with free bits, which need a factorising prior: its VampPrior row
trains without them (the table's note says so). The hierarchy's standard-normal row fixes its
top group's prior at N(0, I) (its default, without `--prior`, learns that Gaussian).

    python benchmarks/priors_ablation.py --data-dir ../shared/datasets/mnist --minutes 30
    python benchmarks/priors_ablation.py --minutes 1 --images 200 --num-samples 100  # a check
"""

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import keras
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _budget.py, however this is loaded
from _budget import TimeBudget  # noqa: E402

MODELS = {"conv VAE": "conv", "HierarchicalVAE": "hierarchical", "PixelVAE": "pixelcnn"}


def build(architecture, prior, args):
    """The command line's model for `--architecture A [--prior vampprior]`, compiled as it is."""
    from vae_keras.app import recipes
    from vae_keras.models import kinds

    settings = {"likelihood": "bernoulli", "shape": (28, 28, 1), "seed": args.seed}
    components = args.components if prior == "vampprior" else None
    kind, _ = recipes.kind_and_network(architecture)
    if prior in kinds.get(kind).priors:
        return recipes.build_model(
            architecture=architecture,
            latent_dim=args.latent_dim,
            learning_rate=args.learning_rate,
            prior=prior,
            prior_components=components,
            **settings,
        ), ""
    # The PixelVAE recipe's free bits need a factorising prior: the same model without them.
    model = kinds.get(kind).build(
        "auto",
        "bernoulli",
        settings["shape"],
        args.latent_dim,
        1.0,
        args.seed,
        prior=recipes.prior_argument(prior, components),
        features=kinds.PIXEL_FEATURES,
        free_bits=0.0,
    )
    model.compile(keras.optimizers.Adam(args.learning_rate))
    return model, "no free bits"


def run(name, architecture, prior, x_train, x_test, args):
    from vae_keras import evaluation
    from vae_keras.binarization import DynamicBinarization

    keras.utils.set_random_seed(args.seed)
    model, note = build(architecture, prior, args)
    data = DynamicBinarization(x_train, args.batch_size, seed=args.seed)
    budget = TimeBudget(60 * args.minutes)
    start = time.time()
    model.fit(data, epochs=10**6, verbose=0, callbacks=[budget])
    minutes = (time.time() - start) / 60
    start = time.time()
    log_px = evaluation.log_likelihood(
        model, x_test, num_samples=args.num_samples, seed=0, verbose=False
    )
    return {
        "model": name,
        "prior": prior,
        "note": note,
        "minutes": round(minutes, 2),
        "epochs": round(budget.steps / len(data), 2),
        "nll": float(-log_px.mean()),
        "nll_sem": float(log_px.std() / math.sqrt(len(log_px))),
        "eval_minutes": round((time.time() - start) / 60, 2),
        "log_px": [float(v) for v in log_px],  # per image: the paired difference's error
    }


def paired_difference(row, base):
    """`(mean, standard error)` of the per-image NLL difference `row - base`: both score the
    same images, so the error of the difference is the paired one, not the rows' combined."""
    diff = np.asarray(base["log_px"]) - np.asarray(row["log_px"])
    return float(diff.mean()), float(diff.std() / math.sqrt(len(diff)))


def table(rows):
    lines = [
        "| model | prior | minutes | epochs | NLL (nats) | vs standard normal |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    base = {r["model"]: r for r in rows if r["prior"] == "standard_normal"}
    for r in rows:
        prior = r["prior"] + (f" ({r['note']})" if r["note"] else "")
        if r["prior"] == "standard_normal":
            shown = "—"
        elif r["model"] in base:
            shown = "{:+.2f} ± {:.2f}".format(*paired_difference(r, base[r["model"]]))
        else:
            shown = "n/a"
        lines.append(
            f"| {r['model']} | {prior} | {r['minutes']:.1f} | {r['epochs']:.2f} | "
            f"{r['nll']:.2f} ± {r['nll_sem']:.2f} | {shown} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data-dir", default=os.environ.get("VAE_KERAS_DATA_DIR", "../shared/datasets/mnist")
    )
    parser.add_argument("--minutes", type=float, default=30.0, help="training time per model")
    parser.add_argument("--images", type=int, default=2000, help="test images scored")
    parser.add_argument("--num-samples", type=int, default=1000, help="importance samples k")
    parser.add_argument("--components", type=int, default=500, help="VampPrior pseudo-inputs")
    parser.add_argument("--latent-dim", type=int, default=16, help="the command line's default")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default=None, help="run only models starting with this")
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args()

    from vae_keras import datasets
    from vae_keras.binarization import binarize
    from vae_keras.runs import write_json

    x_train, _ = datasets.load("mnist", "train", args.data_dir)
    x_test, _ = datasets.load("mnist", "test", args.data_dir, limit=args.images)
    x_test = binarize(x_test, seed=0)
    rows = []
    for name, architecture in MODELS.items():
        if args.only and not name.startswith(args.only):
            continue
        for prior in ("standard_normal", "vampprior"):
            rows.append(run(name, architecture, prior, x_train, x_test, args))
            shown = {k: v for k, v in rows[-1].items() if k != "log_px"}
            print(json.dumps(shown), flush=True)
            if args.json:
                write_json(args.json, {"rows": rows, "args": vars(args)})
    machine = f"{platform.machine()} {os.cpu_count()} cores, {keras.backend.backend()}"
    print(
        f"\nPriors at an equal budget: {args.minutes:g} min of training per model on "
        f"{len(x_train)} dynamically binarized MNIST images (batch {args.batch_size}, "
        f"Adam {args.learning_rate:g}); NLL: k = {args.num_samples} importance samples on the "
        f"first {len(x_test)} test images binarized with seed 0 (± standard error; of the "
        f"difference: paired over the same images); VampPrior: "
        f"{args.components} pseudo-inputs; machine: {machine}\n"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
