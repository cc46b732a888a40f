"""The latent explorer in a real browser: headless Chromium driven by Selenium.

Drags a slider and the 2-D pad, picks a class and encodes a test image, then reads
the displayed pixels back from the page's canvas and compares them with the
model's own `decode` of the code the page shows. Skips (with the reason) where
Chromium, its driver or Selenium is missing; CI installs them (.ci/run).
"""

import shutil
import time

import numpy as np
import pytest
from scipy.stats import norm

from vae_keras import VAE, ConditionalVAE, explorer, networks
from vae_keras.models import conditional_decoder, conditional_encoder

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
CHROMIUM = next(
    filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None
)
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="headless Chromium and chromedriver are not installed "
    "(Debian: apt-get install -y chromium chromium-driver)",
)
SHAPE = (28, 28, 1)


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


def open_explorer(browser, model, **kwargs):
    server = explorer.serve(model, block=False, **kwargs)
    browser.get(server.url)
    wait_idle(browser, updates=1)
    return server


def wait_idle(browser, updates, timeout=30):
    """Waits until the page has shown `updates` images and has no request left."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = browser.execute_script(
            "const s = window.explorer; return s && [s.updates, s.busy(), "
            "document.getElementById('status').className]"
        )
        if state and state[2] == "error":
            raise AssertionError(browser.find_element("id", "status").text)
        if state and state[0] >= updates and not state[1]:
            return state[0]
        time.sleep(0.05)
    raise AssertionError(f"the page did not show {updates} decoded images in {timeout} s")


def shown(browser):
    """(code, label, 8-bit pixels) of the image on the page, read from its canvas."""
    z, label, rgba, size = browser.execute_script(
        "const c = document.getElementById('view');"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "return [window.explorer.shownZ, window.explorer.shownLabel, Array.from(d),"
        " [c.height, c.width]];"
    )
    pixels = np.array(rgba, "int64").reshape(*size, 4)
    assert (pixels[..., 0] == pixels[..., 1]).all() and (pixels[..., 3] == 255).all()
    return np.array(z, "float32"), label, pixels[..., 0]


def assert_is_decode(pixels, decoded):
    wanted = np.round(np.clip(decoded[0, ..., 0], 0, 1) * 255).astype("int64")
    assert pixels.shape == wanted.shape
    assert np.abs(pixels - wanted).max() <= 1  # 8-bit rounding


def test_slider_drag_updates_the_image(browser):
    from selenium.webdriver import ActionChains

    model = VAE(  # 20 dimensions: sliders for 16 at a time
        networks.dense_encoder(SHAPE, 20, hidden_units=(32,)),
        networks.dense_decoder(20, SHAPE, hidden_units=(32,)),
        seed=0,
    )
    server = open_explorer(browser, model)
    try:
        z0, _, before = shown(browser)
        assert (z0 == 0).all()
        assert_is_decode(before, model.decode(z0[None]))

        slider = browser.find_element("id", "z1")
        updates = browser.execute_script("return window.explorer.updates")
        ActionChains(browser).click_and_hold(slider).move_by_offset(70, 0).release().perform()
        wait_idle(browser, updates + 1)
        z, _, after = shown(browser)
        assert z[1] == pytest.approx(float(slider.get_attribute("value")))
        assert z[1] > 0.5 and (np.delete(z, 1) == 0).all()  # only the dragged dimension moved
        assert (after != before).sum() > 20  # the displayed image changed ...
        assert_is_decode(after, model.decode(z[None]))  # ... to the decode of the new code

        # The pad: x -> z0, y -> z1 through the inverse Gaussian CDF (5%-95% quantiles).
        pad = browser.find_element("id", "pad")
        updates = browser.execute_script("return window.explorer.updates")
        width = pad.size["width"]
        ActionChains(browser).move_to_element_with_offset(
            pad, width // 4, -width // 4
        ).click().perform()
        wait_idle(browser, updates + 1)
        z, _, pixels = shown(browser)
        wanted = norm.ppf(0.05 + 0.75 * 0.9)  # a few pad pixels of tolerance: ~0.01 each
        assert z[0] == pytest.approx(wanted, abs=0.05) and z[1] == pytest.approx(wanted, abs=0.05)
        assert (z[2:] == 0).all()
        assert_is_decode(pixels, model.decode(z[None]))
        # and the z0 / z1 sliders followed the pad
        assert float(browser.find_element("id", "z0").get_attribute("value")) == pytest.approx(
            z[0], abs=0.01
        )

        # The other dimensions' sliders: the window selector.
        from selenium.webdriver.support.ui import Select

        window = Select(browser.find_element("id", "window"))
        assert [o.text for o in window.options] == ["z0–z15", "z16–z19"]
        window.select_by_index(1)
        sliders = browser.find_elements("css selector", "#sliders input")
        assert [s.get_attribute("id") for s in sliders] == ["z16", "z17", "z18", "z19"]
        updates = browser.execute_script("return window.explorer.updates")
        ActionChains(browser).click_and_hold(sliders[1]).move_by_offset(-50, 0).release().perform()
        wait_idle(browser, updates + 1)
        z_after, _, pixels = shown(browser)
        assert z_after[17] < -0.3 and (np.delete(z_after, 17) == np.delete(z, 17)).all()
        assert_is_decode(pixels, model.decode(z_after[None]))
    finally:
        server.close()


def test_class_selector_and_encoding_a_test_image(browser):
    from selenium.webdriver.support.ui import Select

    model = ConditionalVAE(
        conditional_encoder(SHAPE, 2, 3, hidden_units=(32,)),
        conditional_decoder(2, SHAPE, 3, hidden_units=(32,)),
        num_classes=3,
        seed=0,
    )
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(12, *SHAPE)).astype("float32")
    labels = np.arange(12) % 3
    server = open_explorer(browser, model, images=images, labels=labels, num_images=6)
    try:
        updates = browser.execute_script("return window.explorer.updates")
        Select(browser.find_element("id", "label")).select_by_value("2")
        wait_idle(browser, updates + 1)
        z, label, pixels = shown(browser)
        assert label == 2
        assert_is_decode(pixels, model.decode(z[None], 2))

        thumbnails = browser.find_elements("css selector", "#gallery canvas")
        assert len(thumbnails) == 6
        updates = browser.execute_script("return window.explorer.updates")
        thumbnails[4].click()  # images[4], label 1
        wait_idle(browser, updates + 1)
        z, label, pixels = shown(browser)
        assert label == 1
        np.testing.assert_allclose(z, model.encode(images[4:5], 1)[0][0], atol=1e-4)
        assert_is_decode(pixels, model.decode(z[None], 1))

        # Interpolation: A is the image just encoded (gallery #4), B is #1; t dragged to 1.
        from selenium.webdriver import ActionChains

        assert Select(browser.find_element("id", "interp-a")).first_selected_option.text == "#4 (1)"
        assert Select(browser.find_element("id", "interp-b")).first_selected_option.text == "#1 (1)"
        updates = browser.execute_script("return window.explorer.updates")
        t = browser.find_element("id", "t")
        ActionChains(browser).click_and_hold(t).move_by_offset(
            t.size["width"], 0
        ).release().perform()
        wait_idle(browser, updates + 1)
        z, label, pixels = shown(browser)
        assert browser.find_element("id", "t-value").text == "1.00"
        np.testing.assert_allclose(z, model.encode(images[1:2], 1)[0][0], atol=1e-4)
        assert_is_decode(pixels, model.decode(z[None], label))

        # A draw from the prior: a new code, every dimension moved, under the same class.
        updates = browser.execute_script("return window.explorer.updates")
        browser.find_element("id", "prior").click()
        wait_idle(browser, updates + 1)
        drawn, label, pixels = shown(browser)
        assert (drawn != z).all() and label == 1
        assert_is_decode(pixels, model.decode(drawn[None], 1))
    finally:
        server.close()


def wait_drawn(browser, updates, timeout=60):
    """Waits until the prompt mode has answered `updates` requests (samples or an error)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if browser.execute_script(
            "const s = window.explorer; return s && s.updates >= arguments[0] && !s.inFlight",
            updates,
        ):
            return
        time.sleep(0.05)
    raise AssertionError(f"the prompt mode did not answer {updates} requests in {timeout} s")


