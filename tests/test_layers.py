import numpy as np
import pytest
from keras import ops

from tests.helpers import config_round_trip, serialization_round_trip
from vae_keras import Sampling

pytestmark = pytest.mark.backend


def test_sampling_statistics_match_mean_and_variance():
    mean = np.array([[-2.0, 0.0, 3.0]], "float32").repeat(20000, axis=0)
    log_var = np.log(np.array([[0.25, 1.0, 4.0]], "float32")).repeat(20000, axis=0)
    z = ops.convert_to_numpy(Sampling(seed=0)([mean, log_var]))
    assert z.shape == (20000, 3)
    np.testing.assert_allclose(z.mean(axis=0), [-2.0, 0.0, 3.0], atol=0.05)
    np.testing.assert_allclose(z.var(axis=0), [0.25, 1.0, 4.0], rtol=0.05)


def test_sampling_is_seeded_and_fresh_per_call():
    args = [np.zeros((5, 4), "float32"), np.zeros((5, 4), "float32")]
    a = Sampling(seed=3)
    first, second = ops.convert_to_numpy(a(args)), ops.convert_to_numpy(a(args))
    assert not np.allclose(first, second)  # the generator advances
    np.testing.assert_array_equal(first, ops.convert_to_numpy(Sampling(seed=3)(args)))


def test_sampling_config_round_trip():
    layer = Sampling(seed=7, name="s")
    clone = config_round_trip(layer)
    assert clone.seed == 7 and clone.name == "s"
    assert serialization_round_trip(layer).seed == 7


@pytest.mark.parametrize("seed", [1.5, "1", True])
def test_sampling_rejects_bad_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        Sampling(seed=seed)


def test_sampling_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"same shape"):
        Sampling()([np.zeros((2, 3)), np.zeros((2, 4))])
