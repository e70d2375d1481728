"""The polkit rule that lets the jukebox user reboot, evaluated by a real JavaScript engine
(polkitd runs its rules in one): it allows logind's reboot actions to that user, nothing else."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

RULE = Path(__file__).parents[2] / "image-build/files/etc/polkit-1/rules.d/50-jukebox-reboot.rules"
NODE = shutil.which("node") or shutil.which("nodejs")

# polkitd's API as rules see it: polkit.addRule(f), f(action, subject) -> a polkit.Result.
HARNESS = """
const fs = require("fs");
const rules = [];
const polkit = {Result: {YES: "yes", NO: "no", NOT_HANDLED: null}, addRule: (f) => rules.push(f)};
eval(fs.readFileSync(process.argv[1], "utf8"));
const cases = JSON.parse(process.argv[2]);
console.log(JSON.stringify(cases.map(([id, user]) => {
  for (const rule of rules) {
    const answer = rule({id: id}, {user: user});
    if (answer !== null && answer !== undefined) return answer;
  }
  return null;
})));
"""


@pytest.mark.skipif(NODE is None, reason="no JavaScript engine (node) to evaluate polkit rules")
def test_only_the_jukebox_user_may_reboot_and_nothing_more() -> None:
    assert NODE is not None
    cases = [
        ("org.freedesktop.login1.reboot", "jukebox"),
        ("org.freedesktop.login1.reboot-multiple-sessions", "jukebox"),
        ("org.freedesktop.login1.reboot-ignore-inhibit", "jukebox"),
        ("org.freedesktop.login1.reboot", "www-data"),
        ("org.freedesktop.login1.power-off", "jukebox"),
        ("org.freedesktop.systemd1.manage-units", "jukebox"),
        ("org.freedesktop.login1.set-wall-message", "jukebox"),
    ]
    done = subprocess.run(
        [NODE, "-e", HARNESS, str(RULE), json.dumps(cases)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(done.stdout) == ["yes", "yes", "yes", None, None, None, None]