def test_pad_follows_a_mixture_prior(browser):
    from vae_keras import priors

    prior = priors.MixtureOfGaussians(num_components=2, seed=0)
    model = VAE(
        networks.dense_encoder(SHAPE, 2, hidden_units=(16,)),
        networks.dense_decoder(2, SHAPE, hidden_units=(16,)),
        prior=prior,
    )
    prior.means.assign(np.array([[3.0, -3.0], [9.0, 3.0]], "float32"))
    server = open_explorer(browser, model)
    try:
        z0, _, _ = shown(browser)  # the page starts at the prior's medians
        np.testing.assert_allclose(z0, [model.prior_quantiles(0.5, d) for d in (0, 1)], atol=1e-4)
        assert "not N(0, I)" in browser.find_element("id", "prior-note").text
        pad = browser.find_element("id", "pad")
        updates = browser.execute_script("return window.explorer.updates")
        width = pad.size["width"]
        from selenium.webdriver import ActionChains

        ActionChains(browser).move_to_element_with_offset(
            pad, width // 4, -width // 4
        ).click().perform()
        wait_idle(browser, updates + 1)
        z, _, pixels = shown(browser)
        p = 0.05 + 0.75 * 0.9
        wanted = [float(model.prior_quantiles(p, d)) for d in (0, 1)]
        np.testing.assert_allclose(z, wanted, atol=0.1)  # a few pad pixels of tolerance
        assert_is_decode(pixels, model.decode(z[None]))
    finally:
        server.close()


