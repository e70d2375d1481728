"""Tests of image-build/: the image assembly on a tiny root filesystem, and the image's files."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

IMAGE_BUILD = Path(__file__).resolve().parents[2] / "image-build"


def load(name: str) -> ModuleType:
    """A module of image-build/ (a folder of scripts, not a package), imported by its path."""
    if str(IMAGE_BUILD) not in sys.path:
        sys.path.insert(0, str(IMAGE_BUILD))  # its modules import each other by name
    spec = importlib.util.spec_from_file_location(f"image_build_{name}", IMAGE_BUILD / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
