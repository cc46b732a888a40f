"""A screenshot of the latent explorer, taken by headless Chromium (for the README).

    python examples/explorer_screenshot.py --model runs/RUN/model.keras --out docs/explorer.png
    python examples/explorer_screenshot.py --preset mnist_conv_z2 --out docs/explorer_z2.png

Serves the explorer for the model (with a few test images of its dataset when
they are on disk), opens it in headless Chromium, encodes one test image,
moves a slider, and saves the page as a PNG. Needs Chromium, chromedriver and
selenium (`apt-get install -y chromium chromium-driver`, `pip install selenium`).
"""

import argparse
import os
import shutil
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from vae_keras import cli, explorer, runs
from vae_keras.explorer import command


def wait_idle(driver, timeout=60, settle=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if driver.execute_script("const s = window.explorer; return s && s.updates && !s.busy()"):
            time.sleep(settle)  # the pad's background and the interpolation strip
            return
        time.sleep(0.05)
    raise RuntimeError("the explorer page showed no image")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model")
    source.add_argument("--preset")
    parser.add_argument("--out", required=True, help="PNG file")
    parser.add_argument("--image", type=int, default=3, help="test image to encode first")
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args()

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.keys import Keys

    explore_args = cli.build_parser().parse_args(
        ["explore", "--no-browser"]
        + (["--model", args.model] if args.model else ["--preset", args.preset])
    )
    model, config = command._load(explore_args)
    images, labels, note = command._test_images(explore_args, config, model)
    server = explorer.serve(model, images=images, labels=labels, block=False)
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("google-chrome")
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars"):
        options.add_argument(flag)
    options.add_argument(f"--window-size={args.width},900")
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        driver.get(server.url)
        wait_idle(driver)
        thumbnails = driver.find_elements("css selector", "#gallery canvas")
        if thumbnails:
            thumbnails[min(args.image, len(thumbnails) - 1)].click()
            wait_idle(driver)
        slider = driver.find_elements("css selector", "#sliders input")[-1]
        for key in [Keys.ARROW_RIGHT] * 12 + [Keys.ARROW_LEFT] * 12:  # a few moves, timed
            slider.send_keys(key)
            wait_idle(driver, settle=0)
        wait_idle(driver)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.execute_cdp_cmd(  # the whole page, at 1 CSS pixel per pixel
            "Emulation.setDeviceMetricsOverride",
            {"width": args.width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        runs.atomic_write_bytes(args.out, driver.get_screenshot_as_png())
    finally:
        driver.quit()
        server.close()
    print(f"wrote {args.out}" + (f" (no test images: {note})" if note else ""))


if __name__ == "__main__":
    main()
