"""Recurring problems (hotspots, §3(10)) and the leader cockpit (领导驾驶舱, §7(1)); issue #6.

A small June 2026 is built with the real workflow use cases (create, dispatch, sign, reply,
review, callback, refer down, supervise) and every figure is checked against the numbers worked
out by hand below. Then who may read what (a county cannot read another county's cockpit, the
city reads down), and the whole thing once more over HTTP through the live server.

The hand-built month (Asia/Shanghai; period [June 1, July 1), "now" July 1 12:00):

====  ==========  =================  =========  ==========================================
T     received    category           division   what happened
====  ==========  =================  =========  ==========================================
M     May 15      CM.STREET_LIGHTS   321322001  city; not dispatched (the previous period)
T1    June 1      CM.STREET_LIGHTS   321322001  city → 市城管局; replied on time; SATISFIED
T2    June 2      CM.STREET_LIGHTS   321322101  city → 市城管局; replied late; UNSATISFIED
T3    June 3      WS.WATER_OUTAGE    321323001  city → 市住建局; nothing done (overdue)
T4    June 4      CM.STREET_LIGHTS   321322001  city; not dispatched
T5    June 5      CM.STREET_LIGHTS   321322001  city → 市城管局; on time; UNREACHABLE
T6    June 8      CM.STREET_LIGHTS   321322102  city → 沭阳县 (referred down); nothing done
T7    June 9      RT.ROAD_DAMAGE     321322001  county 沭阳县 → 沭阳县城管局; nothing done
T8    July 1 0:00 CM.STREET_LIGHTS   321322001  city; just outside the period
====  ==========  =================  =========  ==========================================

Supervision: the city opens a case on 市住建局 on June 20 (deadline June 25: overdue now) and
another on June 22 (deadline July 10: open, not overdue).
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from conftest import GraphQLClient
from sqlalchemy import select
from test_notices import (
    CGJ,
    CITY,
    SHUYANG,
    SHUYANG_CGJ,
    SHUYANG_UNIT,
    SIYANG,
    ZJJ,
    World,
    at,
    dispatch,
    new_ticket,
    w,
)

from api.relay import to_global_id
from domain.analysis import cockpit as ck
from domain.analysis import hotspots as hs
from domain.errors import InvalidInput, NotFound
from domain.supervision import service as ss
from domain.supervision.models import Grounds, SupervisionForm
from domain.tickets import service as ts
from domain.tickets.models import Assignment
from domain.tickets.reply_rules import Outcome, Satisfaction

__all__ = ["w"]  # the fixture, imported

START, END = at(6, 1, 0), at(7, 1, 0)
NOW = at(7, 1, 12)
LIGHTS, WATER, ROAD = "CM.STREET_LIGHTS", "WS.WATER_OUTAGE", "RT.ROAD_DAMAGE"

REPLY = ts.ReplyInput(
    handler_name="王城管",
    handler_phone="13900001111",
    communication="电话联系市民，约定现场查看路灯故障情况。",
    citizen_satisfied=True,
    handling="现场更换损坏灯具，路灯恢复照明。",
    text="经现场核实，路灯损坏，已更换灯具并恢复照明，市民表示满意。",
    outcome=Outcome.RESOLVED,
)


async def lead_assignment(w: World, ticket_id: int) -> int:
    async with w.sessions() as s:
        rows = await s.execute(
            select(Assignment.id).where(Assignment.ticket_id == ticket_id).order_by(Assignment.id)
        )
        return list(rows.scalars())[-1]


async def handle(w: World, ticket_id: int, signed: datetime, submitted: datetime) -> None:
    """市城管局 signs, drafts, approves and submits; the city accepts the reply."""
    aid = await lead_assignment(w, ticket_id)
    await ts.sign_for(uow=w.uow(), actor=w.p("cgj.handler"), assignment_id=aid, now=signed)
    drafted = submitted - timedelta(minutes=30)
    await ts.draft_reply(
        uow=w.uow(),
        actor=w.p("cgj.handler"),
        assignment_id=aid,
        data=dataclasses.replace(REPLY, contacted_at=drafted - timedelta(minutes=10)),
        now=drafted,
    )
    await ts.approve_reply(
        uow=w.uow(), actor=w.p("cgj.leader"), assignment_id=aid, now=drafted + timedelta(minutes=10)
    )
    await ts.submit_reply(uow=w.uow(), actor=w.p("cgj.leader"), assignment_id=aid, now=submitted)
    await ts.review_reply(
        uow=w.uow(),
        actor=w.p("city.dispatcher"),
        assignment_id=aid,
        accept=True,
        now=submitted + timedelta(minutes=10),
    )


async def callback(
    w: World, ticket_id: int, satisfaction: Satisfaction, resolved: bool, now: datetime
) -> None:
    await ts.record_callback(
        uow=w.uow(),
        actor=w.p("city.dispatcher"),
        ticket_id=ticket_id,
        satisfaction=satisfaction,
        actually_resolved=resolved,
        now=now,
    )


async def build(w: World) -> dict[str, int]:
    t: dict[str, int] = {}
    t["M"] = await new_ticket(w, now=at(5, 15), division="321322001")
    t["T1"] = await new_ticket(w, now=at(6, 1), division="321322001")
    await dispatch(w, t["T1"], CGJ, now=at(6, 1, 9, 5))
    await handle(w, t["T1"], signed=at(6, 1, 9, 30), submitted=at(6, 2, 15))
    await callback(w, t["T1"], Satisfaction.SATISFIED, True, at(6, 3))

    t["T2"] = await new_ticket(w, now=at(6, 2), division="321322101")
    await dispatch(w, t["T2"], CGJ, now=at(6, 2, 9, 5))
    # Due 5 working days after the dispatch (June 9, 09:05): submitted on the 12th, late.
    await handle(w, t["T2"], signed=at(6, 2, 9, 30), submitted=at(6, 12, 10))
    await callback(w, t["T2"], Satisfaction.UNSATISFIED, False, at(6, 15))

    t["T3"] = await new_ticket(w, now=at(6, 3), category=WATER, division="321323001")
    await dispatch(w, t["T3"], ZJJ, now=at(6, 3, 9, 5))

    t["T4"] = await new_ticket(w, now=at(6, 4), division="321322001")

    t["T5"] = await new_ticket(w, now=at(6, 5), division="321322001")
    await dispatch(w, t["T5"], CGJ, now=at(6, 5, 9, 5))
    await handle(w, t["T5"], signed=at(6, 5, 9, 30), submitted=at(6, 8, 16))
    # Unreachable: excluded from both rates even though marked resolved.
    await callback(w, t["T5"], Satisfaction.UNREACHABLE, True, at(6, 9))

    t["T6"] = await new_ticket(w, now=at(6, 8), division="321322102")
    await dispatch(w, t["T6"], SHUYANG_UNIT, now=at(6, 8, 9, 5))

    t["T7"] = await new_ticket(
        w, "shuyang.dispatcher", now=at(6, 9), category=ROAD, division="321322001"
    )
    await dispatch(w, t["T7"], SHUYANG_CGJ, by="shuyang.dispatcher", now=at(6, 9, 9, 5))

    t["T8"] = await new_ticket(w, now=at(7, 1, 0), division="321322001")

    for opened, deadline in ((at(6, 20), at(6, 25)), (at(6, 22), at(7, 10))):
        await ss.open_supervision(
            uow=w.uow(),
            actor=w.p("city.supervisor"),
            target_unit_ids=[w.units[ZJJ]],
            grounds=[Grounds.LATE_WITHOUT_REASON],
            form=SupervisionForm.DAILY_ONLINE,
            deadline=deadline,
            ticket_ids=[t["T3"]],
            now=opened,
        )
    return t


async def cockpit_of(
    w: World, username: str, centre: str, *, bottom: int = 3, now: datetime = NOW
) -> ck.Cockpit:
    async with w.sessions() as s:
        return await ck.cockpit(
            s, w.p(username).scope, centre_code=centre, start=START, end=END, now=now, bottom=bottom
        )


async def hotspots_of(w: World, username: str, centre: str, **kw: Any) -> hs.Hotspots:
    kw.setdefault("start", START)
    kw.setdefault("end", END)
    async with w.sessions() as s:
        return await hs.hotspots(s, w.p(username).scope, centre_code=centre, **kw)


def cells(h: hs.Hotspots) -> list[tuple[str, str, date, int, int]]:
    return [(c.category_code, c.division_code, c.month, c.count, c.previous) for c in h.cells]


def trends(items: list[hs.CategoryTrend]) -> list[tuple[str, int, int]]:
    return [(c.category_code, c.count, c.previous) for c in items]


JUNE, MAY = date(2026, 6, 1), date(2026, 5, 1)


# ---- the cockpit -------------------------------------------------------------------------------
async def test_the_city_cockpit_matches_the_hand_count(w: World) -> None:
    await build(w)
    c = await cockpit_of(w, "city.leader", CITY)
    figures = (c.received, c.dispatched, c.completed)
    assert figures == (6, 5, 3)  # T1–T6; T4 not dispatched; T1, T2, T5 replied
    assert (c.callbacks, c.satisfied, c.resolved, c.unreachable) == (2, 1, 1, 1)
    assert (c.satisfaction_rate, c.resolution_rate) == (0.5, 0.5)
    # Assignments: 城管局 ×3 (T1, T5 on time; T2 late), 住建局 ×1 and 沭阳县 ×1 (overdue now).
    assert (c.assignments, c.assignments_completed, c.on_time, c.overdue_now) == (5, 3, 2, 2)
    assert c.on_time_rate == 2 / 5
    assert [(x.category_code, x.count) for x in c.top_categories] == [(LIGHTS, 5), (WATER, 1)]
    assert [
        (u.unit_id, u.assigned, u.completed, u.on_time, u.overdue_now, u.rank)
        for u in c.bottom_units
    ] == [
        # 住建局 and 沭阳县 tie for the bottom (0 of 1), ordered by id; 城管局 next (2 of 3).
        *sorted(
            [(w.units[ZJJ], 1, 0, 0, 1, 1), (w.units[SHUYANG_UNIT], 1, 0, 0, 1, 1)],
        ),
        (w.units[CGJ], 3, 3, 2, 0, 3),
    ]
    assert c.bottom_units[-1].unit_name == CGJ
    assert c.bottom_units[-1].on_time_rate == 2 / 3
    assert (c.open_supervision_cases, c.overdue_supervision_cases) == (2, 1)
    # Ties are all named: the bottom one is two units.
    one = await cockpit_of(w, "city.leader", CITY, bottom=1)
    assert sorted(u.unit_id for u in one.bottom_units) == sorted(
        [w.units[ZJJ], w.units[SHUYANG_UNIT]]
    )
    # Seen on June 9 (T3 due June 10, T6 later, the first case due June 25): nothing overdue.
    early = await cockpit_of(w, "city.leader", CITY, now=at(6, 9, 12))
    assert (early.overdue_now, early.overdue_supervision_cases) == (0, 0)
    assert early.on_time_rate == 2 / 3


async def test_the_county_cockpit_counts_its_own_and_what_was_referred_to_it(w: World) -> None:
    await build(w)
    c = await cockpit_of(w, "shuyang.supervisor", SHUYANG)
    # T7 (its own) and T6 (referred to it by the city, not yet dispatched on).
    assert (c.received, c.dispatched, c.completed, c.callbacks) == (2, 2, 0, 0)
    assert c.satisfaction_rate is None and c.resolution_rate is None
    assert (c.assignments, c.assignments_completed, c.on_time, c.overdue_now) == (1, 0, 0, 1)
    assert [(x.category_code, x.count) for x in c.top_categories] == [(LIGHTS, 1), (ROAD, 1)]
    assert [(u.unit_id, u.rank) for u in c.bottom_units] == [(w.units[SHUYANG_CGJ], 1)]
    assert (c.open_supervision_cases, c.overdue_supervision_cases) == (0, 0)
    # The city reads down (policy grants it): the same figures.
    down = await cockpit_of(w, "city.leader", SHUYANG)
    assert dataclasses.replace(down) == c


@pytest.mark.parametrize(
    ("username", "centre"),
    [
        ("siyang.supervisor", SHUYANG),  # another county
        ("shuyang.supervisor", SIYANG),
        ("shuyang.supervisor", CITY),  # up the chain
        ("city.dispatcher", CITY),  # no cockpit role
        ("cgj.leader", CITY),  # a unit
        ("city.leader", "999999"),  # no such centre
    ],
)
async def test_a_cockpit_one_may_not_read_is_answered_as_missing(
    w: World, username: str, centre: str
) -> None:
    with pytest.raises(NotFound) as info:
        await cockpit_of(w, username, centre)
    assert info.value.field == "centreCode"


async def test_periods_are_checked(w: World) -> None:
    async with w.sessions() as s:
        scope = w.p("city.leader").scope
        with pytest.raises(InvalidInput):
            await ck.cockpit(s, scope, centre_code=CITY, start=END, end=START, now=NOW)
        with pytest.raises(InvalidInput):
            await ck.cockpit(
                s, scope, centre_code=CITY, start=START, end=START + timedelta(days=500), now=NOW
            )
        with pytest.raises(InvalidInput):
            await ck.cockpit(
                s, scope, centre_code=CITY, start=START.replace(tzinfo=None), end=END, now=NOW
            )


# ---- hotspots ----------------------------------------------------------------------------------
async def test_city_hotspots_match_the_hand_count(w: World) -> None:
    await build(w)
    h = await hotspots_of(w, "city.dispatcher", CITY)
    assert h.centres == (CITY,)
    assert (h.total, h.previous_total) == (6, 1)  # T1–T6 against M (May 2 – June 1)
    assert h.previous_start == START - (END - START)
    assert cells(h) == [
        (LIGHTS, SHUYANG, JUNE, 5, 1),  # the county's street lights, up from May's one
        (WATER, SIYANG, JUNE, 1, 0),
    ]
    assert trends(h.categories) == [(LIGHTS, 5, 1), (WATER, 1, 0)]
    assert trends(h.rising) == [(LIGHTS, 5, 1), (WATER, 1, 0)]
    assert h.rising[0].change == 4 and h.rising[0].change_rate == 4.0
    assert h.rising[1].change_rate is None
    # Two months: May's cell has no month before it; June's trend is against May.
    two = await hotspots_of(w, "city.leader", CITY, start=at(5, 1, 0))
    assert cells(two) == [
        (LIGHTS, SHUYANG, JUNE, 5, 1),
        (LIGHTS, SHUYANG, MAY, 1, 0),
        (WATER, SIYANG, JUNE, 1, 0),
    ]
    top1 = await hotspots_of(w, "city.leader", CITY, top=1, limit=1)
    assert trends(top1.rising) == [(LIGHTS, 5, 1)]
    assert len(top1.cells) == 1


async def test_the_city_folds_in_the_centres_below_when_it_reads_down(w: World) -> None:
    await build(w)
    h = await hotspots_of(w, "city.supervisor", CITY, include_below=True)
    assert CITY in h.centres and SHUYANG in h.centres and SIYANG in h.centres
    assert h.total == 7  # + T7, the county's own
    assert cells(h) == [
        (LIGHTS, SHUYANG, JUNE, 5, 1),
        (ROAD, SHUYANG, JUNE, 1, 0),
        (WATER, SIYANG, JUNE, 1, 0),
    ]
    # A county without read-down asking for its subtree gets only itself.
    county = await hotspots_of(w, "shuyang.supervisor", SHUYANG, include_below=True)
    assert county.centres == (SHUYANG,)


async def test_county_hotspots_by_township(w: World) -> None:
    await build(w)
    h = await hotspots_of(w, "shuyang.dispatcher", SHUYANG)
    assert h.total == 2  # T7 and the referred T6
    assert cells(h) == [(LIGHTS, "321322102", JUNE, 1, 0), (ROAD, "321322001", JUNE, 1, 0)]
    with pytest.raises(NotFound):
        await hotspots_of(w, "siyang.supervisor", SHUYANG)
    with pytest.raises(NotFound):
        await hotspots_of(w, "shuyang.dispatcher", CITY)
    with pytest.raises(NotFound):
        await hotspots_of(w, "cgj.handler", CITY)


# ---- over HTTP -----------------------------------------------------------------------------------
COCKPIT = """
query($c: String!, $from: DateTime!, $to: DateTime!) {
  cockpit(centreCode: $c, from: $from, to: $to) {
    centreCode received dispatched completed callbacks satisfied resolved unreachable
    satisfactionRate resolutionRate assignments assignmentsCompleted onTime overdueNow onTimeRate
    openSupervisionCases overdueSupervisionCases
    topCategories { categoryCode count category { name } }
    bottomUnits { unitId unitName rank onTimeRate unit { name } }
  }
}"""

HOTSPOTS = """
query($c: String!, $from: DateTime!, $to: DateTime!) {
  hotspots(centreCode: $c, from: $from, to: $to) {
    total previousTotal
    cells { categoryCode divisionCode month count previous change }
    rising { categoryCode count previous change changeRate category { name } }
  }
}"""


async def test_cockpit_and_hotspots_over_http(w: World, client: GraphQLClient) -> None:
    await build(w)
    period = {"from": START.isoformat(), "to": END.isoformat()}
    await client.login("city.leader")
    data = await client.data(COCKPIT, {"c": CITY, **period})
    c = data["cockpit"]
    assert (c["received"], c["dispatched"], c["completed"]) == (6, 5, 3)
    assert (c["satisfactionRate"], c["resolutionRate"]) == (0.5, 0.5)
    assert (c["onTime"], c["overdueNow"], c["onTimeRate"]) == (2, 2, 0.4)
    # The server's "now" is the real clock (after July 10): both cases are overdue by then.
    assert (c["openSupervisionCases"], c["overdueSupervisionCases"]) == (2, 2)
    assert c["topCategories"][0] == {
        "categoryCode": LIGHTS,
        "count": 5,
        "category": {"name": "路灯"},
    }
    assert [u["unitId"] for u in c["bottomUnits"]][-1] == to_global_id("Unit", w.units[CGJ])
    assert c["bottomUnits"][-1]["unit"] == {"name": CGJ}
    data = await client.data(HOTSPOTS, {"c": CITY, **period})
    h = data["hotspots"]
    assert (h["total"], h["previousTotal"]) == (6, 1)
    assert h["cells"][0] == {
        "categoryCode": LIGHTS,
        "divisionCode": SHUYANG,
        "month": "2026-06-01",
        "count": 5,
        "previous": 1,
        "change": 4,
    }
    assert h["rising"][0]["changeRate"] == 4.0

    # A county's supervisor asking for another county: an error, as for no such centre.
    await client.login("siyang.supervisor")
    body = await client.execute(COCKPIT, {"c": SHUYANG, **period})
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    nothing = await client.execute(COCKPIT, {"c": "999999", **period})
    assert nothing["errors"][0]["message"] == body["errors"][0]["message"]
