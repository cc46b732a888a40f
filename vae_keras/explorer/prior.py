"""The explorer's view of a model's prior over its latent vector: what the page's
pad maps through (per-dimension quantile tables) and where "random" draws come from.

The page turns a pad position `u` in [0, 1] into the prior quantile
`p = LOW + u * (HIGH - LOW)` and that into a code value through the marginal of
the dimension: its own inverse Gaussian CDF where the marginal is N(0, 1) (so a
standard normal prior gives the very numbers it always gave), else the table
sent here, `model.prior_quantiles(PROBABILITIES, dim)`, linearly interpolated.
Draws are `model.prior_codes(eps)` (N(0, I): `eps` itself).
"""

import threading

import numpy as np

from vae_keras.models.capabilities import prior_codes, prior_quantiles

# The pad's quantile range, as `plotting.manifold_grid`, and the table's probabilities:
# steps of 0.01, so linear interpolation between them is far finer than a pad pixel.
PAD_QUANTILES = (0.05, 0.95)
PROBABILITIES = np.round(np.linspace(*PAD_QUANTILES, 91), 6)
# The most draws one request may ask for.
MAX_DRAWS = 1024


def _check_count(value, name, high):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise ValueError(f"`{name}` must be a whole number in [1, {high}]. Received: {value!r}.")
    return value


class PriorView:
    """Quantile tables (computed per dimension when first asked, then kept) and draws.

    Args:
        model: The explored model: a model of the package (its `prior_quantiles`,
            `prior_codes`), or any object with `decode` and `latent_dim` (N(0, I)).
        latent_dim: Its code size.

    Example:

    >>> from vae_keras import VAE, networks
    >>> vae = VAE(networks.dense_encoder((4, 4, 1), 2, hidden_units=(8,)),
    ...           networks.dense_decoder(2, (4, 4, 1), hidden_units=(8,)))
    >>> table = PriorView(vae, 2).table([1])
    >>> table["standard_normal"], round(table["quantiles"][0][0], 4)
    ([True], -1.6449)
    """

    def __init__(self, model, latent_dim: int):
        self.model = model
        self.latent_dim = int(latent_dim)
        self._tables = {}
        self._medians = None
        self._lock = threading.Lock()  # the server is threaded; a table is computed once

    def _dims(self, dims):
        if not isinstance(dims, (list, tuple)) or not dims:
            raise ValueError(f"`dims` must be a list of dimensions. Received: {dims!r}.")
        for d in dims:
            if isinstance(d, bool) or not isinstance(d, int) or not 0 <= d < self.latent_dim:
                raise ValueError(
                    f"Latent dimensions must be whole numbers in [0, {self.latent_dim - 1}]. "
                    f"Received: {d!r}."
                )
        return list(dims)

    def _table(self, dim):
        with self._lock:
            if dim not in self._tables:
                values = np.asarray(prior_quantiles(self.model, PROBABILITIES, dim), "float64")
                self._tables[dim] = values.reshape(len(PROBABILITIES))
            return self._tables[dim]

    def table(self, dims) -> dict:
        """`{"dims", "probabilities", "quantiles", "standard_normal"}` (JSON-ready): each
        dimension's quantiles at `PROBABILITIES`, and whether they are N(0, 1)'s."""
        from scipy.stats import norm

        dims = self._dims(dims)
        tables = [self._table(d) for d in dims]
        gaussian = norm.ppf(PROBABILITIES)
        return {
            "dims": dims,
            "probabilities": PROBABILITIES.tolist(),
            "quantiles": [np.round(t, 6).tolist() for t in tables],
            "standard_normal": [bool(np.abs(t - gaussian).max() < 1e-6) for t in tables],
        }

    def medians(self) -> list:
        """The prior's median along every dimension (0 for N(0, I)): the page's start."""
        with self._lock:
            if self._medians is None:
                self._medians = [
                    round(float(prior_quantiles(self.model, 0.5, d)), 6)
                    for d in range(self.latent_dim)
                ]
            return list(self._medians)

    def draw(self, num_samples: int, seed: int) -> np.ndarray:
        """`num_samples` codes from the prior, `(n, latent_dim)` float32, for `seed`."""
        num_samples = _check_count(num_samples, "n", MAX_DRAWS)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
            raise ValueError(f"`seed` must be a whole number in [0, 2^31). Received: {seed!r}.")
        eps = np.random.default_rng(seed).standard_normal((num_samples, self.latent_dim))
        z = prior_codes(self.model, eps.astype("float32"), seed)
        return np.asarray(z, "float32").reshape(num_samples, self.latent_dim)
