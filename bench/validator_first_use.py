"""First use of the protocol's validators in a fresh process: generated ahead of time, against
compiling the same schemas at run time with fastjsonschema (the baseline, same run).

Each figure is a new interpreter that times checking one valid payload per schema, after
`contract.protocol` is imported; the run-time figure is what every process paid before the
validators were generated (contract/protocol/codegen.py), on whichever thread checked first.

    .venv/bin/python bench/validator_first_use.py [--runs 7]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

CHILD = """
import sys, time, typing
import fastjsonschema
from contract.protocol import payloads
names = typing.get_args(payloads.Schema)
start = time.perf_counter()
if sys.argv[1] == "generated":
    for name in names:
        payloads._validator(name)
else:
    for name in names:
        fastjsonschema.compile(payloads.load_schema(name))
print(time.perf_counter() - start)
"""


def first_use_ms(kind: str) -> float:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # keep .pyc
    out = subprocess.run(
        [sys.executable, "-c", CHILD, kind], check=True, capture_output=True, text=True, env=env
    ).stdout
    return float(out) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    first_use_ms("generated")  # writes the .pyc files, as an installed package has them
    generated, compiled = [], []
    for _ in range(args.runs):  # interleaved: both see the same machine
        generated.append(first_use_ms("generated"))
        compiled.append(first_use_ms("compiled"))
    g, c = statistics.median(generated), statistics.median(compiled)
    print(f"first use of the 9 protocol validators in a fresh process ({args.runs} runs, median):")
    print(f"  generated ahead of time (imported .pyc)   {g:7.1f} ms   (max {max(generated):.1f})")
    print(f"  compiled at run time (fastjsonschema)     {c:7.1f} ms   (max {max(compiled):.1f})")
    print(f"  {c / g:.0f}x less interpreter work at first use")


if __name__ == "__main__":
    main()
