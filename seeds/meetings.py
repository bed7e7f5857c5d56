"""Seed the default participants of joint meetings (联席会议, regulation §5(3)5): idempotent.

"由市指挥中心牵头，联合市纪委监委机关、市委编办、市司法局等部门组成联席研判工作小组": the three
units are looked up among the city's members by their appendix entry (stable seed key, so an
administrator's later renaming does not matter). Once any default exists for the kind, or the
city's centre admin has set the list (``meeting.defaults_set``), a reseed leaves it alone.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.events import Event
from domain.registry.models import Unit
from domain.supervision.models import MeetingDefaultParticipant, MeetingKind
from seeds.registry import CITY_CODE, Progress, unit_seeds

JOINT_DEFAULTS = ("市纪委监委机关", "市委编办", "市司法局")


async def seed_meeting_defaults(
    session: AsyncSession, progress: Progress | None = None
) -> dict[str, int]:
    say = progress or (lambda _msg: None)
    added = {"meeting_defaults": 0}
    kind = MeetingKind.JOINT
    existing = (
        await session.execute(
            select(func.count())
            .select_from(MeetingDefaultParticipant)
            .where(MeetingDefaultParticipant.kind == kind)
        )
    ).scalar_one()
    administered = (
        await session.execute(
            select(func.count())
            .select_from(Event)
            .where(
                Event.type == "meeting.defaults_set",
                Event.entity_type == "meeting_defaults",
                Event.entity_id == kind.value,
            )
        )
    ).scalar_one()
    if existing or administered:
        return added
    say("meeting defaults")
    keys = {u.name: u.seed_key for u in unit_seeds()}
    missing = [n for n in JOINT_DEFAULTS if n not in keys]
    if missing:
        raise RuntimeError(f"the appendix lacks {', '.join(missing)}")
    ids = (
        await session.execute(
            select(Unit.id).where(
                Unit.seed_key.in_([keys[n] for n in JOINT_DEFAULTS]), Unit.member_of == CITY_CODE
            )
        )
    ).scalars()
    for uid in ids:
        res = await session.execute(
            insert(MeetingDefaultParticipant)
            .values(kind=kind, unit_id=uid)
            .on_conflict_do_nothing(index_elements=["kind", "unit_id"])
        )
        added["meeting_defaults"] += int(res.rowcount or 0)  # type: ignore[attr-defined]
    return added
