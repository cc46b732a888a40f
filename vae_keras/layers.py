"""The reparameterization trick as a Keras layer (and the quantizers, re-exported)."""

import numbers

import keras
import numpy as np
from keras import ops

from vae_keras.gumbel_quantizer import GumbelQuantizer  # noqa: F401  (re-exported)
from vae_keras.quantizer_base import Quantizer  # noqa: F401  (re-exported)
from vae_keras.scalar_quantizer import FiniteScalarQuantizer  # noqa: F401  (re-exported)
from vae_keras.vector_quantizer import VectorQuantizer  # noqa: F401  (re-exported)

# Bounds on the log-variance wherever it is exponentiated (sampler, KL,
# evaluation), as Stable Diffusion's and keras-hub's Gaussian samplers clamp
# it: exp(20) is ~5e8 and exp(-30) ~1e-13, so a diverging encoder gives a large
# but finite KL instead of inf/NaN (the clamp passes no gradient beyond them).
LOG_VAR_MIN, LOG_VAR_MAX = -30.0, 20.0


def bound_log_var(z_log_var):
    """`z_log_var` clipped to [LOG_VAR_MIN, LOG_VAR_MAX]."""
    return ops.clip(z_log_var, LOG_VAR_MIN, LOG_VAR_MAX)


@keras.saving.register_keras_serializable(package="vae_keras")
class Sampling(keras.layers.Layer):
    """Draws `z = z_mean + exp(0.5 * z_log_var) * epsilon`, `epsilon ~ N(0, I)`.

    `z_log_var` is clipped to [-30, 20] first (`LOG_VAR_MIN`, `LOG_VAR_MAX`),
    so a diverging encoder cannot overflow the scale to inf.

    This is the reparameterization trick of Kingma & Welling (2014): the
    randomness lives in `epsilon`, so gradients flow through `z_mean` and
    `z_log_var`. The encoder predicts the log-variance rather than the
    standard deviation (the "log-var trick"), which keeps the scale positive
    without a constraint.

    Args:
        seed: Integer, optional random seed. With a seed, a freshly built
            layer draws the same sequence of samples on every run.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: A list `[z_mean, z_log_var]` of two tensors of equal shape
            `(batch_size, latent_dim)`.

    Example:

    >>> import numpy as np
    >>> sampler = Sampling(seed=1)
    >>> z = sampler([np.zeros((4, 2)), np.zeros((4, 2))])
    >>> tuple(z.shape)
    (4, 2)
    """

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (
            isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral)
        ):
            raise ValueError(f"Argument `seed` must be an integer or None. Received: seed={seed!r}")
        seed = None if seed is None else int(seed)  # np.int64 too
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._build_at_init()

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(
                "Sampling expects a list `[z_mean, z_log_var]` of two tensors. "
                f"Received: inputs={inputs!r}"
            )
        z_mean, z_log_var = inputs
        z_mean = ops.convert_to_tensor(z_mean, dtype=self.compute_dtype)
        z_log_var = ops.convert_to_tensor(z_log_var, dtype=self.compute_dtype)
        if z_mean.shape != z_log_var.shape:
            raise ValueError(
                "`z_mean` and `z_log_var` must have the same shape. "
                f"Received: z_mean.shape={z_mean.shape}, "
                f"z_log_var.shape={z_log_var.shape}"
            )
        epsilon = keras.random.normal(
            ops.shape(z_mean), dtype=self.compute_dtype, seed=self.seed_generator
        )
        return z_mean + ops.exp(0.5 * bound_log_var(z_log_var)) * epsilon

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}
