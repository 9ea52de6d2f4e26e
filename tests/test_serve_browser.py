"""The page of ``sgtr serve`` in headless Chromium: choose a bundled sample in the file input and see the server's
reading of it appear, with a screenshot left in the temporary folder for a person to look at."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="sgtr serve needs sgtr[serve]")
pytest.importorskip("uvicorn", reason="sgtr serve needs sgtr[serve]")
pytest.importorskip("selenium", reason="the browser test drives Chromium with selenium (sgtr[dev])")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from serve_load import SAMPLES, Server  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver on PATH (scripts/setup-system.sh installs them)")


@pytest.fixture
def browser(tmp_path, monkeypatch):
    # Selenium Manager would look for (and download) a driver, and report usage: the driver is given outright and
    # statistics are off; Chromium's own background fetching is off too, so nothing leaves the machine.
    monkeypatch.setenv("SE_AVOID_STATS", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,900",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.mark.slow
def test_a_sample_chosen_on_the_page_shows_its_reading(browser):
    label = dict(line.split("\t") for line in (SAMPLES / "labels.tsv").read_text().splitlines())["word_00.png"]
    with Server(threads=1) as server:
        browser.get(f"{server.base}/")
        WebDriverWait(browser, 30).until(
            lambda d: "charset" in d.find_element(By.ID, "model").text)  # /health answered and shown
        chooser = browser.find_element(By.ID, "files")
        browser.execute_script("arguments[0].hidden = false;", chooser)  # the page hides it behind its drop zone
        chooser.send_keys(str(SAMPLES / "word_00.png"))
        reading = WebDriverWait(browser, 90).until(
            expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, ".card .reading")))
        assert reading.text.lower() == label.lower()
        assert "word_00.png" in browser.find_element(By.CSS_SELECTOR, ".card h2").text
        assert browser.find_element(By.ID, "status").text.startswith("read 1 image")
        shot = Path("/tmp") / "sgtr-serve-browser.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 0
