"""FactorVAE (Kim & Mnih, 2018, "Disentangling by Factorising")."""

import keras
from keras import ops

from vae_keras.models.vae import VAE
from vae_keras.validation import check_non_negative


def default_discriminator(latent_dim: int, hidden_units=(256, 256, 256), name="discriminator"):
    """The total-correlation discriminator: an MLP `z -> logit` with
    LeakyReLU(0.2) hidden layers (the paper uses 6 layers of 1000 units)."""
    inputs = keras.Input((latent_dim,), name="z")
    h = inputs
    for i, units in enumerate(hidden_units):
        h = keras.layers.Dense(units, name=f"dense_{i}")(h)
        h = keras.layers.LeakyReLU(0.2, name=f"leaky_relu_{i}")(h)
    logit = keras.layers.Dense(1, name="logit", dtype="float32")(h)
    return keras.Model(inputs, logit, name=name)


def permute_dims(z, seed):
    """Shuffles each latent dimension independently across the batch: a
    sample of `prod_d q(z_d)` from a sample of `q(z)` (the paper's Algorithm 2)."""
    keys = keras.random.uniform(ops.shape(z), seed=seed)
    return ops.take_along_axis(z, ops.argsort(keys, axis=0), axis=0)


@keras.saving.register_keras_serializable(package="vae_keras")
class FactorVAE(VAE):
    """A `VAE` with a total-correlation penalty estimated by a discriminator.

        loss = reconstruction_weight * reconstruction_loss + beta * kl_loss
               + gamma * total_correlation

    A discriminator `D` learns to tell codes `z ~ q(z)` from codes whose
    dimensions were shuffled independently across the batch (samples of
    `prod_d q(z_d)`); by the density-ratio trick its logit estimates
    `log q(z) / prod_d q(z_d)`, so `total_correlation = mean(D(z))`. The
    discriminator is trained in the same `train_step`, on the same batch,
    by its own optimizer (on TensorFlow, JAX and PyTorch), minimising
    `discriminator_loss` (binary cross-entropy, `z` detached); the VAE's
    optimizer (`compile(optimizer=...)`) never updates it.

    `fit`/`evaluate` report `loss`, `reconstruction_loss`, `kl_loss`,
    `total_correlation` and `discriminator_loss` (`log 2 ~ 0.69` means the
    discriminator cannot tell the two apart). `gamma` is a variable a
    callback may change.

    Args:
        encoder, decoder: As for `VAE`.
        gamma: Weight of the total correlation (the paper's γ; 6.4 to 40 on
            dSprites).
        discriminator: A `keras.Model` `(latent_dim,) -> (1,)` logit, or
            `None` for `default_discriminator(latent_dim)`.
        discriminator_optimizer: Its optimizer; `None` for the paper's Adam
            (learning rate 1e-4, beta_1 0.5, beta_2 0.9).
        **kwargs: Other `VAE` arguments (`beta`, `likelihood`, `seed`, ...).

    Example:

    >>> import numpy as np
    >>> from vae_keras import networks
    >>> from vae_keras.models import FactorVAE
    >>> model = FactorVAE(networks.dense_encoder((8, 8, 1), 2, hidden_units=(16,)),
    ...                   networks.dense_decoder(2, (8, 8, 1), hidden_units=(16,)), seed=0)
    >>> model.compile(optimizer="adam")
    >>> x = np.random.default_rng(0).uniform(size=(32, 8, 8, 1)).astype("float32")
    >>> sorted(model.fit(x, epochs=1, batch_size=16, verbose=0).history)
    ['discriminator_loss', 'kl_loss', 'loss', 'reconstruction_loss', 'total_correlation']
    """

    loss_names = VAE.loss_names + ("total_correlation", "discriminator_loss")
    # Its objective is not the ELBO, so no importance-weighted twin bounds the same thing.
    capabilities = VAE.capabilities.replace(importance_weighted=None)

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        gamma: float = 10.0,
        discriminator: keras.Model | None = None,
        discriminator_optimizer=None,
        **kwargs,
    ):
        gamma = check_non_negative(gamma, "gamma")
        super().__init__(encoder, decoder, **kwargs)
        if discriminator is None:
            discriminator = default_discriminator(self.latent_dim)
        if not isinstance(discriminator, keras.Model) or tuple(
            discriminator.outputs[0].shape[1:]
        ) not in ((1,), ()):
            raise ValueError(
                "`discriminator` must be a functional keras.Model mapping a code of "
                f"{self.latent_dim} dimensions to one logit. Received: {discriminator!r}; "
                "see `vae_keras.models.factor_vae.default_discriminator`."
            )
        if discriminator_optimizer is None:
            discriminator_optimizer = keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9)
        elif isinstance(discriminator_optimizer, (str, dict)):
            discriminator_optimizer = keras.optimizers.get(discriminator_optimizer)

        # === Layers ===
        self.discriminator = discriminator
        seed = kwargs.get("seed")
        self.permutation_seed_generator = keras.random.SeedGenerator(
            None if seed is None else seed + 3, name="permutation_seed_generator"
        )
        # Its slots are the model's variables: saved with it, carried by JAX's state.
        discriminator_optimizer.build(discriminator.trainable_variables)
        self.discriminator_optimizer = discriminator_optimizer
        self._discriminator_optimizer_variables = list(discriminator_optimizer.variables)
        self._gamma = keras.Variable(gamma, trainable=False, dtype="float32", name="gamma")
        self._initial_gamma = gamma

    @property
    def gamma(self):
        """Weight of the total correlation (a non-trainable variable)."""
        return self._gamma

    @gamma.setter
    def gamma(self, value):
        self._assign_weight(self._gamma, check_non_negative(value, "gamma"))

    # === Training ===

    def _vae_variables(self):
        excluded = {id(v) for v in self.discriminator.trainable_variables}
        return [v for v in self.trainable_variables if id(v) not in excluded]

    def objectives(self):
        return [
            ("loss", self.optimizer, self._vae_variables()),
            (
                "discriminator_loss",
                self.discriminator_optimizer,
                list(self.discriminator.trainable_variables),
            ),
        ]

    def compile(self, optimizer="adam", **kwargs):
        """Configures training; the VAE's `optimizer` updates all but the discriminator."""
        super().compile(optimizer=optimizer, **kwargs)
        self.optimizer.build(self._vae_variables())

    def regularizer(self, elbo, training=False):
        """`beta * KL + gamma * TC`, the total correlation estimated by the discriminator's
        logit; its own loss (trained by `discriminator_optimizer`) rides along as a metric."""
        z = elbo.z
        logits = ops.reshape(ops.cast(self.discriminator(z, training=training), "float32"), (-1,))
        total_correlation = ops.mean(logits)
        fixed = ops.stop_gradient(z)
        joint = ops.reshape(self.discriminator(fixed, training=training), (-1,))
        shuffled = permute_dims(fixed, self.permutation_seed_generator)
        product = ops.reshape(self.discriminator(shuffled, training=training), (-1,))
        # -log D(z) - log(1 - D(z_perm)), D = sigmoid(logit): softplus forms.
        discriminator_loss = 0.5 * ops.mean(
            ops.softplus(-ops.cast(joint, "float32")) + ops.softplus(ops.cast(product, "float32"))
        )
        penalty = self._beta * elbo.kl_penalty + self._gamma * total_correlation
        return penalty, {
            "total_correlation": total_correlation,
            "discriminator_loss": discriminator_loss,
        }

    # === Config ===

    def get_config(self):
        return {
            **super().get_config(),
            "gamma": self._initial_gamma,
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "discriminator_optimizer": keras.saving.serialize_keras_object(
                self.discriminator_optimizer
            ),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("discriminator", "discriminator_optimizer"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return super().from_config(config)
