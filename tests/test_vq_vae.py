"""VectorQuantizer, VQVAE and its learned prior (CodePrior)."""

import keras
import numpy as np
import pytest
from helpers import (
    assert_close,
    config_round_trip,
    saved_model_round_trip,
    serialization_round_trip,
)
from keras import ops

from vae_keras import VQVAE, networks
from vae_keras.layers import VectorQuantizer
from vae_keras.models import CodePrior

VQ_METRICS = ["codebook_usage", "loss", "perplexity", "reconstruction_loss", "vq_loss"]


def small_model(num_classes=None, quantizer=None, **kwargs):
    return VQVAE(
        networks.vq_encoder((8, 8, 1), 4, filters=(8,)),
        networks.vq_decoder((4, 4, 4), (8, 8, 1), filters=(8,)),
        quantizer or VectorQuantizer(16, 4, seed=0, restart_after=2),
        prior=CodePrior((4, 4), 16, 4, num_classes, filters=8, num_layers=1, head_units=8),
        num_classes=num_classes,
        seed=0,
        **kwargs,
    )


def clustered_grids(n=512, seed=0):
    """2x2 grids of 2-vectors from 32 tight clusters far from the codebook's start."""
    rng = np.random.default_rng(seed)
    centres = 2 * rng.uniform(-1, 1, size=(32, 2)) + 3.0
    x = centres[rng.integers(0, 32, size=(n, 2, 2))] + 0.05 * rng.normal(size=(n, 2, 2, 2))
    return x.astype("float32")


# === VectorQuantizer ===


def test_quantizer_picks_the_nearest_code_and_returns_it():
    vq = VectorQuantizer(8, 3, seed=1)
    x = np.random.default_rng(0).normal(size=(5, 2, 2, 3)).astype("float32")
    quantized, indices = vq(x)
    codebook = ops.convert_to_numpy(vq.embeddings)
    distances = ((x[..., None, :] - codebook) ** 2).sum(-1)
    np.testing.assert_array_equal(ops.convert_to_numpy(indices), distances.argmin(-1))
    assert_close(quantized, codebook[distances.argmin(-1)])
    assert ops.convert_to_numpy(indices).dtype == np.int32


@pytest.mark.backend
def test_straight_through_gradient_reaches_the_encoder():
    """With commitment_cost=0 the encoder learns only through the straight-through path."""
    keras.utils.set_random_seed(0)
    model = small_model(quantizer=VectorQuantizer(16, 4, commitment_cost=0.0, seed=0))
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    before = [ops.convert_to_numpy(w).copy() for w in model.encoder.weights]
    x = (np.random.default_rng(0).uniform(size=(16, 8, 8, 1)) < 0.3).astype("float32")
    model.fit(x, epochs=1, batch_size=16, verbose=0)
    after = [ops.convert_to_numpy(w) for w in model.encoder.weights]
    assert all(np.abs(a - b).max() > 1e-6 for a, b in zip(after, before, strict=True))


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.GradientTape")
def test_straight_through_gradient_is_the_identity():
    import tensorflow as tf

    vq = VectorQuantizer(8, 2, seed=0)
    x = tf.constant(np.random.default_rng(0).normal(size=(3, 2, 2, 2)), "float32")
    weights = tf.constant(np.random.default_rng(1).normal(size=(3, 2, 2, 2)), "float32")
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = vq.quantize_vectors(x, training=True)["quantized"]
        value = tf.reduce_sum(out * weights)
    assert_close(tape.gradient(value, x), weights)


