"""The latent explorer: drag through a model's latent space in the browser.

    vae-keras explore --model runs/RUN/model.keras
    vae-keras explore --preset mnist_vae_2

or from Python, `vae_keras.explorer.serve(model)`. A local web page (served
by the standard library, nothing from the internet) shows one slider per
latent dimension, a 2-D pad for two chosen dimensions through the inverse
Gaussian CDF (as the manifold figure), random draws from the prior, test
images to encode and interpolate between, and a class selector for
conditional models; the decoded image follows the pointer.
"""

import webbrowser

from vae_keras.explorer.app import ExplorerApp, ExplorerServer, PortInUseError
from vae_keras.explorer.decoding import LatentDecoder


def serve(
    model,
    host: str = "127.0.0.1",
    port: int | None = None,
    images=None,
    labels=None,
    num_images: int = 16,
    open_browser: bool = False,
    block: bool = True,
) -> ExplorerServer:
    """Serves the latent explorer for `model`; prints its URL.

    Args:
        model: A model with `decode(z)` and `latent_dim`: `VAE`, `AE`,
            `ConditionalVAE` (`decode(z, labels)`), ...
        host: Address to listen on. The default keeps the page on this machine.
        port: Port to listen on; `None` picks a free one.
        images: Optional test images `(N, *input_shape)` in [0, 1] to encode
            and interpolate between (a few are shown, spread over `labels`).
        labels: Their class ids (needed for a `ConditionalVAE`).
        num_images: How many test images the page offers.
        open_browser: Open the page in the default web browser.
        block: Serve until Ctrl-C (then return the closed server). With
            `block=False` the server runs in a background thread and is
            returned at once: `server.url`, `server.close()` (notebooks, tests).

    Returns:
        The `ExplorerServer` (`url`, `app`, `close()`).

    Example:

    >>> from vae_keras import VAE, networks
    >>> vae = VAE(networks.dense_encoder((4, 4, 1), 2, hidden_units=(8,)),
    ...           networks.dense_decoder(2, (4, 4, 1), hidden_units=(8,)))
    >>> server = serve(vae, block=False)  # doctest: +ELLIPSIS
    Latent explorer for VAE (latent 2) at http://127.0.0.1:...
    >>> server.close()
    """
    server = ExplorerServer(
        ExplorerApp(model, images=images, labels=labels, num_images=num_images), host, port
    )
    print(
        f"Latent explorer for {type(model).__name__} ({server.app.describe()}) "
        f"at {server.url}" + (" (Ctrl-C to stop)" if block else ""),
        flush=True,
    )
    if open_browser:
        webbrowser.open(server.url)
    if not block:
        return server.start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("Latent explorer stopped.", flush=True)
    finally:
        server.server_close()
    return server


__all__ = ["ExplorerApp", "ExplorerServer", "LatentDecoder", "PortInUseError", "serve"]
