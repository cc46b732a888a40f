"""What `AE`, `VAE` and their variants share on the data side: the decoder's
likelihood (a `vae_keras.likelihoods` object: Bernoulli, Gaussian with a fixed
or learned variance, discretized logistic),
training-time input corruption (denoising), and batched NumPy-in/NumPy-out
decoding, reconstruction and sampling.

Subclasses with a conditioning input (`ConditionalVAE`) override three hooks:
`_split_inputs`, `_encoder_inputs` and `_decode_raw`.
"""

import math

import keras
import numpy as np
from keras import ops

from vae_keras import likelihoods, priors
from vae_keras.models import _corruption, _serving
from vae_keras.models.base import LatentModel
from vae_keras.models.capabilities import ENDPOINTS, require
from vae_keras.validation import check_data

LIKELIHOODS = likelihoods.NAMES
DECODER_OUTPUTS = ("auto", "logits", "probabilities")
LEARNED_VARIANCES = likelihoods.LEARNED_VARIANCES
# A learned Gaussian variance is clipped to [1e-3, 1e3]: without a floor, pixels
# that never vary (MNIST's border) drive it to 0 and the likelihood to infinity.
MIN_LOG_VARIANCE = math.log(1e-3)
MAX_LOG_VARIANCE = math.log(1e3)
_SHAPE_ONLY_LAYERS = (keras.layers.Reshape, keras.layers.Cropping2D, keras.layers.Flatten)


def decoder_emits_probabilities(decoder) -> bool:
    """True when the decoder's last computing layer ends in a sigmoid."""
    for layer in reversed(decoder.layers):
        if isinstance(layer, (keras.layers.InputLayer,) + _SHAPE_ONLY_LAYERS):
            continue
        if isinstance(layer, keras.Model):  # a nested network, e.g. conditional_decoder's body
            return decoder_emits_probabilities(layer)
        activation = getattr(layer, "activation", None)
        # `Activation("sigmoid")` holds keras.activations.sigmoid; `Activation(ops.sigmoid)` does not.
        return activation in (keras.activations.sigmoid, keras.ops.sigmoid) or (
            getattr(activation, "__name__", None) == "sigmoid"
        )
    return False


def likelihood_argument(likelihood):
    """A likelihood name, or a `Likelihood` (also from its serialized config, as saved)."""
    if isinstance(likelihood, dict):
        return keras.saving.deserialize_keras_object(likelihood)
    return likelihood


def check_likelihood(likelihood, decoder_outputs, gaussian_variance):
    """Validates the likelihood arguments; returns `gaussian_variance` (float or str)."""
    likelihood = likelihood_argument(likelihood)
    if (
        likelihood is not None
        and not isinstance(likelihood, likelihoods.Likelihood)
        and likelihood not in LIKELIHOODS
    ):
        raise ValueError(
            f"Unknown likelihood {likelihood!r}. Use one of {LIKELIHOODS} or a "
            "`vae_keras.likelihoods.Likelihood` instance. "
            f"Received: likelihood={likelihood!r}"
        )
    if decoder_outputs not in DECODER_OUTPUTS:
        raise ValueError(
            f"`decoder_outputs` must be one of {DECODER_OUTPUTS}. "
            f"Received: decoder_outputs={decoder_outputs!r}"
        )
    if isinstance(gaussian_variance, str):
        if gaussian_variance not in LEARNED_VARIANCES:
            raise ValueError(
                "`gaussian_variance` must be a number > 0 or one of "
                f"{LEARNED_VARIANCES}. Received: gaussian_variance={gaussian_variance!r}"
            )
        return gaussian_variance
    try:
        value = float(gaussian_variance)
    except (TypeError, ValueError):
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(
            "`gaussian_variance` must be a finite number > 0 or one of "
            f"{LEARNED_VARIANCES}. Received: gaussian_variance={gaussian_variance!r}"
        )
    return value


