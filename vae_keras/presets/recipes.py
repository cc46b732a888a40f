"""How each preset is built and trained: the single source `examples/train_presets.py` reads.

A recipe names its data, networks, likelihood and schedule (the table: `presets/table.py`);
`build_model(recipe)` returns the compiled, untrained model and `load_data(recipe, split,
data_dir)` its arrays.
"""

import keras

from vae_keras.presets.table import RECIPES, Recipe, optimizer

__all__ = ["RECIPES", "Recipe", "build_model", "load_data", "optimizer"]


def load_data(recipe: Recipe, split: str, data_dir=None):
    """`(x, y)` float32 arrays in [0, 1] (y: labels, or shape indices for `shapes`)."""
    from vae_keras import datasets

    kwargs = {"data_dir": data_dir} if recipe.dataset == "mnist" else {}
    if recipe.image_size:
        kwargs["image_size"] = recipe.image_size
    if recipe.dataset == "shapes" and split == "train" and recipe.num_train:
        kwargs["num_examples"] = recipe.num_train
    return datasets.load(recipe.dataset, split, **kwargs)


def build_model(recipe: Recipe, input_shape, compile: bool = True) -> keras.Model:
    """The untrained model of `recipe` for images shaped `input_shape` (compiled by default):
    `recipe.model` and `recipe.architecture` are a model kind and a network family, built by
    `vae_keras.models.kinds.build_model`."""
    from vae_keras.models import kinds

    keras.utils.set_random_seed(recipe.seed)
    options = {"widths": recipe.widths} if recipe.widths else {}
    model = kinds.build_model(
        recipe.model,
        network=recipe.architecture,
        likelihood=recipe.likelihood,
        shape=tuple(input_shape),
        latent_dim=recipe.latent_dim,
        seed=recipe.seed,
        **options,
    )
    if compile:
        model.compile(optimizer=optimizer(recipe))
    return model
