"""Image datasets for VAEs: NumPy arrays in [0, 1] (`load`) or streaming `tf.data` pipelines.

- `load(name, ...)`: MNIST-family IDX files (else a TFDS download), scikit-learn's 8x8
  digits, procedural colour `"shapes"` with known factors, `"patches"` of scikit-image's
  photographs, and any TensorFlow Datasets image dataset, as float32 NHWC arrays.
- `image_folder(path, ...)`: your own images, streamed from a folder.
- `tfds_stream(name, ...)`: a TFDS dataset streamed (CelebA with its standard crop).
- `shapes_factors`, `render_shapes`: the generating factors of `"shapes"`, and images
  rendered from any factor values; `caption`, `parse_caption`, `CaptionTokenizer`: the
  shapes' captions (`load("shapes", captions=True)`) and their words.
"""

from vae_keras.datasets._files import IMAGE_EXTENSIONS
from vae_keras.datasets._idx import ENV_VAR, load_idx
from vae_keras.datasets.captions import (
    POSITION_NAMES,
    SIZE_NAMES,
    CaptionTokenizer,
    caption,
    parse_caption,
)
from vae_keras.datasets.core import KNOWN_DATASETS, PROCEDURAL_DATASETS, load
from vae_keras.datasets.folder import image_folder
from vae_keras.datasets.patches import TEST_PHOTOS, TRAIN_PHOTOS, load_patches
from vae_keras.datasets.shapes import (
    COLOR_NAMES,
    FACTOR_NAMES,
    PALETTE,
    SHAPE_NAMES,
    drop_pairs,
    held_out_pairs,
    load_shapes,
    render_shapes,
    shapes_factors,
)
from vae_keras.datasets.tfds_stream import CELEBA_CROP_BOX, tfds_stream

__all__ = [
    "CELEBA_CROP_BOX",
    "CaptionTokenizer",
    "COLOR_NAMES",
    "ENV_VAR",
    "FACTOR_NAMES",
    "IMAGE_EXTENSIONS",
    "KNOWN_DATASETS",
    "PALETTE",
    "POSITION_NAMES",
    "PROCEDURAL_DATASETS",
    "SHAPE_NAMES",
    "SIZE_NAMES",
    "TEST_PHOTOS",
    "TRAIN_PHOTOS",
    "caption",
    "drop_pairs",
    "held_out_pairs",
    "image_folder",
    "load",
    "load_idx",
    "load_patches",
    "load_shapes",
    "parse_caption",
    "render_shapes",
    "shapes_factors",
    "tfds_stream",
]
