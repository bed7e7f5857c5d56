"""Demo notices, an accountability referral and the month's draft scores (``--demo``, §6, §7).

After the demo tickets, the city centre's supervisor (``city.supervisor``):

* publishes a weekly notice (周报, §7(1)) naming 市城管局 and one of its demo tickets;
* refers 市城管局 to the discipline commission (移送, §7(2)) on the ground of passive handling
  after reminders (§7(3)2), with the same ticket, the outcome still open;
* computes the city's assessment of the current month as a draft (§6), so the ranking, the
  bottom three and each unit's breakdown have data.

Everything goes through the use cases. Idempotent: when the demo notice exists, nothing is
done; a session advisory lock serialises concurrent seeds.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from authz.enforcer import PolicyEnforcer
from domain.assessment import accountability, notices
from domain.assessment.notice_models import AccountabilityGround, Notice, NoticeKind
from domain.assessment.service import compute_assessment
from domain.calendar import TZ
from domain.tickets.models import Assignment
from seeds.demo_tickets import _Demo
from seeds.once import seed_once
from seeds.registry import CITY_CODE, Progress

__all__ = ["DEMO_NOTICE_TITLE", "seed_demo_notices"]

# pg_advisory_lock key ("YIWANGN"): one demo-notice seed at a time.
LOCK_KEY = 0x59_49_57_41_4E_47_4E

CS = "city.supervisor"
CGJ = "市城管局"
DEMO_NOTICE_TITLE = "市级成员单位工单办理情况周报（演示）"


async def seed_demo_notices(
    engine: AsyncEngine, progress: Progress | None = None, *, now: datetime | None = None
) -> int:
    """Publish the demo notice and referral and compute the month's draft; returns how many
    notices were created (0 when they exist)."""
    say = progress or (lambda _msg: None)
    now = (now or datetime.now(TZ)).astimezone(TZ)
    done = select(Notice.id).where(
        Notice.centre_code == CITY_CODE, Notice.title == DEMO_NOTICE_TITLE
    )
    async with seed_once(engine, LOCK_KEY, done) as run:
        if not run:
            return 0
        say("demo notices, referral and scores")
        enforcer = PolicyEnforcer(engine)
        await enforcer.load()
        d = _Demo(engine, enforcer, now)
        supervisor = await d.who(CS)
        cgj = await d.unit(CGJ)
        async with d.sessions() as s:
            ticket_id = (
                await s.execute(
                    select(Assignment.ticket_id)
                    .where(Assignment.unit_id == cgj, Assignment.centre_code == CITY_CODE)
                    .order_by(Assignment.id)
                    .limit(1)
                )
            ).scalar_one_or_none()
        tickets = [ticket_id] if ticket_id is not None else []
        await notices.publish_notice(
            uow=d.uow,
            actor=supervisor,
            centre_code=CITY_CODE,
            kind=NoticeKind.WEEKLY,
            title=DEMO_NOTICE_TITLE,
            body="本周市城管局承办的工单中，存在签收不及时、答复要素不全的情况，"
            "现予通报，请限期整改并报送整改情况。",
            ticket_ids=tickets,
            unit_ids=[cgj],
            now=now,
        )
        await accountability.refer_for_accountability(
            uow=d.uow,
            actor=supervisor,
            unit_id=cgj,
            grounds=[AccountabilityGround.PASSIVE_OR_OVERDUE_AFTER_REMINDER],
            note="经催办仍未在规定时限内办结，移送市纪委监委机关（演示）。",
            ticket_ids=tickets,
            now=now,
        )
        await compute_assessment(
            uow=d.uow,
            actor=supervisor,
            centre_code=CITY_CODE,
            month=date(now.year, now.month, 1),
            now=now,
        )
        return 1
