"""The latent explorer without a browser: decoding, routes, server, command line."""

import json
import socket
import urllib.error
import urllib.request

import numpy as np
import pytest

from vae_keras import VAE, ConditionalVAE, cli, explorer, networks
from vae_keras.explorer import command
from vae_keras.explorer.decoding import LatentDecoder, pick_examples, to_uint8
from vae_keras.models import conditional_decoder, conditional_encoder

SHAPE = (8, 8, 1)


def expected_pixels(images):
    return np.round(np.clip(images, 0, 1) * 255).astype("int64")


@pytest.fixture(scope="module")
def vae():
    return VAE(
        networks.dense_encoder(SHAPE, 3, hidden_units=(16,)),
        networks.dense_decoder(3, SHAPE, hidden_units=(16,)),
        seed=0,
    )


@pytest.fixture(scope="module")
def cvae():
    return ConditionalVAE(
        conditional_encoder(SHAPE, 2, 4, hidden_units=(16,)),
        conditional_decoder(2, SHAPE, 4, hidden_units=(16,)),
        num_classes=4,
        seed=0,
    )


@pytest.fixture
def images():
    return np.random.default_rng(0).uniform(size=(20, *SHAPE)).astype("float32")


def post(app, path, payload):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return app.handle("POST", path, body)


@pytest.mark.backend
def test_decode_route_equals_model_decode(vae):
    app = explorer.ExplorerApp(vae)
    z = np.random.default_rng(1).normal(size=(5, 3)).astype("float32")
    status, headers, body = post(app, "/api/decode", {"z": z.tolist()})
    assert status == 200 and headers["X-Shape"] == "5,8,8,1"
    assert float(headers["X-Decode-Ms"]) >= 0
    pixels = np.frombuffer(body, "uint8").reshape(5, 8, 8, 1).astype("int64")
    assert np.abs(pixels - expected_pixels(vae.decode(z))).max() <= 1
    assert len(np.unique(pixels.reshape(5, -1), axis=0)) == 5  # each code its own image


@pytest.mark.backend
def test_conditional_decode_uses_the_label(cvae):
    app = explorer.ExplorerApp(cvae)
    z = [[0.5, -1.0]]
    shown = {}
    for label in (0, 3):
        status, _, body = post(app, "/api/decode", {"z": z, "label": label})
        assert status == 200
        shown[label] = np.frombuffer(body, "uint8").reshape(8, 8).astype("int64")
        wanted = expected_pixels(cvae.decode(np.float32(z), label))[0, ..., 0]
        assert np.abs(shown[label] - wanted).max() <= 1
    assert (shown[0] != shown[3]).any()
    status, _, body = post(app, "/api/decode", {"z": z, "label": 4})
    assert status == 400 and "[0, 3]" in json.loads(body)["error"]
    for label in (1.5, "2", [1, 2]):
        status, _, body = post(app, "/api/decode", {"z": z, "label": label})
        assert status == 400 and "one class id" in json.loads(body)["error"]


def test_info_and_examples(vae, images):
    labels = np.array([0, 0, 0, 1, 1, 2] * 3 + [0, 0])
    app = explorer.ExplorerApp(vae, images=images, labels=labels, num_images=5)
    info = json.loads(app.handle("GET", "/api/info")[2])
    assert info["latent_dim"] == 3 and info["image_shape"] == [8, 8, 1]
    assert info["num_classes"] is None and info["num_examples"] == 5 and info["compiled"]
    examples = json.loads(app.handle("GET", "/api/examples")[2])
    assert examples["shape"] == [5, 8, 8, 1]
    assert examples["labels"] == [0, 1, 2, 0, 1]  # round-robin over the classes
    chosen = images[[0, 3, 5, 1, 4]]
    np.testing.assert_allclose(examples["z"], vae.encode(chosen)[0], atol=1e-4)
    status, headers, page = app.handle("GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert b"/api/decode" in page and b"http" not in page.split(b"<script>")[1]  # no CDN


def test_conditional_examples_need_labels(cvae, images):
    with pytest.raises(ValueError, match="pass `labels`"):
        explorer.ExplorerApp(cvae, images=images)
    app = explorer.ExplorerApp(cvae, images=images, labels=np.arange(20) % 4, num_images=4)
    examples = json.loads(app.handle("GET", "/api/examples")[2])
    np.testing.assert_allclose(examples["z"], cvae.encode(images[:4], np.arange(4))[0], atol=1e-4)


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"not json", "must be JSON"),
        ({"code": [[0, 0, 0]]}, "The body must be"),
        ({"z": [[0, 0]]}, "(N, 3)"),
        ({"z": [["a", 0, 0]]}, "list of lists of numbers"),
        ({"z": [[0, float("nan"), 0]]}, "finite"),
        ({"z": np.zeros((1025, 3)).tolist()}, "1024"),
    ],
)
def test_bad_requests_are_400_with_a_reason(vae, payload, message):
    status, _, body = post(explorer.ExplorerApp(vae), "/api/decode", payload)
    assert status == 400 and message in json.loads(body)["error"]


