"""Test log-likelihood on dynamically binarized MNIST, beside published numbers.

Trains the package's MNIST configurations with dynamic binarization, scores a
fixed-seed binarized test set with the importance-weighted estimator
(`evaluation.log_likelihood`), and prints a table: model, epochs, wall time,
machine, test NLL (nats), ELBO, active units — next to the anchors.

    python benchmarks/quality_mnist.py --data-dir ../shared/datasets/mnist \\
        --epochs 10 --nll-samples 1000 --test-limit 10000

Report figures only with k >= 1000 over the full test set; smaller budgets
print the same table, labelled with what was actually run.
"""

import argparse
import json
import math
import os
import platform
import re
import time

ANCHORS = [
    ("VAE, 1 stochastic layer (Burda et al. 2015, k=5000)", 86.76),
    ("IWAE k=50, 1 stochastic layer (Burda et al. 2015)", 84.78),
    ("IWAE k=50, 2 stochastic layers (Burda et al. 2015)", 82.90),
    ("pythae VAE reproduction", 89.78),
    ("DRAW (Gregor et al. 2015)", 80.97),
    ("NVAE (Vahdat & Kautz 2020)", 78.01),
    ("our PixelVAE + IWAE fine-tuning (BENCHMARKS.md)", 80.87),
]


def configurations():
    """The package's recommended MNIST models (name -> builder of a compiled-ready model)."""
    from vae_keras import VAE, networks
    from vae_keras.models import HierarchicalVAE, PixelVAE

    shape = (28, 28, 1)
    return {
        # The default HierarchicalVAE: 2 latent groups at 14x14 and 3 at 7x7.
        "HierarchicalVAE (default recipe)": lambda: HierarchicalVAE(shape, seed=0),
        "dense VAE (512-256, z=32)": lambda: VAE(
            networks.dense_encoder(shape, 32, hidden_units=(512, 256)),
            networks.dense_decoder(32, shape, hidden_units=(256, 512)),
            seed=0,
        ),
        "conv VAE (32-64 conv, 512 dense, z=32)": lambda: VAE(
            networks.conv_encoder(shape, 32, filters=(32, 64), dense_units=512),
            networks.conv_decoder(32, shape, filters=(64, 32), dense_units=512),
            seed=0,
        ),
        # The conv encoder, a dense decoder of 4 features per pixel, and a
        # PixelCNN (7x7 type-A + two residual 3x3 type-B masked convs, 32
        # filters) that sees 5 rows above each pixel. Free bits (0.25 nats per
        # dimension) keep the latent in use: without them (KL warm-up alone)
        # the KL fell to 1.4 nats and the PixelCNN did all the work.
        "PixelVAE (32-64 conv encoder, PixelCNN decoder, z=32)": lambda: PixelVAE(
            networks.conv_encoder(shape, 32, filters=(32, 64), dense_units=512),
            networks.dense_decoder(32, (28, 28, 4), hidden_units=(256, 512)),
            networks.PixelCNN(
                shape,
                feature_channels=4,
                filters=32,
                num_layers=2,
                first_kernel_size=7,
                head_units=32,
            ),
            free_bits=0.25,
            seed=0,
        ),
    }


