"""The console over real HTTP: sign-in and its cookie, CSRF, every console route x every role
(from the route table, as tests/tenant/test_authorization.py does for bearer tokens), a
curator's sites, uploads through the same service functions, hostile text, the CSV."""

from __future__ import annotations

import csv
import io
import re
from io import BytesIO
from pathlib import Path

import requests
from PIL import Image, ImageChops

from device.display.model import AttractScreen
from device.display.render import render
from tenant.roles import ROUTES, Role, allowed
from tenant.store import AuditEntry, TenantStore
from tenant.web.i18n import Translator
from tenant.web.reports import csv_for_spreadsheet, neutralise
from tests.console.conftest import PASSWORD
from tests.console.support import ConsoleSession
from tests.support.tenant import RunningTenant

USERS = {Role.NETWORK_ADMIN: "nadia", Role.CURATOR: "carla", Role.TECHNICIAN: "theo",
         Role.REPORTS: "rita"}  # fmt: skip


def signed_in(service: RunningTenant, username: str) -> ConsoleSession:
    session = ConsoleSession(service)
    assert session.sign_in(username, PASSWORD).status_code == 303
    return session


def audit(service: RunningTenant) -> list[AuditEntry]:
    store = TenantStore(service.database_url)
    try:
        return list(store.audit_entries("lib-a"))
    finally:
        store.close()


def test_sign_in_sets_a_safe_cookie_and_sign_out_ends_the_session(service: RunningTenant) -> None:
    session = ConsoleSession(service)
    page = session.get("kiosks", allow_redirects=False)
    assert page.status_code == 303 and "/console/signin?next=" in page.headers["location"]

    wrong = session.sign_in("carla", "not her password")
    assert wrong.status_code == 401 and "wrong username or password" in wrong.text
    unknown = session.sign_in("nobody", "not her password")
    assert unknown.status_code == 401 and "wrong username or password" in unknown.text

    answer = session.sign_in("carla", PASSWORD)
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/t/lib-a/console" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over TLS the cookie is Secure
    board = session.get("kiosks")
    assert board.status_code == 200 and ">carla<" in board.text
    assert 'href="/t/lib-a/console/audit"' not in board.text  # not in a curator's menu
    assert 'href="/t/lib-a/console/reports"' in board.text

    assert session.post("signout", allow_redirects=False).status_code == 303
    assert session.http.get(session.base + "kiosks", allow_redirects=False).status_code == 303
    actions = [(e.actor, e.action) for e in audit(service)]
    assert ("login:127.0.0.1", "login.refused") in actions
    assert ("carla", "token.revoke") in actions


def test_a_form_without_its_csrf_token_is_refused(service: RunningTenant) -> None:
    session = signed_in(service, "theo")
    session.csrf = "0" * 40
    answer = session.post("kiosks/claim", {"code": "ABCD-EFGH", "site": "centre"})
    assert answer.status_code == 403 and "form has expired" in answer.text
    session.get("kiosks")
    answer = session.post("kiosks/claim", {"code": "ABCD-EFGH", "site": "centre"})
    assert answer.status_code == 404 and "unknown or expired claim code" in answer.text


def test_every_console_route_answers_what_the_route_table_says_for_every_role(
    service: RunningTenant,
) -> None:
    sessions = {role: signed_in(service, name) for role, name in USERS.items()}
    wrong = []
    for key in (k for k in ROUTES if k.split(" ")[1].startswith("/console/")):
        method, path = key.split(" ", 1)
        page = re.sub(r"\{\w+\}", "nothing", path.removeprefix("/console/"))
        if key == "POST /console/signout":
            continue  # would end the session; tested above
        for role, session in sessions.items():
            if method == "GET":
                status = session.get(page, allow_redirects=False).status_code
            else:
                status = session.post(page, allow_redirects=False).status_code
            ok = status not in (401, 403) if allowed(key, role) else status == 403
            if not ok:
                wrong.append(f"{key} as {role.value}: {status}")
    assert not wrong, "\n".join(wrong)


def test_a_curator_sees_and_touches_only_her_sites(
    service: RunningTenant, flac_files: list[Path]
) -> None:
    carla = signed_in(service, "carla")
    answer = carla.upload("quiet.flac", flac_files[1].read_bytes())
    assert answer.status_code == 200, answer.text
    track = answer.json()["id"]
    saved = carla.post(
        "playlists",
        {"id": "morning", "title": "Morning", "note": "Calm", "add": [track], "sites": ["centre"]},
        allow_redirects=False,
    )
    assert saved.status_code == 303, saved.text

    anna = signed_in(service, "anna")
    assert "Morning" not in anna.get("playlists").text
    assert anna.get("playlists/morning").status_code == 404
    assert anna.get("sites/centre").status_code == 404
    assert "centre" not in anna.get("sites").text
    assert anna.post("sites/centre/push", {"featured": "morning"}).status_code == 404
    hijack = anna.post("playlists", {"id": "morning", "title": "Mine", "tracks": [track]})
    assert hijack.status_code == 404
    give = anna.post("playlists", {"id": "other", "title": "O", "tracks": [track],
                                   "sites": ["centre"]})  # fmt: skip
    assert give.status_code == 403 and "anna curates annexe, not centre" in give.text
    assert carla.get("playlists/morning").status_code == 200


