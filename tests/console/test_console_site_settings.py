"""The Sites page's settings over real HTTP, with a broker and a claimed kiosk: time zone and
behaviour when closed through `site_settings.save` (the network administrator's, as the API's
PUT), screen language, autoplay and idle timeout through the push; a refused value is shown
next to its field; each change leaves the service function's audit row; a curator of another
site reaches neither the page nor its forms."""

from __future__ import annotations

import json

import pytest

from tenant.broker.settings import save_broker_settings
from tenant.store import TenantStore
from tests.console.conftest import PASSWORD
from tests.console.support import ConsoleSession
from tests.support.broker import SecuredBroker
from tests.support.tenant import RunningTenant
from tests.tenant.conftest import MovableClock, claimed

SLUG = "lib-a"


def signed_in(service: RunningTenant, username: str) -> ConsoleSession:
    session = ConsoleSession(service)
    assert session.sign_in(username, PASSWORD).status_code == 303
    return session


def audit_rows(service: RunningTenant, action: str) -> list[tuple[str, str, object]]:
    store = TenantStore(service.database_url)
    try:
        return [(e.actor, e.object_id, json.loads(e.after or "null"))
                for e in store.audit_entries(SLUG) if e.action == action]  # fmt: skip
    finally:
        store.close()


@pytest.fixture
def kiosk_at_centre(service: RunningTenant, dynsec_broker: SecuredBroker) -> str:
    save_broker_settings(service.data_dir, dynsec_broker.settings)
    service.restart()  # now with its broker connection
    return claimed(service, MovableClock(), "centre").device_id


def test_time_zone_and_when_closed_are_the_network_administrator_s(
    service: RunningTenant, kiosk_at_centre: str
) -> None:
    nadia = signed_in(service, "nadia")
    assert 'id="settings-timezone"' in nadia.get("sites/centre").text
    bad = nadia.post("sites/centre/settings", {"timezone": "Mars/Olympus", "when_closed": ""})
    assert bad.status_code == 422
    assert '<span class="field-error" id="timezone-error">' in bad.text
    assert "timezone: &#39;Mars/Olympus&#39; is not an IANA time zone" in bad.text
    assert 'value="Mars/Olympus"' in bad.text  # given back to correct
    assert audit_rows(service, "site.settings") == []
    paris = {"timezone": "Europe/Paris", "when_closed": "refuse"}
    saved = nadia.post("sites/centre/settings", paris, allow_redirects=False)
    assert saved.status_code == 303, saved.text
    assert audit_rows(service, "site.settings") == [
        ("nadia", "centre", {"timezone": "Europe/Paris", "when_closed": "refuse"})
    ]
    page = nadia.get("sites/centre").text
    assert 'value="Europe/Paris"' in page and '<option value="refuse" selected>' in page
    wrong = nadia.post("sites/centre/settings", {"timezone": "", "when_closed": "sometimes"})
    assert wrong.status_code == 422 and 'id="when_closed-error"' in wrong.text

    carla = signed_in(service, "carla")  # centre's curator: reads them, as the API lets her
    page = carla.get("sites/centre").text
    assert "Europe/Paris" in page and 'id="settings-timezone"' not in page
    assert carla.post("sites/centre/settings", {"timezone": "UTC"}).status_code == 403


def test_language_autoplay_and_idle_timeout_are_pushed_to_the_site_s_kiosks(
    service: RunningTenant, kiosk_at_centre: str
) -> None:
    carla = signed_in(service, "carla")
    bad = carla.post("sites/centre/push", {"idle_timeout": "0", "language": "fr"})
    assert bad.status_code == 422
    assert 'id="idle_timeout-error"' in bad.text and "idle_timeout_s:" in bad.text
    assert audit_rows(service, "device.push") == []
    pushed = carla.post(
        "sites/centre/push", {"language": "fr", "autoplay": "true", "idle_timeout": "120"},
        allow_redirects=False,
    )  # fmt: skip
    assert pushed.status_code == 303, pushed.text
    [(actor, device, after)] = audit_rows(service, "device.push")
    assert (actor, device) == ("carla", kiosk_at_centre)
    assert isinstance(after, dict)
    assert (after["language"], after["autoplay"], after["idle_timeout_s"]) == ("fr", True, 120)
    page = carla.get("sites/centre", params={"lang": "fr"}).text
    assert "(inchangé: fr)" in page and "(inchangé: activée)" in page

    anna = signed_in(service, "anna")  # annexe's curator
    assert anna.get("sites/centre").status_code == 404
    assert anna.post("sites/centre/push", {"language": "en"}).status_code == 404
    assert anna.post("sites/centre/settings", {"timezone": "UTC"}).status_code == 403
    assert len(audit_rows(service, "device.push")) == 1
