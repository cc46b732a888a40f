"""The shipped presets: files and cards, loading offline on every backend, their numbers."""

import json
import shutil

import numpy as np
import pytest

from vae_keras import VAE, ConditionalVAE, presets
from vae_keras.presets import recipes

MAX_BYTES = 5 * 2**20


def test_every_recipe_is_shipped_with_a_complete_card():
    assert presets.list() == list(recipes.RECIPES)
    assert {"mnist_conv_z2", "mnist_conv_z16", "mnist_conditional_z2"} <= set(presets.list())
    assert any(recipes.RECIPES[n].dataset == "shapes" for n in presets.list())
    for name in presets.list():
        card = presets.info(name)
        file = presets.path(name)
        assert file.stat().st_size == card["file_bytes"] <= MAX_BYTES, name
        assert card["command"] == f"python examples/train_presets.py --only {name} --overwrite"
        # The card matches the code (as JSON: tuples read back as lists).
        assert card["recipe"] == json.loads(json.dumps(recipes.RECIPES[name].to_dict()))
        assert card["data"]["train_images"] > 0
        assert np.isfinite(card["metrics"]["test_loss"]) and card["metrics"]["test_loss"] > 0


@pytest.mark.backend
@pytest.mark.parametrize("name", presets.list())
def test_a_preset_loads_offline_and_samples(name):
    model = presets.load(name)
    card = presets.info(name)
    assert type(model).__name__ == card["class"]
    assert model.optimizer is not None  # compiled: `fit` continues training it
    shape = tuple(card["data"]["shape"])
    images = model.sample(6, seed=1)
    assert images.shape == (6, *shape)
    assert images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_array_equal(images, model.sample(6, seed=1))  # seeded
    assert images.std(axis=0).mean() > 0.01  # different draws, different images


def _card_test_loss_on_a_subset(name, data_dir, n):
    recipe = recipes.RECIPES[name]
    model = presets.load(name)
    x, y = recipes.load_data(recipe, "test", data_dir)
    data = (x[:n], y[:n]) if recipe.model == "conditional" else x[:n]
    return model.evaluate(data, batch_size=250, verbose=0, return_dict=True)["loss"]


@pytest.mark.parametrize("name", ["mnist_conv_z16", "mnist_conditional_z2"])
def test_mnist_presets_score_what_their_cards_say(name, shared_mnist_dir):
    # The first 1000 test images: within a few nats of the card's whole-test-set loss.
    loss = _card_test_loss_on_a_subset(name, shared_mnist_dir, 1000)
    assert loss == pytest.approx(presets.info(name)["metrics"]["test_loss"], rel=0.05)


def test_shapes_preset_scores_what_its_card_says():
    name = next(n for n in presets.list() if recipes.RECIPES[n].dataset == "shapes")
    loss = _card_test_loss_on_a_subset(name, None, 500)
    assert loss == pytest.approx(presets.info(name)["metrics"]["test_loss"], rel=0.05)


def test_from_preset_checks_the_class():
    assert isinstance(VAE.from_preset("mnist_conv_z2"), VAE)
    conditional = ConditionalVAE.from_preset("mnist_conditional_z2")
    digits = conditional.sample(10, seed=0, labels=np.arange(10))
    assert digits.shape == (10, 28, 28, 1)
    with pytest.raises(ValueError, match=r"is a VAE, not a ConditionalVAE.*VAE.from_preset"):
        ConditionalVAE.from_preset("mnist_conv_z2")


def test_bad_names_and_damaged_files_get_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"Unknown preset 'mnist'\. Available presets: mnist_"):
        presets.load("mnist")
    # A damaged copy of the package's files: the SHA-256 check names the file and the fix.
    folder = tmp_path / "weights"
    shutil.copytree(presets.FOLDER, folder)
    monkeypatch.setattr(presets, "FOLDER", folder)
    file = folder / "mnist_conv_z2.keras"
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    file.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"does not match the SHA-256.*train_presets.py --only"):
        presets.load("mnist_conv_z2")
    file.unlink()
    with pytest.raises(FileNotFoundError, match=r"no weights file.*Reinstall vae_keras"):
        presets.load("mnist_conv_z2")


def test_cli_samples_and_lists_presets(tmp_path, capsys):
    from vae_keras.cli import main

    out = tmp_path / "grid.png"
    assert (
        main(["sample", "--preset", "mnist_conv_z2", "--num-samples", "4", "--out", str(out)]) == 0
    )
    assert out.stat().st_size > 0
    assert main(["presets"]) == 0
    listed = capsys.readouterr().out
    for name in presets.list():
        assert name in listed
    assert "test loss" in listed and "NLL" in listed
    assert main(["sample", "--preset", "nope"]) == 2
    assert "Unknown preset 'nope'" in capsys.readouterr().err


def test_cli_evaluates_a_preset_file(tmp_path, shared_mnist_dir):
    import json

    from vae_keras.cli import main

    out = tmp_path / "evaluation.json"
    args = ["evaluate", "--model", str(presets.path("mnist_conv_z2")), "--dataset", "mnist"]
    args += ["--data-dir", str(shared_mnist_dir), "--limit", "200", "--num-samples", "5"]
    assert main([*args, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["num_examples"] == 200 and result["nll_num_images"] == 200
    assert result["nll"] == pytest.approx(
        presets.info("mnist_conv_z2")["metrics"]["test_nll"], rel=0.1
    )


@pytest.mark.parametrize("name", presets.list())
def test_each_preset_ships_a_few_test_images(name):
    x, y = presets.examples(name)
    assert x.shape == (32, *presets.info(name)["data"]["shape"]) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0 and x.std() > 0.1 and len(y) == 32
    if recipes.RECIPES[name].dataset == "shapes":  # regenerated offline: the first test images
        expected, labels = recipes.load_data(recipes.RECIPES[name], "test", None)
        np.testing.assert_allclose(x, expected[:32], atol=0.5 / 255)
        np.testing.assert_array_equal(y, labels[:32])


def test_explorer_offers_a_presets_own_images_without_the_data(monkeypatch):
    import argparse

    from vae_keras.explorer import command

    monkeypatch.delenv("VAE_KERAS_DATA_DIR", raising=False)
    args = argparse.Namespace(
        model=None, preset="mnist_conv_z2", dataset=None, data_dir=None, num_images=16
    )
    model, config = command._load(args)
    x, y, note = command._test_images(args, config, model)
    assert note is None
    np.testing.assert_array_equal(x, presets.examples("mnist_conv_z2")[0])
