"""Procedural colour shapes with known generating factors (a dSprites-like set, in colour).

Each image is one shape on a black background. Six factors generate it:

| factor     | values                                                              |
|------------|---------------------------------------------------------------------|
| `shape`    | index into `SHAPE_NAMES`: square, ellipse, triangle, heart          |
| `color`    | index into `COLOR_NAMES` (RGB values in `PALETTE`)                  |
| `scale`    | [0.5, 1]: the shape's radius is `0.24 * scale * min(height, width)` |
| `rotation` | [0, 360) degrees, counter-clockwise                                 |
| `x`, `y`   | [0.25, 0.75]: the shape's area centroid, as a fraction of the width |
|            | (`x`, from the left) and height (`y`, from the top)                 |

Rotation is only identifiable modulo each shape's symmetry (90 degrees for the square,
180 for the ellipse, 120 for the triangle; the heart has none), as in dSprites.
Images are rendered with 4x4 supersampling (box-filtered), so edges are anti-aliased.
"""

import numpy as np

from vae_keras.datasets._checks import check_choice, check_positive_int, image_size_pair

SHAPE_NAMES = ("square", "ellipse", "triangle", "heart")
COLOR_NAMES = ("red", "green", "blue", "yellow", "magenta", "cyan", "orange", "white")
PALETTE = np.array(
    [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
        [1, 1, 0],
        [1, 0, 1],
        [0, 1, 1],
        [1, 128 / 255, 0],
        [1, 1, 1],
    ],
    np.float32,
)
"""RGB in [0, 1] of each colour in `COLOR_NAMES`, on the 8-bit grid k/255."""
FACTOR_NAMES = ("shape", "color", "scale", "rotation", "x", "y")
FACTOR_DTYPE = np.dtype(
    [
        ("shape", np.int64),
        ("color", np.int64),
        ("scale", np.float32),
        ("rotation", np.float32),
        ("x", np.float32),
        ("y", np.float32),
    ]
)
DEFAULT_NUM_EXAMPLES = {"train": 10_000, "test": 2_000}

_SPLIT_STREAMS = {"train": 0, "test": 1}  # train and test: independent streams of one seed
_RADIUS = 0.24  # of min(height, width) at scale 1: every shape stays inside the image
_SUPERSAMPLE = 4
# Shape outlines in unit coordinates (u right, v up; each about fits the unit disc). Areas
# in radius^2: square 1.85, ellipse 1.57, triangle 1.30, heart 2.34: distinct pixel counts.
_ELLIPSE_MINOR = 0.5
_SQUARE_HALF = 0.68
_HEART_SCALE = 0.8
_HEART_CENTROID = 0.2935  # the area centroid of (u^2 + v^2 - 1)^3 <= u^2 v^3 sits at v = 0.29


def shapes_factors(
    split: str = "train", num_examples: int | None = None, seed: int = 0
) -> np.ndarray:
    """The generating factors of `load("shapes", split, num_examples=..., seed=...)`.

    Args:
        split: `"train"` or `"test"` (independent random streams of `seed`).
        num_examples: how many (default 10,000 for train, 2,000 for test). The first `k`
            factors are the same whatever `num_examples` is.
        seed: generator seed.

    Returns:
        A structured array of shape `(num_examples,)` with fields `FACTOR_NAMES`
        (`factors.dtype.names`): `shape`, `color` (int64 indices into `SHAPE_NAMES`,
        `COLOR_NAMES`), `scale`, `rotation` (degrees), `x`, `y` (float32). Row `i`
        generated image `i`; `render_shapes(factors, size)` draws them again.

    Example:

    >>> f = shapes_factors("test", num_examples=3)
    >>> f.dtype.names
    ('shape', 'color', 'scale', 'rotation', 'x', 'y')
    >>> bool(((f["x"] >= 0.25) & (f["x"] <= 0.75)).all())
    True
    """
    check_choice(split, "split", tuple(_SPLIT_STREAMS))
    if num_examples is None:
        num_examples = DEFAULT_NUM_EXAMPLES[split]
    num_examples = check_positive_int(num_examples, "num_examples")
    rng = np.random.default_rng(np.random.SeedSequence([seed, _SPLIT_STREAMS[split]]))
    u = rng.random((num_examples, len(FACTOR_NAMES)))  # row-major: prefixes are stable
    factors = np.empty(num_examples, FACTOR_DTYPE)
    factors["shape"] = np.minimum((u[:, 0] * len(SHAPE_NAMES)).astype(np.int64), 3)
    factors["color"] = np.minimum((u[:, 1] * len(COLOR_NAMES)).astype(np.int64), 7)
    factors["scale"] = 0.5 + 0.5 * u[:, 2]
    factors["rotation"] = 360.0 * u[:, 3]
    factors["x"] = 0.25 + 0.5 * u[:, 4]
    factors["y"] = 0.25 + 0.5 * u[:, 5]
    return factors


