"""The model battery (issue 27; keras-hub's `run_backbone_test` / `run_model_saving_test`):
every concrete model class registered in `vae_keras.models` x every likelihood it accepts.

One epoch of `fit` (its metric names), `evaluate`, the `.keras` round trip with equal
deterministic outputs and seeded samples, `sample`, and, where the class declares them
(`models.capabilities`), `log_likelihood` / `bits_per_dim_8bit` and SavedModel export; an
undeclared capability is a one-line `CapabilityError`. The classes are found through the
Keras registry, so a new model joins by registering, and must then get a builder here.

Backend-sensitive (the CI runs it on JAX and PyTorch too): there it checks fit, the round
trip and sampling; evaluation, scoring and export are checked on TensorFlow.
"""

import dataclasses
import inspect

import keras
import numpy as np
import pytest

from tests.conftest import make_binary_images
from tests.helpers import assert_close, saved_model_round_trip
from vae_keras import evaluation, likelihoods, models, networks, priors
from vae_keras.layers import FiniteScalarQuantizer, GumbelQuantizer, VectorQuantizer
from vae_keras.models.capabilities import ENDPOINTS, CapabilityError, capabilities
from vae_keras.models.iwae import importance_weighted

LATENT = 2
NUM_CLASSES = 3
PIXEL_FEATURES = 3
GRAY, COLOUR = (8, 8, 1), (8, 8, 3)
FULL = keras.backend.backend() == "tensorflow"


@dataclasses.dataclass(frozen=True)
class Likelihood:
    """A likelihood a model may be built with: its constructor arguments and its data."""

    name: str
    shape: tuple
    make: object  # () -> the model's likelihood keyword arguments (fresh objects each call)

    def kwargs(self):
        return self.make()

    def output_channels(self):
        """Decoder channels per pixel this likelihood needs for `shape`'s channels."""
        return likelihoods.get(self.kwargs()["likelihood"]).output_channels(self.shape[-1])

    def data(self, n=64):
        if self.name == "bernoulli":
            return make_binary_images()[:n]
        # On the 8-bit grid (k / 255), so 8-bit likelihoods and bits/dim apply.
        rng = np.random.default_rng(0)
        stripes = make_binary_images()[:n] * 0.6 + 0.2
        x = np.clip(stripes + rng.normal(0, 0.1, (n, 8, 8, self.shape[-1])), 0, 1)
        return (np.round(x * 255) / 255).astype("float32")


LIKELIHOODS = [
    Likelihood("bernoulli", GRAY, lambda: {"likelihood": "bernoulli"}),
    Likelihood("gaussian", GRAY, lambda: {"likelihood": "gaussian"}),
    Likelihood(
        "gaussian_learned", GRAY, lambda: {"likelihood": "gaussian", "gaussian_variance": "learned"}
    ),
    Likelihood("discretized_logistic", COLOUR, lambda: {"likelihood": "discretized_logistic"}),
    Likelihood(
        "logistic_mixture",
        COLOUR,
        lambda: {"likelihood": likelihoods.DiscretizedLogistic(num_mixtures=2)},
    ),
]


def _channels(lik):
    channels = lik.output_channels()
    return {} if channels == lik.shape[-1] else {"output_channels": channels}


def _pair(lik):
    return (
        networks.dense_encoder(lik.shape, LATENT, hidden_units=(8,)),
        networks.dense_decoder(LATENT, lik.shape, hidden_units=(8,), **_channels(lik)),
    )


def _conditional(lik):
    encoder = models.conditional_encoder(lik.shape, LATENT, NUM_CLASSES, hidden_units=(8,))
    decoder = models.conditional_decoder(
        LATENT, lik.shape, NUM_CLASSES, hidden_units=(8,), **_channels(lik)
    )
    return models.ConditionalVAE(encoder, decoder, NUM_CLASSES, seed=0, **lik.kwargs())


