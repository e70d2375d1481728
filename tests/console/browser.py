"""Debian's headless Chromium driven by Selenium: nothing is downloaded at run time."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1280,900",
)  # fmt: skip
T = TypeVar("T")


@contextmanager
def chromium(profile: Path) -> Iterator[webdriver.Chrome]:
    """A fresh browser with its own profile folder; skipped without Debian's packages."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("apt-get install chromium chromium-driver (scripts/lib/setup.sh does)")
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


class Page:
    """The browser on one tenant's console."""

    def __init__(self, driver: webdriver.Chrome, base: str) -> None:
        self.driver = driver
        self.base = base  # …/t/lib-a/console/

    def open(self, page: str) -> None:
        self.driver.get(self.base + page)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self) -> str:
        return self.find("body").text

    def wait(self, what: Callable[[webdriver.Chrome], T], seconds: float = 30) -> T:
        """`what` once true; on a timeout the error shows the page as it was."""
        try:
            return WebDriverWait(self.driver, seconds, poll_frequency=0.2).until(what)
        except TimeoutException:
            raise AssertionError(
                f"timed out on {self.driver.current_url}:\n{self.text()}"
            ) from None

    def sign_in(self, username: str, password: str) -> None:
        self.open("signin")
        self.find("#username").send_keys(username)
        self.find("#password").send_keys(password)
        self.find("#signin").click()
        self.wait(lambda d: d.find_elements(By.ID, "whoami"))

    def sign_out(self) -> None:
        self.find("form.signout button").click()
        self.wait(lambda d: d.find_elements(By.ID, "signin"))
