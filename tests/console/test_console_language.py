"""The console's language kept on the staff account (staff_users.language, revision 0008):
saved from the person's page with an audit row, set again at every sign-in on any browser,
blank gives the browser's language back; a language the console does not speak is named."""

from __future__ import annotations

import json

from tenant.store import TenantStore
from tests.console.conftest import PASSWORD
from tests.console.support import ConsoleSession
from tests.support.tenant import RunningTenant

SLUG = "lib-a"


def signed_in(service: RunningTenant, username: str) -> ConsoleSession:
    session = ConsoleSession(service)
    session.http.headers["Accept-Language"] = "en-GB,en;q=0.9"
    assert session.sign_in(username, PASSWORD).status_code == 303
    return session


def saved_language(service: RunningTenant, username: str) -> str | None:
    store = TenantStore(service.database_url)
    try:
        user = store.get_user(SLUG, username)
        assert user is not None
        return user.language
    finally:
        store.close()


def test_a_language_saved_on_the_account_follows_the_person_to_another_browser(
    service: RunningTenant,
) -> None:
    office = signed_in(service, "theo")
    assert '<html lang="en">' in office.get("kiosks").text
    page = office.get("profile")
    assert page.status_code == 200 and 'id="profile-language"' in page.text
    refused = office.post("profile", {"language": "de"})
    assert refused.status_code == 422
    assert 'id="language-error"' in refused.text and "language: &#39;de&#39;" in refused.text
    assert saved_language(service, "theo") is None
    saved = office.post("profile", {"language": "fr"}, allow_redirects=False)
    assert saved.status_code == 303
    assert saved_language(service, "theo") == "fr"
    assert '<html lang="fr">' in office.get("kiosks").text

    branch = signed_in(service, "theo")  # another computer, an English browser, no cookie
    assert '<html lang="fr">' in branch.get("kiosks").text
    assert '<option value="fr" lang="fr" selected>' in branch.get("profile").text
    others = signed_in(service, "carla")  # nobody else's language changed
    assert '<html lang="en">' in others.get("playlists").text

    assert branch.post("profile", {"language": ""}, allow_redirects=False).status_code == 303
    assert saved_language(service, "theo") is None
    assert '<html lang="en">' in signed_in(service, "theo").get("kiosks").text

    store = TenantStore(service.database_url)
    try:
        entries = [e for e in store.audit_entries(SLUG) if e.action == "user.language"]
    finally:
        store.close()
    rows = [(e.actor, e.object_id, json.loads(e.before or "null"), json.loads(e.after or "null"))
            for e in entries]  # fmt: skip
    assert rows == [
        ("theo", "theo", {"language": None}, {"language": "fr"}),
        ("theo", "theo", {"language": "fr"}, {"language": None}),
    ]