def _pixel(cls, lik):
    kwargs = lik.kwargs()
    pixelcnn = networks.PixelCNN(
        lik.shape,
        PIXEL_FEATURES,
        filters=4,
        num_layers=1,
        head_units=4,
        output_channels=likelihoods.get(kwargs["likelihood"]).output_channels(lik.shape[-1]),
    )
    encoder = networks.dense_encoder(lik.shape, LATENT, hidden_units=(8,))
    features = lik.shape[:-1] + (PIXEL_FEATURES,)
    decoder = networks.dense_decoder(LATENT, features, hidden_units=(8,))
    return cls(encoder, decoder, pixelcnn=pixelcnn, seed=0, **kwargs)


def _vq(lik, quantizer=None, **extra):
    encoder = networks.vq_encoder(lik.shape, 4, filters=(8,))
    decoder = networks.vq_decoder((4, 4, 4), lik.shape, filters=(8,), **_channels(lik))
    quantizer = quantizer or VectorQuantizer(16, 4, seed=0)
    return models.VQVAE(encoder, decoder, quantizer, seed=0, **lik.kwargs(), **extra)


# Quantizers are layers, not registered models: VQVAE runs the battery with each of the others
# too (one grey and one colour likelihood; the SavedModel written for one of them).
QUANTIZERS = {
    "GumbelQuantizer": lambda: GumbelQuantizer(16, 4, seed=0),
    "FiniteScalarQuantizer": lambda: FiniteScalarQuantizer((4, 2, 2, 2)),
}
QUANTIZER_CASES = [
    pytest.param(
        name,
        lik,
        marks=[pytest.mark.backend] if lik.name == "bernoulli" else [],
        id=f"VQVAE+{name}-{lik.name}",
    )
    for name in QUANTIZERS
    for lik in LIKELIHOODS
    if lik.name in ("bernoulli", "discretized_logistic")
]


# Tiny networks for each registered class: a new class must add its builder here.
BUILDERS = {
    "AE": lambda lik: models.AE(*_pair(lik), seed=0, **lik.kwargs()),
    "VAE": lambda lik: models.VAE(*_pair(lik), seed=0, **lik.kwargs()),
    "IWAE": lambda lik: models.IWAE(*_pair(lik), num_samples=2, seed=0, **lik.kwargs()),
    "ConditionalVAE": _conditional,
    "BetaTCVAE": lambda lik: models.BetaTCVAE(*_pair(lik), seed=0, **lik.kwargs()),
    "FactorVAE": lambda lik: models.FactorVAE(*_pair(lik), seed=0, **lik.kwargs()),
    "PixelVAE": lambda lik: _pixel(models.PixelVAE, lik),
    "PixelIWAE": lambda lik: _pixel(models.PixelIWAE, lik),
    "VQVAE": _vq,
    "VQVAE2": lambda lik: models.VQVAE2(
        lik.shape,
        num_embeddings=(8, 16),
        embedding_dim=4,
        filters=(8,),
        top_filters=(8,),
        prior_filters=4,
        prior_layers=1,
        prior_head_units=4,
        condition_channels=4,
        seed=0,
        **lik.kwargs(),
    ),
    "HierarchicalVAE": lambda lik: models.HierarchicalVAE(
        lik.shape, widths=(8, 8), groups=(1, 1), seed=0, **lik.kwargs()
    ),
}

# (class, likelihood) -> what the constructor's ValueError says (a class that does not
# accept that likelihood); every other pair must build and pass the battery.
REFUSED = {
    ("PixelVAE", "gaussian"): "Gaussian",
    ("PixelVAE", "gaussian_learned"): "Gaussian",
    ("PixelIWAE", "gaussian"): "Gaussian",
    ("PixelIWAE", "gaussian_learned"): "Gaussian",
    ("HierarchicalVAE", "gaussian_learned"): "gaussian_variance",
}


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def registered_model_classes():
    """Concrete model classes registered with Keras under the package's name."""
    found = {
        cls
        for cls in _subclasses(models.LatentModel)
        if keras.saving.get_registered_name(cls).startswith("vae_keras>")
        and not cls.__name__.startswith("_")
        and not inspect.isabstract(cls)
        and cls.__module__.startswith("vae_keras.")
    }
    return sorted(found, key=lambda cls: cls.__name__)


CLASSES = registered_model_classes()


