"""Screenshot of the web app after a search, for docs/serve.md (headless Debian chromium).

    python scripts/screenshot_serve.py [--out docs/serve.png] [--scenes 24]

Writes gallery scenes of a synthetic demo world (seed 1, unseen by the shipped model) to a
temporary folder, serves them with the shipped model, picks one scene as the query, types the
box of its tallest fully visible person, searches and saves the page.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs/serve.png"))
    parser.add_argument("--scenes", type=int, default=24)
    args = parser.parse_args()

    import uvicorn
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.ui import WebDriverWait

    from personsearch.commands.search import default_checkpoint
    from personsearch.data.synth.world import SynthWorld
    from personsearch.serve.app import create_app
    from personsearch.serve.service import SearchService

    with tempfile.TemporaryDirectory(prefix="personsearch-screenshot-") as folder:
        gallery = Path(folder) / "street_cameras"
        gallery.mkdir()
        world = SynthWorld(size="demo", seed=1)
        query_scene, query_box = None, None
        for i in range(args.scenes):
            scene = world.scene(i)
            name = f"cam{scene.camera + 1}_{scene.index:04d}.jpg"
            scene.image.save(gallery / name, quality=90)
            labelled = [p for p in scene.people if p.labelled and not p.truncated and p.occlusion < 0.2]
            if query_scene is None and labelled:
                tallest = max(labelled, key=lambda p: p.visible_box[3] - p.visible_box[1])
                query_scene, query_box = name, [int(v) for v in tallest.visible_box]
        service = SearchService.open(gallery, checkpoint=default_checkpoint(), progress=False)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(service), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium")
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1000"):
            options.add_argument(argument)
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
        try:
            driver.get(f"http://127.0.0.1:{port}/")
            wait = WebDriverWait(driver, 30)
            wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#gallery-picture option")) > args.scenes)
            Select(driver.find_element(By.ID, "gallery-picture")).select_by_value(query_scene)
            wait.until(lambda d: d.find_element(By.ID, "query-canvas").get_attribute("height") != "60")
            for name, value in zip(("box-x1", "box-y1", "box-x2", "box-y2"), query_box):
                driver.find_element(By.ID, name).send_keys(str(value))
            driver.find_element(By.ID, "top-k").clear()
            driver.find_element(By.ID, "top-k").send_keys("8")
            driver.find_element(By.ID, "search-button").click()
            wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#hits figure.hit")) == 8)
            time.sleep(1.5)  # the hits' scenes load and are drawn
            args.out.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(args.out))
        finally:
            driver.quit()
            server.should_exit = True
            thread.join(timeout=10)
    print(f"screenshot: {args.out}")


if __name__ == "__main__":
    main()