def test_uploads_register_tracks_as_admin_import_and_hostile_text_stays_text(
    service: RunningTenant, flac_files: list[Path]
) -> None:
    carla = signed_in(service, "carla")
    ids = []
    for path in flac_files:
        answer = carla.upload(path.name, path.read_bytes())
        assert answer.status_code == 200, answer.text
        ids.append(answer.json()["id"])
    assert carla.upload("noise.flac", b"not audio at all").status_code == 422
    again = carla.upload(flac_files[0].name, flac_files[0].read_bytes())
    assert again.json()["id"] == ids[0]  # the same file is the same track
    [hostile] = [t for t in service.admin("lib-a").tracks() if t["id"] == ids[0]]
    assert (hostile["title"], hostile["isrc"]) == ("<script>alert(1)</script>", "FRZ032600101")
    actions = [(e.actor, e.action) for e in audit(service)]
    assert ("carla", "media.upload") in actions and ("carla", "track.import") in actions

    note = "<img src=x onerror=alert(2)> & more"
    carla.post("playlists", {"id": "p1", "title": "<b>bold</b>", "note": note, "add": ids,
                             "sites": ["centre"]})  # fmt: skip
    for page in ("tracks", "playlists", "playlists/p1"):
        html = carla.get(page).text
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in carla.get("tracks").text
    assert "&lt;img src=x onerror=alert(2)&gt; &amp; more" in carla.get("playlists/p1").text


def test_the_csv_opens_in_a_french_spreadsheet_and_runs_no_formula() -> None:
    data = csv_for_spreadsheet(
        ["isrc", "artist", "title", "plays"],
        [["FRZ032600101", '=HYPERLINK("x")', "Les Sœurs; « live »", 3], ["", "@a", "-1", "+2"]],
    )
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[1] == ["FRZ032600101", '\'=HYPERLINK("x")', "Les Sœurs; « live »", "3"]
    assert rows[2] == ["", "'@a", "'-1", "'+2"]
    assert neutralise(None) == "" and neutralise("safe") == "safe"


def test_the_report_page_and_csv_answer_for_curators_and_readers(service: RunningTenant) -> None:
    rita = signed_in(service, "rita")
    assert rita.get("reports?by=day").status_code == 200
    page = rita.get("reports?by=artist")
    assert page.status_code == 200 and 'id="total-plays">0<' in page.text
    answer = rita.get("reports.csv?by=track&from=2026-01-01&to=2026-12-31")
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith("\ufeffkey;isrc;artist;title".encode())
    assert rita.get("reports?by=nonsense").status_code == 422


def test_a_bearer_token_is_not_a_session_and_needs_no_csrf(service: RunningTenant) -> None:
    token = service.admin_token("lib-a")
    base = f"{service.service_url}/t/lib-a/console/"
    answer = requests.get(base + "audit", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200 and "tenant.init" in answer.text
    assert requests.get(base + "audit", timeout=30).status_code == 401


def test_french_or_english_per_person_with_their_dates_and_numbers(service: RunningTenant) -> None:
    theo = signed_in(service, "theo")
    assert '<html lang="en">' in theo.get("kiosks").text
    theo.http.headers["Accept-Language"] = "fr-FR,fr;q=0.9"
    page = theo.get("kiosks").text
    assert '<html lang="fr">' in page and "Rattacher une borne" in page and ">Bornes<" in page
    theo.get("kiosks?lang=en")  # the person's choice wins over the browser's
    assert "Claim a kiosk" in theo.get("kiosks").text

    fr, en = Translator("fr"), Translator("en")
    assert fr.number(1234567) == "1\u202f234\u202f567" and en.number(1234567) == "1,234,567"
    moment = 1_783_000_000_000  # 2026-07-02 13:46:40 UTC
    assert fr.datetime(moment) == "02/07/2026 13:46 UTC"
    assert en.datetime(moment) == "02/07/2026, 13:46 UTC"
    assert fr("Kiosks") == "Bornes" and fr("not in the catalogue") == "not in the catalogue"


def test_the_note_preview_is_the_kiosk_s_own_drawing(
    service: RunningTenant, flac_files: list[Path]
) -> None:
    carla = signed_in(service, "carla")
    track = carla.upload("quiet.flac", flac_files[1].read_bytes()).json()["id"]
    title, note = "Jazz à l'œuvre", "Un long texte de présentation " * 6
    carla.post("playlists", {"id": "jazz", "title": title, "note": note, "add": [track],
                             "sites": ["centre"]})  # fmt: skip
    assert 'src="/t/lib-a/console/playlists/jazz/preview.png' in carla.get("playlists/jazz").text
    answer = carla.get("playlists/jazz/preview.png")
    assert answer.headers["content-type"] == "image/png"
    sheet = Image.open(BytesIO(answer.content)).convert("L")
    w, h = 128 * 3, 64 * 3
    assert sheet.width == w and (sheet.height + 4) % (h + 4) == 0
    pages = (sheet.height + 4) // (h + 4)
    assert pages >= 2  # a long note pages, as on the kiosk
    for number in range(pages):
        kiosk = render(AttractScreen(title, note, language="en"), elapsed_s=number * 6.0)
        expected = kiosk.convert("L").resize((w, h), Image.Resampling.NEAREST)
        shown = sheet.crop((0, number * (h + 4), w, number * (h + 4) + h))
        assert ImageChops.difference(shown, expected).getbbox() is None, f"page {number + 1}"
    assert signed_in(service, "anna").get("playlists/jazz/preview.png").status_code == 404


def test_a_curator_retires_a_track_through_the_api_s_function(
    service: RunningTenant, flac_files: list[Path]
) -> None:
    carla = signed_in(service, "carla")
    track = carla.upload("quiet.flac", flac_files[1].read_bytes()).json()["id"]
    assert f'id="retire-{track}"' in carla.get("tracks").text
    answer = carla.post(f"tracks/{track}/retire", allow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].endswith("?done=Retired.")
    page = carla.get("tracks").text
    assert f'id="retire-{track}"' not in page and ">retired<" in page
    assert ("carla", "track.retire") in [(e.actor, e.action) for e in audit(service)]
    assert carla.post("tracks/trk-0000000000000000/retire").status_code == 404
