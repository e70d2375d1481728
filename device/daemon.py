"""Wires the real adapters to the kiosk core and runs it until told to stop.

Start-up order matters for visitors: the boot screen first, then the journal is recovered,
the core starts, and the content is loaded in the background so the kiosk answers buttons
while it hashes media. Every part is built whole before it is handed on, and registered with
one ExitStack as it starts: whatever stops the run (a signal, a start-up error, a crash) closes
what was started, in reverse order. Parts that can be broken while the music plays implement
device.ports.Health; the technician screen lists their problems.

Size: the wiring of every adapter in one place, each part a short function; the one module
that knows them all (over 400 lines on purpose).
"""

from __future__ import annotations

import logging
import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from contract.media import CacheError, MediaCache
from device import FIRMWARE_VERSION
from device.buttons.gpio_panel import GpioPanel
from device.config import KioskConfig
from device.core.kiosk import Kiosk, KioskContext
from device.display.luma_display import open_display
from device.display.model import BootScreen
from device.display.reconnect import OpenedDisplay, open_display_with_retry
from device.events import DesiredStateReceived, Event, LibraryUpdated, Shutdown, StorageAttached
from device.firstboot.site_settings import with_site_settings
from device.journal.outbox import JournalError, JournalIdentity, PlayJournal
from device.platform import info
from device.platform.clock import SystemClock
from device.platform.priority import make_realtime
from device.platform.reboot import RebootRequest
from device.platform.systemd import Notifier
from device.player.mpv_player import MpvPlayer
from device.ports import Clock, Health
from device.selftest.tone import ensure_test_tone
from device.stick.layout import STICK_ROOT
from device.update.moment import RebootGate
from device.usb.monitor import UdevMonitor

if TYPE_CHECKING:  # imported where used: a folder kiosk never loads its tenant's code
    from device.identity.keys import DeviceKey
    from device.link_start import LinkStarter, StartedLink
    from device.stick.watcher import StickWatcher

log = logging.getLogger(__name__)

# A thread waiting for the interpreter lock asks for it after 1 ms instead of Python's 5 ms:
# the core shares the lock with the sync and publisher threads, and a press crosses three
# threads (pin callback, core, mpv's event thread). Figures: bench/gil_inversion.py; what it
# cannot fix: docs/architecture.md, "Priorities, and the one interpreter lock".
LOCK_TURN_S = 0.001


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
    """Start every part in order, run the core on this thread, stop them in reverse."""
    if options.simulate:
        config = simulated(config)
    sys.setswitchinterval(LOCK_TURN_S)
    _create_state_dir(config.device.state_dir)
    config, site_problems = with_site_settings(config)
    events: queue.Queue[Event] = queue.Queue()

    def stop(reason: str) -> None:
        events.put(Shutdown(reason))

    with ExitStack() as parts:
        parts.enter_context(_signal_handlers(stop))
        display = parts.enter_context(
            closing(open_display_with_retry(lambda: open_display(config.display)))
        )
        display.show(BootScreen(version=FIRMWARE_VERSION, language=config.display.language))
        key, key_problem = _device_key(config)
        device_id = key.device_id if key else info.device_id(config.device.state_dir)
        identity = _journal_identity(config, key, device_id)
        clock = SystemClock()
        journal = parts.enter_context(closing(_open_journal(config, identity, clock)))
        cache = _open_cache(config)
        player = parts.enter_context(closing(_player(config, cache, events)))
        make_realtime(player.native_threads, "mpv's threads", inherited=True)
        pin_factory = _simulated_pins() if options.simulate else None
        panel = parts.enter_context(closing(_panel(config, pin_factory)))
        usb = UdevMonitor()
        health: list[Health] = [display, panel, player, _Known(key_problem), usb]
        health += [_Known(problem) for problem in site_problems]
        context = KioskContext(
            device_id,
            FIRMWARE_VERSION,
            info.ipv4_addresses,
            _problems(health),
            test_tone=ensure_test_tone(cache),  # the self-test's, a verified cache path
        )
        notifier = Notifier()
        gate = RebootGate(RebootRequest.from_environment().reboot)  # device/update

        def after_round() -> None:
            notifier.keepalive()
            gate.on_tick(kiosk)  # a new firmware slot reboots at a safe moment

        kiosk = Kiosk(
            config=config,
            player=player,
            display=display,
            journal=journal,
            clock=clock,
            context=context,
            events=events,
            on_tick=after_round,
        )
        panel.start(events.put)
        if pin_factory is not None:
            _start_simulation(parts, config, options, pin_factory, kiosk, display, stop)
        link = _start_tenant(
            parts, config, key, cache, identity, kiosk, journal, events, gate, display, player
        )
        if link is None:
            _start_content_loader(config, cache, events)
        else:
            health.append(link)
        _start_usb(parts, config, cache, events, usb, link)
        parts.callback(notifier.stopping)  # the first thing said when the stack unwinds
        notifier.ready(f"kiosk {device_id} playing from {config.device.state_dir}")
        if link is not None:
            link.start()  # its modules load now, while the core answers
        mode = "simulated" if options.simulate else "hardware"
        log.info("kiosk %s ready (firmware %s, %s)", device_id, FIRMWARE_VERSION, mode)
        # The core, from now on; threads and processes it starts later are background work.
        make_realtime([threading.get_native_id()], "the core thread", inherited=False)
        kiosk.run()
    log.info("kiosk stopped")
    return 0


