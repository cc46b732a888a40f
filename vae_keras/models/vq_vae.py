"""VQ-VAE (van den Oord et al., 2017): discrete latent codes and a learned prior over them."""

import copy

import keras
import numpy as np
from keras import ops

from vae_keras.layers import Quantizer
from vae_keras.models._grid_prior import GridPrior
from vae_keras.models._reconstruction import (
    ReconstructionModel,
    check_likelihood,
    output_channels_of,
)
from vae_keras.models._vq_export import vq_serving
from vae_keras.models._vq_prior import PriorMethods, check_prior, get_prior
from vae_keras.models.capabilities import require
from vae_keras.validation import check_positive_int


def _check_vq_networks(encoder, decoder, quantizer, output_channels):
    """Checks encoder -> (h, w, D) grid -> decoder; returns (input_shape, grid_shape)."""
    for net, role in ((encoder, "encoder"), (decoder, "decoder")):
        if not isinstance(net, keras.Model):
            raise ValueError(f"`{role}` must be a keras.Model. Received: {role}={net!r}")
    if not isinstance(quantizer, Quantizer):
        raise ValueError(
            "`quantizer` must be a `vae_keras.layers.Quantizer`: VectorQuantizer(128, 16), "
            "GumbelQuantizer(128, 16) or FiniteScalarQuantizer((8, 5, 5, 5)). "
            f"Received: quantizer={quantizer!r}"
        )
    outputs = encoder.outputs
    if len(outputs) != 1 or len(outputs[0].shape) != 4:
        raise ValueError(
            "A VQVAE encoder has one output, a grid of code vectors shaped (batch, height, "
            f"width, embedding_dim). Received outputs shaped {[tuple(t.shape) for t in outputs]}. "
            "Build one with `vae_keras.networks.vq_encoder`."
        )
    grid = tuple(outputs[0].shape[1:])
    if grid[-1] != quantizer.embedding_dim:
        raise ValueError(
            f"The encoder emits {grid[-1]} channels per grid position but the quantizer's "
            f"embedding_dim is {quantizer.embedding_dim}. Build the quantizer with "
            f"embedding_dim={grid[-1]} (or the encoder with embedding_dim="
            f"{quantizer.embedding_dim})."
        )
    decoder_input = tuple(decoder.inputs[0].shape[1:])
    if decoder_input != grid:
        raise ValueError(
            f"The decoder reads grids shaped {decoder_input} but the encoder emits {grid}. "
            f"Build the decoder with grid_shape={grid} (e.g. `networks.vq_decoder`)."
        )
    input_shape = tuple(encoder.inputs[0].shape[1:])
    output_shape = tuple(decoder.outputs[0].shape[1:])
    wanted = input_shape[:-1] + (output_channels(input_shape[-1]),)
    if output_shape != wanted:
        raise ValueError(
            f"The decoder generates shape {output_shape} but the likelihood needs {wanted} "
            f"for inputs shaped {input_shape}. Build the decoder with output_shape={input_shape}"
            + (f" and output_channels={wanted[-1]}." if wanted != input_shape else ".")
        )
    return input_shape, grid


