"""Tests for `ConditionalVAE` and the conditional network factories."""

import keras
import numpy as np
import pytest
from keras import ops

from tests.helpers import (
    assert_close,
    assert_elbo_history,
    normalized,
    saved_model_round_trip,
    serialization_round_trip,
)
from vae_keras import networks
from vae_keras.models import ConditionalVAE, conditional_decoder, conditional_encoder

pytestmark = pytest.mark.backend
SHAPE = (8, 8, 1)
K = 3


def small_cvae(network="dense", num_classes=K, latent_dim=2, **kwargs):
    if network == "conv":
        encoder = conditional_encoder(
            SHAPE, latent_dim, num_classes, "conv", filters=(4,), dense_units=8
        )
        decoder = conditional_decoder(latent_dim, SHAPE, num_classes, "conv", filters=(4,))
    else:
        encoder = conditional_encoder(SHAPE, latent_dim, num_classes, hidden_units=(16,))
        decoder = conditional_decoder(latent_dim, SHAPE, num_classes, hidden_units=(16,))
    return ConditionalVAE(encoder, decoder, num_classes, **kwargs)


@pytest.fixture
def labels(binary_images):
    return np.arange(len(binary_images)) % K


def test_networks_take_the_label_as_a_second_input():
    enc = conditional_encoder(SHAPE, 2, K, "conv", filters=(4,))
    assert [tuple(t.shape) for t in enc.inputs] == [(None,) + SHAPE, (None, K)]
    assert [tuple(t.shape) for t in enc.outputs] == [(None, 2), (None, 2)]
    # The conv encoder sees the label as K extra constant channels.
    assert enc.get_layer("encoder_body").inputs[0].shape[-1] == 1 + K
    dec = conditional_decoder(2, (7, 5, 3), K, "conv", filters=(4,))
    assert tuple(dec.output.shape) == (None, 7, 5, 3)
    with pytest.raises(ValueError, match="network='rnn'"):
        conditional_encoder(SHAPE, 2, K, "rnn")
    with pytest.raises(ValueError, match=r"\(64,\)"):
        conditional_encoder((64,), 2, K, "conv")


@pytest.mark.parametrize("network", ["dense", "conv"])
def test_fit_on_pairs_reports_the_three_losses(binary_images, labels, network):
    cvae = small_cvae(network, seed=0)
    cvae.compile(optimizer=keras.optimizers.Adam(1e-2))
    val = (binary_images[:16], labels[:16])
    history = cvae.fit(
        (binary_images, labels), epochs=3, batch_size=16, verbose=0, validation_data=(val,)
    ).history
    assert_elbo_history(history)
    assert history["loss"][-1] < history["loss"][0]


def test_integer_and_one_hot_labels_are_the_same(binary_images, labels):
    cvae = small_cvae(seed=0)
    cvae.compile()
    one_hot = np.eye(K, dtype="float32")[labels]
    a = cvae.evaluate((binary_images, labels), verbose=0, return_dict=True)
    b = cvae.evaluate((binary_images, one_hot), verbose=0, return_dict=True)
    assert a["kl_loss"] == pytest.approx(b["kl_loss"], rel=1e-6)  # the rest is sampled
    assert_close(
        cvae.reconstruct(binary_images, labels), cvae.reconstruct((binary_images, one_hot))
    )
    # The label changes the reconstruction (the decoder really reads it).
    assert not np.allclose(cvae.reconstruct(binary_images, 0), cvae.reconstruct(binary_images, 1))


def test_tf_dataset_with_integer_labels():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.data is the TensorFlow backend's input")
    import tensorflow as tf

    x = np.random.default_rng(0).uniform(size=(32,) + SHAPE).astype("float32")
    y = np.arange(32) % K
    cvae = small_cvae(seed=0)
    cvae.compile()
    data = tf.data.Dataset.from_tensor_slices(((x, y),)).batch(8)
    history = cvae.fit(data, epochs=1, verbose=0).history
    expected = cvae.evaluate((x, y), batch_size=32, verbose=0, return_dict=True)
    assert cvae.evaluate(data, verbose=0, return_dict=True)["kl_loss"] == pytest.approx(
        expected["kl_loss"], rel=1e-4
    )
    assert sorted(history) == ["kl_loss", "loss", "reconstruction_loss"]
    bad = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    with pytest.raises(ValueError, match=r"\(\(x, labels\),\)"):
        cvae.fit(bad, epochs=1, verbose=0)


