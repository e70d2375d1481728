"""Serving a cached media file: strong ETag, conditional GET, single byte ranges (RFC 9110)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from tenant.errors import ApiError

CHUNK = 256 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class Unsatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte span asked for, None to send the whole file (absent, malformed or
    multiple ranges are ignored, as RFC 9110 allows); raises Unsatisfiable."""
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        suffix = int(last)
        if suffix == 0:
            raise Unsatisfiable
        return max(0, size - suffix), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid, so ignored
    if start >= size:
        raise Unsatisfiable
    return start, min(end, size - 1)


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))


def media_response(request: Request, path: Path, sha256: str) -> Response:
    etag = f'"{sha256}"'
    base = {"ETag": etag, "Accept-Ranges": "bytes", "Cache-Control": "private, max-age=31536000"}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=base)
    try:
        f: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by the body iterator or below
    except OSError as exc:
        raise ApiError(404, "not_found", "no such media") from exc
    try:
        size = os.fstat(f.fileno()).st_size
        range_header = request.headers.get("range")
        if_range = request.headers.get("if-range")
        if if_range is not None and if_range.strip() != etag:
            range_header = None
        try:
            span = parse_range(range_header, size)
        except Unsatisfiable:
            f.close()
            raise ApiError(
                416,
                "range_not_satisfiable",
                f"the file has {size} bytes",
                {**base, "Content-Range": f"bytes */{size}"},
            ) from None
        status, start, end = (200, 0, size - 1) if span is None else (206, *span)
        headers = {**base, "Content-Length": str(end - start + 1)}
        headers["Content-Type"] = "application/octet-stream"
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        if request.method == "HEAD":
            f.close()
            return Response(status_code=status, headers=headers)
        f.seek(start)
        return StreamingResponse(_read(f, end - start + 1), status_code=status, headers=headers)
    except BaseException:
        f.close()
        raise


def _read(f: BinaryIO, length: int) -> Iterator[bytes]:
    with f:
        while length > 0:
            chunk = f.read(min(CHUNK, length))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk
