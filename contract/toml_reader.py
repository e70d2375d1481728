"""One reader for the project's TOML files (jukebox.toml, playlists.toml, site.toml).

Every problem names the file, the key and what was expected, because the person reading it is
a technician in front of a kiosk, not the developer who wrote the schema. A broken file reports
all its problems at once: each `Section` records what is wrong in a shared `Problems` list and
goes on (a bad value reads as its default, a missing required key as None), and the caller
raises one `ConfigError` holding them all when the file has been read to the end.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

T = TypeVar("T")
D = TypeVar("D")
E = TypeVar("E", bound="ConfigError")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one file: `source: key: problem`."""

    source: str
    key: str
    problem: str

    def __str__(self) -> str:
        if self.key:
            return f"{self.source}: {self.key}: {self.problem}"
        return f"{self.source}: {self.problem}"


class ConfigError(Exception):
    """Configuration or content problems, already phrased for the technician.

    `source`, `key` and `problem` are those of the first problem; `problems` holds them all,
    and str() gives one per line, the first problem first.
    """

    def __init__(
        self, source: str | Path, key: str, problem: str, more: Sequence[Problem] = ()
    ) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        self.problems: tuple[Problem, ...] = (Problem(str(source), key, problem), *more)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def of(cls: type[E], problems: Sequence[Problem]) -> E:
        first, *rest = problems
        return cls(first.source, first.key, first.problem, rest)


class Problems:
    """What is wrong with one document so far; `check()` raises them together."""

    def __init__(self, error: type[ConfigError] = ConfigError) -> None:
        self.error = error
        self.found: list[Problem] = []

    def add(self, source: str | Path, key: str, problem: str) -> None:
        self.found.append(Problem(str(source), key, problem))

    def mark(self) -> int:
        """How many problems so far: compare later to know whether a part was clean."""
        return len(self.found)

    def check(self) -> None:
        if self.found:
            raise self.error.of(self.found)


class Refused(ValueError):
    """Raised by a check whose message is complete: the reader does not append the value."""


MISSING = "missing, this key is required"


class Section:
    """Typed access to one table of a TOML document, remembering where it came from.

    Unknown keys are recorded (with a "did you mean" hint), a bad value is recorded and reads
    as the default given, a missing required key is recorded and reads as None.
    """

    def __init__(
        self,
        problems: Problems,
        source: str | Path,
        prefix: str,
        table: Mapping[str, Any],
        allowed: set[str],
    ) -> None:
        self.problems = problems
        self.source = str(source)
        self.prefix = prefix
        self.table = table
        self.start = problems.mark()
        for name in table:
            if name not in allowed:
                hint = difflib.get_close_matches(name, allowed, n=1)
                expected = (
                    f"did you mean '{hint[0]}'?"
                    if hint
                    else f"expected one of: {', '.join(sorted(allowed))}"
                )
                self.fail(name, f"unknown key, {expected}")

    @property
    def clean(self) -> bool:
        """No problem recorded since this section was opened (cross-checks need clean values)."""
        return self.problems.mark() == self.start

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def fail(self, name: str, problem: str) -> None:
        self.problems.add(self.source, self.key(name), problem)

    def get(self, name: str, default: T, check: Callable[[Any], T]) -> T:
        if name not in self.table:
            return default
        return self.value(name, self.table[name], check, default)

    def require(self, name: str, check: Callable[[Any], T], missing: str = MISSING) -> T | None:
        if name not in self.table:
            self.fail(name, missing)
            return None
        return self.value(name, self.table[name], check, None)

    def value(self, name: str, value: Any, check: Callable[[Any], T], default: D) -> T | D:
        """`check(value)`, or `default` with the problem recorded under `name`."""
        try:
            return check(value)
        except Refused as exc:
            self.fail(name, str(exc))
        except ValueError as exc:
            self.fail(name, f"{exc}, got {value!r}")
        return default

    def table_of(self, name: str) -> Mapping[str, Any]:
        """The sub-table `[name]`, empty when absent or not a table (recorded)."""
        value = self.table.get(name, {})
        if not isinstance(value, dict):
            self.fail(name, f"expected a table [{name}], got {value!r}")
            return {}
        return value

    def section(self, name: str, allowed: set[str]) -> Section:
        return Section(self.problems, self.source, self.key(name), self.table_of(name), allowed)

    def tables(self, name: str) -> list[Mapping[str, Any]]:
        """The array of tables `[[name]]`, empty when absent or not one (recorded)."""
        value = self.table.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail(name, f"expected an array of tables [[{name}]]")
            return []
        return cast(list[Mapping[str, Any]], value)


# --------------------------------------------------------------------------- files


def parse_toml(text: str, source: str | Path, error: type[E]) -> dict[str, Any]:
    """Parse TOML text; any failure of the parser, its own limits included, is an `error`."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(source, "", f"not valid TOML: {exc}") from None
    except RecursionError:
        raise error(source, "", "not valid TOML: nested too deeply for this reader") from None
    except (ValueError, MemoryError) as exc:  # e.g. a number too long for int()
        raise error(source, "", f"not valid TOML: {exc}") from None


# --------------------------------------------------------------------------- value checks


KINDS: dict[type, str] = {
    bool: "a boolean",
    int: "an integer",
    float: "a float",
    str: "a string",
    list: "an array",
    dict: "a table",
}


def article(kind: type) -> str:
    return KINDS.get(kind, kind.__name__)


def kind_of(value: object) -> str:
    kind = KINDS.get(type(value), "a date or time")
    return kind if isinstance(value, list | dict) else f"{kind} ({value!r})"


def typed(kind: type[T], what: str) -> Callable[[Any], T]:
    """A value of exactly `kind` (a bool is not an int): "expected a string (a title)"."""

    def check(value: Any) -> T:
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise Refused(f"expected {article(kind)} ({what}), got {kind_of(value)}")
        return value

    return check


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def int_in(lo: int, hi: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ValueError(f"expected a whole number from {lo} to {hi}")
        return value

    return check


def seconds(lo: float, hi: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            raise ValueError(f"expected a number of seconds from {lo:g} to {hi:g}")
        return float(value)

    return check


def choice(*options: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value not in options:
            raise ValueError("expected one of " + ", ".join(f"'{o}'" for o in options))
        return value

    return check


def file_path(value: Any) -> Path:
    if not isinstance(value, str) or not value:
        raise ValueError("expected a path")
    return Path(value)


def tenant_url(value: Any) -> str:
    from urllib.parse import urlsplit

    expected = "expected the tenant's base URL, like 'https://tenant.example/t/slug'"
    if not isinstance(value, str):
        raise ValueError(expected)
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
    except ValueError:  # e.g. "http://[::1": urlsplit's own refusal
        raise ValueError(expected) from None
    segments = [p for p in parts.path.split("/") if p]
    if (
        parts.scheme not in ("http", "https")
        or not hostname
        or len(segments) != 2
        or segments[0] != "t"
        or parts.query
        or parts.fragment
    ):
        raise ValueError(expected)
    return value.rstrip("/")
