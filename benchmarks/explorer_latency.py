"""Update latency of the latent explorer, beside the bare `model.decode` call, in one run.

    python benchmarks/explorer_latency.py --preset mnist_conv_z16 --browser
    python benchmarks/explorer_latency.py --model runs/RUN/model.keras
    python benchmarks/explorer_latency.py --latent-dim 16 --browser   # untrained default net

A slider move is one code: dimension 1 stepping through [-3, 3] (200 moves by
default). Rows, each the median and 95th percentile over the moves:
- `model.decode(z)`: the package's NumPy-in/NumPy-out call, eager (the reference);
- explorer decoder: `LatentDecoder.decode`, the server's model time (compiled once,
  warmed, 8-bit conversion included);
- HTTP: `POST /api/decode` through the standard library server on 127.0.0.1, one
  keep-alive connection, timed from sending the request to the last byte received;
- browser (`--browser`, needs Chromium, chromedriver, selenium): headless Chromium
  on the page itself, timed inside the page from setting a slider's value and its
  `input` event to the new image drawn on the canvas (`performance.now()`), one move
  after another.
Optional rows, each an A/B against a row above in the same run:
- `--thread`: `model.decode(z)` timed in a second thread of the same process (on
  PyTorch the main thread's intra-op pool stalls on a busy CPU; the server decodes
  in its worker threads);
- `--nagle`: the HTTP row again from a second server whose handler leaves Nagle's
  algorithm on (`disable_nagle_algorithm = False`, no `TCP_NODELAY`): each keep-alive
  answer then waits on a delayed ACK.
Latency does not depend on the weights, so an untrained model of the right
architecture measures the same as a trained one.

    KERAS_BACKEND=torch python benchmarks/explorer_latency.py --preset mnist_conv_z16 --thread
    python benchmarks/explorer_latency.py --moves 20 --nagle
"""

import argparse
import http.client
import json
import os
import platform
import shutil
import statistics
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from vae_keras import VAE, explorer, networks, runs
from vae_keras.explorer.decoding import LatentDecoder


def slider_codes(latent_dim, moves):
    z = np.zeros((moves, latent_dim), "float32")
    z[:, min(1, latent_dim - 1)] = np.linspace(-3, 3, moves)
    return z


def timed(fn, codes, warmup=5):
    for z in codes[:warmup]:
        fn(z)
    times = []
    for z in codes:
        start = time.perf_counter()
        fn(z)
        times.append(time.perf_counter() - start)
    return np.array(times) * 1e3


def http_times(url, codes):
    host, port = url.split("//")[1].strip("/").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)

    def move(z):
        body = json.dumps({"z": [z.tolist()]})
        connection.request("POST", "/api/decode", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200, response.read()
        response.read()

    try:
        return timed(move, codes)
    finally:
        connection.close()


BROWSER_SCRIPT = """
const [moves, done] = [arguments[0], arguments[arguments.length - 1]];
const s = window.explorer, slider = document.getElementById('z1') || document.getElementById('z0');
const drawn = () => new Promise((ok) => window.addEventListener('explorer-update', ok, {once: true}));
const times = [];
(async () => {
  while (s.busy()) await drawn();
  for (let k = 0; k < moves; k++) {
    const shown = drawn(), start = performance.now();
    slider.value = -3 + 6 * k / Math.max(1, moves - 1);
    slider.dispatchEvent(new Event('input'));
    await shown;
    times.push(performance.now() - start);
  }
  done(times);
})();
"""


def browser_times(url, moves):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("google-chrome")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        driver.set_script_timeout(300)
        driver.get(url)
        deadline = time.time() + 60
        while not driver.execute_script("return !!(window.explorer && window.explorer.updates)"):
            if time.time() > deadline:
                raise RuntimeError("the page showed no image within 60 s")
            time.sleep(0.05)
        driver.execute_async_script(BROWSER_SCRIPT, 5)  # warm-up
        return np.array(driver.execute_async_script(BROWSER_SCRIPT, moves))
    finally:
        driver.quit()


def in_thread(fn, *args):
    """`fn(*args)` run in a second thread of this process; returns its result."""
    result = []
    worker = threading.Thread(target=lambda: result.append(fn(*args)))
    worker.start()
    worker.join()
    return result[0]


def nagle_server(model):
    """An explorer server like `explorer.serve`'s, but with Nagle's algorithm left on."""
    from vae_keras.explorer.app import ExplorerApp, ExplorerServer

    server = ExplorerServer(ExplorerApp(model))

    class NagleHandler(server.RequestHandlerClass):
        disable_nagle_algorithm = False  # no TCP_NODELAY on the answers' sockets

    server.RequestHandlerClass = NagleHandler
    return server.start()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="a model.keras (default: an untrained conv VAE)")
    parser.add_argument("--preset", help="a shipped preset instead (vae_keras.presets)")
    parser.add_argument("--latent-dim", type=int, default=16, help="of the default model")
    parser.add_argument("--moves", type=int, default=200)
    parser.add_argument("--browser", action="store_true", help="also time headless Chromium")
    parser.add_argument(
        "--thread", action="store_true", help="also time model.decode in a second thread"
    )
    parser.add_argument(
        "--nagle",
        action="store_true",
        help="also time HTTP from a server with Nagle's algorithm on (no TCP_NODELAY)",
    )
    args = parser.parse_args()

    if args.preset:
        from vae_keras import presets

        model = presets.load(args.preset)
    elif args.model:
        model = runs.load_model(args.model)
    else:
        model = VAE(
            networks.conv_encoder((28, 28, 1), args.latent_dim),
            networks.conv_decoder(args.latent_dim, (28, 28, 1)),
            seed=0,
        )
    codes = slider_codes(model.latent_dim, args.moves)
    decoder = LatentDecoder(model)
    rows = [
        ("`model.decode(z)` (reference, eager)", timed(lambda z: model.decode(z[None]), codes)),
        ("explorer decoder (compiled, 8-bit)", timed(lambda z: decoder.decode(z[None]), codes)),
    ]
    if args.thread:
        rows.append(
            (
                "`model.decode(z)` in a second thread",
                in_thread(timed, lambda z: model.decode(z[None]), codes),
            )
        )
    server = explorer.serve(model, block=False)
    try:
        rows.append(("HTTP `POST /api/decode` (keep-alive)", http_times(server.url, codes)))
        if args.browser:
            rows.append(
                ("browser: slider input -> image drawn", browser_times(server.url, args.moves))
            )
    finally:
        server.close()
    if args.nagle:
        server = nagle_server(model)
        try:
            rows.append(
                ("HTTP, Nagle's algorithm on (no TCP_NODELAY)", http_times(server.url, codes))
            )
        finally:
            server.close()

    print(
        f"\n{type(model).__name__} latent {model.latent_dim}, image "
        f"{'x'.join(map(str, decoder.image_shape))}; backend {keras.backend.backend()}; "
        f"{args.moves} slider moves; {os.cpu_count()} CPUs, "
        f"{platform.processor() or platform.machine()}, load average "
        f"{os.getloadavg()[0]:.1f} at the end\n"
    )
    print("| path | median (ms) | p95 (ms) | max (ms) |")
    print("|---|---:|---:|---:|")
    for name, ms in rows:
        print(
            f"| {name} | {statistics.median(ms):.2f} | {np.percentile(ms, 95):.2f} | "
            f"{ms.max():.2f} |"
        )


if __name__ == "__main__":
    main()
