"""`conv_decoder(upsampling=...)`, `ShuffledConv2DTranspose` and the `DepthToSpace` layer."""

import keras
import numpy as np
import pytest
from helpers import assert_close, saved_model_round_trip, serialization_round_trip

from vae_keras import VAE, networks
from vae_keras.networks.upsampling import UPSAMPLINGS, DepthToSpace, ShuffledConv2DTranspose

SHAPES = [(28, 28, 1), (8, 8, 1), (32, 32, 3), (64, 64, 3), (27, 13, 2)]


def test_choices_are_the_documented_three():
    assert UPSAMPLINGS == ("transpose", "resize", "depth_to_space")
    assert networks.DepthToSpace is DepthToSpace
    assert networks.ShuffledConv2DTranspose is ShuffledConv2DTranspose


@pytest.mark.backend
@pytest.mark.parametrize("upsampling", UPSAMPLINGS)
@pytest.mark.parametrize("shape", SHAPES)
def test_every_choice_keeps_the_image_shape(upsampling, shape):
    decoder = networks.conv_decoder(3, shape, upsampling=upsampling, output_channels=5)
    assert tuple(decoder.output.shape) == (None, *shape[:2], 5)
    out = decoder.predict(np.ones((2, 3), "float32"), verbose=0)
    assert out.shape == (2, *shape[:2], 5)
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize(
    "upsampling, names",
    [
        ("transpose", ["deconv_0", "deconv_1", "decoder_output"]),
        ("resize", ["upsample_0", "conv_0", "upsample_1", "conv_1", "decoder_output"]),
        ("depth_to_space", ["conv_0", "shuffle_0", "conv_1", "shuffle_1", "decoder_output"]),
    ],
)
def test_layers_of_each_choice(upsampling, names):
    decoder = networks.conv_decoder(2, (28, 28, 1), upsampling=upsampling)
    assert [layer.name for layer in decoder.layers[3:]] == names


def _twin_layers(filters, config, input_shape, rng):
    """A `ShuffledConv2DTranspose` and a Keras `Conv2DTranspose`, built, with the same random weights."""
    shuffled = ShuffledConv2DTranspose(filters, **config)
    plain = keras.layers.Conv2DTranspose(filters, **config)
    shuffled.build(input_shape)
    plain.build(input_shape)
    weights = [rng.normal(size=w.shape).astype("float32") for w in plain.weights]
    shuffled.set_weights(weights)
    plain.set_weights(weights)
    return shuffled, plain


@pytest.mark.backend
@pytest.mark.parametrize(
    "kernel_size, strides, input_size",
    [
        (3, 2, (7, 7)),
        (3, 2, (5, 4)),
        (4, 2, (6, 5)),
        (5, 2, (4, 4)),
        (2, 2, (3, 3)),
        (1, 2, (3, 2)),
        (3, 3, (4, 5)),
        ((3, 5), (2, 3), (4, 3)),
    ],
)
def test_shuffled_transpose_equals_keras_conv2d_transpose(
    kernel_size, strides, input_size, monkeypatch
):
    # The shuffled form on this backend (whatever SHUFFLED_BACKENDS says) against
    # Keras's `Conv2DTranspose` with the same weights: outputs and gradients.
    monkeypatch.setattr(ShuffledConv2DTranspose, "SHUFFLED_BACKENDS", (keras.backend.backend(),))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, *input_size, 3)).astype("float32")
    config = {"kernel_size": kernel_size, "strides": strides, "padding": "same"}
    shuffled, plain = _twin_layers(4, {**config, "activation": "tanh"}, x.shape, rng)
    assert shuffled._shuffles()
    out = keras.ops.convert_to_numpy(shuffled(x))
    expected = keras.ops.convert_to_numpy(plain(x))
    assert out.shape == expected.shape == tuple(shuffled.compute_output_shape(x.shape))
    assert_close(out, expected, atol=1e-5)

    # The backend where it runs by default: gradients too (kernel and bias).
    if keras.backend.backend() == "jax":
        import jax

        target = rng.normal(size=expected.shape).astype("float32")

        def gradients(layer):
            def loss(weights):
                return (layer.stateless_call(weights, [], x)[0] * target).sum()

            return jax.grad(loss)([w.value for w in layer.trainable_weights])

        for got, want in zip(gradients(shuffled), gradients(plain), strict=True):
            assert_close(np.asarray(got), np.asarray(want), atol=1e-4)


@pytest.mark.backend
@pytest.mark.parametrize("activation", ["relu", "softmax", "custom"])
def test_shuffled_transpose_applies_any_activation_like_keras(activation, monkeypatch):
    # Elementwise activations run before the shuffle, channel-mixing ones
    # (softmax) and unknown callables after it: all give Keras's numbers.
    monkeypatch.setattr(ShuffledConv2DTranspose, "SHUFFLED_BACKENDS", (keras.backend.backend(),))
    if activation == "custom":
        activation = lambda t: t - keras.ops.max(t, axis=-1, keepdims=True)  # noqa: E731
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4, 5, 3)).astype("float32")
    config = {"kernel_size": 3, "strides": 2, "padding": "same", "activation": activation}
    shuffled, plain = _twin_layers(6, config, x.shape, rng)
    expected = keras.ops.convert_to_numpy(plain(x))
    assert_close(keras.ops.convert_to_numpy(shuffled(x)), expected, atol=1e-5)
    if activation == "softmax":
        np.testing.assert_allclose(expected.sum(-1), 1.0, atol=1e-5)


