"""Wires the real adapters to the kiosk core and runs it until told to stop.

Start-up order matters for visitors: the boot screen first, then the journal is recovered,
the core starts, and the content is loaded in the background so the kiosk answers buttons
while it hashes media.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

from contract.media import CacheError, MediaCache
from device import FIRMWARE_VERSION
from device.buttons.gpio_panel import GpioPanel
from device.buttons.pin_factory import open_pin_factory
from device.config import KioskConfig
from device.content.folder import ContentError, FolderContentSource
from device.core.kiosk import Kiosk, KioskContext
from device.display.luma_display import open_display
from device.display.model import BootScreen
from device.display.reconnect import open_display_with_retry
from device.events import DesiredStateReceived, Event, LibraryUpdated, Shutdown
from device.firstboot.site_settings import with_site_settings
from device.identity.credentials import load_credentials
from device.identity.keys import DeviceKey, DeviceKeyError
from device.journal.outbox import JournalError, JournalIdentity, PlayJournal
from device.link import TenantLink
from device.mqtt.supervisor import MqttSetup
from device.platform import info
from device.platform.clock import SystemClock
from device.platform.logs import recent_lines
from device.platform.reboot import RebootRequest
from device.platform.systemd import Notifier
from device.player.mpv_player import MpvPlayer
from device.remote import RemoteAdmin

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    simulate: bool = False
    control_socket: Path | None = None
    keyboard: bool = True


class StartupError(Exception):
    """The daemon cannot run at all (exit code 1), as opposed to a bad configuration (2)."""


def simulated(config: KioskConfig) -> KioskConfig:
    """Same kiosk, emulated screen: keep an emulated (or no) display, else record a GIF."""
    if config.display.driver in ("emulated", "none"):
        return config
    output = config.device.state_dir / "screen.gif"
    return replace(
        config,
        display=replace(config.display, driver="emulated", emulator="gif", emulator_output=output),
    )


def run(config: KioskConfig, options: RunOptions) -> int:
    if options.simulate:
        config = simulated(config)
    state_dir = config.device.state_dir
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"{state_dir}: cannot create the state directory ({exc})") from exc

    config, site_problems = with_site_settings(config)
    inbox: queue.Queue[Event] = queue.Queue()
    display = open_display_with_retry(lambda: open_display(config.display))
    display.show(BootScreen(version=FIRMWARE_VERSION))

    key, key_problem = _device_key(config)
    device_id = key.device_id if key else info.device_id(state_dir)
    claimed = load_credentials(state_dir) if key else None
    identity = JournalIdentity(
        tenant=claimed.tenant_id if claimed else config.device.tenant,
        site=claimed.site if claimed else config.device.site,
        device_id=device_id,
        firmware_version=FIRMWARE_VERSION,
        boot_id=info.boot_id(),
    )
    clock = SystemClock()
    try:
        journal = PlayJournal(config.device.journal_path, identity)
    except JournalError as exc:
        display.close()
        raise StartupError(str(exc)) from exc
    recovered = journal.recover_interrupted(ended_wall_ms=clock.wall_time_ms())
    if recovered:
        log.warning("finalised %d play(s) left open by a crash or power cut", recovered)

    try:
        cache = MediaCache(config.device.cache_dir)
    except (CacheError, OSError) as exc:
        journal.close()
        display.close()
        raise StartupError(f"{config.device.cache_dir}: media cache unusable ({exc})") from exc
    player = MpvPlayer(
        inbox.put,
        cache.root,
        ao=None if config.audio.backend == "auto" else config.audio.backend,
        audio_device=None if config.audio.output == "auto" else config.audio.output,
        replaygain=config.audio.replaygain,
    )
    pin_factory: Any = None
    if options.simulate:
        from gpiozero.pins.mock import MockFactory

        pin_factory = MockFactory()
    panel = GpioPanel(
        config.buttons,
        config.rotary,
        pin_factory,
        open_pin_factory=None if options.simulate else partial(open_pin_factory, config.gpio),
    )

    usb_parts: list[Any] = []  # the hot-plug monitor, once started

    def problems() -> list[str]:
        found = [getattr(display, "problem", None), panel.problem, player.problem, key_problem]
        found += [getattr(part, "problem", None) for part in usb_parts]
        return [p for p in found if p] + site_problems

    kiosk = Kiosk(
        config=config,
        player=player,
        display=display,
        journal=journal,
        clock=clock,
        context=KioskContext(device_id, FIRMWARE_VERSION, info.ipv4_addresses, problems),
        events=inbox,
    )
    panel.start(inbox.put)

    def stop(reason: str) -> None:
        inbox.put(Shutdown(reason))

    extras = _start_simulation(config, options, pin_factory, kiosk, display, stop)
    previous = _install_signal_handlers(stop)
    mqtt = MqttSetup(
        config.device.journal_path,
        identity,
        status=lambda: kiosk.status,
        heartbeat_s=config.tenant.heartbeat_s if config.tenant else 60.0,
    )
    link = (
        TenantLink(config.tenant, state_dir, cache, key, inbox.put, mqtt=mqtt)
        if config.tenant and key
        else None
    )
    if link is not None:
        admin = _remote_admin(link, mqtt, kiosk, journal, state_dir, inbox)
        inbox.put(LibraryUpdated(link.boot_library()))
        link.start()
        extras += [link, admin]
    else:
        loader = threading.Thread(
            target=_load_content, args=(config, cache, inbox), name="content", daemon=True
        )
        loader.start()
    usb = _start_usb(
        config, cache, inbox, on_imported=link.content_replaced if link is not None else None
    )
    usb_parts.extend(p for p in usb if hasattr(p, "problem"))
    extras.extend(usb)
    notifier = Notifier()
    kiosk.on_tick = notifier.keepalive
    notifier.ready(f"kiosk {device_id} playing from {state_dir}")
    log.info(
        "kiosk %s ready (firmware %s, %s)",
        device_id,
        FIRMWARE_VERSION,
        "simulated" if options.simulate else "hardware",
    )
    try:
        kiosk.run()
    finally:
        notifier.stopping()
        for closable in extras:
            closable.close()
        panel.close()
        player.close()
        display.close()
        journal.close()
        _restore_signal_handlers(previous)
    log.info("kiosk stopped")
    return 0


def _device_key(config: KioskConfig) -> tuple[DeviceKey | None, str | None]:
    """The kiosk's key pair when it has a tenant; a broken key must not stop the music."""
    if config.tenant is None:
        return None, None
    try:
        return DeviceKey.load_or_create(config.device.state_dir), None
    except DeviceKeyError as exc:
        log.error("no tenant link: %s", exc)
        return None, f"identity: {exc}"


