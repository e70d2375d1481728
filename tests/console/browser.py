"""Debian's headless Chromium driven by Selenium: nothing is downloaded at run time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from demo.console_tour import browser_problem
from demo.console_tour import chromium as demo_chromium

T = TypeVar("T")


@contextmanager
def chromium(profile: Path) -> Iterator[webdriver.Chrome]:
    """The demo's browser (demo/console_tour.py); skipped without Debian's packages."""
    problem = browser_problem()
    if problem is not None:
        pytest.skip(problem)
    with demo_chromium(profile) as driver:
        yield driver


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
        """`what` once true; on a timeout the error shows the page as it was. The board redraws
        its rows live, so an element found a moment ago may be gone: that is asked again."""
        redrawn = (StaleElementReferenceException, NoSuchElementException)
        try:
            return WebDriverWait(
                self.driver, seconds, poll_frequency=0.2, ignored_exceptions=redrawn
            ).until(what)
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