def make_likelihood(likelihood, decoder, decoder_outputs, gaussian_variance=0.5):
    """The `Likelihood` object for a model's constructor arguments.

    None and `"bernoulli"` decide probabilities or logits from the decoder (`decoder_outputs`);
    `"gaussian"` takes `gaussian_variance` (a number, `"learned"` or `"learned_per_pixel"`)."""
    likelihood = likelihood_argument(likelihood)
    if isinstance(likelihood, likelihoods.Likelihood):
        return likelihood
    if likelihood is None or likelihood == "bernoulli":
        probabilities = decoder_outputs == "probabilities" or (
            decoder_outputs == "auto" and decoder_emits_probabilities(decoder)
        )
        return likelihoods.Bernoulli(from_probabilities=probabilities)
    if likelihood == "gaussian":
        return likelihoods.Gaussian(variance=gaussian_variance)
    return likelihoods.get(likelihood)


def output_channels_of(likelihood):
    """`channels -> decoder channels` for a likelihood argument (name or object)."""
    likelihood = likelihood_argument(likelihood)
    if isinstance(likelihood, likelihoods.Likelihood):
        return likelihood.output_channels
    return likelihoods.get(likelihood).output_channels if likelihood in LIKELIHOODS else None


def _tile(tensor, k):
    """`k` copies of a batch, sample-major (the layout of `k` codes per example)."""
    return ops.tile(tensor, (k,) + (1,) * (len(tensor.shape) - 1))


