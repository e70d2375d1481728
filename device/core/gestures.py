"""Turns raw button edges into actions: presses, holds and combinations.

Rules, chosen so that a visitor's press answers at once and a hold never also acts as a press:
- a button with no hold action and in no combination acts on the edge (no added latency);
- a button with a hold action, or in a combination, acts on release if it was not held;
  its hold action fires once its hold time has elapsed while it is still down;
- a combination fires when all its buttons have been down together for its hold time; a
  button that was down together with another member of one of its combinations fires
  neither its press nor its hold (the visitor was aiming for the combination).
Times are monotonic seconds carried by the events, so the decoder is deterministic in tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from device.config import ButtonConfig, ComboConfig
from device.domain import Action


@dataclass
class _Held:
    since: float
    held_fired: bool = False
    in_combo: bool = False  # another member of one of its combinations was down meanwhile


@dataclass
class GestureDecoder:
    buttons: tuple[ButtonConfig, ...]
    combos: tuple[ComboConfig, ...] = ()
    _down: dict[str, _Held] = field(default_factory=dict)
    _fired_combos: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._by_name = {b.name: b for b in self.buttons}
        self._partners: dict[str, set[str]] = {b.name: set() for b in self.buttons}
        for combo in self.combos:
            for name in combo.buttons:
                self._partners[name] |= set(combo.buttons) - {name}

    def _deferred(self, button: ButtonConfig) -> bool:
        return button.hold is not None or bool(self._partners[button.name])

    def down(self, name: str, at: float) -> list[Action]:
        button = self._by_name.get(name)
        if button is None or name in self._down:
            return []
        held = _Held(since=at)
        partners_down = self._partners[name] & set(self._down)
        if partners_down:
            held.in_combo = True
            for partner in partners_down:
                self._down[partner].in_combo = True
        self._down[name] = held
        if not self._deferred(button) and button.press is not None:
            return [button.press]
        return []

    def up(self, name: str, at: float) -> list[Action]:
        actions = self.poll(at)
        held = self._down.pop(name, None)
        button = self._by_name.get(name)
        self._fired_combos = {i for i in self._fired_combos if self._combo_down(i)}
        if held is None or button is None or not self._deferred(button):
            return actions
        if not held.held_fired and not held.in_combo and button.press is not None:
            actions.append(button.press)
        return actions

    def _combo_down(self, index: int) -> bool:
        return all(name in self._down for name in self.combos[index].buttons)

    def _combo_deadline(self, index: int) -> float:
        combo = self.combos[index]
        return max(self._down[name].since for name in combo.buttons) + combo.hold_time_s

    def poll(self, now: float) -> list[Action]:
        """Fire the holds and combinations whose time has come."""
        actions: list[Action] = []
        for index, combo in enumerate(self.combos):
            if index in self._fired_combos or not self._combo_down(index):
                continue
            if now >= self._combo_deadline(index):
                self._fired_combos.add(index)
                actions.append(combo.action)
        for name, held in self._down.items():
            button = self._by_name[name]
            if button.hold is None or held.held_fired or held.in_combo:
                continue
            if now >= held.since + button.hold_time_s:
                held.held_fired = True
                actions.append(button.hold)
        return actions

    def next_deadline(self) -> float | None:
        deadlines = [
            self._combo_deadline(i)
            for i in range(len(self.combos))
            if i not in self._fired_combos and self._combo_down(i)
        ]
        for name, held in self._down.items():
            hold = self._by_name[name].hold
            if hold is not None and not held.held_fired and not held.in_combo:
                deadlines.append(held.since + self._by_name[name].hold_time_s)
        return min(deadlines, default=None)

    def release_all(self) -> None:
        """Forget buttons in flight (used when a press only wakes the screen)."""
        self._down.clear()
        self._fired_combos.clear()
