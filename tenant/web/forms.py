"""Reading posted forms, and saying what is wrong with them in one line."""

from __future__ import annotations

from fastapi import Request
from pydantic import ValidationError

MAX_FIELD = 10_000


class Form(dict[str, str]):
    """The form's single values (text fields); `lists` keeps repeated ones in order."""

    def __init__(self) -> None:
        super().__init__()
        self.lists: dict[str, list[str]] = {}


async def form_of(request: Request) -> Form:
    """The posted fields (a JSON or empty body gives none); long values are cut."""
    form = Form()
    data = await request.form()
    for key, value in data.multi_items():
        if isinstance(value, str):
            text = value[:MAX_FIELD]
            form.setdefault(key, text)
            form.lists.setdefault(key, []).append(text)
    return form


def problem_of(exc: ValidationError) -> str:
    """ "title: String should have at least 1 character; …" """
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "form"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
