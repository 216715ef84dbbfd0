"""The audit log: one way to append to it, and a guard that nothing rewrites history."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from .extensions import db
from .models import AuditEntry, User


class AuditLogIsAppendOnly(RuntimeError):
    pass


def record(
    organization_id: int,
    action: str,
    *,
    actor: User | None = None,
    subject: Any = None,
    reason: str | None = None,
    **detail: Any,
) -> AuditEntry:
    """Append an entry to the current transaction; it commits or rolls back with the change."""
    entry = AuditEntry(
        organization_id=organization_id,
        actor_id=actor.id if actor is not None else None,
        action=action,
        subject_type=type(subject).__name__ if subject is not None else None,
        subject_id=str(subject.id) if subject is not None else None,
        reason=reason,
        detail=detail,
    )
    db.session.add(entry)
    return entry


@event.listens_for(Session, "before_flush")
def _refuse_audit_rewrites(session: Session, flush_context, instances) -> None:
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEntry) and (obj in session.deleted or session.is_modified(obj)):
            raise AuditLogIsAppendOnly("audit entries cannot be changed or deleted")
