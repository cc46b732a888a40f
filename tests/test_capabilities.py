"""Declared capabilities: every model class says what it can do, and does it."""

import inspect
import json

import numpy as np
import pytest

from vae_keras import evaluation, models, networks
from vae_keras.layers import VectorQuantizer
from vae_keras.models.capabilities import (
    ENDPOINTS,
    Capabilities,
    CapabilityError,
    capabilities,
    require,
)

SHAPE = (8, 8, 1)
LATENT = 2


def _pair(num_classes=None, decoder_channels=1):
    if num_classes:
        return (
            models.conditional_encoder(SHAPE, LATENT, num_classes, hidden_units=(8,)),
            models.conditional_decoder(LATENT, SHAPE, num_classes, hidden_units=(8,)),
        )
    return (
        networks.dense_encoder(SHAPE, LATENT, hidden_units=(8,)),
        networks.dense_decoder(LATENT, SHAPE[:-1] + (decoder_channels,), hidden_units=(8,)),
    )


def _pixel(cls):
    encoder, decoder = _pair(decoder_channels=3)
    pixelcnn = networks.PixelCNN(SHAPE, 3, filters=4, head_units=4)
    return cls(encoder, decoder, pixelcnn=pixelcnn, seed=0)


BUILDERS = {
    "AE": lambda: models.AE(*_pair(), seed=0),
    "VAE": lambda: models.VAE(*_pair(), seed=0),
    "IWAE": lambda: models.IWAE(*_pair(), num_samples=2, seed=0),
    "ConditionalVAE": lambda: models.ConditionalVAE(*_pair(3), num_classes=3, seed=0),
    "BetaTCVAE": lambda: models.BetaTCVAE(*_pair(), seed=0),
    "FactorVAE": lambda: models.FactorVAE(*_pair(), seed=0),
    "PixelVAE": lambda: _pixel(models.PixelVAE),
    "PixelIWAE": lambda: _pixel(models.PixelIWAE),
    "VQVAE": lambda: models.VQVAE(
        networks.vq_encoder(SHAPE, 4, filters=(8,)),
        networks.vq_decoder((4, 4, 4), SHAPE, filters=(8,)),
        VectorQuantizer(16, 4, seed=0),
        seed=0,
    ),
    "VQVAE2": lambda: models.VQVAE2(
        SHAPE, num_embeddings=(8, 16), embedding_dim=4, filters=(8,), top_filters=(8,), seed=0
    ),
    "HierarchicalVAE": lambda: models.HierarchicalVAE(SHAPE, widths=(8, 8), groups=(1, 1), seed=0),
}


def test_every_model_class_is_covered():
    classes = {
        name
        for name in models.__all__
        if inspect.isclass(getattr(models, name))
        and issubclass(getattr(models, name), models.LatentModel)
        and name != "LatentModel"
    }
    assert classes == set(BUILDERS)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_declared_capabilities_match_what_the_model_does(name):
    cls = getattr(models, name)
    declared = cls.capabilities
    assert isinstance(declared, Capabilities)
    model = BUILDERS[name]()
    assert capabilities(model) == declared  # an instance may add what its parts do (captions)
    # Each capability goes with its public hooks (and their absence with its absence).
    assert declared.discrete_codes == hasattr(cls, "encode_indices")
    assert declared.needs_fit_prior == hasattr(cls, "fit_prior")
    assert declared.nll_bound == hasattr(cls, "nll_bound")
    assert declared.latent_groups == hasattr(cls, "resample")
    assert declared.kl_weight == hasattr(cls, "beta")
    assert declared.likelihood == hasattr(cls, "likelihood_object")
    assert declared.conditional == hasattr(model, "num_classes")
    for hook in ("encode", "decode", "reconstruct"):
        assert getattr(declared, hook) and callable(getattr(model, hook))
    assert declared.samples == callable(getattr(cls, "sample", None))
    x = (np.random.default_rng(0).random((2,) + SHAPE) < 0.5).astype("float32")
    # A posterior: the scorer scores; none: the capability error.
    if declared.posterior:
        assert np.isfinite(evaluation.log_likelihood(model, x, num_samples=2, verbose=False)).all()
    else:
        with pytest.raises(CapabilityError, match="`posterior`"):
            model.scorer()
    # Export endpoints: what serving_functions offers; none: the capability error.
    if declared.export_endpoints:
        serving = model.serving_functions()
        assert list(serving.endpoints) == [e for e in ENDPOINTS if e != "sample"]
        assert set(declared.export_endpoints) == set(ENDPOINTS)
    else:
        with pytest.raises(CapabilityError, match="`export_endpoints`"):
            model.serving_functions()
    # A flat code of latent_dim numbers, decoded in one pass (or generated pixel by pixel).
    if declared.latent_vector:
        z = np.zeros((2, int(model.latent_dim)), "float32")
        if declared.conditional:
            assert model.decode(z, np.array([0, 1])).shape == (2,) + SHAPE
        else:
            assert model.decode(z).shape == (2,) + SHAPE
    if declared.single_pass_decoder and declared.latent_vector and not declared.conditional:
        assert tuple(model.decode_tensors(z).shape) == (2,) + SHAPE


