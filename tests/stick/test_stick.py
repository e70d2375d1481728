"""Technician sticks end to end: the privileged helper and the daemon's watcher, on real mounts.

Each test builds a stick as an ext4 image, attaches it to a loop device and runs the helper
(`device.stick.helper.attach`, as jukebox-stick@.service does) beside the daemon's
StickWatcher, which reads the helper's verdict and imports the pack into a real media cache.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from contract.media import MediaCache
from device.config import KioskConfig
from device.display.texts import Language, texts_for
from device.events import Event, LibraryUpdated, StickReport
from device.identity.credentials import load_credentials
from device.stick.helper import SystemMounter, attach
from device.stick.layout import Verdict
from device.stick.watcher import StickWatcher
from tests.stick.conftest import (
    SITE_TOML,
    Signer,
    attach_loop,
    ext4_image,
    mounted,
    needs_loop,
    write_pack,
)

pytestmark = [needs_loop, pytest.mark.timeout(60)]


def said(report: StickReport, language: Language = "en") -> tuple[str, tuple[str, ...]]:
    """A report's title and lines as the core shows them in `language`."""
    words = texts_for(language)
    return report.title.say(words), tuple(line.say(words) for line in report.lines)


class RecordingMounter(SystemMounter):
    """The real mount(8), remembering what was mounted how (to check the options)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []

    def mount(self, node: Path, point: Path, fs_type: str, options: str) -> None:
        super().mount(node, point, fs_type, options)
        self.seen.append(("mount", mounted(point)))

    def remount(self, point: Path, options: str) -> None:
        super().remount(point, options)
        self.seen.append(("remount", mounted(point)))


class Stick:
    """One run of the helper and the watcher over a stick image."""

    def __init__(self, tmp_path: Path, state_dir: Path, loop: list[str]) -> None:
        self.tmp = tmp_path
        self.state_dir = state_dir
        self.loop = loop
        self.root = tmp_path / "run-jukebox-stick"
        self.cache = MediaCache(state_dir / "cache")
        self.events: list[Event] = []
        self.mounter = RecordingMounter()
        self.logs = "10:00 jukebox[1]: kiosk ready token=jkat_SECRET\n"
        # The daemon's way to read its configuration again, and the one in force.
        self.settings: Callable[[], tuple[KioskConfig, list[str]]] | None = None
        self.config: KioskConfig | None = None

    def run(self, tree: Path, verdict_wait_s: float = 20) -> Verdict | None:
        image = ext4_image(tree, self.tmp / "stick.img")
        device = attach_loop(image, self.loop)
        watcher = StickWatcher(
            self.state_dir,
            self.cache,
            lambda: load_credentials(self.state_dir),
            self.events.append,
            stick_root=self.root,
            verdict_wait_s=verdict_wait_s,
            done_wait_s=20,
            poll_s=0.05,
            settings=self.settings,
            config=self.config,
        )
        watcher.follow(device)
        try:
            verdict = attach(
                device,
                state_dir=self.state_dir,
                stick_root=self.root,
                mounter=self.mounter,
                logs=lambda: self.logs,
                ack_timeout_s=20,
                poll_s=0.05,
            )
        finally:
            threads = [t for t in threading.enumerate() if t.name == f"stick-{device}"]
            for thread in threads:
                thread.join(timeout=20)
            watcher.close()
        self.point = self.root / device
        return verdict

    @property
    def reports(self) -> list[StickReport]:
        return [e for e in self.events if isinstance(e, StickReport)]

    def cached(self) -> list[str]:
        return sorted(p.name for p in self.cache.media.rglob("*") if p.is_file())


@pytest.fixture
def stick(tmp_path: Path, state_dir: Path, loop: list[str]) -> Stick:
    return Stick(tmp_path, state_dir, loop)


def _tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    (tree / "jukebox").mkdir(parents=True)
    return tree


def test_a_full_stick_applies_its_site_imports_its_pack_and_leaves_diagnostics(
    stick: Stick, tmp_path: Path, flac_dir: Path, signer: Signer, loop: list[str]
) -> None:
    tree = _tree(tmp_path)
    (tree / "jukebox" / "site.toml").write_text(SITE_TOML)
    (tree / "jukebox" / "export-diagnostics").write_text("")
    media = sorted(flac_dir.glob("*.flac"))[:2]
    write_pack(tree, media, signer)

    verdict = stick.run(tree)

    assert verdict is not None and verdict.state == "done", verdict
    # Mounted read-only first, read-write only for the diagnostics, unmounted at the end.
    assert [kind for kind, _ in stick.mounter.seen] == ["mount", "remount", "remount"]
    first, writable, back = (options or "" for _, options in stick.mounter.seen)
    assert first.startswith("ro,nosuid,nodev,noexec")
    assert writable.startswith("rw,nosuid,nodev,noexec")
    assert back.startswith("ro,")
    assert mounted(stick.point) is None and not stick.point.exists()
    # The site settings, exactly as first boot applies them.
    site = (stick.state_dir / "site.toml").read_text()
    assert 'site = "carre-d-art"' in site and "enr-" not in site
    assert (stick.state_dir / "enrollment-token").read_text().strip() == "enr-0123456789"
    # The pack: verified, in the cache, and the library the kiosk plays now.
    assert len(stick.cached()) == 2
    [library] = [e.library for e in stick.events if isinstance(e, LibraryUpdated)]
    assert [p.id for p in library.playlists] == ["offline"]
    assert library.available_tracks == 2
    assert (stick.state_dir / "library.json").exists()
    # The screen: what was done, then that the stick can be pulled out.
    assert [r.ok for r in stick.reports] == [True, True]
    title, lines = said(stick.reports[0])
    assert title == "Stick read" and lines[-1] == "Writing diagnostics..."
    assert "Site: carre-d-art, Hall, left" in lines and "Pack: 1 playlist(s), 2 file(s)" in lines
    assert stick.reports[-1].done and said(stick.reports[-1])[0] == "Remove the stick"
    # The same report, shown on a French kiosk.
    title, lines = said(stick.reports[0], "fr")
    assert title == "Clé lue" and lines[-1] == "Écriture du diagnostic…"
    assert "Site : carre-d-art, Hall, left" in lines
    assert "Paquet : 1 playlist(s), 2 fichier(s)" in lines
    assert "Redémarrez le kiosque pour les appliquer" in lines
    title, lines = said(stick.reports[-1], "fr")
    assert title == "Retirez la clé" and "Écriture du diagnostic…" not in lines
    assert any(line.startswith("Diagnostic dans jukebox/diagnostics/jk-") for line in lines)
    # Diagnostics on the stick, without the secrets.
    check = tmp_path / "check"
    check.mkdir()
    node = f"/dev/{loop[-1]}"
    SystemMounter().mount(Path(node), check, "ext4", "ro")
    try:
        [folder] = list((check / "jukebox" / "diagnostics").iterdir())
        summary = (folder / "summary.txt").read_text()
        logs = (folder / "logs.txt").read_text()
    finally:
        SystemMounter().unmount(check)
    assert folder.name.startswith("jk-abcdefghijklmnopqrst-")
    assert "kiosk ready" in logs and "jkat_SECRET" not in logs
    assert "tenant-credentials.json" not in summary and "enr-0123456789" not in summary
    assert "device.key" not in summary
    assert any("Diagnostics in jukebox/diagnostics/" in line for line in said(stick.reports[-1])[1])


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        ("media", "content hashes to"),
        ("manifest", "the signature does not match"),
        ("unsigned", "manifest.sig: missing"),
        ("other_tenant", "signature does not match"),
        ("site", "device.site: missing, this key is required"),
        ("typo", "sit.toml: unknown entry"),
    ],
)
def test_anything_malformed_refuses_the_whole_stick_and_changes_nothing(
    stick: Stick, tmp_path: Path, flac_dir: Path, signer: Signer, damage: str, expected: str
) -> None:
    tree = _tree(tmp_path)
    (tree / "jukebox" / "site.toml").write_text(SITE_TOML)
    pack = write_pack(tree, sorted(flac_dir.glob("*.flac"))[:2], signer)
    match damage:
        case "media":
            victim = next((pack / "media").iterdir())
            data = bytearray(victim.read_bytes())
            data[100] ^= 0x01
            victim.write_bytes(bytes(data))
        case "manifest":
            manifest = pack / "manifest.json"
            manifest.write_bytes(manifest.read_bytes().replace(b"Track 0", b"Track X"))
        case "unsigned":
            (pack / "manifest.sig").unlink()
        case "other_tenant":
            shutil.rmtree(tree / "jukebox" / "pack")
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

            write_pack(
                tree, sorted(flac_dir.glob("*.flac"))[:1], Signer(Ed25519PrivateKey.generate())
            )
        case "site":
            (tree / "jukebox" / "site.toml").write_text(
                SITE_TOML.replace('site = "carre-d-art"', "")
            )
        case "typo":
            (tree / "jukebox" / "sit.toml").write_text(SITE_TOML)
    before = sorted(p.name for p in stick.state_dir.iterdir())

    verdict = stick.run(tree)

    assert verdict is not None and verdict.state == "refused"
    assert any(expected in problem for problem in verdict.problems), verdict.problems
    assert sorted(p.name for p in stick.state_dir.iterdir()) == before
    assert stick.cached() == []
    assert not any(isinstance(e, LibraryUpdated) for e in stick.events)
    [report] = stick.reports
    title, lines = said(report)
    assert not report.ok and title == "Stick refused"
    assert any(expected in line for line in lines)
    assert lines[-1] == "Nothing changed"
    title, lines = said(report, "fr")  # the problems as found, the words in French
    assert (title, lines[-1]) == ("Clé refusée", "Rien n'a été modifié")
    assert any(expected in line for line in lines)
    assert mounted(stick.point) is None


def test_a_pack_on_a_kiosk_that_was_never_claimed_is_refused(
    stick: Stick, tmp_path: Path, flac_dir: Path, signer: Signer
) -> None:
    (stick.state_dir / "tenant-credentials.json").unlink()
    tree = _tree(tmp_path)
    write_pack(tree, sorted(flac_dir.glob("*.flac"))[:1], signer)

    verdict = stick.run(tree)

    assert verdict is not None and verdict.state == "refused"
    assert "not claimed yet" in verdict.problems[0]
    assert stick.cached() == []


def test_a_stick_without_a_jukebox_folder_is_left_alone(stick: Stick, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "photos").mkdir(parents=True)
    (tree / "photos" / "holiday.jpg").write_bytes(b"\xff\xd8")

    # The watcher gives up on a verdict after 2 s (not 20: no verdict is ever written here).
    assert stick.run(tree, verdict_wait_s=2) is None
    assert stick.reports == [] and mounted(stick.point) is None
    assert not (stick.root / f"{stick.loop[-1]}.json").exists()


def test_a_site_only_stick_is_applied_without_waiting_for_the_daemon(
    stick: Stick, tmp_path: Path
) -> None:
    tree = _tree(tmp_path)
    (tree / "jukebox" / "site.toml").write_text(SITE_TOML)

    verdict = stick.run(tree)

    assert verdict is not None and verdict.state == "done" and not verdict.pack
    assert [kind for kind, _ in stick.mounter.seen] == ["mount"]  # never writable
    assert "carre-d-art" in (stick.state_dir / "site.toml").read_text()
    assert stick.reports[-1].done


def test_a_disk_without_a_stick_filesystem_is_never_mounted(
    stick: Stick, tmp_path: Path, loop: list[str]
) -> None:
    image = tmp_path / "blank.img"
    image.write_bytes(bytes(1 << 20))
    device = attach_loop(image, loop)

    assert attach(device, state_dir=stick.state_dir, stick_root=stick.root) is None
    assert not (stick.root / device).exists()


def test_a_name_that_could_leave_the_stick_folder_is_refused(stick: Stick) -> None:
    for name in ("../sda1", "sda1/..", "", "SDA1", "sda 1"):
        with pytest.raises(ValueError, match="not a kernel device name"):
            attach(name, state_dir=stick.state_dir, stick_root=stick.root)
