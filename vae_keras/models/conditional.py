"""The conditional VAE (Sohn et al., 2015): encoder and decoder both see the class."""

import keras
import numpy as np
from keras import ops

from vae_keras.models.vae import VAE
from vae_keras.validation import as_float_array, check_data


def _check_networks(encoder, decoder, num_classes):
    for net, role, first, helper in (
        (encoder, "encoder", "x", "conditional_encoder(input_shape, latent_dim, num_classes)"),
        (decoder, "decoder", "z", "conditional_decoder(latent_dim, output_shape, num_classes)"),
    ):
        inputs = getattr(net, "inputs", None) if isinstance(net, keras.Model) else None
        shapes = [tuple(t.shape) for t in inputs] if isinstance(inputs, (list, tuple)) else inputs
        if not shapes or len(shapes) != 2 or shapes[1] != (None, num_classes):
            raise ValueError(
                f"ConditionalVAE needs a functional {role} with two inputs [{first}, label], "
                f"the label one-hot of shape (batch, {num_classes}) (num_classes="
                f"{num_classes}). Received a {role} with input shapes {shapes!r}. Build one "
                f"with `vae_keras.models.{helper}`."
            )


@keras.saving.register_keras_serializable(package="vae_keras")
class ConditionalVAE(VAE):
    """Conditional VAE: `q(z | x, y)` and `p(x | z, y)` for class labels `y`.

    The one-hot label is a second input of both networks (build them with
    `conditional_encoder` and `conditional_decoder`: dense networks
    concatenate it to the flattened image, conv encoders broadcast it to
    extra constant channels). The prior `model.prior` does not depend on the
    label (N(0, I) by default, or `prior="mixture"`; not the VampPrior, whose
    posteriors would need labels), so `z` is free to carry what the label
    does not: style, for digits. Everything else
    (loss, metrics, `beta`, free bits, likelihoods, corruption) is `VAE`'s.

    Data convention: the model's input is the pair `(x, labels)`; labels
    are integer class ids shaped `(N,)` in `[0, num_classes)`, or one-hot
    rows shaped `(N, num_classes)`:

        cvae.fit((x, labels), epochs=10)
        cvae.fit((x_noisy, labels), x_clean)                    # given pairs
        cvae.fit((x, labels), validation_data=((x_val, labels_val),))
        cvae.evaluate((x, labels))

    A `tf.data.Dataset` must yield `((x, labels),)` or `((x, labels), x)`;
    integer labels are one-hot encoded inside the step. Labels out of range,
    not integers, or not one per example raise a `ValueError` before
    training starts.

    Inference takes the labels as a second argument (or inside the pair):
    `encode(x, labels)`, `decode(z, labels)`, `reconstruct(x, labels)`, and
    `sample(n, labels=...)`, where one integer label is used for all `n`
    samples and `labels=None` cycles through the classes `0, 1, 2, ...`.

    Args:
        encoder: A `keras.Model` with inputs `[x, label]` and outputs
            `[z_mean, z_log_var]`, e.g. `conditional_encoder`.
        decoder: A `keras.Model` with inputs `[z, label]`, e.g.
            `conditional_decoder`.
        num_classes: Number of classes (>= 2).
        beta, reconstruction_weight, likelihood, seed: As for `VAE`.
        **kwargs: Other `VAE` arguments (`free_bits`, `corruption`, ...).

    Example:

    >>> import numpy as np
    >>> from vae_keras import ConditionalVAE
    >>> from vae_keras.models import conditional_decoder, conditional_encoder
    >>> cvae = ConditionalVAE(conditional_encoder((8, 8, 1), 2, 3, hidden_units=(16,)),
    ...                       conditional_decoder(2, (8, 8, 1), 3, hidden_units=(16,)),
    ...                       num_classes=3, seed=0)
    >>> cvae.compile(optimizer="adam")
    >>> x = np.random.default_rng(0).uniform(size=(30, 8, 8, 1)).astype("float32")
    >>> labels = np.arange(30) % 3
    >>> sorted(cvae.fit((x, labels), epochs=1, verbose=0).history)
    ['kl_loss', 'loss', 'reconstruction_loss']
    >>> cvae.sample(4, labels=2, seed=0).shape
    (4, 8, 8, 1)
    """

    # q(z | x, y) exists, but importance scoring conditional on labels is not supported yet.
    capabilities = VAE.capabilities.replace(
        conditional=True, posterior=False, importance_weighted=None
    )

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        num_classes: int,
        beta: float = 1.0,
        reconstruction_weight: float = 1.0,
        likelihood: str = "bernoulli",
        seed: int | None = None,
        **kwargs,
    ):
        if (
            isinstance(num_classes, bool)
            or not isinstance(num_classes, (int, np.integer))
            or (num_classes < 2)
        ):
            raise ValueError(
                "`num_classes` must be an integer >= 2 (one class needs no conditioning: "
                f"use VAE). Received: num_classes={num_classes!r}"
            )
        num_classes = int(num_classes)
        _check_networks(encoder, decoder, num_classes)
        super().__init__(
            encoder,
            decoder,
            beta=beta,
            reconstruction_weight=reconstruction_weight,
            likelihood=likelihood,
            seed=seed,
            **kwargs,
        )
        self.num_classes = num_classes

    # === Labels ===

    def one_hot(self, labels, num_examples: int, name: str = "labels") -> np.ndarray:
        """Checks labels for `num_examples` examples; returns float32 one-hot rows.

        Accepts integer ids `(N,)`, one-hot (or soft) rows `(N, num_classes)`,
        or one integer for all examples.
        """
        k = self.num_classes
        array = as_float_array(labels, name)
        if array.ndim == 0:
            array = np.full((num_examples,), array, dtype="float32")
        if array.ndim not in (1, 2) or array.ndim == 2 and array.shape[1] != k:
            raise ValueError(
                f"`{name}` must be integer class ids shaped (N,) or one-hot rows shaped "
                f"(N, {k}). Received shape {array.shape}."
            )
        if len(array) != num_examples:
            raise ValueError(
                f"`{name}` has {len(array)} entries but there are {num_examples} examples: "
                "pass one label per example."
            )
        if not np.isfinite(array).all():
            raise ValueError(f"`{name}` contains NaN or inf.")
        if array.ndim == 2:
            if array.min() < 0 or array.max() > 1 or not np.allclose(array.sum(1), 1, atol=1e-3):
                raise ValueError(
                    f"One-hot `{name}` must have rows of values in [0, 1] summing to 1. "
                    f"Received values in [{array.min():g}, {array.max():g}]."
                )
            return array
        bad = (array != np.round(array)) | (array < 0) | (array >= k)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"`{name}` must be integers in [0, {k - 1}] (num_classes={k}). "
                f"Received: {name}[{i}]={array[i]:g}."
            )
        return np.eye(k, dtype="float32")[array.astype("int64")]

    def _pair(self, x, labels, name="x"):
        if labels is None:
            if not (isinstance(x, (tuple, list)) and len(x) == 2):
                raise ValueError(
                    "ConditionalVAE needs the class labels: pass `(x, labels)` or "
                    f"`x, labels`. Received `{name}` without labels."
                )
            x, labels = x
        x = self.check_inputs(x, name)
        return x, self.one_hot(labels, len(x), "labels")

    def _export_signature(self):  # `model.export`: the pair (x, one-hot labels)
        return [
            (
                keras.InputSpec(shape=(None, *self.input_shape_), dtype="float32"),
                keras.InputSpec(shape=(None, self.num_classes), dtype="float32"),
            )
        ]

    # === Hooks: the label joins both networks ===

    def _split_inputs(self, x):
        if not (isinstance(x, (tuple, list)) and len(x) == 2):
            raise ValueError(
                "ConditionalVAE's input is the pair `(x, labels)`, e.g. "
                f"`fit((x, labels))`. Received: {type(x).__name__}."
            )
        data, labels = x
        labels = ops.convert_to_tensor(labels)
        if len(labels.shape) == 1:  # integer ids from a tf.data pipeline
            labels = ops.one_hot(ops.cast(labels, "int32"), self.num_classes)
        return data, ops.cast(labels, "float32")

    def prior_encoder(self):
        return None  # the encoder reads labels too: no VampPrior (`priors.VampPrior.attach`)

    def _encoder_inputs(self, data, condition):
        return [data, condition]

    def _decode_raw(self, z, condition=None, training=False):
        return self.decoder([z, condition], training=training)

    # === Data checks ===

    def _check_one_batch(self, bx, by, name):
        if not (isinstance(bx, (tuple, list)) and len(bx) == 2):
            raise ValueError(
                f"`{name}` (a stream for ConditionalVAE) must yield `((x, labels),)` or "
                "`((x, labels), x_clean)` batches."
            )
        self._pair(tuple(bx), None, f"{name} (a batch drawn from it)")
        if by is not None:
            self.check_targets(by, f"{name} (a batch drawn from it)")

    def _check_fit_data(self, x, y, x_name, y_name):
        stream = self._checked_stream(x, x_name)  # every batch checked as it is drawn
        if stream is not None:
            return stream, y
        if y is not None and np.ndim(y) == 1:
            raise ValueError(
                f"`{y_name}` looks like labels (shape {np.shape(y)}). Labels go inside the "
                "input: `fit((x, labels), validation_data=((x_val, labels_val),))`; a "
                "target is only for denoising (`fit((x_noisy, labels), x_clean)`)."
            )
        if isinstance(x, np.ndarray) or not isinstance(x, (tuple, list)):
            if not hasattr(x, "shape"):
                return x, y  # generators, PyDatasets: checked by Keras itself
            raise ValueError(
                "ConditionalVAE's input is the pair `(x, labels)`: call "
                f"`fit((x, labels))` (validation_data=((x_val, labels_val),)). Received "
                f"`{x_name}` as one array of shape {tuple(x.shape)}."
            )
        images, one_hot = self._pair(x, None, x_name)
        if y is not None:
            y = self.check_targets(y, y_name)
            if len(y) != len(images):
                raise ValueError(
                    f"`{x_name}` has {len(images)} examples but `{y_name}` has {len(y)}."
                )
        return (images, one_hot), y

    # === Inference (NumPy in, NumPy out, batched) ===

    def encode(self, x, labels=None, batch_size: int = 256):
        """Deterministic encoding of `(x, labels)`: returns `(z_mean, z_log_var)`."""
        x, one_hot = self._pair(x, labels)

        def step(xb, cb):
            z_mean, z_log_var = self.encode_tensors([xb, cb])
            return ops.convert_to_numpy(z_mean), ops.convert_to_numpy(z_log_var)

        return self._batched(step, [x, one_hot], batch_size)

    def decode(self, z, labels, batch_size: int = 256):
        """Decodes latent codes under `labels` (one per code, or one for all)."""
        z = check_data(z, (self.latent_dim,), "z")
        one_hot = self.one_hot(labels, len(z))
        return self._batched(
            lambda zb, cb: ops.convert_to_numpy(self.decode_tensors(zb, cb)),
            [z, one_hot],
            batch_size,
        )

    def reconstruct(self, x, labels=None, batch_size: int = 256):
        """Deterministic reconstruction `decode(z_mean, labels)`, as NumPy."""
        x, one_hot = self._pair(x, labels)
        return self._batched(
            lambda xb, cb: ops.convert_to_numpy(self((xb, cb))), [x, one_hot], batch_size
        )

    def sample(
        self, num_samples: int, seed: int | None = None, batch_size: int = 256, *, labels=None
    ):
        """Decodes draws from `model.prior` under `labels`, as NumPy.

        `labels`: one integer for all samples, one label per sample, or
        `None` to cycle through the classes (`i % num_classes`).
        """
        z = self._prior_draws(num_samples, seed)
        if labels is None:
            labels = np.arange(num_samples) % self.num_classes
        return self.decode(z, labels, batch_size=batch_size)

    # === Config ===

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}