@pytest.mark.backend
@pytest.mark.parametrize("remedies", [True, False])
def test_ema_and_restarts_keep_every_code_in_use(remedies):
    """Plain VQ on data far from its initial codebook keeps a few codes; the defaults all."""
    keras.utils.set_random_seed(0)
    kwargs = {} if remedies else {"ema": False, "restart_dead_codes": False}
    model = VQVAE(
        keras.Sequential([keras.Input((2, 2, 2)), keras.layers.Identity()]),
        keras.Sequential([keras.Input((2, 2, 2)), keras.layers.Conv2D(2, 1)]),
        VectorQuantizer(16, 2, seed=0, **kwargs),
        likelihood="gaussian",
        seed=0,
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    x = clustered_grids()
    model.fit(x, epochs=8, batch_size=32, verbose=0)
    stats = model.codebook_statistics(x)
    if remedies:
        assert stats["usage"] == 1.0
        assert stats["perplexity"] > 8
    else:
        assert stats["usage"] <= 0.5


@pytest.mark.backend
def test_ema_state_moves_in_fit_and_not_in_evaluate():
    model = small_model()
    model.compile(optimizer="adam")
    x = (np.random.default_rng(0).uniform(size=(32, 8, 8, 1)) < 0.3).astype("float32")
    snapshot = lambda: [ops.convert_to_numpy(v).copy() for v in model.quantizer.variables]  # noqa: E731
    before = snapshot()
    model.evaluate(x, batch_size=16, verbose=0)
    for a, b in zip(snapshot(), before, strict=True):
        np.testing.assert_array_equal(a, b)
    model.fit(x, epochs=1, batch_size=16, verbose=0)
    codebook = ops.convert_to_numpy(model.quantizer.embeddings)
    assert np.abs(codebook - before[0]).max() > 1e-4
    assert not model.quantizer.embeddings.trainable  # EMA: not a gradient-trained weight


def test_data_init_runs_kmeans_on_the_first_batch():
    vq = VectorQuantizer(4, 2, data_init=True, seed=0)
    centres = np.array([[5, 5], [-5, 5], [5, -5], [-5, -5]], "float32")
    x = np.repeat(centres, 8, axis=0)[:, None, :] + 0.01
    vq.quantize_vectors(x, training=True)
    codebook = ops.convert_to_numpy(vq.embeddings)
    nearest = ((codebook[:, None] - centres) ** 2).sum(-1).min(1)
    assert nearest.max() < 1.0  # a code near every cluster (from the random start at ~0)
    assert float(ops.convert_to_numpy(vq.initialized)) == 1.0


def test_data_init_runs_kmeans_once_not_on_every_batch(monkeypatch):
    # It used to run the k-means on every training batch and discard it (a `where`).
    if keras.backend.backend() == "jax":
        pytest.skip("jax.lax.cond traces both branches in Python; it runs one")
    calls = []
    distances = VectorQuantizer._distances
    monkeypatch.setattr(
        VectorQuantizer, "_distances", staticmethod(lambda f, c: calls.append(1) or distances(f, c))
    )
    vq = VectorQuantizer(4, 2, data_init=True, kmeans_iterations=5, seed=0)
    x = clustered_grids(64)
    vq.quantize_vectors(x, training=True)
    assert len(calls) == 5 + 1  # five Lloyd steps, then the batch's own assignment
    initialised = ops.convert_to_numpy(vq.embeddings)
    vq.embeddings.assign(initialised + 100.0)  # far from the data: a re-fit would move it back
    vq.ema_embedding_sum.assign(initialised + 100.0)
    calls.clear()
    for _ in range(3):
        vq.quantize_vectors(x, training=True)
    assert len(calls) == 3  # the assignment only
    # Not fitted again: codes the batches did not choose are still far out (EMA moves the rest).
    assert np.abs(ops.convert_to_numpy(vq.embeddings) - initialised).max() > 50.0


@pytest.mark.backend
def test_vqvae_with_data_init_trains_and_initialises_once():
    model = small_model(quantizer=VectorQuantizer(16, 4, data_init=True, seed=0))
    model.compile(optimizer="adam")
    x = (np.random.default_rng(0).uniform(size=(48, 8, 8, 1)) < 0.3).astype("float32")
    history = model.fit(x, epochs=2, batch_size=16, verbose=0).history
    assert np.isfinite(history["loss"]).all()
    assert float(ops.convert_to_numpy(model.quantizer.initialized)) == 1.0


def test_quantizer_config_round_trip():
    vq = VectorQuantizer(32, 8, commitment_cost=0.5, decay=0.95, restart_after=7, seed=3)
    clone = config_round_trip(vq)
    assert clone.restart_after == 7 and clone.decay == 0.95 and clone.seed == 3
    serialization_round_trip(vq)
    plain = config_round_trip(VectorQuantizer(4, 2, ema=False, restart_dead_codes=False))
    assert plain.embeddings.trainable


def test_quantizer_mixed_precision_keeps_float32_distances():
    x = np.random.default_rng(0).normal(size=(4, 3, 3, 4)).astype("float32")
    reference = VectorQuantizer(16, 4, seed=0)
    mixed = VectorQuantizer(16, 4, seed=0, dtype="mixed_bfloat16")
    mixed.embeddings.assign(reference.embeddings)
    x16 = ops.cast(x, "bfloat16")
    assert mixed.embeddings.dtype == "float32"
    assert ops.convert_to_numpy(mixed.distances(x16)).dtype == np.float32
    quantized, indices = mixed(x16)
    _, expected = reference(ops.cast(x16, "float32"))
    np.testing.assert_array_equal(ops.convert_to_numpy(indices), ops.convert_to_numpy(expected))
    assert quantized.dtype == x16.dtype


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_embeddings": 1, "embedding_dim": 4}, "at least two entries"),
        ({"num_embeddings": 8, "embedding_dim": 0}, "embedding_dim"),
        ({"num_embeddings": 8, "embedding_dim": 4, "decay": 1.5}, "decay"),
        ({"num_embeddings": 8, "embedding_dim": 4, "ema": False}, "ema=True"),
    ],
)
def test_quantizer_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        VectorQuantizer(**kwargs)


