"""The console in a real browser (Debian's headless Chromium) against the real tenant, broker,
ingester and simulated kiosk processes (tests/e2e/rig.py): what a curator, a technician and a
curator of another site do on an ordinary day, with hostile text in a title and a note."""

from __future__ import annotations

from pathlib import Path

from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tenant.roles import Role
from tests.console.browser import Page, chromium
from tests.e2e.rig import SLUG, E2EKiosk, Rig
from tests.support.broker import SecuredBroker
from tests.tenant.staff_support import PASSWORD, add_user

HOSTILE_NOTE = "<script>alert('note')</script> & <b>not bold</b>"


def no_alert(page: Page) -> None:
    try:
        page.driver.switch_to.alert.dismiss()
    except NoAlertPresentException:
        return
    raise AssertionError("a script ran")


def test_a_day_at_the_console(
    tmp_path: Path, dynsec_broker: SecuredBroker, short_tracks: list[Path],
    flac_files: list[Path], database_url: str,
) -> None:  # fmt: skip
    rig = Rig(tmp_path, dynsec_broker, short_tracks, database_url=database_url)
    try:
        add_user(rig.tenant, "carla", Role.CURATOR, ("centre",))
        add_user(rig.tenant, "anna", Role.CURATOR, ("annexe",))
        add_user(rig.tenant, "theo", Role.TECHNICIAN)
        hall = rig.kiosk("hall")
        hall_id = rig.claim(hall)
        with chromium(tmp_path / "profile") as driver:
            page = Page(driver, rig.tenant.url(SLUG) + "/console/")
            curator_day(page, rig, hall, hall_id, flac_files)
            technician_day(page, rig)
            other_curator(page, hall_id)
    finally:
        rig.close()


def curator_day(page: Page, rig: Rig, hall: E2EKiosk, hall_id: str, files: list[Path]) -> None:
    page.sign_in("carla", PASSWORD)
    page.open("tracks")
    page.find("#files").send_keys("\n".join(str(f) for f in files))
    uploaded = "#uploads li[data-done]"
    page.wait(lambda d: len(d.find_elements(By.CSS_SELECTOR, uploaded)) == 2)
    done = page.all(uploaded)
    track_ids = {li.get_attribute("data-done") for li in done}
    [hostile] = [li.get_attribute("data-done") for li in done if "<script>" in li.text]
    page.open("tracks")
    assert "<script>alert(1)</script>" in page.text()  # the hostile title, as text
    no_alert(page)

    page.open("playlists/new")
    page.find("#pl-id").send_keys("evening")
    page.find("#pl-title").send_keys("Evening <i>session</i>")
    page.find("#pl-note").send_keys(HOSTILE_NOTE)
    for track_id in track_ids:
        page.find(f'#available input[value="{track_id}"]').click()
    page.find('input[name="sites"][value="centre"]').click()
    page.find("#save-playlist").click()
    page.wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".notice"))
    chosen = [li.get_attribute("data-track") for li in page.all("#chosen li")]
    assert set(chosen) == track_ids
    if chosen[0] != hostile:  # reorder (works without JavaScript), then save
        page.find(f'#chosen li[data-track="{hostile}"] button[name="up"]').click()
        page.wait(
            lambda d: d.find_elements(
                By.CSS_SELECTOR, f'#chosen li[data-track="{hostile}"]:first-child'
            )
        )
        page.find("#save-playlist").click()
        page.wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".notice"))
    assert page.find("#chosen li").get_attribute("data-track") == hostile
    assert page.find("#playlist-note").text == HOSTILE_NOTE
    assert page.find("#playlist-title").text == "Evening <i>session</i>"
    no_alert(page)

    page.open("sites/centre")
    Select(page.find("#push-featured")).select_by_value("evening")
    page.find("#push").click()
    page.wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".notice"))

    page.open("kiosks")  # the board follows the rollout without a reload
    row = f'#kiosk-{hall_id} td.rollout[data-rollout="applied"]'
    page.wait(lambda d: d.find_elements(By.CSS_SELECTOR, row), 60)
    assert page.driver.execute_script("return performance.navigation.type") == 0

    hall.wait_until(lambda s: s["playlist_id"] == "evening", 30, "the new featured playlist")
    assert hall.client is not None
    hall.client.send(cmd="tap", button="play")
    playing = f"#kiosk-{hall_id} td.playing"
    page.wait(
        lambda d: "<script>alert(1)</script>" in d.find_element(By.CSS_SELECTOR, playing).text, 60
    )
    no_alert(page)

    def counted(d: object) -> bool:
        page.open("reports?by=track")
        return page.find("#total-plays").text not in ("0", "")

    page.wait(counted, 90)
    assert "<script>alert(1)</script>" in page.find("#report").text
    no_alert(page)
    page.sign_out()


def technician_day(page: Page, rig: Rig) -> None:
    annexe = rig.kiosk("annexe-1")
    annexe.boot()
    annexe.wait_until(lambda s: s["claim_code"] is not None, 30, "a claim code")
    page.sign_in("theo", PASSWORD)
    page.open("kiosks")
    page.find("#claim-code").send_keys(annexe.status()["claim_code"])
    page.find("#claim-site").send_keys("annexe")
    page.find("#claim-name").send_keys("Annexe, entrance")
    page.find("#claim").click()
    page.wait(lambda d: d.find_elements(By.CSS_SELECTOR, ".notice"))
    [device] = [d for d in rig.store.list_devices(SLUG) if d.name == "Annexe, entrance"]
    rig.wait_status(device.device_id, lambda s: s.online is True, "online", 60)
    page.open("kiosks")
    page.find(f"#manage-{device.device_id} summary").click()
    page.find(f"#identify-{device.device_id}").click()
    page.wait(lambda d: d.find_elements(By.CSS_SELECTOR, '#command-state[data-done="yes"]'), 60)
    assert "ok" in page.find("#command-state").text
    page.sign_out()


def other_curator(page: Page, hall_id: str) -> None:
    page.sign_in("anna", PASSWORD)
    page.open("kiosks")
    assert not page.all(f"#kiosk-{hall_id}")  # a kiosk of centre
    assert "Annexe, entrance" in page.text()
    page.open("playlists")
    assert "evening" not in page.text()
    for url in ("sites/centre", "playlists/evening"):
        page.open(url)
        assert page.find("#error").text, url
        assert "centre" not in page.find("nav").text
    page.open("audit")
    assert page.find("#error").text  # not a curator's page
