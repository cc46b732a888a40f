"""VQ-VAE-2 (Razavi et al., 2019): a top code grid, a bottom code grid conditioned on it,
and learned priors over both."""

import numbers

import keras
import numpy as np
from keras import ops

from vae_keras.layers import VectorQuantizer
from vae_keras.models._reconstruction import (
    ReconstructionModel,
    check_likelihood,
    output_channels_of,
)
from vae_keras.models._vq2_codes import LEVELS, TwoLevelCodes
from vae_keras.models._vq2_export import vq2_serving
from vae_keras.models._vq2_networks import vq2_networks
from vae_keras.models._vq2_prior import TwoLevelPriorMethods
from vae_keras.models.capabilities import require
from vae_keras.models.code_prior import CodePrior
from vae_keras.models.conditioned_code_prior import ConditionedCodePrior
from vae_keras.networks._common import check_positive_int, check_units


def _codebook_sizes(num_embeddings):
    """`(K_top, K_bottom)` from one int or a pair."""
    if isinstance(num_embeddings, numbers.Integral) and not isinstance(num_embeddings, bool):
        return (int(num_embeddings),) * 2
    sizes = tuple(num_embeddings) if isinstance(num_embeddings, (tuple, list)) else ()
    if len(sizes) != 2:
        raise ValueError(
            "`num_embeddings` must be one codebook size or a pair (K_top, K_bottom), e.g. "
            f"(64, 128). Received: num_embeddings={num_embeddings!r}"
        )
    return sizes


