"""The explorer's HTTP side: routes answered by a plain object, served by the
standard library's `ThreadingHTTPServer` (no framework, nothing from the
internet: the page inlines its script and style).

Routes (`mode` in /api/info says which a model gets):
    GET  /               the page (`static/index.html`, package data)
    GET  /api/info       the model: mode, latent size, classes, image shape, backend
  "latent" (flat codes: sliders, pad):
    GET  /api/examples   the test images (8-bit, base64), labels, codes (z_mean)
    POST /api/decode     `{"z": [[...], ...], "label": k}` -> raw 8-bit pixels
                         `(N, H, W, C)`, shape in the `X-Shape` header
    GET  /api/prior?dims=0,1   the prior's quantile tables of those dimensions
    POST /api/prior/sample     `{"n": k, "seed": s}` -> `{"z": ...}` drawn from the prior
  "codes" (discrete codes, VQ-VAE: the prompt box):
    POST /api/sample     `{"n", "seed", "caption" | "label", "temperature"}` ->
                         samples (8-bit, base64) and the codebook use of their grids
"""

import base64
import errno
import http.server
import json
import socket
import threading
import time
import urllib.parse
from importlib import resources

import numpy as np

from vae_keras.explorer.codes import CodeSampler, check_samplable
from vae_keras.explorer.decoding import LatentDecoder, pick_examples, require_sliders, to_uint8
from vae_keras.explorer.prior import PAD_QUANTILES, PriorView
from vae_keras.models.capabilities import capabilities

MAX_BODY = 2**20  # bytes of one request body (1024 codes of 64 numbers fit easily)


class PortInUseError(RuntimeError):
    """The explorer's port is taken by another program."""


def check_explorable(model, purpose: str = "The explorer"):
    """`capabilities(model)` when the explorer can show it, else the one-line error: flat
    codes (the sliders and pad), or discrete codes with one fitted grid prior (the
    prompt mode)."""
    declared = capabilities(model)
    if declared.discrete_codes:
        check_samplable(model, purpose)
        return declared
    return require_sliders(model, purpose)


def _page() -> bytes:
    return (resources.files("vae_keras.explorer") / "static" / "index.html").read_bytes()


class ExplorerApp:
    """The explorer's routes as a plain object: `handle(method, path, body)`.

    Testable without a socket; `serve` puts it behind an HTTP server.

    Args:
        model: A model with `decode(z)` and `latent_dim` (see `LatentDecoder`).
        images: Optional test images `(N, *input_shape)` in [0, 1] for
            "encode a test image" and interpolation (needs `model.encode`).
        labels: Optional class ids of `images` (required for conditional
            models, whose encoder reads the label).
        num_images: How many of `images` the page shows (spread over classes).

    Example:

    >>> from vae_keras import VAE, networks
    >>> vae = VAE(networks.dense_encoder((4, 4, 1), 2, hidden_units=(8,)),
    ...           networks.dense_decoder(2, (4, 4, 1), hidden_units=(8,)))
    >>> app = ExplorerApp(vae)
    >>> status, headers, body = app.handle("POST", "/api/decode", b'{"z": [[0, 1]]}')
    >>> status, headers["X-Shape"], len(body)
    (200, '1,4,4,1', 16)
    """

    def __init__(self, model, images=None, labels=None, num_images: int = 16):
        self.decoder = self.prior = self.sampler = None
        self.examples = None
        self.decode_times = []  # model seconds per /api/decode, for the benchmark
        if check_explorable(model).discrete_codes:  # the prompt mode
            self.sampler = CodeSampler(model, images)
            self.routes = {("POST", "/api/sample"): self._sample}
            return
        self.decoder = LatentDecoder(model)
        self.prior = PriorView(model, self.decoder.latent_dim)
        self.routes = {
            ("GET", "/api/examples"): lambda query, body: _json(
                200, self.examples or {"shape": [0], "labels": None, "z": []}
            ),
            ("POST", "/api/decode"): lambda query, body: self._decode(body),
            ("GET", "/api/prior"): self._prior_table,
            ("POST", "/api/prior/sample"): self._prior_sample,
        }
        if images is not None and self.decoder.can_encode:
            if self.decoder.num_classes is not None and labels is None:
                raise ValueError(
                    f"A conditional model ({type(model).__name__}) encodes images with their "
                    "labels: pass `labels` with `images`."
                )
            x, y = pick_examples(images, labels, num_images)
            if len(x):
                codes = self.decoder.encode(np.asarray(x, "float32"), y)
                self.examples = {
                    "shape": list(to_uint8(x).shape),
                    "pixels": base64.b64encode(to_uint8(x).tobytes()).decode("ascii"),
                    "labels": None if y is None else [int(v) for v in y],
                    "z": np.round(codes, 5).tolist(),
                }

    def describe(self) -> str:
        """What the explorer shows, in a few words (the line `serve` prints)."""
        if self.sampler is not None:
            info = self.sampler.info()
            h, w = info["grid_shape"]
            words = ", captions" if info["takes_captions"] else ""
            return f"codes {h}x{w} of {info['num_embeddings']}{words}"
        return f"latent {self.decoder.latent_dim}"

    def info(self) -> dict:
        """`/api/info`: the page lays itself out from it."""
        if self.sampler is not None:
            return self.sampler.info()
        return {
            **self.decoder.info(),
            "mode": "latent",
            "num_examples": self._num_examples(),
            "prior": {
                "center": self.prior.medians(),
                "pad_quantiles": [float(PAD_QUANTILES[0]), float(PAD_QUANTILES[1])],
            },
        }

    def handle(self, method: str, path: str, body: bytes = b""):
        """Answers one request: returns `(status, headers, body bytes)`."""
        route, _, query = path.partition("?")
        try:
            if method == "GET" and route in ("/", "/index.html"):
                return 200, {"Content-Type": "text/html; charset=utf-8"}, _page()
            if method == "GET" and route == "/api/info":
                return _json(200, self.info())
            if (method, route) in self.routes:
                return self.routes[method, route](urllib.parse.parse_qs(query), body)
            if route == "/favicon.ico":
                return 204, {}, b""
            return _json(404, {"error": f"No route {method} {route}."})
        except ValueError as error:
            return _json(400, {"error": str(error)})

    def _prior_table(self, query, body):
        text = (query.get("dims") or [""])[0]
        try:
            dims = [int(d) for d in text.split(",")]
        except ValueError:
            raise ValueError(
                f"`dims` must be dimensions like ?dims=0,1. Received: {text!r}."
            ) from None
        return _json(200, self.prior.table(dims))

    def _prior_sample(self, query, body):
        request = _request(body, '{"n": k, "seed": s}')
        z = self.prior.draw(request.get("n", 1), request.get("seed", 0))
        return _json(200, {"z": np.round(z.astype("float64"), 5).tolist()})

    def _sample(self, query, body):
        request = _request(body, '{"n": k, "seed": s, "caption": "text"}')
        start = time.perf_counter()
        answer = self.sampler.sample(request)
        return _json(200, {**answer, "ms": round((time.perf_counter() - start) * 1e3, 2)})

    def _num_examples(self):
        return 0 if self.examples is None else self.examples["shape"][0]

    def _decode(self, body):
        request = _request(body, '{"z": [[...], ...], "label": k}')
        if "z" not in request:
            raise ValueError('The body must be {"z": [[...], ...], "label": k}.')
        try:
            z = np.asarray(request["z"], "float32")
        except (TypeError, ValueError):
            raise ValueError("`z` must be a list of lists of numbers.") from None
        start = time.perf_counter()
        pixels = self.decoder.decode(z if z.ndim == 2 else z[None], request.get("label"))
        seconds = time.perf_counter() - start
        self.decode_times.append(seconds)
        headers = {
            "Content-Type": "application/octet-stream",
            "X-Shape": ",".join(map(str, pixels.shape)),
            "X-Decode-Ms": f"{seconds * 1e3:.2f}",
        }
        return 200, headers, pixels.tobytes()