def test_capability_errors_are_one_line_naming_the_capability_and_the_alternative():
    vq = BUILDERS["VQVAE"]()
    with pytest.raises(CapabilityError) as caught:
        evaluation.log_likelihood(vq, np.zeros((2,) + SHAPE, "float32"), verbose=False)
    message = str(caught.value)
    assert "\n" not in message and "`posterior`" in message and "VQVAE" in message
    assert "nll_bound" in message  # what to use instead
    with pytest.raises(CapabilityError, match=r"`export_endpoints`.*pixel by pixel"):
        require(BUILDERS["PixelVAE"](), "export_endpoints", "SavedModel export")
    with pytest.raises(CapabilityError, match=r"`latent_groups`.*latent_traversals"):
        require(BUILDERS["VAE"](), "latent_groups", "hierarchy_levels")
    assert isinstance(CapabilityError("x"), ValueError)  # the command line's exit status 2


def test_plain_objects_get_defaults_from_what_they_offer():
    class Codes:
        latent_dim = 3

        def encode(self, x):
            return x

        def decode(self, z):
            return z

    declared = capabilities(Codes())
    assert declared.encode and declared.decode and declared.latent_vector
    assert not (declared.posterior or declared.export_endpoints or declared.samples)
    assert capabilities(np.zeros(3)) == Capabilities()
    with pytest.raises(CapabilityError, match=r"`posterior`.*a Codes does not declare it"):
        require(Codes(), "posterior", "Likelihood evaluation")
    with pytest.raises(ValueError, match="Unknown capability"):
        require(Codes(), "flying", "Testing")


def test_vqvae_run_on_8bit_likelihood_completes(tmp_path):
    """`train --architecture vqvae --likelihood discretized_logistic` writes its metrics,
    figures and report (it stopped at "scoring" with a posterior error), and `explore`
    serves it in its prompt mode (discrete codes, a fitted prior)."""
    from vae_keras.cli import main

    out = tmp_path / "run"
    argv = ["train", "--dataset", "shapes", "--architecture", "vqvae", "--likelihood"]
    argv += ["discretized_logistic", "--image-size", "16", "--limit", "64", "--epochs", "1"]
    assert main(argv + ["--output", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    test = metrics["test"]
    # Before `fit_prior` the logged bits/dim is the reconstruction term's alone.
    assert "bits_per_dim" not in test
    assert test["reconstruction_loss"] > 0 and test["reconstruction_bits_per_dim"] > 0
    # The bound (reconstruction + prior NLL of the codes) exceeds the reconstruction term.
    assert test["bits_per_dim_8bit"] > test["reconstruction_bits_per_dim"]
    names = {p.name for p in (out / "figures").iterdir()}
    assert {"samples.png", "reconstructions.png", "code_usage.png", "code_grids.png"} <= names
    assert (out / "report.html").is_file() and (out / "samples.png").is_file()
    from vae_keras import explorer
    from vae_keras.app import runs

    app = explorer.ExplorerApp(runs.load_model(out / "model.keras"))
    assert app.info()["mode"] == "codes" and app.info()["image_shape"] == [16, 16, 3]
