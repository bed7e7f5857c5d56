"""Accountability referrals (移送, regulation §7(2) and §7(3); issue #6).

1. Each of the eleven grounds of §7(3) is accepted; grounds are kept in the regulation's order.
2. Only over the referring centre's own members; a unit, staff member or ticket that is not the
   centre's is answered as missing (typed error) and nothing is written.
3. Who reads: the referring centre and the city centre; never the unit's peers, never the unit
   itself, never another county. Events carry no unit domain.
4. The outcome: recorded once, by the referring centre only (the city reads but may not).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from test_notices import (
    CGJ,
    CITY,
    NO_SUCH_ID,
    NOW,
    SHUYANG,
    SHUYANG_CGJ,
    SHUYANG_UNIT,
    SHUYANG_ZJJ,
    SIYANG_CGJ,
    ZJJ,
    World,
    new_ticket,
    refused,
    shape,
    snapshot,
    w,
)

from authz import centre_domain
from domain.assessment import accountability as acc
from domain.assessment.notice_models import (
    AccountabilityGround,
    AccountabilityOutcome,
    AccountabilityReferral,
    ReferralStatus,
    ReferralTicket,
)
from domain.errors import DomainError, InvalidInput, NotFound, NotPermitted
from domain.events import Event
from domain.tickets.workflow import InvalidTransition

__all__ = ["w"]  # the fixture, imported

G = AccountabilityGround
NOTE = "该单位对群众诉求消极应付，经三次催办仍超时且未说明理由，建议移交纪检监察机关。"


async def refer(
    w: World,
    by: str = "city.supervisor",
    unit: str = CGJ,
    *,
    grounds: Sequence[AccountabilityGround] = (G.PASSIVE_OR_OVERDUE_AFTER_REMINDER,),
    staff: int | None = None,
    tickets: Sequence[int] = (),
    note: str = NOTE,
    unit_id: int | None = None,
    now: datetime = NOW,
) -> AccountabilityReferral:
    return await acc.refer_for_accountability(
        uow=w.uow(),
        actor=w.p(by),
        unit_id=unit_id if unit_id is not None else w.units[unit],
        staff_id=staff,
        grounds=list(grounds),
        ticket_ids=list(tickets),
        note=note,
        now=now,
    )


async def conclude(
    w: World,
    by: str,
    referral_id: int,
    outcome: AccountabilityOutcome = AccountabilityOutcome.ADMONISHED,
    note: str | None = "市纪委监委对该局分管负责人进行约谈。",
) -> AccountabilityReferral:
    return await acc.record_accountability_outcome(
        uow=w.uow(),
        actor=w.p(by),
        referral_id=referral_id,
        outcome=outcome,
        note=note,
        now=NOW + timedelta(days=10),
    )


async def visible(w: World, username: str, **filters: Any) -> list[int]:
    async with w.sessions() as s:
        page = await acc.list_referrals(
            s, w.p(username).scope, acc.ReferralFilter(**filters), 100, None
        )
    assert not page.has_next
    return [r.id for r in page.items]


async def events_of(w: World, referral_id: int) -> list[Event]:
    async with w.sessions() as s:
        rows = await s.execute(
            select(Event)
            .where(Event.entity_type == "accountability", Event.entity_id == str(referral_id))
            .order_by(Event.id)
        )
        return list(rows.scalars())


# ---- 1. the grounds ----------------------------------------------------------------------------
def test_the_eleven_grounds_of_section_7_3() -> None:
    # Numbered as in the regulation; the enum's order is the order grounds are kept in.
    assert list(AccountabilityGround) == [
        G.BOTTOM_THREE_ANNUAL,  # 1
        G.PASSIVE_OR_OVERDUE_AFTER_REMINDER,  # 2
        G.MISCONDUCT_TOWARDS_PUBLIC,  # 3
        G.REPEATED_OR_ESCALATED_PETITIONS,  # 4
        G.DERELICTION_OF_DUTY,  # 5
        G.ABUSE_OF_POWER_FAVOURITISM,  # 6
        G.LEAK_LEADING_TO_RETALIATION,  # 7
        G.MEDIA_EXPOSURE,  # 8
        G.POLITICAL_ERROR_IN_REPLY,  # 9
        G.CRITICISED_BY_LEADERS,  # 10
        G.OTHER,  # 11
    ]


@pytest.mark.parametrize("ground", list(AccountabilityGround))
async def test_each_ground_is_accepted(w: World, ground: AccountabilityGround) -> None:
    r = await refer(w, grounds=[ground])
    async with w.sessions() as s:
        row = await s.get(AccountabilityReferral, r.id)
    assert row is not None
    assert row.grounds == [ground.value]
    assert (row.centre_code, row.unit_id, row.status) == (
        CITY,
        w.units[CGJ],
        ReferralStatus.REFERRED,
    )
    assert row.referred_by == "user:city.supervisor" and row.referred_at == NOW


async def test_a_referral_with_staff_tickets_and_several_grounds(w: World) -> None:
    tid = await new_ticket(w)
    staff = w.p("cgj.handler").staff_id
    r = await refer(
        w,
        grounds=[G.OTHER, G.MEDIA_EXPOSURE, G.BOTTOM_THREE_ANNUAL, G.MEDIA_EXPOSURE],
        staff=staff,
        tickets=[tid, tid],
    )
    assert r.grounds == ["BOTTOM_THREE_ANNUAL", "MEDIA_EXPOSURE", "OTHER"]  # §7(3) order
    assert r.staff_id == staff
    async with w.sessions() as s:
        linked = await s.execute(
            select(ReferralTicket.ticket_id).where(ReferralTicket.referral_id == r.id)
        )
        assert list(linked.scalars()) == [tid]
    (ev,) = await events_of(w, r.id)
    assert ev.type == "accountability.referred"
    assert ev.domains == [centre_domain(CITY)]  # the city is the root: one domain, no unit
    assert ev.after is not None and ev.after["ticketIds"] == [tid]


async def test_a_county_refers_its_own_member(w: World) -> None:
    staff = w.p("shuyang.cgj.handler").staff_id
    r = await refer(w, "shuyang.supervisor", SHUYANG_CGJ, staff=staff)
    assert (r.centre_code, r.staff_id) == (SHUYANG, staff)
    (ev,) = await events_of(w, r.id)
    # The county's and the city's domains only: never the unit's.
    assert ev.domains == sorted([centre_domain(SHUYANG), centre_domain(CITY)])


# ---- 2. only the centre's own members ----------------------------------------------------------
async def test_what_is_not_the_centres_own_is_answered_as_missing(w: World) -> None:
    county_ticket = await new_ticket(w, "shuyang.dispatcher", division="321322001")
    city_ticket = await new_ticket(w)
    before = await snapshot(w)
    cases: list[tuple[str, dict[str, Any], tuple[type[DomainError], str | None]]] = [
        ("city.supervisor", {"unit_id": NO_SUCH_ID}, (NotFound, "unitId")),
        ("city.supervisor", {"unit": SHUYANG_CGJ}, (NotFound, "unitId")),  # a county's member
        ("shuyang.supervisor", {"unit": CGJ}, (NotFound, "unitId")),  # a city member
        ("shuyang.supervisor", {"unit": SHUYANG_UNIT}, (NotFound, "unitId")),  # its own face
        ("shuyang.supervisor", {"unit": SIYANG_CGJ}, (NotFound, "unitId")),  # another county
        ("siyang.supervisor", {"unit": SHUYANG_CGJ}, (NotFound, "unitId")),
        ("city.leader", {}, (NotFound, "unitId")),  # reads referrals, does not refer
        ("city.dispatcher", {}, (NotFound, "unitId")),
        ("cgj.leader", {}, (NotFound, "unitId")),  # a unit cannot refer itself
        # A staff member of another unit, or none at all.
        ("city.supervisor", {"staff": w.p("shuyang.cgj.handler").staff_id}, (NotFound, "staffId")),
        (
            "city.supervisor",
            {"unit": ZJJ, "staff": w.p("cgj.handler").staff_id},
            (NotFound, "staffId"),
        ),
        ("city.supervisor", {"staff": w.p("city.supervisor").staff_id}, (NotFound, "staffId")),
        ("city.supervisor", {"staff": NO_SUCH_ID}, (NotFound, "staffId")),
        # Tickets the centre does not own or dispatch.
        ("city.supervisor", {"tickets": [city_ticket, county_ticket]}, (NotFound, "ticketIds")),
        ("city.supervisor", {"tickets": [NO_SUCH_ID]}, (NotFound, "ticketIds")),
        (
            "shuyang.supervisor",
            {"unit": SHUYANG_CGJ, "tickets": [city_ticket]},
            (NotFound, "ticketIds"),
        ),
        # Input.
        ("city.supervisor", {"grounds": []}, (InvalidInput, "grounds")),
        ("city.supervisor", {"note": "   "}, (InvalidInput, "note")),
    ]
    for by, kwargs, expected in cases:
        exc = await refused(refer(w, by, **kwargs))
        assert shape(exc) == expected, (by, kwargs)
    assert await snapshot(w) == before


# ---- 3. who reads --------------------------------------------------------------------------------
async def test_the_referring_centre_and_the_city_read_never_the_units(w: World) -> None:
    city_ref = await refer(w, now=NOW)
    county_ref = await refer(w, "shuyang.supervisor", SHUYANG_CGJ, now=NOW + timedelta(hours=1))
    assert await visible(w, "city.supervisor") == [county_ref.id, city_ref.id]
    assert await visible(w, "city.leader") == [county_ref.id, city_ref.id]
    assert await visible(w, "city.supervisor", centre_code=SHUYANG) == [county_ref.id]
    assert await visible(w, "shuyang.supervisor") == [county_ref.id]
    for nobody in (
        "siyang.supervisor",  # another county
        "shuyang.cgj.handler",  # the unit itself
        "shuyang.zjj.handler",  # its peer
        "cgj.handler",  # the city unit itself
        "cgj.leader",
        "siyang.cgj.handler",
        "city.dispatcher",  # centre staff without the accountability read
        "city.reviewer",
        "shuyang.dispatcher",
    ):
        assert await visible(w, nobody) == [], nobody
    async with w.sessions() as s:
        got = await acc.referrals_by_id(
            s, w.p("shuyang.supervisor").scope, [city_ref.id, county_ref.id]
        )
    assert [r.id if r else None for r in got] == [None, county_ref.id]
    assert SHUYANG_ZJJ  # the peer's unit exists in the world (checked by the fixture)


async def test_list_filters(w: World) -> None:
    a = await refer(w, grounds=[G.MEDIA_EXPOSURE], now=NOW)
    b = await refer(w, unit=ZJJ, grounds=[G.CRITICISED_BY_LEADERS], now=NOW + timedelta(days=1))
    await conclude(w, "city.supervisor", a.id)
    assert await visible(w, "city.supervisor", unit_id=w.units[ZJJ]) == [b.id]
    assert await visible(w, "city.supervisor", grounds=(G.MEDIA_EXPOSURE, G.OTHER)) == [a.id]
    assert await visible(w, "city.supervisor", status=ReferralStatus.CONCLUDED) == [a.id]
    assert await visible(w, "city.supervisor", referred_from=NOW + timedelta(hours=1)) == [b.id]
    assert await visible(w, "city.supervisor", referred_to=NOW + timedelta(hours=1)) == [a.id]


# ---- 4. the outcome ------------------------------------------------------------------------------
async def test_the_referring_centre_records_the_outcome_once(w: World) -> None:
    r = await refer(w, "shuyang.supervisor", SHUYANG_CGJ)
    before = await snapshot(w)
    # The city reads it but may not record; another county does not see it at all.
    exc = await refused(conclude(w, "city.supervisor", r.id))
    assert type(exc) is NotPermitted
    exc = await refused(conclude(w, "siyang.supervisor", r.id))
    assert shape(exc) == (NotFound, "referralId")
    exc = await refused(conclude(w, "shuyang.cgj.handler", r.id))
    assert shape(exc) == (NotFound, "referralId")
    exc = await refused(conclude(w, "shuyang.supervisor", NO_SUCH_ID))
    assert shape(exc) == (NotFound, "referralId")
    exc = await refused(
        conclude(w, "shuyang.supervisor", r.id, AccountabilityOutcome.OTHER, note=None)
    )
    assert shape(exc) == (InvalidInput, "note")
    assert await snapshot(w) == before

    done = await conclude(w, "shuyang.supervisor", r.id, AccountabilityOutcome.DISCIPLINARY_ACTION)
    assert done.status == ReferralStatus.CONCLUDED
    assert done.outcome == AccountabilityOutcome.DISCIPLINARY_ACTION
    assert done.outcome_by == "user:shuyang.supervisor"
    assert done.outcome_at == NOW + timedelta(days=10)
    evs = await events_of(w, r.id)
    assert [e.type for e in evs] == ["accountability.referred", "accountability.concluded"]
    assert evs[1].before is not None and evs[1].before["status"] == "REFERRED"
    assert evs[1].domains == sorted([centre_domain(SHUYANG), centre_domain(CITY)])

    before = await snapshot(w)
    exc = await refused(conclude(w, "shuyang.supervisor", r.id))
    assert type(exc) is InvalidTransition
    assert await snapshot(w) == before


# ---- 5. over HTTP --------------------------------------------------------------------------------
REFER = """
mutation($input: ReferForAccountabilityInput!) {
  referForAccountability(input: $input) {
    referral { id centreCode grounds status staffId unit { name } tickets { id } }
    errors { __typename code field }
  }
}"""

OUTCOME = """
mutation($input: RecordAccountabilityOutcomeInput!) {
  recordAccountabilityOutcome(input: $input) {
    referral { id status outcome outcomeNote }
    errors { __typename code field }
  }
}"""

REFERRALS = "{ accountabilityReferrals(first: 10) { totalCount nodes { id status outcome } } }"


async def test_refer_conclude_and_read_over_http(w: World, new_client: Any) -> None:
    from api.relay import to_global_id

    tid = await new_ticket(w)
    sup, leader, unit, county = new_client(), new_client(), new_client(), new_client()
    await sup.login("city.supervisor")
    payload = (
        await sup.data(
            REFER,
            {
                "input": {
                    "unitId": to_global_id("Unit", w.units[CGJ]),
                    "staffId": to_global_id("Staff", w.p("cgj.handler").staff_id or 0),
                    "grounds": ["MEDIA_EXPOSURE", "PASSIVE_OR_OVERDUE_AFTER_REMINDER"],
                    "ticketIds": [to_global_id("Ticket", tid)],
                    "note": NOTE,
                }
            },
        )
    )["referForAccountability"]
    assert payload["errors"] == []
    r = payload["referral"]
    assert r["grounds"] == ["PASSIVE_OR_OVERDUE_AFTER_REMINDER", "MEDIA_EXPOSURE"]
    assert (r["centreCode"], r["status"], r["unit"]) == (CITY, "REFERRED", {"name": CGJ})
    assert r["tickets"] == [{"id": to_global_id("Ticket", tid)}]
    bad = (
        await sup.data(
            REFER,
            {
                "input": {
                    "unitId": to_global_id("Unit", w.units[SHUYANG_CGJ]),
                    "grounds": ["OTHER"],
                    "note": NOTE,
                }
            },
        )
    )["referForAccountability"]
    assert bad == {
        "referral": None,
        "errors": [{"__typename": "NotFoundError", "code": "NOT_FOUND", "field": "unitId"}],
    }
    done = (
        await sup.data(
            OUTCOME,
            {"input": {"referralId": r["id"], "outcome": "ADMONISHED", "note": "约谈分管负责人"}},
        )
    )["recordAccountabilityOutcome"]
    assert done["errors"] == []
    assert (done["referral"]["status"], done["referral"]["outcome"]) == ("CONCLUDED", "ADMONISHED")
    await leader.login("city.leader")
    listed = (await leader.data(REFERRALS))["accountabilityReferrals"]
    assert listed["totalCount"] == 1 and listed["nodes"][0]["id"] == r["id"]
    for who, client in (("cgj.handler", unit), ("shuyang.supervisor", county)):
        await client.login(who)
        assert (await client.data(REFERRALS))["accountabilityReferrals"]["totalCount"] == 0, who
        got = await client.data(
            "query($id: ID!) { accountabilityReferral(id: $id) { id } }", {"id": r["id"]}
        )
        assert got == {"accountabilityReferral": None}
        node = await client.data("query($id: ID!) { node(id: $id) { id } }", {"id": r["id"]})
        assert node == {"node": None}, who
    node = await leader.data(
        "query($id: ID!) { node(id: $id) { ... on AccountabilityReferral { id } } }",
        {"id": r["id"]},
    )
    assert node["node"]["id"] == r["id"]