def _accepted(cls):
    return [lik for lik in LIKELIHOODS if (cls.__name__, lik.name) not in REFUSED]


# The SavedModel is written and loaded (seconds each) for one likelihood per class, taken in
# turn so that every likelihood is exported by some class; the other pairs call the model's
# serving functions, which the SavedModel holds, in process.
WRITTEN = {
    (cls.__name__, _accepted(cls)[i % len(_accepted(cls))].name) for i, cls in enumerate(CLASSES)
}
# On JAX and PyTorch (backend mark): every class with a Bernoulli likelihood, and VAE with
# each likelihood (the likelihood maths is the same code in every class).
BACKEND_CASES = {(cls.__name__, "bernoulli") for cls in CLASSES} | {
    ("VAE", lik.name) for lik in LIKELIHOODS
}
CASES = [
    pytest.param(
        cls,
        lik,
        marks=[pytest.mark.backend] if (cls.__name__, lik.name) in BACKEND_CASES else [],
        id=f"{cls.__name__}-{lik.name}",
    )
    for cls in CLASSES
    for lik in LIKELIHOODS
]


def test_every_registered_model_class_has_a_builder():
    names = {cls.__name__ for cls in CLASSES}
    assert {"VAE", "PixelIWAE", "VQVAE", "HierarchicalVAE"} <= names  # the walk finds them
    assert names == set(BUILDERS), f"without a builder: {sorted(names - set(BUILDERS))}"
    assert {cls for cls, _ in REFUSED} <= names
    assert {lik for _, lik in WRITTEN} == {lik.name for lik in LIKELIHOODS}


def _fit_data(model, x):
    """What `fit`/`evaluate` take: images, or (images, labels) for a conditional model."""
    if capabilities(model).conditional:
        return (x, np.arange(len(x)) % NUM_CLASSES)
    return x


def _labels(model, n):
    return {"labels": np.arange(n) % NUM_CLASSES} if capabilities(model).conditional else {}


def _deterministic_outputs(model, x):
    """The model's outputs on its deterministic paths, as a flat list of arrays."""
    declared = capabilities(model)
    labels = _labels(model, len(x))
    outputs = []
    if declared.discrete_codes:
        indices = keras.tree.flatten(model.encode_indices(x))  # a grid, or one per level
        outputs += [*indices, model.decode_indices(*indices)]
    else:
        outputs += keras.tree.flatten(model.encode(x, *labels.values()))
    if declared.latent_vector and declared.single_pass_decoder:
        z = np.random.default_rng(1).normal(size=(len(x), int(model.latent_dim)))
        outputs.append(model.decode(z.astype("float32"), *labels.values()))
    if declared.single_pass_decoder:
        outputs.append(model.reconstruct(x, *labels.values()))
    return [np.asarray(keras.ops.convert_to_numpy(o)) for o in outputs]


def _samples(model, n, seed):
    return np.asarray(model.sample(n, seed=seed, **_labels(model, n)))


