"""Issue 12: silently wrong numbers, unclear errors and numerical faults of the
library surface; each case gives the right result or a clear error."""

import gzip
import struct

import keras
import numpy as np
import pytest
from keras import ops

from vae_keras import VAE, ConditionalVAE, Sampling, datasets, evaluation, losses, networks
from vae_keras.callbacks import NonFiniteLossError
from vae_keras.models import conditional_decoder, conditional_encoder

SHAPE = (8, 8, 1)


def small_vae(**kwargs):
    model = VAE(
        networks.dense_encoder(SHAPE, 2, hidden_units=(8,)),
        networks.dense_decoder(2, SHAPE, hidden_units=(8,)),
        seed=0,
        **kwargs,
    )
    model.compile()
    return model


X = np.random.default_rng(0).uniform(size=(16, *SHAPE)).astype("float32")


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m: m.fit(None), r"needs training data. Received: x=None"),
        (lambda m: m.fit(X, batch_size=0, verbose=0), r"batch_size=0"),
        (lambda m: m.fit(X, sample_weight=np.ones(16), verbose=0), r"sample_weight.*not supported"),
        (lambda m: m.fit(X, class_weight={0: 1.0}, verbose=0), r"class_weight.*not supported"),
        (lambda m: m.encode(X, batch_size=-1), r"batch_size=-1"),
        (lambda m: evaluation.elbo(m, X, batch_size=0), r"batch_size=0"),
        (lambda m: m.fit((X * 255).astype("uint8"), verbose=0), r"8-bit pixels.*/ 255"),
        (lambda m: m.fit(np.round(X * 255), verbose=0), r"8-bit pixels"),
        (lambda m: m.fit(np.transpose(X, (0, 3, 1, 2)), verbose=0), r"np.transpose\(x, \(0, 2, 3"),
    ],
)
def test_bad_calls_are_refused_with_the_value_and_the_fix(call, message):
    with pytest.raises(ValueError, match=message):
        call(small_vae(likelihood="gaussian"))


def test_numpy_integers_are_positive_integers():
    model = small_vae()
    assert model.encode(X, batch_size=np.int64(5))[0].shape == (16, 2)
    assert evaluation.log_likelihood(model, X[:2], num_samples=np.int64(3)).shape == (2,)
    assert model.sample(np.int64(5), seed=np.int64(1)).shape == (5, *SHAPE)
    assert Sampling(seed=np.int64(3)).get_config()["seed"] == 3
    with pytest.raises(ValueError, match=r"num_samples=True"):
        model.sample(True)


def _bad_later(batches=3):
    for i in range(batches):
        yield (X[:4] * (3.0 if i == batches - 1 else 1.0),)


class _Batches(keras.utils.PyDataset):
    def __init__(self, last):
        super().__init__()
        self.last = last

    def __len__(self):
        return 3

    def __getitem__(self, i):
        return (X[:4] if i < 2 else self.last,)


@pytest.mark.backend
def test_every_streamed_batch_is_checked_not_only_the_first():
    model = small_vae()
    with pytest.raises(ValueError, match=r"values in \[.*3.*\].*Bernoulli"):
        model.fit(_bad_later(), steps_per_epoch=3, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"contains NaN"):
        model.fit(_Batches(np.full((4, *SHAPE), np.nan, "float32")), epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"sample weights.*not supported"):
        model.fit((b for b in [(X[:4], X[:4], np.ones(4))]), steps_per_epoch=1, verbose=0)
    model.fit(_Batches(X[:4]), epochs=1, verbose=0)  # good data still trains


def test_every_tf_data_batch_is_checked():
    tf = pytest.importorskip("tensorflow")
    model = small_vae()
    data = np.concatenate([X[:4], X[:4] * 3.0])
    with pytest.raises(ValueError, match=r"values in \[.*3.*\].*Bernoulli"):
        model.fit(tf.data.Dataset.from_tensor_slices(data).batch(4), epochs=1, verbose=0)


def test_an_out_of_range_label_in_a_later_batch_is_refused():
    model = ConditionalVAE(
        conditional_encoder(SHAPE, 2, 3), conditional_decoder(2, SHAPE, 3), num_classes=3
    )
    model.compile()

    def batches():
        yield ((X[:4], np.array([0, 1, 2, 0])),)
        yield ((X[:4], np.array([0, 1, 7, 0])),)

    with pytest.raises(ValueError, match=r"integers in \[0, 2\].*=7"):
        model.fit(batches(), steps_per_epoch=2, epochs=1, verbose=0)


def test_a_decoder_ending_in_activation_ops_sigmoid_is_not_squashed_twice():
    inputs = keras.Input((2,))
    hidden = keras.layers.Dense(64)(inputs)
    out = keras.layers.Activation(ops.sigmoid)(keras.layers.Reshape(SHAPE)(hidden))
    model = VAE(networks.dense_encoder(SHAPE, 2), keras.Model(inputs, out))
    decoder_out = model.decoder.predict(np.zeros((1, 2)), verbose=0)
    np.testing.assert_allclose(model.decode(np.zeros((1, 2))), decoder_out, atol=1e-6)


def test_a_float_idx_file_already_in_unit_range_is_not_divided_again(tmp_path):
    images = np.random.default_rng(0).uniform(size=(3, 28, 28)).astype(">f4")
    for prefix in ("train", "t10k"):
        with gzip.open(tmp_path / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">HBB3I", 0, 0x0D, 3, 3, 28, 28) + images.tobytes())
        with gzip.open(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">HBBI", 0, 0x08, 1, 3) + bytes([1, 2, 3]))
    x, _ = datasets.load("mnist", "test", tmp_path)
    np.testing.assert_allclose(x[..., 0], images.astype("float32"), atol=1e-7)


@pytest.mark.backend
def test_a_diverging_log_variance_keeps_the_losses_finite():
    """An encoder whose log-variance is driven past 80 (as a high learning rate
    does) gives a large but finite KL, sample and likelihood estimate."""
    model = small_vae()
    log_var_layer = model.encoder.get_layer("z_log_var")
    kernel, bias = log_var_layer.get_weights()
    log_var_layer.set_weights([np.zeros_like(kernel), np.full_like(bias, 100.0)])
    assert float(ops.convert_to_numpy(model.encoder(X)[1]).min()) > 80
    assert float(model.encode(X)[1].max()) == 20.0  # as the model uses it
    assert np.isfinite(
        ops.convert_to_numpy(losses.kl_divergence(np.zeros((1, 2)), [[100.0, -100.0]]))
    ).all()
    z = Sampling(seed=0)([np.zeros((4, 2)), np.full((4, 2), 100.0)])
    assert np.isfinite(ops.convert_to_numpy(z)).all()
    logs = model.evaluate(X, verbose=0, return_dict=True)
    assert all(np.isfinite(v) for v in logs.values()), logs
    assert np.isfinite(evaluation.log_likelihood(model, X[:2], num_samples=4)).all()
    history = model.fit(X, epochs=1, batch_size=8, verbose=0).history
    assert np.isfinite(history["loss"]).all()


def test_fit_stops_on_nan_by_default_and_can_opt_out():
    model = small_vae()
    model.optimizer.learning_rate = float("nan")  # every step turns the weights to NaN
    with pytest.raises(NonFiniteLossError):
        model.fit(X, epochs=2, batch_size=4, verbose=0)
    model = small_vae()
    model.optimizer.learning_rate = float("nan")
    history = model.fit(X, epochs=1, batch_size=4, verbose=0, nan_guard=False).history
    assert not np.isfinite(history["loss"][0])