def test_quantizer_refuses_wrong_channels():
    with pytest.raises(ValueError, match="embedding_dim=3"):
        VectorQuantizer(8, 4)(np.zeros((2, 2, 2, 3), "float32"))


# === VQVAE ===


@pytest.mark.backend
def test_vqvae_fit_reports_its_metrics_and_round_trips_indices(binary_images):
    keras.utils.set_random_seed(0)
    model = small_model()
    model.compile(optimizer="adam")
    history = model.fit(
        binary_images, epochs=2, batch_size=16, verbose=0, validation_data=(binary_images[:16],)
    )
    assert sorted(history.history) == sorted(VQ_METRICS + [f"val_{m}" for m in VQ_METRICS])
    h = history.history
    np.testing.assert_allclose(h["loss"], np.add(h["reconstruction_loss"], h["vq_loss"]), rtol=1e-5)
    assert 1.0 <= h["perplexity"][-1] <= 16 and 0 < h["codebook_usage"][-1] <= 1
    indices = model.encode_indices(binary_images)
    assert indices.shape == (64, 4, 4) and indices.dtype == np.int32
    assert indices.min() >= 0 and indices.max() < 16
    np.testing.assert_array_equal(model.decode_indices(indices), model.reconstruct(binary_images))
    assert model.encode(binary_images[:3]).shape == (3, 4, 4, 4)
    assert_close(
        model.decode(model.encode(binary_images[:3])), model.reconstruct(binary_images[:3])
    )


def test_vqvae_with_gaussian_and_discretized_logistic_likelihoods():
    x = np.round(np.random.default_rng(0).uniform(size=(16, 8, 8, 1)) * 255) / 255
    x = x.astype("float32")
    for likelihood, channels in (("gaussian", 1), ("discretized_logistic", 2)):
        model = VQVAE(
            networks.vq_encoder((8, 8, 1), 4, filters=(8,)),
            networks.vq_decoder((4, 4, 4), (8, 8, 1), filters=(8,), output_channels=channels),
            VectorQuantizer(8, 4, seed=0),
            likelihood=likelihood,
        )
        model.compile(optimizer="adam")
        history = model.fit(x, epochs=1, batch_size=8, verbose=0).history
        assert np.isfinite(history["loss"][-1])
        # The reconstruction term is not the data's bits/dim (the prior's cost is apart).
        assert "bits_per_dim" not in history
        logged = "reconstruction_bits_per_dim" in history
        assert logged == (likelihood == "discretized_logistic")
        if logged:
            expected = history["reconstruction_loss"][-1] / (64 * np.log(2.0))
            assert history["reconstruction_bits_per_dim"][-1] == pytest.approx(expected, rel=1e-4)
        assert model.reconstruct(x[:2]).shape == (2, 8, 8, 1)


