"""The variational autoencoder of Kingma & Welling (2014), as the slides build it."""

import numbers
from typing import NamedTuple

import keras
from keras import ops

from vae_keras import priors
from vae_keras.layers import Sampling
from vae_keras.models._corruption import check_corruption
from vae_keras.models._reconstruction import (  # noqa: F401  (re-exported names)
    DECODER_OUTPUTS,
    LIKELIHOODS,
    ReconstructionModel,
    check_likelihood,
    decoder_emits_probabilities,
    output_channels_of,
)
from vae_keras.models.base import check_pair, split_concatenated_encoder
from vae_keras.validation import check_non_negative, check_positive_int


class ElboPass(NamedTuple):
    """What one pass of the ELBO computes; objectives add their terms to it."""

    z_mean: object
    z_log_var: object
    z: object  # one sample of q(z | x)
    reconstruction_loss: object  # batch mean of -log p(x | z)
    kl_loss: object  # batch mean of KL(q(z | x) || p(z)), the reported KL
    kl_penalty: object  # the KL term the loss weighs by beta (free bits clamp it)


@keras.saving.register_keras_serializable(package="vae_keras")
class VAE(ReconstructionModel):
    """Variational autoencoder with its own `train_step`.

    Training minimises the negative ELBO, per example, averaged over the
    batch, so every figure reads in nats per example:

        loss = reconstruction_weight * reconstruction_loss + beta * kl_loss

    where `reconstruction_loss = -log p(x | z)` summed over pixels for one
    sample `z = z_mean + exp(0.5 * z_log_var) * eps` (the `Sampling` layer),
    and `kl_loss = KL(q(z | x) || p(z))` (closed-form for the default `N(0, I)`). `fit` and `evaluate` report
    `loss`, `reconstruction_loss` and `kl_loss` (and `val_*`).

    Likelihoods:
    - `"bernoulli"`: binary cross-entropy summed over pixels; data must lie
      in [0, 1]. Computed from logits (stable when pixels are exactly 0 or 1
      and the decoder saturates). `decode` returns probabilities.
    - `"discretized_logistic"`: 8-bit data (`k / 255`): each sub-pixel's
      value has the mass of its bin under a logistic (PixelCNN++); the
      decoder emits a location and a log-scale per sub-pixel (`2 * C`
      channels, e.g. `networks.conv_decoder(..., output_channels=6)` for
      RGB). A probability mass, so `fit`/`evaluate` also report
      `bits_per_dim` (the negative ELBO over `D ln 2`, 0-255 scale).
      `likelihoods.DiscretizedLogistic(num_mixtures=K)` is its mixture.
      `decode` returns the means.
    - `"gaussian"`: `N(x; decoder(z), variance)`. With a fixed variance
      (default 1/2) the term is the summed squared error of the slides plus
      the constant `0.5 * D * log(pi)` (a true NLL in nats). With
      `gaussian_variance="learned"` the model trains one log-variance shared
      by all pixels; with `"learned_per_pixel"`, one per pixel. Both start
      at variance 1/2 and are clipped to [1e-3, 1e3]; read them with
      `model.output_variance`. `decode` returns the means.

    `beta` and `reconstruction_weight` are variables: set them at any time,
    also from a callback during `fit`, on every backend (`model.beta = 0.5`).

    Free bits (Kingma et al., 2016, "Improved variational inference with
    inverse autoregressive flow"): with `free_bits=lam > 0` the KL term of
    the loss becomes `sum_j max(lam, KL_j)`, where `KL_j` is the batch mean
    of the KL of latent dimension `j`: a dimension below `lam` nats costs a
    constant and gets no gradient pushing it further towards the prior,
    which fights posterior collapse. `kl_loss` still reports the true KL,
    so then `loss >= reconstruction_weight * reconstruction_loss + beta * kl_loss`.

    Denoising: with `corruption="gaussian"` (noise of standard deviation
    `corruption_level`, clipped to [0, 1] under the Bernoulli likelihood) or
    `corruption="mask"` (each pixel zeroed with probability
    `corruption_level`), the encoder sees a corrupted input during training
    only, and the loss reconstructs the clean one (or `y` when given).
    `evaluate`, `encode` and `reconstruct` see clean inputs. `model.corrupt(x)`
    shows what training sees.

    Args:
        encoder: A `keras.Model` mapping `x` to `[z_mean, z_log_var]` (a
            third output `z` is ignored), e.g. `networks.conv_encoder`. One
            output of even width `2k` (TensorFlow's CVAE tutorial design) is
            split: the first `k` columns are `z_mean`, the last `k` `z_log_var`.
        decoder: A `keras.Model` mapping `z` to `x`-shaped outputs: logits or
            probabilities (Bernoulli) or means (Gaussian).
        beta: Weight of the KL term (beta-VAE; 1.0 is the ELBO).
        reconstruction_weight: Weight of the reconstruction term.
        likelihood: `"bernoulli"`, `"gaussian"`, `"discretized_logistic"`, or
            a `vae_keras.likelihoods.Likelihood` instance.
        seed: Integer seed for the sampling noise, the corruption noise and
            `sample`.
        decoder_outputs: `"auto"` (probabilities if the decoder ends in a
            sigmoid, else logits), `"logits"` or `"probabilities"`. Only
            used by the Bernoulli likelihood.
        gaussian_variance: Variance of the Gaussian likelihood: a number
            (fixed), `"learned"` or `"learned_per_pixel"`.
        free_bits: Minimum KL per latent dimension, in nats (0 disables).
        corruption: `None`, `"gaussian"` or `"mask"` (denoising).
        corruption_level: Noise standard deviation (`"gaussian"`) or
            masking probability (`"mask"`, < 1).
        prior: The prior `p(z)`: None or `"standard_normal"` (`N(0, I)`, the
            default), `"vampprior"`, `"mixture"`, or a `vae_keras.priors.Prior`
            (e.g. `priors.VampPrior(num_components=50)`); kept in `model.prior`.

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
    capabilities = ReconstructionModel.capabilities.replace(
        posterior=True, kl_weight=True, importance_weighted="vae_keras>IWAE"
    )

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        beta: float = 1.0,
        reconstruction_weight: float = 1.0,
        likelihood: str = "bernoulli",
        seed: int | None = None,
        decoder_outputs: str = "auto",
        gaussian_variance: float | str = 0.5,
        free_bits: float = 0.0,
        corruption: str | None = None,
        corruption_level: float = 0.25,
        prior=None,
        **kwargs,
    ):
        gaussian_variance = check_likelihood(likelihood, decoder_outputs, gaussian_variance)
        beta = check_non_negative(beta, "beta")
        reconstruction_weight = check_non_negative(reconstruction_weight, "reconstruction_weight")
        free_bits = check_non_negative(free_bits, "free_bits")
        corruption_level = check_corruption(corruption, corruption_level)
        encoder = split_concatenated_encoder(encoder)  # one `[z_mean | z_log_var]` output
        input_shape, latent_dim = self._check_networks(
            encoder, decoder, output_channels=output_channels_of(likelihood)
        )
        super().__init__(**kwargs)

        # === Layers ===
        self.encoder = encoder
        self.decoder = decoder
        # float32 under a mixed-precision policy too: the noise, and the
        # code the loss and the decoder see, keep full precision.
        self.sampler = Sampling(seed=seed, name="sampling", dtype="float32")
        self._init_reconstruction(
            input_shape=input_shape,
            latent_dim=latent_dim,
            likelihood=likelihood,
            decoder_outputs=decoder_outputs,
            gaussian_variance=gaussian_variance,
            corruption=corruption,
            corruption_level=corruption_level,
            seed=seed,
        )
        self._init_prior(prior)
        if free_bits and not self.prior.factorises:
            raise ValueError(
                f"Free bits clamp the KL per latent dimension, which {self.prior!r} does not "
                f"factorise into. Received: free_bits={free_bits!r}; use free_bits=0 or "
                "prior='standard_normal'."
            )
        # Variables, not floats: a traced train step reads their current value.
        self._beta = keras.Variable(beta, trainable=False, dtype="float32", name="beta")
        self._reconstruction_weight = keras.Variable(
            reconstruction_weight, trainable=False, dtype="float32", name="reconstruction_weight"
        )
        if self._reports_bits_per_dim:
            self.loss_names = type(self).loss_names + ("bits_per_dim",)
        self._init_trackers()

        # === Config ===
        self.free_bits = free_bits
        self._initial_beta = beta
        self._initial_reconstruction_weight = reconstruction_weight
        self.built = True

    _check_networks = staticmethod(check_pair)

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

    def _prior_draws(self, num_samples, seed):
        # NumPy integers are integers too: `sample(np.int64(5), seed=np.int64(1))`.
        if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
            seed = int(seed)
        return super()._prior_draws(check_positive_int(num_samples, "num_samples"), seed)

    # === Loss math (shared by every backend's train_step and test_step) ===

    def kl_terms(self, z_mean, z_log_var, z=None):
        """Returns `(kl_loss, kl_penalty)`: the batch-mean KL to `model.prior`, and the term
        the loss weights by `beta` (the same, or the free-bits clamp of it). The KL is the
        prior's closed form when it has one, else the single-sample `log q(z|x) - log p(z)`
        at the code `z`."""
        if not self.free_bits:
            kl_loss = ops.mean(self.prior.kl(z_mean, z_log_var, z))
            return kl_loss, kl_loss
        per_dimension = ops.mean(self.prior.kl_per_dimension(z_mean, z_log_var), axis=0)
        return ops.sum(per_dimension), ops.sum(ops.maximum(per_dimension, self.free_bits))

    def encode_pass(self, x, y=None, training=False):
        """The start every objective shares: `(target, condition, z_mean, z_log_var)`.

        Splits the labels off a conditional input, corrupts the encoder's input in
        training (denoising), and encodes; `target` is `y` when given, else the clean data.
        """
        data, condition = self._split_inputs(x)
        target = data if y is None else y
        inputs = self._encoder_inputs(self.corrupt_inputs(data, training), condition)
        z_mean, z_log_var = self.encode_tensors(inputs, training=training)
        return target, condition, z_mean, z_log_var

    def elbo_pass(self, x, y=None, training=False) -> "ElboPass":
        """The one-sample ELBO pass: encode, sample `z`, reconstruct, and the KL terms."""
        target, condition, z_mean, z_log_var = self.encode_pass(x, y, training=training)
        z = self.sampler([z_mean, z_log_var])
        reconstruction_loss = ops.mean(self.codes_nll(target, z, condition, training=training))
        kl_loss, kl_penalty = self.kl_terms(z_mean, z_log_var, z)
        return ElboPass(z_mean, z_log_var, z, reconstruction_loss, kl_loss, kl_penalty)

    def regularizer(self, elbo: "ElboPass", training=False):
        """What the objective adds to the weighted reconstruction term: `(penalty, metrics)`.

        β-VAE's is `beta * KL` (with free bits, their clamp of it). Variants override this
        alone, as disentanglement_lib's `regularizer` (β-TCVAE: the KL's decomposition;
        FactorVAE: plus the discriminator's total correlation); `metrics` are the extra
        terms they report, by name.
        """
        return self._beta * elbo.kl_penalty, {}

    def compute_losses(self, x, y=None, training=False):
        """The objective and its terms, batch means of per-example sums."""
        elbo = self.elbo_pass(x, y, training=training)
        penalty, metrics = self.regularizer(elbo, training=training)
        results = {
            "loss": self._reconstruction_weight * elbo.reconstruction_loss + penalty,
            "reconstruction_loss": elbo.reconstruction_loss,
            "kl_loss": elbo.kl_loss,
            **metrics,
        }
        # The negative ELBO, whatever the objective weighs.
        return self.with_bits_per_dim(results, elbo.reconstruction_loss + elbo.kl_loss)

    def fit(self, x=None, y=None, *args, **kwargs):
        """`LatentModel.fit`; first shows the data to the prior (`prior.adapt`: a VampPrior's
        pseudo-inputs start as the first examples)."""
        if x is not None:
            self.prior.adapt(x)
        return super().fit(x, y, *args, **kwargs)

    # === Config ===

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "beta": self._initial_beta,
            "reconstruction_weight": self._initial_reconstruction_weight,
            **self._reconstruction_config(),
            "free_bits": self.free_bits,
            "prior": priors.serialize(self.prior),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
