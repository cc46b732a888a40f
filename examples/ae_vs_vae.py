"""Autoencoder vs VAE: why decoding N(0, I) draws works for one and not the other.

Trains an `AE` and a `VAE` with the same dense networks, with latent sizes 2
and 10, then

- decodes the same N(0, I) draws with each (`sample`): VAE samples stay
  digits, AE samples fall apart (most visibly with 10 latent dimensions, where
  the AE's codes fill a small, oddly shaped part of the space);
- draws histograms of the test codes (`z_mean`) per dimension next to the
  N(0, 1) density the samples come from.

It prints the test reconstruction loss of each model (nats per image), the
spread of its codes, and how digit-like and varied 2000 samples look: the
Frechet distance between the samples and the test images in the features of
a small MLP digit classifier (FID's formula on MNIST; lower is better, two
halves of the test set give the floor), and the entropy of the classifier's
labels (3.32 bits: all ten digits equally often).

    python examples/ae_vs_vae.py --data-dir /work/shared/datasets/mnist --epochs 5 --out out/
"""

import _common
import numpy as np


def main():
    args = _common.parse_args(__doc__.splitlines()[0], epochs=5)
    timer = _common.Timer()
    import keras

    from vae_keras import networks
    from vae_keras.models import AE, VAE

    x_train, y_train, x_test, y_test = _common.load_mnist(args, test_limit=5000)
    classifier = _common.DigitClassifier(x_train, y_train, seed=args.seed)
    floor, _ = _common.sample_quality(classifier, x_test[:2500], x_test[2500:])
    print(f"Frechet distance between two halves of the test set (the floor): {floor:.2f}")
    shape = x_train.shape[1:]
    results, samples, codes = {}, {}, {}
    for latent_dim in (2, 10):
        for name, cls in (("AE", AE), ("VAE", VAE)):
            keras.utils.set_random_seed(args.seed)
            model = cls(
                networks.dense_encoder(shape, latent_dim),
                networks.dense_decoder(latent_dim, shape),
                seed=args.seed,
            )
            model.compile(optimizer=keras.optimizers.Adam(1e-3))
            history = model.fit(x_train, epochs=args.epochs, batch_size=args.batch_size, verbose=0)
            test = model.evaluate(x_test, batch_size=512, verbose=0, return_dict=True)
            key = f"{name} (latent {latent_dim})"
            many = model.sample(2000, seed=args.seed + 1)
            samples[key] = many[:100]
            codes[key] = model.encode(x_test)[0]
            fd, spread = _common.sample_quality(classifier, many, x_test)
            results[key] = {
                "train loss": history.history["loss"][-1],
                "test reconstruction": test["reconstruction_loss"],
                "test KL": test.get("kl_loss", float("nan")),
                "code mean |mu|": float(np.abs(codes[key].mean(0)).mean()),
                "code std": float(codes[key].std(0).mean()),
                "sample FD": fd,
                "class entropy (bits)": spread,
            }
            print(
                f"{key}: "
                + ", ".join(f"{k} {v:.3f}" for k, v in results[key].items())
                + f"  [{timer}]"
            )

    fig, axes = _common.figure(2, 2, size=4)
    for i, latent_dim in enumerate((2, 10)):
        for j, name in enumerate(("AE", "VAE")):
            key = f"{name} (latent {latent_dim})"
            fd = results[key]["sample FD"]
            _common.show_images(
                axes[i, j],
                samples[key],
                ncols=10,
                title=f"{key}: decoded N(0, I) draws\nFrechet distance {fd:.1f}",
            )
    _common.save(fig, f"{args.out}/ae_vs_vae_samples.png")

    fig, axes = _common.figure(2, 2, size=4)
    grid = np.linspace(-4, 4, 200)
    for i, latent_dim in enumerate((2, 10)):
        for j, name in enumerate(("AE", "VAE")):
            key = f"{name} (latent {latent_dim})"
            ax = axes[i, j]
            for d in range(min(latent_dim, 4)):
                ax.hist(
                    codes[key][:, d],
                    bins=60,
                    range=(-6, 6),
                    density=True,
                    histtype="step",
                    label=f"z[{d}]",
                )
            ax.plot(grid, np.exp(-(grid**2) / 2) / np.sqrt(2 * np.pi), "k--", label="N(0, 1)")
            ax.set_title(f"{key}: test codes z_mean", fontsize=10)
            ax.legend(fontsize=7)
    _common.save(fig, f"{args.out}/ae_vs_vae_latent_histograms.png")
    print(f"total wall time {timer}")


if __name__ == "__main__":
    main()
