"""Property-based tests (hypothesis) of the factories and the validation layer.

Bounded example counts and tiny shapes keep this fast enough for CI.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vae_keras import VAE, networks
from vae_keras.validation import check_data

FAST = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])

image_shapes = st.tuples(st.integers(1, 20), st.integers(1, 20), st.integers(1, 4))


@FAST
@given(shape=image_shapes, latent_dim=st.integers(1, 8), depth=st.integers(1, 3))
def test_conv_pair_reconstructs_any_image_shape(shape, latent_dim, depth):
    filters = tuple(4 * (i + 1) for i in range(depth))
    encoder = networks.conv_encoder(shape, latent_dim, filters=filters, dense_units=8)
    decoder = networks.conv_decoder(latent_dim, shape, filters=filters[::-1])
    assert [tuple(t.shape) for t in encoder.outputs] == [(None, latent_dim)] * 2
    assert tuple(decoder.output.shape) == (None,) + shape
    vae = VAE(encoder, decoder)
    out = vae.reconstruct(np.random.default_rng(0).uniform(size=(2,) + shape).astype("float32"))
    assert out.shape == (2,) + shape and np.isfinite(out).all() and ((out >= 0) & (out <= 1)).all()


@FAST
@given(
    shape=st.one_of(st.tuples(st.integers(1, 30)), image_shapes),
    latent_dim=st.integers(1, 8),
    hidden=st.lists(st.integers(1, 16), min_size=0, max_size=3),
)
def test_dense_pair_handles_vectors_and_images(shape, latent_dim, hidden):
    encoder = networks.dense_encoder(shape, latent_dim, hidden_units=hidden)
    decoder = networks.dense_decoder(latent_dim, shape, hidden_units=hidden[::-1])
    assert tuple(decoder.output.shape) == (None,) + shape
    z_mean, z_log_var = VAE(encoder, decoder).encode(np.zeros((3,) + shape, "float32"))
    assert z_mean.shape == z_log_var.shape == (3, latent_dim)


@FAST
@given(latent_dim=st.integers(-3, 0) | st.floats(0.5, 3.5) | st.just("4"))
def test_factories_reject_non_positive_or_non_integer_latent_sizes(latent_dim):
    with pytest.raises(ValueError, match="latent_dim"):
        networks.dense_encoder((4,), latent_dim)


@FAST
@given(enc=st.integers(1, 6), dec=st.integers(1, 6))
def test_mismatched_latent_sizes_are_always_caught(enc, dec):
    build = lambda: VAE(
        networks.dense_encoder((4,), enc, hidden_units=()),
        networks.dense_decoder(dec, (4,), hidden_units=()),
    )
    if enc == dec:
        build()
    else:
        with pytest.raises(ValueError, match=f"latent_dim={enc}.*latent_dim={dec}"):
            build()


dtypes = st.sampled_from(["float16", "float32", "float64", "uint8", "int32", "bool"])


@FAST
@given(n=st.integers(1, 5), shape=st.tuples(st.integers(1, 4), st.integers(1, 4)), dtype=dtypes)
def test_check_data_accepts_numeric_dtypes_and_returns_float32(n, shape, dtype):
    x = (np.random.default_rng(0).uniform(size=(n,) + shape) > 0.5).astype(dtype)
    out = check_data(x, shape, unit_interval=True)
    assert out.dtype == np.float32 and out.shape == (n,) + shape
    np.testing.assert_array_equal(out, x.astype("float32"))


@FAST
@given(
    n=st.integers(1, 5),
    shape=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    bad=st.sampled_from([np.nan, np.inf, -np.inf]),
    position=st.integers(0, 10_000),
)
def test_check_data_reports_any_non_finite_value(n, shape, bad, position):
    x = np.zeros((n,) + shape, "float32")
    flat_index = position % x.size
    x.flat[flat_index] = bad
    with pytest.raises(ValueError, match=r"NaN or inf \(1 values; first at index") as info:
        check_data(x, shape)
    assert str(tuple(int(i) for i in np.unravel_index(flat_index, x.shape))) in str(info.value)


@FAST
@given(low=st.floats(-5, 1), high=st.floats(0, 300))
def test_check_data_unit_interval_is_exact(low, high):
    x = np.array([[low], [high]], "float32")
    inside = x.min() >= 0 and x.max() <= 1
    if inside:
        check_data(x, (1,), unit_interval=True)
    else:
        with pytest.raises(ValueError, match="needs pixels in \\[0, 1\\]"):
            check_data(x, (1,), unit_interval=True)


@FAST
@given(
    actual=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    expected=st.tuples(st.integers(1, 5), st.integers(1, 5)),
)
def test_check_data_shape_errors_name_both_shapes(actual, expected):
    x = np.zeros((2,) + actual, "float32")
    if actual == expected:
        check_data(x, expected)
    else:
        with pytest.raises(ValueError, match="per-example shape") as info:
            check_data(x, expected)
        assert str(actual) in str(info.value) and str(expected) in str(info.value)
