"""VQVAE2: two code grids, the bottom prior conditioned on the top codes, top-down sampling."""

import json

import keras
import numpy as np
import pytest

from tests.conftest import make_binary_images
from tests.helpers import assert_close, saved_model_round_trip
from vae_keras.models import VQVAE2
from vae_keras.models.conditioned_code_prior import ConditionedCodePrior

TINY = {
    "num_embeddings": (8, 16),
    "embedding_dim": 4,
    "filters": (8,),
    "top_filters": (8,),
    "prior_filters": 8,
    "prior_layers": 1,
    "prior_head_units": 8,
    "condition_channels": 4,
}


def tiny(**overrides):
    return VQVAE2((8, 8, 1), **{**TINY, "seed": 0, **overrides})


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    model = tiny()
    model.compile(optimizer="adam")
    x = make_binary_images()
    model.fit(x, epochs=3, batch_size=16, verbose=0)
    model.fit_prior(x, epochs=3, batch_size=16, verbose=0)
    return model, x


def test_grids_shapes_and_metric_names():
    assert VQVAE2((28, 28, 1)).top_grid_shape == (4, 4)  # the MNIST defaults: 7x7 then 4x4
    assert VQVAE2((28, 28, 1)).bottom_grid_shape == (7, 7)
    model = VQVAE2((16, 16, 1), **{**TINY, "filters": (8, 8)})
    top, bottom = model.encode_indices(np.zeros((3, 16, 16, 1), "float32"))
    assert top.shape == (3, 2, 2) and bottom.shape == (3, 4, 4)
    assert top.dtype == bottom.dtype == np.int32
    assert top.max() < 8 and bottom.max() < 16
    model.compile(optimizer="adam")
    history = model.fit(make_binary_images().repeat(2, 1).repeat(2, 2), verbose=0)
    assert sorted(history.history) == sorted(model.loss_names)
    assert {"top_perplexity", "bottom_codebook_usage", "vq_loss"} <= set(model.loss_names)


@pytest.mark.backend
def test_straight_through_gradients_reach_both_encoders():
    # No commitment term and an EMA codebook: the encoders learn only through the
    # reconstruction's straight-through gradient.
    keras.utils.set_random_seed(0)
    model = tiny(commitment_cost=0.0)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    before = {
        net.name: [np.array(w) for w in net.get_weights()]
        for net in (model.bottom_encoder, model.top_encoder, model.bottom_head)
    }
    model.fit(make_binary_images()[:16], epochs=1, batch_size=16, verbose=0)
    for net in (model.bottom_encoder, model.top_encoder, model.bottom_head):
        change = max(
            np.abs(a - b).max() for a, b in zip(before[net.name], net.get_weights(), strict=True)
        )
        assert change > 1e-6, net.name


@pytest.mark.backend
def test_decode_indices_of_encode_indices_is_reconstruct(trained):
    model, x = trained
    assert_close(model.decode_indices(*model.encode_indices(x[:8])), model.reconstruct(x[:8]))


def test_bottom_prior_is_conditioned_on_the_top_and_both_are_causal(trained):
    model, x = trained
    top, bottom = model.encode_indices(x[:4])
    # The bottom prior: other top codes change its conditionals...
    logits = np.asarray(model.bottom_prior((bottom, top)))
    other_top = (top + 1) % model.num_embeddings[0]
    assert np.abs(np.asarray(model.bottom_prior((bottom, other_top))) - logits).max() > 1e-4
    # ...a bottom code changes the conditionals after it only.
    changed = bottom.copy()
    changed[:, 1, 2] = (changed[:, 1, 2] + 1) % model.num_embeddings[1]
    after = np.asarray(model.bottom_prior((changed, top)))
    flat_before, flat_after = logits.reshape(4, 16, -1), after.reshape(4, 16, -1)
    assert_close(flat_before[:, : 1 * 4 + 2 + 1], flat_after[:, : 1 * 4 + 2 + 1])
    assert np.abs(flat_before[:, 7:] - flat_after[:, 7:]).max() > 1e-5
    # The top prior: a code changes the conditionals after it only.
    top_logits = np.asarray(model.top_prior(top)).reshape(4, 4, -1)
    changed = top.copy()
    changed[:, 0, 1] = (changed[:, 0, 1] + 1) % model.num_embeddings[0]
    top_after = np.asarray(model.top_prior(changed)).reshape(4, 4, -1)
    assert_close(top_logits[:, :2], top_after[:, :2])
    assert np.abs(top_logits[:, 2:] - top_after[:, 2:]).max() > 1e-5


def test_nll_bound_is_the_sum_of_its_parts(trained):
    model, x = trained
    reconstruction = np.asarray(model.compute_losses_per_example(x[:8]))
    top, bottom = model.prior_nll(x[:8], by_level=True)
    bound = model.nll_bound(x[:8])
    assert bound.shape == (8,) and (top > 0).all() and (bottom > 0).all()
    assert_close(bound, reconstruction + top + bottom, atol=1e-3)
    assert_close(model.prior_nll(indices=model.encode_indices(x[:8])), top + bottom, atol=1e-4)
    # The prior's NLL is below the uniform code length after training.
    uniform = 4 * np.log(8) + 16 * np.log(16)
    assert (top + bottom).mean() < uniform


@pytest.mark.backend
def test_sample_shapes_and_seeds(trained):
    model, _ = trained
    a = model.sample(5, seed=3)
    assert a.shape == (5, 8, 8, 1) and np.isfinite(a).all() and (a >= 0).all() and (a <= 1).all()
    assert_close(a, model.sample(5, seed=3))
    top, bottom = model.sample_indices(5, seed=3)
    assert top.shape == (5, 2, 2) and bottom.shape == (5, 4, 4)
    other_top, other_bottom = model.sample_indices(5, seed=4)
    assert (other_top != top).any() or (other_bottom != bottom).any()
    # Near zero temperature draws the mode: the first position sees no codes, so every
    # sample takes the argmax of its one conditional.
    cold_top, _ = model.sample_indices(16, seed=0, temperature=1e-3)
    first = np.asarray(model.top_prior(np.zeros((1, 2, 2), "int32")))[0, 0, 0]
    assert (cold_top[:, 0, 0] == np.argmax(first)).all()


@pytest.mark.backend
def test_keras_round_trip_keeps_outputs_and_priors(trained, tmp_path):
    model, x = trained
    loaded = saved_model_round_trip(model, tmp_path)
    for a, b in zip(model.encode_indices(x[:8]), loaded.encode_indices(x[:8]), strict=True):
        np.testing.assert_array_equal(a, b)
    assert_close(model.reconstruct(x[:8]), loaded.reconstruct(x[:8]))
    assert_close(model.nll_bound(x[:8]), loaded.nll_bound(x[:8]), atol=1e-4)
    assert_close(model.sample(3, seed=1), loaded.sample(3, seed=1))
    assert loaded.get_config() == model.get_config()


def test_conditioned_prior_round_trip(tmp_path):
    prior = ConditionedCodePrior((4, 4), 8, 2, (2, 2), 5, condition_channels=3, filters=4)
    bottom = np.random.default_rng(0).integers(0, 8, (3, 4, 4)).astype("int32")
    top = np.random.default_rng(1).integers(0, 5, (3, 2, 2)).astype("int32")
    path = tmp_path / "prior.keras"
    prior.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert type(loaded) is ConditionedCodePrior
    assert_close(np.asarray(prior.nll(bottom, top)), np.asarray(loaded.nll(bottom, top)))
    assert loaded.get_config() == prior.get_config()


