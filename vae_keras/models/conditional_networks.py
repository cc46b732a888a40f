"""Encoder and decoder factories for `ConditionalVAE`: the `networks` factories
with a one-hot class label joined to their inputs (functional API).

- Encoder, inputs `[x, label]`: for `"dense"`, `x` is flattened and the label
  concatenated to it; for `"conv"`, the label is broadcast to `num_classes`
  constant feature maps of the image's height and width and concatenated as
  extra channels, so the first convolution already sees the class.
- Decoder, inputs `[z, label]`: the label is concatenated to `z`.

Each wraps one model of the network family table (`vae_keras.networks.families`,
built for the joined input) as a nested layer, so all of that factory's keyword
arguments work.
"""

from collections.abc import Sequence

import keras

from vae_keras.networks import families
from vae_keras.networks._common import check_positive_int, check_shape

# The families of `networks.families` these factories support.
NETWORKS = ("dense", "conv")


def _check(network, num_classes):
    if network not in NETWORKS:
        raise ValueError(f"`network` must be one of {NETWORKS}. Received: network={network!r}")
    num_classes = check_positive_int(num_classes, "num_classes")


def conditional_encoder(
    input_shape: Sequence[int] | int,
    latent_dim: int,
    num_classes: int,
    network: str = "dense",
    name: str = "conditional_encoder",
    **kwargs,
) -> keras.Model:
    """An encoder `[x, one-hot label] -> [z_mean, z_log_var]`.

    Args:
        input_shape: Shape of one example, e.g. `(28, 28, 1)`.
        latent_dim: Size of the latent code.
        num_classes: Number of classes (length of the one-hot label).
        network: `"dense"` (`networks.dense_encoder`) or `"conv"`
            (`networks.conv_encoder`; needs `(height, width, channels)`).
        name: Name of the returned model.
        **kwargs: Passed to the wrapped factory (`hidden_units`, `filters`, ...).

    Returns:
        A functional `keras.Model` with inputs `[x, label]` and outputs
        `[z_mean, z_log_var]`.

    Example:

    >>> encoder = conditional_encoder((28, 28, 1), 2, num_classes=10, network="conv")
    >>> [tuple(t.shape) for t in encoder.inputs]
    [(None, 28, 28, 1), (None, 10)]
    """
    _check(network, num_classes)
    input_shape = check_shape(input_shape, "input_shape")

    # === Layers and functional model ===
    x = keras.Input(shape=input_shape, name="x")
    label = keras.Input(shape=(num_classes,), name="label")
    family = families.get(network)
    if family.images_only:
        if len(input_shape) != 3:
            raise ValueError(
                f"network={network!r} needs images shaped (height, width, channels). "
                f"Received: input_shape={input_shape}. Use network='dense' for flat vectors."
            )
        height, width, channels = input_shape
        maps = keras.layers.Reshape((1, 1, num_classes), name="label_to_map")(label)
        maps = keras.layers.UpSampling2D((height, width), name="label_broadcast")(maps)
        joined = keras.layers.Concatenate(axis=-1, name="join_label")([x, maps])
        body = family.encoder(
            (height, width, channels + num_classes), latent_dim, name="encoder_body", **kwargs
        )
    else:
        flat = keras.layers.Flatten(name="flatten")(x) if len(input_shape) > 1 else x
        joined = keras.layers.Concatenate(name="join_label")([flat, label])
        size = int(joined.shape[-1])
        body = family.encoder((size,), latent_dim, name="encoder_body", **kwargs)
    z_mean, z_log_var = body(joined)
    return keras.Model([x, label], [z_mean, z_log_var], name=name)


def conditional_decoder(
    latent_dim: int,
    output_shape: Sequence[int] | int,
    num_classes: int,
    network: str = "dense",
    name: str = "conditional_decoder",
    **kwargs,
) -> keras.Model:
    """A decoder `[z, one-hot label] -> x` (logits by default).

    Args:
        latent_dim: Size of the latent code.
        output_shape: Shape of one generated example, e.g. `(28, 28, 1)`.
        num_classes: Number of classes (length of the one-hot label).
        network: `"dense"` (`networks.dense_decoder`) or `"conv"`
            (`networks.conv_decoder`).
        name: Name of the returned model.
        **kwargs: Passed to the wrapped factory (`hidden_units`,
            `output_activation`, ...).

    Returns:
        A functional `keras.Model` with inputs `[z, label]` and one output
        shaped `(batch, *output_shape)`.

    Example:

    >>> decoder = conditional_decoder(2, (28, 28, 1), num_classes=10)
    >>> tuple(decoder.output.shape)
    (None, 28, 28, 1)
    """
    _check(network, num_classes)
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    factory = families.get(network).decoder

    # === Layers and functional model ===
    z = keras.Input(shape=(latent_dim,), name="z")
    label = keras.Input(shape=(num_classes,), name="label")
    joined = keras.layers.Concatenate(name="join_label")([z, label])
    body = factory(latent_dim + num_classes, output_shape, name="decoder_body", **kwargs)
    return keras.Model([z, label], body(joined), name=name)
