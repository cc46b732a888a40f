"""A conditional VAE on MNIST: ask for a digit, vary the style.

Trains a `ConditionalVAE` whose encoder and decoder both read the one-hot
label (`conditional_encoder` / `conditional_decoder`; dense by default,
`--network conv` for the convolutional pair, slower on a CPU). Writes a grid
with one row per class: column j decodes the same N(0, I) draw z_j under
every label, so a column shares its style (slant, stroke width) and a row its
digit. Prints the test loss terms and how often a small MLP classifier
trained on real digits reads each row as the requested digit.

    python examples/conditional_mnist.py --data-dir /work/shared/datasets/mnist --epochs 5 --out out/
"""

import _common
import numpy as np


def main():
    args = _common.parse_args(
        __doc__.splitlines()[0],
        epochs=5,
        latent_dim=(int, 2, "latent size"),
        network=(str, "dense", "dense or conv"),
    )
    timer = _common.Timer()
    import keras

    from vae_keras.models import ConditionalVAE, conditional_decoder, conditional_encoder

    x_train, y_train, x_test, y_test = _common.load_mnist(args, test_limit=5000)
    shape, latent_dim = x_train.shape[1:], args.latent_dim
    keras.utils.set_random_seed(args.seed)
    cvae = ConditionalVAE(
        conditional_encoder(shape, latent_dim, 10, network=args.network),
        conditional_decoder(latent_dim, shape, 10, network=args.network),
        num_classes=10,
        seed=args.seed,
    )
    cvae.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = cvae.fit(
        (x_train, y_train),
        epochs=args.epochs,
        batch_size=args.batch_size,
        verbose=0,
        validation_data=((x_test, y_test),),
    ).history
    for key in ("loss", "reconstruction_loss", "kl_loss"):
        print(f"{key}: train {history[key][-1]:.3f}, test {history['val_' + key][-1]:.3f}")
    print(f"trained [{timer}]")

    columns = 10
    z = keras.random.normal((columns, latent_dim), seed=args.seed + 1)
    z = np.tile(keras.ops.convert_to_numpy(z), (10, 1))  # row c: the same z's under label c
    labels = np.repeat(np.arange(10), columns)
    grid = cvae.decode(z, labels)

    classifier = _common.DigitClassifier(x_train, y_train, seed=args.seed)
    many = np.repeat(np.arange(10), 100)
    predicted = classifier.probabilities(
        cvae.sample(len(many), seed=args.seed + 2, labels=many)
    ).argmax(1)
    per_class = [(predicted[many == c] == c).mean() for c in range(10)]
    print(
        "classifier agrees with the requested digit: "
        f"{np.mean(predicted == many):.1%} overall; per class "
        + " ".join(f"{c}:{a:.0%}" for c, a in enumerate(per_class))
    )

    fig, axes = _common.figure(1, 1, size=6)
    _common.show_images(
        axes[0, 0], grid, ncols=columns, title="row = requested digit, column = shared z ~ N(0, I)"
    )
    _common.save(fig, f"{args.out}/conditional_mnist.png")
    print(f"total wall time {timer}")


if __name__ == "__main__":
    main()
