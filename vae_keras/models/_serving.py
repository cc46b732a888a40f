"""What a model serves as a SavedModel (`vae_keras.export.export_saved_model` writes it).

`model.serving_functions()` returns a `ServingFunctions`: the endpoints as
`keras.ops` functions with their input specs (the archive converts them per
backend), and a builder of the `sample` endpoint around the exported `decode`.
This module builds them for the models with a flat Gaussian code (the VAE
family, `AE`, `HierarchicalVAE`'s top group); `VQVAE` builds its own
(`_vq_export.py`).
"""

import dataclasses
import random
from collections.abc import Callable

import keras
import numpy as np
from keras import ops


@dataclasses.dataclass(frozen=True)
class ServingFunctions:
    """A model's SavedModel endpoints.

    Attributes:
        endpoints: `{name: (function, [keras.InputSpec, ...])}` in the order to
            add them, `serve` first (the archive makes it `serving_default`).
        sample: `decode_endpoint -> tf.function` building `sample(num_samples[,
            labels])` around the exported `decode`, or None (no `sample` endpoint).
    """

    endpoints: dict
    sample: Callable | None = None


def continuous_serving(model, prior_mean=0.0, prior_std=1.0, mixture=None) -> ServingFunctions:
    """The endpoints of a model with flat codes `(batch, latent_dim)` drawn
    from `N(prior_mean, prior_std^2)`, or from a mixture of diagonal Gaussians
    `mixture = (log_weights (K,), means (K, D), log_vars (K, D))` (NumPy, what
    `priors.Prior.mixture_parameters` gives: every prior of `vae_keras.priors`,
    a VampPrior's posteriors at its pseudo-inputs as exported); conditional
    models take int32 labels."""
    num_classes = int(model.num_classes) if model.capabilities.conditional else None
    encode, decode, reconstruct = _core_functions(model, num_classes)
    x_spec = keras.InputSpec(shape=(None,) + tuple(model.input_shape_), dtype="float32")
    z_spec = keras.InputSpec(shape=(None, int(model.latent_dim)), dtype="float32")
    labels = [] if num_classes is None else [keras.InputSpec(shape=(None,), dtype="int32")]
    endpoints = {
        "serve": (reconstruct, [x_spec] + labels),
        "encode": (encode, [x_spec] + labels),
        "decode": (decode, [z_spec] + labels),
        "reconstruct": (reconstruct, [x_spec] + labels),
    }

    def sample(decode_fn):
        return _sample_function(model, decode_fn, num_classes, prior_mean, prior_std, mixture)

    return ServingFunctions(endpoints, sample)


def _core_functions(model, num_classes):
    """`(encode, decode, reconstruct)` in keras.ops; conditional models take
    integer `labels` as a second argument."""

    def one_hot(labels):
        labels = ops.cast(labels, "int32")
        valid = ops.logical_and(labels >= 0, labels < num_classes)
        return ops.one_hot(labels, num_classes, dtype="float32"), valid

    def mask(tensor, valid):
        """NaN rows where the label was out of range (instead of a silent all-zero one-hot)."""
        valid = ops.reshape(valid, (-1,) + (1,) * (len(tensor.shape) - 1))
        return ops.where(valid, tensor, ops.full_like(tensor, float("nan")))

    if num_classes is None:

        def encode(x):
            z_mean, z_log_var = model.encode_tensors(x)
            return {"mean": z_mean, "log_var": z_log_var}

        def decode(z):
            return model.decode_tensors(z)

        def reconstruct(x):
            z_mean, _ = model.encode_tensors(x)
            return model.decode_tensors(z_mean)

        return encode, decode, reconstruct

    def encode(x, labels):
        condition, valid = one_hot(labels)
        z_mean, z_log_var = model.encode_tensors(model._encoder_inputs(x, condition))
        return {"mean": mask(z_mean, valid), "log_var": mask(z_log_var, valid)}

    def decode(z, labels):
        condition, valid = one_hot(labels)
        return mask(model.decode_tensors(z, condition), valid)

    def reconstruct(x, labels):
        condition, valid = one_hot(labels)
        z_mean, _ = model.encode_tensors(model._encoder_inputs(x, condition))
        return mask(model.decode_tensors(z_mean, condition), valid)

    return encode, decode, reconstruct


def _sample_function(model, decode_fn, num_classes, prior_mean, prior_std, mixture=None):
    """`sample(num_samples[, labels])` in plain TensorFlow around the exported `decode`.

    Plain TF (not the backend) because the count sets the output shape, which
    `jax2tf` cannot take from an input's value.
    """
    import tensorflow as tf

    seed = model.seed
    if seed is None:
        seed = random.randrange(2**31)
    counter = tf.Variable(0, dtype=tf.int64, trainable=False, name="sample_counter")
    latent_dim = int(model.latent_dim)
    if not np.isscalar(prior_mean):
        prior_mean, prior_std = tf.constant(prior_mean), tf.constant(prior_std)
    if mixture is not None:
        log_weights, means, log_vars = (np.asarray(t, "float32") for t in mixture)
        log_weights = tf.constant(log_weights[None])
        means, stds = tf.constant(means), tf.constant(np.exp(0.5 * log_vars))

    def draw(num_samples):
        tf.debugging.assert_positive(num_samples, message="num_samples must be >= 1")
        step = counter.assign_add(1)
        key = tf.stack([tf.constant(seed, tf.int64), step])
        eps = tf.random.stateless_normal(tf.stack([num_samples, latent_dim]), seed=key)
        if mixture is None:
            return prior_mean + prior_std * eps
        # A component per draw (its own stream), then that Gaussian from the same noise.
        picks = tf.random.stateless_categorical(log_weights, num_samples, seed=key + [1, 0])[0]
        return tf.gather(means, picks) + tf.gather(stds, picks) * eps

    count = tf.TensorSpec([], tf.int32, name="num_samples")
    if num_classes is None:

        @tf.function(input_signature=[count], autograph=False)
        def sample(num_samples):
            return decode_fn(draw(num_samples))

    else:
        labels_spec = tf.TensorSpec([None], tf.int32, name="labels")

        @tf.function(input_signature=[count, labels_spec], autograph=False)
        def sample(num_samples, labels):
            return decode_fn(draw(num_samples), tf.broadcast_to(labels, [num_samples]))

    sample.get_concrete_function()  # traced now, so the archive takes it as is
    return sample