@pytest.mark.parametrize("network", ["dense", "conv"])
def test_save_and_load_round_trip(binary_images, labels, network, tmp_path):
    cvae = small_cvae(network, seed=1, beta=0.5, free_bits=0.1)
    cvae.compile()
    cvae.fit((binary_images, labels), epochs=1, batch_size=32, verbose=0)
    loaded = saved_model_round_trip(cvae, tmp_path)
    assert normalized(loaded.get_config()) == normalized(cvae.get_config())
    assert loaded.num_classes == K
    assert_close(loaded.reconstruct(binary_images, labels), cvae.reconstruct(binary_images, labels))
    assert_close(loaded.encode(binary_images, labels)[1], cvae.encode(binary_images, labels)[1])
    assert_close(loaded.sample(6, seed=2, labels=2), cvae.sample(6, seed=2, labels=2))
    loaded.fit((binary_images, labels), epochs=1, batch_size=32, verbose=0)
    assert serialization_round_trip(small_cvae(seed=4)).num_classes == K


def test_sample_shapes_and_labels():
    cvae = small_cvae(seed=0)
    cycled = cvae.sample(6, seed=1)
    assert cycled.shape == (6,) + SHAPE and cycled.dtype == np.float32
    assert_close(cycled, cvae.sample(6, seed=1, labels=[0, 1, 2, 0, 1, 2]))
    assert_close(cvae.sample(4, seed=1, labels=2), cvae.sample(4, seed=1, labels=np.full(4, 2)))
    z = ops.convert_to_numpy(keras.random.normal((4, 2), seed=1))
    assert_close(cvae.sample(4, seed=1, labels=1), cvae.decode(z, 1))
    assert not np.allclose(cvae.sample(4, seed=1, labels=0), cvae.sample(4, seed=1, labels=1))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda m, x, y: m.fit((x, np.full(len(x), K)), epochs=1, verbose=0), r"labels\[0\]=3"),
        (lambda m, x, y: m.fit((x, y[:-1]), epochs=1, verbose=0), r"63 entries.*64 examples"),
        (lambda m, x, y: m.fit((x, y + 0.5), epochs=1, verbose=0), r"integers in \[0, 2\]"),
        (lambda m, x, y: m.fit((x, -y), epochs=1, verbose=0), r"labels\[1\]=-1"),
        (lambda m, x, y: m.fit(x, y, epochs=1, verbose=0), r"Labels go inside the input"),
        (lambda m, x, y: m.fit(x, epochs=1, verbose=0), r"fit\(\(x, labels\)\)"),
        (
            lambda m, x, y: m.fit((x, y), validation_data=(x, y), verbose=0),
            r"validation_data=\(\(x_val",
        ),
        (lambda m, x, y: m.fit((x, np.ones((len(x), K + 1))), verbose=0), r"\(N, 3\)"),
        (lambda m, x, y: m.encode(x), r"needs the class labels"),
        (lambda m, x, y: m.decode(np.zeros((2, 2)), [0, 1, 2]), r"3 entries.*2 examples"),
        (lambda m, x, y: m.sample(2, labels=7), r"labels\[0\]=7"),
    ],
)
def test_bad_labels_are_rejected_with_the_fix(binary_images, labels, call, match):
    cvae = small_cvae(seed=0)
    cvae.compile()
    with pytest.raises(ValueError, match=match):
        call(cvae, binary_images, labels)


def test_bad_construction_is_rejected():
    plain = networks.dense_encoder(SHAPE, 2), networks.dense_decoder(2, SHAPE)
    with pytest.raises(ValueError, match=r"two inputs \[x, label\].*conditional_encoder"):
        ConditionalVAE(*plain, num_classes=K)
    with pytest.raises(ValueError, match=r"\(batch, 4\)"):
        small_cvae(num_classes=K).__class__(
            conditional_encoder(SHAPE, 2, K), conditional_decoder(2, SHAPE, K), num_classes=4
        )
    with pytest.raises(ValueError, match="num_classes=1"):
        ConditionalVAE(conditional_encoder(SHAPE, 2, 1), conditional_decoder(2, SHAPE, 1), 1)


def test_conditional_samples_are_recognised_as_the_requested_digit():
    """Trained on sklearn's 8x8 digits, samples asked for digit c look like c
    to a classifier trained on real digits (chance would be 10%)."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    y = digits.target
    classifier = LogisticRegression(max_iter=2000).fit(x.reshape(len(x), -1), y)
    keras.utils.set_random_seed(0)
    cvae = ConditionalVAE(
        conditional_encoder(SHAPE, 2, 10, hidden_units=(64,)),
        conditional_decoder(2, SHAPE, 10, hidden_units=(64,)),
        num_classes=10,
        seed=0,
    )
    cvae.compile(optimizer=keras.optimizers.Adam(1e-2))
    cvae.fit((x, y), epochs=8, batch_size=128, verbose=0)
    requested = np.repeat(np.arange(10), 20)
    predicted = classifier.predict(cvae.sample(200, seed=1, labels=requested).reshape(200, -1))
    per_class = [(predicted[requested == c] == c).mean() for c in range(10)]
    assert np.mean(predicted == requested) >= 0.8, per_class
    assert min(per_class) >= 0.5, per_class
