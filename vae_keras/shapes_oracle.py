"""The shapes set's text-adherence oracle: what a generated image shows, judged without the model.

Images of the `shapes` set (`datasets.render_shapes`: one shape on black) are read back
into caption words, so that images generated from captions can be scored against them:

- colour: the foreground (pixels brighter than `threshold` in their brightest channel),
  each pixel's colour divided by its brightest channel (so a dim, blurred edge keeps its
  hue), averaged weighted by brightness, and matched to the nearest of the 8 `PALETTE`
  colours;
- position: the brightness-weighted centroid of the foreground, named by
  `position_word` (the caption grammar's thirds);
- size: the foreground's area (summed brightness) against the area the predicted shape
  has at scale 0.75 (captions say "large" from 0.75 up);
- shape: a small convolutional classifier on the brightness map (colour-agnostic:
  trained on every colour, half of the examples blurred), `ShapesOracle.fit`.

Brightness-weighted sums are unchanged by a symmetric blur, so colour, centroid and area
hold on the blurry images a generator draws. On clean 32x32 renders the centroid is
within ~0.1 pixel of the `x`, `y` factors (0.004 of the image side).
"""

import numpy as np

from vae_keras._oracle_inputs import as_targets, box_blur, check_images
from vae_keras.datasets.captions import LARGE_SCALE, POSITION_NAMES, position_word
from vae_keras.datasets.shapes import _RADIUS, COLOR_NAMES, PALETTE, SHAPE_NAMES, render_shapes
from vae_keras.datasets.shapes import shapes_factors as _shapes_factors

ATTRIBUTES = ("colour", "shape", "position", "size")
# Area of each shape in units of its radius squared (render_shapes' outlines, measured).
_AREA = np.array([1.847, 1.571, 1.300, 2.344])
__all__ = ["ATTRIBUTES", "POSITION_NAMES", "ShapesOracle", "box_blur", "position_word"]


