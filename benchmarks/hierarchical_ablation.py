"""Which of HierarchicalVAE's stabilisers matter on our data: an ablation table.

Trains the default `HierarchicalVAE` recipe and variants that change one
stabiliser each, on the same dynamically binarized MNIST subset with the same
seed and budget, then prints a table: test negative ELBO (k=1, nats), the
KL, active units per group and whether the run stayed finite (a NaN stops
training: `NaNGuard`). Short budgets show early stability and speed of learning,
not the final likelihood (that is `quality_mnist.py`).

    python benchmarks/hierarchical_ablation.py --data-dir ../shared/datasets/mnist \\
        --train-limit 10000 --epochs 3
"""

import argparse
import json
import math
import os
import platform
import time

VARIANTS = {
    "default (warm-up, balancing, zero-init, soft log-var bound)": {},
    "no KL warm-up": {"kl_warmup_steps": 0},
    "no KL balancing": {"kl_balancing": False},
    "+ free bits (0.5 nats per group)": {"free_bits": 0.5},
    "no zero-init": {"zero_init": False},
    "no log-variance bound": {"log_var_bound": None},
    "+ gradient clipping (global norm 200)": {"clipnorm": 200.0},
}


def run(name, changes, x_train, x_test, args):
    import keras
    import numpy as np

    from vae_keras import evaluation
    from vae_keras.binarization import DynamicBinarization
    from vae_keras.callbacks import NonFiniteLossError
    from vae_keras.models import HierarchicalVAE

    changes = dict(changes)
    clipnorm = changes.pop("clipnorm", None)
    # Warm-up over the first third of the run, as the default's 2,000 of ~14,000 steps.
    steps = args.epochs * math.ceil(len(x_train) / args.batch_size)
    model_args = {"kl_warmup_steps": steps // 3, **changes}
    keras.utils.set_random_seed(0)
    model = HierarchicalVAE((28, 28, 1), seed=0, **model_args)
    model.compile(keras.optimizers.Adam(args.learning_rate, global_clipnorm=clipnorm))
    start = time.time()
    try:
        model.fit(
            DynamicBinarization(x_train, args.batch_size, seed=0), epochs=args.epochs, verbose=0
        )
        finite = True
    except NonFiniteLossError:
        finite = False
    train_s = time.time() - start
    elbo = evaluation.elbo(model, x_test, num_samples=1) if finite else np.array([np.nan])
    counts, _ = evaluation.active_units_per_group(model, x_test) if finite else ([], None)
    kl = model.evaluate(x_test, verbose=0, return_dict=True)["kl_loss"] if finite else math.nan
    return {
        "variant": name,
        "changes": {**model_args, **({"global_clipnorm": clipnorm} if clipnorm else {})},
        "neg_elbo": float(-elbo.mean()),
        "kl": float(kl),
        "active_units": counts,
        "finite": bool(finite),
        "train_s": round(train_s),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data-dir", default=os.environ.get("VAE_KERAS_DATA_DIR", "../shared/datasets/mnist")
    )
    parser.add_argument("--train-limit", type=int, default=10000)
    parser.add_argument("--test-limit", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--only", default=None, help="run only variants starting with this")
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args()

    import keras

    from vae_keras import datasets
    from vae_keras.binarization import binarize
    from vae_keras.runs import write_json

    x_train, _ = datasets.load("mnist", "train", args.data_dir, limit=args.train_limit)
    x_test, _ = datasets.load("mnist", "test", args.data_dir, limit=args.test_limit)
    x_test = binarize(x_test, seed=0)
    rows = []
    for name, changes in VARIANTS.items():
        if args.only and not name.startswith(args.only):
            continue
        rows.append(run(name, changes, x_train, x_test, args))
        print(json.dumps(rows[-1]), flush=True)
        if args.json:
            write_json(args.json, {"rows": rows})
    machine = f"{platform.machine()} {os.cpu_count()} cores, {keras.backend.backend()}"
    print(
        f"\nHierarchicalVAE ablation: {len(x_train)} dynamically binarized MNIST images, "
        f"{args.epochs} epochs, batch {args.batch_size}, Adam {args.learning_rate}; test: "
        f"{len(x_test)} images binarized with seed 0; machine: {machine}"
    )
    print("| variant | test -ELBO (nats) | KL | active units per group | finite | train time |")
    print("| --- | ---: | ---: | --- | --- | ---: |")
    for r in rows:
        print(
            f"| {r['variant']} | {r['neg_elbo']:.2f} | {r['kl']:.2f} | "
            f"{'/'.join(map(str, r['active_units']))} | {'yes' if r['finite'] else 'NO'} | "
            f"{r['train_s']} s |"
        )


if __name__ == "__main__":
    main()
