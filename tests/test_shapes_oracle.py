"""`ShapesOracle`: colour, position, size and shape read back from `render_shapes` images."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vae_keras.datasets.shapes import COLOR_NAMES, FACTOR_DTYPE, SHAPE_NAMES, render_shapes
from vae_keras.shapes_oracle import POSITION_NAMES, ShapesOracle, box_blur, position_word

ROOT = Path(__file__).resolve().parents[1]


def random_factors(n, seed, margin=0.01):
    """Random factors whose centres keep `margin` from the position thresholds 5/12, 7/12
    (the centroid of a render is within ~0.004 of its factors) and scales keep 0.03 from
    the size threshold 0.75."""
    rng = np.random.default_rng(seed)
    f = np.zeros(n, FACTOR_DTYPE)
    f["shape"] = rng.integers(0, 4, n)
    f["color"] = rng.integers(0, 8, n)
    f["rotation"] = rng.uniform(0, 360, n)
    scale = rng.uniform(0.5, 1.0, 4 * n)
    f["scale"] = scale[np.abs(scale - 0.75) > 0.03][:n]
    for axis in ("x", "y"):
        u = rng.uniform(0.25, 0.75, 4 * n)
        keep = (np.abs(u - 5 / 12) > margin) & (np.abs(u - 7 / 12) > margin)
        f[axis] = u[keep][:n]
    return f


def truth(f):
    return {
        "colour": list(np.asarray(COLOR_NAMES)[f["color"]]),
        "shape": list(np.asarray(SHAPE_NAMES)[f["shape"]]),
        "position": list(position_word(f["x"], f["y"])),
        "size": ["large" if s >= 0.75 else "small" for s in f["scale"]],
    }


def test_position_word_thresholds_at_the_edges():
    eps = 1e-9
    assert position_word(0.25, 0.25) == "at the top left"
    assert position_word(5 / 12 - eps, 0.5) == "on the left"
    assert position_word(5 / 12, 0.5) == "in the middle"
    assert position_word(7 / 12 - eps, 7 / 12 - eps) == "in the middle"
    assert position_word(7 / 12, 0.5) == "on the right"
    assert position_word(0.75, 0.75) == "at the bottom right"
    assert position_word(0.5, 5 / 12 - eps) == "at the top"  # y from the top: row 0
    assert position_word(0.5, 7 / 12) == "at the bottom"
    assert position_word(0.0, 1.0) == "at the bottom left"  # beyond [0.25, 0.75]: outer third
    grid = position_word(*np.meshgrid([0.3, 0.5, 0.7], [0.3, 0.5, 0.7]))
    assert tuple(grid.ravel()) == POSITION_NAMES
    with pytest.raises(ValueError, match="finite"):
        position_word(float("nan"), 0.5)


def test_colour_and_position_exact_on_clean_renders_and_hold_on_blurred():
    f = random_factors(800, seed=0)
    wanted = truth(f)
    wanted = {"colour": wanted["colour"], "position": wanted["position"]}
    oracle = ShapesOracle()  # no classifier needed for these two
    for size in (32, 16):
        clean = oracle.score(render_shapes(f, size), wanted)
        assert clean["colour"] == 1.0 and clean["position"] == 1.0, size
    images = render_shapes(f, 32)
    for blurred in (box_blur(images), box_blur(box_blur(images))):
        result = oracle.score(blurred, wanted)
        assert result["colour"] >= 0.95 and result["position"] >= 0.95
    # A generator's haze: dimmer, grey background noise.
    noise = np.random.default_rng(1).uniform(0, 0.06, images.shape).astype("float32")
    hazy = oracle.score(np.clip(0.8 * box_blur(images) + noise, 0, 1), wanted)
    assert hazy["colour"] >= 0.95 and hazy["position"] >= 0.95


def test_position_reads_the_centroid_not_the_brightest_pixel():
    f = np.zeros(2, FACTOR_DTYPE)
    f["shape"], f["color"], f["scale"] = 3, (6, 2), 1.0  # orange, blue hearts
    f["x"], f["y"] = (0.3, 0.7), (0.7, 0.3)
    d = ShapesOracle().describe(render_shapes(f, 32), attributes=("colour", "position"))
    assert d["colour"].tolist() == ["orange", "blue"]
    assert d["position"].tolist() == ["at the bottom left", "at the top right"]


def test_an_empty_image_reads_none_and_misses():
    images = np.zeros((2, 16, 16, 3), "float32")
    images[1, 4:8, 4:8] = (0.0, 1.0, 1.0)
    result = ShapesOracle().score(images, {"colour": ["red", "cyan"]})
    assert result["predicted"]["colour"].tolist() == ["none", "cyan"]
    assert result["colour_hits"].tolist() == [False, True] and result["colour"] == 0.5


def test_score_forms_none_entries_and_the_all_column():
    f = random_factors(6, seed=2)
    images = render_shapes(f, 16)
    wanted = truth(f)
    wanted = {"colour": wanted["colour"], "position": wanted["position"]}
    wanted["colour"][0] = "white" if wanted["colour"][0] != "white" else "red"  # a miss
    wanted["position"][1] = None  # not scored
    oracle = ShapesOracle()
    by_columns = oracle.score(images, wanted)
    rows = [dict(zip(wanted, values, strict=True)) for values in zip(*wanted.values(), strict=True)]
    by_rows = oracle.score(images, rows)
    assert by_columns["colour_hits"].tolist() == [False] + [True] * 5
    assert by_columns["colour"] == pytest.approx(5 / 6)
    assert by_columns["position"] == 1.0 and not by_columns["position_hits"][1]
    assert by_columns["all_hits"].tolist() == [False] + [True] * 5
    for key in ("colour", "position", "all"):
        assert by_rows[key] == by_columns[key]
    # Captions through any parser; one caption for every image.
    parse = dict(zip(["a", "b"], rows[2:4], strict=True)).__getitem__
    result = oracle.score_captions(images[2:4], ["a", "b"], parse=parse)
    assert result["all"] == 1.0
    assert oracle.score_captions(images[2:4], "a", parse=parse)["all_hits"].tolist() == [
        True,
        wanted["colour"][3] == wanted["colour"][2]
        and wanted["position"][3] == wanted["position"][2],
    ]


def test_refusals_are_one_line_value_errors():
    oracle = ShapesOracle()
    good = np.zeros((2, 16, 16, 3), "float32")
    cases = [
        (lambda: oracle.describe(np.zeros((2, 16, 16), "float32")), r"\(N, height, width, 3\)"),
        (lambda: oracle.describe(np.zeros((2, 16, 16, 1), "float32")), r"\(2, 16, 16, 1\)"),
        (lambda: oracle.describe(good + 2.0), r"\[0, 1\].*\[2.0, 2.0\]"),
        (lambda: oracle.describe(good * np.nan), "finite"),
        (lambda: oracle.score(good, {"colour": ["red", "purple"]}), "purple"),
        (lambda: oracle.score(good, {"colour": ["red"]}), "1 entries for 2 images"),
        (lambda: oracle.score(good, {"hue": ["red", "red"]}), "names none of"),
        (lambda: oracle.describe(good, attributes=("shape",)), "ShapesOracle.fit"),
        (lambda: oracle.describe(good, attributes=("texture",)), "texture"),
        (lambda: oracle.score_captions(good, ["a"] * 3, parse=dict), "3 captions for 2"),
        (lambda: ShapesOracle(threshold=1.0), "threshold=1.0"),
    ]
    for call, pattern in cases:
        with pytest.raises(ValueError, match=pattern) as info:
            call()
        assert "\n" not in str(info.value)


def test_shape_classifier_beats_chance_on_clean_and_blurred_renders():
    oracle = ShapesOracle.fit(image_size=32, num_examples=3000, epochs=8, seed=0)  # ~15 s
    assert oracle.accuracy_on_renders(500) >= 0.8  # chance is 0.25; about 0.95 here
    f = random_factors(300, seed=3)
    images = render_shapes(f, 32)
    result = oracle.score(images, truth(f))
    assert result["shape"] >= 0.8 and result["colour"] == 1.0 and result["position"] == 1.0
    assert result["size"] >= 0.75  # reads the area against the predicted shape's
    assert oracle.score(box_blur(images), truth(f))["shape"] >= 0.7


@pytest.mark.backend
def test_save_and_load_give_identical_predictions(tmp_path):
    oracle = ShapesOracle.fit(image_size=16, num_examples=256, epochs=1, seed=0)
    images = render_shapes(random_factors(64, seed=4), 16)
    path = tmp_path / "oracle.keras"
    oracle.save(path)
    loaded = ShapesOracle.load(path)
    maps = images.max(-1, keepdims=True)
    np.testing.assert_allclose(
        loaded.classifier.predict(maps, verbose=0),
        oracle.classifier.predict(maps, verbose=0),
        rtol=1e-6,
        atol=1e-7,
    )
    assert (loaded.describe(images)["shape"] == oracle.describe(images)["shape"]).all()
    with pytest.raises(ValueError, match="reads 16x16 images"):
        loaded.describe(render_shapes(random_factors(2, seed=5), 32), attributes=("shape",))


def test_example_quick_run(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "examples/text_to_image.py", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "text_to_image.png").is_file()
    assert "colour" in result.stdout