def test_shuffled_transpose_falls_back_where_it_does_not_apply(monkeypatch):
    monkeypatch.setattr(ShuffledConv2DTranspose, "SHUFFLED_BACKENDS", (keras.backend.backend(),))
    assert ShuffledConv2DTranspose(2, 3, strides=2, padding="same")._shuffles()
    assert not ShuffledConv2DTranspose(2, 3, strides=2, padding="valid")._shuffles()
    assert not ShuffledConv2DTranspose(2, 3, strides=1, padding="same")._shuffles()
    assert not ShuffledConv2DTranspose(
        2, 3, strides=2, padding="same", output_padding=1
    )._shuffles()
    monkeypatch.setattr(ShuffledConv2DTranspose, "SHUFFLED_BACKENDS", ())
    assert not ShuffledConv2DTranspose(2, 3, strides=2, padding="same")._shuffles()


def test_transpose_stages_are_shuffled_conv2d_transposes_with_keras_config():
    decoder = networks.conv_decoder(2, (28, 28, 1))
    layer = decoder.get_layer("deconv_0")
    assert type(layer) is ShuffledConv2DTranspose
    assert isinstance(layer, keras.layers.Conv2DTranspose)
    assert layer.kernel.shape == (3, 3, 64, 64)
    assert serialization_round_trip(layer).get_config() == layer.get_config()
    assert ShuffledConv2DTranspose.SHUFFLED_BACKENDS == ("jax",)


def test_default_is_unchanged_transpose():
    default = networks.conv_decoder(2, (28, 28, 1))
    explicit = networks.conv_decoder(2, (28, 28, 1), upsampling="transpose")
    assert [layer.name for layer in default.layers] == [layer.name for layer in explicit.layers]
    assert default.count_params() == explicit.count_params() == 65089


@pytest.mark.parametrize("kernel_size, sub_kernel", [(3, 2), (4, 2), (5, 3), (1, 1)])
def test_depth_to_space_kernel_spans_what_a_transposed_kernel_reaches(kernel_size, sub_kernel):
    decoder = networks.conv_decoder(
        2, (16, 16, 1), filters=(8, 4), kernel_size=kernel_size, upsampling="depth_to_space"
    )
    assert decoder.get_layer("conv_0").kernel_size == (sub_kernel, sub_kernel)
    assert [decoder.get_layer(f"conv_{i}").filters for i in range(2)] == [32, 16]
    assert decoder.get_layer("decoder_output").kernel_size == (kernel_size, kernel_size)


@pytest.mark.parametrize("bad", ["bilinear", "Transpose", None, 2, True])
def test_bad_upsampling_names_the_value_and_the_choices(bad):
    with pytest.raises(ValueError, match=r"'transpose', 'resize', 'depth_to_space'") as info:
        networks.conv_decoder(2, (28, 28, 1), upsampling=bad)
    assert f"upsampling={bad!r}" in str(info.value)


@pytest.mark.backend
def test_depth_to_space_matches_a_numpy_pixel_shuffle():
    x = np.random.default_rng(0).normal(size=(2, 3, 4, 12)).astype("float32")
    out = keras.ops.convert_to_numpy(DepthToSpace(2)(x))
    expected = np.zeros((2, 6, 8, 3), "float32")
    for i in range(2):
        for j in range(2):
            start = (2 * i + j) * 3
            expected[:, i::2, j::2, :] = x[..., start : start + 3]
    np.testing.assert_array_equal(out, expected)


def test_depth_to_space_config_and_errors():
    layer = serialization_round_trip(DepthToSpace(3, name="shuffle"))
    assert layer.block_size == 3 and layer.name == "shuffle"
    assert layer.compute_output_shape((None, 2, None, 18)) == (None, 6, None, 2)
    for bad in (1, 2.0, True):
        with pytest.raises(ValueError, match=f"block_size={bad!r}"):
            DepthToSpace(bad)
    with pytest.raises(ValueError, match="divisible by 4"):
        DepthToSpace(2).compute_output_shape((None, 2, 2, 6))


@pytest.mark.backend
@pytest.mark.parametrize("upsampling", UPSAMPLINGS)
def test_saved_decoder_loads_in_safe_mode_with_the_same_outputs(upsampling, tmp_path):
    decoder = networks.conv_decoder(2, (12, 10, 3), filters=(8, 4), upsampling=upsampling)
    z = np.random.default_rng(1).normal(size=(4, 2)).astype("float32")
    loaded = saved_model_round_trip(decoder, tmp_path)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in decoder.layers]
    assert_close(loaded.predict(z, verbose=0), decoder.predict(z, verbose=0))


@pytest.mark.backend
@pytest.mark.parametrize("upsampling", ["resize", "depth_to_space"])
def test_vae_with_each_choice_trains_and_round_trips(upsampling, binary_images, tmp_path):
    keras.utils.set_random_seed(0)
    vae = VAE(
        networks.conv_encoder((8, 8, 1), 2, filters=(8, 16), dense_units=16),
        networks.conv_decoder(2, (8, 8, 1), filters=(16, 8), upsampling=upsampling),
        seed=0,
    )
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = vae.evaluate(binary_images, verbose=0, return_dict=True)["loss"]
    vae.fit(binary_images, batch_size=16, epochs=5, verbose=0)
    after = vae.evaluate(binary_images, verbose=0, return_dict=True)["loss"]
    assert after < before - 5.0  # 8x8 images start near 44 nats (64 * log 2)
    loaded = saved_model_round_trip(vae, tmp_path)
    z = np.zeros((3, 2), "float32")
    assert_close(loaded.decoder.predict(z, verbose=0), vae.decoder.predict(z, verbose=0))
