"""`VQVAE2`'s code grids: validating `(top, bottom)` index grids and counting codes
(a mixin: it reads `top_grid_shape`, `bottom_grid_shape`, `num_embeddings` and
`encode_indices`)."""

import numpy as np

LEVELS = ("top", "bottom")


class TwoLevelCodes:
    """Index checks and codebook statistics of the two levels."""

    def check_indices(self, top, bottom):
        """Validates a batch of `(top, bottom)` code grids; returns them as int32 NumPy."""
        checked = []
        grids = (self.top_grid_shape, self.bottom_grid_shape)
        for level, array, grid, k in zip(
            LEVELS, (top, bottom), grids, self.num_embeddings, strict=True
        ):
            array = np.asarray(array)
            if array.ndim != 3 or array.shape[1:] != tuple(grid):
                raise ValueError(
                    f"`{level}` must be code grids shaped (n, {grid[0]}, {grid[1]}), as "
                    f"`encode_indices` returns. Received shape {array.shape}."
                )
            if not np.issubdtype(array.dtype, np.integer):
                raise ValueError(
                    f"`{level}` must hold integer code indices. Received dtype {array.dtype}; "
                    "pass `encode_indices(x)` or cast with `.astype('int32')`."
                )
            if array.size and (array.min() < 0 or array.max() >= k):
                raise ValueError(
                    f"`{level}` must lie in [0, {k}) (its codebook size). Received values "
                    f"from {array.min()} to {array.max()}."
                )
            checked.append(array.astype("int32"))
        if len(checked[0]) != len(checked[1]):
            raise ValueError(
                f"`top` has {len(checked[0])} grids but `bottom` has {len(checked[1])}; "
                "pass one of each per example."
            )
        return tuple(checked)

    # The names of the grids `encode_indices` returns, in its order.
    code_levels = LEVELS

    def code_counts(self, x, level: str = "bottom", batch_size: int = 256) -> np.ndarray:
        """How often each entry of `level`'s codebook encodes a position of `x`: `(K,)`."""
        if level not in LEVELS:
            raise ValueError(f"`level` must be one of {LEVELS}. Received: level={level!r}")
        indices = self.encode_indices(x, batch_size)[LEVELS.index(level)]
        return np.bincount(indices.ravel(), minlength=self.num_embeddings[LEVELS.index(level)])

    def codebook_statistics(self, x, batch_size: int = 256) -> dict:
        """`{level: {"perplexity", "usage", "counts"}}` over the whole of `x`."""
        statistics = {}
        for level in LEVELS:
            counts = self.code_counts(x, level, batch_size)
            p = counts[counts > 0] / max(counts.sum(), 1)
            statistics[level] = {
                "perplexity": float(np.exp(-(p * np.log(p)).sum())),
                "usage": float((counts > 0).mean()),
                "counts": counts,
            }
        return statistics
