"""What every latent-variable model here shares: its own train/test steps,
loss trackers, input checks, and batched NumPy-in/NumPy-out inference."""

import keras
import numpy as np
from keras import ops

from vae_keras.models import _steps
from vae_keras.validation import check_data


def _encoder_outputs(encoder):
    outputs = getattr(encoder, "outputs", None)
    if not isinstance(outputs, (list, tuple)) or len(outputs) not in (2, 3):
        raise ValueError(
            "The encoder must be a functional keras.Model with outputs "
            "[z_mean, z_log_var] (a third output `z`, as in the Keras example, is "
            f"ignored). Received an encoder with outputs: {outputs!r}. Build one with "
            "`vae_keras.networks.conv_encoder` or `dense_encoder`."
        )
    return outputs


def check_pair(
    encoder, decoder, extra_decoder_inputs: int = 0, same_shape: bool = True, output_channels=None
):
    """Checks that `encoder` and `decoder` fit together; returns (input_shape, latent_dim).

    `same_shape=False` skips the check that the decoder emits the encoder's
    input shape (decoders that emit features, as in `PixelVAE`).
    `output_channels(channels)` gives the decoder's channel count when it
    differs from the data's (a likelihood with several parameters per
    sub-pixel, e.g. the discretized logistic)."""
    for net, role in ((encoder, "encoder"), (decoder, "decoder")):
        if not isinstance(net, keras.Model):
            raise ValueError(f"`{role}` must be a keras.Model. Received: {role}={net!r}")
    z_mean, z_log_var = _encoder_outputs(encoder)[:2]
    if tuple(z_mean.shape) != tuple(z_log_var.shape) or len(z_mean.shape) != 2:
        raise ValueError(
            "The encoder's z_mean and z_log_var must both be shaped (batch, latent_dim). "
            f"Received: {tuple(z_mean.shape)} and {tuple(z_log_var.shape)}."
        )
    latent_dim = int(z_mean.shape[-1])
    decoder_latent = int(decoder.inputs[0].shape[-1]) - extra_decoder_inputs
    if decoder_latent != latent_dim:
        raise ValueError(
            f"Latent sizes do not match: the encoder outputs latent_dim={latent_dim}, "
            f"the decoder takes latent_dim={decoder_latent}. Build both with the same "
            "`latent_dim`."
        )
    input_shape = tuple(encoder.inputs[0].shape[1:])
    output_shape = tuple(decoder.outputs[0].shape[1:])
    wanted = input_shape
    if output_channels is not None and input_shape:
        wanted = input_shape[:-1] + (output_channels(input_shape[-1]),)
    if same_shape and output_shape != wanted:
        if wanted == input_shape:
            fix = f"Build the decoder with output_shape={input_shape}."
        else:
            fix = (
                f"The likelihood needs {wanted[-1]} decoder channels per pixel for "
                f"{input_shape[-1]}-channel data: build the decoder with "
                f"output_channels={wanted[-1]} (output shape {wanted})."
            )
        raise ValueError(
            f"The decoder generates shape {output_shape} but the encoder reads shape "
            f"{input_shape}. {fix}"
        )
    return input_shape, latent_dim


def _is_tf_dataset(x):
    return type(x).__module__.startswith("tensorflow") and hasattr(x, "take")


