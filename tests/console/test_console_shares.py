"""Several rights holders for a track over real HTTP: the network administrator's page saves
them through the payouts API's handler (its audit row), shares that do not add up to 100 %
are refused with its message and nothing is written; a curator reaches neither page nor form."""

from __future__ import annotations

from pathlib import Path

from tests.console.conftest import PASSWORD
from tests.console.support import ConsoleSession
from tests.support.tenant import RunningTenant

SLUG = "lib-a"


def signed_in(service: RunningTenant, username: str) -> ConsoleSession:
    session = ConsoleSession(service)
    assert session.sign_in(username, PASSWORD).status_code == 303
    return session


def test_the_administrator_splits_a_track_between_holders_that_add_up_to_100(
    service: RunningTenant, flac_files: list[Path]
) -> None:
    nadia = signed_in(service, "nadia")
    track = nadia.upload("quiet.flac", flac_files[1].read_bytes()).json()["id"]
    admin = service.admin(SLUG)
    for holder, name in (("brume", "Duo Brume"), ("soleil", "Soleil")):
        admin.payouts("POST", "/holders", json={"id": holder, "name": name})
    assert f'id="shares-{track}"' in nadia.get("tracks").text
    page = nadia.get(f"tracks/{track}/shares")
    assert page.status_code == 200 and page.text.count('name="percent"') == 3

    rows = {"holder": ["brume", "soleil", ""], "percent": ["60", "39,5", ""]}
    short = nadia.post(f"tracks/{track}/shares", rows)
    assert short.status_code == 422
    assert "shares add up to 99.50 %, not 100 %" in short.text
    assert 'value="39,5"' in short.text  # given back to correct
    assert admin.payouts("GET", "/shares", params={"track": track}) == []
    half = nadia.post(f"tracks/{track}/shares", {"holder": ["brume"], "percent": [""]})
    assert half.status_code == 422 and "row 1: name the rights holder" in half.text

    rows = {"holder": ["brume", "soleil"], "percent": ["60", "40"]}
    saved = nadia.post(f"tracks/{track}/shares", rows, allow_redirects=False)
    assert saved.status_code == 303, saved.text
    shares = admin.payouts("GET", "/shares", params={"track": track})
    assert {(s["holder"], s["basis_points"]) for s in shares} == {("brume", 6000), ("soleil", 4000)}
    again = nadia.get(f"tracks/{track}/shares").text
    assert 'value="60"' in again and 'value="40"' in again
    audit = admin.call("GET", "/audit")
    assert [e["actor"] for e in audit if e["action"] == "shares.set"] == ["nadia"]

    carla = signed_in(service, "carla")
    assert f'id="shares-{track}"' not in carla.get("tracks").text
    assert carla.get(f"tracks/{track}/shares").status_code == 403
    refused = carla.post(f"tracks/{track}/shares", {"holder": ["brume"], "percent": ["100"]})
    assert refused.status_code == 403
