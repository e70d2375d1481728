"""The dataclass method cache (device/platform/method_cache.py): the kiosk's classes get the
very methods `dataclasses` compiles itself, from a cold cache and from a warm one; a broken
file is ignored; `jukebox` installs it for the kiosk's commands only."""

from __future__ import annotations

import dataclasses
import json
import logging
import marshal
import os
import subprocess
import sys
from pathlib import Path
from types import CodeType

import pytest

from device.platform.method_cache import DISABLE_VARIABLE, MethodCache, install, uninstall

# Imports the kiosk's modules (with the cache at argv[1] unless it is "-") and writes every
# method that `dataclasses` generated for them, as code objects, to argv[2].
GENERATED_METHODS = """
import dataclasses, importlib, json, marshal, sys
from pathlib import Path
from device.platform.method_cache import KIOSK_MODULES, install
cache = None if sys.argv[1] == "-" else install(Path(sys.argv[1]))
for name in KIOSK_MODULES:
    importlib.import_module(name)
methods = {}
for module in list(sys.modules.values()):
    for value in list(vars(module).values()) if module else []:
        if isinstance(value, type) and dataclasses.is_dataclass(value):
            for attr, member in vars(value).items():
                code = getattr(member, "__code__", None)
                if code is not None and code.co_filename == "<string>":
                    methods[f"{value.__module__}.{value.__qualname__}.{attr}"] = code
Path(sys.argv[2]).write_bytes(marshal.dumps(methods))
if cache is not None:
    cache.save()
    print(json.dumps({"hits": cache.hits, "misses": cache.misses}))
"""


def generated(cache: Path | None, out: Path) -> tuple[dict[str, CodeType], dict[str, int]]:
    result = subprocess.run(
        [sys.executable, "-c", GENERATED_METHODS, str(cache) if cache else "-", str(out)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    counts = json.loads(result.stdout) if cache else {}
    methods: dict[str, CodeType] = marshal.loads(out.read_bytes())
    return methods, counts


def same_code(a: CodeType, b: CodeType) -> bool:
    """Equal code (bytecode, constants, names, flags: CodeType's ==) and the same file."""
    return a == b and a.co_flags == b.co_flags and a.co_filename == b.co_filename


def test_the_kiosk_s_classes_get_the_methods_dataclasses_compiles_cold_and_warm(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "methods.marshal"
    plain, _ = generated(None, tmp_path / "plain")
    cold, cold_counts = generated(cache, tmp_path / "cold")
    warm, warm_counts = generated(cache, tmp_path / "warm")
    assert len(plain) > 300  # the kiosk's events, screens, settings...
    assert cold_counts["misses"] > 300 and cold_counts["hits"] == 0
    assert warm_counts == {"hits": cold_counts["misses"], "misses": 0}  # all from the file
    assert plain.keys() == cold.keys() == warm.keys()
    different = [
        name
        for name, code in plain.items()
        if not (same_code(code, cold[name]) and same_code(code, warm[name]))
    ]
    assert different == []


def test_a_class_made_with_the_cache_behaves_like_one_made_without(tmp_path: Path) -> None:
    cache = install(tmp_path / "m.marshal")
    assert cache is not None
    try:

        @dataclasses.dataclass(frozen=True)
        class Track:
            title: str
            seconds: int = 0

        track = Track("Intro", 3)
        assert track == Track("Intro", 3) and hash(track) == hash(Track("Intro", 3))
        assert repr(track).endswith("Track(title='Intro', seconds=3)")
        with pytest.raises(dataclasses.FrozenInstanceError):
            track.title = "x"  # type: ignore[misc]
        assert cache.misses > 0 and cache.save()
    finally:
        uninstall(cache)
    assert "exec" not in vars(dataclasses)
    again = MethodCache(tmp_path / "m.marshal")
    again.exec("x = 1", {}, None)
    assert again.hits == 0 and again.misses == 1  # a text it never saw: compiled


def test_a_save_keeps_what_other_processes_wrote_until_the_file_is_full(tmp_path: Path) -> None:
    path = tmp_path / "m.marshal"
    first = MethodCache(path)
    first.exec("a = 1", {}, None)
    assert first.save()
    second = MethodCache(path)  # another kind of kiosk: other classes
    second.exec("b = 2", {}, None)
    assert second.save()
    assert set(marshal.loads(path.read_bytes())) == {"a = 1", "b = 2"}
    third = MethodCache(path)
    third.exec("b = 2", {}, None)  # served from the file
    third.exec("c = 3", {}, None)
    assert third.hits == 1 and third.misses == 1
    assert third.save(max_entries=2)  # three would not fit: what it did not use goes
    assert set(marshal.loads(path.read_bytes())) == {"b = 2", "c = 3"}


@pytest.mark.parametrize("content", [b"", b"not marshal", marshal.dumps({"a": 1}), b"\x00" * 9])
def test_a_broken_cache_file_is_ignored(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "m.marshal"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        cache = MethodCache(path)
    assert "ignoring the dataclass method cache" in caplog.text
    namespace: dict[str, object] = {}
    cache.exec("def f():\n return 2\n", namespace, namespace)
    assert namespace["f"]() == 2  # type: ignore[operator]
    assert cache.misses == 1


def test_a_cache_that_cannot_be_written_is_not_an_error(tmp_path: Path) -> None:
    cache = MethodCache(tmp_path / "missing" / "deeper" / "m.marshal")  # its folder's parent
    cache.exec("y = 2", {}, None)  # is missing, as on a read-only root: save says no
    assert cache.save() is False


@pytest.mark.parametrize(
    ("argv", "environment", "installed"),
    [
        (["run", "--help"], {}, True),
        (["admin"], {}, False),
        (["run", "--help"], {DISABLE_VARIABLE: "1"}, False),
    ],
)
def test_jukebox_installs_it_for_the_kiosk_s_commands_unless_told_not_to(
    argv: list[str], environment: dict[str, str], installed: bool
) -> None:
    code = (
        "import dataclasses, sys\n"
        "from jukebox.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('installed' if 'exec' in vars(dataclasses) else 'not installed')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != DISABLE_VARIABLE} | environment
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True, env=env)  # fmt: skip
    assert result.stdout.strip().splitlines()[-1] == ("installed" if installed else "not installed")
