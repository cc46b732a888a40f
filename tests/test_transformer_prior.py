"""CausalTransformer (causal mask, KV cache) and TransformerPrior, alone and in VQVAE."""

import keras
import numpy as np
import pytest
from helpers import assert_close, config_round_trip, saved_model_round_trip
from keras import ops

from vae_keras import VQVAE, datasets, networks
from vae_keras.layers import VectorQuantizer
from vae_keras.models import CodePrior, TransformerPrior
from vae_keras.networks import CausalTransformer


def tiny_prior(**kwargs):
    kwargs = {"width": 16, "depth": 2, "heads": 2, **kwargs}
    return TransformerPrior((2, 3), 5, 2, **kwargs)


# === The network ===


@pytest.mark.backend
def test_changing_a_later_token_never_changes_an_earlier_position():
    keras.utils.set_random_seed(0)
    net = CausalTransformer(9, 8, width=16, depth=2, heads=4, pad_token=8)
    tokens = np.random.default_rng(0).integers(0, 8, (2, 8)).astype("int32")
    base = ops.convert_to_numpy(net(tokens))
    for t in range(8):
        changed = tokens.copy()
        changed[:, t] = (changed[:, t] + 3) % 8
        logits = ops.convert_to_numpy(net(changed))
        assert_close(logits[:, :t], base[:, :t], atol=1e-5)
        assert np.abs(logits[:, t] - base[:, t]).max() > 1e-3  # and the token itself counts


@pytest.mark.backend
def test_cached_steps_equal_the_full_forward():
    keras.utils.set_random_seed(1)
    net = CausalTransformer(11, 7, width=16, depth=2, heads=2, pad_token=10)
    tokens = np.random.default_rng(1).integers(0, 11, (3, 7)).astype("int32")
    tokens[0, :3] = 10  # pads, including at position 0
    full = ops.convert_to_numpy(net(tokens))
    cache = net.init_cache(3)
    for t in range(7):
        logits, cache = net.step(tokens[:, t], t, cache)
        assert_close(ops.convert_to_numpy(logits)[1:], full[1:, t], atol=1e-4)
        if t >= 3:  # a pad's own logits are never read; the rest must agree
            assert_close(ops.convert_to_numpy(logits)[0], full[0, t], atol=1e-4)


def test_pad_keys_are_never_read():
    """What sits at a pad position (its embedding) reaches no other position."""
    keras.utils.set_random_seed(2)
    net = CausalTransformer(6, 5, width=8, depth=1, heads=2, pad_token=5)
    tokens = np.array([[1, 5, 2, 5, 4]])
    base = ops.convert_to_numpy(net(tokens))
    table = net.token_embedding.embeddings
    noise = np.random.default_rng(0).normal(size=(6, 8)) * (np.arange(6) == 5)[:, None]
    table.assign(ops.convert_to_numpy(table) + 3.0 * noise.astype("float32"))
    moved = ops.convert_to_numpy(net(tokens))
    assert_close(moved[:, [0, 2, 4]], base[:, [0, 2, 4]])
    assert np.abs(moved[:, 1] - base[:, 1]).max() > 1e-3  # the pad itself changed
    # a real token there is read by the later positions
    real = ops.convert_to_numpy(net(np.array([[1, 0, 2, 5, 4]])))
    assert np.abs(real[:, 2] - base[:, 2]).max() > 1e-4


def test_transformer_bad_arguments():
    with pytest.raises(ValueError, match="multiple of `heads`"):
        CausalTransformer(5, 4, width=10, heads=4)
    with pytest.raises(ValueError, match="pad_token"):
        CausalTransformer(5, 4, width=8, heads=2, pad_token=5)


# === The prior ===


