"""The web console in the demo: Debian's headless Chromium signs in with a demo account and
saves screenshots of the board, a playlist and the report page (Selenium, nothing
downloaded: /usr/bin/chromium and /usr/bin/chromedriver from `apt-get install chromium
chromium-driver`). tests/console drives the same browser."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1280,900",
)  # fmt: skip


def browser_problem() -> str | None:
    """Why the console cannot be shown in a browser here, or None."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        return f"no {', '.join(missing)}: apt-get install chromium chromium-driver"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "no selenium in this Python: pip install selenium (the dev extra has it)"
    return None


@contextmanager
def chromium(profile: Path) -> Iterator[Any]:
    """A fresh headless Chromium with its own profile folder (a selenium WebDriver)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not fetch a browser or driver
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def screenshots(console_url: str, username: str, password: str, output: Path) -> list[Path]:
    """Sign in at `console_url` (…/t/SLUG/console/) and save the board, the first playlist
    and the report page as PNG files in `output`."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    saved = []
    with tempfile.TemporaryDirectory() as profile, chromium(Path(profile)) as driver:
        driver.get(console_url + "signin")
        driver.find_element(By.ID, "username").send_keys(username)
        driver.find_element(By.ID, "password").send_keys(password)
        driver.find_element(By.ID, "signin").click()
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.ID, "whoami"))
        driver.get(console_url + "playlists")
        links = driver.find_elements(By.CSS_SELECTOR, "#playlists a")
        playlist = links[0].get_attribute("href") if links else console_url + "playlists"
        for name, url in (
            ("console-board.png", console_url + "kiosks"),
            ("console-playlist.png", playlist),
            ("console-report.png", console_url + "reports?by=track"),
        ):
            driver.get(url)
            height = driver.execute_script("return document.body.scrollHeight")
            driver.set_window_size(1280, max(900, min(int(height) + 40, 4000)))
            path = output / name
            driver.save_screenshot(str(path))
            saved.append(path)
    return saved
