"""SavedModel endpoints of a `VQVAE2` (its `serving_functions()`, which
`export.export_saved_model` writes): `_vq_export.py`'s, with two index grids.

| endpoint              | inputs                                   | returns                              |
|-----------------------|------------------------------------------|--------------------------------------|
| `encode(x)`           | float32 `(batch, *input_shape)`          | `{"top": int32 (batch, h_top, w_top), "bottom": int32 (batch, h, w)}` |
| `decode(top, bottom)` | the two int32 index grids                | float32 data space, shaped like `x`  |
| `reconstruct(x)`      | as `encode`                              | `decode(*encode(x))`                 |
| `serve(x)`            | as `encode`; the default signature       | `reconstruct(x)`                     |
| `sample(num_samples)` | int32 scalar                             | float32 `(n, *input_shape)`          |

`sample` draws the top grid from the top prior, then the bottom grid from the bottom
prior given it, each position by position inside the graph (TensorFlow backend only,
as for `VQVAE`). A row with any index outside its codebook decodes to NaN.
"""

import keras
from keras import ops

from vae_keras.models._serving import ServingFunctions
from vae_keras.models._vq_export import (
    checked_indices,
    draw_grid,
    index_serving,
    nan_rows,
    seed_and_counter,
)


def _sample_function(model, decode_fn):
    """`sample(num_samples)` in TensorFlow: both priors' loops, top first, unrolled."""
    import tensorflow as tf

    seed, counter = seed_and_counter(model)
    top_positions = model.top_grid_shape[0] * model.top_grid_shape[1]

    @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name="num_samples")], autograph=False)
    def sample(num_samples):
        tf.debugging.assert_positive(num_samples, message="num_samples must be >= 1")
        step = counter.assign_add(1)
        top = draw_grid(model.top_prior, model.top_grid_shape, num_samples, None, seed, step)
        bottom = draw_grid(
            model.bottom_prior,
            model.bottom_grid_shape,
            num_samples,
            top,
            seed,
            step,
            offset=top_positions,
        )
        return decode_fn(top, bottom)

    sample.get_concrete_function()
    return sample


def vq2_serving(model) -> ServingFunctions:
    """The VQVAE2's endpoints: two index grids in and out (`sample` on TensorFlow only)."""
    k_top, k_bottom = model.num_embeddings

    def encode(x):
        top, bottom = model._indices_tensors(x)
        return {"top": top, "bottom": bottom}

    def decode(top, bottom):
        top, top_valid = checked_indices(top, k_top)
        bottom, bottom_valid = checked_indices(bottom, k_bottom)
        images = model._decode_indices_tensors(top, bottom)
        return nan_rows(images, ops.logical_and(top_valid, bottom_valid))

    def reconstruct(x):
        return model._decode_indices_tensors(*model._indices_tensors(x))

    top_spec = keras.InputSpec(shape=(None, *model.top_grid_shape), dtype="int32")
    bottom_spec = keras.InputSpec(shape=(None, *model.bottom_grid_shape), dtype="int32")
    return index_serving(
        model, (encode, decode, reconstruct), [top_spec, bottom_spec], _sample_function
    )
