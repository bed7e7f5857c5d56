"""Demo joint meeting (``--demo``): a ticket in dispute, settled by a 联席会议 (§5(3)5).

A drainage complaint is dispatched to 市住房城乡建设局 (lead) and 市城管局 (co-unit); 市城管局
asks to return it, naming 市住房城乡建设局, which has not signed for it. The city centre
convenes a joint meeting with its default participants (市纪委监委机关, 市委编办, 市司法局) plus
the units in dispute and 市水务集团, which decides by 谁主管、谁负责 that 市城管局 leads with
市住房城乡建设局 as co-unit and a deadline of five days: both receive it return-locked
(``cgj.handler`` sees it to sign for, and may not return it).

Everything goes through the use cases (``domain.tickets.service`` and
``domain.supervision.meetings``), acting as the demo accounts at simulated times (as
:mod:`seeds.demo_tickets` does). Idempotent: when any demo meeting exists, nothing is done; a
session advisory lock serialises concurrent seeds.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from authz.enforcer import PolicyEnforcer
from domain.calendar import TZ
from domain.inputs import aware_now
from domain.supervision import meetings as mq
from domain.supervision.models import Meeting, MeetingKind, Principle
from domain.tickets import service as svc
from domain.tickets.models import Channel
from seeds.demo_tickets import LATEST_BASE, _Demo, _ticket
from seeds.once import seed_once
from seeds.registry import CITY_CODE, Progress

__all__ = ["seed_demo_meetings"]

# pg_advisory_lock key ("YIWANGM"): one demo-meeting seed at a time.
LOCK_KEY = 0x59_49_57_41_4E_47_4D

CD = "city.dispatcher"
CS = "city.supervisor"
CH = "cgj.handler"
HOUSING = "市住房城乡建设局"
CGJ = "市城管局"
WATER_GROUP = "市水务集团"


async def _joint_meeting_on_drainage(d: _Demo) -> None:
    """Disputed: 市城管局 (co-unit) asks to return it, 市住房城乡建设局 (lead) never signs; the
    joint meeting designates 市城管局 as lead and 市住房城乡建设局 as co-unit."""
    t = await d.create(
        CD,
        _ticket(
            CITY_CODE,
            d.ago(days=3, hours=6),
            channel=Channel.HOTLINE_12345,
            category="WS.DRAINAGE",
            title="小区门前道路雨水井堵塞，雨后积水数日不退",
            content=(
                "来电人反映宿城区幸福街道某小区南门外道路的雨水井长期堵塞，每逢下雨路面积水"
                "没过脚踝，数日不退，居民出行困难。此前多次反映，相关部门均称不归其管理。"
            ),
            address="宿城区幸福街道某小区南门外",
            division="321302005",
            name="周先生",
            phone="13905271188",
        ),
    )
    _lead, co = await d.dispatch(CD, t, HOUSING, (CGJ,), at=d.ago(days=3, hours=5))
    await d.request_return(
        CH,
        co,
        svc.ReturnInput(
            reason="该雨水井位于小区配套道路，未办理市政设施移交，应由住建部门督促建设单位维护",
            basis="市政设施移交接收清单（未列入该路段）；市城管局市政设施养护职责清单",
            suggested_unit=HOUSING,
            verifier_name="王建国",
            verifier_phone="0527-84361234",
        ),
        d.ago(days=3, hours=3),
    )
    units = {u: await d.unit(u) for u in (HOUSING, CGJ, WATER_GROUP)}
    meeting = await mq.schedule_meeting(
        uow=d.uow,
        actor=await d.who(CS),
        data=mq.NewMeeting(
            kind=MeetingKind.JOINT,
            convened_by=CITY_CODE,
            held_at=d.ago(days=1, hours=4),
            agenda="研判小区门前道路雨水井堵塞积水问题的管理职责，明确办理单位和办理时限",
            participant_unit_ids=list(units.values()),
            ticket_ids=[t],
            demo=True,
        ),
        now=d.ago(days=2),
    )
    await mq.record_meeting_decision(
        uow=d.uow,
        actor=await d.who(CS),
        data=mq.NewDecision(
            meeting_id=meeting.id,
            ticket_id=t,
            principle=Principle.WHO_ADMINISTERS,
            lead_unit_id=units[CGJ],
            co_unit_ids=[units[HOUSING]],
            deadline=d.base + timedelta(days=5),
            note="经核查该路段已纳入城市道路管理，按谁主管、谁负责由市城管局牵头疏通，"
            "市住房城乡建设局督促建设单位配合",
        ),
        now=d.ago(days=1, hours=2),
    )


SCENARIOS = (_joint_meeting_on_drainage,)


async def seed_demo_meetings(
    engine: AsyncEngine, progress: Progress | None = None, *, now: datetime | None = None
) -> int:
    """Create the demo meeting unless a demo meeting exists; returns how many were created."""
    say = progress or (lambda _msg: None)
    now = aware_now(now)
    base = min(now.astimezone(TZ), LATEST_BASE)
    async with seed_once(engine, LOCK_KEY, select(Meeting.id).where(Meeting.demo.is_(True))) as run:
        if not run:
            return 0
        say("demo meetings")
        enforcer = PolicyEnforcer(engine)
        await enforcer.load()
        demo = _Demo(engine, enforcer, base)
        for scenario in SCENARIOS:
            await scenario(demo)
        async with engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        select(func.count()).select_from(Meeting).where(Meeting.demo.is_(True))
                    )
                ).scalar_one()
            )
