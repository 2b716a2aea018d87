"""The rater page in headless Chromium: answer every pair by keyboard, reload half-way without
losing answers, download responses-<rater>.csv, and score it.

Needs Debian's `chromium` + `chromium-driver` (installed by .ci/run) and selenium; skips with the
reason when the browser binaries are missing.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import tempfile
import threading
import time

import pandas as pd
import pytest

from study_helpers import make_run
from vbench_i2v.study.export import CHECK_REAL, REAL, export_study
from vbench_i2v.study.score import score_study

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROME = next((p for p in map(shutil.which, BROWSERS) if p), None)
DRIVER = shutil.which("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
pytestmark = pytest.mark.skipif(CHROME is None or DRIVER is None,
                                reason="no chromium/chromedriver binary (apt-get install chromium chromium-driver)")

from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

RUN_A, RUN_B = "alpha-run", "beta-run"
RATER = "ann, b"  # a comma: checks the page's csv quoting and the file-name clean-up


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    a = make_run(root, RUN_A, n_clips=4, shift=8)
    b = make_run(root, RUN_B, n_clips=4, shift=24, quality=20)
    out = root / "study"
    # 3 method pairs x 2 = 6 comparisons + ceil(0.1 * 6) = 1 attention check
    export_study([a, b], out, pairs=2, include_real=True, seed=2, fmt="mp4", scale=2, allow_tie=True)
    return out


@pytest.fixture(scope="module")
def server(study):
    handler = functools.partial(_QuietHandler, directory=str(study))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def browser(tmp_path):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROME
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required", "--window-size=1000,800"):
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}")
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.set_page_load_timeout(30)
    yield driver, downloads
    driver.quit()


def _answered(driver) -> int:
    return int(driver.find_element(By.ID, "progress").get_attribute("data-answered"))


def _wait_media(driver):
    """Both clips decoded (readyState >= 2), no load error."""
    WebDriverWait(driver, 15).until(lambda d: d.execute_script(
        "const a = document.getElementById('left-media'), b = document.getElementById('right-media');"
        "return a && b && a.readyState >= 2 && b.readyState >= 2;"))
    assert driver.find_element(By.ID, "media-error").text == ""


def _intended(row) -> str:
    """The answer this test gives: pass the check; prefer alpha; beta vs real -> real, one tie."""
    if row.attention_check == "1":
        return "left" if row.left_run == CHECK_REAL else "right"
    sides = {row.left_run: "left", row.right_run: "right"}
    if RUN_A in sides:
        return sides[RUN_A]
    return sides[REAL]


def test_answer_all_by_keyboard_reload_download_and_score(study, server, browser):
    driver, downloads = browser
    key = pd.read_csv(study / "key.csv", dtype=str).set_index("pair_id")
    total = len(key)
    assert total == 7

    driver.get(server + "index.html")
    driver.find_element(By.ID, "rater-input").send_keys(RATER)
    driver.find_element(By.ID, "start-button").click()
    keys = {"left": Keys.ARROW_LEFT, "right": Keys.ARROW_RIGHT, "tie": Keys.ARROW_DOWN}
    given, tie_done = {}, False
    while len(given) < total:
        if len(given) == 3:  # reload half-way: nothing answered may be lost
            driver.refresh()
            WebDriverWait(driver, 10).until(lambda d: _answered(d) == 3)
            assert driver.find_element(By.ID, "rater-name").text == RATER
        _wait_media(driver)
        pid = driver.find_element(By.ID, "trial-screen").get_attribute("data-pair")
        assert pid not in given  # the page never shows an answered pair again on its own
        row = key.loc[pid]
        choice = _intended(row)
        if row.attention_check == "0" and {row.left_run, row.right_run} == {RUN_B, REAL} and not tie_done:
            choice, tie_done = "tie", True
        if len(given) == 0:
            # the two clips play together: the right one follows the left within two frames
            time.sleep(0.8)
            state = driver.execute_script(
                "const a = document.getElementById('left-media'), b = document.getElementById('right-media');"
                "return [a.paused, b.paused, a.currentTime, b.currentTime];")
            assert state[:2] == [False, False] and abs(state[2] - state[3]) < 0.25
        before = _answered(driver)
        ActionChains(driver).send_keys(keys[choice]).perform()
        WebDriverWait(driver, 10).until(lambda d: _answered(d) == before + 1)
        given[pid] = choice

    done = driver.find_element(By.ID, "done-screen")
    assert done.is_displayed() and f"All {total} pairs answered" in done.text
    driver.find_element(By.ID, "download-done").click()
    target = downloads / "responses-ann_b.csv"
    deadline = time.time() + 15
    def finished() -> bool:  # Chrome may create the file before it writes it
        return (target.exists() and target.stat().st_size > 0
                and not any(p.suffix == ".crdownload" for p in downloads.iterdir()))
    while time.time() < deadline and not finished():
        time.sleep(0.1)
    time.sleep(0.2)
    assert target.exists(), f"no download; found {list(downloads.iterdir())}"

    got = pd.read_csv(target, dtype=str)
    assert list(got.columns) == ["rater", "pair_id", "choice"]
    assert set(got["rater"]) == {RATER} and len(got) == total
    assert dict(zip(got["pair_id"], got["choice"])) == given

    res = score_study(study, [target], min_attention=0.8, n_boot=100)
    assert res.excluded == []
    by = {(c["a"], c["b"]): c for c in res.comparisons}
    assert by[(RUN_A, RUN_B)]["a_preferred"] == 100.0 and by[(RUN_A, RUN_B)]["n"] == 2
    assert by[(RUN_A, REAL)]["a_preferred"] == 100.0
    assert (by[(RUN_B, REAL)]["ties"], by[(RUN_B, REAL)]["n"], by[(RUN_B, REAL)]["a_wins"]) == (1, 1, 0)
    assert [r["method"] for r in res.ranking][0] == RUN_A


def test_page_plays_from_a_local_folder(study, browser):
    """file:// works too (no fetch: the pair list is inside index.html)."""
    driver, _ = browser
    driver.get((study / "index.html").as_uri())
    driver.find_element(By.ID, "rater-input").send_keys("local")
    driver.find_element(By.ID, "start-button").click()
    _wait_media(driver)
    assert driver.find_element(By.ID, "question").text == "Which video looks more realistic?"
    assert driver.find_element(By.ID, "choose-tie").is_displayed()
    driver.find_element(By.ID, "choose-right").click()
    WebDriverWait(driver, 10).until(lambda d: _answered(d) == 1)
    assert driver.find_element(By.ID, "progress").text.startswith("Pair 2 of 7")
