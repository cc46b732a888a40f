"""The deterministic autoencoder: the baseline the slides compare the VAE with."""

import keras
from keras import ops

from vae_keras.models._corruption import check_corruption
from vae_keras.models._reconstruction import (
    ReconstructionModel,
    check_likelihood,
    output_channels_of,
)
from vae_keras.models.base import check_pair


@keras.saving.register_keras_serializable(package="vae_keras")
class AE(ReconstructionModel):
    """Deterministic autoencoder with the same networks and API as `VAE`.

    The code of `x` is the encoder's `z_mean`; its `z_log_var` output is
    ignored (never trained), so any `VAE` encoder/decoder pair works here
    unchanged and the two models compare like for like. Training minimises
    the reconstruction term alone, per example, averaged over the batch:

        loss = reconstruction_loss = -log p(x | decoder(z_mean))

    `fit` and `evaluate` report `loss` and `reconstruction_loss` (and
    `val_*`); the two are equal. With nothing pulling the codes towards
    N(0, I), `sample` (decoding N(0, I) draws, as for a VAE) shows why the
    slides move on to the VAE: the codes of the data do not fill that
    region, and the decoded draws stop looking like data.

    Likelihoods, `decoder_outputs`, `gaussian_variance` (fixed or learned)
    and the denoising `corruption` (`"gaussian"` or `"mask"`, applied in
    training only, the clean input as target) work as in `VAE`.
    `fit(x_noisy, x_clean)` trains on given pairs.

    Args:
        encoder: A `keras.Model` mapping `x` to `[z_mean, z_log_var]` (the
            second and a third output are ignored), e.g.
            `networks.dense_encoder`.
        decoder: A `keras.Model` mapping `z` to `x`-shaped outputs.
        likelihood: As for `VAE`: `"bernoulli"`, `"gaussian"`,
            `"discretized_logistic"` or a `likelihoods.Likelihood`.
        seed: Integer seed for the corruption noise and `sample`.
        decoder_outputs: `"auto"`, `"logits"` or `"probabilities"`.
        gaussian_variance: A number, `"learned"` or `"learned_per_pixel"`.
        corruption: `None`, `"gaussian"` or `"mask"` (denoising).
        corruption_level: Noise standard deviation (`"gaussian"`) or
            masking probability (`"mask"`, < 1).

    Example:

    >>> import numpy as np
    >>> from vae_keras import AE, networks
    >>> ae = AE(networks.dense_encoder((8, 8, 1), 2, hidden_units=(16,)),
    ...         networks.dense_decoder(2, (8, 8, 1), hidden_units=(16,)), seed=0)
    >>> ae.compile(optimizer="adam")
    >>> x = np.random.default_rng(0).uniform(size=(32, 8, 8, 1)).astype("float32")
    >>> sorted(ae.fit(x, epochs=1, batch_size=16, verbose=0).history)
    ['loss', 'reconstruction_loss']
    >>> ae.sample(3, seed=1).shape
    (3, 8, 8, 1)
    """

    loss_names = ("loss", "reconstruction_loss")
    # No posterior q(z|x): the code is the encoder's z_mean (no likelihood to score).
    capabilities = ReconstructionModel.capabilities

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        likelihood: str = "bernoulli",
        seed: int | None = None,
        decoder_outputs: str = "auto",
        gaussian_variance: float | str = 0.5,
        corruption: str | None = None,
        corruption_level: float = 0.25,
        **kwargs,
    ):
        if "prior" in kwargs:
            raise ValueError(
                f"AE has no prior: its code is deterministic (no KL). Received: "
                f"prior={kwargs['prior']!r}; use VAE(..., prior=...)."
            )
        gaussian_variance = check_likelihood(likelihood, decoder_outputs, gaussian_variance)
        corruption_level = check_corruption(corruption, corruption_level)
        input_shape, latent_dim = check_pair(
            encoder, decoder, output_channels=output_channels_of(likelihood)
        )
        super().__init__(**kwargs)

        # === Layers ===
        self.encoder = encoder
        self.decoder = decoder
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
        self._init_prior()  # N(0, I): what `sample` decodes (no KL pulls the codes to it)
        self._init_trackers()
        self.built = True

    # === Loss math (shared by every backend's train_step and test_step) ===

    def compute_losses(self, x, y=None, training=False):
        """The reconstruction loss of the code `z_mean`, a batch mean of per-example sums."""
        target = x if y is None else y
        z, z_log_var = self.encode_tensors(self.corrupt_inputs(x, training), training=training)
        outputs = self._decode_raw(z, training=training)
        reconstruction_loss = ops.mean(self.reconstruction_nll(target, outputs))
        # The ignored z_log_var head gets an exact zero gradient (rather than
        # none, which optimizers warn about on every backend but JAX).
        loss = reconstruction_loss + 0.0 * ops.sum(z_log_var)
        return {"loss": loss, "reconstruction_loss": reconstruction_loss}

    # === Config ===

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            **self._reconstruction_config(),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