@keras.saving.register_keras_serializable(package="vae_keras")
class VQVAE(PriorMethods, ReconstructionModel):
    """Vector-quantised autoencoder with its own `train_step` and a learned prior.

    The encoder maps `x` to a grid `z_e` of `embedding_dim`-vectors; the
    quantizer replaces each by its nearest codebook entry (`z_q`, indices
    `k`); the decoder maps `z_q` to the likelihood's parameters. Training
    minimises, per example and averaged over the batch,

        loss = reconstruction_loss + vq_loss

    with `reconstruction_loss = -log p(x | z_q)` (nats, any likelihood of the
    package) and `vq_loss` the quantizer's commitment (and, without EMA,
    codebook) terms. `fit` and `evaluate` also report `perplexity` (the
    effective number of codes a batch uses) and `codebook_usage` (the share
    of the codebook a batch uses). With the default quantizer (EMA codebook,
    dead-code restarts) the codebook stays in use.

    The prior: `fit_prior(x)` encodes `x` and trains a `CodePrior` (the
    package's PixelCNN over the code grid, categorical over the `K` codes,
    class-conditional when the model has `num_classes`) on the indices; it
    is part of the model and saved with it. `sample(n)` draws index grids
    from it, position by position, and decodes them.

    The likelihood bound: the encoder is deterministic, so `q(k | x)` is a
    point mass and the ELBO is `log p(x | z_q(k)) + log p(k)`:

        -log p(x) <= reconstruction NLL + prior NLL of the indices   (nats)

    `nll_bound(x)` returns it per example, comparable with the VAEs' negative
    ELBO and IWAE figures under the same likelihood. With a discrete 8-bit
    likelihood `fit` and `evaluate` report `reconstruction_bits_per_dim`, the
    first term alone over `D ln 2`: it is not the data's bits/dim, which the
    bound gives (in bits per dimension: `nll_bound(x) / (D ln 2)`) once the
    prior is fitted.

    Args:
        encoder: A `keras.Model` from `x` to a `(height, width, D)` grid,
            e.g. `networks.vq_encoder`.
        decoder: A `keras.Model` from the `(height, width, D)` grid to the
            likelihood's outputs, e.g. `networks.vq_decoder`.
        quantizer: A `layers.Quantizer`: `VectorQuantizer(K, D)`,
            `GumbelQuantizer(K, D)` or `FiniteScalarQuantizer(levels)`.
        likelihood: As for `VAE`: `"bernoulli"`, `"gaussian"`,
            `"discretized_logistic"` or a `likelihoods.Likelihood`.
        prior: The prior over codes: `"pixelcnn"` (or `None`, the default: a
            `CodePrior`), `"transformer"` (a `TransformerPrior`: with `num_classes`
            class-conditional, else it reads the shapes captions, `fit_prior(x,
            captions=...)`, `sample(n, captions=...)`), or a prior object for the grid.
        num_classes: Classes of the default prior's condition (`None`: unconditional).
        seed: Integer seed of `sample` (and of nothing else: training is deterministic).
        decoder_outputs, gaussian_variance: As for `VAE`.

    Example:

    >>> import numpy as np
    >>> from vae_keras import networks
    >>> from vae_keras.layers import VectorQuantizer
    >>> from vae_keras.models import VQVAE
    >>> model = VQVAE(networks.vq_encoder((8, 8, 1), 4, filters=(8,)),
    ...               networks.vq_decoder((4, 4, 4), (8, 8, 1), filters=(8,)),
    ...               VectorQuantizer(16, 4, seed=0), seed=0)
    >>> model.compile(optimizer="adam")
    >>> x = (np.random.default_rng(0).uniform(size=(32, 8, 8, 1)) < 0.3).astype("float32")
    >>> sorted(model.fit(x, epochs=1, batch_size=16, verbose=0).history)
    ['codebook_usage', 'loss', 'perplexity', 'reconstruction_loss', 'vq_loss']
    >>> model.encode_indices(x[:2]).shape
    (2, 4, 4)
    """

    loss_names = ("loss", "reconstruction_loss", "vq_loss", "perplexity", "codebook_usage")
    # Codes are index grids; q(k|x) is a point mass, so no importance scoring: `nll_bound`
    # (after `fit_prior`) bounds -log p(x) instead.
    capabilities = ReconstructionModel.capabilities.replace(
        latent_vector=False,
        discrete_codes=True,
        code_prior=True,
        nll_bound=True,
        needs_fit_prior=True,
    )

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        quantizer: Quantizer,
        likelihood: str = "bernoulli",
        prior: str | GridPrior | None = None,
        num_classes: int | None = None,
        seed: int | None = None,
        decoder_outputs: str = "auto",
        gaussian_variance: float | str = 0.5,
        **kwargs,
    ):
        gaussian_variance = check_likelihood(likelihood, decoder_outputs, gaussian_variance)
        output_channels = output_channels_of(likelihood) or (lambda channels: channels)
        input_shape, grid = _check_vq_networks(encoder, decoder, quantizer, output_channels)
        if num_classes is not None:
            check_positive_int(num_classes, "num_classes")
        prior = get_prior(prior, grid, quantizer, num_classes)
        check_prior(prior, grid, quantizer, num_classes)
        super().__init__(**kwargs)

        # === Layers ===
        self.encoder = encoder
        self.decoder = decoder
        self.quantizer = quantizer
        self.prior = prior
        # The prior trains only through `fit_prior`; `fit` leaves it alone.
        self.prior.trainable = False
        self._init_reconstruction(
            input_shape=input_shape,
            latent_dim=grid,
            likelihood=likelihood,
            decoder_outputs=decoder_outputs,
            gaussian_variance=gaussian_variance,
            corruption=None,
            corruption_level=0.0,
            seed=seed,
        )
        self.grid_shape = grid[:2]
        # Not `num_classes`: the package reads that attribute as "encoder and decoder take
        # labels" (ConditionalVAE); here only the prior does.
        self.prior_classes = num_classes
        if self._reports_bits_per_dim:  # of the reconstruction term: see `compute_losses`
            self.loss_names = type(self).loss_names + ("reconstruction_bits_per_dim",)
        self._init_trackers()
        # Whether `sample` reads captions depends on the prior this instance was given.
        self.capabilities = type(self).capabilities.replace(captions=self.prior.takes_captions)
        self.built = True

    def serving_functions(self):
        """The SavedModel endpoints with code indices in and out (see `_vq_export.py`)."""
        require(self, "export_endpoints", "SavedModel export")
        return vq_serving(self)

    @property
    def num_embeddings(self) -> int:
        return self.quantizer.num_embeddings

    # === Loss math (shared by every backend's train_step and test_step) ===

    def compute_losses(self, x, y=None, training=False):
        target = x if y is None else y
        z_e = self.encoder(x, training=training)
        codes = self.quantizer.quantize_vectors(z_e, training=training)
        outputs = self.decoder(codes["quantized"], training=training)
        reconstruction_loss = ops.mean(self.reconstruction_nll(target, outputs))
        results = {
            "loss": reconstruction_loss + codes["vq_loss"],
            "reconstruction_loss": reconstruction_loss,
            "vq_loss": codes["vq_loss"],
            "perplexity": codes["perplexity"],
            "codebook_usage": codes["usage"],
        }
        if self._reports_bits_per_dim:
            # The reconstruction term alone, named so: the data's bits/dim also pay for the
            # codes under the prior, which `fit` does not train; the bound on them is
            # `nll_bound(x)` (after `fit_prior`), which `vae-keras evaluate` reports.
            results["reconstruction_bits_per_dim"] = self._bits_per_dim(reconstruction_loss)
        return results

    # === Inference (tensors) ===

    def _indices_tensors(self, x, training=False):
        return self.quantizer.quantize_vectors(self.encoder(x, training=training))["indices"]

    def _decode_indices_tensors(self, indices):
        return self.decode_tensors(self.quantizer.lookup(indices))

    def call(self, inputs, training=False):
        """Deterministic reconstruction: decodes the quantised codes of `inputs`."""
        codes = self.quantizer.quantize_vectors(self.encoder(inputs, training=training))
        return self.decode_tensors(ops.cast(codes["quantized"], "float32"), training=training)

    # === Inference (NumPy in, NumPy out, batched) ===

    def encode(self, x, batch_size: int = 256):
        """The quantised code vectors `z_q` of `x`, `(n, height, width, D)`, as NumPy."""
        x = self.check_inputs(x)
        return self._batched(
            lambda xb: ops.convert_to_numpy(self.quantizer.lookup(self._indices_tensors(xb))),
            [x],
            batch_size,
        )

    def encode_indices(self, x, batch_size: int = 256) -> np.ndarray:
        """The code indices of `x`, int32 `(n, height, width)`."""
        x = self.check_inputs(x)
        return self._batched(
            lambda xb: ops.convert_to_numpy(self._indices_tensors(xb)).astype("int32"),
            [x],
            batch_size,
        )

    def check_indices(self, indices, name: str = "indices") -> np.ndarray:
        """Validates a batch of code grids; returns it as int32 NumPy."""
        array = np.asarray(indices)
        if array.shape[1:] != tuple(self.grid_shape) or array.ndim != 3:
            raise ValueError(
                f"`{name}` must be code grids shaped (n, {self.grid_shape[0]}, "
                f"{self.grid_shape[1]}), as `encode_indices` returns. Received shape {array.shape}."
            )
        if not np.issubdtype(array.dtype, np.integer):
            raise ValueError(
                f"`{name}` must hold integer code indices. Received dtype {array.dtype}; "
                "pass `encode_indices(x)` or cast with `.astype('int32')`."
            )
        if array.size and (array.min() < 0 or array.max() >= self.num_embeddings):
            raise ValueError(
                f"`{name}` must lie in [0, {self.num_embeddings}) (the codebook size). "
                f"Received values from {array.min()} to {array.max()}."
            )
        return array.astype("int32")

    def decode(self, z, batch_size: int = 256):
        """Decodes code vectors `(n, height, width, D)` to data space, as NumPy."""
        z = np.asarray(z, "float32")
        wanted = (*self.grid_shape, self.quantizer.embedding_dim)
        if z.shape[1:] != wanted:
            raise ValueError(
                f"`z` must be shaped (n, {', '.join(map(str, wanted))}). Received {z.shape}."
            )
        return self._batched(
            lambda zb: ops.convert_to_numpy(self.decode_tensors(zb)), [z], batch_size
        )

    def decode_indices(self, indices, batch_size: int = 256) -> np.ndarray:
        """Decodes index grids to data space (probabilities or means), as NumPy.

        `decode_indices(encode_indices(x))` equals `reconstruct(x)`.
        """
        indices = self.check_indices(indices)
        return self._batched(
            lambda ib: ops.convert_to_numpy(self._decode_indices_tensors(ib)), [indices], batch_size
        )

    # The names of the grids `encode_indices` returns (one grid: an array, not a tuple).
    code_levels = ("codes",)

    def prior_is_fitted(self) -> bool:
        """Whether `fit_prior` has trained the prior over codes (`sample` needs it)."""
        return self.prior.is_fitted()

    def code_counts(self, x, batch_size: int = 256) -> np.ndarray:
        """How often each codebook entry encodes a position of `x`: `(K,)` int64."""
        return np.bincount(
            self.encode_indices(x, batch_size).ravel(), minlength=self.num_embeddings
        )

    def codebook_statistics(self, x, batch_size: int = 256) -> dict:
        """`{"perplexity", "usage", "counts"}` of the codes of `x` (whole set, not per batch)."""
        counts = self.code_counts(x, batch_size)
        p = counts / max(counts.sum(), 1)
        nonzero = p[p > 0]
        return {
            "perplexity": float(np.exp(-(nonzero * np.log(nonzero)).sum())),
            "usage": float((counts > 0).mean()),
            "counts": counts,
        }

    # === Config ===

    def get_config(self):
        config = {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "quantizer": keras.saving.serialize_keras_object(self.quantizer),
            "prior": keras.saving.serialize_keras_object(self.prior),
            "num_classes": self.prior_classes,
            **self._reconstruction_config(),
        }
        for key in ("corruption", "corruption_level"):
            config.pop(key)
        return config

    @classmethod
    def from_config(cls, config):
        config = copy.deepcopy(config)  # Keras' functional deserialisation consumes its input
        for key in ("encoder", "decoder", "quantizer", "prior"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