def _start_usb(
    config: KioskConfig,
    cache: MediaCache,
    inbox: queue.Queue[Event],
    *,
    on_imported: Callable[[], None] | None,
) -> list[Any]:
    """Hot-plug: sound cards to the core, technician sticks to their watcher (docs/usb.md)."""
    from device.events import StorageAttached
    from device.stick.watcher import StickWatcher
    from device.usb.monitor import UdevMonitor

    state_dir = config.device.state_dir
    watcher = StickWatcher(
        state_dir,
        cache,
        # Packs only for a kiosk linked with a tenant: it knows the tenant's signing key.
        lambda: load_credentials(state_dir) if on_imported is not None else None,
        inbox.put,
        on_imported=on_imported,
    )

    def sink(event: Event) -> None:
        inbox.put(event)
        if isinstance(event, StorageAttached):
            watcher.offer(event)

    monitor = UdevMonitor()
    monitor.start(sink)
    watcher.start()
    return [monitor, watcher]


def _remote_admin(
    link: TenantLink,
    mqtt: MqttSetup,
    kiosk: Kiosk,
    journal: PlayJournal,
    state_dir: Path,
    inbox: queue.Queue[Event],
) -> RemoteAdmin:
    """Remote administration over the MQTT link; the desired state saved last time applies
    before the core's first event, so the first autoplay already follows it."""
    admin = RemoteAdmin(
        inbox.put,
        mqtt.remote,
        sync_now=link.sync_now,
        playlists_present=link.playlists_present,
        status=lambda: kiosk.status,
        rebooter=RebootRequest.from_environment(),
        recent_logs=recent_lines,
        state_dir=state_dir,
        journal_stats=journal.stats,
    )
    mqtt.inbox = admin
    mqtt.desired_version = lambda: admin.desired_version
    if admin.applied is not None:
        inbox.put(DesiredStateReceived(admin.applied))
    return admin


def _load_content(config: KioskConfig, cache: MediaCache, inbox: queue.Queue[Event]) -> None:
    folder = config.device.content_folder
    try:
        library = FolderContentSource(folder, cache).load()
    except ContentError as exc:
        log.error("content not loaded: %s", exc)
        return
    except Exception:
        log.exception("content loading failed in %s", folder)
        return
    inbox.put(LibraryUpdated(library))


def _start_simulation(
    config: KioskConfig,
    options: RunOptions,
    pin_factory: Any,
    kiosk: Kiosk,
    display: Any,
    stop: Any,
) -> list[Any]:
    if pin_factory is None:
        return []
    from device.sim.control import ControlServer
    from device.sim.keyboard import Keyboard
    from device.sim.panel import SimulatedPanel

    panel = SimulatedPanel(pin_factory, config.buttons, config.rotary)

    def screenshot(path: Path) -> bool:
        image = getattr(display, "last_image", None)
        if image is None:
            return False
        image.save(path)
        return True

    extras: list[Any] = []
    socket_path = options.control_socket or config.device.state_dir / "control.sock"
    server = ControlServer(
        socket_path, panel, lambda: kiosk.status, screenshot, lambda: stop("control socket")
    )
    server.start()
    extras.append(server)
    if options.keyboard:
        Keyboard(config, panel, lambda: stop("keyboard")).start()
    return extras


def _install_signal_handlers(stop: Any) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, _frame: FrameType | None) -> None:
        stop(signal.Signals(signum).name)

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}


def _restore_signal_handlers(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
