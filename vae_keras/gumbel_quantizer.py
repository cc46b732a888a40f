"""DALL-E's discrete VAE quantizer (Ramesh et al. 2021): a Gumbel-softmax relaxation.

The encoder's grid gives logits over the `K` codes (a learned 1x1 projection);
training draws a relaxed one-hot sample (Jang et al. 2017, Maddison et al.
2017) at a temperature that a callback anneals (`callbacks.GumbelTemperatureSchedule`,
DALL-E: 1 to 1/16), and the code vector is the sample's mixture of codebook
rows. At inference the code is the argmax. As taming-transformers'
`GumbelQuantize`, the KL of the codes' posterior to the uniform prior is the
quantizer's loss term.
"""

import math

import keras
from keras import ops

from vae_keras.quantizer_base import (
    Quantizer,
    _check_float,
    _check_int,
    _per_example_sum,
    _positions,
    code_statistics,
    marginal_kl_to_uniform,
)


@keras.saving.register_keras_serializable(package="vae_keras")
class GumbelQuantizer(Quantizer):
    """Relaxed categorical codes (Gumbel-softmax), DALL-E's dVAE bottleneck.

    For inputs `z_e` shaped `(batch, ..., embedding_dim)`, each vector gives
    logits `l = Dense(K)(z_e)` over the `K` codes, and:

    - in training, `y = softmax((l + g) / temperature)` with Gumbel noise `g`
      (a relaxed one-hot; with `straight_through=True` the hard one-hot of
      its argmax in the forward pass, `y`'s gradient in the backward pass),
      `quantized = y @ codebook`, `indices = argmax(y)`;
    - at `training=False`, `indices = argmax(l)` and `quantized =
      codebook[indices]` (deterministic, equal to `lookup(indices)`).

    `vq_loss = kl_weight * KL(softmax(l) || uniform(K)) + diversity_weight *
    positions * KL(mean softmax(l) || uniform(K))`: the first KL summed over
    an example's positions and averaged over the batch (as the other terms
    of the package); the second (wav2vec 2.0's diversity term) is that of
    the batch's average code distribution, 0 when the batch spreads over all
    codes whatever each position's certainty, and scaled by the positions
    per example to weigh like the first. It keeps the codebook in use. With `kl_weight=1` it is the KL term of the ELBO under
    a uniform prior over codes, in nats; it is 0 for uniform logits and
    `log K` per position for a certain code. DALL-E raises its weight to 6.6
    over training; taming-transformers uses a small weight.

    `temperature` is a non-trainable variable: assign to it (or use
    `callbacks.GumbelTemperatureSchedule`) to anneal it on every backend.
    `perplexity` and `usage` are reported as by `VectorQuantizer`.

    Args:
        num_embeddings: Number of codes `K` (>= 2).
        embedding_dim: Channels `D` of the grid it reads, and of the code vectors.
        temperature: Initial temperature of the relaxation (> 0).
        kl_weight: Weight of the KL to the uniform prior (>= 0).
        diversity_weight: Weight of the batch-average KL to uniform (>= 0).
        sharp_diversity: The diversity term reads `softmax(l / temperature)`
            instead of `softmax(l)`: as the temperature anneals, the batch must
            spread the codes its argmax picks, not only its soft probabilities
            (which can be even while a few codes win every argmax).
        straight_through: Hard one-hot forward, relaxed gradient backward.
        seed: Integer seed of the Gumbel noise and the initialisers.
        **kwargs: Base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: A float tensor whose last axis is `embedding_dim`.
        training: Relaxed sample (True) or argmax code (False).

    Example:

    >>> import numpy as np
    >>> quantizer = GumbelQuantizer(16, 4, seed=0)
    >>> quantized, indices = quantizer(np.ones((2, 3, 3, 4), "float32"))
    >>> tuple(quantized.shape), tuple(indices.shape)
    ((2, 3, 3, 4), (2, 3, 3))
    >>> float(keras.ops.convert_to_numpy(quantizer.temperature))
    1.0
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        temperature: float = 1.0,
        kl_weight: float = 1.0,
        diversity_weight: float = 1.0,
        straight_through: bool = False,
        seed: int | None = None,
        sharp_diversity: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_embeddings = _check_int(
            num_embeddings,
            "num_embeddings",
            2,
            "A code needs at least two values to carry information; DALL-E uses 8192.",
        )
        self.embedding_dim = _check_int(
            embedding_dim, "embedding_dim", 1, "Pass the encoder's output channels."
        )
        temperature = _check_float(temperature, "temperature", 0.0, float("inf"))
        if temperature <= 0.0:
            raise ValueError(
                f"`temperature` must be > 0. Received: temperature={temperature!r}. "
                "DALL-E anneals it from 1 to 1/16."
            )
        self.initial_temperature = temperature
        self.kl_weight = _check_float(kl_weight, "kl_weight", 0.0, float("inf"))
        self.diversity_weight = _check_float(
            diversity_weight, "diversity_weight", 0.0, float("inf")
        )
        self.straight_through = bool(straight_through)
        self.sharp_diversity = bool(sharp_diversity)
        if seed is not None:
            seed = _check_int(seed, "seed", 0, "")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="gumbel_seed_generator")

        # === Layers and state ===
        k, d = self.num_embeddings, self.embedding_dim
        # float32 logits and codebook, as VectorQuantizer's distances (argmax ties in bfloat16).
        self.to_logits = keras.layers.Dense(
            k,
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
            dtype="float32",
            name="to_logits",
        )
        self.to_logits.build((None, d))
        self.embeddings = self.add_weight(
            shape=(k, d),
            initializer=keras.initializers.RandomNormal(stddev=1.0, seed=seed),
            autocast=False,
            name="embeddings",
        )
        # Logits start as the nearest-codebook-entry rule, `2 z.e_k - |e_k|^2 = |z|^2 -
        # |z - e_k|^2`: the argmax tiles the grid's space into K cells from the first step and
        # the relaxed sample mixes neighbouring codes. A small random projection of a narrow
        # grid instead gives logits far below the Gumbel noise, which picks the codes in
        # training while a handful win every argmax (codebook use collapses).
        codebook = ops.convert_to_numpy(self.embeddings)
        self.to_logits.kernel.assign(2.0 * codebook.T)
        self.to_logits.bias.assign(-(codebook**2).sum(axis=-1))
        self.temperature = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(temperature),
            trainable=False,
            autocast=False,
            dtype="float32",
            name="temperature",
        )
        self.built = True

    def logits(self, inputs):
        """Logits `(..., K)` over the codes of each input vector, float32."""
        return self.to_logits(ops.cast(ops.convert_to_tensor(inputs), "float32"))

    def kl_to_uniform(self, logits):
        """`KL(softmax(logits) || uniform)` per position, in nats (shape `logits.shape[:-1]`)."""
        log_q = ops.log_softmax(logits, axis=-1)
        return ops.sum(ops.exp(log_q) * log_q, axis=-1) + math.log(self.num_embeddings)

    def marginal_kl_to_uniform(self, logits):
        """`KL(mean softmax(logits) || uniform)`: the batch's average code distribution
        against uniform, a scalar in nats (0 when the batch spreads over all codes)."""
        return marginal_kl_to_uniform(ops.softmax(logits, axis=-1))

    def _relaxed_one_hot(self, logits):
        uniform = keras.random.uniform(
            ops.shape(logits), minval=1e-6, maxval=1.0 - 1e-6, seed=self.seed_generator
        )
        gumbel = -ops.log(-ops.log(uniform))
        temperature = ops.convert_to_tensor(self.temperature)
        return ops.softmax((logits + gumbel) / temperature, axis=-1)

    def quantize_vectors(self, inputs, training=False):
        """Quantises `inputs`; returns `quantized`, `indices`, `vq_loss` (the
        weighted KLs), `kl_loss`, `diversity_loss` (unweighted), `perplexity` and `usage`."""
        inputs = ops.convert_to_tensor(inputs)
        self._check_inputs(inputs)
        logits = self.logits(inputs)
        codebook = ops.convert_to_tensor(self.embeddings)
        kl_loss = ops.mean(_per_example_sum(self.kl_to_uniform(logits)))
        diversity_logits = logits
        if self.sharp_diversity:
            diversity_logits = logits / ops.convert_to_tensor(self.temperature)
        diversity_loss = self.marginal_kl_to_uniform(diversity_logits) * _positions(inputs)
        if training:
            soft = self._relaxed_one_hot(logits)
            indices = ops.cast(ops.argmax(soft, axis=-1), "int32")
            if self.straight_through:
                hard = ops.one_hot(indices, self.num_embeddings, dtype="float32")
                soft = hard + (soft - ops.stop_gradient(soft))
            quantized = ops.matmul(soft, codebook)
        else:
            indices = ops.cast(ops.argmax(logits, axis=-1), "int32")
            quantized = ops.take(codebook, indices, axis=0)
        perplexity, usage = code_statistics(indices, self.num_embeddings)
        return {
            "quantized": ops.cast(quantized, inputs.dtype),
            "indices": indices,
            "vq_loss": self.kl_weight * kl_loss + self.diversity_weight * diversity_loss,
            "kl_loss": kl_loss,
            "diversity_loss": diversity_loss,
            "perplexity": perplexity,
            "usage": usage,
        }

    # === Config ===

    def get_config(self):
        return {
            **super().get_config(),
            "num_embeddings": self.num_embeddings,
            "embedding_dim": self.embedding_dim,
            "temperature": self.initial_temperature,
            "kl_weight": self.kl_weight,
            "diversity_weight": self.diversity_weight,
            "straight_through": self.straight_through,
            "sharp_diversity": self.sharp_diversity,
            "seed": self.seed,
        }
