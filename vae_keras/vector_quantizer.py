"""Vector quantisation (VQ-VAE, van den Oord et al. 2017) as a Keras layer.

Each `embedding_dim`-vector of the input is replaced by its nearest codebook
entry. The codebook is kept in use by the two remedies the field settled on:
an exponential-moving-average (EMA) codebook update (Sonnet's
`VectorQuantizerEMA`, keras-hub's `rqvae` layers) and restarts of dead codes
from recent encoder outputs (Jukebox, Dhariwal et al. 2020). Both are on by
default. The EMA state, the usage counters and the restart seed are
non-trainable variables the layer assigns during training, so the update runs
inside the models' own `train_step` on TensorFlow, JAX (where the stateless
step carries them out) and PyTorch.
"""

import keras
from keras import ops

from vae_keras.quantizer_base import Quantizer, _check_float, _check_int, _per_example_sum


@keras.saving.register_keras_serializable(package="vae_keras")
class VectorQuantizer(Quantizer):
    """Nearest-codebook-entry quantisation with the straight-through gradient.

    For inputs `z_e` shaped `(batch, ..., embedding_dim)` (e.g. an encoder's
    grid `(batch, h, w, D)`), each vector becomes its nearest codebook entry
    `e_k` (squared Euclidean distance, always computed in float32). The
    forward pass outputs `z_q = e_k`; the gradient passes to `z_e` unchanged
    (`z_e + stop_gradient(z_q - z_e)`). The terms of van den Oord et al. (2017),
    each summed over an example's vectors and averaged over the batch:

    - commitment loss `||z_e - sg(e_k)||^2`, weighted by `commitment_cost`;
    - codebook loss `||sg(z_e) - e_k||^2`: it trains the codebook when
      `ema=False`. With `ema=True` the codebook is instead the running mean
      of the vectors assigned to each entry (decay `decay`, Laplace-smoothed
      counts), and this term is reported but carries no gradient.

    `vq_loss = commitment_cost * commitment_loss (+ codebook_loss when ema=False)`.

    Dead codes: with `restart_dead_codes=True` an entry that no input vector
    chose for `restart_after` consecutive training batches is re-seeded with a
    random vector of the current batch (and its EMA state reset), so the
    codebook cannot collapse onto a few entries. `data_init=True` also replaces
    the whole codebook on the first training batch by a k-means fit (random
    vectors of the batch, then `kmeans_iterations` Lloyd steps). Both need
    `ema=True` (they assign the codebook, which must then be a non-trainable
    state that every backend's step can write).

    Args:
        num_embeddings: Codebook size `K` (>= 2).
        embedding_dim: Size `D` of each code vector; the input's last axis.
        commitment_cost: Weight of the commitment loss (0.25 in the paper).
        ema: Update the codebook by exponential moving averages (default)
            rather than by gradients of the codebook loss.
        decay: EMA decay (0.99, as Sonnet and keras-hub).
        epsilon: Laplace smoothing of the EMA counts.
        restart_dead_codes: Re-seed entries unused for `restart_after` batches.
        restart_after: Consecutive unused training batches before a restart.
        data_init: Initialise the codebook from the first training batch (k-means).
        kmeans_iterations: Lloyd steps of that initialisation.
        seed: Integer seed of the restarts and of the initialisation's draw.
        **kwargs: Base layer keyword arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: A float tensor whose last axis is `embedding_dim`.
        training: Whether to update the EMA state and restart dead codes.

    Returns `(quantized, indices)`: `quantized` shaped like the inputs (the
    straight-through value when training), `indices` int32 shaped like the
    inputs without their last axis. While training, `vq_loss` is added with
    `add_loss` (for use in your own functional graphs); `quantize_vectors(...)` returns
    every term and statistic instead.

    Example:

    >>> import numpy as np
    >>> vq = VectorQuantizer(8, 2, seed=0)
    >>> quantized, indices = vq(np.zeros((3, 4, 4, 2), "float32"))
    >>> tuple(quantized.shape), tuple(indices.shape)
    ((3, 4, 4, 2), (3, 4, 4))
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        commitment_cost: float = 0.25,
        ema: bool = True,
        decay: float = 0.99,
        epsilon: float = 1e-5,
        restart_dead_codes: bool = True,
        restart_after: int = 20,
        data_init: bool = False,
        kmeans_iterations: int = 5,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_embeddings = _check_int(
            num_embeddings,
            "num_embeddings",
            2,
            "A codebook needs at least two entries to carry information; VQ-VAEs "
            "use 128-1024 (e.g. VectorQuantizer(128, 16)).",
        )
        self.embedding_dim = _check_int(
            embedding_dim, "embedding_dim", 1, "Pass the encoder's output channels."
        )
        self.commitment_cost = _check_float(commitment_cost, "commitment_cost", 0.0, float("inf"))
        self.decay = _check_float(decay, "decay", 0.0, 1.0, "Sonnet and keras-hub use 0.99.")
        self.epsilon = _check_float(epsilon, "epsilon", 0.0, float("inf"))
        self.restart_after = _check_int(restart_after, "restart_after", 1, "")
        self.kmeans_iterations = _check_int(kmeans_iterations, "kmeans_iterations", 0, "")
        self.ema, self.restart_dead_codes, self.data_init = (
            bool(ema),
            bool(restart_dead_codes),
            bool(data_init),
        )
        if not self.ema and (self.restart_dead_codes or self.data_init):
            raise ValueError(
                "Dead-code restarts and data initialisation write the codebook during the "
                "train step, which needs the EMA codebook (a non-trainable state on every "
                f"backend). Received: ema=False, restart_dead_codes={restart_dead_codes}, "
                f"data_init={data_init}. Keep ema=True, or pass restart_dead_codes=False "
                "and data_init=False for the plain gradient-trained codebook."
            )
        if seed is not None:
            seed = _check_int(seed, "seed", 0, "")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="restart_seed_generator")

        # === State ===
        k, d = self.num_embeddings, self.embedding_dim
        # autocast=False: under a mixed-precision policy the codebook and the
        # distances stay float32 (nearest-neighbour ties in bfloat16 are common).
        self.embeddings = self.add_weight(
            shape=(k, d),
            initializer=keras.initializers.RandomUniform(-1.0 / k, 1.0 / k, seed=seed),
            trainable=not self.ema,
            autocast=False,
            name="embeddings",
        )
        state = {"trainable": False, "autocast": False, "dtype": "float32"}
        # Each entry starts as if it had been chosen once: embeddings = sum / count.
        self.ema_cluster_size = self.add_weight(
            shape=(k,), initializer="ones", name="ema_cluster_size", **state
        )
        self.ema_embedding_sum = self.add_weight(
            shape=(k, d), initializer="zeros", name="ema_embedding_sum", **state
        )
        # A copy: on JAX two variables must not share one buffer (the step donates both).
        self.ema_embedding_sum.assign(ops.copy(ops.convert_to_tensor(self.embeddings)))
        self.unused_steps = self.add_weight(
            shape=(k,), initializer="zeros", name="unused_steps", **state
        )
        self.initialized = self.add_weight(
            shape=(), initializer="zeros", name="initialized", **state
        )
        self.built = True

    # === Nearest codes ===

    def distances(self, inputs):
        """Squared distances `(N, K)` of the flattened input vectors to every entry, float32."""
        flat = ops.reshape(ops.cast(inputs, "float32"), (-1, self.embedding_dim))
        return self._distances(flat, ops.convert_to_tensor(self.embeddings))

    @staticmethod
    def _distances(flat, codebook):
        return (
            ops.sum(flat**2, axis=1, keepdims=True)
            - 2.0 * ops.matmul(flat, ops.transpose(codebook))
            + ops.sum(codebook**2, axis=1)[None, :]
        )

    def quantize_vectors(self, inputs, training=False):
        """Quantises `inputs`; returns a dict of tensors.

        Keys: `quantized` (straight-through when training), `indices` (int32),
        `vq_loss`, `commitment_loss`, `codebook_loss` (batch means of
        per-example sums), `perplexity` (exp of the entropy of the batch's
        code frequencies: K when all are used equally) and `usage` (share of
        the codebook chosen at least once in the batch).
        """
        inputs = ops.convert_to_tensor(inputs)
        self._check_inputs(inputs)
        x = ops.cast(inputs, "float32")
        shape = ops.shape(x)
        flat = ops.reshape(x, (-1, self.embedding_dim))
        codebook = ops.convert_to_tensor(self.embeddings)
        if training and self.data_init:
            codebook = self._initialize(ops.stop_gradient(flat), codebook)
        indices = ops.cast(ops.argmin(self._distances(flat, codebook), axis=-1), "int32")
        one_hot = ops.one_hot(indices, self.num_embeddings, dtype="float32")
        quantized = ops.reshape(ops.take(codebook, indices, axis=0), shape)

        commitment_loss = ops.mean(_per_example_sum((x - ops.stop_gradient(quantized)) ** 2))
        codebook_loss = ops.mean(_per_example_sum((ops.stop_gradient(x) - quantized) ** 2))
        vq_loss = self.commitment_cost * commitment_loss
        if not self.ema:
            vq_loss = vq_loss + codebook_loss
        counts = ops.sum(one_hot, axis=0)
        frequencies = counts / ops.maximum(ops.sum(counts), 1.0)
        perplexity = ops.exp(-ops.sum(frequencies * ops.log(frequencies + 1e-10)))
        usage = ops.mean(ops.cast(counts > 0, "float32"))

        if training:
            self._update(ops.stop_gradient(flat), one_hot, counts, codebook)
            quantized = x + ops.stop_gradient(quantized - x)  # straight-through
        return {
            "quantized": ops.cast(quantized, inputs.dtype),
            "indices": ops.reshape(indices, shape[:-1]),
            "vq_loss": vq_loss,
            "commitment_loss": commitment_loss,
            "codebook_loss": codebook_loss,
            "perplexity": perplexity,
            "usage": usage,
        }

    # === Training-time state updates ===

    def _random_rows(self, flat, count):
        n = ops.shape(flat)[0]
        picks = keras.random.randint((count,), 0, n, seed=self.seed_generator)
        return ops.take(flat, picks, axis=0)

    def _kmeans(self, flat, centres):
        """`kmeans_iterations` Lloyd steps from `centres` on the vectors `flat`."""
        for _ in range(self.kmeans_iterations):
            assign = ops.one_hot(
                ops.argmin(self._distances(flat, centres), axis=-1), self.num_embeddings
            )
            counts = ops.sum(assign, axis=0)[:, None]
            means = ops.matmul(ops.transpose(assign), flat) / ops.maximum(counts, 1.0)
            centres = ops.where(counts > 0, means, centres)
        return centres

    def _initialize(self, flat, codebook):
        """k-means on the first training batch (once); returns the codebook to use.

        The Lloyd steps run under `ops.cond`, only while `initialized` is 0: later
        batches pay for one draw of starting rows (kept, so the restarts' random
        stream is the one it always was), not for the k-means."""
        starts = self._random_rows(flat, self.num_embeddings)
        fresh = ops.equal(ops.convert_to_tensor(self.initialized), 0.0)
        codebook = ops.cond(fresh, lambda: self._kmeans(flat, starts), lambda: codebook)
        self.ema_embedding_sum.assign(
            ops.where(fresh, codebook, ops.convert_to_tensor(self.ema_embedding_sum))
        )
        self.ema_cluster_size.assign(
            ops.where(
                fresh,
                ops.ones((self.num_embeddings,), "float32"),
                ops.convert_to_tensor(self.ema_cluster_size),
            )
        )
        self.initialized.assign(ops.ones(()))
        return codebook

    def _update(self, flat, one_hot, counts, codebook):
        if not self.ema:
            return
        decay = self.decay
        cluster_size = decay * ops.convert_to_tensor(self.ema_cluster_size) + (1.0 - decay) * counts
        embedding_sum = decay * ops.convert_to_tensor(self.ema_embedding_sum) + (
            1.0 - decay
        ) * ops.matmul(ops.transpose(one_hot), flat)
        if self.restart_dead_codes:
            unused = ops.where(counts > 0, 0.0, ops.convert_to_tensor(self.unused_steps) + 1.0)
            dead = unused >= float(self.restart_after)
            candidates = self._random_rows(flat, self.num_embeddings)
            embedding_sum = ops.where(dead[:, None], candidates, embedding_sum)
            cluster_size = ops.where(dead, 1.0, cluster_size)
            self.unused_steps.assign(ops.where(dead, 0.0, unused))
        total = ops.sum(cluster_size)
        smoothed = (
            (cluster_size + self.epsilon) / (total + self.num_embeddings * self.epsilon) * total
        )
        self.ema_cluster_size.assign(cluster_size)
        self.ema_embedding_sum.assign(embedding_sum)
        self.embeddings.assign(embedding_sum / smoothed[:, None])

    # === Config ===

    def get_config(self):
        return {
            **super().get_config(),
            "num_embeddings": self.num_embeddings,
            "embedding_dim": self.embedding_dim,
            "commitment_cost": self.commitment_cost,
            "ema": self.ema,
            "decay": self.decay,
            "epsilon": self.epsilon,
            "restart_dead_codes": self.restart_dead_codes,
            "restart_after": self.restart_after,
            "data_init": self.data_init,
            "kmeans_iterations": self.kmeans_iterations,
            "seed": self.seed,
        }