@pytest.mark.backend
@pytest.mark.parametrize("condition", ["captions", "classes", "none"])
def test_cached_and_full_samplers_draw_the_same_grids(condition):
    keras.utils.set_random_seed(3)
    if condition == "captions":
        prior = tiny_prior(vocabulary=["red", "green", "heart"], max_prompt_length=3)
        cond = prior.condition(6, captions=["red heart", "green", "heart red green"] * 2)
    elif condition == "classes":
        prior = tiny_prior(num_classes=3)
        cond = prior.condition(6, labels=np.arange(6) % 3)
    else:
        prior, cond = tiny_prior(), None
    for seed, temperature, top_k in ((0, 1.0, None), (5, 2.0, None), (1, 1.0, 3)):
        cached = prior.sample(6, cond, seed=seed, temperature=temperature, top_k=top_k)
        full = prior.sample(
            6, cond, seed=seed, temperature=temperature, top_k=top_k, sampler="full"
        )
        assert cached.shape == (6, 2, 3) and cached.dtype == np.int32
        np.testing.assert_array_equal(cached, full)
    # an untrained prior is near uniform: different seeds draw different grids
    assert (prior.sample(6, cond, seed=0) != prior.sample(6, cond, seed=1)).any()


def test_top_k_one_is_greedy_and_top_k_bounds_the_codes():
    keras.utils.set_random_seed(4)
    prior = tiny_prior(num_classes=2)
    labels = np.array([0, 1, 1, 0], "int32")
    greedy = prior.sample(4, labels, seed=0, top_k=1)
    logits = ops.convert_to_numpy(prior((greedy, labels)))
    np.testing.assert_array_equal(logits.argmax(-1), greedy)
    np.testing.assert_array_equal(greedy, prior.sample(4, labels, seed=9, top_k=1))
    draws = prior.sample(64, np.zeros(64, "int32"), seed=0, top_k=2)
    first = logits[0, 0, 0].argsort()[-2:]  # position 0's two likeliest codes (label 0)
    assert set(draws[:, 0, 0].tolist()) <= set(first.tolist())
    with pytest.raises(ValueError, match="top_k"):
        prior.sample(2, labels[:2], top_k=6)
    with pytest.raises(ValueError, match="sampler"):
        prior.sample(2, labels[:2], sampler="beam")


def test_prior_learns_codes_from_captions():
    """Each caption word fixes the grid's code: the prior learns it (NLL drops, greedy is right)."""
    keras.utils.set_random_seed(5)
    prior = tiny_prior(vocabulary=["red", "green", "blue"], max_prompt_length=2)
    rng = np.random.default_rng(0)
    words = rng.integers(0, 3, 192)
    texts = [["red", "green", "blue"][w] + (" red" if i % 2 else "") for i, w in enumerate(words)]
    # the first word decides: red -> code 1, green -> 2, blue -> 4 everywhere (code 0 never)
    grids = np.broadcast_to(np.array([1, 2, 4])[words][:, None, None], (192, 2, 3)).copy()
    tokens = prior.condition(192, captions=texts)
    before = float(ops.convert_to_numpy(prior.nll(grids, tokens)).mean())
    prior.compile(optimizer=keras.optimizers.Adam(1e-2))
    history = prior.fit((grids, tokens), grids, epochs=15, batch_size=32, verbose=0)
    after = float(ops.convert_to_numpy(prior.nll(grids, tokens)).mean())
    assert before > 2.0 and after < 0.5, (before, after)  # ln 5 ~ 1.6 nats per code at start
    assert history.history["loss"][-1] < history.history["loss"][0]
    cond = prior.condition(3, captions=["red", "green red", "blue"])
    greedy = prior.sample(3, cond, seed=0, top_k=1)
    np.testing.assert_array_equal(greedy[:, 0, 0], [1, 2, 4])
    assert (greedy == greedy[:, :1, :1]).all()


