"""The VampPrior (see `vae_keras.priors`)."""

import math

import keras
import numpy as np
from keras import ops

from vae_keras.priors.base import Prior, _check_components


@keras.saving.register_keras_serializable(package="vae_keras")
class VampPrior(Prior):
    """The VampPrior (Tomczak & Welling, 2018): the equal-weight mixture of the model's own
    posteriors `q(z | u_k)` at `num_components` learned pseudo-inputs `u_k`.

    `pseudo_inputs` are shaped like the data (what the encoder receives) and learned with
    the model; they start as the first `num_components` examples `fit` sees (`adapt`,
    called by the model's `fit` before its first step, on every backend: a NumPy array,
    a `tf.data.Dataset` or a `keras.utils.PyDataset`; a plain generator cannot be read
    ahead, so call `model.prior.adapt(x)` first), cycled when there are fewer examples.
    Until then they are uniform noise in [0, 1]. A non-trainable flag, saved with the
    model, keeps a loaded model's pseudo-inputs. Not for a conditional encoder (it reads
    labels too).

    Args:
        num_components: Number of pseudo-inputs `K` (500 in the paper).

    >>> from vae_keras import VAE, networks
    >>> vae = VAE(networks.dense_encoder((4, 4, 1), 2, hidden_units=(8,)),
    ...           networks.dense_decoder(2, (4, 4, 1), hidden_units=(8,)),
    ...           prior=VampPrior(num_components=5))
    >>> tuple(vae.prior.pseudo_inputs.shape)
    (5, 4, 4, 1)
    """

    def __init__(self, num_components: int = 500, **kwargs):
        super().__init__(**kwargs)
        self.num_components = _check_components(num_components)
        self._encode = None

    def attach(self, latent_dim, encoder=None, input_shape=None):
        if encoder is None or input_shape is None:
            raise ValueError(
                "VampPrior mixes the model's posteriors q(z|x) at learned inputs, so it needs "
                "an encoder of x alone; this model's encoder reads more (e.g. labels). Use "
                "prior='standard_normal' or prior='mixture'."
            )
        input_shape = tuple(input_shape)
        if any(d is None for d in input_shape):
            raise ValueError(
                f"VampPrior needs a fixed input shape for its pseudo-inputs. Received: "
                f"input_shape={input_shape}; build the encoder for a fixed image size."
            )
        super().attach(latent_dim)
        self._encode = encoder
        self.pseudo_inputs = self.add_weight(
            shape=(self.num_components,) + input_shape,
            initializer=keras.initializers.RandomUniform(0.0, 1.0, seed=0),
            name="pseudo_inputs",
        )
        self.initialized = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="initialized"
        )

    def components(self):
        means, log_vars = self._encode(self.pseudo_inputs)
        log_weights = ops.full((self.num_components,), -math.log(self.num_components))
        return log_weights, ops.cast(means, "float32"), ops.cast(log_vars, "float32")

    def adapt(self, x):
        """Sets the pseudo-inputs to the first `num_components` examples of `x`, once."""
        if float(ops.convert_to_numpy(self.initialized)) > 0:
            return
        first = _first_examples(x, self.num_components)
        if first is None:
            return
        reps = -(-self.num_components // len(first))
        first = np.concatenate([first] * reps)[: self.num_components]
        self.pseudo_inputs.assign(first.astype("float32"))
        self.initialized.assign(1.0)

    def get_config(self):
        return {**super().get_config(), "num_components": self.num_components}


def _first_examples(x, count):
    """Up to `count` leading examples of training data as NumPy, or None (unreadable)."""
    if isinstance(x, (tuple, list)) and x and not isinstance(x[0], (int, float)):
        x = x[0]
    if isinstance(x, np.ndarray):
        return x[:count] if len(x) else None
    parts, seen = [], 0
    if isinstance(x, keras.utils.PyDataset):
        batches = (x[i] for i in range(x.num_batches or 0))
    elif type(x).__module__.startswith("tensorflow") and hasattr(x, "take"):
        batches = iter(x)
    else:
        return None
    for batch in batches:
        bx = keras.utils.unpack_x_y_sample_weight(batch)[0]
        parts.append(np.asarray(bx))
        seen += len(parts[-1])
        if seen >= count:
            break
    return np.concatenate(parts)[:count] if parts else None
