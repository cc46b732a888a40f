"""The likelihood seam, Keras-style: `likelihoods.get/serialize/deserialize`, learned variance as
an option of the object, and consumers that read the object's attributes, never its name."""

import math
import re
from pathlib import Path

import numpy as np
import pytest

from vae_keras import VAE, likelihoods, networks

SHAPE = (8, 8, 1)


def _vae(likelihood, **kwargs):
    return VAE(
        networks.dense_encoder(SHAPE, 2, hidden_units=(8,)),
        networks.dense_decoder(2, SHAPE, hidden_units=(8,)),
        likelihood=likelihood,
        seed=0,
        **kwargs,
    )


def test_get_resolves_none_names_configs_and_instances():
    assert likelihoods.get(None).get_config() == {"from_probabilities": False}
    assert isinstance(likelihoods.get(None), likelihoods.Bernoulli)
    instance = likelihoods.Gaussian(variance=0.3)
    assert likelihoods.get(instance) is instance
    for original in (
        likelihoods.Bernoulli(from_probabilities=True),
        likelihoods.Gaussian(variance="learned_per_pixel"),
        likelihoods.Gaussian(log_variance=-1.5),
        likelihoods.DiscretizedLogistic(num_mixtures=3),
    ):
        config = likelihoods.serialize(original)
        restored = likelihoods.get(config)
        assert type(restored) is type(original)
        assert restored.get_config() == original.get_config()
        assert likelihoods.deserialize(config).get_config() == original.get_config()
    short = likelihoods.get({"class_name": "gaussian", "config": {"variance": 2.0}})
    assert math.isclose(float(short.log_variance_value()), math.log(2.0), rel_tol=1e-6)
    with pytest.raises(ValueError, match="Unknown likelihood 'poisson'"):
        likelihoods.get("poisson")
    with pytest.raises(ValueError, match=r"`variance` must be .* Received: variance='big'"):
        likelihoods.Gaussian(variance="big")


def test_attributes_say_what_each_likelihood_models():
    bernoulli, gaussian = likelihoods.Bernoulli(), likelihoods.Gaussian()
    logistic = likelihoods.DiscretizedLogistic()
    assert (bernoulli.binary, bernoulli.discrete, bernoulli.density) == (True, False, False)
    assert (gaussian.binary, gaussian.discrete, gaussian.density) == (False, False, True)
    assert (logistic.binary, logistic.discrete, logistic.density) == (False, True, False)


def test_none_is_bernoulli_deciding_probabilities_from_the_decoder():
    model = _vae(None)
    reference = _vae("bernoulli")
    assert isinstance(model.likelihood_object, likelihoods.Bernoulli)
    assert (
        model.likelihood_object.from_probabilities == reference.likelihood_object.from_probabilities
    )


@pytest.mark.backend
def test_learned_variance_as_an_option_of_the_object_trains_and_round_trips(tmp_path):
    import keras

    model = _vae(likelihoods.Gaussian(variance="learned"))
    old_style = _vae("gaussian", gaussian_variance="learned")
    assert [w.name for w in model.weights] == [w.name for w in old_style.weights]
    assert np.isclose(model.output_variance, 0.5)
    x = np.random.default_rng(0).uniform(size=(64, *SHAPE)).astype("float32")
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    model.fit(x, epochs=2, batch_size=16, verbose=0)
    learned = float(model.output_variance)
    assert not np.isclose(learned, 0.5)  # it is a weight the optimizer moves
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert np.isclose(float(loaded.output_variance), learned)
    np.testing.assert_allclose(loaded.reconstruct(x[:4]), model.reconstruct(x[:4]), atol=1e-6)


def test_output_variance_reads_a_gaussian_instance_and_the_old_keywords():
    fixed = _vae(likelihoods.Gaussian(log_variance=math.log(0.3)))
    assert np.isclose(fixed.output_variance, 0.3)  # was None for an instance
    per_pixel = _vae("gaussian", gaussian_variance="learned_per_pixel")
    assert per_pixel.output_variance.shape == SHAPE
    assert _vae("bernoulli").output_variance is None


def test_no_consumer_switches_on_a_likelihood_name():
    root = Path(__file__).resolve().parents[1] / "vae_keras"
    pattern = re.compile(r"likelihood\w*(\.name|_name)\s*(==|!=|in)|_likelihood_name")
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for path in root.rglob("*.py")
        if path.name != "likelihoods.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []
