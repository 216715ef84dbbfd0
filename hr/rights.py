"""Posting-rights status per person for HR counts, always computed by ``posting_rights_for``.

HR's dashboard counts thousands of people; asking ``advocacy.services.posting_rights_for``
for each on every page view would be slow, so the answers are kept here (with the time they
were computed) and refreshed by ``cleared hr sweep``, or inline when few are stale. The rule
itself is never re-implemented here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, or_, select

from advocacy.services import posting_rights_for
from lms_plugin.core.extensions import db
from lms_plugin.core.models import User
from lms_plugin.core.timeutil import utcnow

from .models import DailySnapshot, PostingRightsStatus

STATUSES = ("eligible", "probation", "in_training", "not_started", "expired",
            "policy_update_required", "suspended")
STATUS_LABELS = {
    "eligible": "Cleared to post",
    "probation": "Probation",
    "in_training": "In training",
    "not_started": "Not started",
    "expired": "Certificate expired",
    "policy_update_required": "Policy update to acknowledge",
    "suspended": "Suspended or deactivated",
}
FRESH_FOR = timedelta(minutes=10)
INLINE_BUDGET = 300


def refresh(organization_id: int, user_ids: list[int] | None = None, *,
            batch: int = 500) -> int:
    """Recompute and store the status of the organisation's people (or of ``user_ids``)."""
    query = select(User).where(User.organization_id == organization_id).order_by(User.id)
    if user_ids is not None:
        query = query.where(User.id.in_(user_ids))
    existing = {row.user_id: row for row in db.session.execute(
        select(PostingRightsStatus).where(
            PostingRightsStatus.organization_id == organization_id)).scalars()}
    count = 0
    now = utcnow()
    for user in db.session.execute(query.execution_options(yield_per=batch)).scalars():
        rights = posting_rights_for(user)
        row = existing.get(user.id)
        if row is None:
            row = PostingRightsStatus(organization_id=organization_id, user_id=user.id)
            db.session.add(row)
        row.status, row.eligible = rights.status, rights.eligible
        row.reasons = " ".join(rights.reasons)[:2000]
        row.computed_at = now
        count += 1
    db.session.flush()
    return count


def ensure_fresh(organization_id: int, now: datetime | None = None) -> datetime | None:
    """Refresh stale answers inline when they are few; returns the oldest answer's time."""
    now = now or utcnow()
    stale = select(User.id).outerjoin(
        PostingRightsStatus, PostingRightsStatus.user_id == User.id
    ).where(User.organization_id == organization_id,
            or_(PostingRightsStatus.id.is_(None),
                PostingRightsStatus.computed_at < now - FRESH_FOR)).limit(INLINE_BUDGET + 1)
    stale_ids = list(db.session.execute(stale).scalars())
    if stale_ids and len(stale_ids) <= INLINE_BUDGET:
        refresh(organization_id, stale_ids)
    return db.session.execute(
        select(func.min(PostingRightsStatus.computed_at))
        .where(PostingRightsStatus.organization_id == organization_id)).scalar()


def take_snapshot(organization_id: int, now: datetime | None = None) -> DailySnapshot:
    """Store today's counts by status (active people), for the trend chart."""
    now = now or utcnow()
    counts = dict(db.session.execute(
        select(PostingRightsStatus.status, func.count())
        .join(User, User.id == PostingRightsStatus.user_id)
        .where(PostingRightsStatus.organization_id == organization_id, User.active)
        .group_by(PostingRightsStatus.status)).all())
    row = db.session.execute(select(DailySnapshot).filter_by(
        organization_id=organization_id, day=now.date())).scalar_one_or_none()
    if row is None:
        row = DailySnapshot(organization_id=organization_id, day=now.date())
        db.session.add(row)
    row.counts, row.taken_at = counts, now
    db.session.flush()
    return row


def snapshots(organization_id: int, days: int = 90) -> list[DailySnapshot]:
    since = utcnow().date() - timedelta(days=days)
    return list(db.session.execute(
        select(DailySnapshot).where(DailySnapshot.organization_id == organization_id,
                                    DailySnapshot.day >= since)
        .order_by(DailySnapshot.day)).scalars())
