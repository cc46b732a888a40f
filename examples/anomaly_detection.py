"""Anomaly detection with a VAE: train on digits 0-8, flag the 9s.

Trains a `VAE` (and, for comparison, an `AE` with the same networks) on the
MNIST training digits 0-8 only, then scores every test image:

- VAE negative ELBO (`-vae_keras.evaluation.elbo`, nats; 10 samples of z),
- VAE reconstruction error (squared error of `reconstruct`, z = z_mean),
- AE reconstruction error (the same, for the deterministic baseline),

and reports the ROC AUC of each score for telling the 9s (unseen class)
from the test digits 0-8 (sklearn.metrics.roc_auc_score; 0.5 is chance).
Writes a histogram of the scores and the highest-scoring test images.

9s look like 4s and 7s, so this is a hard case; the numbers say how much of
"unseen class" the likelihood picks up.

    python examples/anomaly_detection.py --data-dir /work/shared/datasets/mnist --epochs 5 --out out/
"""

import _common
import numpy as np

ANOMALY = 9


def main():
    args = _common.parse_args(
        __doc__.splitlines()[0], epochs=5, limit=0, latent_dim=(int, 10, "latent size")
    )
    timer = _common.Timer()
    import keras
    from sklearn.metrics import roc_auc_score

    from vae_keras import evaluation, networks
    from vae_keras.models import AE, VAE

    x_train, y_train, x_test, y_test = _common.load_mnist(args)
    normal = y_train != ANOMALY
    x_train = x_train[normal]
    is_anomaly = (y_test == ANOMALY).astype(int)
    print(
        f"training on {len(x_train)} images of digits 0-8; test: {len(x_test)} images, "
        f"{is_anomaly.sum()} of them 9s"
    )
    shape = x_train.shape[1:]

    models = {}
    for name, cls in (("VAE", VAE), ("AE", AE)):
        keras.utils.set_random_seed(args.seed)
        model = cls(
            networks.dense_encoder(shape, args.latent_dim),
            networks.dense_decoder(args.latent_dim, shape),
            seed=args.seed,
        )
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        history = model.fit(x_train, epochs=args.epochs, batch_size=args.batch_size, verbose=0)
        print(f"{name}: final train loss {history.history['loss'][-1]:.2f} nats [{timer}]")
        models[name] = model

    def squared_error(model):
        return ((model.reconstruct(x_test) - x_test) ** 2).reshape(len(x_test), -1).sum(1)

    scores = {
        "VAE negative ELBO": -evaluation.elbo(
            models["VAE"], x_test, num_samples=10, seed=args.seed
        ),
        "VAE reconstruction error": squared_error(models["VAE"]),
        "AE reconstruction error": squared_error(models["AE"]),
    }
    for name, score in scores.items():
        auc = roc_auc_score(is_anomaly, score)
        print(
            f"ROC AUC, digit {ANOMALY} vs 0-8, {name}: {auc:.4f} "
            f"(mean score: 9s {score[is_anomaly == 1].mean():.2f}, "
            f"0-8 {score[is_anomaly == 0].mean():.2f})"
        )
    per_digit = {d: scores["VAE negative ELBO"][y_test == d].mean() for d in range(10)}
    print(
        "mean VAE negative ELBO per test digit: "
        + " ".join(f"{d}:{v:.1f}" for d, v in per_digit.items())
    )

    fig, axes = _common.figure(1, len(scores) + 1, size=3.6)
    for ax, (name, score) in zip(axes[0], scores.items(), strict=False):
        bins = np.linspace(*np.percentile(score, [0.5, 99.5]), 60)
        ax.hist(score[is_anomaly == 0], bins=bins, density=True, alpha=0.6, label="0-8")
        ax.hist(score[is_anomaly == 1], bins=bins, density=True, alpha=0.6, label="9")
        ax.set_title(f"{name}\nAUC {roc_auc_score(is_anomaly, score):.3f}", fontsize=9)
        ax.legend(fontsize=8)
    top = np.argsort(-scores["VAE negative ELBO"])[:36]
    _common.show_images(
        axes[0, -1],
        x_test[top],
        ncols=6,
        title=f"highest -ELBO test images\n({is_anomaly[top].sum()} of 36 are 9s)",
    )
    _common.save(fig, f"{args.out}/anomaly_detection.png")
    print(f"total wall time {timer}")


if __name__ == "__main__":
    main()
