"""The audit trail: one row per change, written by the service functions that make it.

Rows are only ever appended (`TenantStore.append_audit`); no route updates or deletes them.
`before`/`after` keep JSON of the object when it is small (AUDIT_MAX_JSON), else a note.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from tenant.context import ServiceContext
from tenant.store import AuditEntry

log = logging.getLogger(__name__)

AUDIT_MAX_JSON = 4000


def record_change(
    ctx: ServiceContext,
    tenant: str,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    *,
    before: Any = None,
    after: Any = None,
) -> None:
    """Append one audit row (who, when, what, on which object, before and after)."""
    ctx.store.append_audit(
        AuditEntry(
            tenant=tenant,
            at_ms=ctx.settings.now_ms(),
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            before=_small(before),
            after=_small(after),
        )
    )
    log.info("tenant %s: %s by %s on %s %s", tenant, action, actor, object_type, object_id)


def _small(value: Any) -> str | None:
    if value is None:
        return None
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    if len(text) > AUDIT_MAX_JSON:
        return json.dumps({"omitted": f"{len(text)} characters"})
    return text
