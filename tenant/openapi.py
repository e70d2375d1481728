"""The service's OpenAPI document, as kept in docs/tenant-openapi.json."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "tenant-openapi.json"


def openapi_document() -> dict[str, Any]:
    """What `create_app(...).openapi()` answers (built over a throw-away data directory)."""
    from tenant.service import create_app

    with tempfile.TemporaryDirectory(prefix="tenant-openapi-") as tmp:
        app = create_app(Path(tmp))
        return app.openapi()


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_openapi(path: Path = DOC_PATH) -> Path:
    path.write_text(render(openapi_document()))
    return path
