"""The quantizer contract, GumbelQuantizer, FiniteScalarQuantizer and the temperature schedule."""

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

from vae_keras import VQVAE, callbacks, networks
from vae_keras.layers import (
    FiniteScalarQuantizer,
    GumbelQuantizer,
    Quantizer,
    VectorQuantizer,
)
from vae_keras.models import CodePrior

QUANTIZERS = {
    "gumbel": lambda: GumbelQuantizer(16, 4, seed=0),
    "gumbel_straight_through": lambda: GumbelQuantizer(16, 4, straight_through=True, seed=0),
    "fsq": lambda: FiniteScalarQuantizer((4, 2, 2, 2)),
    "fsq_diverse": lambda: FiniteScalarQuantizer((4, 2, 2, 2), diversity_weight=0.5),
}


def small_model(quantizer):
    return VQVAE(
        networks.vq_encoder((8, 8, 1), 4, filters=(8,)),
        networks.vq_decoder((4, 4, 4), (8, 8, 1), filters=(8,)),
        quantizer,
        prior=CodePrior((4, 4), quantizer.num_embeddings, 4, filters=8, num_layers=1, head_units=8),
        seed=0,
    )


def numpy(x):
    return np.asarray(ops.convert_to_numpy(x))


# === The contract ===


def test_every_quantizer_derives_from_the_contract():
    for make in (lambda: VectorQuantizer(16, 4), *QUANTIZERS.values()):
        quantizer = make()
        assert isinstance(quantizer, Quantizer)
        z = np.random.default_rng(0).normal(size=(2, 4, 4, 4)).astype("float32")
        out = quantizer.quantize_vectors(z)
        assert {"quantized", "indices", "vq_loss", "perplexity", "usage"} <= set(out)
        assert tuple(out["quantized"].shape) == z.shape
        assert tuple(out["indices"].shape) == z.shape[:-1]
        indices = numpy(out["indices"])
        assert indices.min() >= 0 and indices.max() < quantizer.num_embeddings
        assert tuple(numpy(quantizer.embeddings).shape) == (quantizer.num_embeddings, 4)
        # At training=False the quantized vectors are the looked-up code vectors.
        assert_close(numpy(quantizer.lookup(indices)), numpy(out["quantized"]), atol=1e-6)


def test_vqvae_refuses_what_is_not_a_quantizer():
    with pytest.raises(ValueError, match="must be a `vae_keras.layers.Quantizer`") as caught:
        VQVAE(
            networks.vq_encoder((8, 8, 1), 4, filters=(8,)),
            networks.vq_decoder((4, 4, 4), (8, 8, 1), filters=(8,)),
            keras.layers.Dense(4),
        )
    assert "\n" not in str(caught.value)


# === FiniteScalarQuantizer ===


def _inputs_for_bounded(fsq, bounded):
    """The inputs z whose bound is `bounded` (float64 inverse of the reference's tanh)."""
    levels = np.asarray(fsq.levels, "float64")
    half_l = (levels - 1) * (1 - 1e-3) / 2
    offset = np.where(levels % 2 == 1, 0.0, 0.5)
    shift = np.tan(offset / half_l)
    # The outermost levels are approached, not reached (tanh's range is open): stay 1e-3 inside.
    bounded = np.clip(bounded, -half_l - offset + 1e-3, half_l - offset - 1e-3)
    return (np.arctanh((bounded + offset) / half_l) - shift).astype("float32")