@dataclass(frozen=True)
class _Known:
    """A problem found once at start-up (a broken key, a bad site file): Health that stays."""

    problem: str | None


def _problems(parts: list[Health]) -> Callable[[], list[str]]:
    """What the technician screen lists: every part's current problem, in start-up order."""

    def problems() -> list[str]:
        return [problem for part in parts if (problem := part.problem)]

    return problems


def _create_state_dir(state_dir: Path) -> None:
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupError(f"{state_dir}: cannot create the state directory ({exc})") from exc


def _journal_identity(
    config: KioskConfig, key: DeviceKey | None, device_id: str
) -> JournalIdentity:
    claimed = None
    if key is not None:
        from device.identity.credentials import load_credentials

        claimed = load_credentials(config.device.state_dir)
    return JournalIdentity(
        tenant=claimed.tenant_id if claimed else config.device.tenant,
        site=claimed.site if claimed else config.device.site,
        device_id=device_id,
        firmware_version=FIRMWARE_VERSION,
        boot_id=info.boot_id(),
    )


def _open_journal(config: KioskConfig, identity: JournalIdentity, clock: Clock) -> PlayJournal:
    """The play outbox, with any play a crash or power cut left open finalised."""
    try:
        journal = PlayJournal(config.device.journal_path, identity)
    except JournalError as exc:
        raise StartupError(str(exc)) from exc
    recovered = journal.recover_interrupted(ended_wall_ms=clock.wall_time_ms())
    if recovered:
        log.warning("finalised %d play(s) left open by a crash or power cut", recovered)
    return journal


def _open_cache(config: KioskConfig) -> MediaCache:
    try:
        return MediaCache(config.device.cache_dir)
    except (CacheError, OSError) as exc:
        raise StartupError(f"{config.device.cache_dir}: media cache unusable ({exc})") from exc


def _player(config: KioskConfig, cache: MediaCache, events: queue.Queue[Event]) -> MpvPlayer:
    return MpvPlayer(
        events.put,
        cache.root,
        ao=None if config.audio.backend == "auto" else config.audio.backend,
        audio_device=None if config.audio.output == "auto" else config.audio.output,
        replaygain=config.audio.replaygain,
    )


def _simulated_pins() -> Any:
    from gpiozero.pins.mock import MockFactory

    return MockFactory()


