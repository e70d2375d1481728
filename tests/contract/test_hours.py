"""The weekly-hours grammar the tenant writes and the kiosk reads: one parser, one printer."""

from __future__ import annotations

from datetime import datetime

import pytest

from contract.hours import (
    WindowError,
    format_days,
    open_at,
    parse_days,
    parse_spec,
    parse_window,
    window_problems,
)

MONDAY = datetime(2026, 6, 1)  # a Monday


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return MONDAY.replace(day=1 + day, hour=hour, minute=minute)


@pytest.mark.parametrize(
    "spec",
    ["mon-sat 10:00-19:00", "sat,sun 09:30-12:00", "fri-mon 22:00-02:00", "mon,wed 00:00-24:00",
     "tue,thu-sat 08:00-23:59", "mon-sun 10:00-11:00", "sun 20:00-00:00"],
)  # fmt: skip
def test_a_formatted_window_parses_back_to_itself(spec: str) -> None:
    window = parse_spec(spec)
    again = parse_spec(window.format())
    assert again == window
    sent = window.as_json()
    assert parse_window(sent["days"], sent["from"], sent["to"]) == window


def test_days_print_in_their_shortest_form() -> None:
    assert format_days(parse_days("mon,tue,wed,thu,fri,sat")) == "mon-sat"
    assert format_days(parse_days("sat-sun")) == "sat,sun"
    assert format_days(parse_days("fri-mon")) == "fri-mon"
    assert format_days(parse_days("sun,mon,wed")) == "wed,sun,mon"
    assert format_days(range(7)) == "mon-sun"


def test_open_at_is_any_window_and_no_window_means_always_open() -> None:
    windows = [parse_spec("mon-fri 10:00-12:00"), parse_spec("sat 22:00-02:00")]
    assert open_at(windows, at(0, 11))
    assert not open_at(windows, at(0, 12))
    assert open_at(windows, at(6, 1, 59))  # Saturday night, on Sunday morning
    assert not open_at(windows, at(6, 2))
    assert open_at([], at(3, 3))


@pytest.mark.parametrize(
    ("days", "start", "end", "problems"),
    [
        ("monday", "10:00", "19:00",
         ["days: expected days like 'mon-sat' or 'sat,sun', got 'monday'"]),
        ("mon", "25:00", "7pm", ["from: expected a time HH:MM, got '25:00'",
                                 "to: expected a time HH:MM, got '7pm'"]),
        (3, None, "10:00", ["days: expected days like 'mon-sat' or 'sat,sun', got 3",
                            "from: expected a time HH:MM, got None"]),
        ("mon", "24:00", "02:00", ["from: 24:00 can only end a window; start it at 00:00"]),
        ("mon", "10:00", "10:00", ["from and to are both 10:00: the window would be empty"]),
        ("mon-", "10:00", "11:00", ["days: expected days like 'mon-sat' or 'sat,sun', got 'mon-'"]),
        ("mon", "9:00", "11:00", ["from: expected a time HH:MM, got '9:00'"]),
    ],
)  # fmt: skip
def test_every_problem_of_a_window_names_its_field(
    days: object, start: object, end: object, problems: list[str]
) -> None:
    assert window_problems(days, start, end) == problems
    with pytest.raises(WindowError) as raised:
        parse_window(days, start, end)
    assert str(raised.value) == problems[0]


def test_a_spec_without_a_time_span_is_refused() -> None:
    with pytest.raises(WindowError, match="expected 'DAYS HH:MM-HH:MM'"):
        parse_spec("mon-sat")
