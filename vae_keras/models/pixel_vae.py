"""A VAE with an autoregressive (PixelCNN) decoder, after PixelVAE (Gulrajani et al., 2017)."""

import keras
import numpy as np
from keras import ops

from vae_keras import likelihoods
from vae_keras.models._reconstruction import _tile, likelihood_argument
from vae_keras.models.base import check_pair
from vae_keras.models.iwae import IWAE
from vae_keras.models.vae import VAE
from vae_keras.networks.autoregressive import PixelCNN
from vae_keras.networks.cached_pixelcnn import CachedPixelCNN, cached_generation_supported
from vae_keras.validation import check_data

SAMPLERS = ("cached", "banded")


def check_sampler(sampler):
    if sampler not in SAMPLERS:
        raise ValueError(f"`sampler` must be one of {SAMPLERS}. Received: sampler={sampler!r}")
    return sampler


def _check_pixel_networks(encoder, decoder, pixelcnn, likelihood):
    """Checks encoder -> decoder features -> PixelCNN; returns (input_shape, latent_dim)."""
    if not isinstance(pixelcnn, PixelCNN):
        raise ValueError(
            f"`pixelcnn` must be a `vae_keras.networks.PixelCNN`. Received: pixelcnn={pixelcnn!r}"
        )
    input_shape, latent_dim = check_pair(encoder, decoder, same_shape=False)
    # The decoder emits per-pixel features, not images: compare all but channels.
    features = tuple(decoder.outputs[0].shape[1:])
    wanted = input_shape[:-1] + (pixelcnn.feature_channels,)
    if features != wanted:
        raise ValueError(
            f"The decoder must emit per-pixel features shaped {wanted} (the image's height and "
            f"width, the PixelCNN's feature_channels); it emits {features}. Build it with "
            f"output_shape={wanted}."
        )
    if tuple(pixelcnn.image_shape) != input_shape:
        raise ValueError(
            f"The PixelCNN models images shaped {tuple(pixelcnn.image_shape)} but the encoder "
            f"reads {input_shape}. Build it with input_shape={input_shape}."
        )
    wanted = likelihood.output_channels(input_shape[-1])
    emitted = pixelcnn.output_channels or input_shape[-1]
    if emitted != wanted:
        raise ValueError(
            f"The {likelihood.name} likelihood needs {wanted} outputs per pixel for "
            f"{input_shape[-1]}-channel images; the PixelCNN emits {emitted}. Build it with "
            f"output_channels={wanted}."
        )
    return input_shape, latent_dim


