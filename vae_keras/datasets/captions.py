"""Captions of the `shapes` dataset: the grammar, its inverse, and a word tokenizer.

One English sentence per image names its factors:

    a {small|large} {colour} {shape} {position}

- size: `"large"` when `scale >= 0.75`, else `"small"` (optional in prompts);
- colour, shape: the words of `COLOR_NAMES`, `SHAPE_NAMES`;
- position: one of `POSITION_NAMES`, by thirds of [0.25, 0.75] of the shape's centre
  (`x` from the left, `y` from the top of the image): `"at the top left"`, ...,
  `"in the middle"`, ..., `"at the bottom right"`.

`CaptionTokenizer` turns captions into word ids over the grammar's vocabulary (0 pads);
a caption with words outside it is refused with every unknown word named.
"""

import re

import keras
import numpy as np

from vae_keras.datasets.shapes import COLOR_NAMES, SHAPE_NAMES

SIZE_NAMES = ("small", "large")
POSITION_NAMES = (
    "at the top left",
    "at the top",
    "at the top right",
    "on the left",
    "in the middle",
    "on the right",
    "at the bottom left",
    "at the bottom",
    "at the bottom right",
)
"""Row-major over (top, middle, bottom) x (left, centre, right): index `3 * row + column`."""
LARGE_SCALE = 0.75
# Thirds of the centre's range [0.25, 0.75] (shapes.py draws x and y uniformly from it).
_THIRDS = (0.25 + 0.5 / 3, 0.25 + 1.0 / 3)
_ARTICLE = "a"


def _grammar_words():
    words = [_ARTICLE, *SIZE_NAMES, *COLOR_NAMES, *SHAPE_NAMES]
    for phrase in POSITION_NAMES:
        words += [w for w in phrase.split() if w not in words]
    return tuple(dict.fromkeys(words))


VOCABULARY = _grammar_words()
"""Every word of the grammar (the default `CaptionTokenizer` vocabulary)."""
MAX_CAPTION_WORDS = 1 + 1 + 1 + 1 + max(len(p.split()) for p in POSITION_NAMES)


def normalize(text) -> list[str]:
    """Lower-cased words of `text`, punctuation dropped: `"A Red heart!"` -> `["a", "red", "heart"]`."""
    if not isinstance(text, str):
        raise ValueError(f"A caption must be a string. Received: {text!r}")
    return re.sub(r"[^a-z]+", " ", text.lower()).split()


def _third(value):
    return np.searchsorted(np.asarray(_THIRDS, np.float64), np.asarray(value, np.float64), "right")


