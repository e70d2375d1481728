"""Request body bounds: JSON bodies are small UTF-8; only media uploads stream large bodies.

`BodyLimit` answers 413 over the limit and 422 for a body that is not UTF-8 (RFC 8259: JSON
exchanged between systems is UTF-8; FastAPI would otherwise answer an undocumented 400), and
`declare_body_limit` puts that 413 into the OpenAPI document of every operation with a body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit", "declare_body_limit"]

# Media streams (limited by max_media_size there): the API's PUT and the console's upload.
_MEDIA_UPLOAD = re.compile(r"/t/[^/]+/(v1/admin/media/[^/]+|console/tracks/upload)")


class BodyLimit:
    """Refuse (413) any request body over `limit` bytes, except media uploads (PUT), which
    their endpoint bounds while it streams them into the store; refuse (422) a JSON body that
    is not UTF-8."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            scope["method"] in ("PUT", "POST") and _MEDIA_UPLOAD.fullmatch(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        content_type = b""
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._refuse(send)
                return
            if name == b"content-type":
                content_type = value.lower()
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if len(body) > self.limit:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break
        if body and (not content_type or b"json" in content_type):
            problem = _not_utf8(bytes(body))
            if problem is not None:
                await _answer(send, 422, "invalid_request", f"body: {problem}")
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        await _answer(send, 413, "too_large", f"bodies are limited to {self.limit} bytes")


def declare_body_limit(app: FastAPI, limit: int) -> None:
    """Declare BodyLimit's 413 on every operation that takes a body, in `app.openapi()`."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        fresh = app.openapi_schema is None
        document = build()
        if fresh:
            schemas = document.get("components", {}).get("schemas", {})
            response: dict[str, Any] = {"description": f"the body is over {limit} bytes"}
            if "ErrorBody" in schemas:
                ref = {"$ref": "#/components/schemas/ErrorBody"}
                response["content"] = {"application/json": {"schema": ref}}
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    if isinstance(operation, dict) and "requestBody" in operation:
                        operation.setdefault("responses", {}).setdefault("413", response)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _not_utf8(body: bytes) -> str | None:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (
            f"not valid UTF-8 (byte 0x{body[exc.start]:02x} at offset {exc.start}); "
            "JSON bodies must be UTF-8"
        )
    return None


async def _answer(send: Send, status: int, error: str, description: str) -> None:
    payload = json.dumps({"error": error, "error_description": description}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
