"""Which loss term does what: reconstruction only, KL only, both, and the slides' weighting.

Trains four VAEs with a 2-D latent space and the same dense networks; only
`reconstruction_weight` and `beta` differ:

- reconstruction only (1, 0): an autoencoder with noise; codes spread out
  and clump by digit, with gaps: samples from N(0, I) are often not digits;
- KL only (0, 1): every code is N(0, I) whatever the input (the encoder
  ignores x), and nothing trains the decoder at all: reconstructions and
  samples stay the untrained decoder's flat gray;
- both (1, 1): the ELBO; codes cover N(0, I) and cluster by digit;
- the slides' weighting (10, 0.001): a reconstruction-dominated objective,
  close to the first case.

Writes the test codes coloured by digit and the samples, side by side, and
prints each model's final training losses, its test terms with the ELBO's
weights (nats per image), and for 2000 samples the Frechet distance to the
test images in a digit classifier's features (lower is better) and the
entropy of the classifier's labels (variety; 3.32 bits is uniform).

    python examples/loss_ablation.py --data-dir /work/shared/datasets/mnist --epochs 5 --out out/
"""

import _common
import numpy as np

SETTINGS = {  # name: (reconstruction_weight, beta)
    "reconstruction only": (1.0, 0.0),
    "KL only": (0.0, 1.0),
    "reconstruction + KL": (1.0, 1.0),
    "slides: 10 rec + 0.001 KL": (10.0, 0.001),
}


def main():
    args = _common.parse_args(__doc__.splitlines()[0], epochs=5)
    timer = _common.Timer()
    import keras

    from vae_keras import VAE, networks

    x_train, y_train, x_test, y_test = _common.load_mnist(args, test_limit=5000)
    classifier = _common.DigitClassifier(x_train, y_train, seed=args.seed)
    shape = x_train.shape[1:]
    codes, samples, rows = {}, {}, {}
    for name, (reconstruction_weight, beta) in SETTINGS.items():
        keras.utils.set_random_seed(args.seed)
        vae = VAE(
            networks.dense_encoder(shape, 2),
            networks.dense_decoder(2, shape),
            beta=beta,
            reconstruction_weight=reconstruction_weight,
            seed=args.seed,
        )
        vae.compile(optimizer=keras.optimizers.Adam(1e-3))
        history = vae.fit(
            x_train, epochs=args.epochs, batch_size=args.batch_size, verbose=0
        ).history
        # The test terms with the ELBO's weights, so all four read on one scale.
        vae.beta, vae.reconstruction_weight = 1.0, 1.0
        test = vae.evaluate(x_test, batch_size=512, verbose=0, return_dict=True)
        codes[name] = vae.encode(x_test)[0]
        many = vae.sample(2000, seed=args.seed + 1)
        samples[name] = many[:100]
        fd, entropy = _common.sample_quality(classifier, many, x_test)
        rows[name] = (
            history["loss"][-1],
            history["reconstruction_loss"][-1],
            history["kl_loss"][-1],
            test["reconstruction_loss"],
            test["kl_loss"],
            test["loss"],
            fd,
            entropy,
        )
        print(f"{name} [{timer}]")

    header = (
        "model",
        "train loss",
        "train rec",
        "train KL",
        "test rec",
        "test KL",
        "test -ELBO",
        "sample FD",
        "label entropy",
    )
    print(" | ".join(header))
    for name, row in rows.items():
        print(" | ".join([name] + [f"{v:.3f}" for v in row]))

    fig, axes = _common.figure(2, len(SETTINGS), size=3.6)
    for j, name in enumerate(SETTINGS):
        ax = axes[0, j]
        z = codes[name]
        points = ax.scatter(
            z[:, 0], z[:, 1], c=y_test[: len(z)], cmap="tab10", s=2, vmin=-0.5, vmax=9.5
        )
        ax.set_title(f"{name}\ntest z_mean by digit", fontsize=9)
        ax.set_aspect("equal", adjustable="datalim")
        _common.show_images(
            axes[1, j], samples[name], ncols=10, title=f"N(0, I) samples (FD {rows[name][-2]:.1f})"
        )
    fig.colorbar(points, ax=axes[0, -1], ticks=np.arange(10), label="digit")
    _common.save(fig, f"{args.out}/loss_ablation.png")
    print(f"total wall time {timer}")


if __name__ == "__main__":
    main()