def test_vqvae_bad_networks():
    encoder = networks.vq_encoder((8, 8, 1), 4, filters=(8,))
    decoder = networks.vq_decoder((4, 4, 4), (8, 8, 1), filters=(8,))
    with pytest.raises(ValueError, match="embedding_dim=4"):
        VQVAE(encoder, decoder, VectorQuantizer(8, 5))
    with pytest.raises(ValueError, match="VectorQuantizer"):
        VQVAE(encoder, decoder, "vq")
    wrong_prior = CodePrior((4, 4), 32, 4, filters=4, head_units=4)
    with pytest.raises(ValueError, match="does not fit this model"):
        VQVAE(encoder, decoder, VectorQuantizer(8, 4), prior=wrong_prior)
    with pytest.raises(ValueError, match="output_shape"):
        VQVAE(
            encoder, networks.vq_decoder((4, 4, 4), (8, 8, 2), filters=(8,)), VectorQuantizer(8, 4)
        )


def test_decode_indices_refuses_bad_indices():
    model = small_model()
    with pytest.raises(ValueError, match=r"\[0, 16\)"):
        model.decode_indices(np.full((1, 4, 4), 16))
    with pytest.raises(ValueError, match="shaped"):
        model.decode_indices(np.zeros((1, 3, 4), "int32"))
    with pytest.raises(ValueError, match="integer"):
        model.decode_indices(np.zeros((1, 4, 4), "float32"))


# === The prior ===


@pytest.mark.backend
def test_prior_respects_the_causal_order():
    """Changing a later index never changes an earlier position's conditional."""
    prior = CodePrior((4, 5), 6, 2, filters=8, num_layers=2, head_units=8)
    rng = np.random.default_rng(0)
    indices = rng.integers(0, 6, size=(2, 4, 5)).astype("int32")
    base = ops.convert_to_numpy(prior(indices))
    for position in (0, 7, 13, 19):
        changed = indices.copy()
        row, col = divmod(position, 5)
        changed[:, row, col] = (changed[:, row, col] + 1) % 6
        logits = ops.convert_to_numpy(prior(changed)).reshape(2, 20, 6)
        flat = base.reshape(2, 20, 6)
        np.testing.assert_array_equal(logits[:, : position + 1], flat[:, : position + 1])
        if position < 19:  # a later position does see it
            assert np.abs(logits[:, position + 1 :] - flat[:, position + 1 :]).max() > 0