def _panel(config: KioskConfig, pin_factory: Any) -> GpioPanel:
    """The buttons: simulated pins, or the GPIO chip opened (and retried) when they attach."""
    if pin_factory is not None:
        return GpioPanel(config.buttons, config.rotary, pin_factory)
    from device.buttons.pin_factory import open_pin_factory  # reads the entry points: slow

    return GpioPanel(
        config.buttons, config.rotary, None, open_pin_factory=partial(open_pin_factory, config.gpio)
    )


def _start_tenant(
    parts: ExitStack,
    config: KioskConfig,
    key: DeviceKey | None,
    cache: MediaCache,
    identity: JournalIdentity,
    kiosk: Kiosk,
    journal: PlayJournal,
    events: queue.Queue[Event],
    gate: RebootGate,
    display: Health,
    player: Health,
) -> LinkStarter | None:
    """The tenant link with remote administration over MQTT, when there is a tenant and a key.

    The desired state saved last time applies before the core's first event, so the first
    autoplay already follows it; what was synced last time plays at once. Both are read from
    files here; the link itself is built after READY (device/link_start.py).
    """
    if config.tenant is None or key is None:
        return None
    from device.link_start import LinkStarter
    from device.remote.desired import STATE_FILE, load_saved
    from device.sync.source import TenantContentSource

    state_dir = config.device.state_dir
    saved = load_saved(state_dir / STATE_FILE)
    if saved is not None:
        events.put(DesiredStateReceived(saved[0]))  # posted again by RemoteAdmin: a no-op
    library = TenantContentSource(state_dir, cache).load()
    events.put(LibraryUpdated(library))
    tenant = config.tenant

    def build() -> StartedLink:
        from device.link import TenantLink
        from device.link_start import StartedLink
        from device.mqtt.remote import RemoteOutbox
        from device.mqtt.supervisor import MqttSetup
        from device.platform.logs import recent_lines
        from device.remote import RemoteAdmin

        link = TenantLink(tenant, state_dir, cache, key, events.put)
        rebooter = RebootRequest.from_environment()
        updates = link.updates(gate, rebooter.runtime_dir)
        remote = RemoteOutbox()
        admin = RemoteAdmin(
            events.put,
            remote,
            sync_now=link.sync_now,
            playlists_present=link.playlists_present,
            status=lambda: kiosk.status,
            rebooter=rebooter,
            recent_logs=recent_lines,
            state_dir=state_dir,
            journal_stats=journal.stats,
            firmware=updates.set_target,
            update_report=updates.report,
            saved=lambda: saved,  # read once, above
        )
        mqtt = MqttSetup(
            config.device.journal_path,
            identity,
            inbox=admin,
            status=lambda: kiosk.status,
            remote=remote,
            desired_version=lambda: admin.desired_version,
            heartbeat_s=tenant.heartbeat_s,
            update=updates.report,
            panel=_panel_state(config, display),
            audio_ok=lambda: player.problem is None,
        )
        link.show(library)
        link.start(mqtt)
        link.start_updates(updates)
        return StartedLink(link.content_replaced, closers=[link.close, admin.close])

    starter = LinkStarter(build)
    parts.callback(starter.close)
    return starter


def _panel_state(config: KioskConfig, display: Health) -> Callable[[], str | None]:
    """The heartbeat's `panel`: None for a kiosk built without one, else whether it answers."""
    if config.display.driver == "none":
        return lambda: None
    return lambda: "missing" if display.problem else "ok"


def _start_content_loader(
    config: KioskConfig, cache: MediaCache, events: queue.Queue[Event]
) -> None:
    """No tenant: the local content folder, hashed in the background while the kiosk runs."""
    loader = threading.Thread(
        target=_load_content, args=(config, cache, events), name="content", daemon=True
    )
    loader.start()


