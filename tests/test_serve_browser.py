"""The web page in a real headless browser (Debian's chromium + chromium-driver, driven by selenium):
load the page, pick or upload a query picture, box the person, search, see the hits."""

import shutil
import socket
import threading
import time

import pytest

pytest.importorskip("fastapi")
webdriver = pytest.importorskip("selenium.webdriver")
uvicorn = pytest.importorskip("uvicorn")

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.select import Select  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from personsearch.serve.app import create_app  # noqa: E402
from serve_fixtures import fake_service, paint_gallery, text_checkpoint  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver (apt-get install)"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(tmp_path, request):
    gallery = paint_gallery(tmp_path)
    text_searcher = None
    if getattr(request, "param", None) == "text":
        from personsearch.api import TextSearcher

        text_searcher = TextSearcher(checkpoint=text_checkpoint(tmp_path / "text.pth"), device="cpu", progress=False)
        text_searcher.index(gallery)
    port = _free_port()
    config = uvicorn.Config(create_app(fake_service(gallery, text_searcher=text_searcher)), host="127.0.0.1",
                            port=port, log_level="warning")
    app_server = uvicorn.Server(config)
    thread = threading.Thread(target=app_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not app_server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", tmp_path
    app_server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _hits(browser) -> list[tuple[str, str]]:
    figures = WebDriverWait(browser, 20).until(
        expected_conditions.presence_of_all_elements_located((By.CSS_SELECTOR, "#hits figure.hit"))
    )
    return [(figure.get_attribute("data-rank"), figure.get_attribute("data-picture")) for figure in figures]


def test_pick_a_gallery_picture_drag_a_box_and_see_the_hits(server, browser):
    url, _ = server
    browser.get(url)
    wait = WebDriverWait(browser, 20)
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#gallery-picture option")) == 3)
    assert "2 pictures" in browser.find_element(By.ID, "facts").text
    assert browser.find_element(By.ID, "text-panel").is_displayed() is False
    Select(browser.find_element(By.ID, "gallery-picture")).select_by_value("b.png")
    # b.png is 64x48: blue left half, red right half; the canvas shows it 4x
    wait.until(lambda b: b.find_element(By.ID, "query-canvas").get_attribute("width") == "256")
    canvas = browser.find_element(By.ID, "query-canvas")
    width, height = canvas.size["width"], canvas.size["height"]
    # drag over the red person, from inside the right half near its top-left to near its bottom-right
    (ActionChains(browser)
     .move_to_element_with_offset(canvas, int(width * 0.05), int(-height * 0.4))
     .click_and_hold()
     .move_to_element_with_offset(canvas, int(width * 0.45), int(height * 0.45))
     .release()
     .perform())  # fmt: skip
    x1 = float(browser.find_element(By.ID, "box-x1").get_attribute("value"))
    x2 = float(browser.find_element(By.ID, "box-x2").get_attribute("value"))
    assert 32 <= x1 < x2 <= 64
    browser.find_element(By.ID, "top-k").clear()
    browser.find_element(By.ID, "top-k").send_keys("3")
    browser.find_element(By.ID, "search-button").click()
    hits = _hits(browser)
    assert hits[0] == ("1", "b.png") and len(hits) == 3
    assert "3 hits" in browser.find_element(By.ID, "results-title").text
    caption = browser.find_element(By.CSS_SELECTOR, "#hits figure.hit figcaption").text
    assert caption.startswith("#1") and "similarity" in caption
    # the hit's scene was drawn: its canvas took the scene's proportions (64x48 -> 260x195)
    wait.until(lambda b: b.find_element(By.CSS_SELECTOR, "#hits figure.hit > canvas").get_attribute("height") == "195")
    # and the person enlarged beside the caption: the 32x48 box at 96 pixels high
    assert browser.find_element(By.CSS_SELECTOR, "#hits figure.hit canvas.crop").get_attribute("width") == "64"


def test_upload_a_picture_type_a_box_and_see_errors_then_hits(server, browser):
    url, root = server
    browser.get(url)
    wait = WebDriverWait(browser, 20)
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#gallery-picture option")) == 3)
    browser.find_element(By.ID, "upload").send_keys(str(root / "query.png"))  # 80x60: red left, green right
    wait.until(lambda b: b.find_element(By.ID, "query-canvas").get_attribute("height") == "240")
    for name, value in zip(("box-x1", "box-y1", "box-x2", "box-y2"), ("2", "2", "380", "58")):
        browser.find_element(By.ID, name).send_keys(value)
    browser.find_element(By.ID, "search-button").click()
    wait.until(lambda b: "outside the query image" in b.find_element(By.ID, "status").text)
    browser.find_element(By.ID, "box-x2").clear()
    browser.find_element(By.ID, "box-x2").send_keys("38")
    browser.find_element(By.ID, "search-button").click()
    assert _hits(browser)[0] == ("1", "b.png")
    assert browser.find_element(By.ID, "status").text == ""


@pytest.mark.parametrize("server", ["text"], indirect=True)
def test_search_by_description(server, browser):
    url, _ = server
    browser.get(url)
    wait = WebDriverWait(browser, 20)
    wait.until(lambda b: b.find_element(By.ID, "text-panel").is_displayed())
    browser.find_element(By.ID, "text-search-button").click()
    wait.until(lambda b: "Type a description first" in b.find_element(By.ID, "status").text)
    browser.find_element(By.ID, "description").send_keys("a man in a red coat")
    browser.find_element(By.ID, "text-search-button").click()
    assert sorted(picture for _, picture in _hits(browser)) == ["a.png", "b.png"]
    assert '"a man in a red coat"' in browser.find_element(By.ID, "results-title").text