def slug(name):
    """A file name for a configuration's name."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def train(build, x_train, args, checkpoint=None):
    """Trains one configuration on dynamically binarized images; returns (model, budget).

    With `checkpoint` (a path), the model is saved there after every epoch,
    so a long run that dies keeps its last epoch."""
    import keras

    from vae_keras.binarization import DynamicBinarization
    from vae_keras.runs import save_model

    class SaveEveryEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            save_model(self.model, checkpoint)

    keras.utils.set_random_seed(0)
    model = build()
    data = DynamicBinarization(x_train, args.batch_size, seed=0)
    learning_rate = args.learning_rate
    if args.schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(
            args.learning_rate, decay_steps=args.epochs * len(data), alpha=0.1
        )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, global_clipnorm=args.global_clipnorm)
    )
    start = time.time()
    model.fit(
        data, epochs=args.epochs, verbose=2, callbacks=[SaveEveryEpoch()] if checkpoint else []
    )
    budget = {
        "epochs": args.epochs,
        "schedule": args.schedule,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        **({"global_clipnorm": args.global_clipnorm} if args.global_clipnorm else {}),
        "train_s": round(time.time() - start),
    }
    return model, budget


def _ints(text):
    return [int(v) for v in text.split(",")]


def finetune_iwae(model, x_train, args):
    """Fine-tunes a trained PixelVAE's networks on the IWAE bound, one stage per
    `--finetune-iwae` value (a fresh Adam each); returns (model, budget)."""
    import keras

    from vae_keras.binarization import DynamicBinarization
    from vae_keras.models.iwae import importance_weighted

    epochs = (
        args.finetune_epochs * len(args.finetune_iwae)
        if len(args.finetune_epochs) == 1
        else args.finetune_epochs
    )
    if len(epochs) != len(args.finetune_iwae):
        raise SystemExit("--finetune-epochs needs one value, or one per --finetune-iwae stage")
    start, tuned = time.time(), model
    for stage, (k, stage_epochs) in enumerate(
        zip(args.finetune_iwae, epochs, strict=True), start=1
    ):
        keras.utils.set_random_seed(stage)
        tuned = importance_weighted(model, k, seed=stage)  # PixelIWAE on model's networks
        tuned.compile(optimizer=keras.optimizers.Adam(args.finetune_learning_rate))
        tuned.fit(
            DynamicBinarization(x_train, args.batch_size, seed=stage),
            epochs=stage_epochs,
            verbose=2,
        )
    return tuned, {
        "k": args.finetune_iwae,
        "epochs": epochs,
        "learning_rate": args.finetune_learning_rate,
        "train_s": round(time.time() - start),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data-dir", default=os.environ.get("VAE_KERAS_DATA_DIR", "../shared/datasets/mnist")
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument(
        "--schedule",
        choices=("constant", "cosine"),
        default="cosine",
        help="learning rate: constant, or cosine decay to 1/10 over the run",
    )
    parser.add_argument(
        "--global-clipnorm",
        type=float,
        default=None,
        help="clip the gradient's global norm (200 helped the HierarchicalVAE: "
        "benchmarks/hierarchical_ablation.py)",
    )
    parser.add_argument("--nll-samples", type=int, default=1000)
    parser.add_argument("--test-limit", type=int, default=10000)
    parser.add_argument("--train-limit", type=int, default=None)
    parser.add_argument(
        "--only", default=None, help="run only the configurations whose name starts with this"
    )
    parser.add_argument("--json", default=None, help="also write the rows here")
    parser.add_argument(
        "--save-dir", default=None, help="save each trained model here (re-evaluate later)"
    )
    parser.add_argument(
        "--finetune-iwae",
        type=_ints,
        default=[],
        metavar="K[,K...]",
        help="after the PixelVAE, fine-tune it on the IWAE bound (PixelIWAE) with K "
        "samples, one stage per K, and score the result too",
    )
    parser.add_argument(
        "--finetune-epochs",
        type=_ints,
        default=[3],
        metavar="E[,E...]",
        help="epochs of each fine-tuning stage",
    )
    parser.add_argument(
        "--finetune-only",
        action="store_true",
        help="with --evaluate-saved: score only the fine-tuned model",
    )
    parser.add_argument("--finetune-learning-rate", type=float, default=1e-4)
    parser.add_argument(
        "--evaluate-saved",
        action="store_true",
        help="evaluate the models saved in --save-dir instead of training them",
    )
    args = parser.parse_args()

    import keras

    from vae_keras import datasets, evaluation
    from vae_keras.binarization import binarize
    from vae_keras.runs import load_model, read_json, save_model, write_json

    x_train, _ = datasets.load("mnist", "train", args.data_dir, limit=args.train_limit)
    x_test, _ = datasets.load("mnist", "test", args.data_dir, limit=args.test_limit)
    x_test = binarize(x_test, seed=0)
    machine = f"{platform.machine()} {os.cpu_count()} cores, {keras.backend.backend()}"
    rows = []
    for name, build in configurations().items():
        if args.only and not name.startswith(args.only):
            continue
        saved = os.path.join(args.save_dir or ".", slug(name))
        if args.evaluate_saved:
            model, trained = load_model(saved + ".keras"), read_json(saved + ".json")
        else:
            model, trained = train(
                build, x_train, args, saved + ".last-epoch.keras" if args.save_dir else None
            )
            if args.save_dir:
                save_model(model, saved + ".keras")
                write_json(saved + ".json", trained)
                os.remove(saved + ".last-epoch.keras")

        def score(row_name, row_model, budget):
            start = time.time()
            log_px = evaluation.log_likelihood(
                row_model, x_test, num_samples=args.nll_samples, verbose=False
            )
            elbo = evaluation.elbo(row_model, x_test, num_samples=1)
            active, _ = evaluation.active_units(row_model, x_test)
            rows.append(
                {
                    "model": row_name,
                    **budget,
                    "eval_s": round(time.time() - start),
                    "nll": float(-log_px.mean()),
                    "nll_se": float(log_px.std(ddof=1) / math.sqrt(len(log_px))),
                    "elbo": float(elbo.mean()),
                    "active_units": active,
                    "k": args.nll_samples,
                    "n_test": len(x_test),
                    "machine": machine,
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            if args.json:  # after every model, so a long run keeps what it finished
                write_json(args.json, {"rows": rows})

        if not (args.finetune_only and args.evaluate_saved):
            score(name, model, trained)
        if args.finetune_iwae and hasattr(model, "pixelcnn"):
            # The tuned model shares (and changes) the networks: score the base first.
            tuned_name = f"{name}, then IWAE fine-tuning k={'/'.join(map(str, args.finetune_iwae))}"
            tuned, tuning = finetune_iwae(model, x_train, args)
            if args.save_dir:
                save_model(tuned, os.path.join(args.save_dir, slug(tuned_name) + ".keras"))
            score(tuned_name, tuned, {**trained, "finetune": tuning})

    print(
        f"\nDynamically binarized MNIST; test set: {len(x_test)} images binarized with seed 0; "
        f"NLL = -mean IWAE log p(x), k={args.nll_samples}; machine: {machine}"
    )
    print("| model | epochs | train time | test NLL (nats) | test ELBO | active units |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['model']} | {r['epochs']} | {r['train_s'] / 60:.1f} min | {r['nll']:.2f} ± {r['nll_se']:.2f} "
            f"| {r['elbo']:.2f} | {r['active_units']} |"
        )
    for name, nll in ANCHORS:
        print(f"| {name} | — | — | {nll:.2f} | — | — |")


if __name__ == "__main__":
    main()
