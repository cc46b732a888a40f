"""Train the slides' VAE on MNIST and draw every picture of the course.

The model is the one the slides build (conv encoder -> z_mean, z_log_var ->
Sampling -> conv decoder), here with latent size 2 so the latent space can be
drawn directly. Writes into --out: sample and reconstruction grids per epoch
(callbacks), the 2-D manifold, latent scatter, histograms, traversals,
interpolation, training curves, the model and a report.html.

    python examples/train_mnist.py --data-dir ../shared/datasets/mnist --epochs 10
"""

import argparse

import keras

from vae_keras import VAE, datasets, networks, report
from vae_keras.callbacks import ReconstructionGrid, SampleGrid


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data-dir", default=None, help="MNIST IDX folder (default: $VAE_KERAS_DATA_DIR)"
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--latent-dim", type=int, default=2)
    parser.add_argument(
        "--limit", type=int, default=None, help="use only the first N training images"
    )
    parser.add_argument("--out", default="runs/example_train_mnist")
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    x_train, _ = datasets.load("mnist", "train", args.data_dir, limit=args.limit)
    x_test, y_test = datasets.load("mnist", "test", args.data_dir)

    vae = VAE(
        networks.conv_encoder((28, 28, 1), args.latent_dim),
        networks.conv_decoder(args.latent_dim, (28, 28, 1)),
        seed=0,
    )
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = vae.fit(
        x_train,
        epochs=args.epochs,
        batch_size=128,
        validation_data=(x_test,),
        callbacks=[
            SampleGrid(f"{args.out}/samples", num_samples=64, gif=True),
            ReconstructionGrid(f"{args.out}/reconstructions", x_test[:16]),
        ],
    )
    vae.save(f"{args.out}/model.keras")
    test = vae.evaluate(x_test, verbose=0, return_dict=True)
    figures = report.write_run_figures(vae, x_test, y_test, history, f"{args.out}/figures")
    page = report.write_report(
        args.out, {"test": test}, figures, title="MNIST VAE (examples/train_mnist.py)"
    )
    print(
        f"test loss {test['loss']:.2f} nats = reconstruction {test['reconstruction_loss']:.2f} "
        f"+ KL {test['kl_loss']:.2f}; report: {page}"
    )


if __name__ == "__main__":
    main()
