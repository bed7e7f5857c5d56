"""The monthly assessment (§6, §7(3)1; issue #6) through its use cases and over HTTP.

1. A small month built by hand through the real workflow use cases (events are stamped with the
   commit time, so the month is the current one, Asia/Shanghai) and its score computed by hand:
   every line matched exactly; province and city tickets kept apart.
2. Deemed acceptance and overdue assignments (the sweeper's events) cost on-time points.
3. Re-running is idempotent; a published month is frozen: computing it again is a typed error
   that changes nothing, and events that arrive later do not change its stored scores.
4. The annual score is the mean of the published months; drafts do not count.
5. The bottom three with ties at the boundary.
6. Authorization: a county centre cannot compute or read the city's scores and vice versa; a
   unit reads only its own published scores.
7. End to end over HTTP through the live server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from conftest import GraphQLClient
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.relay import to_global_id
from authz.enforcer import PolicyEnforcer
from domain.accounts import Principal
from domain.assessment import notices
from domain.assessment import queries as aq
from domain.assessment import service as svc
from domain.assessment.models import AssessmentRun, RunStatus, UnitScore
from domain.assessment.notice_models import NoticeKind
from domain.assessment.ranking import publish_ranking_notice
from domain.calendar import TZ
from domain.db import make_engine
from domain.errors import Conflict, InvalidInput, NotFound
from domain.events import Event
from domain.registry import service as registry
from domain.registry.models import Unit, UnitCategory
from domain.supervision import service as ss
from domain.supervision.models import Grounds, SupervisionForm
from domain.tickets import service as ts
from domain.tickets.models import Assignment, Channel, OriginLevel
from domain.tickets.reply_rules import Outcome, Satisfaction
from domain.tickets.sweeper import sweep
from domain.tickets.workflow import InvalidTransition
from domain.uow import UnitOfWork

D = Decimal
CITY, SHUYANG = "3213", "321322"
USERS = (
    "admin",
    "city.dispatcher",
    "city.reviewer",
    "city.supervisor",
    "city.leader",
    "shuyang.supervisor",
    "shuyang.dispatcher",
    "cgj.handler",
    "cgj.leader",
)


def this_month() -> date:
    now = datetime.now(TZ)
    return date(now.year, now.month, 1)


def last_year(month: int) -> date:
    return date(datetime.now(TZ).year - 1, month, 1)


@dataclass
class World:
    sessions: async_sessionmaker[AsyncSession]
    enforcer: PolicyEnforcer
    people: dict[str, Principal]
    principal: Any

    def p(self, username: str) -> Principal:
        return self.people[username]

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.enforcer)

    async def reload(self, username: str) -> Principal:
        self.people[username] = await self.principal(username)
        return self.people[username]


@pytest.fixture
async def w(
    sessions: async_sessionmaker[AsyncSession], enforcer: PolicyEnforcer, principal: Any
) -> World:
    return World(sessions, enforcer, {u: await principal(u) for u in USERS}, principal)


async def new_unit(w: World, name: str, *, key: str = "", centre: str = CITY) -> int:
    """A fresh member unit (no demo activity); with a ``key``, a handler ``<key>.h`` and a
    leader ``<key>.l``."""
    admin = "admin" if centre == CITY else "shuyang.admin"
    if admin not in w.people:
        await w.reload(admin)
    u = await registry.create_unit(
        uow=w.uow(),
        actor=w.p(admin),
        name=name,
        category=UnitCategory.GOVERNMENT if centre == CITY else UnitCategory.DEPARTMENT,
        member_of=centre,
    )
    if key:
        for suffix, role in (("h", "unit_handler"), ("l", "unit_leader")):
            await registry.create_staff(
                uow=w.uow(),
                actor=w.p(admin),
                username=f"{key}.{suffix}",
                display_name=f"{name}{suffix}",
                password="yiwang-demo",
                unit_id=u.id,
                roles=[role],
            )
            await w.reload(f"{key}.{suffix}")
    return u.id


_phone = iter(range(10_000_000))


async def dispatched(
    w: World,
    unit_id: int,
    *,
    level: OriginLevel = OriginLevel.CITY,
    by: str = "city.dispatcher",
    centre: str | None = None,
) -> tuple[int, int, str]:
    """A new ticket dispatched to the unit as lead: (ticket id, assignment id, number)."""
    t = await ts.create_ticket(
        uow=w.uow(),
        actor=w.p(by),
        data=ts.NewTicket(
            channel=Channel.HOTLINE_12345,
            origin_level=level,
            category_code="CM.STREET_LIGHTS",
            title="路灯不亮",
            content=f"第{next(_phone)}号路灯连续三晚不亮。",
            complainant_name="王五",
            complainant_phone=f"139{next(_phone):08d}",
            centre_code=centre,
        ),
    )
    await ts.dispatch_ticket(uow=w.uow(), actor=w.p(by), ticket_id=t.id, lead_unit_id=unit_id)
    async with w.sessions() as s:
        aid = (
            await s.execute(
                select(Assignment.id).where(
                    Assignment.ticket_id == t.id, Assignment.unit_id == unit_id
                )
            )
        ).scalar_one()
    return t.id, aid, t.number


async def assignment(w: World, aid: int) -> Assignment:
    async with w.sessions() as s:
        a = await s.get(Assignment, aid)
        assert a is not None
        return a


def good_reply(
    text_: str = "经现场核实，路灯线路老化，已更换线路并恢复照明，市民表示满意。",
) -> Any:
    return ts.ReplyInput(
        handler_name="赵专人",
        handler_phone="13900001111",
        contacted_at=datetime.now(TZ),
        communication="电话联系市民，约定现场查看路灯故障情况。",
        citizen_satisfied=True,
        handling="现场更换老化线路，路灯恢复照明。",
        text=text_,
        outcome=Outcome.RESOLVED,
    )


HOLLOW = "已联系市民解释，请耐心等待。"


async def reply(
    w: World, unit: str, aid: int, *, submit_at: datetime | None = None, accept: bool = True
) -> None:
    """Draft (handler), approve (leader), submit (handler), review (the centre's reviewer)."""
    await ts.draft_reply(uow=w.uow(), actor=w.p(f"{unit}.h"), assignment_id=aid, data=good_reply())
    await ts.approve_reply(uow=w.uow(), actor=w.p(f"{unit}.l"), assignment_id=aid)
    await ts.submit_reply(uow=w.uow(), actor=w.p(f"{unit}.h"), assignment_id=aid, now=submit_at)
    await ts.review_reply(
        uow=w.uow(),
        actor=w.p("city.reviewer"),
        assignment_id=aid,
        accept=accept,
        reasons=None if accept else "答复未说明更换线路的时间，请补充。",
    )


async def callback(w: World, tid: int, sat: Satisfaction, resolved: bool) -> None:
    await ts.record_callback(
        uow=w.uow(),
        actor=w.p("city.reviewer"),
        ticket_id=tid,
        satisfaction=sat,
        actually_resolved=resolved,
    )


async def compute(
    w: World, by: str = "city.supervisor", centre: str = CITY, month: date | None = None
) -> AssessmentRun:
    return await svc.compute_assessment(
        uow=w.uow(), actor=w.p(by), centre_code=centre, month=month or this_month()
    )


async def view(
    w: World, by: str = "city.supervisor", centre: str = CITY, month: date | None = None
) -> aq.MonthView | None:
    async with w.sessions() as s:
        return await aq.month_view(s, w.enforcer, w.p(by), centre, month or this_month())


def score_of(v: aq.MonthView, unit_id: int) -> UnitScore:
    (row,) = [s for s in v.scores if s.unit_id == unit_id]
    return row


def line(row: UnitScore, level: str | None, indicator: str) -> dict[str, Any]:
    (ln,) = [x for x in row.breakdown if x["originLevel"] == level and x["indicator"] == indicator]
    return ln


def numbers(ln: dict[str, Any]) -> set[str]:
    return {n for _, n in ln["tickets"]}


async def set_attention(
    w: World, unit_id: int, score: Any, month: date | None = None, by: str = "city.supervisor"
) -> None:
    await svc.set_attention_score(
        uow=w.uow(),
        actor=w.p(by),
        centre_code=CITY if by.startswith("city") else SHUYANG,
        unit_id=unit_id,
        month=month or this_month(),
        score=score,
        note="按时参加例会，负责人亲自过问",
    )


# ---- 1. a month by hand ----------------------------------------------------------------------
async def test_a_hand_built_month_scores_exactly_as_computed_by_hand(w: World) -> None:
    a = await new_unit(w, "考核测试甲局", key="ta")
    b = await new_unit(w, "考核测试乙局")

    # T1 (city): signed on time, replied on time, satisfied and resolved.
    t1, a1, n1 = await dispatched(w, a)
    await ts.sign_for(uow=w.uow(), actor=w.p("ta.h"), assignment_id=a1)
    await reply(w, "ta", a1)
    await callback(w, t1, Satisfaction.SATISFIED, True)

    # T2 (city): signed late, replied late, unsatisfied and unresolved, then redone.
    t2, a2, n2 = await dispatched(w, a)
    sign_by = (await assignment(w, a2)).sign_by
    await ts.sign_for(
        uow=w.uow(),
        actor=w.p("ta.h"),
        assignment_id=a2,
        now=sign_by + timedelta(hours=1),
    )
    due = (await assignment(w, a2)).due_at
    await reply(w, "ta", a2, submit_at=due + timedelta(hours=1))
    await callback(w, t2, Satisfaction.UNSATISFIED, False)
    await ts.redo_ticket(
        uow=w.uow(), actor=w.p("city.dispatcher"), ticket_id=t2, reason="市民反映路灯仍不亮"
    )

    # T3 (city): a return the centre rejects, one approved extension, a hollow draft left open.
    _t3, a3, n3 = await dispatched(w, a)
    await ts.request_return(
        uow=w.uow(),
        actor=w.p("ta.h"),
        assignment_id=a3,
        data=ts.ReturnInput(
            reason="该路灯不属本单位管理",
            basis="《城市照明管理办法》第八条",
            suggested_unit="市城管局",
            verifier_name="张核实",
            verifier_phone="13900002222",
        ),
    )
    await ts.decide_return(
        uow=w.uow(),
        actor=w.p("city.dispatcher"),
        assignment_id=a3,
        approve=False,
        note="经核实属该单位职责",
    )
    await ts.sign_for(uow=w.uow(), actor=w.p("ta.h"), assignment_id=a3)
    await ts.request_extension(
        uow=w.uow(),
        actor=w.p("ta.h"),
        assignment_id=a3,
        reason="需协调电力部门",
        proposed_due=(await assignment(w, a3)).due_at + timedelta(days=3),
    )
    await ts.decide_extension(
        uow=w.uow(), actor=w.p("city.dispatcher"), assignment_id=a3, approve=True
    )
    await ts.draft_reply(uow=w.uow(), actor=w.p("ta.h"), assignment_id=a3, data=good_reply(HOLLOW))

    # T4 (city): a reply sent back, then completed on time; the citizen cannot be reached.
    t4, a4, n4 = await dispatched(w, a)
    await ts.sign_for(uow=w.uow(), actor=w.p("ta.h"), assignment_id=a4)
    await reply(w, "ta", a4, accept=False)
    await reply(w, "ta", a4)
    await callback(w, t4, Satisfaction.UNREACHABLE, False)

    # P1 (province): all good, basically satisfied.
    p1, ap1, _np1 = await dispatched(w, a, level=OriginLevel.PROVINCE)
    await ts.sign_for(uow=w.uow(), actor=w.p("ta.h"), assignment_id=ap1)
    await reply(w, "ta", ap1)
    await callback(w, p1, Satisfaction.BASICALLY_SATISFIED, True)

    # A supervision case, not answered by its deadline (the sweeper reminds it).
    now = datetime.now(TZ)
    case = await ss.open_supervision(
        uow=w.uow(),
        actor=w.p("city.supervisor"),
        target_unit_ids=[a],
        grounds=[Grounds.LATE_WITHOUT_REASON],
        form=SupervisionForm.DAILY_ONLINE,
        deadline=now + timedelta(hours=1),
    )
    await ss.sweep_supervision(w.sessions, now=now + timedelta(hours=2))

    await set_attention(w, a, 80)

    run = await compute(w)
    assert run.status == RunStatus.DRAFT
    v = await view(w)
    assert v is not None and v.scheme.version == 1
    row = score_of(v, a)

    # By hand (docs/ASSESSMENT.md, default scheme):
    # CITY: sign-for 3/4 → 10 × 0.75 = 7.50; on time 2/3 (T2 late) → 30 × (2/3) / 0.95 = 21.05;
    #   satisfaction 1/2 (T4 unreachable, excluded) < cliff 0.6 → 0; resolution 1/2 at the
    #   cliff 0.5 → 20 × 0.5 / 0.9 = 11.11; attention 80 → 12.00; rejected return −1; redo −2;
    #   extension 1 (2 free) 0; sent back −1; hollow −2 → 45.66.
    # PROVINCE: every rate full 10 + 30 + 25 + 20, attention 12 → 97.00.
    # Composite: 0.5 × 97.00 + 0.5 × 45.66 = 48.50 + 22.83; supervision opened −1, overdue −2.
    expected_city = {
        "SIGN_ON_TIME": "7.50",
        "ON_TIME_COMPLETION": "21.05",
        "SATISFACTION": "0.00",
        "ACTUAL_RESOLUTION": "11.11",
        "ATTENTION": "12.00",
        "REJECTED_RETURN": "-1.00",
        "REDO": "-2.00",
        "EXTENSION": "0.00",
        "SENT_BACK": "-1.00",
        "HOLLOW_REPLY": "-2.00",
    }
    for ind, pts in expected_city.items():
        assert line(row, "CITY", ind)["points"] == pts, ind
    assert row.city_score == D("45.66")
    assert row.province_score == D("97.00")
    assert line(row, "PROVINCE", "LEVEL_SCORE")["points"] == "48.50"
    assert line(row, "CITY", "LEVEL_SCORE")["points"] == "22.83"
    assert line(row, None, "SUPERVISION_OPENED")["points"] == "-1.00"
    assert line(row, None, "SUPERVISION_OVERDUE")["points"] == "-2.00"
    assert line(row, None, "SUPERVISION_OVERDUE")["cases"] == [case.id]
    assert row.score == D("68.33")
    assert row.attention == D("80.00") and row.attention_entered

    # Province and city kept apart: counts per level, from the events.
    city, prov = row.indicators["levels"]["CITY"], row.indicators["levels"]["PROVINCE"]
    assert (city["received"], prov["received"]) == (4, 1)
    assert (city["signed"], city["signedLate"], prov["signed"]) == (4, 1, 1)
    assert (city["completed"], city["completedLate"], prov["completed"]) == (3, 1, 1)
    assert (city["satisfied"], city["unsatisfied"], city["unreachable"]) == (1, 1, 1)
    assert (prov["satisfied"], prov["unsatisfied"], prov["unreachable"]) == (1, 0, 0)
    assert (city["returnsRequested"], city["returnsRejected"], city["extensions"]) == (1, 1, 1)
    assert (city["redo"], city["sentBack"], city["hollow"]) == (1, 1, 1)
    assert all(prov[k] == 0 for k in ("redo", "sentBack", "hollow", "returnsRequested"))

    # Explainable: the tickets that cost points, by number.
    assert numbers(line(row, "CITY", "SIGN_ON_TIME")) == {n2}
    assert numbers(line(row, "CITY", "ON_TIME_COMPLETION")) == {n2}
    assert numbers(line(row, "CITY", "SATISFACTION")) == {n2}
    assert numbers(line(row, "CITY", "REDO")) == {n2}
    assert numbers(line(row, "CITY", "REJECTED_RETURN")) == {n3}
    assert numbers(line(row, "CITY", "HOLLOW_REPLY")) == {n3}
    assert numbers(line(row, "CITY", "SENT_BACK")) == {n4}
    assert numbers(line(row, "CITY", "EXTENSION")) == set()  # free: cost nothing
    assert n1 not in set().union(*(numbers(x) for x in row.breakdown))

    # The breakdown adds up to the score.
    composite = [x for x in row.breakdown if x["indicator"] in ("LEVEL_SCORE",)] + [
        x for x in row.breakdown if x["originLevel"] is None
    ]
    assert sum(D(x["points"]) for x in composite) == row.score
    for lv, level_score in (("CITY", row.city_score), ("PROVINCE", row.province_score)):
        parts = [
            D(x["points"])
            for x in row.breakdown
            if x["originLevel"] == lv and x["indicator"] != "LEVEL_SCORE" and x["points"]
        ]
        assert sum(parts) == level_score

    # A member without tickets: every rate n/a (full), attention default 100 → 100.
    rb = score_of(v, b)
    assert rb.score == D("100.00") and not rb.attention_entered
    assert rb.province_score is None and rb.city_score is None
    # Ranks are consistent with the scores: equal scores share the best rank.
    higher = sum(1 for s in v.scores if s.score > row.score)
    assert row.rank == higher + 1
    assert all(s.rank == 1 for s in v.scores if s.score == v.scores[0].score)
    # Only the city centre's members are scored, every active one.
    async with w.sessions() as s:
        members = set(
            (await s.execute(select(Unit.id).where(Unit.member_of == CITY, Unit.active))).scalars()
        )
    assert {s.unit_id for s in v.scores} == members


# ---- 2. deemed acceptance and overdue ----------------------------------------------------------
async def test_deemed_acceptance_and_overdue_cost_on_time_points(w: World) -> None:
    a = await new_unit(w, "考核测试丙局")
    tid, aid, number = await dispatched(w, a)
    due = (await assignment(w, aid)).due_at
    result = await sweep(w.sessions, now=due + timedelta(hours=1))
    assert result.deemed_accepted >= 1 and result.overdue_marked >= 1
    await compute(w)
    v = await view(w)
    assert v is not None
    row = score_of(v, a)
    city = row.indicators["levels"]["CITY"]
    assert (city["received"], city["signed"], city["deemed"], city["openOverdue"]) == (1, 0, 1, 1)
    # Sign-for 0/1 and on time 0/1: below the cliffs, no points; the rest full.
    assert line(row, "CITY", "SIGN_ON_TIME")["points"] == "0.00"
    assert line(row, "CITY", "ON_TIME_COMPLETION")["points"] == "0.00"
    assert numbers(line(row, "CITY", "ON_TIME_COMPLETION")) == {number}
    assert row.city_score == D("60.00")  # 25 + 20 + 15
    assert tid


# ---- 3. idempotent, then frozen ----------------------------------------------------------------
async def _events(w: World, type_: str) -> int:
    async with w.sessions() as s:
        n = (
            await s.execute(select(func.count()).select_from(Event).where(Event.type == type_))
        ).scalar_one()
    return int(n)


async def _stored(w: World, run_id: int) -> list[tuple[int, Decimal, int, bool]]:
    async with w.sessions() as s:
        rows = await s.execute(
            select(UnitScore.unit_id, UnitScore.score, UnitScore.rank, UnitScore.flagged)
            .where(UnitScore.run_id == run_id)
            .order_by(UnitScore.unit_id)
        )
        return [tuple(r) for r in rows.all()]  # type: ignore[misc]


async def test_recompute_is_idempotent_and_a_published_month_is_frozen(w: World) -> None:
    a = await new_unit(w, "考核测试丁局", key="td")
    _tid, aid, _n = await dispatched(w, a)
    await ts.sign_for(uow=w.uow(), actor=w.p("td.h"), assignment_id=aid)

    first = await compute(w)
    stored = await _stored(w, first.id)
    again = await compute(w)
    assert again.id == first.id and again.digest == first.digest
    assert await _stored(w, first.id) == stored
    assert await _events(w, "assessment.computed") == 2  # each run audited

    # A new event changes a draft's next computation …
    await ts.draft_reply(uow=w.uow(), actor=w.p("td.h"), assignment_id=aid, data=good_reply(HOLLOW))
    changed = await compute(w)
    assert changed.digest != first.digest
    v = await view(w)
    assert v is not None and line(score_of(v, a), "CITY", "HOLLOW_REPLY")["points"] == "-2.00"

    published = await svc.publish_assessment(
        uow=w.uow(), actor=w.p("city.supervisor"), centre_code=CITY, month=this_month()
    )
    assert published.status == RunStatus.PUBLISHED and published.published_by
    frozen = await _stored(w, first.id)
    computed_events = await _events(w, "assessment.computed")

    # … but not a published month's: late events arrive, nothing moves.
    _t2, a2, _n2 = await dispatched(w, a)
    await ts.request_extension(
        uow=w.uow(),
        actor=w.p("td.h"),
        assignment_id=aid,
        reason="需协调",
        proposed_due=(await assignment(w, aid)).due_at + timedelta(days=2),
    )
    with pytest.raises(svc.AssessmentPublished):
        await compute(w)
    with pytest.raises(svc.AssessmentPublished):
        await svc.publish_assessment(
            uow=w.uow(), actor=w.p("city.supervisor"), centre_code=CITY, month=this_month()
        )
    with pytest.raises(svc.AssessmentPublished):
        await set_attention(w, a, 10)
    assert await _stored(w, first.id) == frozen
    assert await _events(w, "assessment.computed") == computed_events
    v = await view(w)
    assert v is not None and v.run.status == RunStatus.PUBLISHED
    assert score_of(v, a).indicators["levels"]["CITY"]["received"] == 1
    assert a2


async def test_input_rules(w: World) -> None:
    nxt = this_month() + timedelta(days=40)
    with pytest.raises(InvalidInput, match="not begun"):
        await compute(w, month=date(nxt.year, nxt.month, 1))
    with pytest.raises(InvalidInput):
        svc.parse_month("2026-13")
    assert svc.parse_month(" 2026-02 ") == date(2026, 2, 1)
    with pytest.raises(InvalidTransition, match="compute"):
        await svc.publish_assessment(
            uow=w.uow(), actor=w.p("city.supervisor"), centre_code=CITY, month=last_year(6)
        )
    async with w.sessions() as s:
        cgj = (await s.execute(select(Unit.id).where(Unit.name == "市城管局"))).scalar_one()
    for bad in ("101", "-1", "50.001", "x"):
        with pytest.raises(InvalidInput, match="score"):
            await set_attention(w, cgj, bad)
    # A unit of another centre is not a member: not found.
    async with w.sessions() as s:
        county_unit = (
            await s.execute(select(Unit.id).where(Unit.member_of == SHUYANG).limit(1))
        ).scalar_one()
    with pytest.raises(NotFound):
        await set_attention(w, county_unit, 50)
    with pytest.raises(NotFound):
        await compute(w, centre="999999")


# ---- 4. annual mean; 5. bottom three with ties -------------------------------------------------
async def publish(w: World, month: date) -> None:
    await svc.publish_assessment(
        uow=w.uow(), actor=w.p("city.supervisor"), centre_code=CITY, month=month
    )


async def test_annual_score_is_the_mean_of_published_months(w: World) -> None:
    b = await new_unit(w, "考核年度乙")
    c = await new_unit(w, "考核年度丙")
    d = await new_unit(w, "考核年度丁")
    jan, feb, mar = last_year(1), last_year(2), last_year(3)
    # No tickets in those months: a score is 85 + 15 × attention / 100.
    await set_attention(w, b, 100, jan)  # 100
    await set_attention(w, b, 60, feb)  # 94
    await set_attention(w, b, 0, mar)  # 85
    await set_attention(w, c, 0, jan)  # 85, then 100, 100
    await set_attention(w, d, 50, jan)  # 92.5, then 100, 100
    for mo in (jan, feb, mar):
        await compute(w, month=mo)
    await publish(w, jan)
    await publish(w, feb)  # March stays a draft: it does not count

    async with w.sessions() as s:
        av = await aq.annual_view(s, w.enforcer, w.p("city.supervisor"), CITY, jan.year)
    assert av is not None and av.published_months == [jan, feb]
    by_unit = {x.unit_id: x for x in av.scores}
    assert by_unit[b].score == D("97.00") and by_unit[b].months == 2
    assert by_unit[c].score == D("92.50")
    assert by_unit[d].score == D("96.25")

    await publish(w, mar)
    async with w.sessions() as s:
        av = await aq.annual_view(s, w.enforcer, w.p("city.supervisor"), CITY, jan.year)
    assert av is not None
    by_unit = {x.unit_id: x for x in av.scores}
    assert by_unit[b].score == D("93.00") and by_unit[b].months == 3
    assert [m for m, _ in by_unit[b].monthly] == [jan, feb, mar]
    assert by_unit[c].score == D("95.00")
    assert by_unit[d].score == D("97.50")
    # Everyone else scored 100 each month: the three are the bottom three of the year.
    assert {x.unit_id for x in av.scores if x.flagged} == {b, c, d}
    assert by_unit[b].rank == len(av.scores)
    # Another year has no published month.
    async with w.sessions() as s:
        empty = await aq.annual_view(s, w.enforcer, w.p("city.supervisor"), CITY, jan.year - 1)
    assert empty is not None and empty.scores == []


async def test_bottom_three_with_ties(w: World) -> None:
    units = [await new_unit(w, f"考核并列{i}") for i in range(4)]
    apr = last_year(4)
    await set_attention(w, units[0], 0, apr)  # 85
    for u in units[1:]:
        await set_attention(w, u, 20, apr)  # 88, three of them
    await compute(w, month=apr)
    v = await view(w, month=apr)
    assert v is not None
    flagged = {s.unit_id for s in v.scores if s.flagged}
    # The third-lowest score is 88 and three units share it: all four are named.
    assert flagged == set(units)
    rows = {s.unit_id: s for s in v.scores}
    n = len(v.scores)
    assert rows[units[0]].rank == n
    assert {rows[u].rank for u in units[1:]} == {n - 3}
    assert all(s.rank == 1 for s in v.scores if s.unit_id not in units)


# ---- 6. authorization ------------------------------------------------------------------------
async def test_each_centre_computes_and_reads_only_its_own(w: World) -> None:
    # A county cannot compute or read the city's assessment, and vice versa: not found / None.
    with pytest.raises(NotFound):
        await compute(w, by="shuyang.supervisor", centre=CITY)
    with pytest.raises(NotFound):
        await compute(w, by="city.supervisor", centre=SHUYANG)
    with pytest.raises(NotFound):
        await svc.publish_assessment(
            uow=w.uow(), actor=w.p("shuyang.supervisor"), centre_code=CITY, month=this_month()
        )
    async with w.sessions() as s:
        cgj = (await s.execute(select(Unit.id).where(Unit.name == "市城管局"))).scalar_one()
    with pytest.raises(NotFound):
        await set_attention(w, cgj, 50, by="shuyang.supervisor")
    assert await _events(w, "assessment.computed") == 0

    await compute(w)
    county = await compute(w, by="shuyang.supervisor", centre=SHUYANG)
    assert county.centre_code == SHUYANG
    assert await view(w, by="shuyang.supervisor", centre=CITY) is None
    assert await view(w, by="city.supervisor", centre=SHUYANG) is None
    assert await view(w, by="city.leader", centre=CITY) is not None  # leaders read
    cv = await view(w, by="shuyang.supervisor", centre=SHUYANG)
    assert cv is not None
    async with w.sessions() as s:
        members = set(
            (
                await s.execute(select(Unit.id).where(Unit.member_of == SHUYANG, Unit.active))
            ).scalars()
        )
    assert {x.unit_id for x in cv.scores} == members and cgj not in members

    # Units: no centre-wide table; their own scores once published, never a peer's.
    assert await view(w, by="cgj.handler") is None
    with pytest.raises(NotFound):
        await compute(w, by="cgj.handler")
    mo = this_month()
    async with w.sessions() as s:
        assert await aq.unit_scores(s, w.enforcer, w.p("cgj.handler"), cgj, mo, mo) == []
        zjj = (await s.execute(select(Unit.id).where(Unit.name == "市住房城乡建设局"))).scalar_one()
    await publish(w, mo)
    async with w.sessions() as s:
        own = await aq.unit_scores(s, w.enforcer, w.p("cgj.handler"), cgj, mo, mo)
        peer = await aq.unit_scores(s, w.enforcer, w.p("cgj.handler"), zjj, mo, mo)
        as_county = await aq.unit_scores(s, w.enforcer, w.p("shuyang.supervisor"), cgj, mo, mo)
        as_city = await aq.unit_scores(s, w.enforcer, w.p("city.supervisor"), cgj, mo, mo)
    assert [x.score.unit_id for x in own] == [cgj]
    assert peer == [] and as_county == []
    assert [x.run.centre_code for x in as_city] == [CITY]


async def test_scheme_versions_are_effective_dated(w: World) -> None:
    from seeds.assessment import default_scheme_body

    body = default_scheme_body()
    body["attention"]["default"] = 0  # a visible change: idle units score 85
    nxt = last_year(8)
    with pytest.raises(NotFound):
        await svc.create_scheme(
            uow=w.uow(), actor=w.p("city.supervisor"), name="v2", effective_from=nxt, body=body
        )
    with pytest.raises(InvalidInput):
        await svc.create_scheme(
            uow=w.uow(), actor=w.p("admin"), name="v2", effective_from=nxt, body={"levels": {}}
        )
    v2 = await svc.create_scheme(
        uow=w.uow(), actor=w.p("admin"), name="v2", effective_from=nxt, body=body
    )
    assert v2.version == 2
    before, after = last_year(7), last_year(8)
    await compute(w, month=before)
    await compute(w, month=after)
    vb, va = await view(w, month=before), await view(w, month=after)
    assert vb is not None and va is not None
    assert vb.scheme.version == 1 and va.scheme.version == 2
    idle_before = {s.score for s in vb.scores}
    idle_after = {s.score for s in va.scores}
    assert idle_before == {D("100.00")} and idle_after == {D("85.00")}


# ---- 7. end to end over HTTP -------------------------------------------------------------------
MONTH_Q = """
query($c: String!, $m: String!) {
  assessment(centreCode: $c, month: $m) {
    centreCode month status digest scheme { version effectiveFrom }
    scores { unitId rank score cityScore provinceScore flaggedForNotice attentionScore
             breakdown { originLevel indicator value weight points tickets { id number } } }
    bottom { unitId }
  }
}"""
COMPUTE = """
mutation($c: String!, $m: String!, $k: String) {
  computeAssessment(input: {centreCode: $c, month: $m, idempotencyKey: $k}) {
    assessment { status digest scores { unitId score } }
    errors { __typename code message field }
  }
}"""
PUBLISH = """
mutation($c: String!, $m: String!) {
  publishAssessment(input: {centreCode: $c, month: $m}) {
    assessment { status publishedBy }
    errors { __typename code message }
  }
}"""
ATTENTION = """
mutation($c: String!, $u: ID!, $m: String!, $s: Decimal!) {
  setAttentionScore(input: {centreCode: $c, unitId: $u, month: $m, score: $s, note: "好"}) {
    attentionScore { unitId month score setBy }
    errors { __typename code field }
  }
}"""
UNIT_SCORES = """
query($id: ID!, $f: String!, $t: String!) {
  node(id: $id) { ... on Unit { name scores(from: $f, to: $t) {
    month status score rank breakdown { indicator points } } } }
}"""


async def test_end_to_end_over_http(client: GraphQLClient, new_client: Any, db_url: str) -> None:
    m = this_month().strftime("%Y-%m")
    sup = client
    await sup.login("city.supervisor")
    eng = make_engine(db_url)
    try:
        async with eng.connect() as conn:
            cgj = (
                await conn.execute(text("SELECT id FROM unit WHERE name = '市城管局'"))
            ).scalar_one()
    finally:
        await eng.dispose()
    cgj_gid = to_global_id("Unit", cgj)

    out = await sup.data(ATTENTION, {"c": CITY, "u": cgj_gid, "m": m, "s": "90.5"})
    assert out["setAttentionScore"]["errors"] == []
    assert out["setAttentionScore"]["attentionScore"]["score"] == "90.50"

    first = (await sup.data(COMPUTE, {"c": CITY, "m": m, "k": "assess-1"}))["computeAssessment"]
    assert first["errors"] == [] and first["assessment"]["status"] == "DRAFT"
    replay = (await sup.data(COMPUTE, {"c": CITY, "m": m, "k": "assess-1"}))["computeAssessment"]
    assert replay["assessment"]["digest"] == first["assessment"]["digest"]

    view_ = (await sup.data(MONTH_Q, {"c": CITY, "m": m}))["assessment"]
    assert view_["status"] == "DRAFT" and view_["scheme"]["version"] == 1
    row = next(s for s in view_["scores"] if s["unitId"] == cgj_gid)
    assert row["attentionScore"] == "90.50"
    composite = [
        D(x["points"])
        for x in row["breakdown"]
        if x["indicator"] == "LEVEL_SCORE" or x["originLevel"] is None
    ]
    assert sum(composite) == D(row["score"])
    assert 1 <= len(view_["bottom"])
    assert {b["unitId"] for b in view_["bottom"]} == {
        s["unitId"] for s in view_["scores"] if s["flaggedForNotice"]
    }

    # Another centre: the county sees nothing and cannot compute the city's month.
    county = new_client()
    await county.login("shuyang.supervisor")
    assert (await county.data(MONTH_Q, {"c": CITY, "m": m}))["assessment"] is None
    refused = (await county.data(COMPUTE, {"c": CITY, "m": m, "k": None}))["computeAssessment"]
    assert refused["assessment"] is None
    assert refused["errors"][0]["__typename"] == "NotFoundError"

    # The unit sees its own scores once published.
    unit = new_client()
    await unit.login("cgj.handler")
    got = (await unit.data(UNIT_SCORES, {"id": cgj_gid, "f": m, "t": m}))["node"]
    assert got["scores"] == []
    pub = (await sup.data(PUBLISH, {"c": CITY, "m": m}))["publishAssessment"]
    assert pub["errors"] == [] and pub["assessment"]["status"] == "PUBLISHED"
    got = (await unit.data(UNIT_SCORES, {"id": cgj_gid, "f": m, "t": m}))["node"]
    assert [(s["month"], s["status"], s["score"]) for s in got["scores"]] == [
        (m, "PUBLISHED", row["score"])
    ]

    # Frozen: a typed error, nothing changed.
    again = (await sup.data(COMPUTE, {"c": CITY, "m": m, "k": None}))["computeAssessment"]
    assert again["assessment"] is None
    assert again["errors"][0]["__typename"] == "AssessmentPublishedError"
    assert again["errors"][0]["code"] == "ASSESSMENT_PUBLISHED"
    bad = await sup.execute(MONTH_Q, {"c": CITY, "m": "2026-13"})
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    annual = await sup.data(
        "query($c: String!, $y: Int!) { annualAssessment(centreCode: $c, year: $y) {"
        " publishedMonths complete scores { unitId score months } } }",
        {"c": CITY, "y": this_month().year},
    )
    a = annual["annualAssessment"]
    assert a["publishedMonths"] == [m] and a["complete"] is False
    assert next(s for s in a["scores"] if s["unitId"] == cgj_gid)["score"] == row["score"]

    # §7(3)1: the published month's ranking announced; the units named read it.
    made = await sup.data(
        "mutation($i: PublishRankingNoticeInput!) { publishRankingNotice(input: $i) {"
        " notice { id kind title units { id } } errors { code } } }",
        {"i": {"centreCode": CITY, "year": this_month().year, "month": this_month().month}},
    )
    notice = made["publishRankingNotice"]["notice"]
    assert made["publishRankingNotice"]["errors"] == [] and notice["kind"] == "MONTHLY_RANKING"
    flagged = {x["unitId"] for x in view_["scores"] if x["flaggedForNotice"]}
    assert {u["id"] for u in notice["units"]} == flagged


async def test_concurrent_computations_make_one_run(w: World) -> None:
    import asyncio

    runs = await asyncio.gather(compute(w), compute(w))
    assert runs[0].id == runs[1].id and runs[0].digest == runs[1].digest
    async with w.sessions() as s:
        n = (
            await s.execute(
                select(func.count())
                .select_from(AssessmentRun)
                .where(AssessmentRun.centre_code == CITY)
            )
        ).scalar_one()
        scores = (
            await s.execute(
                select(func.count()).select_from(UnitScore).where(UnitScore.run_id == runs[0].id)
            )
        ).scalar_one()
        members = (
            await s.execute(
                select(func.count()).select_from(Unit).where(Unit.member_of == CITY, Unit.active)
            )
        ).scalar_one()
    assert n == 1 and scores == members
    assert await _events(w, "assessment.computed") == 2


# ---- 7. the ranking notice (§7(3)1) -----------------------------------------------------------
async def test_a_published_ranking_is_announced_naming_the_bottom(w: World) -> None:
    units = [await new_unit(w, f"考核通报{i}") for i in range(3)]
    may = last_year(5)
    for u, attention in zip(units, (0, 20, 40), strict=True):
        await set_attention(w, u, attention, may)  # 85, 88, 91: the bottom three
    await compute(w, month=may)

    def announce(by: str = "city.supervisor", month: int | None = may.month) -> Any:
        return publish_ranking_notice(
            uow=w.uow(), actor=w.p(by), centre_code=CITY, year=may.year, month=month
        )

    with pytest.raises(Conflict):  # a draft may still change: publish the month first
        await announce()
    await publish(w, may)
    with pytest.raises(NotFound):  # not the county's to read, nor to announce
        await announce(by="shuyang.supervisor")
    with pytest.raises(NotFound):  # a unit's staff read their own scores only
        await announce(by="cgj.leader")
    with pytest.raises(InvalidInput):
        await announce(month=13)

    notice = await announce()
    assert notice.kind == NoticeKind.MONTHLY_RANKING
    assert notice.title.endswith(f"{may.year}年{may.month}月成员单位考核排名通报")
    v = await view(w, month=may)
    assert v is not None
    n = len(v.scores)
    assert f"参评单位 {n} 个" in notice.body
    for rank, score in enumerate(("85.00", "88.00", "91.00")):
        assert f"第{n - rank}名　考核通报{rank}　{score}分" in notice.body
    async with w.sessions() as s:
        named = await notices.unit_ids_by_notice(s, [notice.id])
    assert sorted(named[0]) == sorted(units)

    # The year so far: the mean of its published months, as a special notice.
    annual = await announce(month=None)
    assert annual.kind == NoticeKind.SPECIAL and "按已公布的 1 个月的平均分" in annual.body
    with pytest.raises(NotFound):  # no published month in that year
        await publish_ranking_notice(
            uow=w.uow(), actor=w.p("city.supervisor"), centre_code=CITY, year=may.year - 1
        )