def render_shapes(factors, image_size: int | tuple[int, int] = 32) -> np.ndarray:
    """Draws one image per row of `factors`.

    Args:
        factors: a structured array with the fields of `FACTOR_DTYPE` (e.g. from
            `shapes_factors`, edited), or a dict of equal-length arrays with those keys.
        image_size: `N` or `(height, width)`.

    Returns:
        float32 images of shape `(len(factors), height, width, 3)` in [0, 1], on the
        8-bit grid `k / 255` (anti-aliased edges are rounded to it).

    Example:

    >>> f = np.array([(3, 0, 1.0, 0.0, 0.5, 0.5)], FACTOR_DTYPE)  # a red heart, centred
    >>> image = render_shapes(f, 16)
    >>> image.shape, float(image[0, 8, 8, 0]), float(image[0, 8, 8, 1])
    ((1, 16, 16, 3), 1.0, 0.0)
    """
    height, width = image_size_pair(image_size)
    f = _as_factors(factors)
    out = np.zeros((len(f), height, width, 3), np.float32)
    # Chunks keep the supersampled grids small (~4M samples) whatever the dataset size.
    chunk = max(1, 2**22 // (height * width * _SUPERSAMPLE**2))
    for start in range(0, len(f), chunk):
        part = f[start : start + chunk]
        coverage = np.empty((len(part), height, width), np.float32)
        for shape in range(len(SHAPE_NAMES)):
            idx = np.flatnonzero(part["shape"] == shape)
            if idx.size:
                coverage[idx] = _coverage(part[idx], shape, height, width)
        out[start : start + chunk] = coverage[..., None] * PALETTE[part["color"]][:, None, None]
    # 8-bit like any image file, so 8-bit likelihoods (discretized logistic) apply.
    return np.round(out * 255, out=out) / np.float32(255)


def load_shapes(
    split: str = "train",
    image_size: int | tuple[int, int] = 32,
    *,
    num_examples: int | None = None,
    seed: int = 0,
    hold_out=None,
) -> tuple[np.ndarray, np.ndarray]:
    """`load("shapes", ...)`: images and their shape labels.

    Args:
        split: `"train"` or `"test"`.
        image_size: `N` or `(height, width)`.
        num_examples: default 10,000 (train) or 2,000 (test).
        seed: generator seed; the factors are `shapes_factors(split, num_examples, seed)`.
        hold_out: colour x shape pairs dropped from the `"train"` split, as
            `[("red", "heart"), ...]` or `"red:heart,green:triangle"`: the train set then
            has fewer than `num_examples` images (the others are kept, in order). The
            `"test"` split keeps every pair, so held-out pairs can be scored there.

    Returns:
        `(x, y)`: `x` float32 `(N, H, W, 3)` in [0, 1]; `y` int64 `(N,)`, the shape index
        (`SHAPE_NAMES[y]`). The other factors come from `shapes_factors` (with
        `hold_out`: `drop_pairs(shapes_factors(...), hold_out)`).

    Example:

    >>> x, y = load_shapes("train", 28, num_examples=10)
    >>> x.shape, x.dtype, y[:3].tolist() == shapes_factors("train", 3)["shape"].tolist()
    ((10, 28, 28, 3), dtype('float32'), True)
    """
    factors = shapes_factors(split, num_examples, seed)
    if split == "train" and hold_out is not None:
        factors = drop_pairs(factors, hold_out)
    return render_shapes(factors, image_size), factors["shape"].copy()


def drop_pairs(factors, hold_out):
    """The rows of `factors` whose colour x shape pair is not in `hold_out` (in order)."""
    pairs = held_out_pairs(hold_out)
    return factors[~np.isin(factors["color"] * len(SHAPE_NAMES) + factors["shape"], pairs)]


def held_out_pairs(hold_out) -> np.ndarray:
    """`color * len(SHAPE_NAMES) + shape` of each colour x shape pair of `hold_out`.

    Example:

    >>> held_out_pairs("red:heart, green:square").tolist()
    [3, 4]
    """
    if isinstance(hold_out, str):
        hold_out = [p.split(":") for p in hold_out.split(",") if p.strip()]
    codes = []
    for pair in hold_out:
        pair = tuple(str(w).strip().lower() for w in pair)
        if len(pair) != 2 or pair[0] not in COLOR_NAMES or pair[1] not in SHAPE_NAMES:
            raise ValueError(
                f"`hold_out` pairs must be (colour, shape) with a colour of {COLOR_NAMES} and "
                f"a shape of {SHAPE_NAMES}, e.g. 'red:heart,green:triangle'. Received: {pair!r}"
            )
        codes.append(COLOR_NAMES.index(pair[0]) * len(SHAPE_NAMES) + SHAPE_NAMES.index(pair[1]))
    return np.asarray(codes, np.int64)


def _as_factors(factors):
    if isinstance(factors, np.ndarray) and factors.dtype.names:
        names = factors.dtype.names
    elif isinstance(factors, dict):
        names = tuple(factors)
    else:
        raise ValueError(
            "`factors` must be a structured array or a dict with the fields "
            f"{FACTOR_NAMES} (see `shapes_factors`). Received: {type(factors).__name__}"
        )
    missing = [n for n in FACTOR_NAMES if n not in names]
    if missing:
        raise ValueError(
            f"`factors` lacks the fields {missing}; it needs {FACTOR_NAMES}. "
            f"Received fields: {tuple(names)}"
        )
    columns = [np.atleast_1d(np.asarray(factors[n])) for n in FACTOR_NAMES]
    if len({len(c) for c in columns}) != 1:
        raise ValueError(
            f"`factors` fields differ in length: {[len(c) for c in columns]}. Pass one value "
            "per image for every field."
        )
    out = np.empty(len(columns[0]), FACTOR_DTYPE)
    for name, column in zip(FACTOR_NAMES, columns, strict=True):
        out[name] = column
    for name, names in (("shape", SHAPE_NAMES), ("color", COLOR_NAMES)):
        bad = (out[name] < 0) | (out[name] >= len(names))
        if bad.any():
            raise ValueError(
                f"`factors['{name}']` must be indices in [0, {len(names)}) ({names}). "
                f"Received: {out[name][bad][0]}"
            )
    return out


def _coverage(f, shape, height, width):
    """Fraction of each pixel inside the shape, `(len(f), height, width)`, 4x4 samples.

    Only a window around each shape is sampled (every shape fits a disc of its radius,
    the heart 3% more), about a third of the image at 32x32: the rest stays 0.
    """
    s, n = _SUPERSAMPLE, len(f)
    radius = (_RADIUS * min(height, width) * f["scale"]).astype(np.float32)  # in pixels
    reach = int(np.ceil(1.05 * _RADIUS * min(height, width))) + 1
    win_h, win_w = min(height, 2 * reach), min(width, 2 * reach)
    cx, cy = f["x"] * width, f["y"] * height
    top = np.clip(np.floor(cy).astype(np.int64) - reach, 0, height - win_h)
    left = np.clip(np.floor(cx).astype(np.int64) - reach, 0, width - win_w)
    # Sample points in pixel units relative to the centre; pixel j covers [j, j + 1).
    ys = (np.arange(win_h * s, dtype=np.float32) + 0.5) / s
    xs = (np.arange(win_w * s, dtype=np.float32) + 0.5) / s
    dx = (xs[None, None, :] + (left - cx)[:, None, None]) / radius[:, None, None]
    dy = (ys[None, :, None] + (top - cy)[:, None, None]) / radius[:, None, None]
    theta = np.deg2rad(f["rotation"]).astype(np.float32)[:, None, None]
    cos, sin = np.cos(theta), np.sin(theta)
    # Rotate the sample points by -theta into the shape's frame (v points up on screen).
    u = cos * dx - sin * dy
    v = -(sin * dx + cos * dy)
    if shape == 0:
        inside = (np.abs(u) <= _SQUARE_HALF) & (np.abs(v) <= _SQUARE_HALF)
    elif shape == 1:
        inside = u * u + (v / _ELLIPSE_MINOR) ** 2 <= 1.0
    elif shape == 2:  # equilateral, circumradius 1, a vertex up
        root3 = np.float32(np.sqrt(3.0))
        inside = (v >= -0.5) & (root3 * u + v <= 1.0) & (v - root3 * u <= 1.0)
    else:
        u, v = u / _HEART_SCALE, v / _HEART_SCALE + _HEART_CENTROID
        inside = (u * u + v * v - 1.0) ** 3 <= u * u * v * v * v
    window = inside.reshape(n, win_h, s, win_w, s).mean(axis=(2, 4), dtype=np.float32)
    coverage = np.zeros((n, height, width), np.float32)
    rows = top[:, None, None] + np.arange(win_h)[None, :, None]
    cols = left[:, None, None] + np.arange(win_w)[None, None, :]
    coverage[np.arange(n)[:, None, None], rows, cols] = window
    return coverage
