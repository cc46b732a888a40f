"""Mixed precision: 16-bit layers, float32 losses, unscaled gradients."""

import keras
import numpy as np
import pytest
from keras import ops

from vae_keras import VAE, networks
from vae_keras.precision import configure_mixed_precision, mixed_precision_policy


@pytest.fixture
def policy():
    """Sets a global policy for the test and restores float32 afterwards."""

    def set_policy(name):
        return configure_mixed_precision(name != "float32", None if name == "float32" else name)

    yield set_policy
    keras.mixed_precision.set_dtype_policy("float32")


def _vae(freeze_log_var=False, weights=None):
    keras.utils.set_random_seed(0)
    encoder = networks.dense_encoder((8, 8, 1), 2, hidden_units=(32,))
    if freeze_log_var:  # noise of std 3e-7: one step is deterministic
        log_var = encoder.get_layer("z_log_var")
        log_var.kernel.assign(np.zeros(log_var.kernel.shape))
        log_var.bias.assign(np.full(log_var.bias.shape, -30.0))
        log_var.trainable = False
    vae = VAE(encoder, networks.dense_decoder(2, (8, 8, 1), hidden_units=(32,)), seed=0)
    if weights is not None:
        vae.set_weights(weights)
    return vae


def test_policy_choice_and_arguments(policy):
    assert mixed_precision_policy(gpu=True) == "mixed_float16"
    assert mixed_precision_policy(gpu=False) == "mixed_bfloat16"
    assert policy("mixed_bfloat16") == "mixed_bfloat16"
    assert keras.mixed_precision.dtype_policy().name == "mixed_bfloat16"
    assert configure_mixed_precision(False) == "float32"
    assert keras.mixed_precision.dtype_policy().name == "float32"
    with pytest.raises(ValueError, match="policy"):
        configure_mixed_precision(True, policy="float16")
    with pytest.raises(ValueError, match="enabled"):
        configure_mixed_precision("yes")


@pytest.mark.backend
def test_mixed_bfloat16_trains_without_nan_and_reports_float32_losses(policy, binary_images):
    policy("mixed_bfloat16")
    vae = _vae()
    assert vae.encoder.get_layer("dense_0").compute_dtype == "bfloat16"
    assert vae.sampler.compute_dtype == "float32"
    vae.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = vae.fit(binary_images, epochs=3, batch_size=16, verbose=0).history
    assert sorted(history) == ["kl_loss", "loss", "reconstruction_loss"]
    assert all(np.isfinite(v).all() for v in history.values()), history
    assert history["loss"][-1] < history["loss"][0]

    losses = vae.compute_losses(binary_images[:8], training=True)
    assert {name: ops.dtype(v) for name, v in losses.items()} == {
        "loss": "float32",
        "reconstruction_loss": "float32",
        "kl_loss": "float32",
    }
    assert {ops.dtype(tracker.result()) for tracker in vae.metrics} == {"float32"}
    z_mean, z_log_var = vae._encode_tensors(binary_images[:4])
    z = vae.sampler([z_mean, z_log_var])
    assert {ops.dtype(t) for t in (z_mean, z_log_var, z)} == {"float32"}
    assert vae.reconstruct(binary_images[:4]).dtype == np.float32
    result = vae.evaluate(binary_images, verbose=0, return_dict=True)
    total = result["reconstruction_loss"] + result["kl_loss"]
    assert result["loss"] == pytest.approx(total, rel=1e-4)
    # bfloat16 layers, float32 sums: the loss is the float32 model's, to bf16 accuracy.
    reference = _weights_in_float32(vae, policy)
    expected = reference.evaluate(binary_images, verbose=0, return_dict=True)["loss"]
    assert result["loss"] == pytest.approx(expected, rel=0.02)


def _weights_in_float32(vae, policy):
    weights = vae.get_weights()
    policy("float32")
    reference = _vae(weights=weights)
    reference.compile(optimizer="adam")
    return reference


@pytest.mark.backend
def test_mixed_float16_loss_scaling_applies_unscaled_gradients(policy, binary_images):
    x = binary_images[:16]
    reference = _vae(freeze_log_var=True)
    initial = reference.get_weights()
    reference.compile(optimizer=keras.optimizers.SGD(0.05))
    reference.fit(x, epochs=1, batch_size=16, shuffle=False, verbose=0)
    step_32 = _delta(reference.get_weights(), initial)

    policy("mixed_float16")
    wrapped = _vae()
    wrapped.compile(optimizer="sgd")  # Keras adds dynamic loss scaling by itself
    assert isinstance(wrapped.optimizer, keras.optimizers.LossScaleOptimizer)
    vae = _vae(freeze_log_var=True, weights=initial)
    # A loss scale of 2**10: the loss's gradients are 1024 times too large
    # until the optimizer unscales them (the default 2**15 may overflow float16
    # on the first step, which is then skipped by design).
    optimizer = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.SGD(0.05), initial_scale=2.0**10
    )
    vae.compile(optimizer=optimizer)
    assert vae.encoder.get_layer("dense_0").compute_dtype == "float16"
    history = vae.fit(x, epochs=1, batch_size=16, shuffle=False, verbose=0).history
    assert np.isfinite(history["loss"]).all()
    step_16 = _delta(vae.get_weights(), initial)
    assert np.linalg.norm(step_32) > 1e-2
    relative_error = np.linalg.norm(step_16 - step_32) / np.linalg.norm(step_32)
    assert relative_error < 0.05, relative_error


def _delta(after, before):
    return np.concatenate([np.ravel(a - b) for a, b in zip(after, before, strict=True)])
