"""Residual encoder/decoder for colour images: shapes and stages per size, training,
serialization, extra output channels, the data-shape defaults, and bad arguments."""

import numpy as np
import pytest

from tests.helpers import assert_close, saved_model_round_trip
from vae_keras import VAE, networks
from vae_keras.networks.residual import num_stages

SMALL = {"widths": 8, "blocks_per_stage": 1, "dense_units": 32}


def stage_layers(model, prefix):
    return [layer for layer in model.layers if layer.name.startswith(prefix)]


@pytest.mark.parametrize(
    "shape, stages",
    [((8, 8, 1), 1), ((28, 28, 1), 3), ((32, 32, 3), 3), ((64, 64, 3), 4), ((128, 128, 3), 5)],
)
def test_shapes_and_one_stage_per_factor_two(shape, stages):
    encoder = networks.residual_encoder(shape, 6)
    decoder = networks.residual_decoder(6, shape)
    assert [tuple(t.shape) for t in encoder.outputs] == [(None, 6), (None, 6)]
    assert [layer.name for layer in encoder.layers[-2:]] == ["z_mean", "z_log_var"]
    assert tuple(decoder.output.shape) == (None,) + shape
    assert len(stage_layers(encoder, "down_")) == stages
    assert len(stage_layers(decoder, "upsample_")) == stages
    side = -(-shape[0] // 2**stages)  # "same" padding rounds up: 28 -> 14 -> 7 -> 4
    assert encoder.get_layer("base").output.shape[1:3] == (side, side) == (4, 4)
    assert decoder.get_layer("reshape").output.shape[1:3] == (side, side)
    if shape[0] <= 64:  # build only for 128
        out = decoder.predict(np.zeros((2, 6), "float32"), verbose=0)
        assert out.shape == (2,) + shape


def test_num_stages_and_non_square_images():
    assert [num_stages(s) for s in (4, 5, 8, 9, 16, 28, 32, 33, 64, 128)] == [
        0, 1, 1, 2, 2, 3, 3, 4, 4, 5,
    ]  # fmt: skip
    assert num_stages(32, base_size=8) == 2
    encoder = networks.residual_encoder((27, 13, 2), 3, **SMALL)
    decoder = networks.residual_decoder(3, (27, 13, 2), **SMALL)
    assert len(stage_layers(encoder, "down_")) == 2  # the smaller side: 13 -> 7 -> 4
    assert tuple(decoder.output.shape) == (None, 27, 13, 2)


def test_widths_blocks_normalization_are_configurable():
    enc = networks.residual_encoder((32, 32, 3), 4, widths=(8, 16), blocks_per_stage=2)
    assert [enc.get_layer(f"down_{i}").filters for i in range(3)] == [16, 16, 16]  # repeats
    assert len(stage_layers(enc, "stage_0_block_")) == 2 * 5  # 5 layers per block (no norm)
    dec = networks.residual_decoder(4, (64, 64, 3), widths=16, blocks_per_stage=0)
    assert [dec.get_layer(f"up_{i}").filters for i in range(4)] == [16, 32, 64, 64]
    assert not stage_layers(dec, "base_block")
    assert dec.get_layer("reshape").output.shape[-1] == 64  # the base width, capped at 4x
    for norm, cls in [("batch", "BatchNormalization"), ("group", "GroupNormalization")]:
        enc = networks.residual_encoder((16, 16, 3), 4, normalization=norm, widths=12)
        assert type(enc.get_layer("stage_0_block_0_norm_0")).__name__ == cls
    enc = networks.residual_encoder((16, 16, 3), 4, normalization="layer", activation="relu")
    assert type(enc.get_layer("base_norm")).__name__ == "LayerNormalization"
    assert enc.get_layer("base").activation.__name__ == "relu"


def test_residual_branches_start_at_zero():
    # The last convolution of every branch starts at zero: each block is the identity.
    dec = networks.residual_decoder(4, (16, 16, 3), blocks_per_stage=2)
    last_convs = stage_layers(dec, "")
    last_convs = [layer for layer in last_convs if layer.name.endswith("_conv_1")]
    assert len(last_convs) == 2 * 3
    assert all(np.all(np.asarray(layer.kernel) == 0) for layer in last_convs)


def test_decoder_can_emit_more_channels_than_the_image():
    dec = networks.residual_decoder(4, (28, 28, 3), output_channels=10, **SMALL)
    assert tuple(dec.output.shape) == (None, 28, 28, 10)
    assert tuple(networks.conv_decoder(4, (28, 28, 3), output_channels=6).output.shape) == (
        None, 28, 28, 6,
    )  # fmt: skip
    assert tuple(networks.dense_decoder(4, (8, 8, 3), output_channels=6).output.shape) == (
        None, 8, 8, 6,
    )  # fmt: skip
    # Defaults unchanged: same shapes and layer names as before the argument existed.
    conv = networks.conv_decoder(4, (28, 28, 1))
    assert [layer.name for layer in conv.layers][-2:] == ["deconv_1", "decoder_output"]
    with pytest.raises(ValueError, match=r"output_shape=\(20, 4\)"):
        networks.dense_decoder(4, (20,), output_channels=4)


@pytest.mark.parametrize(
    "enc, dec",
    [("residual", "conv"), ("conv", "residual"), ("dense", "residual"), ("residual", "dense")],
)
def test_pairs_with_the_other_factories(enc, dec):
    shape = (16, 16, 3)
    vae = VAE(
        getattr(networks, f"{enc}_encoder")(shape, 4),
        getattr(networks, f"{dec}_decoder")(4, shape),
    )
    assert vae.reconstruct(np.zeros((2,) + shape, "float32")).shape == (2,) + shape


@pytest.mark.parametrize(
    "shape, output_channels, kind",
    [
        ((784,), None, "dense"),
        ((28, 28, 1), None, "conv"),
        ((8, 8, 1), None, "conv"),
        ((6, 6, 3), None, "conv"),
        ((32, 32, 1), None, "residual"),
        ((32, 32, 3), None, "residual"),
        ((64, 64, 3), 6, "residual"),
        ((28, 28, 3), 9, "residual"),
    ],
)
def test_default_networks_pick_by_shape(shape, output_channels, kind):
    encoder, decoder = networks.default_networks(shape, 8, output_channels=output_channels)
    names = {layer.name for layer in encoder.layers}
    expected = {"dense": "dense_0", "conv": "conv_0", "residual": "stem"}[kind]
    assert expected in names
    channels = output_channels or shape[-1]
    assert tuple(decoder.output.shape) == (None,) + shape[:-1] + (channels,)
    assert [tuple(t.shape) for t in encoder.outputs] == [(None, 8), (None, 8)]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: networks.residual_encoder((3, 3, 3), 2), r"base_size=4"),
        (lambda: networks.residual_decoder(2, (16, 2, 3)), r"output_shape=\(16, 2, 3\)"),
        (lambda: networks.residual_encoder((16, 16, 3), 2, normalization="instance"), "instance"),
        (lambda: networks.residual_decoder(2, (16, 16, 3), normalization="Batch"), "'Batch'"),
        (lambda: networks.residual_encoder((32, 32), 2), r"channel axis"),
        (lambda: networks.residual_encoder((32, 32, 3), 0), r"latent_dim=0"),
        (lambda: networks.residual_encoder((32, 32, 3), 2, widths=(8, 0)), "widths"),
        (lambda: networks.residual_encoder((32, 32, 3), 2, widths=()), r"widths=\(\)"),
        (lambda: networks.residual_decoder(2, (32, 32, 3), blocks_per_stage=-1), "=-1"),
        (lambda: networks.residual_decoder(2, (32, 32, 3), output_channels=0), "=0"),
        (lambda: networks.conv_decoder(2, (32, 32, 3), output_channels=1.5), "=1.5"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.backend
def test_a_residual_vae_trains_saves_and_loads(tmp_path):
    shape = (32, 32, 3)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(8,) + shape).astype("float32")
    vae = VAE(
        networks.residual_encoder(shape, 4, normalization="group", **SMALL),
        networks.residual_decoder(4, shape, normalization="group", **SMALL),
        likelihood="gaussian",
        seed=0,
    )
    vae.compile(optimizer="adam")
    history = vae.fit(x, epochs=1, batch_size=4, verbose=0).history
    assert np.isfinite(history["loss"]).all()
    # After a step the zero-initialised convolutions have moved: gradients reach them.
    kernel = vae.decoder.get_layer("base_block_0_conv_1").kernel
    assert np.abs(np.asarray(kernel)).max() > 0
    loaded = saved_model_round_trip(vae, tmp_path)
    assert_close(loaded.encode(x)[0], vae.encode(x)[0])
    z = rng.normal(size=(3, 4)).astype("float32")
    assert_close(loaded.decode(z), vae.decode(z))