@keras.saving.register_keras_serializable(package="vae_keras")
class VQVAE2(TwoLevelPriorMethods, TwoLevelCodes, ReconstructionModel):
    """Two-level vector-quantised autoencoder with its own `train_step` and two priors.

    The bottom encoder reads `x` into features on a grid at `1 / 2**len(filters)` of
    its size; the top encoder reads those into a coarser grid (`top_filters` halve it
    again), quantised by the top codebook. The top codes, decoded back to the bottom
    grid, join the bottom features to make the bottom grid, quantised by the bottom
    codebook. The decoder reads the bottom codes beside the upsampled top codes. Each
    quantizer is a `layers.VectorQuantizer` (EMA codebook, dead-code restarts).
    Training minimises, per example and averaged over the batch,

        loss = reconstruction_loss + vq_loss   (vq_loss: both quantizers' terms)

    and `fit`/`evaluate` also report `top_perplexity`, `top_codebook_usage`,
    `bottom_perplexity`, `bottom_codebook_usage`.

    The priors: `fit_prior(x)` trains a `CodePrior` over the top grids and a
    `ConditionedCodePrior` over the bottom grids given the top grid; they are part
    of the model and saved with it. `sample(n)` draws top-down. As for `VQVAE`,
    `q(codes | x)` is a point mass, so

        -log p(x) <= reconstruction NLL + top prior NLL + bottom prior NLL   (nats)

    which `nll_bound(x)` returns per example.

    Every argument after `input_shape` has a default; the defaults are a binarized
    MNIST recipe for a CPU (28x28 -> 7x7 bottom grid of 128 codes -> 4x4 top grid
    of 64 codes).

    Args:
        input_shape: `(height, width, channels)` of one image.
        num_embeddings: Codebook sizes `(K_top, K_bottom)`, or one size for both.
        embedding_dim: Size `D` of the code vectors (both levels).
        filters: Filters of the bottom encoder's stride-2 convolutions (the decoder
            mirrors them); each halves the grid.
        top_filters: Filters of the top encoder's stride-2 convolutions.
        commitment_cost: Of both quantizers.
        prior_filters, prior_layers, prior_head_units: Both priors' PixelCNNs.
        condition_channels: Features the bottom prior computes from the top codes.
        likelihood: `"bernoulli"`, `"gaussian"`, `"discretized_logistic"` or a
            `likelihoods.Likelihood`.
        seed: Integer seed of the codebooks' restarts and of `sample`.
        decoder_outputs, gaussian_variance: As for `VAE`.

    Example:

    >>> import numpy as np
    >>> model = VQVAE2((8, 8, 1), num_embeddings=(8, 16), embedding_dim=4, filters=(8,),
    ...                top_filters=(8,), prior_filters=8, prior_head_units=8, seed=0)
    >>> model.compile(optimizer="adam")
    >>> x = (np.random.default_rng(0).uniform(size=(32, 8, 8, 1)) < 0.3).astype("float32")
    >>> history = model.fit(x, epochs=1, batch_size=16, verbose=0)
    >>> top, bottom = model.encode_indices(x[:2])
    >>> top.shape, bottom.shape
    ((2, 2, 2), (2, 4, 4))
    >>> bool(np.allclose(model.decode_indices(top, bottom), model.reconstruct(x[:2])))
    True
    """

    loss_names = ("loss", "reconstruction_loss", "vq_loss") + tuple(
        f"{level}_{name}" for level in LEVELS for name in ("perplexity", "codebook_usage")
    )
    # Index grids with a point-mass q, as VQVAE.
    capabilities = ReconstructionModel.capabilities.replace(
        latent_vector=False,
        discrete_codes=True,
        nll_bound=True,
        needs_fit_prior=True,
    )

    def __init__(
        self,
        input_shape,
        num_embeddings=(64, 128),
        embedding_dim: int = 16,
        filters=(32, 64),
        top_filters=(64,),
        commitment_cost: float = 0.25,
        prior_filters: int = 64,
        prior_layers: int = 4,
        prior_head_units: int = 128,
        condition_channels: int = 32,
        likelihood="bernoulli",
        seed: int | None = None,
        decoder_outputs: str = "auto",
        gaussian_variance: float | str = 0.5,
        **kwargs,
    ):
        shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else ()
        if len(shape) != 3 or not all(isinstance(d, numbers.Integral) and d > 0 for d in shape):
            raise ValueError(
                "VQVAE2 reads images shaped (height, width, channels). Received: "
                f"input_shape={input_shape!r}. Add a channel axis (x[..., None])."
            )
        input_shape = tuple(int(d) for d in shape)
        k_top, k_bottom = _codebook_sizes(num_embeddings)
        embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        filters, top_filters = (
            check_units(filters, "filters"),
            check_units(top_filters, "top_filters"),
        )
        gaussian_variance = check_likelihood(likelihood, decoder_outputs, gaussian_variance)
        channels = (output_channels_of(likelihood) or (lambda c: c))(input_shape[-1])
        nets, top_grid, bottom_grid = vq2_networks(
            input_shape, embedding_dim, filters, top_filters, channels
        )
        prior_options = {
            "filters": prior_filters,
            "num_layers": prior_layers,
            "head_units": prior_head_units,
        }
        super().__init__(**kwargs)

        # === Layers ===
        self.bottom_encoder = nets["bottom_encoder"]
        self.top_encoder = nets["top_encoder"]
        self.bottom_head = nets["bottom_head"]
        self.decoder = nets["decoder"]
        self.top_quantizer = VectorQuantizer(
            k_top, embedding_dim, commitment_cost, seed=seed, name="top_quantizer"
        )
        self.bottom_quantizer = VectorQuantizer(
            k_bottom,
            embedding_dim,
            commitment_cost,
            seed=None if seed is None else seed + 1,
            name="bottom_quantizer",
        )
        self.top_prior = CodePrior(
            top_grid, k_top, embedding_dim, name="top_prior", **prior_options
        )
        self.bottom_prior = ConditionedCodePrior(
            bottom_grid,
            k_bottom,
            embedding_dim,
            top_grid,
            k_top,
            condition_channels=condition_channels,
            name="bottom_prior",
            **prior_options,
        )
        # The priors train only through `fit_prior`; `fit` leaves them alone.
        self.top_prior.trainable = False
        self.bottom_prior.trainable = False
        self._init_reconstruction(
            input_shape=input_shape,
            latent_dim=(*bottom_grid, embedding_dim),
            likelihood=likelihood,
            decoder_outputs=decoder_outputs,
            gaussian_variance=gaussian_variance,
            corruption=None,
            corruption_level=0.0,
            seed=seed,
        )
        self.top_grid_shape, self.bottom_grid_shape = top_grid, bottom_grid
        self.num_embeddings = (k_top, k_bottom)
        self.embedding_dim = embedding_dim
        self.filters, self.top_filters = filters, top_filters
        self.commitment_cost = float(commitment_cost)
        self.prior_options = {**prior_options, "condition_channels": condition_channels}
        if self._reports_bits_per_dim:  # of the reconstruction term, as VQVAE
            self.loss_names = type(self).loss_names + ("reconstruction_bits_per_dim",)
        self._init_trackers()
        self.built = True

    def serving_functions(self):
        """The SavedModel endpoints with both index grids in and out (`_vq2_export.py`)."""
        require(self, "export_endpoints", "SavedModel export")
        return vq2_serving(self)

    # === The shared pass (tensors) ===

    def _codes(self, x, training=False):
        """Both levels' `quantize_vectors` dicts, top first."""
        h_b = self.bottom_encoder(x, training=training)
        top = self.top_quantizer.quantize_vectors(
            self.top_encoder(h_b, training=training), training
        )
        z_e_b = self.bottom_head([h_b, top["quantized"]], training=training)
        return top, self.bottom_quantizer.quantize_vectors(z_e_b, training=training)

    def compute_losses(self, x, y=None, training=False):
        target = x if y is None else y
        top, bottom = self._codes(x, training=training)
        outputs = self.decoder([top["quantized"], bottom["quantized"]], training=training)
        reconstruction_loss = ops.mean(self.reconstruction_nll(target, outputs))
        vq_loss = top["vq_loss"] + bottom["vq_loss"]
        results = {
            "loss": reconstruction_loss + vq_loss,
            "reconstruction_loss": reconstruction_loss,
            "vq_loss": vq_loss,
        }
        for level, codes in zip(LEVELS, (top, bottom), strict=True):
            results[f"{level}_perplexity"] = codes["perplexity"]
            results[f"{level}_codebook_usage"] = codes["usage"]
        if self._reports_bits_per_dim:  # the reconstruction term only: see VQVAE
            results["reconstruction_bits_per_dim"] = self._bits_per_dim(reconstruction_loss)
        return results

    def compute_losses_per_example(self, x):
        """`-log p(x | codes)` per example (a tensor)."""
        top, bottom = self._codes(x)
        return self.reconstruction_nll(x, self.decoder([top["quantized"], bottom["quantized"]]))

    def _indices_tensors(self, x):
        top, bottom = self._codes(x)
        return top["indices"], bottom["indices"]

    def _decode_indices_tensors(self, top, bottom):
        return self.decode_tensors(
            [self.top_quantizer.lookup(top), self.bottom_quantizer.lookup(bottom)]
        )

    def call(self, inputs, training=False):
        """Deterministic reconstruction: decodes the quantised codes of `inputs`."""
        top, bottom = self._codes(inputs, training=training)
        return self.decode_tensors([top["quantized"], bottom["quantized"]], training=training)

    # === Inference (NumPy in, NumPy out, batched) ===

    def encode(self, x, batch_size: int = 256):
        """The quantised code vectors `(top, bottom)` of `x`, `(n, h, w, D)` each, as NumPy."""
        return self._batched(
            lambda xb: tuple(ops.convert_to_numpy(c["quantized"]) for c in self._codes(xb)),
            [self.check_inputs(x)],
            batch_size,
        )

    def encode_indices(self, x, batch_size: int = 256):
        """The code indices `(top, bottom)` of `x`: int32 `(n, h_top, w_top)`, `(n, h, w)`."""
        return self._batched(
            lambda xb: tuple(
                ops.convert_to_numpy(i).astype("int32") for i in self._indices_tensors(xb)
            ),
            [self.check_inputs(x)],
            batch_size,
        )

    def decode(self, z, batch_size: int = 256):
        """Decodes code vectors `(top, bottom)` to data space, as NumPy."""
        top, bottom = (np.asarray(v, "float32") for v in z)
        for level, v, grid in zip(
            LEVELS, (top, bottom), (self.top_grid_shape, self.bottom_grid_shape), strict=True
        ):
            if v.shape[1:] != (*grid, self.embedding_dim):
                raise ValueError(
                    f"The {level} code vectors must be shaped (n, {grid[0]}, {grid[1]}, "
                    f"{self.embedding_dim}). Received {v.shape}."
                )
        return self._batched(
            lambda tb, bb: ops.convert_to_numpy(self.decode_tensors([tb, bb])),
            [top, bottom],
            batch_size,
        )

    def decode_indices(self, top, bottom, batch_size: int = 256) -> np.ndarray:
        """Decodes `(top, bottom)` index grids to data space (probabilities or means).

        `decode_indices(*encode_indices(x))` equals `reconstruct(x)`.
        """
        top, bottom = self.check_indices(top, bottom)
        return self._batched(
            lambda tb, bb: ops.convert_to_numpy(self._decode_indices_tensors(tb, bb)),
            [top, bottom],
            batch_size,
        )

    # === Config ===

    def get_config(self):
        config = {
            **super().get_config(),
            "input_shape": list(self.input_shape_),
            "num_embeddings": list(self.num_embeddings),
            "embedding_dim": self.embedding_dim,
            "filters": list(self.filters),
            "top_filters": list(self.top_filters),
            "commitment_cost": self.commitment_cost,
            "prior_filters": self.prior_options["filters"],
            "prior_layers": self.prior_options["num_layers"],
            "prior_head_units": self.prior_options["head_units"],
            "condition_channels": self.prior_options["condition_channels"],
            **self._reconstruction_config(),
        }
        for key in ("corruption", "corruption_level"):
            config.pop(key)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