def _request(body, form):
    """The JSON object of a request body, or the one-line error naming the form."""
    try:
        request = json.loads(body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"The body must be JSON. Received: {error}") from None
    if not isinstance(request, dict):
        raise ValueError(f"The body must be {form}.")
    return request


def _json(status, data):
    return status, {"Content-Type": "application/json"}, json.dumps(data).encode()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection for a whole drag
    disable_nagle_algorithm = True  # else headers and body wait on delayed ACKs (~40 ms)

    def do_GET(self):
        self._answer("GET", b"")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(413, {"Content-Type": "text/plain"}, b"Request body too large.")
            self.close_connection = True
            return
        self._answer("POST", self.rfile.read(length))

    def _answer(self, method, body):
        self._send(*self.server.app.handle(method, self.path, body))

    def _send(self, status, headers, body):
        try:
            self.send_response(status)
            for key, value in {**headers, "Cache-Control": "no-store"}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the page went away mid-answer
            self.close_connection = True

    def log_message(self, format, *args):  # quiet: one line per drag step is noise
        pass


class ExplorerServer(http.server.ThreadingHTTPServer):
    """A `ThreadingHTTPServer` answering with an `ExplorerApp`; `url` says where.

    `start()` serves from a daemon thread (returns at once); `close()` stops it.
    """

    daemon_threads = True

    def __init__(self, app: ExplorerApp, host: str = "127.0.0.1", port: int | None = None):
        self.app = app
        try:
            super().__init__((host, 0 if port is None else int(port)), _Handler)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUseError(
                    f"Port {port} on {host} is already in use (another explorer or server?). "
                    "Pass another --port, or leave it out for a free one."
                ) from None
            if error.errno == errno.EACCES:
                raise PortInUseError(
                    f"Port {port} on {host} needs administrator rights (ports below 1024). "
                    "Pass a --port above 1023, or leave it out for a free one."
                ) from None
            if isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL:
                raise ValueError(
                    f"Cannot listen on host {host!r} ({error.strerror}). Pass an address of "
                    "this machine, e.g. 127.0.0.1."
                ) from None
            raise
        self._thread = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> "ExplorerServer":
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def close(self):
        if self._thread is not None:
            self.shutdown()
            self._thread.join()
            self._thread = None
        self.server_close()
