"""The shapes caption grammar, its inverse, the tokenizer, and load(captions=, hold_out=)."""

import keras
import numpy as np
import pytest

from vae_keras import datasets
from vae_keras.datasets import (
    COLOR_NAMES,
    POSITION_NAMES,
    SHAPE_NAMES,
    CaptionTokenizer,
    caption,
    parse_caption,
)
from vae_keras.datasets.captions import VOCABULARY


def factors(**fields):
    base = {"shape": 0, "color": 0, "scale": 0.6, "x": 0.5, "y": 0.5}
    return {**base, **fields}


def test_size_splits_at_three_quarters():
    assert caption(factors(scale=0.7499)).split()[1] == "small"
    assert caption(factors(scale=0.75)).split()[1] == "large"
    assert caption(factors(scale=0.5)).split()[1] == "small"
    assert caption(factors(scale=1.0)).split()[1] == "large"


def test_the_nine_positions_by_thirds_with_y_from_the_top():
    edges = (0.25, 0.25 + 0.5 / 3, 0.25 + 1 / 3)  # lower edges of the thirds of [0.25, 0.75]
    centres = (0.3, 0.5, 0.7)
    for row, y in enumerate(centres):
        for col, x in enumerate(centres):
            text = caption(factors(x=x, y=y))
            assert text.endswith(POSITION_NAMES[3 * row + col]), text
            assert parse_caption(text)["position"] == POSITION_NAMES[3 * row + col]
    assert caption(factors(x=0.5, y=0.26)).endswith("at the top")  # small y: top of the image
    assert caption(factors(x=0.74, y=0.5)).endswith("on the right")
    assert caption(factors(x=edges[1], y=0.5)).endswith("in the middle")  # an edge opens a third
    assert caption(factors(x=edges[1] - 1e-4, y=0.5)).endswith("on the left")
    assert len(set(POSITION_NAMES)) == 9


def test_caption_of_a_factor_array_uses_the_palette_words():
    f = datasets.shapes_factors("test", num_examples=200)
    texts = caption(f)
    assert len(texts) == 200
    for text, row in zip(texts, f, strict=True):
        parsed = parse_caption(text)
        assert parsed["colour"] == COLOR_NAMES[row["color"]]
        assert parsed["shape"] == SHAPE_NAMES[row["shape"]]
        assert parsed["size"] == ("large" if row["scale"] >= 0.75 else "small")
    # every colour and shape word of the dataset is in the grammar's vocabulary
    assert set(COLOR_NAMES) | set(SHAPE_NAMES) <= set(VOCABULARY)
    assert COLOR_NAMES == (
        "red",
        "green",
        "blue",
        "yellow",
        "magenta",
        "cyan",
        "orange",
        "white",
    )


def test_parse_caption_without_size_and_normalised():
    assert parse_caption("A Green ellipse, at the bottom right!") == {
        "size": None,
        "colour": "green",
        "shape": "ellipse",
        "position": "at the bottom right",
    }
    with pytest.raises(ValueError, match="Cannot parse"):
        parse_caption("a heart red in the middle")


def test_unknown_words_are_all_named_with_the_vocabulary():
    for call in (
        lambda: CaptionTokenizer().encode(["a red heart", "a purple hexagon near the top"]),
        lambda: parse_caption("a purple hexagon near the top"),
    ):
        with pytest.raises(ValueError) as caught:
            call()
        message = str(caught.value)
        for word in ("'purple'", "'hexagon'", "'near'"):
            assert word in message, message
        assert "magenta" in message and "triangle" in message and "\n" not in message


def test_tokenizer_pads_normalises_and_round_trips():
    tokenizer = CaptionTokenizer()
    tokens = tokenizer.encode(["A RED heart.", "a large blue square at the bottom right"])
    assert tokens.dtype == np.int32 and tokens.shape == (2, 8)
    assert (tokens[0, 3:] == 0).all() and (tokens[0, :3] > 0).all() and (tokens[1] > 0).all()
    assert tokenizer.decode(tokens) == ["a red heart", "a large blue square at the bottom right"]
    with pytest.raises(ValueError, match="max_length=8"):
        tokenizer.encode("a red heart " * 3)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(tokenizer))
    assert clone.vocabulary == tokenizer.vocabulary and clone.max_length == 8
    small = CaptionTokenizer(["red", "heart"], max_length=2)
    assert small.encode("heart red").tolist() == [[2, 1]]
    with pytest.raises(ValueError, match="vocabulary"):
        CaptionTokenizer(["Red", "red"])


def test_load_shapes_with_captions_and_hold_out():
    x, texts = datasets.load("shapes", "train", image_size=8, num_examples=300, captions=True)
    _, labels = datasets.load("shapes", "train", image_size=8, num_examples=300)
    assert x.shape == (300, 8, 8, 3) and len(texts) == 300
    assert [SHAPE_NAMES.index(parse_caption(t)["shape"]) for t in texts] == labels.tolist()

    pairs = [("red", "heart"), ("green", "triangle")]
    f = datasets.shapes_factors("train", 300)
    held = np.isin(f["color"] * 4 + f["shape"], [0 * 4 + 3, 1 * 4 + 2])
    assert held.any()
    for hold_out in (pairs, "red:heart, green:triangle"):
        kept_x, kept = datasets.load(
            "shapes", "train", image_size=8, num_examples=300, captions=True, hold_out=hold_out
        )
        assert len(kept) == len(kept_x) == 300 - held.sum()
        assert kept == [t for t, h in zip(texts, held, strict=True) if not h]
        np.testing.assert_array_equal(kept_x, x[~held])
        assert not {(p["colour"], p["shape"]) for p in map(parse_caption, kept)} & set(pairs)
    # the test split keeps every pair
    test_x, _ = datasets.load("shapes", "test", image_size=8, num_examples=50, hold_out=pairs)
    assert len(test_x) == 50
    with pytest.raises(ValueError, match="purple"):
        datasets.load("shapes", "train", image_size=8, num_examples=10, hold_out="purple:heart")
    with pytest.raises(ValueError, match="'shapes' dataset only"):
        datasets.load("digits", captions=True)
