"""Fully connected encoder and decoder factories (functional API)."""

from collections.abc import Sequence

import keras

from vae_keras.networks._common import check_positive_int, check_shape, check_units, flat_size


def dense_encoder(
    input_shape: Sequence[int] | int,
    latent_dim: int,
    hidden_units: Sequence[int] = (512, 256),
    activation: str = "relu",
    name: str = "encoder",
) -> keras.Model:
    """A multilayer-perceptron encoder `x -> [z_mean, z_log_var]`.

    Inputs of any shape (images or flat vectors) are flattened first.

    Args:
        input_shape: Shape of one example, without the batch axis, such as
            `(28, 28, 1)` or `(784,)`.
        latent_dim: Size of the latent code.
        hidden_units: Widths of the hidden layers, first to last.
        activation: Activation of the hidden layers.
        name: Name of the returned model.

    Returns:
        A functional `keras.Model` with outputs `[z_mean, z_log_var]`, each of
        shape `(batch, latent_dim)`.

    Example:

    >>> encoder = dense_encoder((28, 28, 1), latent_dim=2)
    >>> [tuple(t.shape) for t in encoder.outputs]
    [(None, 2), (None, 2)]
    """
    input_shape = check_shape(input_shape, "input_shape")
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    hidden_units = check_units(hidden_units, "hidden_units")

    # === Layers and functional model ===
    inputs = keras.Input(shape=input_shape, name="x")
    x = keras.layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, activation=activation, name=f"dense_{i}")(x)
    z_mean = keras.layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = keras.layers.Dense(latent_dim, name="z_log_var")(x)
    return keras.Model(inputs, [z_mean, z_log_var], name=name)


def dense_decoder(
    latent_dim: int,
    output_shape: Sequence[int] | int,
    hidden_units: Sequence[int] = (256, 512),
    activation: str = "relu",
    output_activation: str | None = None,
    name: str = "decoder",
    *,
    output_channels: int | None = None,
) -> keras.Model:
    """A multilayer-perceptron decoder `z -> x`.

    By default the output layer is linear: for a Bernoulli likelihood the
    outputs are logits (the `VAE` applies the sigmoid in `decode` and computes
    the loss from logits, which is numerically stable); for a Gaussian
    likelihood they are the means.

    Args:
        latent_dim: Size of the latent code.
        output_shape: Shape of one generated example, e.g. `(28, 28, 1)`.
        hidden_units: Widths of the hidden layers, first to last.
        activation: Activation of the hidden layers.
        output_activation: Activation of the output layer; `None` (logits or
            means). `"sigmoid"` also works with `VAE`, which then treats the
            outputs as probabilities.
        name: Name of the returned model.
        output_channels: Size of the last (channel) axis of the output;
            default `output_shape[-1]`. Likelihoods with several parameters
            per sub-pixel need more (e.g. `2 * channels`). Needs an
            `output_shape` with a channel axis (rank 2 or 3).

    Returns:
        A functional `keras.Model` from `(batch, latent_dim)` to
        `(batch, *output_shape[:-1], output_channels)`.

    Example:

    >>> decoder = dense_decoder(2, (28, 28, 1))
    >>> tuple(decoder.output.shape)
    (None, 28, 28, 1)
    >>> tuple(dense_decoder(2, (8, 8, 3), output_channels=6).output.shape)
    (None, 8, 8, 6)
    """
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    output_shape = check_shape(output_shape, "output_shape")
    if output_channels is not None:
        output_channels = check_positive_int(output_channels, "output_channels")
        if len(output_shape) < 2:
            raise ValueError(
                "`output_channels` replaces the channel axis, but a flat output has none. "
                f"Received: output_shape={output_shape}, output_channels={output_channels}. "
                f"Use output_shape=({output_shape[0]}, {output_channels}) instead."
            )
        output_shape = output_shape[:-1] + (output_channels,)
    hidden_units = check_units(hidden_units, "hidden_units")

    # === Layers and functional model ===
    inputs = keras.Input(shape=(latent_dim,), name="z")
    x = inputs
    for i, units in enumerate(hidden_units):
        x = keras.layers.Dense(units, activation=activation, name=f"dense_{i}")(x)
    x = keras.layers.Dense(
        flat_size(output_shape), activation=output_activation, name="decoder_output"
    )(x)
    if len(output_shape) > 1:
        x = keras.layers.Reshape(output_shape, name="reshape")(x)
    return keras.Model(inputs, x, name=name)