def _device_key(config: KioskConfig) -> tuple[DeviceKey | None, str | None]:
    """The kiosk's key pair when it has a tenant; a broken key must not stop the music."""
    if config.tenant is None:
        return None, None
    from device.identity.keys import DeviceKey, DeviceKeyError

    try:
        return DeviceKey.load_or_create(config.device.state_dir), None
    except DeviceKeyError as exc:
        log.error("no tenant link: %s", exc)
        return None, f"identity: {exc}"


def _start_usb(
    parts: ExitStack,
    config: KioskConfig,
    cache: MediaCache,
    events: queue.Queue[Event],
    monitor: UdevMonitor,
    link: LinkStarter | None,
) -> None:
    """Hot-plug: sound cards to the core, technician sticks to their watcher (docs/usb.md)."""
    state_dir = config.device.state_dir

    def watcher() -> StickWatcher:
        from device.identity.credentials import load_credentials
        from device.stick.watcher import StickWatcher

        return StickWatcher(
            state_dir,
            cache,
            # Packs only for a kiosk linked with a tenant: it knows the tenant's signing key.
            lambda: load_credentials(state_dir) if link is not None else None,
            events.put,
            on_imported=link.content_replaced if link is not None else None,
            # A stick's kiosk.toml: the configuration read again with it, applied at once.
            settings=lambda: with_site_settings(config),
            config=config,
        )

    sticks = _Sticks(watcher, STICK_ROOT)

    def sink(event: Event) -> None:
        events.put(event)
        if isinstance(event, StorageAttached):
            sticks.offer(event)

    monitor.start(sink)
    parts.callback(monitor.close)
    sticks.start()
    parts.callback(sticks.close)


class _Sticks:
    """Technician sticks: the watcher is imported and built at the first stick.

    Its pack checks load cryptography and the sync document code, which a boot without a stick
    (nearly every boot) never needs; a stick mounted before the daemon started builds it at once.
    """

    def __init__(self, build: Callable[[], StickWatcher], stick_root: Path) -> None:
        self._build = build
        self._root = stick_root
        self._lock = threading.Lock()
        self._watcher: StickWatcher | None = None
        self._closed = False

    def _get(self) -> StickWatcher | None:
        with self._lock:
            if self._watcher is None and not self._closed:
                self._watcher = self._build()
            return self._watcher

    def start(self) -> None:
        try:
            mounted = any(self._root.glob("*.json"))
        except OSError:
            return
        if mounted and (watcher := self._get()) is not None:
            watcher.start()

    def offer(self, event: StorageAttached) -> None:
        if (watcher := self._get()) is not None:
            watcher.offer(event)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            watcher = self._watcher
        if watcher is not None:
            watcher.close()


def _load_content(config: KioskConfig, cache: MediaCache, inbox: queue.Queue[Event]) -> None:
    from device.content.folder import ContentError, FolderContentSource  # tags: mutagen

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
    parts: ExitStack,
    config: KioskConfig,
    options: RunOptions,
    pin_factory: Any,
    kiosk: Kiosk,
    display: OpenedDisplay,
    stop: Callable[[str], None],
) -> None:
    """The control socket (and keyboard) that press the simulated pins."""
    from device.sim.control import ControlServer
    from device.sim.keyboard import Keyboard
    from device.sim.panel import SimulatedPanel

    panel = SimulatedPanel(pin_factory, config.buttons, config.rotary)

    def screenshot(path: Path) -> bool:
        image = display.last_image
        if image is None:
            return False
        image.save(path)
        return True

    socket_path = options.control_socket or config.device.state_dir / "control.sock"
    server = ControlServer(
        socket_path, panel, lambda: kiosk.status, screenshot, lambda: stop("control socket")
    )
    server.start()
    parts.callback(server.close)
    if options.keyboard:
        Keyboard(config, panel, lambda: stop("keyboard")).start()


@contextmanager
def _signal_handlers(stop: Callable[[str], None]) -> Iterator[None]:
    """SIGTERM and SIGINT ask the core to stop (on the main thread only: Python's rule)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        stop(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