def test_unknown_route_is_404(vae):
    status, _, body = explorer.ExplorerApp(vae).handle("GET", "/nope")
    assert status == 404 and "/nope" in json.loads(body)["error"]


def test_a_model_without_decoder_is_refused():
    import keras

    with pytest.raises(ValueError, match="model with a decoder.*Sequential"):
        LatentDecoder(keras.Sequential([keras.layers.Dense(2)]))


def test_to_uint8_and_pick_examples():
    assert to_uint8(np.array([[-1.0, 0.2, 0.5, 2.0]])).ravel().tolist() == [0, 51, 128, 255]
    x = np.arange(7)[:, None, None, None] * np.ones((7, 2, 2, 1))
    chosen, labels = pick_examples(x, np.array([5, 5, 5, 5, 7, 7, 9]), 6)
    assert labels.tolist() == [5, 7, 9, 5, 7, 5]
    assert chosen[:, 0, 0, 0].tolist() == [0, 4, 6, 1, 5, 2]
    assert pick_examples(x, None, 3)[0].shape == (3, 2, 2, 1)


def test_served_over_http_and_port_in_use(vae, capsys):
    server = explorer.serve(vae, block=False)
    try:
        assert f"at {server.url}" in capsys.readouterr().out
        request = urllib.request.Request(
            server.url + "api/decode", data=b'{"z": [[1, 0, -1]]}', method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            pixels = np.frombuffer(response.read(), "uint8").astype("int64")
        wanted = expected_pixels(vae.decode(np.float32([[1, 0, -1]]))).ravel()
        assert np.abs(pixels - wanted).max() <= 1
        with pytest.raises(explorer.PortInUseError, match="already in use.*--port"):
            explorer.serve(vae, port=server.server_address[1], block=False)
    finally:
        server.close()


# === The command line ===


def test_explore_arguments():
    args = cli.build_parser().parse_args(["explore", "--model", "m.keras", "--port", "8123"])
    assert (args.model, args.port, args.host) == ("m.keras", 8123, "127.0.0.1")
    assert not args.no_browser
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["explore", "--model", "m.keras", "--preset", "x"])


