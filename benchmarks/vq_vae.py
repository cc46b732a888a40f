"""VQ-VAE: the package's `VQVAE` against the keras.io VQ-VAE example, side by side.

The keras.io example ("Vector-Quantized Variational Autoencoders", Sayak Paul),
written here from its published description: encoder Conv2D 32 -> Conv2D 64
(stride 2, ReLU) -> 1x1 Conv2D to 16 channels (a 7x7x16 grid); a 128-entry
codebook trained by its gradient (codebook loss + 0.25 x commitment loss,
means over elements), uniform(-0.05, 0.05) initialisation; decoder
Conv2DTranspose 64 -> 32 (stride 2) -> 1; loss = pixel MSE / training-set
variance + VQ losses; data `x - 0.5`; Adam 1e-3, batch 128. Ours: the same
networks (`networks.vq_encoder` / `vq_decoder`) and codebook size with the
package defaults: `VectorQuantizer(128, 16)` (EMA codebook, dead-code
restarts) and the Bernoulli likelihood. Same data, epochs and batches.

Reported per model on the test images: reconstruction error (MSE per pixel on
the [0, 1] scale), perplexity of the codes and the share of the codebook in use
(over the whole test set), median ms per training step. Then for ours the
learned prior (`fit_prior`): its NLL in nats per image, samples judged by the
examples' digit classifier (Fréchet distance in its features, share of
samples it classifies with max softmax > 0.9) beside a conv VAE (latent 16)
trained on the same data and epochs, and `nll_bound` in nats. On grey MNIST that
figure is not a bound on anything: a Bernoulli on grey values is not a normalised
distribution, so reconstruction cross-entropy + prior NLL is a loss, comparable
only with the VAE's loss of the same kind; it is a bound on -log p(x) only on
binary data (`--binarized`).

With `--binarized`, a second stage trains ours and the VAE on dynamically
binarized MNIST and reports the bound (reconstruction + prior NLL of the
indices) beside the VAE's negative ELBO on the fixed-seed binarized test set,
the convention of BENCHMARKS.md's likelihood table.

    python benchmarks/vq_vae.py --data-dir ../shared/datasets/mnist --limit 20000 --epochs 10
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))


def keras_io_vqvae(keras, ops, train_variance, num_embeddings=128, latent_dim=16):
    """The keras.io example's model and trainer (TensorFlow: its GradientTape step)."""
    layers = keras.layers

    class KerasIOQuantizer(layers.Layer):
        def __init__(self, num_embeddings, embedding_dim, beta=0.25, **kwargs):
            super().__init__(**kwargs)
            self.num_embeddings, self.embedding_dim, self.beta = (
                num_embeddings,
                embedding_dim,
                beta,
            )
            self.embeddings = self.add_weight(
                shape=(embedding_dim, num_embeddings),
                initializer=keras.initializers.RandomUniform(-0.05, 0.05, seed=0),
                name="embeddings_vqvae",
            )

        def get_code_indices(self, flat):
            similarity = ops.matmul(flat, self.embeddings)
            distances = (
                ops.sum(flat**2, axis=1, keepdims=True)
                + ops.sum(self.embeddings**2, axis=0)
                - 2 * similarity
            )
            return ops.argmin(distances, axis=1)

        def call(self, x):
            shape = ops.shape(x)
            flat = ops.reshape(x, (-1, self.embedding_dim))
            encodings = ops.one_hot(self.get_code_indices(flat), self.num_embeddings)
            quantized = ops.reshape(ops.matmul(encodings, ops.transpose(self.embeddings)), shape)
            commitment = ops.mean((ops.stop_gradient(quantized) - x) ** 2)
            codebook = ops.mean((quantized - ops.stop_gradient(x)) ** 2)
            self.add_loss(self.beta * commitment + codebook)
            return x + ops.stop_gradient(quantized - x)

    inputs = keras.Input((28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(inputs)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    encoder = keras.Model(inputs, layers.Conv2D(latent_dim, 1, padding="same")(x))
    latent = keras.Input(encoder.output.shape[1:])
    x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(latent)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    decoder = keras.Model(latent, layers.Conv2DTranspose(1, 3, padding="same")(x))
    quantizer = KerasIOQuantizer(num_embeddings, latent_dim, name="vector_quantizer")
    vqvae = keras.Model(inputs, decoder(quantizer(encoder(inputs))))

    class VQVAETrainer(keras.Model):
        def __init__(self):
            super().__init__()
            self.vqvae = vqvae
            self.total_loss_tracker = keras.metrics.Mean(name="loss")

        @property
        def metrics(self):
            return [self.total_loss_tracker]

        def train_step(self, x):
            import tensorflow as tf

            with tf.GradientTape() as tape:
                reconstructions = self.vqvae(x)
                loss = ops.mean((x - reconstructions) ** 2) / train_variance + ops.sum(
                    self.vqvae.losses
                )
            grads = tape.gradient(loss, self.vqvae.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.vqvae.trainable_variables, strict=True))
            self.total_loss_tracker.update_state(loss)
            return {"loss": self.total_loss_tracker.result()}

    return VQVAETrainer(), encoder, quantizer, vqvae


class StepTimer:
    """Keras callback factory: per-batch wall times (ms) after the first epoch."""

    def __new__(cls):
        import keras

        class _Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.times, self.epoch = [], 0

            def on_epoch_begin(self, epoch, logs=None):
                self.epoch = epoch

            def on_train_batch_begin(self, batch, logs=None):
                self.start = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                if self.epoch > 0 or batch > 5:  # skip tracing
                    self.times.append(1000 * (time.perf_counter() - self.start))

        return _Timer()


def code_stats(indices, num_embeddings):
    counts = np.bincount(np.asarray(indices).ravel(), minlength=num_embeddings)
    p = counts / counts.sum()
    nz = p[p > 0]
    return float(np.exp(-(nz * np.log(nz)).sum())), float((counts > 0).mean())


def judge(classifier, samples, reference):
    from _common import frechet_distance

    confident = float((classifier.probabilities(samples).max(1) > 0.9).mean())
    fd = frechet_distance(classifier.features(samples), classifier.features(reference))
    return fd, confident


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("VAE_KERAS_DATA_DIR"))
    parser.add_argument("--limit", type=int, default=20000)
    parser.add_argument("--test-limit", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--prior-epochs", type=int, default=10)
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--binarized", action="store_true")
    parser.add_argument("--json", default=None, help="also write the numbers here")
    args = parser.parse_args()

    import keras
    from _common import DigitClassifier
    from keras import ops

    from vae_keras import VAE, VQVAE, datasets, networks
    from vae_keras.layers import VectorQuantizer

    start_all = time.time()
    x_train, y_train = datasets.load("mnist", "train", data_dir=args.data_dir, limit=args.limit)
    x_test, _ = datasets.load("mnist", "test", data_dir=args.data_dir, limit=args.test_limit)
    print(f"MNIST: {len(x_train)} train, {len(x_test)} test; {args.epochs} epochs, batch 128")
    print(
        f"backend {keras.backend.backend()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs"
    )
    results = {"config": vars(args)}
    rows = []

    # --- keras.io configuration ---
    keras.utils.set_random_seed(0)
    trainer, io_encoder, io_quantizer, io_vqvae = keras_io_vqvae(keras, ops, float(np.var(x_train)))
    trainer.compile(optimizer=keras.optimizers.Adam())
    timer, t = StepTimer(), time.time()
    trainer.fit(x_train - 0.5, epochs=args.epochs, batch_size=128, verbose=0, callbacks=[timer])
    io_time = time.time() - t
    io_recon = io_vqvae.predict(x_test - 0.5, batch_size=256, verbose=0) + 0.5
    flat = ops.reshape(io_encoder.predict(x_test - 0.5, batch_size=256, verbose=0), (-1, 16))
    io_perplexity, io_usage = code_stats(
        ops.convert_to_numpy(io_quantizer.get_code_indices(flat)), 128
    )
    rows.append(
        (
            "keras.io configuration",
            float(np.mean((io_recon - x_test) ** 2)),
            None,
            io_perplexity,
            io_usage,
            float(np.median(timer.times)),
            io_time,
        )
    )

    # --- ours ---
    keras.utils.set_random_seed(0)
    model = VQVAE(
        networks.vq_encoder((28, 28, 1), 16),
        networks.vq_decoder((7, 7, 16), (28, 28, 1)),
        VectorQuantizer(128, 16, seed=0),
        seed=0,
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    timer, t = StepTimer(), time.time()
    model.fit(x_train, epochs=args.epochs, batch_size=128, verbose=0, callbacks=[timer])
    ours_time = time.time() - t
    stats = model.codebook_statistics(x_test)
    ours_nll = float(
        model.evaluate(x_test, batch_size=256, verbose=0, return_dict=True)["reconstruction_loss"]
    )
    rows.append(
        (
            "vae_keras VQVAE (EMA + restarts)",
            float(np.mean((model.reconstruct(x_test) - x_test) ** 2)),
            ours_nll,
            stats["perplexity"],
            stats["usage"],
            float(np.median(timer.times)),
            ours_time,
        )
    )
    print(
        "\n| model | test MSE / pixel | test rec. NLL (nats) | perplexity | codebook in use | ms/step | train time |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, mse, nll, perp, usage, ms, secs in rows:
        nll_text = "–" if nll is None else f"{nll:.1f}"
        print(
            f"| {name} | {mse:.5f} | {nll_text} | {perp:.1f} | {usage:.1%} | {ms:.1f} | {secs / 60:.1f} min |"
        )
    results["side_by_side"] = rows

    # --- prior, samples, bound ---
    t = time.time()
    history = model.fit_prior(x_train, epochs=args.prior_epochs, verbose=0)
    prior_time = time.time() - t
    prior_nll = model.prior_nll(x_test)
    bound = model.nll_bound(x_test)
    t = time.time()
    samples = model.sample(args.num_samples, seed=0)
    sample_time = time.time() - t

    keras.utils.set_random_seed(0)
    vae = VAE(
        networks.conv_encoder((28, 28, 1), 16), networks.conv_decoder(16, (28, 28, 1)), seed=0
    )
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    vae.fit(x_train, epochs=args.epochs, batch_size=128, verbose=0)
    vae_elbo = vae.evaluate(x_test, batch_size=256, verbose=0, return_dict=True)
    classifier = DigitClassifier(x_train, y_train)
    fd_ours, conf_ours = judge(classifier, samples, x_test)
    fd_vae, conf_vae = judge(classifier, vae.sample(args.num_samples, seed=0), x_test)
    fd_real, conf_real = judge(classifier, x_test[: args.num_samples], x_test[args.num_samples :])
    print(
        f"\nprior: {args.prior_epochs} epochs in {prior_time / 60:.1f} min, train NLL "
        f"{history.history['loss'][-1]:.2f}; {args.num_samples} samples in {sample_time:.1f} s"
    )
    print(
        "\n| model | Bernoulli cross-entropy + prior NLL, nats (grey MNIST: not a bound) | of which prior NLL | FD of samples | confident samples (> 0.9) |"
    )
    print("| --- | ---: | ---: | ---: | ---: |")
    print(
        f"| VQVAE + PixelCNN prior | {bound.mean():.2f} | {prior_nll.mean():.2f} | {fd_ours:.1f} | {conf_ours:.1%} |"
    )
    print(
        f"| conv VAE (z = 16), loss (reconstruction cross-entropy + KL) | {vae_elbo['loss']:.2f} | (KL {vae_elbo['kl_loss']:.2f}) | {fd_vae:.1f} | {conf_vae:.1%} |"
    )
    print(f"| test images (reference) | | | {fd_real:.1f} | {conf_real:.1%} |")
    results["prior"] = {
        "bound": float(bound.mean()),
        "prior_nll": float(prior_nll.mean()),
        "fd": [fd_ours, fd_vae, fd_real],
        "confident": [conf_ours, conf_vae, conf_real],
        "vae_neg_elbo": float(vae_elbo["loss"]),
        "sample_seconds": sample_time,
        "prior_minutes": prior_time / 60,
    }

    if args.binarized:
        from vae_keras.binarization import DynamicBinarization, binarize

        x_bin = binarize(x_test, seed=0)
        keras.utils.set_random_seed(0)
        model = VQVAE(
            networks.vq_encoder((28, 28, 1), 16),
            networks.vq_decoder((7, 7, 16), (28, 28, 1)),
            VectorQuantizer(128, 16, seed=0),
            seed=0,
        )
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model.fit(
            DynamicBinarization(x_train, batch_size=128, seed=0), epochs=args.epochs, verbose=0
        )
        model.fit_prior(binarize(x_train, seed=1), epochs=args.prior_epochs, verbose=0)
        bound = model.nll_bound(x_bin)
        prior_nll = model.prior_nll(x_bin)
        keras.utils.set_random_seed(0)
        vae = VAE(
            networks.conv_encoder((28, 28, 1), 16), networks.conv_decoder(16, (28, 28, 1)), seed=0
        )
        vae.compile(optimizer=keras.optimizers.Adam(1e-3))
        vae.fit(DynamicBinarization(x_train, batch_size=128, seed=0), epochs=args.epochs, verbose=0)
        vae_elbo = vae.evaluate(x_bin, batch_size=256, verbose=0, return_dict=True)
        print("\nBinarized MNIST (dynamic binarization for training, test binarized with seed 0):")
        print(
            f"| VQVAE bound | {bound.mean():.2f} ± {bound.std() / np.sqrt(len(bound)):.2f} | prior NLL {prior_nll.mean():.2f} |"
        )
        print(f"| conv VAE −ELBO | {vae_elbo['loss']:.2f} | KL {vae_elbo['kl_loss']:.2f} |")
        results["binarized"] = {
            "bound": float(bound.mean()),
            "prior_nll": float(prior_nll.mean()),
            "vae_neg_elbo": float(vae_elbo["loss"]),
        }
    print(f"\ntotal wall time {(time.time() - start_all) / 60:.1f} min")
    if args.json:
        from vae_keras.runs import atomic_write_bytes

        atomic_write_bytes(args.json, json.dumps(results, indent=1, default=str).encode())


if __name__ == "__main__":
    main()