class LatentModel(keras.Model):
    """Base of `VAE` and `AE`: subclasses define `compute_losses` and `loss_names`.

    `train_step` and `test_step` are the model's own on every backend; they
    call `compute_losses(x, y, training)` (all the loss math) and only the
    gradient plumbing differs per backend (see `_steps`).
    """

    loss_names = ("loss", "reconstruction_loss")

    def _init_trackers(self):
        self.loss_trackers = [keras.metrics.Mean(name=name) for name in self.loss_names]

    @property
    def metrics(self):
        return list(self.loss_trackers)

    # === Training ===

    def compile(self, optimizer="adam", **kwargs):
        """Configures training. The loss is the model's own; only pass an optimizer."""
        if kwargs.get("loss") is not None:
            raise ValueError(
                f"{type(self).__name__} computes its own loss; do not pass `loss`. "
                f"Received: loss={kwargs['loss']!r}. Use the model's arguments "
                "(e.g. `beta`, `likelihood`) to shape the objective."
            )
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        # Keras skips overridden `compile` methods when loading; ours only
        # forbids `loss`, so restoring the saved optimizer is safe.
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**{k: v for k, v in config.items() if v is not None})
        if self.built:
            self.optimizer.build(self.trainable_variables)

    if keras.backend.backend() == "jax":

        def train_step(self, state, data):
            return _steps.jax_train_step(self, state, data)

        def test_step(self, state, data):
            return _steps.jax_test_step(self, state, data)

    elif keras.backend.backend() == "torch":

        def train_step(self, data):
            return _steps.torch_train_step(self, data)

        def test_step(self, data):
            return _steps.eager_test_step(self, data)

    else:

        def train_step(self, data):
            return _steps.tensorflow_train_step(self, data)

        def test_step(self, data):
            return _steps.eager_test_step(self, data)

    def fit(self, x=None, y=None, *args, validation_data=None, **kwargs):
        """`keras.Model.fit`, with the data checked first (shape, NaN, range).

        `fit(x)` reconstructs `x`; `fit(x_noisy, x_clean)` trains a denoising
        model that reconstructs the clean target from the noisy input.
        """
        x, y = self._check_fit_data(x, y, "x", "y")
        if validation_data is not None:
            if isinstance(validation_data, (tuple, list)):
                vx, vy = (list(validation_data) + [None])[:2]
                vx, vy = self._check_fit_data(vx, vy, "validation_data[0]", "validation_data[1]")
                validation_data = (vx,) if vy is None else (vx, vy)
            else:
                self._check_fit_data(validation_data, None, "validation_data", None)
        return super().fit(x, y, *args, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.evaluate`, with the data checked first."""
        x, y = self._check_fit_data(x, y, "x", "y")
        return super().evaluate(x, y, *args, **kwargs)

    def _check_fit_data(self, x, y, x_name, y_name):
        if _is_tf_dataset(x):  # peek at one batch; the rest is the user's pipeline
            batch = next(iter(x.take(1)))
            bx, by, _ = keras.utils.unpack_x_y_sample_weight(batch)
            self._check_batch(np.asarray(bx), None if by is None else np.asarray(by), x_name)
            return x, y
        if isinstance(x, np.ndarray) or isinstance(x, (list, tuple)) and not _is_nested(x):
            return self._check_batch(x, y, x_name, y_name)
        return x, y  # generators, PyDatasets: checked by Keras itself

    def _check_batch(self, x, y, x_name, y_name="y"):
        x = self.check_inputs(x, x_name)
        if y is not None:
            y = self.check_targets(y, y_name)
            if len(y) != len(x):
                raise ValueError(f"`{x_name}` has {len(x)} examples but `{y_name}` has {len(y)}.")
        return x, y

    def check_inputs(self, x, name="x"):
        """Validates model inputs; returns them as float32 NumPy."""
        return check_data(x, self.input_shape_, name, unit_interval=self._needs_unit_interval)

    def check_targets(self, y, name="y"):
        """Validates reconstruction targets (denoising); subclasses may differ."""
        return check_data(y, self.input_shape_, name, unit_interval=self._needs_unit_interval)

    _needs_unit_interval = False

    # === Inference (NumPy in, NumPy out, batched) ===

    def _batched(self, fn, arrays, batch_size):
        n = len(arrays[0])
        outputs = [fn(*(a[i : i + batch_size] for a in arrays)) for i in range(0, n, batch_size)]
        if isinstance(outputs[0], (tuple, list)):
            return tuple(np.concatenate(parts) for parts in zip(*outputs, strict=True))
        return np.concatenate(outputs)

    def _encode_tensors(self, x, training=False):
        z_mean, z_log_var = self.encoder(x, training=training)[:2]
        return ops.cast(z_mean, "float32"), ops.cast(z_log_var, "float32")

    def encode(self, x, batch_size: int = 256):
        """Deterministic encoding: returns `(z_mean, z_log_var)` as NumPy arrays."""
        x = self.check_inputs(x)

        def step(xb):
            z_mean, z_log_var = self._encode_tensors(xb)
            return ops.convert_to_numpy(z_mean), ops.convert_to_numpy(z_log_var)

        return self._batched(step, [x], batch_size)


def _is_nested(x):
    return isinstance(x, (list, tuple)) and len(x) > 0 and isinstance(x[0], (tuple, dict))