def test_explore_errors_are_one_line(vae, tmp_path, capsys):
    assert cli.main(["explore", "--model", str(tmp_path / "none.keras"), "--no-browser"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("vae-keras explore: error: No model file") and error.count("\n") == 1
    path = tmp_path / "model.keras"
    vae.save(path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["explore", "--model", str(path), "--port", str(port), "--no-browser"]
        assert cli.main(argv) == 2
    error = capsys.readouterr().err
    assert f"Port {port} on 127.0.0.1 is already in use" in error and error.count("\n") == 1


def test_test_images_for_a_run(vae, tmp_path):
    args = cli.build_parser().parse_args(["explore", "--model", "m.keras", "--num-images", "4"])
    images, labels, note = command._test_images(args, {}, vae)
    assert images is None and "--dataset" in note
    args.dataset = "digits"  # 8x8 and offline: the model's shape
    images, labels, note = command._test_images(args, {}, vae)
    assert note is None and images.shape[1:] == SHAPE and len(labels) == len(images)
    args.dataset = "shapes"  # 32x32x3: asked for explicitly, so an error, not a note
    with pytest.raises(ValueError, match="the model reads"):
        command._test_images(args, {}, vae)
    images, _, note = command._test_images(
        cli.build_parser().parse_args(["explore", "--model", "m"]), {"dataset": "shapes"}, vae
    )
    assert images is None and "the model reads" in note


def test_vae_keras_explore_serves_until_interrupted(vae, tmp_path):
    """The installed command end to end: prints the URL, serves the page's routes,
    offers the run's test images (digits, offline), stops cleanly on Ctrl-C."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from vae_keras import runs

    run = tmp_path / "run"
    run.mkdir()
    runs.save_model(vae, run / "model.keras")
    runs.write_json(run / "config.json", {"dataset": "digits"})
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(
        [sys.executable, "-m", "vae_keras", "explore", "--model", str(run / "model.keras")]
        + ["--no-browser", "--num-images", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # Ctrl-C handling even when this test runs in a background job, whose shell starts it
        # with SIGINT ignored (a child then inherits the ignore and never sees the signal).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        lines = [process.stdout.readline() for _ in range(2)]
        assert lines[0].startswith("Offering 5 test images"), lines
        url = lines[1].split(" at ")[1].split()[0]
        with urllib.request.urlopen(url + "api/info", timeout=30) as response:
            info = json.loads(response.read())
        assert info["latent_dim"] == 3 and info["num_examples"] == 5
        with urllib.request.urlopen(url, timeout=30) as response:
            assert b"latent explorer" in response.read()  # the page ships as package data
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "Latent explorer stopped." in out


def test_other_models_with_decode(images):
    """An AE takes the compiled path; any object with `decode(z)` and `latent_dim`
    (here a fixed linear map) is served through its own `decode`."""
    from vae_keras import AE

    ae = AE(
        networks.dense_encoder(SHAPE, 2, hidden_units=(16,)),
        networks.dense_decoder(2, SHAPE, hidden_units=(16,)),
    )
    app = explorer.ExplorerApp(ae, images=images, num_images=3)
    assert app.decoder.info()["compiled"] and app.examples["shape"] == [3, *SHAPE]
    _, _, body = post(app, "/api/decode", {"z": [[1.0, -1.0]]})
    wanted = expected_pixels(ae.decode(np.float32([[1, -1]]))).ravel()
    assert np.abs(np.frombuffer(body, "uint8") - wanted).max() <= 1

    class Linear:
        latent_dim = 2

        def decode(self, z):
            return (z @ np.array([[0.25, 0.5, 0.0], [0.0, 0.25, 1.0]]))[:, None, :, None]

    app = explorer.ExplorerApp(Linear())
    info = json.loads(app.handle("GET", "/api/info")[2])
    assert not info["compiled"] and not info["can_encode"] and info["image_shape"] == [1, 3, 1]
    _, headers, body = post(app, "/api/decode", {"z": [[1.0, 0.5]]})
    assert headers["X-Shape"] == "1,1,3,1"
    assert np.frombuffer(body, "uint8").tolist() == [64, 159, 128]


def test_preset_is_loaded_with_its_dataset(vae, monkeypatch):
    from vae_keras import presets

    monkeypatch.setattr(presets, "load", lambda name: vae if name == "tiny" else None)
    monkeypatch.setattr(presets, "info", lambda name: {"recipe": {"dataset": "digits"}})
    args = cli.build_parser().parse_args(["explore", "--preset", "tiny", "--num-images", "3"])
    model, config = command._load(args)
    assert model is vae and config == {"dataset": "digits", "image_size": None}
    images, labels, note = command._test_images(args, config, model)
    assert note is None and images.shape[1:] == SHAPE


@pytest.mark.backend
def test_the_model_stays_usable_while_the_explorer_decodes(vae, images):
    """A notebook beside `serve(block=False)`: the model's variables are never taken
    away mid-call (Keras' JAX predict donates them; the explorer's decoder does not)."""
    import threading

    app = explorer.ExplorerApp(vae)
    errors, stop = [], threading.Event()

    def drag():
        try:
            for k in range(200):
                if stop.is_set():
                    return
                status, _, body = post(app, "/api/decode", {"z": [[k / 100, 0, 0]]})
                assert status == 200, body
        except Exception as error:  # noqa: BLE001  reported below
            errors.append(error)

    thread = threading.Thread(target=drag)
    thread.start()
    try:
        for _ in range(30):
            z_mean, _ = vae.encode(images[:4])
            vae.decode(z_mean)
    finally:
        stop.set()
        thread.join()
    assert not errors, errors


# === The prior (issue 30): quantile tables and draws ===


def test_prior_tables_are_the_standard_normal_for_a_vae(vae):
    """N(0, I): the table is norm.ppf at the pad's probabilities, flagged standard (the
    page then uses its own inverse CDF: the same numbers as before); draws are N(0, I)."""
    from scipy.stats import norm

    app = explorer.ExplorerApp(vae)
    info = json.loads(app.handle("GET", "/api/info")[2])
    assert info["mode"] == "latent" and info["prior"]["center"] == [0.0, 0.0, 0.0]
    assert info["prior"]["pad_quantiles"] == [0.05, 0.95]
    status, _, body = app.handle("GET", "/api/prior?dims=0,2")
    table = json.loads(body)
    assert status == 200 and table["dims"] == [0, 2] and table["standard_normal"] == [True, True]
    p = np.array(table["probabilities"])
    assert p[0] == 0.05 and p[-1] == 0.95 and len(p) == 91
    np.testing.assert_allclose(table["quantiles"], [norm.ppf(p)] * 2, atol=1e-6)
    status, _, body = post(app, "/api/prior/sample", {"n": 500, "seed": 3})
    z = np.array(json.loads(body)["z"])
    assert status == 200 and z.shape == (500, 3)
    wanted = np.random.default_rng(3).standard_normal((500, 3))
    np.testing.assert_allclose(z, wanted, atol=1e-4)  # eps itself
    assert json.loads(post(app, "/api/prior/sample", {"n": 500, "seed": 3})[2])["z"] == z.tolist()


@pytest.mark.backend
def test_prior_tables_follow_a_mixture_prior():
    from vae_keras import priors

    prior = priors.MixtureOfGaussians(num_components=2, seed=0)
    model = VAE(
        networks.dense_encoder(SHAPE, 2, hidden_units=(8,)),
        networks.dense_decoder(2, SHAPE, hidden_units=(8,)),
        prior=prior,
    )
    prior.means.assign(np.array([[3.0, -3.0], [9.0, 3.0]], "float32"))  # far from N(0, 1)
    app = explorer.ExplorerApp(model)
    table = json.loads(app.handle("GET", "/api/prior?dims=0,1")[2])
    assert table["standard_normal"] == [False, False]
    p = np.array(table["probabilities"])
    for row, d in zip(table["quantiles"], (0, 1), strict=True):
        np.testing.assert_allclose(row, model.prior_quantiles(p, d), atol=1e-5)
    assert 3.5 < table["quantiles"][0][45] < 8.5  # the median sits between the means
    center = json.loads(app.handle("GET", "/api/info")[2])["prior"]["center"]
    np.testing.assert_allclose(center, [model.prior_quantiles(0.5, d) for d in (0, 1)], atol=1e-5)
    z = np.array(json.loads(post(app, "/api/prior/sample", {"n": 1000, "seed": 0})[2])["z"])
    assert abs(z[:, 0].mean() - 6.0) < 0.3 and z[:, 0].min() > -1  # from the mixture, not N(0, I)
    assert ((z[:, 0] < 6) == (z[:, 1] < 0)).mean() > 0.95  # components drawn jointly


@pytest.mark.parametrize(
    "path, payload, message",
    [
        ("/api/prior?dims=0,7", None, "[0, 2]"),
        ("/api/prior?dims=a", None, "?dims=0,1"),
        ("/api/prior/sample", {"n": 0}, "`n`"),
        ("/api/prior/sample", {"n": 1, "seed": -1}, "`seed`"),
        ("/api/prior/sample", [1], "The body must be"),
    ],
)
def test_prior_bad_requests(vae, path, payload, message):
    app = explorer.ExplorerApp(vae)
    if payload is None:
        status, _, body = app.handle("GET", path)
    else:
        status, _, body = post(app, path, payload)
    assert status == 400 and message in json.loads(body)["error"]


def test_a_foreign_decoder_has_the_standard_normal_prior():
    class Linear:
        latent_dim = 2

        def decode(self, z):
            return z[:, None, :, None]

    app = explorer.ExplorerApp(Linear())
    assert json.loads(app.handle("GET", "/api/prior?dims=1")[2])["standard_normal"] == [True]


# === VQ-VAE models (issue 28): the prompt mode ===


@pytest.fixture(scope="module")
def caption_vq():
    """A tiny VQVAE (untrained autoencoder) with a caption transformer prior fitted for an
    epoch on its codes of shapes."""
    import keras

    from vae_keras import VQVAE, datasets
    from vae_keras.datasets.captions import VOCABULARY
    from vae_keras.layers import VectorQuantizer
    from vae_keras.models import TransformerPrior

    keras.utils.set_random_seed(0)
    x, captions = datasets.load("shapes", "train", image_size=8, num_examples=32, captions=True)
    prior = TransformerPrior((4, 4), 16, 4, vocabulary=VOCABULARY, width=16, depth=1, heads=2)
    model = VQVAE(
        networks.vq_encoder((8, 8, 3), 4, filters=(8,)),
        networks.vq_decoder((4, 4, 4), (8, 8, 3), filters=(8,)),
        VectorQuantizer(16, 4, seed=0),
        prior=prior,
        seed=0,
    )
    model.fit_prior(x, captions=captions, epochs=1, batch_size=32, verbose=0)
    return model, x


@pytest.mark.backend
def test_vq_prompt_mode_draws_what_model_sample_draws(caption_vq):
    import base64

    model, x = caption_vq
    app = explorer.ExplorerApp(model, images=x)
    info = json.loads(app.handle("GET", "/api/info")[2])
    assert info["mode"] == "codes" and info["takes_captions"] and info["grid_shape"] == [4, 4]
    assert "heart" in info["vocabulary"] and info["image_shape"] == [8, 8, 3]
    assert info["test_codes"]["counts"] == model.code_counts(x).tolist()
    caption = "a large red heart at the top left"
    status, _, body = post(app, "/api/sample", {"n": 4, "seed": 1, "caption": caption})
    answer = json.loads(body)
    assert status == 200 and answer["shape"] == [4, 8, 8, 3]
    pixels = np.frombuffer(base64.b64decode(answer["pixels"]), "uint8").reshape(4, 8, 8, 3)
    wanted = expected_pixels(model.sample(4, captions=caption, seed=1))
    assert np.abs(pixels.astype("int64") - wanted).max() <= 1
    grids = model.sample_indices(4, seed=1, captions=caption)
    codes = answer["codes"]
    assert codes["counts"] == np.bincount(grids.ravel(), minlength=16).tolist()
    assert codes["used"] == len(np.unique(grids)) and sum(codes["counts"]) == 4 * 16
    # another seed, other samples; an empty prompt is the unconditional draw
    other = json.loads(post(app, "/api/sample", {"n": 4, "seed": 2, "caption": caption})[2])
    assert other["pixels"] != answer["pixels"]
    status, _, body = post(app, "/api/sample", {"n": 2, "seed": 0, "caption": " "})
    assert status == 200 and json.loads(body)["shape"] == [2, 8, 8, 3]
    # the latent routes are not this mode's
    assert app.handle("POST", "/api/decode", b'{"z": [[0]]}')[0] == 404


def test_vq_prompt_with_unknown_words_is_a_400_naming_them(caption_vq):
    app = explorer.ExplorerApp(caption_vq[0])
    status, headers, body = post(app, "/api/sample", {"n": 4, "caption": "a purple hexagon"})
    error = json.loads(body)["error"]
    assert status == 400 and headers["Content-Type"] == "application/json"
    assert "'purple'" in error and "'hexagon'" in error and "heart" in error  # the vocabulary
    assert "\n" not in error and "Traceback" not in error
    for payload, message in (
        ({"n": 65}, "`n`"),
        ({"n": 2, "caption": 3}, "`caption`"),
        ({"n": 2, "temperature": 0}, "`temperature`"),
        ({"n": 2, "label": 1}, "`label`"),
    ):
        status, _, body = post(app, "/api/sample", payload)
        assert status == 400 and message in json.loads(body)["error"], payload


def test_vq_without_captions_samples_from_a_seed_and_unfitted_is_refused():
    import base64

    from vae_keras import VQVAE
    from vae_keras.layers import VectorQuantizer

    model = VQVAE(
        networks.vq_encoder((8, 8, 1), 4, filters=(8,)),
        networks.vq_decoder((4, 4, 4), (8, 8, 1), filters=(8,)),
        VectorQuantizer(16, 4, seed=0),
        seed=0,
    )
    with pytest.raises(ValueError, match="not fitted yet.*fit_prior") as error:
        explorer.ExplorerApp(model)
    assert "\n" not in str(error.value)
    model.prior.remember_codebook(model.quantizer.embeddings)  # as `fit_prior` ends
    app = explorer.ExplorerApp(model)
    info = json.loads(app.handle("GET", "/api/info")[2])
    assert not info["takes_captions"] and info["vocabulary"] is None
    assert info["test_codes"] is None
    answer = json.loads(post(app, "/api/sample", {"n": 3, "seed": 5})[2])
    assert answer["shape"] == [3, 8, 8, 1] and 1 <= answer["codes"]["used"] <= 16
    status, _, body = post(app, "/api/sample", {"n": 3, "caption": "a red heart"})
    assert status == 400 and "takes no captions" in json.loads(body)["error"]

    classes = VQVAE(  # a class-conditional prior: the page sends a class
        networks.vq_encoder((8, 8, 1), 4, filters=(8,)),
        networks.vq_decoder((4, 4, 4), (8, 8, 1), filters=(8,)),
        VectorQuantizer(16, 4, seed=0),
        num_classes=3,
    )
    classes.prior.remember_codebook(classes.quantizer.embeddings)
    app = explorer.ExplorerApp(classes)
    assert json.loads(app.handle("GET", "/api/info")[2])["num_classes"] == 3
    answer = json.loads(post(app, "/api/sample", {"n": 2, "seed": 1, "label": 2})[2])
    pixels = np.frombuffer(base64.b64decode(answer["pixels"]), "uint8")
    wanted = expected_pixels(classes.sample(2, labels=2, seed=1)).ravel()
    assert np.abs(pixels.astype("int64") - wanted).max() <= 1
    status, _, body = post(app, "/api/sample", {"n": 2, "label": 3})
    assert status == 400 and "[0, 2]" in json.loads(body)["error"]


def test_explore_a_saved_vq_model(caption_vq, tmp_path, capsys):
    """The command's path: a saved caption VQ-VAE loads into the prompt mode; an unfitted
    one is refused in one line."""
    from vae_keras import VQVAE
    from vae_keras.app import runs
    from vae_keras.layers import VectorQuantizer

    model, x = caption_vq
    runs.save_model(model, tmp_path / "vq.keras")
    app = explorer.ExplorerApp(runs.load_model(tmp_path / "vq.keras"))
    assert app.describe() == "codes 4x4 of 16, captions"
    _, _, body = post(app, "/api/sample", {"n": 2, "seed": 4, "caption": "a blue square"})
    _, _, wanted = post(
        explorer.ExplorerApp(model), "/api/sample", {"n": 2, "seed": 4, "caption": "a blue square"}
    )
    assert json.loads(body)["pixels"] == json.loads(wanted)["pixels"]

    unfitted = VQVAE(
        networks.vq_encoder((8, 8, 3), 4, filters=(8,)),
        networks.vq_decoder((4, 4, 4), (8, 8, 3), filters=(8,)),
        VectorQuantizer(16, 4, seed=0),
    )
    runs.save_model(unfitted, tmp_path / "unfitted.keras")
    argv = ["explore", "--model", str(tmp_path / "unfitted.keras"), "--no-browser"]
    assert cli.main(argv) == 2
    error = capsys.readouterr().err
    assert "not fitted yet" in error and error.count("\n") == 1


def test_a_two_level_vq_model_is_refused_in_one_line():
    from vae_keras.models import VQVAE2

    model = VQVAE2(SHAPE, num_embeddings=(8, 16), embedding_dim=4, filters=(8,), top_filters=(8,))
    with pytest.raises(ValueError, match="`code_prior`.*model.sample") as error:
        explorer.ExplorerApp(model)
    assert "\n" not in str(error.value)
