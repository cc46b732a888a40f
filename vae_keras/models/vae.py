"""The variational autoencoder of Kingma & Welling (2014), as the slides build it."""

import math

import keras
from keras import ops

from vae_keras import losses
from vae_keras.layers import Sampling
from vae_keras.models.base import LatentModel, check_pair
from vae_keras.validation import check_non_negative

LIKELIHOODS = ("bernoulli", "gaussian")
DECODER_OUTPUTS = ("auto", "logits", "probabilities")
_SHAPE_ONLY_LAYERS = (keras.layers.Reshape, keras.layers.Cropping2D, keras.layers.Flatten)


def decoder_emits_probabilities(decoder) -> bool:
    """True when the decoder's last computing layer ends in a sigmoid."""
    for layer in reversed(decoder.layers):
        if isinstance(layer, (keras.layers.InputLayer,) + _SHAPE_ONLY_LAYERS):
            continue
        activation = getattr(layer, "activation", None)
        return activation is keras.activations.sigmoid
    return False


@keras.saving.register_keras_serializable(package="vae_keras")
class VAE(LatentModel):
    """Variational autoencoder with its own `train_step`.

    Training minimises the negative ELBO, per example, averaged over the
    batch, so every figure reads in nats per example:

        loss = reconstruction_weight * reconstruction_loss + beta * kl_loss

    where `reconstruction_loss = -log p(x | z)` summed over pixels for one
    sample `z = z_mean + exp(0.5 * z_log_var) * eps` (the `Sampling` layer),
    and `kl_loss = KL(q(z | x) || N(0, I))`. `fit` and `evaluate` report
    `loss`, `reconstruction_loss` and `kl_loss` (and `val_*`).

    Likelihoods:
    - `"bernoulli"`: binary cross-entropy summed over pixels; data must lie
      in [0, 1]. Computed from logits (stable when pixels are exactly 0 or 1
      and the decoder saturates). `decode` returns probabilities.
    - `"gaussian"`: `N(x; decoder(z), gaussian_variance)` with a fixed
      variance, default 1/2, so the term is the summed squared error of the
      slides plus the constant `0.5 * D * log(pi)` (a true NLL in nats).
      `decode` returns the means.

    `beta` and `reconstruction_weight` are variables: set them at any time,
    also from a callback during `fit`, on every backend (`model.beta = 0.5`).

    Args:
        encoder: A `keras.Model` mapping `x` to `[z_mean, z_log_var]` (a
            third output `z` is ignored), e.g. `networks.conv_encoder`.
        decoder: A `keras.Model` mapping `z` to `x`-shaped outputs: logits or
            probabilities (Bernoulli) or means (Gaussian).
        beta: Weight of the KL term (beta-VAE; 1.0 is the ELBO).
        reconstruction_weight: Weight of the reconstruction term.
        likelihood: `"bernoulli"` or `"gaussian"`.
        seed: Integer seed for the sampling noise and `sample`.
        decoder_outputs: `"auto"` (probabilities if the decoder ends in a
            sigmoid, else logits), `"logits"` or `"probabilities"`. Only
            used by the Bernoulli likelihood.
        gaussian_variance: Fixed variance of the Gaussian likelihood.

    Example:

    >>> import numpy as np
    >>> from vae_keras import VAE, networks
    >>> vae = VAE(networks.dense_encoder((8, 8, 1), 2, hidden_units=(16,)),
    ...           networks.dense_decoder(2, (8, 8, 1), hidden_units=(16,)), seed=0)
    >>> vae.compile(optimizer="adam")
    >>> x = np.random.default_rng(0).uniform(size=(32, 8, 8, 1)).astype("float32")
    >>> history = vae.fit(x, epochs=1, batch_size=16, verbose=0)
    >>> sorted(history.history)
    ['kl_loss', 'loss', 'reconstruction_loss']
    >>> vae.sample(3, seed=1).shape
    (3, 8, 8, 1)
    """

    loss_names = ("loss", "reconstruction_loss", "kl_loss")

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        beta: float = 1.0,
        reconstruction_weight: float = 1.0,
        likelihood: str = "bernoulli",
        seed: int | None = None,
        decoder_outputs: str = "auto",
        gaussian_variance: float = 0.5,
        **kwargs,
    ):
        if likelihood not in LIKELIHOODS:
            raise ValueError(
                f"Unknown likelihood {likelihood!r}. Use one of {LIKELIHOODS}. "
                f"Received: likelihood={likelihood!r}"
            )
        if decoder_outputs not in DECODER_OUTPUTS:
            raise ValueError(
                f"`decoder_outputs` must be one of {DECODER_OUTPUTS}. "
                f"Received: decoder_outputs={decoder_outputs!r}"
            )
        beta = check_non_negative(beta, "beta")
        reconstruction_weight = check_non_negative(reconstruction_weight, "reconstruction_weight")
        gaussian_variance = check_non_negative(gaussian_variance, "gaussian_variance")
        if gaussian_variance == 0:
            raise ValueError("`gaussian_variance` must be > 0. Received: gaussian_variance=0")
        input_shape, latent_dim = check_pair(encoder, decoder)
        super().__init__(**kwargs)

        # === Layers ===
        self.encoder = encoder
        self.decoder = decoder
        self.sampler = Sampling(seed=seed, name="sampling")
        self.prior_seed_generator = keras.random.SeedGenerator(
            None if seed is None else seed + 1, name="prior_seed_generator"
        )
        # Variables, not floats: a traced train step reads their current value.
        self._beta = keras.Variable(beta, trainable=False, dtype="float32", name="beta")
        self._reconstruction_weight = keras.Variable(
            reconstruction_weight, trainable=False, dtype="float32", name="reconstruction_weight"
        )
        self._init_trackers()

        # === Config ===
        self.input_shape_ = input_shape
        self.latent_dim = latent_dim
        self.likelihood = likelihood
        self.seed = seed
        self.decoder_outputs = decoder_outputs
        self.gaussian_variance = gaussian_variance
        self._initial_beta = beta
        self._initial_reconstruction_weight = reconstruction_weight
        self._probabilities = decoder_outputs == "probabilities" or (
            decoder_outputs == "auto" and decoder_emits_probabilities(decoder)
        )
        self._needs_unit_interval = likelihood == "bernoulli"
        self.built = True

    # === Loss weights ===

    @property
    def beta(self):
        """Weight of the KL term (a non-trainable variable); assign a float to change it."""
        return self._beta

    @beta.setter
    def beta(self, value):
        self._assign_weight(self._beta, check_non_negative(value, "beta"))

    @property
    def reconstruction_weight(self):
        """Weight of the reconstruction term (a non-trainable variable)."""
        return self._reconstruction_weight

    @reconstruction_weight.setter
    def reconstruction_weight(self, value):
        self._assign_weight(
            self._reconstruction_weight, check_non_negative(value, "reconstruction_weight")
        )

    def _assign_weight(self, variable, value):
        # During a JAX `fit`, the live values sit in the trainer's state; sync
        # them back first so the next step re-reads the variables.
        if keras.backend.backend() == "jax" and hasattr(self, "jax_state_sync"):
            self.jax_state_sync()
        variable.assign(value)

    # === Loss math (shared by every backend's train_step and test_step) ===

    def reconstruction_nll(self, target, outputs):
        """-log p(target | decoder outputs), per example, in nats."""
        outputs = ops.cast(outputs, "float32")
        if self.likelihood == "gaussian":
            return losses.gaussian_nll(target, outputs, math.log(self.gaussian_variance))
        if self._probabilities:
            return losses.bernoulli_nll_from_probabilities(target, outputs)
        return losses.bernoulli_nll(target, outputs)

    def compute_losses(self, x, y=None, training=False):
        """The negative ELBO and its terms, batch means of per-example sums."""
        target = x if y is None else y
        z_mean, z_log_var = self._encode_tensors(x, training=training)
        z = self.sampler([z_mean, z_log_var])
        outputs = self.decoder(z, training=training)
        reconstruction_loss = ops.mean(self.reconstruction_nll(target, outputs))
        kl_loss = ops.mean(losses.kl_divergence(z_mean, z_log_var))
        loss = self._reconstruction_weight * reconstruction_loss + self._beta * kl_loss
        return {"loss": loss, "reconstruction_loss": reconstruction_loss, "kl_loss": kl_loss}

    # === Inference ===

    def _decode_tensors(self, z, training=False):
        outputs = ops.cast(self.decoder(z, training=training), "float32")
        if self.likelihood == "bernoulli" and not self._probabilities:
            return ops.sigmoid(outputs)
        return outputs

    def call(self, inputs, training=False):
        """Deterministic reconstruction: decodes `z_mean`."""
        z_mean, _ = self._encode_tensors(inputs, training=training)
        return self._decode_tensors(z_mean, training=training)

    def decode(self, z, batch_size: int = 256):
        """Decodes latent codes to data space (probabilities or means), as NumPy."""
        from vae_keras.validation import check_data

        z = check_data(z, (self.latent_dim,), "z")
        return self._batched(
            lambda zb: ops.convert_to_numpy(self._decode_tensors(zb)), [z], batch_size
        )

    def reconstruct(self, x, batch_size: int = 256):
        """Deterministic reconstruction `decode(z_mean)`, as NumPy."""
        x = self.check_inputs(x)
        return self._batched(lambda xb: ops.convert_to_numpy(self(xb)), [x], batch_size)

    def sample(self, num_samples: int, seed: int | None = None, batch_size: int = 256):
        """Decodes `num_samples` draws from the prior N(0, I), as NumPy.

        With `seed`, the same call returns the same samples; without, each
        call draws fresh ones from the model's own seed generator.
        """
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(
                f"`num_samples` must be a positive integer. Received: num_samples={num_samples!r}"
            )
        z = keras.random.normal(
            (num_samples, self.latent_dim),
            seed=self.prior_seed_generator if seed is None else seed,
        )
        return self.decode(ops.convert_to_numpy(z), batch_size=batch_size)

    # === Config ===

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "beta": self._initial_beta,
            "reconstruction_weight": self._initial_reconstruction_weight,
            "likelihood": self.likelihood,
            "seed": self.seed,
            "decoder_outputs": self.decoder_outputs,
            "gaussian_variance": self.gaussian_variance,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
