"""`TapConv2DTranspose`: Keras's stride-1 `Conv2DTranspose`, computed as matmuls over kernel taps."""

import keras
import numpy as np
import pytest
from helpers import assert_close, serialization_round_trip

from vae_keras import networks
from vae_keras.networks.output_conv import TapConv2DTranspose


def _gradients(layer, x, target):
    """d sum(layer(x) * target) / d (x, kernel, bias), as numpy arrays, on any backend."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        def loss(x, weights):
            return (layer.stateless_call(weights, [], x)[0] * target).sum()

        d_x, d_weights = jax.grad(loss, (0, 1))(x, [w.value for w in layer.trainable_weights])
        return [np.asarray(g) for g in (d_x, *d_weights)]
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(layer(x) * target)
        grads = tape.gradient(loss, [x, *[w.value for w in layer.trainable_weights]])
        return [g.numpy() for g in grads]
    import torch

    x = torch.tensor(x, requires_grad=True)
    loss = (layer(x) * torch.tensor(target)).sum()
    weights = [w.value for w in layer.trainable_weights]
    return [g.detach().cpu().numpy() for g in torch.autograd.grad(loss, [x, *weights])]


@pytest.mark.backend
@pytest.mark.parametrize(
    "filters, kernel_size, input_shape, activation",
    [
        (1, 3, (7, 6, 32), None),  # the conv decoders' gray output layer
        (1, 3, (5, 5, 9), "sigmoid"),  # taps exactly as many as the input channels
        (2, 2, (4, 5, 8), None),  # even kernel: "same" pads more after than before
        (1, (3, 5), (6, 4, 16), "tanh"),
        (3, 1, (3, 3, 4), None),
    ],
)
def test_tap_conv_equals_keras_conv2d_transpose(
    filters, kernel_size, input_shape, activation, monkeypatch
):
    # Outputs and the hand-written gradients (input, kernel, bias) against
    # Keras's layer with the same weights, on every backend.
    monkeypatch.setattr(TapConv2DTranspose, "TAP_BACKENDS", (keras.backend.backend(),))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, *input_shape)).astype("float32")
    config = {"kernel_size": kernel_size, "padding": "same", "activation": activation}
    tap = TapConv2DTranspose(filters, **config)
    plain = keras.layers.Conv2DTranspose(filters, **config)
    tap.build(x.shape)
    plain.build(x.shape)
    weights = [rng.normal(size=w.shape).astype("float32") for w in plain.weights]
    tap.set_weights(weights)
    plain.set_weights(weights)
    assert tap._taps(x.shape)
    expected = keras.ops.convert_to_numpy(plain(x))
    out = keras.ops.convert_to_numpy(tap(x))
    assert out.shape == expected.shape == (3, *input_shape[:2], filters)
    assert_close(out, expected, atol=1e-4)

    target = rng.normal(size=expected.shape).astype("float32")
    got, want = _gradients(tap, x, target), _gradients(plain, x, target)
    assert [g.shape for g in got] == [x.shape, tap.kernel.shape, (filters,)]
    for g, w in zip(got, want, strict=True):
        assert_close(g, w, atol=1e-3 * max(1.0, float(np.abs(w).max())))


def test_tap_conv_falls_back_where_it_does_not_pay_or_apply(monkeypatch):
    monkeypatch.setattr(TapConv2DTranspose, "TAP_BACKENDS", (keras.backend.backend(),))
    shape = (None, 8, 8, 32)
    assert TapConv2DTranspose(1, 3, padding="same")._taps(shape)
    assert TapConv2DTranspose(3, 3, padding="same")._taps(shape)  # 27 taps <= 32 channels
    assert not TapConv2DTranspose(4, 3, padding="same")._taps(shape)  # 36 > 32
    assert not TapConv2DTranspose(1, 3, padding="valid")._taps(shape)
    assert not TapConv2DTranspose(1, 3, strides=2, padding="same")._taps(shape)
    assert not TapConv2DTranspose(1, 3, padding="same", dilation_rate=2)._taps(shape)
    assert not TapConv2DTranspose(1, 3, padding="same")._taps((None, None, 8, 32))
    monkeypatch.setattr(TapConv2DTranspose, "TAP_BACKENDS", ())
    assert not TapConv2DTranspose(1, 3, padding="same")._taps(shape)
    # The fallback is Keras's own computation: equal outputs.
    layer = TapConv2DTranspose(1, 3, padding="same")
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 32)).astype("float32")
    plain = keras.layers.Conv2DTranspose(1, 3, padding="same")
    plain.build(x.shape)
    layer.build(x.shape)
    layer.set_weights(plain.get_weights())
    assert_close(keras.ops.convert_to_numpy(layer(x)), keras.ops.convert_to_numpy(plain(x)))


def test_decoders_end_in_a_tap_conv_with_keras_config():
    for decoder in (
        networks.conv_decoder(2, (28, 28, 1)),
        networks.vq_decoder((7, 7, 4), (28, 28, 1)),
    ):
        layer = decoder.get_layer("decoder_output")
        assert type(layer) is TapConv2DTranspose
        assert isinstance(layer, keras.layers.Conv2DTranspose)
        assert serialization_round_trip(layer).get_config() == layer.get_config()
    assert networks.TapConv2DTranspose is TapConv2DTranspose
    assert TapConv2DTranspose.TAP_BACKENDS == ("jax",)