@pytest.mark.parametrize("levels", [(2, 3), (4, 5), (8, 7)])
def test_fsq_rounds_to_the_expected_level_at_every_edge(levels):
    fsq = FiniteScalarQuantizer(levels)
    for channel, size in enumerate(levels):
        low = -(size // 2)  # the lowest rounded value; digit 0
        centres = np.arange(low, low + size, dtype="float64")
        cases = [(centres, np.arange(size))]  # the lattice points themselves
        edges = centres[:-1] + 0.5  # rounding boundaries between neighbouring levels
        cases.append((edges - 1e-3, np.arange(size - 1)))  # just below: the lower level
        cases.append((edges + 1e-3, np.arange(1, size)))  # just above: the upper level
        for bounded, digits in cases:
            z = np.zeros((len(bounded), len(levels)), "float32")
            other = [c for c in range(len(levels)) if c != channel]
            z[:, other] = _inputs_for_bounded(fsq, np.zeros(len(levels)))[other]
            z[:, channel] = _inputs_for_bounded(fsq, np.stack([bounded] * len(levels), -1))[
                :, channel
            ]
            quantized = numpy(fsq.quantize_vectors(z)["quantized"])[:, channel]
            expected = (np.float32(digits + low) / np.float32(size // 2)).astype("float32")
            assert_close(quantized, expected, atol=0)
    # The extremes of the input range reach the outermost levels, never beyond.
    big = np.array([[-1e6] * len(levels), [1e6] * len(levels)], "float32")
    out = fsq.quantize_vectors(big)
    half = np.asarray(levels) // 2
    assert_close(
        numpy(out["quantized"]),
        [-np.ones(len(levels)), (np.asarray(levels) - 1 - half) / half],
        atol=0,
    )
    assert numpy(out["indices"]).tolist() == [0, fsq.num_embeddings - 1]


def test_fsq_indices_cover_the_lattice_and_lookup_inverts_them():
    fsq = FiniteScalarQuantizer((8, 5, 5, 5))
    assert (fsq.num_embeddings, fsq.embedding_dim) == (1000, 4)
    codes = numpy(fsq.embeddings)
    assert codes.shape == (1000, 4) and len(np.unique(codes, axis=0)) == 1000
    # Every lattice point, fed as the inputs that bound onto it, gets its own index.
    levels = np.asarray(fsq.levels)
    bounded = codes * (levels // 2)
    out = fsq.quantize_vectors(_inputs_for_bounded(fsq, bounded))
    assert numpy(out["indices"]).tolist() == list(range(1000))
    assert_close(numpy(out["quantized"]), codes, atol=0)
    assert_close(numpy(fsq.lookup(np.arange(1000))), codes, atol=0)
    # Mixed radix, first channel least significant (the reference's basis).
    assert_close(codes[1] - codes[0], [0.25, 0, 0, 0], atol=0)
    assert_close(codes[8] - codes[0], [0, 0.5, 0, 0], atol=0)
    assert float(out["usage"]) == 1.0 and abs(float(out["perplexity"]) - 1000) < 1e-2
    # Random inputs: lookup(indices) is quantized, bit for bit, also in training.
    z = np.random.default_rng(0).normal(scale=3, size=(5, 4, 4, 4)).astype("float32")
    for training in (False, True):
        out = fsq.quantize_vectors(z, training=training)
        assert_close(numpy(fsq.lookup(out["indices"])), numpy(out["quantized"]), atol=0)


def test_fsq_range_loss_penalises_inputs_beyond_two_per_example():
    # Example 0 exceeds by 1 in one channel, example 1 by 2: sums 1 and 4, batch mean 2.5.
    z = np.array([[[3.0, -0.5]], [[0.0, -4.0]]], "float32")
    out = FiniteScalarQuantizer((5, 5)).quantize_vectors(z, training=True)
    assert abs(float(out["range_loss"]) - 2.5) < 1e-6 and abs(float(out["vq_loss"]) - 2.5) < 1e-6
    half = FiniteScalarQuantizer((5, 5), range_weight=0.5).quantize_vectors(z)
    assert abs(float(half["vq_loss"]) - 1.25) < 1e-6
    # Inside +-2 (every level reachable): no loss.
    inside = FiniteScalarQuantizer((5, 5)).quantize_vectors(np.clip(z, -2, 2))
    assert float(inside["vq_loss"]) == 0.0


def _fsq_diversity_reference(levels, z, temperature=0.5):
    """NumPy: positions x KL(mean softmax(-|bounded - code|^2 / T) || uniform)."""
    levels = np.asarray(levels, "float64")
    half_l = (levels - 1) * (1 - 1e-3) / 2
    offset = np.where(levels % 2 == 1, 0.0, 0.5)
    bounded = np.tanh(z + np.tan(offset / half_l)) * half_l - offset
    digits = np.stack(np.meshgrid(*[np.arange(n) for n in levels], indexing="ij"), -1)
    grid = digits.reshape(-1, len(levels)) - levels // 2  # every code, level units
    flat = bounded.reshape(-1, len(levels))
    logits = -((flat[:, None, :] - grid[None]) ** 2).sum(-1) / temperature
    q = np.exp(logits - logits.max(-1, keepdims=True))
    q /= q.sum(-1, keepdims=True)
    mean = q.mean(0)
    positions = int(np.prod(z.shape[1:-1]))
    return positions * float((mean * np.log(mean)).sum() + np.log(len(grid)))


def test_fsq_diversity_loss_is_the_kl_of_the_batch_average_soft_code_to_uniform():
    z = np.random.default_rng(0).normal(0.0, 0.8, (3, 2, 2, 3)).astype("float32")
    fsq = FiniteScalarQuantizer((5, 4, 3), diversity_weight=0.5)
    out = fsq.quantize_vectors(z, training=True)
    expected = _fsq_diversity_reference((5, 4, 3), z.astype("float64"))
    assert abs(float(out["diversity_loss"]) - expected) < 2e-4
    assert abs(float(out["vq_loss"]) - 0.5 * expected) < 1e-4  # all within +-2
    # The soft assignment's argmax is the rounded code, and the term is off by default.
    hard = np.argmax(numpy(fsq.code_logits(z)), axis=-1)
    assert np.array_equal(hard, numpy(out["indices"]))
    plain = FiniteScalarQuantizer((5, 4, 3)).quantize_vectors(z, training=True)
    assert float(plain["vq_loss"]) == 0.0 and float(plain["diversity_loss"]) == 0.0
    # Every input on one code is the most uneven batch: a far larger KL than the spread batch;
    # and the term depends smoothly on the inputs (rounding does not hide it).
    clustered = fsq.quantize_vectors(np.zeros_like(z), training=True)
    assert float(clustered["diversity_loss"]) > 2 * expected
    nudged = z.copy()
    nudged[0, 0, 0, 0] += 0.1  # within its code's cell: the same index
    moved = float(fsq.quantize_vectors(nudged, training=True)["diversity_loss"])
    reference = _fsq_diversity_reference((5, 4, 3), nudged.astype("float64"))
    assert abs(moved - reference) < 2e-4 and abs(reference - expected) > 5e-3
    # A term of training only: inference does not compute it.
    assert float(fsq.quantize_vectors(z, training=False)["diversity_loss"]) == 0.0
    assert numpy(fsq.quantize_vectors(nudged)["indices"])[0, 0, 0] == numpy(out["indices"])[0, 0, 0]


def test_fsq_leak_keeps_a_gradient_in_saturated_channels_and_not_in_value():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the gradient is read with tf.GradientTape")
    import tensorflow as tf

    z = tf.constant([[8.0, 0.0]])  # channel 0 deep in tanh's saturation, channel 1 at 0
    grads = {}
    for leak in (0.0, 0.1):
        fsq = FiniteScalarQuantizer((5, 5), gradient_leak=leak)
        with tf.GradientTape() as tape:
            tape.watch(z)
            quantized = fsq.quantize_vectors(z, training=True)["quantized"]
            total = tf.reduce_sum(quantized)
        grads[leak] = tape.gradient(total, z).numpy()[0]
        # The leak is 0 in value: the training output is still the rounded code.
        assert numpy(quantized).tolist() == [[1.0, 0.0]]
    assert grads[0.0][0] < 1e-5 and abs(grads[0.1][0] - 0.1) < 1e-4
    # In range the reference's slope (half_l / (L // 2) * tanh'(0)), plus the leak.
    assert abs(grads[0.0][1] - 2 * 0.999 / 2) < 1e-4
    assert abs(grads[0.1][1] - grads[0.0][1] - 0.1) < 1e-4


# === GumbelQuantizer ===


def _set_logits(quantizer, kernel, bias):
    quantizer.to_logits.kernel.assign(kernel)
    quantizer.to_logits.bias.assign(bias)


def test_gumbel_is_the_hard_argmax_at_inference_and_its_kl_is_that_to_uniform():
    # diversity_weight=0: vq_loss is the per-position KL alone (the diversity term has its test).
    quantizer = GumbelQuantizer(8, 3, diversity_weight=0.0, seed=0)
    z = np.random.default_rng(0).normal(size=(4, 2, 2, 3)).astype("float32")
    out = quantizer.quantize_vectors(z, training=False)
    logits = numpy(quantizer.logits(z))
    assert numpy(out["indices"]).tolist() == logits.argmax(-1).tolist()
    codebook = numpy(quantizer.embeddings)
    assert_close(numpy(out["quantized"]), codebook[logits.argmax(-1)], atol=0)
    assert float(out["vq_loss"]) > 0.0

    # Uniform logits: KL 0. Logits fixed by the bias: the same KL at each of the 4 positions,
    # summed per example and averaged over the batch.
    _set_logits(quantizer, np.zeros((3, 8)), np.zeros(8))
    assert abs(float(quantizer.quantize_vectors(z)["vq_loss"])) < 1e-6
    bias = np.arange(8, dtype="float32")
    _set_logits(quantizer, np.zeros((3, 8)), bias)
    q = np.exp(bias - bias.max()) / np.exp(bias - bias.max()).sum()
    kl = float((q * np.log(q * 8)).sum())
    out = quantizer.quantize_vectors(z)
    assert abs(float(out["vq_loss"]) - 4 * kl) < 1e-4
    weighted = GumbelQuantizer(8, 3, kl_weight=0.5, diversity_weight=0.0, seed=0)
    _set_logits(weighted, np.zeros((3, 8)), bias)
    assert abs(float(weighted.quantize_vectors(z)["vq_loss"]) - 2 * kl) < 1e-4


def test_gumbel_diversity_loss_is_the_kl_of_the_batch_average_code_to_uniform():
    # 4 codes read from one-hot inputs: kernel 50*I makes each position's posterior (nearly)
    # the one-hot of its input's channel.
    quantizer = GumbelQuantizer(4, 4, kl_weight=0.0, diversity_weight=1.0, seed=0)
    _set_logits(quantizer, 50 * np.eye(4), np.zeros(4))
    spread = np.eye(4, dtype="float32").reshape(1, 2, 2, 4)  # 4 positions, 4 different codes
    same = np.tile(np.eye(4, dtype="float32")[:1], (1, 4, 1)).reshape(1, 2, 2, 4)
    out = quantizer.quantize_vectors(spread)
    # Each posterior is certain (per-position KL log 4) but the batch covers all codes.
    assert abs(float(out["kl_loss"]) - 4 * np.log(4)) < 1e-3
    assert abs(float(out["diversity_loss"])) < 1e-3 and abs(float(out["vq_loss"])) < 1e-3
    # Every position on code 0: the average is one-hot, KL log 4, times the 4 positions.
    out = quantizer.quantize_vectors(same)
    assert abs(float(out["diversity_loss"]) - 4 * np.log(4)) < 1e-3
    assert abs(float(out["vq_loss"]) - 4 * np.log(4)) < 1e-3


def test_gumbel_sharp_diversity_reads_the_logits_at_the_temperature():
    # Logits that differ by 1: softmax(l) is nearly even, softmax(l / 0.1) nearly one-hot.
    logits_of = np.array([1.0, 0.0, 0.0, 0.0], "float32")
    z = np.ones((2, 2, 2, 4), "float32")  # every position gets the same logits
    kl = {}
    for sharp in (False, True):
        quantizer = GumbelQuantizer(4, 4, kl_weight=0.0, sharp_diversity=sharp, seed=0)
        _set_logits(quantizer, np.zeros((4, 4)), logits_of)
        quantizer.temperature.assign(0.1)
        kl[sharp] = float(quantizer.quantize_vectors(z, training=True)["diversity_loss"])
    expected = {}
    for sharp, scale in ((False, 1.0), (True, 10.0)):
        p = np.exp(scale * logits_of) / np.exp(scale * logits_of).sum()
        expected[sharp] = 4 * float((p * np.log(p)).sum() + np.log(4))  # 4 positions
    assert abs(kl[False] - expected[False]) < 1e-4 and abs(kl[True] - expected[True]) < 1e-3
    assert kl[True] > 10 * kl[False]
    assert GumbelQuantizer(4, 4, sharp_diversity=True).get_config()["sharp_diversity"] is True


@pytest.mark.backend
def test_gumbel_training_draws_a_relaxed_sample_at_the_temperature():
    quantizer = GumbelQuantizer(8, 3, seed=0)
    z = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    codebook = numpy(quantizer.embeddings)
    soft = numpy(quantizer.quantize_vectors(z, training=True)["quantized"])
    # Temperature 1: mixtures of codebook rows, not rows themselves.
    gaps = np.abs(soft[:, None, :] - codebook[None]).max(-1).min(-1)
    assert gaps.mean() > 1e-2
    # A low temperature: (nearly) one-hot, so (nearly) codebook rows; straight-through: rows.
    quantizer.temperature.assign(1e-3)
    cold = numpy(quantizer.quantize_vectors(z, training=True)["quantized"])
    assert np.abs(cold[:, None, :] - codebook[None]).max(-1).min(-1).mean() < 1e-3
    hard = GumbelQuantizer(8, 3, straight_through=True, seed=0)
    out = hard.quantize_vectors(z, training=True)
    assert_close(numpy(out["quantized"]), numpy(hard.lookup(out["indices"])), atol=1e-6)
    # The draws differ from the argmax for some positions (noise), over 64 positions.
    argmax = numpy(hard.quantize_vectors(z)["indices"])
    assert (numpy(out["indices"]) != argmax).any()


# === Gradients reach the encoder (straight-through FSQ, relaxed Gumbel) ===


@pytest.mark.backend
@pytest.mark.parametrize(
    "make",
    [
        lambda: FiniteScalarQuantizer((4, 2, 2, 2)),
        # kl_weight=0: the reconstruction's gradient alone, through the relaxed sample.
        lambda: GumbelQuantizer(16, 4, kl_weight=0.0, seed=0),
        lambda: GumbelQuantizer(16, 4, kl_weight=0.0, straight_through=True, seed=0),
    ],
    ids=["fsq", "gumbel", "gumbel_straight_through"],
)
def test_the_reconstruction_gradient_reaches_the_encoder(make, binary_images):
    keras.utils.set_random_seed(0)
    model = small_model(make())
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = [numpy(w).copy() for w in model.encoder.trainable_weights]
    model.fit(binary_images[:16], epochs=1, batch_size=16, verbose=0)
    after = [numpy(w) for w in model.encoder.trainable_weights]
    # Zero gradients would leave Adam's update at exactly 0.
    kernels = [(b, a) for b, a in zip(before, after, strict=True) if b.ndim > 1]
    assert kernels and all(np.abs(a - b).max() > 1e-6 for b, a in kernels)


# === The temperature schedule ===


@pytest.mark.backend
def test_temperature_schedule_anneals_the_variable_on_every_backend(binary_images):
    keras.utils.set_random_seed(0)
    model = small_model(GumbelQuantizer(16, 4, seed=0))
    model.compile(optimizer="adam")
    schedule = callbacks.GumbelTemperatureSchedule(start=1.0, end=1 / 16, steps=4)
    history = model.fit(
        binary_images[:32], epochs=3, batch_size=16, verbose=0, callbacks=[schedule]
    )
    steps = [step for step, _ in schedule.values]
    assert steps == list(range(6))
    assert_close([t for _, t in schedule.values], [16 ** (-min(1, s / 4)) for s in steps], 1e-9)
    # The variable holds the last value after fit (on JAX: the trainer's state did not
    # overwrite it), and the history logs it.
    assert abs(float(numpy(model.quantizer.temperature)) - 1 / 16) < 1e-7
    assert_close(history.history["temperature"], [0.5, 0.125, 1 / 16], atol=1e-7)


def test_temperature_schedule_refusals():
    for kwargs, match in (
        ({"end": 0.0, "steps": 3}, "end=0.0"),
        ({"start": -1.0, "steps": 3}, "start=-1.0"),
        ({}, "exactly one of `steps` or `epochs`"),
        ({"steps": 2, "epochs": 2}, "exactly one"),
        ({"steps": 2, "quantizer": VectorQuantizer(4, 2)}, "anneals a `GumbelQuantizer`"),
    ):
        with pytest.raises(ValueError, match=match) as caught:
            callbacks.GumbelTemperatureSchedule(**kwargs)
        assert "\n" not in str(caught.value)
    model = small_model(FiniteScalarQuantizer((4, 2, 2, 2)))
    model.compile(optimizer="adam")
    schedule = callbacks.GumbelTemperatureSchedule(steps=2)
    with pytest.raises(ValueError, match="quantizer` is a FiniteScalarQuantizer"):
        model.fit(np.zeros((4, 8, 8, 1), "float32"), epochs=1, verbose=0, callbacks=[schedule])


# === Saving and configs ===


@pytest.mark.backend
@pytest.mark.parametrize("kind", ["gumbel", "fsq"])
def test_vqvae_with_each_quantizer_round_trips_through_keras_files(kind, binary_images, tmp_path):
    keras.utils.set_random_seed(0)
    model = small_model(QUANTIZERS[kind]())
    model.compile(optimizer="adam")
    history = model.fit(binary_images, epochs=1, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    if kind == "gumbel":
        model.quantizer.temperature.assign(0.25)
    x = binary_images[:8]
    indices = model.encode_indices(x)
    assert indices.shape == (8, 4, 4) and indices.dtype == np.int32
    assert_close(model.decode_indices(indices), model.reconstruct(x), atol=1e-6)
    stats = model.codebook_statistics(binary_images)
    assert 0 < stats["usage"] <= 1 and stats["counts"].shape == (model.num_embeddings,)
    loaded = saved_model_round_trip(model, tmp_path)
    assert type(loaded.quantizer) is type(model.quantizer)
    assert np.array_equal(loaded.encode_indices(x), indices)
    assert_close(loaded.reconstruct(x), model.reconstruct(x), atol=1e-6)
    if kind == "gumbel":
        assert float(numpy(loaded.quantizer.temperature)) == 0.25


@pytest.mark.parametrize("kind", sorted(QUANTIZERS))
def test_quantizer_config_round_trips(kind):
    quantizer = QUANTIZERS[kind]()
    config_round_trip(quantizer)
    serialization_round_trip(quantizer)
    if kind.startswith("fsq"):
        assert quantizer.get_config()["levels"] == [4, 2, 2, 2]
        assert quantizer.get_config()["diversity_weight"] == quantizer.diversity_weight
        assert quantizer.get_config()["gradient_leak"] == quantizer.gradient_leak
        assert quantizer.get_config()["range_weight"] == quantizer.range_weight
    else:
        clone = GumbelQuantizer.from_config(quantizer.get_config())
        assert (clone.num_embeddings, clone.embedding_dim, clone.seed) == (16, 4, 0)
        assert clone.straight_through == quantizer.straight_through


def test_bad_quantizer_arguments_are_refused_in_one_line():
    cases = [
        (lambda: FiniteScalarQuantizer((8, 1)), r"levels=\(8, 1\)"),
        (lambda: FiniteScalarQuantizer((8, 2.5)), r"levels=\(8, 2.5\)"),
        (lambda: FiniteScalarQuantizer(()), r"levels=\(\)"),
        (lambda: FiniteScalarQuantizer(8), "levels=8"),
        (lambda: FiniteScalarQuantizer((2**16, 2**16)), "more than int32"),
        (lambda: FiniteScalarQuantizer(gradient_leak=-0.1), "gradient_leak=-0.1"),
        (lambda: FiniteScalarQuantizer(range_weight=-1), "range_weight=-1"),
        (lambda: FiniteScalarQuantizer(diversity_weight=-2), "diversity_weight=-2"),
        (lambda: GumbelQuantizer(16, 4, diversity_weight=-1.0), "diversity_weight=-1.0"),
        (lambda: GumbelQuantizer(1, 4), "num_embeddings=1"),
        (lambda: GumbelQuantizer(16, 0), "embedding_dim=0"),
        (lambda: GumbelQuantizer(16, 4, temperature=0.0), "temperature=0.0"),
        (lambda: GumbelQuantizer(16, 4, temperature=-1.0), "temperature=-1.0"),
        (lambda: GumbelQuantizer(16, 4, kl_weight=-1.0), "kl_weight=-1.0"),
        (lambda: small_model(FiniteScalarQuantizer((4, 4))), "embedding_dim is 2"),
    ]
    for build, match in cases:
        with pytest.raises(ValueError, match=match) as caught:
            build()
        assert "\n" not in str(caught.value), str(caught.value)