@keras.saving.register_keras_serializable(package="vae_keras")
class PixelVAE(VAE):
    """A `VAE` whose decoder is autoregressive over pixels.

    `log p(x | z) = sum_i log p(x_i | pixelcnn(decoder(z), x_<i))`
    with pixels in raster order: the decoder turns `z` into per-pixel
    features (the global shape), and a small `networks.PixelCNN` refines each
    pixel from the pixels before it (local detail that `z` leaves uncertain).
    Training, `evaluate`, `evaluation.log_likelihood` and the metrics are
    exactly the `VAE`'s: only `log p(x | z)` changed, and it is still an
    exact log-likelihood, so the ELBO and the IWAE bound stay valid.

    Generation is sequential: `sample`, `decode` and `reconstruct` draw the
    pixels one at a time (`height * width` network calls over a few rows
    each) and return the probability each pixel was drawn with, given `z`
    and the pixels drawn before it. `model(x)` (and `call`) is the one-step
    -ahead prediction `p(x_i = 1 | z_mean, x_<i)` given the true pixels:
    one parallel pass, used to look at what the model expects.

    Args:
        encoder: As for `VAE`.
        decoder: A `keras.Model` from `z` to per-pixel features
            `(height, width, feature_channels)`, e.g.
            `networks.dense_decoder(latent, (28, 28, 4))`.
        pixelcnn: A `networks.PixelCNN` for the encoder's image shape with
            the decoder's `feature_channels`.
        **kwargs: Other `VAE` arguments (`beta`, `seed`, `free_bits`,
            `corruption`, ...). `likelihood` is `"bernoulli"` (binary
            images, the default) or `"discretized_logistic"` / a
            `likelihoods.DiscretizedLogistic(num_mixtures=K)` (8-bit colour
            images; the PixelCNN then emits that likelihood's
            `output_channels(C)` per pixel, and the colours of a pixel are
            coupled by the mixture's coefficients, as in PixelCNN++).

    Example:

    >>> import numpy as np
    >>> from vae_keras import networks
    >>> from vae_keras.models import PixelVAE
    >>> shape = (8, 8, 1)
    >>> vae = PixelVAE(networks.dense_encoder(shape, 2, hidden_units=(16,)),
    ...                networks.dense_decoder(2, (8, 8, 3), hidden_units=(16,)),
    ...                networks.PixelCNN(shape, feature_channels=3, filters=4, head_units=4),
    ...                seed=0)
    >>> vae.compile(optimizer="adam")
    >>> x = (np.random.default_rng(0).uniform(size=(32,) + shape) < 0.3).astype("float32")
    >>> sorted(vae.fit(x, epochs=1, batch_size=16, verbose=0).history)
    ['kl_loss', 'loss', 'reconstruction_loss']
    >>> vae.sample(2, seed=1).shape
    (2, 8, 8, 1)
    """

    # The decoder generates pixel by pixel (a Python loop): no single pass, no SavedModel.
    capabilities = VAE.capabilities.replace(
        single_pass_decoder=False, export_endpoints=(), importance_weighted="vae_keras>PixelIWAE"
    )

    def __init__(self, encoder: keras.Model, decoder: keras.Model, pixelcnn: PixelCNN, **kwargs):
        likelihood = likelihoods.get(likelihood_argument(kwargs.get("likelihood", "bernoulli")))
        if likelihood.name not in ("bernoulli", "discretized_logistic"):
            raise ValueError(
                "PixelVAE models binary pixels ('bernoulli') or 8-bit pixels "
                f"('discretized_logistic'). Received: likelihood={kwargs['likelihood']!r}; use VAE for "
                "a Gaussian likelihood."
            )
        if kwargs.get("decoder_outputs", "auto") == "probabilities":
            raise ValueError(
                "A PixelVAE decoder emits features, not probabilities. "
                "Received: decoder_outputs='probabilities'; leave it at 'auto'."
            )
        _check_pixel_networks(encoder, decoder, pixelcnn, likelihood)
        super().__init__(encoder, decoder, **kwargs)
        self.pixelcnn = pixelcnn
        if self._likelihood.binary:  # the PixelCNN emits logits, whatever the decoder ends in
            self._probabilities = False

    @staticmethod
    def _check_networks(encoder, decoder, output_channels=None):
        return check_pair(encoder, decoder, same_shape=False)  # the full check ran in __init__

    # === Likelihood ===

    def _features(self, z, training=False):
        return ops.cast(self.decoder(z, training=training), "float32")

    def codes_nll(self, target, z, condition=None, training=False):
        """-log p(target | z): the PixelCNN reads `target` (teacher forcing)."""
        target = ops.cast(target, "float32")
        outputs = self.pixelcnn([target, self._features(z, training)], training=training)
        return self._likelihood.nll(target, ops.cast(outputs, "float32"))

    def log_prob_given_codes(self, x, z, condition=None, training=False, num_samples=None):
        """As `VAE.log_prob_given_codes`, with the causal context of each image
        computed once and shared by its `k` codes."""
        x = ops.cast(ops.convert_to_tensor(x), "float32")
        k = num_samples or z.shape[0] // x.shape[0]
        context = self.pixelcnn.context(x, training=training)
        outputs = self.pixelcnn.logits(
            self._features(z, training), _tile(context, k), training=training
        )
        return -self._likelihood.nll(_tile(x, k), ops.cast(outputs, "float32"))

    # === Generation (sequential over pixels) ===

    def _pixel_seed(self, seed):
        if seed is not None:
            return seed
        # No seed: continue the model's own (seeded) stream, so runs repeat.
        draw = keras.random.randint((), 0, 2**31 - 1, seed=self.prior_seed_generator)
        return int(ops.convert_to_numpy(draw))

    def _generate(self, z, seed, sampler="cached"):
        """Draws images pixel by pixel for codes `z`; returns `(images, expected)`:
        the draws and, per pixel, its expected value (Bernoulli: the probability it
        was drawn with) given `z` and the pixels drawn before it.

        `sampler="cached"` (when the PixelCNN allows it) computes each layer at the
        new pixel only (`networks.CachedPixelCNN`); `"banded"` reruns the masked
        convolutions on the rows the pixel can see. Both draw the same pixels."""
        height, width, channels = self.input_shape_
        rng = np.random.default_rng(seed)
        generator = keras.random.SeedGenerator(int(rng.integers(2**31 - 1)))
        features = self._features(ops.convert_to_tensor(z, "float32"))
        x = np.zeros((len(z), height, width, channels), "float32")
        expected = np.zeros_like(x)
        cached = None
        if check_sampler(sampler) == "cached" and cached_generation_supported(self.pixelcnn):
            cached = CachedPixelCNN(self.pixelcnn, features)
        reach = self.pixelcnn.receptive_rows
        for i in range(height):
            # Row i depends on rows i - reach .. i only: run the masked
            # convolutions on that band, not on the whole image.
            top = max(0, i - reach)
            for j in range(width):
                if cached is not None:
                    pixel = ops.cast(cached.logits(i, j), "float32")
                else:
                    context = self.pixelcnn.context(x[:, top : i + 1])
                    outputs = self.pixelcnn.logits(features[:, top : i + 1], context)
                    pixel = ops.cast(outputs[:, i - top, j], "float32")
                if self._likelihood.binary:  # as before: NumPy draws
                    p = ops.convert_to_numpy(ops.sigmoid(pixel))
                    expected[:, i, j] = p
                    x[:, i, j] = (rng.random(p.shape) < p).astype("float32")
                else:
                    expected[:, i, j] = ops.convert_to_numpy(self._likelihood.mean(pixel))
                    x[:, i, j] = ops.convert_to_numpy(self._likelihood.sample(pixel, generator))
                if cached is not None:
                    cached.write(i, j, x[:, i, j])
        return x, expected

    def decode(self, z, batch_size: int = 256, seed: int | None = None, sampler: str = "cached"):
        """Generates images for codes `z` (sequentially); returns, per pixel, its
        expected value given `z` and the pixels drawn before it (Bernoulli: the
        probability it was drawn with). With `seed` the draws repeat. `sampler`:
        `"cached"` (one position per layer and step, the default) or `"banded"`
        (the plain network on the rows each pixel sees); same draws, ~10x apart."""
        z = check_data(z, (self.latent_dim,), "z")
        seed = self._pixel_seed(seed)
        check_sampler(sampler)
        parts = [
            self._generate(z[i : i + batch_size], [seed, i], sampler)[1]
            for i in range(0, len(z), batch_size)
        ]
        return np.concatenate(parts)

    def sample(
        self,
        num_samples: int,
        seed: int | None = None,
        batch_size: int = 256,
        sampler: str = "cached",
    ):
        """Decodes `num_samples` prior draws (sequentially over pixels), as NumPy."""
        z = self._prior_draws(num_samples, seed)
        seed = None if seed is None else seed + 1
        return self.decode(z, batch_size=batch_size, seed=seed, sampler=sampler)

    def reconstruct(self, x, batch_size: int = 256, seed: int | None = None):
        """Generates from `z_mean` of each image (sequentially over pixels)."""
        z_mean, _ = self.encode(x, batch_size=batch_size)
        return self.decode(z_mean, batch_size=batch_size, seed=seed)

    def call(self, inputs, training=False):
        """One-step-ahead expected pixels given the true pixels before them (Bernoulli:
        `p(x_i = 1 | z_mean, x_<i)`)."""
        z_mean, _ = self.encode_tensors(inputs, training=training)
        outputs = self.pixelcnn([inputs, self._features(z_mean, training)], training=training)
        return self._likelihood.mean(ops.cast(outputs, "float32"))

    # === Config ===

    def get_config(self):
        return {
            **super().get_config(),
            "pixelcnn": keras.saving.serialize_keras_object(self.pixelcnn),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder", "pixelcnn"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


@keras.saving.register_keras_serializable(package="vae_keras")
class PixelIWAE(IWAE, PixelVAE):
    """A `PixelVAE` trained on the importance-weighted bound (`IWAE`'s objective).

    Arguments are `PixelVAE`'s plus `num_samples` (`k`); free bits do not
    apply. Each image's causal context is computed once per step and shared
    by its `k` codes, so a step costs one PixelCNN pass and `k` passes of the
    decoder and the 1x1 head. A common use: fine-tune a trained `PixelVAE`
    (pass its `encoder`, `decoder` and `pixelcnn`) at a low learning rate.

    Example:

    >>> from vae_keras import networks
    >>> from vae_keras.models import PixelIWAE
    >>> model = PixelIWAE(networks.dense_encoder((8, 8, 1), 2, hidden_units=(16,)),
    ...                   networks.dense_decoder(2, (8, 8, 3), hidden_units=(16,)),
    ...                   pixelcnn=networks.PixelCNN((8, 8, 1), 3, filters=4, head_units=4),
    ...                   num_samples=5, seed=0)
    >>> model.num_samples
    5
    """

    capabilities = PixelVAE.capabilities  # not IWAE's, which comes first in the MRO

    @staticmethod
    def _networks_of(model) -> dict:
        return {"encoder": model.encoder, "decoder": model.decoder, "pixelcnn": model.pixelcnn}
