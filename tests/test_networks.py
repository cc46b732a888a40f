import numpy as np
import pytest

from vae_keras import VAE, networks

SHAPES = [(28, 28, 1), (8, 8, 1), (32, 32, 3), (64, 64, 3), (27, 13, 2)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("arch", ["dense", "conv"])
def test_factories_adapt_to_shape(shape, arch):
    encoder = getattr(networks, f"{arch}_encoder")(shape, 5)
    decoder = getattr(networks, f"{arch}_decoder")(5, shape)
    assert [tuple(t.shape) for t in encoder.outputs] == [(None, 5), (None, 5)]
    assert [layer.name for layer in encoder.layers[-2:]] == ["z_mean", "z_log_var"]
    assert tuple(decoder.output.shape) == (None,) + shape
    out = decoder.predict(np.zeros((2, 5), "float32"), verbose=0)
    assert out.shape == (2,) + shape


def test_dense_handles_flat_vectors():
    encoder = networks.dense_encoder(20, 3, hidden_units=(8,))
    decoder = networks.dense_decoder(3, (20,), hidden_units=(8,))
    assert tuple(decoder.output.shape) == (None, 20)
    VAE(encoder, decoder, likelihood="gaussian")  # pairs


@pytest.mark.parametrize(
    "enc, dec",
    [("dense", "conv"), ("conv", "dense")],
)
def test_any_encoder_pairs_with_any_decoder(enc, dec):
    shape = (16, 16, 1)
    vae = VAE(
        getattr(networks, f"{enc}_encoder")(shape, 4),
        getattr(networks, f"{dec}_decoder")(4, shape),
    )
    assert vae.reconstruct(np.zeros((3,) + shape, "float32")).shape == (3,) + shape


def test_widths_depths_activations_are_configurable():
    enc = networks.conv_encoder(
        (16, 16, 1), 2, filters=(8, 16, 32), dense_units=None, activation="elu"
    )
    convs = [layer for layer in enc.layers if layer.name.startswith("conv_")]
    assert [layer.filters for layer in convs] == [8, 16, 32]
    assert all(layer.activation.__name__ == "elu" for layer in convs)
    dec = networks.dense_decoder(2, (4,), hidden_units=(7, 9), output_activation="sigmoid")
    assert [layer.units for layer in dec.layers if layer.name.startswith("dense_")] == [7, 9]


def test_default_conv_pair_is_the_classic_one():
    enc = networks.conv_encoder((28, 28, 1), 2, dense_units=16)
    assert [layer.output.shape[1:] for layer in enc.layers if layer.name.startswith("conv_")] == [
        (14, 14, 32),
        (7, 7, 64),
    ]
    dec = networks.conv_decoder(2, (28, 28, 1))
    assert dec.get_layer("reshape").output.shape[1:] == (7, 7, 64)
    assert [dec.get_layer(f"deconv_{i}").filters for i in range(2)] == [64, 32]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: networks.conv_encoder((28, 28), 2), r"channel axis"),
        (lambda: networks.conv_decoder(2, (784,)), r"dense_decoder"),
        (lambda: networks.dense_encoder((28, 28, 1), 0), r"latent_dim=0"),
        (lambda: networks.dense_encoder((28, -1, 1), 2), r"input_shape"),
        (lambda: networks.dense_decoder(2, (4,), hidden_units=(8, "x")), r"hidden_units"),
    ],
)
def test_factories_reject_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
