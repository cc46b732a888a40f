"""The presets' recipes as data: each one's dataset, model, networks and schedule.

`vae_keras.presets` reads this table to list and load presets; `presets.recipes` adds the
training side (`build_model`, `load_data`) that `examples/train_presets.py` uses.
"""

from dataclasses import asdict, dataclass

import keras


@dataclass(frozen=True)
class Recipe:
    """One preset's data, model and schedule."""

    name: str
    description: str
    dataset: str  # "mnist" or "shapes"
    model: str  # a model kind of `models.kinds`: "vae" or "conditional"
    architecture: str  # a network family of `networks.families`: "conv", "dense" or "residual"
    latent_dim: int
    epochs: int
    likelihood: str = "bernoulli"
    image_size: int | None = None
    widths: tuple[int, ...] | None = None  # residual networks' stage widths (default: theirs)
    num_train: int | None = None  # None: the dataset's whole training split
    batch_size: int = 128
    learning_rate: float = 1e-3
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


RECIPES = {
    recipe.name: recipe
    for recipe in (
        Recipe(
            "mnist_conv_z2",
            "MNIST conv VAE with a 2-D latent space: the manifold, on a slider pad",
            dataset="mnist",
            model="vae",
            architecture="conv",
            latent_dim=2,
            epochs=5,
        ),
        Recipe(
            "mnist_conv_z16",
            "MNIST conv VAE with 16 latent dimensions: the command line's default model",
            dataset="mnist",
            model="vae",
            architecture="conv",
            latent_dim=16,
            epochs=5,
        ),
        Recipe(
            "mnist_conditional_z2",
            "conditional MNIST VAE (dense, label-aware): pick the digit, move through styles",
            dataset="mnist",
            model="conditional",
            architecture="dense",
            latent_dim=2,
            epochs=5,
        ),
        Recipe(
            "shapes_residual_z10",
            "colour shapes (32x32, known factors: shape, colour, size, angle, position)",
            dataset="shapes",
            model="vae",
            architecture="residual",
            latent_dim=10,
            epochs=6,
            image_size=32,
            widths=(32, 64, 64),
            num_train=10000,
        ),
    )
}


def optimizer(recipe: Recipe) -> keras.optimizers.Optimizer:
    """The optimizer the preset was trained with (a loaded preset continues with it)."""
    return keras.optimizers.Adam(recipe.learning_rate)