def position_word(x, y):
    """The grammar's position word for a centre at `x`, `y` (fractions of the image).

    Each axis is cut in thirds of [0.25, 0.75] (the range of the shapes set's centres):
    `x` in [0.25, 5/12) is "left", [5/12, 7/12) the middle, [7/12, 0.75] "right"; `y`
    (from the top: image row 0) likewise "top", middle, "bottom". Values beyond
    [0.25, 0.75] fall in the nearest outer third.

    Args:
        x: Horizontal position, fraction of the width from the left (scalar or array).
        y: Vertical position, fraction of the height from the top (same shape as `x`).

    Returns:
        One of `POSITION_NAMES` (an array of them for array input).

    Example:

    >>> position_word(0.3, 0.3), position_word(0.5, 0.5), position_word(7 / 12, 0.7)
    ('at the top left', 'in the middle', 'at the bottom right')
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError(f"`x` and `y` must be finite numbers. Received: x={x}, y={y}")
    words = np.asarray(POSITION_NAMES)[3 * _third(y) + _third(x)]
    return str(words) if words.ndim == 0 else words


def caption(factors):
    """The caption of one factor record, or a list of captions of a factor array.

    Args:
        factors: a row or a structured array of `shapes_factors` (or a dict with its
            fields `shape`, `color`, `scale`, `x`, `y`, scalars or arrays).

    Example:

    >>> caption({"shape": 3, "color": 0, "scale": 0.8, "x": 0.7, "y": 0.3})
    'a large red heart at the top right'
    >>> caption({"shape": 1, "color": 1, "scale": [0.5], "x": [0.5], "y": [0.74]})
    ['a small green ellipse at the bottom']
    """
    fields = {n: np.asarray(factors[n]) for n in ("shape", "color", "scale", "x", "y")}
    single = all(v.ndim == 0 for v in fields.values())
    fields = {n: np.atleast_1d(v) for n, v in fields.items()}
    size = np.where(fields["scale"] >= LARGE_SCALE, 1, 0)
    position = 3 * _third(fields["y"]) + _third(fields["x"])
    out = [
        f"{_ARTICLE} {SIZE_NAMES[s]} {COLOR_NAMES[c]} {SHAPE_NAMES[k]} {POSITION_NAMES[p]}"
        for s, c, k, p in zip(size, fields["color"], fields["shape"], position, strict=True)
    ]
    return out[0] if single else out


def check_words(words, vocabulary=VOCABULARY, text=None):
    """Raises one ValueError naming every word of `words` outside `vocabulary`."""
    unknown = list(dict.fromkeys(w for w in words if w not in vocabulary))
    if unknown:
        where = f" in {text!r}" if text is not None else ""
        raise ValueError(
            f"Unknown words{where}: {', '.join(repr(w) for w in unknown)}. Use only the "
            f"vocabulary: {', '.join(vocabulary)}."
        )


def parse_caption(text: str) -> dict:
    """The factors a caption names: `{"size", "colour", "shape", "position"}` (the inverse of `caption`).

    `size` is `None` when the caption leaves it out; the leading "a" is optional.

    Example:

    >>> parse_caption("A green ellipse at the bottom right.")
    {'size': None, 'colour': 'green', 'shape': 'ellipse', 'position': 'at the bottom right'}
    """
    words = normalize(text)
    check_words(words, VOCABULARY, text)
    rest = words[1:] if words[:1] == [_ARTICLE] else words
    size = rest.pop(0) if rest[:1] and rest[0] in SIZE_NAMES else None
    if len(rest) >= 3 and rest[0] in COLOR_NAMES and rest[1] in SHAPE_NAMES:
        position = " ".join(rest[2:])
        if position in POSITION_NAMES:
            return {"size": size, "colour": rest[0], "shape": rest[1], "position": position}
    raise ValueError(
        f"Cannot parse the caption {text!r}: write 'a [small|large] COLOUR SHAPE POSITION', "
        f"e.g. 'a large red heart at the top right' (positions: {', '.join(POSITION_NAMES)})."
    )


@keras.saving.register_keras_serializable(package="vae_keras")
class CaptionTokenizer:
    """Words to ids over a fixed vocabulary: id `i + 1` is `vocabulary[i]`, 0 pads.

    Captions are lower-cased and stripped of punctuation, then right-padded to
    `max_length` words. A caption with words outside the vocabulary is refused
    (one `ValueError` naming every unknown word and listing the vocabulary).

    Args:
        vocabulary: The words (default: the `shapes` caption grammar, `VOCABULARY`).
        max_length: Most words in a caption (default: the grammar's longest caption).

    Example:

    >>> tokenizer = CaptionTokenizer()
    >>> tokenizer.encode(["A red heart", "a large blue square on the left"]).shape
    (2, 8)
    >>> tokenizer.decode(tokenizer.encode("a red heart"))
    ['a red heart']
    """

    def __init__(self, vocabulary=None, max_length: int | None = None):
        vocabulary = tuple(VOCABULARY if vocabulary is None else vocabulary)
        bad = [w for w in vocabulary if not isinstance(w, str) or normalize(w) != [w]]
        if not vocabulary or bad or len(set(vocabulary)) != len(vocabulary):
            raise ValueError(
                "`vocabulary` must be distinct lower-case words (letters only). "
                f"Received: vocabulary={list(vocabulary)!r}"
            )
        self.vocabulary = vocabulary
        if max_length is None:
            max_length = MAX_CAPTION_WORDS
        if not isinstance(max_length, (int, np.integer)) or max_length <= 0:
            raise ValueError(
                f"`max_length` must be a positive integer. Received: max_length={max_length!r}"
            )
        self.max_length = int(max_length)
        self._ids = {w: i + 1 for i, w in enumerate(vocabulary)}

    @property
    def vocabulary_size(self) -> int:
        """Number of ids, padding included."""
        return len(self.vocabulary) + 1

    def encode(self, captions) -> np.ndarray:
        """int32 `(n, max_length)` word ids of one caption or a list of them."""
        captions = [captions] if isinstance(captions, str) else list(captions)
        out = np.zeros((len(captions), self.max_length), "int32")
        for row, text in enumerate(captions):
            words = normalize(text)
            check_words(words, self.vocabulary, text)
            if len(words) > self.max_length:
                raise ValueError(
                    f"The caption {text!r} has {len(words)} words; this tokenizer takes at "
                    f"most max_length={self.max_length}. Shorten it."
                )
            out[row, : len(words)] = [self._ids[w] for w in words]
        return out

    def decode(self, tokens) -> list[str]:
        """The captions (normalised) of a batch of ids."""
        return [
            " ".join(self.vocabulary[t - 1] for t in row if t > 0)
            for row in np.asarray(tokens, "int64")
        ]

    def get_config(self):
        return {"vocabulary": list(self.vocabulary), "max_length": self.max_length}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