def _assert_one_line_capability_error(call, name):
    with pytest.raises(CapabilityError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message and f"`{name}`" in message, message


@pytest.mark.parametrize(("name", "lik"), QUANTIZER_CASES)
def test_vqvae_battery_with_each_quantizer(name, lik, tmp_path):
    written = lik.name == ("bernoulli" if name == "GumbelQuantizer" else "discretized_logistic")
    build = lambda lik: _vq(lik, QUANTIZERS[name]())  # noqa: E731
    test_model_battery(models.VQVAE, lik, tmp_path, build=build, written=written)


@pytest.mark.parametrize(("cls", "lik"), CASES)
def test_model_battery(cls, lik, tmp_path, build=None, written=None):
    build = build or BUILDERS[cls.__name__]
    written = (cls.__name__, lik.name) in WRITTEN if written is None else written
    refused = REFUSED.get((cls.__name__, lik.name))
    if refused is not None:
        with pytest.raises(ValueError, match=refused) as caught:
            build(lik)
        assert "\n" not in str(caught.value), str(caught.value)
        return
    keras.utils.set_random_seed(0)
    model = build(lik)
    assert type(model) is cls
    declared = capabilities(model)
    # The class declares what every instance does; an instance adds what its parts do
    # (a VQVAE whose prior reads captions).
    assert declared.replace(captions=cls.capabilities.captions) == cls.capabilities
    x = lik.data(32)
    data = _fit_data(model, x)

    # === fit: one epoch, the model's metric names (and val_ ones), finite ===
    model.compile(optimizer="adam")
    history = model.fit(data, epochs=1, batch_size=16, validation_data=(data,), verbose=0)
    names = list(model.loss_names)
    assert {"loss", "reconstruction_loss"} <= set(names)
    if declared.kl_weight or declared.latent_groups:
        assert "kl_loss" in names
    assert sorted(history.history) == sorted(names + [f"val_{n}" for n in names])
    assert all(np.isfinite(v).all() for v in history.history.values()), history.history
    if declared.needs_fit_prior:  # VQVAE: its prior over codes, before sample / nll_bound
        model.fit_prior(x, epochs=1, batch_size=16, verbose=0)

    # === .keras round trip: an equal model (deterministic outputs, seeded samples) ===
    before = _deterministic_outputs(model, x[:4])
    loaded = saved_model_round_trip(model, tmp_path)
    assert capabilities(loaded) == declared
    for a, b in zip(before, _deterministic_outputs(loaded, x[:4]), strict=True):
        assert_close(a, b, atol=1e-5)

    # === sample ===
    samples = _samples(model, 3, seed=7)
    assert samples.shape == (3,) + lik.shape and np.isfinite(samples).all()
    assert_close(samples, _samples(loaded, 3, seed=7), atol=1e-5)
    if not FULL:
        return

    # === evaluate: the same names, finite ===
    scores = model.evaluate(data, batch_size=16, verbose=0, return_dict=True)
    assert sorted(scores) == sorted(names) and all(np.isfinite(v) for v in scores.values())

    # === log_likelihood / bits_per_dim_8bit where declared ===
    if declared.posterior:
        log_px = evaluation.log_likelihood(loaded, x[:4], num_samples=2, verbose=False)
        assert log_px.shape == (4,) and np.isfinite(log_px).all()
    else:
        _assert_one_line_capability_error(lambda: model.scorer(), "posterior")
        _assert_one_line_capability_error(
            lambda: evaluation.log_likelihood(model, x[:4], num_samples=2, verbose=False),
            "posterior",
        )
    # === the importance-weighted twin (IWAE fine-tuning) where declared ===
    if declared.importance_weighted:
        twin = importance_weighted(model, 2, seed=1)
        assert keras.saving.get_registered_name(type(twin)) == declared.importance_weighted
        assert twin.encoder is model.encoder and twin.num_samples == 2
        assert twin.likelihood_object.get_config() == model.likelihood_object.get_config()
        twin.compile(optimizer="adam")
        twin_scores = twin.evaluate(data, batch_size=16, verbose=0, return_dict=True)
        assert sorted(twin_scores) == sorted(names) and np.isfinite(twin_scores["loss"])
    else:
        _assert_one_line_capability_error(
            lambda: importance_weighted(model, 2), "importance_weighted"
        )
    eight_bit = declared.likelihood and (declared.posterior or declared.nll_bound)
    if eight_bit and lik.name != "bernoulli":
        bpd = evaluation.bits_per_dim_8bit(loaded, x[:4], num_samples=2, verbose=False)
        assert bpd.shape == (4,) and np.isfinite(bpd).all() and (bpd > 0).all()
    elif not eight_bit:
        _assert_one_line_capability_error(
            lambda: evaluation.bits_per_dim_8bit(model, x[:4], verbose=False),
            "likelihood" if not declared.likelihood else "posterior",
        )

    # === SavedModel export where declared ===
    from vae_keras.export import export_saved_model

    if not declared.export_endpoints:
        _assert_one_line_capability_error(lambda: model.serving_functions(), "export_endpoints")
        _assert_one_line_capability_error(
            lambda: export_saved_model(model, tmp_path / "saved"), "export_endpoints"
        )
        assert not (tmp_path / "saved").exists()
        return
    assert set(declared.export_endpoints) == set(ENDPOINTS)
    x4, labels = x[:4], list(_labels(model, 4).values())
    if declared.latent_vector:  # reconstruct is decode(encode(x) mean); for a hierarchy its
        # top group's, the lower groups at their prior means (test_hierarchical), not reconstruct
        z_mean = np.asarray(model.encode(x4, *labels)[0])
        expected = {"decode": model.decode(z_mean, *labels)}
    else:
        z_mean, expected = None, {}
    expected["reconstruct"] = (
        expected["decode"] if z_mean is not None else model.reconstruct(x4, *labels)
    )
    if not written:
        serving = loaded.serving_functions()
        assert set(serving.endpoints) | {"sample"} == set(declared.export_endpoints)
        tensor = keras.ops.convert_to_tensor
        int_labels = [tensor(labels[0], "int32")] if labels else []
        got = {"reconstruct": serving.endpoints["reconstruct"][0](tensor(x4), *int_labels)}
        if z_mean is not None:
            got["decode"] = serving.endpoints["decode"][0](tensor(z_mean), *int_labels)
        for name, value in got.items():
            assert_close(keras.ops.convert_to_numpy(value), expected[name], atol=1e-4)
        return
    import tensorflow as tf

    export_saved_model(loaded, tmp_path / "saved")
    served = tf.saved_model.load(str(tmp_path / "saved"))
    for endpoint in declared.export_endpoints:
        assert callable(getattr(served, endpoint)), endpoint
    extra = [tf.constant(labels[0], tf.int32)] if labels else []
    if z_mean is not None:
        assert_close(served.decode(z_mean, *extra), expected["decode"], atol=1e-4)
    assert_close(served.reconstruct(x4, *extra), expected["reconstruct"], atol=1e-4)
    one_label = [tf.constant([1], tf.int32)] if labels else []
    drawn = served.sample(tf.constant(3), *one_label).numpy()
    assert drawn.shape == (3,) + lik.shape and np.isfinite(drawn).all()


@pytest.mark.backend
def test_vqvae_with_a_transformer_prior(tmp_path, monkeypatch):
    """The battery on `VQVAE(prior=TransformerPrior(...))` (Bernoulli only: the prior is
    what differs; on TensorFlow the SavedModel `sample` runs it in the graph)."""
    prior = models.TransformerPrior((4, 4), 16, 4, width=8, depth=1, heads=2)
    monkeypatch.setitem(BUILDERS, "VQVAE", lambda lik: _vq(lik, prior=prior))
    test_model_battery(models.VQVAE, LIKELIHOODS[0], tmp_path)


# === Priors (issue 30): the battery with a learned prior, and the one-line refusals ===

PRIOR_CASES = [
    ("VAE", "vampprior"),
    ("IWAE", "mixture"),
    ("PixelVAE", "vampprior"),
    ("ConditionalVAE", "mixture"),
    ("FactorVAE", "mixture"),
    ("HierarchicalVAE", "vampprior"),  # over its top group
]
PRIOR_REFUSED = [
    ("BetaTCVAE", "mixture", "factorises"),
    ("BetaTCVAE", "vampprior", "factorises"),
    ("ConditionalVAE", "vampprior", "labels"),
    ("AE", "mixture", "AE has no prior"),
]


def _with_prior(prior):
    return Likelihood(
        "bernoulli",
        GRAY,
        lambda: {"likelihood": "bernoulli", "prior": priors.get(prior, num_components=3)},
    )


@pytest.mark.backend
@pytest.mark.parametrize(("name", "prior"), PRIOR_CASES)
def test_model_battery_with_a_prior(name, prior, tmp_path):
    cls = next(cls for cls in CLASSES if cls.__name__ == name)
    test_model_battery(cls, _with_prior(prior), tmp_path)


@pytest.mark.parametrize(("name", "prior", "message"), PRIOR_REFUSED)
def test_models_refuse_a_prior_they_cannot_take(name, prior, message):
    with pytest.raises(ValueError, match=message) as caught:
        BUILDERS[name](_with_prior(prior))
    assert "\n" not in str(caught.value), str(caught.value)