def _one_line_error(call, *words):
    with pytest.raises(ValueError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message and all(w in message for w in words), message


def test_refusals(trained):
    model, x = trained
    fresh = tiny()
    _one_line_error(lambda: fresh.sample(2), "fit_prior")
    _one_line_error(lambda: fresh.nll_bound(x[:2]), "fit_prior")
    top, bottom = model.encode_indices(x[:2])
    _one_line_error(lambda: model.decode_indices(bottom, bottom), "`top`", "(n, 2, 2)")
    _one_line_error(lambda: model.decode_indices(top, top), "`bottom`", "(n, 4, 4)")
    _one_line_error(lambda: model.decode_indices(top, bottom + 16), "[0, 16)")
    _one_line_error(lambda: model.decode_indices(top, bottom.astype("float32")), "integer")
    _one_line_error(lambda: model.decode_indices(top[:1], bottom), "one of each")
    _one_line_error(lambda: model.sample(2, temperature=0), "temperature")
    _one_line_error(lambda: model.code_counts(x, level="middle"), "level")
    _one_line_error(lambda: model.bottom_prior.nll(bottom, None), "top")
    _one_line_error(lambda: model.bottom_prior.nll(bottom, bottom), "(n, 2, 2)")
    _one_line_error(lambda: VQVAE2((28, 28)), "input_shape=(28, 28)")
    _one_line_error(lambda: VQVAE2((8, 8, 1), num_embeddings=(8, 8, 8)), "num_embeddings")
    _one_line_error(lambda: VQVAE2((8, 8, 1), num_embeddings=(1, 8)), "num_embeddings")


def test_codebook_statistics(trained):
    model, x = trained
    stats = model.codebook_statistics(x)
    assert set(stats) == {"top", "bottom"}
    assert stats["top"]["counts"].sum() == len(x) * 4
    assert stats["bottom"]["counts"].shape == (16,) and stats["bottom"]["counts"].sum() == 64 * 16
    assert 1.0 <= stats["bottom"]["perplexity"] <= 16


def test_commands_evaluate_sample_and_export_it(shared_mnist_dir, tmp_path, capsys):
    from vae_keras import datasets
    from vae_keras.binarization import binarize
    from vae_keras.cli import main

    x, _ = datasets.load("mnist", "test", data_dir=shared_mnist_dir, limit=64)
    x = binarize(x, seed=0)
    keras.utils.set_random_seed(0)
    model = VQVAE2((28, 28, 1), **{**TINY, "filters": (8, 8)}, seed=0)
    model.compile(optimizer="adam")
    model.fit(x, epochs=1, batch_size=32, verbose=0)
    model.fit_prior(x, epochs=1, batch_size=32, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    common = ["--model", str(path)]
    data = ["--dataset", "mnist", "--data-dir", str(shared_mnist_dir), "--limit", "32"]
    assert main(["evaluate", *common, *data, "--binarize", "yes"]) == 0
    result = json.loads((tmp_path / "evaluation.json").read_text())
    assert np.isfinite(result["nll_bound"]) and result["nll_bound"] > result["prior_nll"] > 0
    assert main(["sample", *common, "--num-samples", "4", "--npy", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape[1:] == (28, 28, 1)
    assert main(["export", *common, "--out", str(tmp_path / "saved")]) == 0
    import tensorflow as tf

    served = tf.saved_model.load(str(tmp_path / "saved"))
    assert tuple(served.sample(tf.constant(2)).shape) == (2, 28, 28, 1)


def test_train_model_kind_vqvae2_writes_a_run_with_both_code_grids(tmp_path, capsys):
    from vae_keras.cli import main

    out = tmp_path / "run"
    argv = (
        "train --dataset shapes --image-size 28 --limit 96 --epochs 1 --batch-size 32 "
        f"--model-kind vqvae2 --latent-dim 4 --output {out}"
    ).split()
    assert main(argv) == 0
    model = keras.models.load_model(out / "model.keras", safe_mode=True)
    assert isinstance(model, VQVAE2) and model.embedding_dim == 4
    assert model.prior_is_fitted()  # `train` fitted both priors after the VQ-VAE
    assert json.loads((out / "config.json").read_text())["architecture"] == "vqvae2"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["bits_per_dim_8bit"] > 0  # from nll_bound: an upper bound
    figures = {p.name for p in (out / "figures").iterdir()}
    assert {"code_grids.png", "code_usage.png", "samples.png"} <= figures
    # The code-grid figure: image, top codes, bottom codes, reconstruction per row.
    import matplotlib

    matplotlib.use("Agg")
    from vae_keras import plotting

    fig = plotting.code_grids(model, np.zeros((2, 28, 28, 3), "float32"), num_images=2)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:4] == ["image", "top codes", "bottom codes", "reconstruction"], titles
    assert [ax.images[0].get_array().shape for ax in fig.axes[1:3]] == [(4, 4), (7, 7)]


def _certain_prior(prior, code):
    """Makes `prior` put (all but) all its mass on `code` at every position."""
    for layer_name in ("head_output", "skip"):
        layer = prior.pixelcnn.get_layer(layer_name)
        kernel, bias = layer.get_weights()
        bias = np.zeros_like(bias)
        if layer_name == "head_output":
            bias[code] = 50.0
        layer.set_weights([np.zeros_like(kernel), bias])


def test_saved_model_endpoints_match_the_model(trained, tmp_path):
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the SavedModel `sample` endpoint is exported from TensorFlow")
    from vae_keras.export import export_saved_model

    model, x = trained
    model = saved_model_round_trip(model, tmp_path)
    _certain_prior(model.top_prior, 3)
    _certain_prior(model.bottom_prior, 5)
    served = tf.saved_model.load(str(export_saved_model(model, tmp_path / "saved")))
    top, bottom = model.encode_indices(x[:4])
    codes = served.encode(tf.constant(x[:4]))
    assert set(codes) == {"top", "bottom"} and codes["top"].dtype == tf.int32
    np.testing.assert_array_equal(codes["top"].numpy(), top)
    np.testing.assert_array_equal(codes["bottom"].numpy(), bottom)
    assert_close(served.decode(top, bottom).numpy(), model.decode_indices(top, bottom), atol=1e-5)
    assert_close(served.reconstruct(x[:4]).numpy(), model.reconstruct(x[:4]), atol=1e-5)
    assert_close(served.serve(x[:4]).numpy(), model.reconstruct(x[:4]), atol=1e-5)
    # An index outside either codebook: that row is NaN, the others decode.
    bad_top = top.copy()
    bad_top[1, 0, 0] = 8
    bad_bottom = bottom.copy()
    bad_bottom[2, 0, 0] = -1
    out = served.decode(bad_top, bad_bottom).numpy()
    assert np.isnan(out[1]).all() and np.isnan(out[2]).all()
    assert np.isfinite(out[[0, 3]]).all()
    # With priors certain of codes 3 (top) and 5 (bottom), `sample` decodes those grids:
    # the top grid is drawn first and the bottom given it.
    drawn = served.sample(tf.constant(3)).numpy()
    certain = model.decode_indices(
        np.full((3, *model.top_grid_shape), 3), np.full((3, *model.bottom_grid_shape), 5)
    )
    assert_close(drawn, certain, atol=1e-5)


def test_vqvae2_counts_a_resumed_fitting_over_the_top_prior_then_the_bottom():
    keras.utils.set_random_seed(0)
    model = tiny()
    x = make_binary_images()
    model.compile(optimizer="adam")
    model.fit(x, epochs=1, batch_size=16, verbose=0)
    # 2 epochs per prior: after 3 of 4, the top prior is done and the bottom has 1 left.
    histories = model.fit_prior(x, epochs=2, batch_size=16, verbose=0, initial_epoch=3)
    assert histories["top"].epoch == [] and histories["bottom"].epoch == [1]
    assert model.prior_is_fitted()
    histories = model.fit_prior(x, epochs=2, batch_size=16, verbose=0, initial_epoch=1)
    assert histories["top"].epoch == [1] and histories["bottom"].epoch == [0, 1]
    with pytest.raises(ValueError, match=r"an integer in \[0, 4\]. Received: initial_epoch=5"):
        model.fit_prior(x, epochs=2, verbose=0, initial_epoch=5)
