"""Image-grid callbacks: prior samples and reconstructions, per epoch."""

import os
import warnings

import keras
import numpy as np

from vae_keras.callbacks._common import _check_count
from vae_keras.models.capabilities import CapabilityError, capabilities, input_shape, require
from vae_keras.plotting import image_grid, paired_grid, save_grid_png
from vae_keras.plotting._common import as_images
from vae_keras.plotting.grids import grid_to_uint8, save_grid_gif


class _GridCallback(keras.callbacks.Callback):
    """Writes one PNG grid every `every` epochs into `directory`."""

    prefix = "grid"

    def __init__(self, directory, every=1, ncols=None, scale=None):
        super().__init__()
        if directory is None or not str(directory):
            raise ValueError(
                f"`directory` must be a folder path. Received: directory={directory!r}"
            )
        self.directory = os.fspath(directory)
        self.every = _check_count(every, "every")
        self.ncols = _check_count(ncols, "ncols", allow_none=True)
        self.scale = None if scale is None else _check_count(scale, "scale")
        self.paths = []

    def on_train_begin(self, logs=None):
        os.makedirs(self.directory, exist_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            path = os.path.join(self.directory, f"{self.prefix}_epoch_{epoch + 1:03d}.png")
            self.write(epoch + 1, path)
            self.paths.append(path)

    def write(self, epoch, path):
        save_grid_png(self.grid(), path, scale=self.scale)


class SampleGrid(_GridCallback):
    """Decodes a fixed batch of prior samples every `every` epochs.

    The codes `z ~ p(z)` (the model's prior, `model.prior_codes`: N(0, I) by
    default) are drawn once (NumPy noise, with `seed`) when training starts,
    so every picture shows the same codes: the grid sharpens as the
    decoder learns. Writes `samples_epoch_{epoch:03d}.png` into `directory`.
    A conditional model (`num_classes`) decodes code `i` under label
    `i % num_classes`, as its `sample` does.

    Args:
        directory: Folder for the pictures (created if needed).
        num_samples: Number of codes decoded (64 gives an 8x8 grid).
        every: Write every `every` epochs (epochs `every`, `2*every`, ...).
        seed: Seed of the fixed codes.
        gif: Also write `samples.gif` of all pictures when training ends.
        tensorboard_dir: Also log the grid as a TensorBoard image
            (`samples`, step = epoch); needs TensorFlow (any Keras backend).
        ncols: Images per row (default `ceil(sqrt(num_samples))`).
        scale: Screen pixels per image pixel in the PNG (None: enough to make small
            images legible, see `plotting.grids.LEGIBLE_PX`).
        gif_duration_ms: Display time of one GIF frame.

    Example:

    >>> callback = SampleGrid("/tmp/run/samples", num_samples=16, every=5)
    >>> # vae.fit(x, epochs=20, callbacks=[callback])
    """

    prefix = "samples"

    def __init__(
        self,
        directory,
        num_samples: int = 64,
        every: int = 1,
        seed: int = 0,
        gif: bool = False,
        tensorboard_dir=None,
        ncols: int | None = None,
        scale: int | None = None,
        gif_duration_ms: int = 400,
    ):
        super().__init__(directory, every, ncols, scale)
        self.num_samples = _check_count(num_samples, "num_samples")
        self.seed = _check_count(seed, "seed", minimum=0)
        self.gif = bool(gif)
        self.gif_duration_ms = _check_count(gif_duration_ms, "gif_duration_ms")
        self.tensorboard_dir = None if tensorboard_dir is None else os.fspath(tensorboard_dir)
        self.z = None
        self.frames = []
        self._writer = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if capabilities(self.model).needs_fit_prior:  # VQVAE
            raise CapabilityError(
                f"SampleGrid decodes prior draws every epoch, but a {type(self.model).__name__}'s "
                "prior is trained after `fit` (capability `needs_fit_prior`). Use "
                "ReconstructionGrid during `fit`, and `model.sample(n)` after `fit_prior`."
            )
        require(self.model, "latent_vector", "SampleGrid")
        latent_dim = int(self.model.latent_dim)
        if self.z is None or self.z.shape[1] != latent_dim:
            rng = np.random.default_rng(self.seed)
            eps = rng.standard_normal((self.num_samples, latent_dim)).astype("float32")
            self.z = self.model.prior_codes(eps, seed=self.seed)  # N(0, I): eps itself
        if self.tensorboard_dir is not None and self._writer is None:
            self._writer = _summary_writer(self.tensorboard_dir)

    def grid(self):
        if capabilities(self.model).conditional:  # classes cycle, like `sample`
            images = self.model.decode(self.z, np.arange(len(self.z)) % self.model.num_classes)
        else:
            images = self.model.decode(self.z)
        return image_grid(as_images(images, "decoded samples"), self.ncols)

    def write(self, epoch, path):
        grid = self.grid()
        save_grid_png(grid, path, scale=self.scale)
        if self.gif:
            self.frames.append(grid_to_uint8(grid))
        if self._writer is not None:
            _log_image(self._writer, "samples", grid, epoch, self.scale)

    def on_train_end(self, logs=None):
        if self.gif and self.frames:
            self.gif_path = os.path.join(self.directory, "samples.gif")
            save_grid_gif(self.frames, self.gif_path, self.scale, self.gif_duration_ms)
            self.paths.append(self.gif_path)
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class ReconstructionGrid(_GridCallback):
    """Fixed images above their reconstructions, every `every` epochs.

    Writes `reconstructions_epoch_{epoch:03d}.png`: a row of `images`, then
    the same row reconstructed (`model.reconstruct`, deterministic), and so
    on (see `vae_keras.plotting.paired_grid`).

    Args:
        directory: Folder for the pictures (created if needed).
        images: `(N, *input_shape)` examples, e.g. the first 16 validation
            images. Their shape is checked against the model when training
            starts.
        every: Write every `every` epochs.
        ncols: Images per row (default: about `sqrt(2 N)`, see `paired_grid`).
        scale: Screen pixels per image pixel in the PNG (None: enough to make small
            images legible, see `plotting.grids.LEGIBLE_PX`).
        labels: The images' labels, required by a conditional model
            (`ConditionalVAE`), ignored otherwise.
    """

    prefix = "reconstructions"

    def __init__(
        self,
        directory,
        images,
        every: int = 1,
        ncols: int | None = None,
        scale: int | None = None,
        labels=None,
    ):
        super().__init__(directory, every, ncols, scale)
        images = np.asarray(images, dtype="float32")
        if images.ndim < 2 or len(images) == 0:
            raise ValueError(
                "`images` must be a non-empty batch shaped (N, *input_shape). "
                f"Received shape {images.shape}."
            )
        if not np.isfinite(images).all():
            raise ValueError("`images` contains NaN or inf.")
        if labels is not None and len(np.asarray(labels).reshape(-1)) != len(images):
            raise ValueError(
                f"`labels` must give one label per image: {len(images)} images, "
                f"received {len(np.asarray(labels).reshape(-1))} labels."
            )
        self.images = images
        self.labels = None if labels is None else np.asarray(labels).reshape(-1)

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        expected = input_shape(self.model)
        if expected is not None and tuple(self.images.shape[1:]) != tuple(expected):
            raise ValueError(
                f"ReconstructionGrid `images` have per-example shape {self.images.shape[1:]} "
                f"but the model reads {tuple(expected)}. Pass images shaped "
                f"(N, {', '.join(map(str, expected))})."
            )
        if capabilities(self.model).conditional and self.labels is None:
            raise ValueError(
                f"{type(self.model).__name__} is conditional: pass the images' labels, "
                "ReconstructionGrid(directory, images, labels=...)."
            )

    def grid(self):
        declared = capabilities(self.model)
        if declared.conditional:
            x_hat = self.model.reconstruct(self.images, labels=self.labels)
        elif declared.reconstruct:
            x_hat = self.model.reconstruct(self.images)
        else:
            x_hat = self.model.predict(self.images, verbose=0)
        return paired_grid(self.images, np.asarray(x_hat).reshape(self.images.shape), self.ncols)


def _summary_writer(directory):
    try:
        import tensorflow as tf
    except ImportError:
        warnings.warn(
            f"SampleGrid(tensorboard_dir={directory!r}) needs TensorFlow to write the image "
            "summary; it is not installed, so only the PNG files are written.",
            stacklevel=3,
        )
        return None
    return tf.summary.create_file_writer(directory)


def _log_image(writer, tag, grid, step, scale=1):
    """An image summary in TensorBoard's format, written with core TF only.

    The same record `tf.summary.image` writes (a string tensor `[width,
    height, png]`, plugin "images"), but without needing the tensorboard
    package installed.
    """
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    image = grid_to_uint8(grid).repeat(scale, axis=0).repeat(scale, axis=1)
    png = tf.io.encode_png(image)
    tensor = tf.stack([tf.as_string(image.shape[1]), tf.as_string(image.shape[0]), png])
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="images"),
        data_class=summary_pb2.DATA_CLASS_BLOB_SEQUENCE,
    )
    with writer.as_default():
        tf.summary.write(tag, tensor, step=step, metadata=metadata)
    writer.flush()