def test_condition_errors():
    prior = tiny_prior(vocabulary=["red"], max_prompt_length=2)
    with pytest.raises(ValueError, match="one per example"):
        prior.condition(3, captions=["red", "red"])
    with pytest.raises(ValueError, match="not class labels"):
        prior.condition(2, labels=[0, 1])
    with pytest.raises(ValueError, match="'blue'"):
        prior.condition(1, captions="blue")
    assert prior.condition(2).tolist() == [[0, 0], [0, 0]]  # no caption: the empty prompt
    with pytest.raises(ValueError, match="takes no captions"):
        tiny_prior(num_classes=2).condition(2, captions="red")
    with pytest.raises(ValueError, match="not both"):
        tiny_prior(num_classes=2, vocabulary=["red"])


def test_prior_config_round_trip_keeps_the_vocabulary():
    prior = tiny_prior(vocabulary=["red", "heart"], max_prompt_length=3)
    clone = config_round_trip(prior)
    assert clone.tokenizer.vocabulary == ("red", "heart") and clone.tokenizer.max_length == 3
    assert clone.transformer.vocabulary_size == 5 + 2 + 2
    config_round_trip(tiny_prior(num_classes=3))


# === In VQVAE ===


def shapes_model(prior="transformer"):
    return VQVAE(
        networks.vq_encoder((8, 8, 3), 4, filters=(8,)),
        networks.vq_decoder((4, 4, 4), (8, 8, 3), filters=(8,)),
        VectorQuantizer(16, 4, seed=0),
        prior=prior,
        seed=0,
    )


def test_vqvae_transformer_prior_fits_samples_and_saves(tmp_path):
    keras.utils.set_random_seed(6)
    x, captions = datasets.load("shapes", "train", image_size=8, num_examples=96, captions=True)
    model = shapes_model()
    assert isinstance(model.prior, TransformerPrior) and model.prior.takes_captions
    model.compile(optimizer="adam")
    model.fit(x, epochs=1, batch_size=32, verbose=0)
    untrained = float(ops.convert_to_numpy(model.prior.nll(model.encode_indices(x))).mean())
    history = model.fit_prior(
        x, captions=captions, epochs=3, batch_size=32, verbose=0, validation_data=(x, captions)
    )
    assert sorted(history.history) == ["loss", "val_loss"]
    nll = model.prior_nll(x, captions=captions)
    assert nll.shape == (96,) and nll.mean() < untrained
    images = model.sample(4, captions="a large red heart at the top left", seed=1)
    assert images.shape == (4, 8, 8, 3) and np.isfinite(images).all()
    full = model.sample(4, captions="a large red heart at the top left", seed=1, sampler="full")
    assert_close(images, full)
    grids = model.sample_indices(2, captions=["a red heart", "a blue square"], seed=0, top_k=1)
    assert grids.shape == (2, 4, 4)
    with pytest.raises(ValueError, match="'purple'.*'hexagon'"):
        model.sample(2, captions="a purple hexagon")
    assert model.sample(2, seed=0).shape == (2, 8, 8, 3)  # no caption: the empty prompt

    loaded = saved_model_round_trip(model, tmp_path)
    assert isinstance(loaded.prior, TransformerPrior) and loaded.prior.is_fitted()
    assert loaded.prior.tokenizer.vocabulary == model.prior.tokenizer.vocabulary
    assert_close(loaded.prior_nll(x, captions=captions), nll, atol=1e-4)
    assert_close(loaded.sample(4, captions="a large red heart at the top left", seed=1), images)


def test_vqvae_prior_names_and_objects():
    assert isinstance(shapes_model(None).prior, CodePrior)
    assert isinstance(shapes_model("pixelcnn").prior, CodePrior)
    own = TransformerPrior((4, 4), 16, 4, width=8, depth=1, heads=2)
    assert shapes_model(own).prior is own and not own.takes_captions
    with pytest.raises(ValueError, match="'pixelcnn', 'transformer'"):
        shapes_model("gpt")
    with pytest.raises(ValueError, match="does not fit this model"):
        shapes_model(TransformerPrior((4, 4), 8, 4, width=8, depth=1, heads=2))
    with pytest.raises(ValueError, match="takes no captions"):
        shapes_model("pixelcnn").fit_prior(np.zeros((4, 8, 8, 3), "float32"), captions="a")