@pytest.mark.backend
def test_fit_prior_sample_and_the_bound(binary_images):
    keras.utils.set_random_seed(0)
    model = small_model()
    model.compile(optimizer="adam")
    model.fit(binary_images, epochs=1, batch_size=16, verbose=0)
    with pytest.raises(ValueError, match="fit_prior"):
        model.sample(2)
    indices = model.encode_indices(binary_images)
    untrained = ops.convert_to_numpy(model.prior.nll(indices)).mean()
    history = model.fit_prior(binary_images, epochs=2, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    prior_nll = model.prior_nll(binary_images)
    assert prior_nll.shape == (64,) and (prior_nll > 0).all()
    assert prior_nll.mean() < untrained
    assert_close(prior_nll, model.prior_nll(indices=indices))
    reconstruction = model.evaluate(binary_images, verbose=0, return_dict=True)
    bound = model.nll_bound(binary_images)
    assert_close(bound.mean(), reconstruction["reconstruction_loss"] + prior_nll.mean(), atol=1e-2)
    samples = model.sample(3, seed=1)
    assert samples.shape == (3, 8, 8, 1) and samples.min() >= 0 and samples.max() <= 1
    np.testing.assert_array_equal(model.sample(3, seed=1), samples)
    # More training changes the codebook: the prior no longer fits the codes.
    model.fit(binary_images, epochs=1, batch_size=16, verbose=0)
    with pytest.raises(ValueError, match="fitted on other codes"):
        model.sample(2)


def test_class_conditional_prior(binary_images):
    keras.utils.set_random_seed(0)
    labels = (binary_images[:, 0, 0, 0] > 0.5).astype("int32")
    model = small_model(num_classes=2)
    model.compile(optimizer="adam")
    model.fit(binary_images, epochs=1, batch_size=16, verbose=0)
    model.fit_prior(binary_images, labels, epochs=1, batch_size=16, verbose=0)
    assert model.sample(4, labels=1, seed=0).shape == (4, 8, 8, 1)
    assert model.sample_indices(2, labels=[0, 1], seed=0).shape == (2, 4, 4)
    with pytest.raises(ValueError, match="pass `labels`"):
        model.sample(2)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        model.sample(2, labels=5)


def test_prior_from_another_model_is_refused(binary_images):
    keras.utils.set_random_seed(0)
    first = small_model()
    first.compile(optimizer="adam")
    first.fit(binary_images, epochs=1, batch_size=16, verbose=0)
    first.fit_prior(binary_images, epochs=1, batch_size=16, verbose=0)
    second = VQVAE(
        first.encoder,
        first.decoder,
        VectorQuantizer(16, 4, seed=5),
        prior=first.prior,
        seed=0,
    )
    with pytest.raises(ValueError, match="another model"):
        second.sample(1)


# === Saving ===


def test_prior_config_round_trip():
    prior = CodePrior((3, 4), 8, 2, num_classes=3, filters=4, num_layers=1, head_units=4)
    clone = config_round_trip(prior)
    assert clone.num_classes == 3 and clone.grid_shape == (3, 4)
    serialization_round_trip(prior)


@pytest.mark.backend
def test_vqvae_saves_and_loads_with_its_prior(binary_images, tmp_path):
    keras.utils.set_random_seed(0)
    model = small_model()
    model.compile(optimizer="adam")
    model.fit(binary_images, epochs=1, batch_size=16, verbose=0)
    model.fit_prior(binary_images, epochs=1, batch_size=16, verbose=0)
    config_round_trip(model)
    loaded = saved_model_round_trip(model, tmp_path)
    np.testing.assert_array_equal(
        loaded.encode_indices(binary_images), model.encode_indices(binary_images)
    )
    assert_close(loaded.reconstruct(binary_images), model.reconstruct(binary_images))
    assert_close(loaded.sample(2, seed=3), model.sample(2, seed=3))
    assert_close(loaded.prior_nll(binary_images), model.prior_nll(binary_images), atol=1e-4)
    assert loaded.quantizer.get_config() == model.quantizer.get_config()
    loaded.fit(binary_images, epochs=1, batch_size=16, verbose=0)  # resumes training


@pytest.mark.backend
@pytest.mark.skipif(keras.backend.backend() == "torch", reason="SavedModel: TF and JAX")
def test_vqvae_saved_model_export(binary_images, tmp_path):
    import tensorflow as tf

    from vae_keras.export import export_saved_model

    keras.utils.set_random_seed(0)
    model = small_model()
    model.compile(optimizer="adam")
    model.fit(binary_images, epochs=1, batch_size=16, verbose=0)
    model.fit_prior(binary_images, epochs=1, batch_size=16, verbose=0)
    loaded = tf.saved_model.load(str(export_saved_model(model, tmp_path / "sm")))
    indices = loaded.encode(binary_images[:5]).numpy()
    np.testing.assert_array_equal(indices, model.encode_indices(binary_images[:5]))
    assert_close(loaded.decode(indices).numpy(), model.decode_indices(indices))
    assert_close(
        loaded.reconstruct(binary_images[:5]).numpy(), model.reconstruct(binary_images[:5])
    )
    assert np.isnan(loaded.decode(np.full((1, 4, 4), 16, "int32")).numpy()).all()
    if keras.backend.backend() == "tensorflow":  # the prior's loop, unrolled in the graph
        samples = loaded.sample(tf.constant(3)).numpy()
        assert samples.shape == (3, 8, 8, 1) and np.isfinite(samples).all()
    else:
        assert not hasattr(loaded, "sample")


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the TF sampler's keys")
def test_exported_sampler_keys_differ_for_every_call_and_position():
    from vae_keras.models._vq_export import draw_key

    pairs = [(step, position) for step in (0, 1, 2) for position in (0, 1, 4095, 4096, 8192)]
    keys = {tuple(draw_key(7, step, position).numpy()) for step, position in pairs}
    assert len(keys) == len(pairs)  # step 1, position 0 was step 0, position 4096 before
    assert tuple(draw_key(7, 1, 5).numpy()) == tuple(draw_key(7, 1, 5).numpy())
    assert tuple(draw_key(8, 1, 5).numpy()) != tuple(draw_key(7, 1, 5).numpy())


# === Figures and the example ===


def test_code_usage_and_code_grids_figures(binary_images, tmp_path):
    from vae_keras import plotting

    model = small_model()
    fig = plotting.code_usage(model, binary_images, path=tmp_path / "usage.png")
    heights = sorted(p.get_height() for p in fig.axes[0].patches)[::-1]
    assert len(heights) == 16 and sum(heights) == 64 * 16  # every grid position counted once
    plotting.code_grids(model, binary_images, num_images=2, path=tmp_path / "grids.png")
    assert (tmp_path / "usage.png").stat().st_size > 0 and (tmp_path / "grids.png").exists()
    with pytest.raises(ValueError, match="non-negative counts"):
        plotting.code_usage(np.array([[1, 2]]))


def test_example_quick_run(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, str(root / "examples" / "vq_vae.py"), "--quick", "--out", str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        cwd=root,
        env={**__import__("os").environ, "PYTHONPATH": str(root)},
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "codebook in use" in result.stdout and "-log p(x) <=" in result.stdout
    for name in ("code_usage.png", "code_grids.png", "samples.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_vqvae_trains_under_mixed_precision(binary_images):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = small_model()
        model.compile(optimizer="adam")
        history = model.fit(binary_images, epochs=1, batch_size=32, verbose=0).history
    finally:
        keras.config.set_dtype_policy(previous)
    assert model.quantizer.embeddings.dtype == "float32"
    assert all(np.isfinite(v[-1]) for v in history.values())
    assert model.reconstruct(binary_images[:2]).dtype == np.float32


# === Command line ===


@pytest.mark.backend
def test_cli_trains_evaluates_and_samples_a_vqvae(tmp_path, capsys):
    import json

    from vae_keras.cli import main

    out = tmp_path / "run"
    args = ["train", "--dataset", "digits", "--architecture", "vqvae", "--latent-dim", "4"]
    assert main([*args, "--epochs", "1", "--limit", "256", "--output", str(out)]) == 0
    model = keras.models.load_model(out / "model.keras", safe_mode=True)
    assert isinstance(model, VQVAE) and model.prior.is_fitted()
    assert model.num_embeddings == 128 and model.grid_shape == (2, 2)
    figures = {p.name for p in (out / "figures").iterdir()}
    assert {"code_usage.png", "code_grids.png", "samples.png"} <= figures
    # A SavedModel comes from the backends that can write one (not torch).
    exports = keras.backend.backend() in ("tensorflow", "jax")
    assert (out / "saved_model").is_dir() == exports
    assert main(["evaluate", "--model", str(out / "model.keras"), "--limit", "64"]) == 0
    result = json.loads((out / "evaluation.json").read_text())
    assert result["nll_bound"] > result["prior_nll"] > 0
    assert main(["sample", "--model", str(out / "model.keras"), "--num-samples", "4"]) == 0
    # --dataset folder cannot feed the prior in memory: one line, status 2.
    folder = ["train", "--dataset", "folder", "--data-dir", str(tmp_path), "--architecture"]
    assert main([*folder, "vqvae"]) == 2
    assert "in-memory dataset" in capsys.readouterr().err


def test_grid_callbacks_with_a_vqvae(binary_images, tmp_path):
    from vae_keras.callbacks import ReconstructionGrid, SampleGrid

    model = small_model()
    model.compile(optimizer="adam")
    callback = ReconstructionGrid(tmp_path / "recon", binary_images[:4])
    model.fit(binary_images, epochs=1, batch_size=32, verbose=0, callbacks=[callback])
    assert [p.name for p in (tmp_path / "recon").iterdir()] == ["reconstructions_epoch_001.png"]
    with pytest.raises(ValueError, match="fit_prior"):
        model.fit(binary_images, epochs=1, verbose=0, callbacks=[SampleGrid(tmp_path / "s", 4)])
