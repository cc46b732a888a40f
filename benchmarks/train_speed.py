"""Training speed: the package's conv VAE against the keras.io VAE example.

Configuration of the keras.io example ("Variational AutoEncoder", fchollet):
latent 2, Conv2D 32 -> Conv2D 64 (stride 2) -> Dense 16 -> z; Dense 7*7*64 ->
Conv2DTranspose 64 -> 32 -> 1; Adam; batch 128; MNIST. Each backend runs in its
own process; inside it, the implementations are timed in interleaved rounds
over the same batches, and the table reports the median ms/step and the ratio
package / reference.

References:
- `keras.io (GradientTape)`: the example as published, its `train_step` with
  `tf.GradientTape` (TensorFlow only).
- `keras built-in step`: the same networks and loss through Keras's own
  `train_step` (a `compute_loss` override), the nearest equivalent on JAX and
  PyTorch.

`--jit-compile` (TensorFlow) adds the package's model compiled with
`jit_compile=True` (XLA) as another row of the same interleaved rounds: the A/B
behind keeping Keras's default (no XLA on CPU).

    python benchmarks/train_speed.py --data-dir ../shared/datasets/mnist
    python benchmarks/train_speed.py --backends tensorflow --jit-compile
"""

import argparse
import json
import os
import platform
import sys

from _timing import interleaved_ms_per_step, run_worker


def reference_models(keras, ops):
    """The keras.io example, written from its published description."""
    layers = keras.layers

    class Sampling(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
            return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    def networks(latent_dim=2):
        encoder_inputs = keras.Input(shape=(28, 28, 1))
        x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
        x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
        x = layers.Flatten()(x)
        x = layers.Dense(16, activation="relu")(x)
        z_mean = layers.Dense(latent_dim, name="z_mean")(x)
        z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
        z = Sampling()([z_mean, z_log_var])
        encoder = keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")
        latent_inputs = keras.Input(shape=(latent_dim,))
        x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
        x = layers.Reshape((7, 7, 64))(x)
        x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
        x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
        outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
        return encoder, keras.Model(latent_inputs, outputs, name="decoder")

    def vae_losses(data, z_mean, z_log_var, reconstruction):
        reconstruction_loss = ops.mean(
            ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2))
        )
        kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
        kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
        return reconstruction_loss, kl_loss

    class _Base(keras.Model):
        def __init__(self, encoder, decoder, **kwargs):
            super().__init__(**kwargs)
            self.encoder = encoder
            self.decoder = decoder
            self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
            self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
            self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    class KerasIoVAE(_Base):
        """The published example: its own train_step with tf.GradientTape."""

        @property
        def metrics(self):
            return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

        def train_step(self, data):
            import tensorflow as tf

            with tf.GradientTape() as tape:
                z_mean, z_log_var, z = self.encoder(data)
                reconstruction = self.decoder(z)
                reconstruction_loss, kl_loss = vae_losses(data, z_mean, z_log_var, reconstruction)
                total_loss = reconstruction_loss + kl_loss
            grads = tape.gradient(total_loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
            self.total_loss_tracker.update_state(total_loss)
            self.reconstruction_loss_tracker.update_state(reconstruction_loss)
            self.kl_loss_tracker.update_state(kl_loss)
            return {m.name: m.result() for m in self.metrics}

    class BuiltinStepVAE(_Base):
        """Same networks and loss through Keras's built-in train_step."""

        def call(self, data):
            return self.encoder(data)

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            z_mean, z_log_var, z = y_pred
            reconstruction_loss, kl_loss = vae_losses(x, z_mean, z_log_var, self.decoder(z))
            return reconstruction_loss + kl_loss

    return networks, KerasIoVAE, BuiltinStepVAE


XLA_ROW = "vae_keras VAE, XLA (jit_compile=True)"


def run_backend(args):
    """Times the implementations on the current backend; prints one JSON line."""
    import keras
    from keras import ops

    from vae_keras import VAE, datasets, networks

    keras.utils.set_random_seed(0)
    x, _ = datasets.load(
        "mnist", "train", args.data_dir, limit=args.batch_size * (args.steps + args.warmup)
    )
    ref_networks, KerasIoVAE, BuiltinStepVAE = reference_models(keras, ops)

    def package():
        return VAE(
            networks.conv_encoder((28, 28, 1), 2, dense_units=16),
            networks.conv_decoder(2, (28, 28, 1)),
            seed=0,
        )

    builders = {
        "vae_keras VAE": package,
        "keras built-in step": lambda: BuiltinStepVAE(*ref_networks()),
    }
    if keras.backend.backend() == "tensorflow":
        builders["keras.io (GradientTape)"] = lambda: KerasIoVAE(*ref_networks())
        if args.jit_compile:
            builders[XLA_ROW] = package

    models = {}
    for name, build in builders.items():
        model = build()
        # Keras's default ("auto": no XLA on a CPU-only TensorFlow; jax.jit on JAX) but the XLA row.
        xla = {"jit_compile": True} if name == XLA_ROW else {}
        model.compile(optimizer=keras.optimizers.Adam(), **xla)
        model.fit(
            x[: args.batch_size * args.warmup], batch_size=args.batch_size, epochs=1, verbose=0
        )
        models[name] = model
    timed = x[args.batch_size * args.warmup :]
    medians, times = interleaved_ms_per_step(
        models, timed, args.batch_size, args.rounds, args.steps
    )
    print(json.dumps({"backend": keras.backend.backend(), "ms_per_step": medians, "all": times}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data-dir", default=os.environ.get("VAE_KERAS_DATA_DIR", "../shared/datasets/mnist")
    )
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=60, help="timed steps per round")
    parser.add_argument(
        "--warmup", type=int, default=10, help="untimed steps (tracing, compilation)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--jit-compile",
        action="store_true",
        help="TensorFlow: also time the package's model with XLA (jit_compile=True)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return run_backend(args)

    rows = []
    for backend in args.backends.split(","):
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            "--data-dir",
            args.data_dir,
            "--batch-size",
            str(args.batch_size),
            "--steps",
            str(args.steps),
            "--warmup",
            str(args.warmup),
            "--rounds",
            str(args.rounds),
        ] + (["--jit-compile"] if args.jit_compile else [])
        row = run_worker(cmd, backend)
        if row is not None:
            rows.append(row)

    print(
        f"\nTraining speed, MNIST 28x28x1, latent 2, batch {args.batch_size}, Adam; median of {args.rounds} "
        f"rounds x {args.steps} steps after {args.warmup} warm-up steps"
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print("| backend | implementation | ms/step | images/s | package / this |")
    print("| --- | --- | ---: | ---: | ---: |")
    for row in rows:
        ms = row["ms_per_step"]
        ours = ms["vae_keras VAE"]
        for name, value in ms.items():
            ratio = "—" if name == "vae_keras VAE" else f"{ours / value:.3f}"
            print(
                f"| {row['backend']} | {name} | {value:.1f} | {1000 * args.batch_size / value:.0f} | {ratio} |"
            )


if __name__ == "__main__":
    main()