class ShapesOracle:
    """Reads colour, shape, position and size words back from images of the shapes set.

    Args:
        classifier: The shape classifier (a `keras.Model` from `(H, W, 1)` brightness maps
            to 4 class probabilities, as `fit` builds), or `None` (colour, position and
            size only; `shape` needs `fit` or `load`).
        threshold: Brightness (max over channels, in [0, 1]) above which a pixel is
            foreground; 0.1 keeps blurred edges and drops a generator's background haze.

    Example:

    >>> import numpy as np
    >>> from vae_keras.datasets.shapes import FACTOR_DTYPE, render_shapes
    >>> f = np.array([(0, 6, 0.9, 30.0, 0.3, 0.7)], FACTOR_DTYPE)  # large orange square
    >>> oracle = ShapesOracle()
    >>> d = oracle.describe(render_shapes(f, 32), attributes=("colour", "position"))
    >>> str(d["colour"][0]), str(d["position"][0])
    ('orange', 'at the bottom left')
    """

    def __init__(self, classifier=None, threshold: float = 0.1):
        if not 0.0 <= threshold < 1.0:
            raise ValueError(f"`threshold` must be in [0, 1). Received: threshold={threshold}")
        self.classifier = classifier
        self.threshold = float(threshold)

    # === The shape classifier ===

    @classmethod
    def fit(
        cls,
        image_size: int = 32,
        num_examples: int = 20000,
        epochs: int = 8,
        batch_size: int = 64,
        seed: int = 0,
        verbose: int = 0,
        threshold: float = 0.1,
    ) -> "ShapesOracle":
        """An oracle whose classifier is trained on fresh `render_shapes` output.

        Random factors of every colour (`shapes_factors("train", ..., seed)`), half of
        the images blurred by a 3x3 box. The defaults reach 99.9% on fresh 32x32 renders
        and 99.7% on blurred ones (about a minute on 2 CPU cores); 3,000 examples and 8
        epochs give ~95% in about 12 s.
        """
        import keras

        keras.utils.set_random_seed(seed)
        factors = _shapes_factors("train", num_examples, seed=seed)
        images = render_shapes(factors, image_size)
        blurred = np.random.default_rng(seed).random(num_examples) < 0.5
        images[blurred] = box_blur(images[blurred])
        classifier = _build_classifier(images.shape[1:3])
        classifier.compile(
            optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy"
        )
        classifier.fit(
            _brightness_maps(images),
            factors["shape"],
            epochs=epochs,
            batch_size=batch_size,
            verbose=verbose,
        )
        return cls(classifier, threshold=threshold)

    def save(self, path) -> None:
        """Saves the classifier to `path` (a `.keras` file); `load(path)` restores it."""
        self._require_classifier()
        self.classifier.save(str(path))

    @classmethod
    def load(cls, path, threshold: float = 0.1) -> "ShapesOracle":
        """The oracle whose classifier `save` wrote to `path` (loaded in safe mode)."""
        import keras

        return cls(keras.saving.load_model(str(path), safe_mode=True), threshold=threshold)

    def accuracy_on_renders(self, num_examples: int = 1000, seed: int = 1) -> float:
        """The classifier's shape accuracy on fresh clean renders (the `test` stream)."""
        self._require_classifier()
        factors = _shapes_factors("test", num_examples, seed=seed)
        images = render_shapes(factors, self.classifier.input_shape[1:3])
        predicted = self.describe(images, attributes=("shape",))["shape"]
        return float(np.mean(predicted == np.asarray(SHAPE_NAMES)[factors["shape"]]))

    # === Reading images ===

    def describe(self, images, attributes=ATTRIBUTES) -> dict:
        """The words each image shows: `{attribute: array of words}` for `attributes`.

        An image with no foreground reads `"none"` for every attribute (a miss).
        """
        images = check_images(images)
        unknown = [a for a in attributes if a not in ATTRIBUTES]
        if unknown:
            raise ValueError(f"Unknown attributes {unknown}; choose from {ATTRIBUTES}.")
        brightness = images.max(axis=-1)
        weight = np.clip((brightness - self.threshold) / (1.0 - self.threshold), 0.0, None)
        mass = weight.sum(axis=(1, 2))
        empty = mass <= 0
        safe_mass = np.where(empty, 1.0, mass)
        out = {}
        if "colour" in attributes:
            # Hue at full brightness: a dim or blurred pixel of a colour keeps that colour.
            hue = images / np.maximum(brightness, 1e-6)[..., None]
            mean = (hue * weight[..., None]).sum(axis=(1, 2)) / safe_mass[:, None]
            nearest = ((mean[:, None, :] - PALETTE[None]) ** 2).sum(-1).argmin(1)
            out["colour"] = np.asarray(COLOR_NAMES)[nearest]
        if "position" in attributes:
            height, width = images.shape[1:3]
            rows = (np.arange(height) + 0.5) / height  # pixel j covers [j, j + 1)
            columns = (np.arange(width) + 0.5) / width
            x = (weight * columns).sum(axis=(1, 2)) / safe_mass
            y = (weight * rows[:, None]).sum(axis=(1, 2)) / safe_mass
            out["position"] = position_word(x, y)
        if "shape" in attributes or "size" in attributes:
            shape = self._classify(images)
            if "shape" in attributes:
                out["shape"] = np.asarray(SHAPE_NAMES)[shape]
        if "size" in attributes:
            # Summed brightness above the background's (the median pixel): blur-invariant.
            background = np.median(brightness, axis=(1, 2), keepdims=True)
            area = np.clip(brightness - background, 0.0, None).sum(axis=(1, 2))
            side = _RADIUS * min(images.shape[1:3])
            large = area >= _AREA[shape] * (LARGE_SCALE * side) ** 2
            out["size"] = np.where(large, "large", "small")
        return {a: np.where(empty, "none", words) for a, words in out.items()}

    def score(self, images, targets) -> dict:
        """Per-attribute hits of `images` against the words in `targets`.

        Args:
            images: float images `(N, H, W, 3)` in [0, 1].
            targets: a dict of parallel lists (`{"colour": [...], "shape": [...], ...}`)
                or a list of `N` dicts (e.g. parsed captions). Attributes absent, and
                entries that are `None` (a caption without a size), are not scored;
                other keys are ignored.

        Returns:
            For each scored attribute `a`: `a` (the rate of hits, over the scored entries)
            and `a + "_hits"` (bool array `(N,)`); `"all"` / `"all_hits"`: every scored
            attribute of the image right; `"predicted"`: the words read (`describe`).
        """
        images = check_images(images)
        targets = as_targets(targets, len(images), _VOCABULARY)
        predicted = self.describe(images, attributes=tuple(targets))
        result = {"predicted": predicted}
        all_hits = np.ones(len(images), bool)
        for attribute, wanted in targets.items():
            scored = np.array([w is not None for w in wanted])
            hits = scored & (predicted[attribute] == np.array(wanted, object))
            all_hits &= hits | ~scored
            result[attribute + "_hits"] = hits
            result[attribute] = float(hits[scored].mean()) if scored.any() else float("nan")
        result["all_hits"], result["all"] = all_hits, float(all_hits.mean())
        return result

    def score_captions(self, images, captions, parse=None) -> dict:
        """`score` against captions: one string for every image, or one per image.

        `parse` turns a caption into `{"size", "colour", "shape", "position"}`; the default
        is `vae_keras.datasets.captions.parse_caption` (imported on first use).
        """
        if parse is None:
            from vae_keras.datasets.captions import parse_caption as parse
        images = check_images(images)
        if isinstance(captions, str):
            captions = [captions] * len(images)
        if len(captions) != len(images):
            raise ValueError(
                f"Pass one caption for all images or one per image: got {len(captions)} "
                f"captions for {len(images)} images."
            )
        return self.score(images, [parse(c) for c in captions])

    def _classify(self, images):
        self._require_classifier()
        wanted = tuple(self.classifier.input_shape[1:3])
        if images.shape[1:3] != wanted:
            raise ValueError(
                f"The shape classifier reads {wanted[0]}x{wanted[1]} images. Received images "
                f"of {images.shape[1]}x{images.shape[2]}: fit an oracle with that image_size."
            )
        probabilities = self.classifier.predict(_brightness_maps(images), batch_size=512, verbose=0)
        return np.asarray(probabilities).argmax(-1)

    def _require_classifier(self):
        if self.classifier is None:
            raise ValueError(
                "This oracle has no shape classifier: build it with `ShapesOracle.fit(...)` "
                "or `ShapesOracle.load(path)`."
            )


def _build_classifier(image_size):
    import keras

    # Convolutions and a global max: where the shape sits does not matter.
    inputs = keras.Input((*image_size, 1), name="brightness")
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.GlobalMaxPooling2D()(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    outputs = keras.layers.Dense(len(SHAPE_NAMES), activation="softmax")(x)
    return keras.Model(inputs, outputs, name="shapes_oracle_classifier")


def _brightness_maps(images):
    """Max over channels, scaled so each image's brightest pixel is 1 (colour-agnostic)."""
    brightness = images.max(axis=-1, keepdims=True)
    return brightness / np.maximum(brightness.max(axis=(1, 2, 3), keepdims=True), 0.1)


_VOCABULARY = {
    "colour": COLOR_NAMES,
    "shape": SHAPE_NAMES,
    "position": POSITION_NAMES,
    "size": ("small", "large"),
}