def test_vq_prompt_mode(browser, tmp_path):
    """A caption VQ-VAE: the page draws the prompt's samples (as `model.sample`), and an
    unknown word shows the server's message on the page (screenshots in `tmp_path`)."""
    import keras

    from vae_keras import VQVAE, datasets
    from vae_keras.datasets.captions import VOCABULARY
    from vae_keras.layers import VectorQuantizer
    from vae_keras.models import TransformerPrior

    keras.utils.set_random_seed(0)
    x, captions = datasets.load("shapes", "train", image_size=16, num_examples=64, captions=True)
    model = VQVAE(
        networks.vq_encoder((16, 16, 3), 4, filters=(8, 8)),
        networks.vq_decoder((4, 4, 4), (16, 16, 3), filters=(8, 8)),
        VectorQuantizer(16, 4, seed=0),
        prior=TransformerPrior((4, 4), 16, 4, vocabulary=VOCABULARY, width=16, depth=1, heads=2),
        seed=0,
    )
    model.fit_prior(x, captions=captions, epochs=1, batch_size=32, verbose=0)
    server = explorer.serve(model, images=x, block=False)
    try:
        browser.get(server.url)
        wait_drawn(browser, 1)
        caption = browser.find_element("id", "prompt").get_attribute("value")
        assert caption == "a large red heart at the top left"
        canvases = browser.find_elements("css selector", "#samples canvas")
        assert len(canvases) == 9
        data = browser.execute_script(
            "return Array.from(document.querySelectorAll('#samples canvas')).map((c) =>"
            " Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data))"
        )
        rgba = np.array(data, "int64").reshape(9, 16, 16, 4)
        wanted = np.round(np.clip(model.sample(9, captions=caption, seed=0), 0, 1) * 255)
        assert np.abs(rgba[..., :3] - wanted).max() <= 1
        assert "of 16 codes used" in browser.find_element("id", "usage-samples-text").text
        assert "64 test images" in browser.find_element("id", "usage-test-text").text
        browser.save_screenshot(str(tmp_path / "explorer_vq.png"))

        prompt = browser.find_element("id", "prompt")
        prompt.clear()
        prompt.send_keys("a purple hexagon\n")  # Enter submits
        wait_drawn(browser, 2)
        error = browser.find_element("id", "prompt-error")
        assert error.is_displayed() and "'purple'" in error.text and "'hexagon'" in error.text
        assert "Traceback" not in error.text
        browser.save_screenshot(str(tmp_path / "explorer_vq_error.png"))
    finally:
        server.close()
