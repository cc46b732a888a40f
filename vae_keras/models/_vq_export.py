"""SavedModel endpoints of a `VQVAE` (its `serving_functions()`, which
`export.export_saved_model` writes).

| endpoint              | inputs                                   | returns                         |
|-----------------------|------------------------------------------|---------------------------------|
| `encode(x)`           | float32 `(batch, *input_shape)`          | int32 code indices `(batch, h, w)` |
| `decode(indices)`     | int32 `(batch, h, w)`                    | float32 data space, shaped like `x` |
| `reconstruct(x)`      | as `encode`                              | `decode(encode(x))`             |
| `serve(x)`            | as `encode`; the default signature       | `reconstruct(x)`                |
| `sample(num_samples)` | int32 scalar (and int32 `labels` when the prior is class-conditional) | float32 `(n, *input_shape)` |

`sample` runs the prior's position-by-position loop inside the graph (unrolled:
`h * w` PixelCNN calls on the whole grid, the causal masks make the positions
not yet drawn irrelevant) with stateless TF draws keyed by the model's seed
and a saved counter, so every call gives fresh samples. It is exported from
the TensorFlow backend only: on JAX the loop would have to pass through
`jax2tf` with a count-dependent shape, so a JAX export has the other four
endpoints (load the `.keras` file under TensorFlow to export `sample`).
Indices outside `[0, K)` given to `decode` come out as NaN rows.
"""

import random

import keras
from keras import ops

from vae_keras.models._serving import ServingFunctions


def checked_indices(indices, num_embeddings):
    """`(indices clipped into [0, K), per-row validity)` of an index grid batch."""
    indices = ops.cast(indices, "int32")
    valid = ops.all(ops.logical_and(indices >= 0, indices < num_embeddings), axis=(1, 2))
    return ops.clip(indices, 0, num_embeddings - 1), valid


def nan_rows(images, valid):
    """NaN rows where `valid` is False (not a silent decode of clipped indices)."""
    valid = ops.reshape(valid, (-1,) + (1,) * (len(images.shape) - 1))
    return ops.where(valid, images, ops.full_like(images, float("nan")))


def _core(model):
    def encode(x):
        return model._indices_tensors(x)

    def decode(indices):
        safe, valid = checked_indices(indices, model.num_embeddings)
        return nan_rows(model._decode_indices_tensors(safe), valid)

    def reconstruct(x):
        return model._decode_indices_tensors(model._indices_tensors(x))

    return encode, decode, reconstruct


def draw_grid(prior, grid_shape, num_samples, condition, seed, step, offset=0):
    """Index grids `(num_samples, h, w)` drawn from any grid prior, position by position
    (TensorFlow; unrolled). Its call gives every position's logits given the codes
    before; `condition` (labels or a top grid) is passed beside the grid when not None.
    Each position's draw has its own key, `draw_key(seed, step, offset + position)`."""
    import tensorflow as tf

    height, width = grid_shape
    flat = tf.zeros(tf.stack([num_samples, height * width]), tf.int32)
    for position in range(height * width):
        grid = tf.reshape(flat, (-1, height, width))
        logits = tf.cast(prior(grid if condition is None else (grid, condition)), tf.float32)
        row, col = divmod(position, width)
        key = draw_key(seed, step, offset + position)
        code = tf.random.stateless_categorical(logits[:, row, col], 1, key, dtype=tf.int32)
        flat = flat + code * tf.one_hot(position, height * width, dtype=tf.int32)[None]
    return tf.reshape(flat, (-1, height, width))


def draw_key(seed, step, position):
    """The stateless key of the draw at `position` in the `step`-th call of `sample`:
    `(seed, step)` folded with the position, so no two (step, position) pairs share a key
    however large the grids (a packed `step * 4096 + position` repeated past 4,096)."""
    import tensorflow as tf

    call = tf.stack([tf.constant(seed, tf.int64), tf.cast(step, tf.int64)])
    return tf.random.experimental.stateless_fold_in(call, position)


def seed_and_counter(model):
    """The exported sampler's seed (the model's, else a random one) and its saved call
    counter, which makes every call of `sample` draw afresh."""
    import tensorflow as tf

    seed = model.seed if model.seed is not None else random.randrange(2**31)
    return seed, tf.Variable(0, dtype=tf.int64, trainable=False, name="sample_counter")


def _sample_function(model, decode_fn):
    """`sample(num_samples[, labels])` in TensorFlow: the prior's loop, unrolled."""
    import tensorflow as tf

    seed, counter = seed_and_counter(model)

    def draw(num_samples, labels):
        tf.debugging.assert_positive(num_samples, message="num_samples must be >= 1")
        step = counter.assign_add(1)
        return draw_grid(model.prior, model.grid_shape, num_samples, labels, seed, step)

    count = tf.TensorSpec([], tf.int32, name="num_samples")
    if model.prior_classes is None:

        @tf.function(input_signature=[count], autograph=False)
        def sample(num_samples):
            return decode_fn(draw(num_samples, None))

    else:
        labels_spec = tf.TensorSpec([None], tf.int32, name="labels")

        @tf.function(input_signature=[count, labels_spec], autograph=False)
        def sample(num_samples, labels):
            return decode_fn(draw(num_samples, tf.broadcast_to(labels, [num_samples])))

    sample.get_concrete_function()
    return sample


def index_serving(model, functions, index_specs, sample_function) -> ServingFunctions:
    """The endpoints of a model whose codes are index grids: `functions` is `(encode, decode,
    reconstruct)`, `decode` reads `index_specs`; `sample` (TensorFlow only) is
    `sample_function(model, decode_fn)`."""
    encode, decode, reconstruct = functions
    x_spec = keras.InputSpec(shape=(None, *model.input_shape_), dtype="float32")
    endpoints = {
        "serve": (reconstruct, [x_spec]),
        "encode": (encode, [x_spec]),
        "decode": (decode, list(index_specs)),
        "reconstruct": (reconstruct, [x_spec]),
    }
    sample = None
    if keras.backend.backend() == "tensorflow":

        def sample(decode_fn):
            return sample_function(model, decode_fn)

    return ServingFunctions(endpoints, sample)


def vq_serving(model) -> ServingFunctions:
    """The VQVAE's endpoints: code indices in and out (`sample` on TensorFlow only)."""
    i_spec = keras.InputSpec(shape=(None, *model.grid_shape), dtype="int32")
    return index_serving(model, _core(model), [i_spec], _sample_function)
