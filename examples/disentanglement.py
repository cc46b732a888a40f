"""Disentanglement, measured: β-VAE (β = 1, 4, 16), β-TCVAE and FactorVAE on `shapes`.

Trains each objective with the same small conv networks on the procedural
colour shapes (factors: shape, color, scale, rotation, x, y), for several
seeds, then measures every model against the ground-truth factors of the
test images: MIG, DCI disentanglement / completeness / informativeness,
the FactorVAE score and SAP (`vae_keras.disentanglement`), and the test
reconstruction term (nats per image). Prints a table of mean ± standard
deviation over seeds, writes one traversal figure per objective (seed 0)
whose rows are labelled with the factor each latent dimension best explains
(normalised mutual information in brackets) with its model (`model_*.keras`), and keeps every run's numbers
in `results.json` (written atomically after each run: rerunning the same
command resumes where it stopped).

    python examples/disentanglement.py --out out/disentanglement      # the sweep
    python examples/disentanglement.py --quick --out /tmp/dis         # a smoke run, seconds
"""

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

CONFIGS = {  # name: (model class name, keyword arguments)
    "beta-VAE b=1": ("VAE", {"beta": 1.0}),
    "beta-VAE b=4": ("VAE", {"beta": 4.0}),
    "beta-VAE b=16": ("VAE", {"beta": 16.0}),
    "beta-TCVAE b=6": ("BetaTCVAE", {"beta": 6.0}),
    "FactorVAE g=10": ("FactorVAE", {"gamma": 10.0}),
}
METRICS = ("mig", "dci_d", "dci_c", "dci_i", "factor_vae", "sap", "reconstruction")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="example_output/disentanglement")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--num-train", type=int, default=10000)
    parser.add_argument("--num-test", type=int, default=2000)
    parser.add_argument("--latent-dim", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--quick", action="store_true", help="tiny smoke run (seconds)")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.seeds, args.image_size = 1, 1, 16
        args.num_train, args.num_test, args.latent_dim, args.batch_size = 256, 200, 4, 64
    return args


def build(name, args, seed):
    import keras

    from vae_keras import models, networks

    keras.utils.set_random_seed(seed)
    shape = (args.image_size, args.image_size, 3)
    filters = (8, 16) if args.quick else (16, 32)
    dense = 32 if args.quick else 128
    encoder = networks.conv_encoder(shape, args.latent_dim, filters=filters, dense_units=dense)
    decoder = networks.conv_decoder(args.latent_dim, shape, filters=filters, dense_units=dense)
    cls_name, kwargs = CONFIGS[name]
    extra = {"dataset_size": args.num_train} if cls_name == "BetaTCVAE" else {}
    model = getattr(models, cls_name)(encoder, decoder, seed=seed, **kwargs, **extra)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def measure(model, x_test, f_test, args, seed):
    from vae_keras import disentanglement as dis

    codes = model.encode(x_test)[0]
    half = len(codes) // 2
    small = args.quick
    dci = dis.dci(codes[:half], f_test[:half], codes[half:], f_test[half:], seed=seed)
    factor = dis.factor_vae_score(
        model,
        dis.ShapesSampler(args.image_size),
        batch_size=16 if small else 32,
        num_train=20 if small else 200,
        num_eval=20 if small else 100,
        num_variance_estimate=200 if small else 2000,
        seed=seed,
    )
    logs = model.evaluate(x_test, batch_size=256, verbose=0, return_dict=True)
    return {
        "mig": dis.mutual_information_gap(codes, f_test),
        "dci_d": dci["disentanglement"],
        "dci_c": dci["completeness"],
        "dci_i": dci["informativeness"],
        "factor_vae": factor["score"],
        "sap": dis.sap_score(codes[:half], f_test[:half], codes[half:], f_test[half:]),
        "reconstruction": float(logs["reconstruction_loss"]),
        "kl": float(logs["kl_loss"]),
        "best_factors": dis.best_factors(codes, f_test),
        "active_dims": int((codes.std(0) > 0.05).sum()),
    }


def traversal(model, x_test, labels, kl_order, path, name):
    from vae_keras import plotting

    dims = [int(d) for d in kl_order]
    names = [f"z[{d}] {labels[d][0]} ({labels[d][1]:.2f})" for d in dims]
    fig = plotting.latent_traversals(
        model,
        x_test[:1],
        dims=dims,
        values=np.linspace(-2.5, 2.5, 9),
        scale=3,
        labels=names,
    )
    from vae_keras.plotting._common import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    print(f"wrote {path} ({name})")


def table(results, configs):
    lines = [
        "| objective | seeds | MIG | DCI-D | DCI-C | DCI-I | FactorVAE score | SAP | "
        "reconstruction (nats) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in configs:
        runs = [r for key, r in results.items() if key.rsplit("/", 1)[0] == name]
        if not runs:
            continue
        cells = []
        for metric in METRICS:
            values = np.array([r[metric] for r in runs])
            digits = 1 if metric == "reconstruction" else 3
            cells.append(f"{values.mean():.{digits}f} ± {values.std():.{digits}f}")
        lines.append(f"| {name} | {len(runs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    from vae_keras.datasets import load_shapes, shapes_factors
    from vae_keras.runs import read_json, save_model, write_json

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results = read_json(results_path) if results_path.exists() else {}
    x_train, _ = load_shapes("train", args.image_size, num_examples=args.num_train)
    x_test, _ = load_shapes("test", args.image_size, num_examples=args.num_test)
    f_test = shapes_factors("test", args.num_test)
    for name in args.configs:
        for seed in range(args.seeds):
            key = f"{name}/{seed}"
            if key in results:
                continue
            start = time.perf_counter()
            model = build(name, args, seed)
            model.fit(x_train, epochs=args.epochs, batch_size=args.batch_size, verbose=0)
            train_s = time.perf_counter() - start
            scores = measure(model, x_test, f_test, args, seed)
            scores.update(train_seconds=train_s, seconds=time.perf_counter() - start)
            results[key] = scores
            write_json(results_path, results)
            print(f"{key}: " + ", ".join(f"{m}={scores[m]:.3f}" for m in METRICS), flush=True)
            if seed == 0:
                codes, log_var = model.encode(x_test)
                kl = 0.5 * (codes**2 + np.exp(log_var) - log_var - 1).mean(0)
                kl_order = np.argsort(-kl)
                slug = name.replace(" ", "_").replace("=", "")
                save_model(model, out / f"model_{slug}.keras")
                traversal(
                    model,
                    x_test,
                    scores["best_factors"],
                    kl_order,
                    out / f"traversal_{slug}.png",
                    f"{name} (seed 0; rows by KL, largest first)",
                )
    print(table(results, args.configs))
    print(json.dumps({"results": os.fspath(results_path)}))


if __name__ == "__main__":
    main()