class ReconstructionModel(LatentModel):
    """Base of `AE` and `VAE`: likelihood, corruption and decoding.

    Subclasses assign `self.encoder` and `self.decoder`, then call
    `_init_reconstruction(...)` and define `compute_losses`.
    """

    capabilities = LatentModel.capabilities.replace(
        decode=True,
        reconstruct=True,
        samples=True,
        latent_vector=True,
        likelihood=True,
        single_pass_decoder=True,
        export_endpoints=ENDPOINTS,
    )

    def _init_reconstruction(
        self,
        *,
        input_shape,
        latent_dim,
        likelihood,
        decoder_outputs,
        gaussian_variance,
        corruption,
        corruption_level,
        seed,
    ):
        self.prior_seed_generator = keras.random.SeedGenerator(
            None if seed is None else seed + 1, name="prior_seed_generator"
        )
        self.corruption_seed_generator = None
        if corruption is not None:
            self.corruption_seed_generator = keras.random.SeedGenerator(
                None if seed is None else seed + 2, name="corruption_seed_generator"
            )
        self.gaussian_log_variance = None
        self._likelihood = make_likelihood(
            likelihood, self.decoder, decoder_outputs, gaussian_variance
        )
        learned = self._likelihood.learned_variance  # the likelihood asks; the model owns it
        if learned is not None:
            shape = () if learned == "learned" else tuple(input_shape)
            if any(d is None for d in shape):
                raise ValueError(
                    f"A variance {learned!r} per pixel needs a fixed input shape. "
                    f"Received input shape {tuple(input_shape)}; use 'learned' instead."
                )
            self.gaussian_log_variance = self.add_weight(
                shape=shape,
                initializer=keras.initializers.Constant(math.log(0.5)),
                trainable=True,
                name="gaussian_log_variance",
            )
        self.input_shape_ = input_shape
        self.latent_dim = latent_dim
        self.likelihood = likelihood_argument(likelihood)
        self.decoder_outputs = decoder_outputs
        self.gaussian_variance = gaussian_variance
        self.corruption = corruption
        self.corruption_level = corruption_level
        self.seed = seed
        if learned is not None:
            self._likelihood.log_variance = self._gaussian_log_var  # reads the weight, clipped
        self._needs_unit_interval = self._likelihood.unit_interval

    def _init_prior(self, prior=None):
        """`model.prior`, the `priors.Prior` over the code that `sample` draws from (and a
        VAE's KL is to): N(0, I) unless given. After `_init_reconstruction`. (`VQVAE`'s prior
        is over discrete codes, its own.)"""
        self.prior = priors.get(prior)
        self.prior.attach(
            self.latent_dim, encoder=self.prior_encoder(), input_shape=self.input_shape_
        )

    def prior_encoder(self):
        """The encoder a prior may mix posteriors of (`priors.VampPrior`): `x -> (z_mean,
        z_log_var)` as tensors; None when the encoder reads more than `x` (labels)."""
        return self.encode_tensors

    def serving_functions(self):
        """The SavedModel endpoints (`LatentModel.serving_functions`); `sample` draws from
        `model.prior` (its mixture parameters as exported)."""
        require(self, "export_endpoints", "SavedModel export")
        return _serving.continuous_serving(self, mixture=self.prior.mixture_parameters())

    def prior_codes(self, eps, seed=None):
        """Codes from `model.prior` given standard normal noise `eps` `(n, latent_dim)`
        (NumPy in and out; a mixture also draws components with `seed`): `N(0, I)` returns
        `eps` itself. What fixed-noise pictures (`callbacks.SampleGrid`) decode."""
        z = self.prior.from_noise(ops.convert_to_tensor(np.asarray(eps, "float32")), seed)
        return np.asarray(ops.convert_to_numpy(z), "float32")

    def prior_quantiles(self, q, dim):
        """Quantiles `q` of the prior's marginal along latent dimension `dim` (NumPy)."""
        return self.prior.quantiles(q, dim)

    @property
    def likelihood_object(self) -> likelihoods.Likelihood:
        """The model's `vae_keras.likelihoods.Likelihood` (what `likelihood` names)."""
        return self._likelihood

    @property
    def _probabilities(self):
        return getattr(self._likelihood, "from_probabilities", False)

    @_probabilities.setter
    def _probabilities(self, value):
        # A decoder that emits features for another head (PixelVAE) forces logits.
        self._likelihood.from_probabilities = bool(value)

    def _reconstruction_config(self):
        likelihood = self.likelihood
        if isinstance(likelihood, likelihoods.Likelihood):
            likelihood = keras.saving.serialize_keras_object(likelihood)
        return {
            "likelihood": likelihood,
            "seed": self.seed,
            "decoder_outputs": self.decoder_outputs,
            "gaussian_variance": self.gaussian_variance,
            "corruption": self.corruption,
            "corruption_level": self.corruption_level,
        }

    # === Hooks (conditional models override these) ===

    def _split_inputs(self, x):
        """Model inputs -> (data, condition); `condition` is None here."""
        return x, None

    def _encoder_inputs(self, data, condition):
        return data

    def _decode_raw(self, z, condition=None, training=False):
        return self.decoder(z, training=training)

    # === Likelihood ===

    def _gaussian_log_var(self):
        return ops.clip(self.gaussian_log_variance, MIN_LOG_VARIANCE, MAX_LOG_VARIANCE)

    @property
    def output_variance(self):
        """Variance of a Gaussian likelihood (NumPy: a scalar, or per pixel with a variance
        learned per pixel), given by name or as a `likelihoods.Gaussian`; None for others."""
        log_variance = self._likelihood.log_variance_value()
        if log_variance is None:
            return None
        return np.exp(np.asarray(ops.convert_to_numpy(log_variance), "float32"))

    def reconstruction_nll(self, target, outputs):
        """-log p(target | decoder outputs), per example, in nats."""
        return self._likelihood.nll(target, ops.cast(outputs, "float32"))

    def codes_nll(self, target, z, condition=None, training=False):
        """-log p(target | z) per row, in nats (autoregressive decoders override this)."""
        return self.reconstruction_nll(target, self._decode_raw(z, condition, training=training))

    def log_prob_given_codes(self, x, z, condition=None, training=False, num_samples=None):
        """log p(x | z) for `k` codes per example: `z` is `(k * batch, latent)`,
        sample-major (row `i * batch + b` is code `i` of example `b`); returns `(k * batch,)`.
        `num_samples` is `k` (needed inside a traced step, where batch sizes are unknown)."""
        x = ops.convert_to_tensor(x)
        k = num_samples or z.shape[0] // x.shape[0]
        if condition is not None:
            condition = _tile(condition, k)
        return -self.codes_nll(_tile(x, k), z, condition, training=training)

    # === Corruption (denoising) ===

    def corrupt_inputs(self, x, training=False):
        """The encoder's input in `compute_losses`: corrupted only when training."""
        if not training or self.corruption is None:
            return x
        return _corruption.corrupt(
            x,
            self.corruption,
            self.corruption_level,
            self.corruption_seed_generator,
            clip=self._needs_unit_interval,
        )

    def corrupt(self, x, seed: int | None = None):
        """Corrupts `x` the way training does (NumPy in and out), to look at it.

        Returns `x` unchanged when the model has no `corruption`.
        """
        x = check_data(x, self.input_shape_, "x")
        if self.corruption is None:
            return x
        out = _corruption.corrupt(
            x,
            self.corruption,
            self.corruption_level,
            self.corruption_seed_generator if seed is None else seed,
            clip=self._needs_unit_interval,
        )
        return ops.convert_to_numpy(out)

    # === Inference (NumPy in, NumPy out, batched) ===

    def decode_tensors(self, z, condition=None, training=False):
        """Codes (and a conditional model's one-hot `condition`) -> data space, as tensors."""
        outputs = ops.cast(self._decode_raw(z, condition, training=training), "float32")
        return self._likelihood.mean(outputs)

    # === Data checks beyond shape and range (e.g. the 8-bit grid) ===

    def check_inputs(self, x, name="x"):
        return self._likelihood.check_data(super().check_inputs(x, name), name)

    def check_targets(self, y, name="y"):
        return self._likelihood.check_data(super().check_targets(y, name), name)

    # === Bits per dimension (8-bit likelihoods) ===

    @property
    def _reports_bits_per_dim(self):
        return self._likelihood.discrete

    def _bits_per_dim(self, nll_nats):
        """Nats per example -> bits per dimension of the data."""
        return nll_nats / (math.prod(self.input_shape_) * math.log(2.0))

    def with_bits_per_dim(self, results: dict, nll_nats, name: str = "bits_per_dim") -> dict:
        """`results` with `name`: `nll_nats` in bits per dimension, when the likelihood is
        8-bit discrete (a probability mass, so the figure is the data's bits/dim)."""
        if self._reports_bits_per_dim:
            results[name] = self._bits_per_dim(nll_nats)
        return results

    def call(self, inputs, training=False):
        """Deterministic reconstruction: decodes `z_mean`."""
        data, condition = self._split_inputs(inputs)
        z_mean, _ = self.encode_tensors(self._encoder_inputs(data, condition), training=training)
        return self.decode_tensors(z_mean, condition, training=training)

    def decode(self, z, batch_size: int = 256):
        """Decodes latent codes to data space (probabilities or means), as NumPy."""
        z = check_data(z, (self.latent_dim,), "z")
        return self._batched(
            lambda zb: ops.convert_to_numpy(self.decode_tensors(zb)), [z], batch_size
        )

    def reconstruct(self, x, batch_size: int = 256):
        """Deterministic reconstruction `decode(z_mean)`, as NumPy."""
        x = self.check_inputs(x)
        return self._batched(lambda xb: ops.convert_to_numpy(self(xb)), [x], batch_size)

    def _prior_draws(self, num_samples, seed):
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(
                f"`num_samples` must be a positive integer. Received: num_samples={num_samples!r}"
            )
        z = self.prior.sample(num_samples, seed=self.prior_seed_generator if seed is None else seed)
        return ops.convert_to_numpy(z)

    def sample(self, num_samples: int, seed: int | None = None, batch_size: int = 256):
        """Decodes `num_samples` draws from the model's prior (`model.prior`), as NumPy.

        With `seed`, the same call returns the same samples; without, each
        call draws fresh ones from the model's own seed generator.
        """
        return self.decode(self._prior_draws(num_samples, seed), batch_size=batch_size)
