"""The project's own bulk data generator: N tickets over a date range, each with its whole life.

Usage (on a migrated and seeded database: registry, categories, routing rules, time limits)::

    python -m seeds.generator --tickets 50000 --from 2025-01-01 --to 2025-12-31 --seed 1

Every ticket gets the history the workflow itself would have written — intake, dispatch to the
units the routing rules suggest (sometimes with co-units; to a county's own departments by a
referral hop when that county has members), sign-for (some late, some deemed accepted by the
sweeper), return requests (approved: dispatched elsewhere; rejected: dispatched again, locked),
extensions, replies (drafted, approved, submitted; some hollow first drafts per
:mod:`domain.tickets.reply_rules`; some sent back), reviews, callbacks (satisfied, basically
satisfied, unsatisfied, unreachable), redos, closings, archives, the deadline sweeper's
reminders and overdue marks, and supervision cases over late or unsatisfying units. About 4 %
of tickets come from repeat complainants (the same phone); when the ``ticket_link`` table exists
they are linked to the earlier tickets by the intake's own rules (``domain.analysis.related``).

The event rows are written **exactly as the real use cases write them**: the same ``type``,
``entity_type``, ``entity_id``, ``before``/``after`` payload keys (``domain.tickets.service``'s
snapshots, the sweeper's ``at``/``clause`` extras, ``domain.supervision.service.case_snapshot``),
``domains`` and ``ticket_id`` — only ``event.at`` is the simulated historical time instead of the
database clock. Within one ticket, event ids follow time; across tickets they follow tickets.
Event ids are drawn at the end of each chunk's transaction under the event log's commit lock
and announced with one ``NOTIFY`` (as ``domain.events`` does), so subscribers see no gap.

Time is simulated up to a horizon (``now``, by default the end of the range): a ticket received
shortly before it is still open, in whatever state its life had reached. Deadlines come from the
time-limit rules and the working-day calendar (``domain.calendar``), so the range must stay in
years the calendar covers (2004–2026 with the holiday library).

Fast: rows are built in Python and bulk-loaded with COPY (asyncpg ``copy_records_to_table``),
one transaction per chunk of tickets, PostgreSQL loading one chunk while a worker thread
simulates the next; ids come from the tables' own sequences (reserved in blocks), ticket
numbers from ``ticket_number_seq`` in the project's ``SQ-YYYYMMDD-NNNNNN`` format.
Deterministic: the same seed on the same database gives the same rows.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import math
import random
import sys
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Any, cast

import asyncpg

from authz import centre_domain, unit_domain
from domain import events
from domain.calendar import TZ, LimitUnit, TimeLimit, WorkCalendar
from domain.db import async_url, asyncpg_dsn
from domain.tickets.models import Assignment
from domain.tickets.reply_rules import lint_reply
from domain.tickets.routing import Rule, rank_candidates
from domain.tickets.sweeper import ACTOR as SWEEPER
from domain.tickets.sweeper import due_actions

__all__ = ["GenerateResult", "generate", "main"]

REMIND_SHARE = 0.25  # the sweeper's default (domain.tickets.sweeper.sweep)

# ---- distributions ----------------------------------------------------------------------------
CHANNELS: list[tuple[str, float]] = [
    ("HOTLINE_12345", 0.62),
    ("PROVINCE_ORDER", 0.08),
    ("DIGITAL_CITY_MANAGEMENT", 0.12),
    ("GRID", 0.09),
    ("VIDEO_SURVEILLANCE", 0.03),
    ("EARLY_WARNING", 0.02),
    ("OTHER", 0.04),
]
HOTLINE_PROVINCE_SHARE = 0.03  # 12345 tickets handed down by the province platform
REPEAT_SHARE = 0.04  # tickets from a complainant (phone) who called before
PHONE_POOL = 20_000  # recent complainants a repeat is drawn from
URGENCIES: list[tuple[str, float]] = [("NORMAL", 0.9), ("URGENT", 0.08), ("SAFETY_CRITICAL", 0.02)]
HOURS = [1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 14, 12, 9, 10, 12, 12, 11, 10, 8, 7, 6, 4, 3, 2]
MONTH_FACTOR = [0.85, 0.8, 0.95, 1.0, 1.05, 1.1, 1.25, 1.25, 1.05, 1.0, 0.95, 0.9]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉兰春梅海燕"
ROADS = ["人民路", "幸福路", "洪泽湖路", "发展大道", "黄河路", "西湖路", "太湖路", "青海湖路"]
TITLES = ["反映{c}问题", "关于{c}的投诉", "{c}，请尽快处理", "咨询{c}相关事宜", "{c}问题反复出现"]

CLEAN_TEXTS = [
    "经现场核查，已安排人员于当日完成处置，并与来电人当面确认处理结果。",
    "我单位已组织执法人员到现场处置，问题已整改到位，后续将加强日常巡查。",
    "经核实，反映情况属实，已协调相关责任单位完成维修，恢复正常使用。",
    "已按政策向来电人说明办理依据和流程，并协助其提交了所需材料。",
]
HOLLOW_TEXTS = [
    "已联系市民解释，正在办理，请等待处理结果。",
    "经查非本单位职能。",
    "已督促部门整改。",
    "该问题暂时无法解决。",
]
SENT_BACK_REASONS = ["答复未说明具体处理结果", "未附现场处置照片", "与来电人核实情况不一致"]
RETURN_REASONS = ["该事项不属于本单位职责范围，建议由属地处理", "反映地址不在本单位辖区"]


def _weighted(rng: random.Random, cum: Sequence[float], items: Sequence[Any]) -> Any:
    return items[bisect.bisect_right(cum, rng.random() * cum[-1])]


def _cum(weights: Iterable[float]) -> list[float]:
    out: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


# ---- reference data -----------------------------------------------------------------------------
@dataclass
class Reference:
    categories: list[tuple[str, str]]  # leaf (code, name_zh)
    rules: list[Rule]
    units: dict[int, tuple[str, str, str | None, bool]]  # id -> (name, member_of, represents, act)
    members: dict[str, list[int]]  # centre -> its active member units
    divisions: list[tuple[str, str]]  # township (division code, name)
    limits: dict[tuple[str, str], tuple[TimeLimit, TimeLimit, TimeLimit]]
    calendar: WorkCalendar
    has_ticket_link: bool


async def load_reference(conn: asyncpg.Connection) -> Reference:
    cats = await conn.fetch("SELECT code, parent_code, name_zh FROM category WHERE active")
    parents = {r["parent_code"] for r in cats if r["parent_code"]}
    leaves = sorted((r["code"], r["name_zh"]) for r in cats if r["code"] not in parents)
    rules = [
        Rule(r["id"], r["category_code"], r["division_prefix"], r["unit_id"], r["priority"], None)
        for r in await conn.fetch(
            "SELECT id, category_code, division_prefix, unit_id, priority FROM routing_rule "
            "WHERE active ORDER BY id"
        )
    ]
    units: dict[int, tuple[str, str, str | None, bool]] = {}
    members: dict[str, list[int]] = defaultdict(list)
    for r in await conn.fetch(
        "SELECT id, name, member_of, represents, active FROM unit ORDER BY id"
    ):
        units[r["id"]] = (r["name"], r["member_of"], r["represents"], r["active"])
        if r["active"]:
            members[r["member_of"]].append(r["id"])
    divisions = [
        (r["division_code"], r["name"])
        for r in await conn.fetch(
            "SELECT division_code, name FROM centre WHERE level = 'TOWNSHIP' "
            "AND division_code IS NOT NULL ORDER BY code"
        )
    ]
    limits = {
        (r["channel"], r["urgency"]): (
            TimeLimit(r["sign_for_amount"], LimitUnit(r["sign_for_unit"])),
            TimeLimit(r["handle_amount"], LimitUnit(r["handle_unit"])),
            TimeLimit(r["return_window_amount"], LimitUnit(r["return_window_unit"])),
        )
        for r in await conn.fetch("SELECT * FROM time_limit")
    }
    overrides = {r["day"]: r["is_workday"] for r in await conn.fetch("SELECT * FROM calendar_day")}
    link = await conn.fetchval("SELECT to_regclass('ticket_link') IS NOT NULL")
    return Reference(
        leaves, rules, units, dict(members), divisions, limits, WorkCalendar(overrides), link
    )


class FastCalendar:
    """``WorkCalendar.add`` with the working-day walk memoised per (start day, amount)."""

    def __init__(self, cal: WorkCalendar) -> None:
        self.cal = cal
        self._days: dict[tuple[date, int], tuple[date, bool]] = {}
        self._work: dict[date, bool] = {}

    def _is_workday(self, d: date) -> bool:
        w = self._work.get(d)
        if w is None:
            w = self._work[d] = self.cal.is_workday(d)
        return w

    def add(self, start: datetime, limit: TimeLimit) -> datetime:
        if limit.unit is not LimitUnit.WORKING_DAYS:
            return self.cal.add(start, limit)
        local = start.astimezone(TZ)
        key = (local.date(), limit.amount)
        hit = self._days.get(key)
        if hit is None:
            d = local.date()
            rest = not self._is_workday(d)
            if rest:
                d += timedelta(days=1)
                while not self._is_workday(d):
                    d += timedelta(days=1)
            for _ in range(limit.amount):
                d += timedelta(days=1)
                while not self._is_workday(d):
                    d += timedelta(days=1)
            hit = self._days[key] = (d, rest)
        day, rest = hit
        if rest:
            return datetime.combine(day, dtime(0, 0), tzinfo=TZ)
        return datetime.combine(day, local.timetz())


# ---- ids --------------------------------------------------------------------------------------
SEQUENCES = {
    "ticket": "ticket",
    "assignment": "assignment",
    "return_request": "return_request",
    "extension_request": "extension_request",
    "reply": "reply",
    "callback": "callback",
    "supervision_case": "supervision_case",
    "supervision_response": "supervision_response",
}
# Per ticket, at most this many of each (a bounded life: ≤2 returns, ≤2 redos, ≤2 send-backs).
MARGIN = {k: 40 for k in SEQUENCES} | {"ticket": 1, "number": 1, "ticket_link": 40}
# Expected per ticket (sizes each block of ids reserved).
EXPECT = {k: 0.3 for k in SEQUENCES} | {"ticket": 1.0, "number": 1.0, "ticket_link": 0.05}
EXPECT |= {"assignment": 1.3, "reply": 1.4, "callback": 1.0}


class Ids:
    """Ids reserved from the tables' own sequences in blocks (never clashing with other
    writers: ``nextval`` hands each value out once), on a connection of their own.

    The pools are filled before each chunk; should one run dry while the chunk is simulated
    (in a worker thread), ``take`` fetches more through the event loop."""

    def __init__(self, conn: asyncpg.Connection, links: bool) -> None:
        self.conn = conn
        self.loop = asyncio.get_running_loop()
        self.tables = {**SEQUENCES, **({"ticket_link": "ticket_link"} if links else {})}
        self.pools: dict[str, deque[int]] = {k: deque() for k in [*self.tables, "number"]}
        self.seqs: dict[str, str] = {}

    async def start(self) -> None:
        for key, table in self.tables.items():
            self.seqs[key] = await self.conn.fetchval(
                "SELECT pg_get_serial_sequence($1, 'id')", table
            )
        self.seqs["number"] = "ticket_number_seq"

    async def _fetch(self, key: str, n: int) -> None:
        rows = await self.conn.fetch(
            "SELECT nextval($1::regclass) AS v FROM generate_series(1, $2)", self.seqs[key], n
        )
        self.pools[key].extend(r["v"] for r in rows)

    async def prefill(self, tickets: int) -> None:
        """Enough ids for ``tickets`` more tickets (as a rule)."""
        for key, pool in self.pools.items():
            want = math.ceil(tickets * EXPECT[key] * 1.2) + MARGIN[key]
            if len(pool) < want:
                await self._fetch(key, want - len(pool))

    def take(self, key: str) -> int:
        pool = self.pools[key]
        if not pool:  # from the worker thread: fetch through the loop
            asyncio.run_coroutine_threadsafe(self._fetch(key, MARGIN[key] * 2), self.loop).result()
        return pool.popleft()


# ---- the simulated objects --------------------------------------------------------------------
_ISO: dict[datetime, str] = {}  # the same deadlines recur in every snapshot (cleared per chunk)


def _iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    s = _ISO.get(t)
    if s is None:
        s = _ISO[t] = t.astimezone(TZ).isoformat()
    return s


class Horizon(Exception):
    """The next action would happen after the horizon: the life stops here."""


class T:
    __slots__ = (
        "actually_resolved",
        "anonymous",
        "archived_at",
        "category",
        "centre",
        "channel",
        "closed_at",
        "due_at",
        "id",
        "number",
        "origin",
        "phone",
        "received_at",
        "redo_count",
        "row",
        "satisfaction",
        "status",
        "urgency",
    )
    actually_resolved: bool | None
    anonymous: bool
    archived_at: datetime | None
    category: str
    centre: str
    channel: str
    closed_at: datetime | None
    due_at: datetime | None
    id: int
    number: str
    origin: str
    phone: str | None
    received_at: datetime
    redo_count: int
    row: list[Any]
    satisfaction: str | None
    status: str
    urgency: str

    def snap(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "status": self.status,
            "channel": self.channel,
            "originLevel": self.origin,
            "category": self.category,
            "urgency": self.urgency,
            "centre": self.centre,
            "dueAt": _iso(self.due_at),
            "redoCount": self.redo_count,
        }


class A:
    """An assignment being simulated (attribute names as on the model, for ``due_actions``)."""

    __slots__ = (
        "accepted_at",
        "centre_code",
        "deemed_accepted",
        "dispatched_at",
        "dispatched_by",
        "due_at",
        "extension_count",
        "id",
        "mark",
        "overdue",
        "parent",
        "redo_count",
        "reminded_at",
        "replied_at",
        "reply",
        "return_by",
        "return_count",
        "return_locked",
        "role",
        "sent_back_count",
        "sign_by",
        "signed_at",
        "signed_by",
        "signed_late",
        "status",
        "ticket",
        "unit_id",
    )
    accepted_at: datetime | None
    centre_code: str
    deemed_accepted: bool
    dispatched_at: datetime
    dispatched_by: str
    due_at: datetime
    extension_count: int
    id: int
    mark: datetime
    overdue: bool
    parent: A | None
    redo_count: int
    reminded_at: datetime | None
    replied_at: datetime | None
    reply: dict[str, Any] | None
    return_by: datetime
    return_count: int
    return_locked: bool
    role: str
    sent_back_count: int
    sign_by: datetime
    signed_at: datetime | None
    signed_by: str | None
    signed_late: bool
    status: str
    ticket: T
    unit_id: int

    def snap(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ticketId": self.ticket.id,
            "unitId": self.unit_id,
            "role": self.role,
            "status": self.status,
            "signBy": _iso(self.sign_by),
            "returnBy": _iso(self.return_by),
            "dueAt": _iso(self.due_at),
            "signedLate": self.signed_late,
            "deemedAccepted": self.deemed_accepted,
            "returnLocked": self.return_locked,
            "redoCount": self.redo_count,
            "overdue": self.overdue,
        }


@dataclass
class Rows:
    ticket: list[tuple[Any, ...]] = field(default_factory=list)
    assignment: list[tuple[Any, ...]] = field(default_factory=list)
    return_request: list[list[Any]] = field(default_factory=list)
    extension_request: list[list[Any]] = field(default_factory=list)
    reply: list[dict[str, Any]] = field(default_factory=list)
    callback: list[tuple[Any, ...]] = field(default_factory=list)
    supervision_case: list[tuple[Any, ...]] = field(default_factory=list)
    supervision_unit: list[tuple[Any, ...]] = field(default_factory=list)
    supervision_ticket: list[tuple[Any, ...]] = field(default_factory=list)
    supervision_response: list[tuple[Any, ...]] = field(default_factory=list)
    ticket_link: list[tuple[Any, ...]] = field(default_factory=list)
    event: list[tuple[Any, ...]] = field(default_factory=list)


TICKET_COLS = (
    "id number channel origin_level category_code title content address division_code latitude "
    "longitude urgency complainant_name complainant_phone anonymous received_at centre_code status "
    "due_at created_by satisfaction actually_resolved redo_count closed_at archived_at demo "
    "created_at updated_at"
).split()
ASSIGNMENT_COLS = (
    "id ticket_id unit_id role centre_code parent_id status dispatched_at dispatched_by note "
    "sign_by return_by due_at signed_at signed_by signed_late deemed_accepted return_locked "
    "return_count extension_count sent_back_count redo_count overdue reminded_at replied_at "
    "accepted_at created_at updated_at"
).split()
RETURN_COLS = (
    "id assignment_id reason basis suggested_unit verifier_name verifier_phone requested_by "
    "requested_at decision decision_note decided_by decided_at"
).split()
EXTENSION_COLS = (
    "id assignment_id reason proposed_due requested_by requested_at decision new_due "
    "decision_note decided_by decided_at"
).split()
REPLY_COLS = (
    "id assignment_id status handler_name handler_phone contacted_at communication "
    "citizen_satisfied unsatisfied_reasons documents handling outcome text lint drafted_by "
    "drafted_at approved_by approved_at submitted_at reviewed_by reviewed_at review_note"
).split()
CALLBACK_COLS = "id ticket_id satisfaction actually_resolved note recorded_by recorded_at".split()
CASE_COLS = (
    "id centre_code grounds form deadline note status outcome outcome_note opened_by opened_at "
    "closed_by closed_at escalated_to escalated_at reminded_at created_at updated_at"
).split()
RESPONSE_COLS = "id case_id unit_id content done_at responded_by responded_at".split()
EVENT_COLS = "id at type actor entity_type entity_id before after domains ticket_id".split()


_json: Callable[[Any], str] = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass
class GenerateResult:
    tickets: int = 0
    assignments: int = 0
    events: int = 0
    replies: int = 0
    callbacks: int = 0
    supervision_cases: int = 0
    ticket_links: int = 0
    seconds: float = 0.0
    simulate_seconds: float = 0.0  # Python: the lives and their rows
    load_seconds: float = 0.0  # PostgreSQL: COPY and commit

    def add(self, rows: Rows) -> None:
        self.tickets += len(rows.ticket)
        self.assignments += len(rows.assignment)
        self.events += len(rows.event)
        self.replies += len(rows.reply)
        self.callbacks += len(rows.callback)
        self.supervision_cases += len(rows.supervision_case)
        self.ticket_links += len(rows.ticket_link)

    def __str__(self) -> str:
        rate = self.tickets / self.seconds if self.seconds else 0.0
        return (
            f"tickets={self.tickets} assignments={self.assignments} events={self.events} "
            f"replies={self.replies} callbacks={self.callbacks} "
            f"supervision_cases={self.supervision_cases} ticket_links={self.ticket_links} "
            f"in {self.seconds:.1f}s ({rate:.0f} tickets/s; simulate "
            f"{self.simulate_seconds:.1f}s, load {self.load_seconds:.1f}s)"
        )


# ---- one ticket's life ------------------------------------------------------------------------
class Life:
    """Simulates one ticket after another into ``rows`` (ids from ``ids``)."""

    def __init__(
        self, ref: Reference, ids: Ids, rng: random.Random, horizon: datetime, centre: str
    ) -> None:
        self.ref = ref
        self.ids = ids
        self.rng = rng
        self.horizon = horizon
        self.centre = centre
        self.cal = FastCalendar(ref.calendar)
        self.rows = Rows()
        self.events: list[tuple[Any, ...]] = []  # this ticket's, sorted and numbered at the end
        self.seq = 0
        self.quality: dict[int, float] = {}
        for uid in sorted(ref.units):
            # Each unit has a latent diligence, so scores spread as they do in life.
            self.quality[uid] = min(1.0, max(0.35, rng.gauss(0.8, 0.12)))
        self._routes: dict[tuple[str, tuple[str, ...]], list[int]] = {}
        self.prefixes = sorted({r.division_prefix for r in ref.rules if r.division_prefix})
        self._lint_cache: dict[str, list[dict[str, str]]] = {}
        self.ticket_assignments: list[A] = []
        # Earlier tickets of each complainant phone (for repeats and their links).
        self.by_phone: dict[str, list[tuple[Any, ...]]] = {}
        self.link: Any = None
        self.prior: dict[str, list[Any]] = {}
        if ref.has_ticket_link:
            from domain.analysis import related

            self.link = related
        self.hop_child: dict[int, A] = {}
        self.trigger: tuple[A, datetime] | None = None  # what may draw a supervision case

    # -- helpers ----------------------------------------------------------------------------
    def r(self) -> float:
        return self.rng.random()

    def between(self, a: datetime, b: datetime) -> datetime:
        if b <= a:
            return a + timedelta(seconds=self.rng.randint(30, 600))
        return a + (b - a) * self.rng.uniform(0.05, 0.95)

    def later(self, t: datetime, lo_minutes: float, hi_minutes: float) -> datetime:
        return t + timedelta(minutes=self.rng.uniform(lo_minutes, hi_minutes))

    def eps(self) -> timedelta:
        return SWEEP_DELAYS[int(self.rng.random() * len(SWEEP_DELAYS))]  # the sweeper's period

    def check(self, t: datetime) -> None:
        if t > self.horizon:
            raise Horizon()

    def emit(
        self,
        at: datetime,
        type_: str,
        actor: str,
        entity: str,
        entity_id: int | str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        domains: Iterable[str],
        ticket: T | None,
    ) -> None:
        self.seq += 1
        self.events.append(
            (
                at,
                self.seq,
                type_,
                actor,
                entity,
                str(entity_id),
                _json(before),
                _json(after),
                sorted(set(domains)),
                ticket.id if ticket is not None else None,
            )
        )

    def a_domains(self, a: A, *extra: str) -> list[str]:
        # tickets.service._record: ticket's centre, the unit, the dispatching centre.
        return [
            centre_domain(a.ticket.centre),
            unit_domain(a.unit_id),
            centre_domain(a.centre_code),
            *extra,
        ]

    def a_event(
        self,
        at: datetime,
        type_: str,
        actor: str,
        a: A,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        *extra_domains: str,
    ) -> None:
        self.emit(
            at,
            type_,
            actor,
            "assignment",
            a.id,
            before,
            after,
            self.a_domains(a, *extra_domains),
            a.ticket,
        )

    def t_event(
        self,
        at: datetime,
        type_: str,
        actor: str,
        t: T,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        units: Sequence[int] = (),
    ) -> None:
        self.emit(
            at,
            type_,
            actor,
            "ticket",
            t.id,
            before,
            after,
            [centre_domain(t.centre), *(unit_domain(u) for u in units)],
            t,
        )

    def candidates(self, category: str, division: str | None) -> list[int]:
        # The ranking depends only on which rule prefixes the division has.
        key = (category, tuple(p for p in self.prefixes if division and division.startswith(p)))
        hit = self._routes.get(key)
        if hit is None:
            hit = self._routes[key] = [
                c.unit_id
                for c in rank_candidates(self.ref.rules, category, division)
                if self.ref.units[c.unit_id][3] and self.ref.units[c.unit_id][1] == self.centre
            ]
        return hit

    def lint(self, text: str) -> list[dict[str, str]]:
        if text not in self._lint_cache:
            self._lint_cache[text] = [
                {"rule": f.rule, "phrase": f.phrase, "clause": f.clause} for f in lint_reply(text)
            ]
        return self._lint_cache[text]

    @staticmethod
    def dispatcher(centre: str) -> str:
        return f"user:gen.dispatcher.{centre}"

    def handler(self, a: A) -> str:
        rep = self.ref.units[a.unit_id][2]
        return self.dispatcher(rep) if rep else f"user:gen.handler.{a.unit_id}"

    def leader(self, a: A) -> str:
        rep = self.ref.units[a.unit_id][2]
        return self.dispatcher(rep) if rep else f"user:gen.leader.{a.unit_id}"

    # -- the sweeper ------------------------------------------------------------------------
    def sweep(self, a: A, until: datetime) -> None:
        """Every sweep the deadline sweeper would have made on ``a`` before ``until``."""
        limit = min(until, self.horizon)
        while True:
            best: datetime | None = None
            for x in (
                a.return_by,
                a.sign_by - (a.sign_by - a.dispatched_at) * REMIND_SHARE,
                a.sign_by,
                a.due_at - (a.due_at - a.dispatched_at) * REMIND_SHARE,
                a.due_at,
            ):
                tau = max(x, a.mark) + self.eps()
                if tau >= limit or (best is not None and tau >= best):
                    continue
                todo = due_actions(cast(Assignment, a), tau, REMIND_SHARE)
                if todo.deem or todo.overdue or todo.remind or todo.sign_remind or todo.sign_soon:
                    best = tau
            if best is None:
                return
            self.sweep_at(a, best)

    def sweep_at(self, a: A, now: datetime) -> None:
        todo = due_actions(cast(Assignment, a), now, REMIND_SHARE)
        at = _iso(now)
        if todo.deem:
            before = a.snap()
            a.status = "HANDLING"
            a.deemed_accepted = True
            self.a_event(
                now,
                "assignment.deemed_accepted",
                SWEEPER,
                a,
                before,
                {**a.snap(), "at": at, "clause": "§3(4)"},
            )
        if todo.overdue:
            before = a.snap()
            a.overdue = True
            if self.trigger is None and a.parent is None:
                self.trigger = (a, now)
            self.a_event(
                now,
                "assignment.overdue",
                SWEEPER,
                a,
                before,
                {**a.snap(), "at": at, "clause": "§4(1)"},
            )
        if todo.sign_remind:
            snap = a.snap()
            late = int((now - a.sign_by).total_seconds())
            self.a_event(
                now,
                "assignment.sign_overdue_reminded",
                SWEEPER,
                a,
                snap,
                {**snap, "at": at, "signBy": _iso(a.sign_by), "lateSeconds": late},
            )
        if todo.remind:
            snap = a.snap()
            left = int((a.due_at - now).total_seconds())
            self.a_event(
                now,
                "assignment.reminded",
                SWEEPER,
                a,
                snap,
                {**snap, "at": at, "dueAt": _iso(a.due_at), "remainingSeconds": left},
            )
        if todo.sign_soon:
            snap = a.snap()
            left = int((a.sign_by - now).total_seconds())
            self.a_event(
                now,
                "assignment.sign_due_soon",
                SWEEPER,
                a,
                snap,
                {**snap, "at": at, "signBy": _iso(a.sign_by), "remainingSeconds": left},
            )
        if todo.remind or todo.sign_remind or todo.sign_soon:
            a.reminded_at = now
        a.mark = now

    def act(self, a: A, t: datetime) -> None:
        """The sweeps before ``t``; then stop if ``t`` is past the horizon."""
        self.sweep(a, t)
        self.check(t)
        a.mark = t

    # -- dispatch ---------------------------------------------------------------------------
    def new_assignment(
        self,
        t: T,
        unit_id: int,
        role: str,
        now: datetime,
        actor: str,
        limits: tuple[TimeLimit, TimeLimit, TimeLimit],
        centre: str,
        parent: A | None,
    ) -> A:
        a = A()
        a.id = self.ids.take("assignment")
        a.ticket = t
        a.unit_id = unit_id
        a.role = role
        a.centre_code = centre
        a.parent = parent
        a.status = "DISPATCHED"
        a.dispatched_at = now
        a.dispatched_by = actor
        a.sign_by = self.cal.add(now, limits[0])
        a.return_by = self.cal.add(now, limits[2])
        a.due_at = self.cal.add(now, limits[1])
        if parent is not None:
            a.due_at = min(a.due_at, parent.due_at)
        a.signed_at = a.signed_by = a.reminded_at = a.replied_at = a.accepted_at = None
        a.signed_late = a.deemed_accepted = a.return_locked = a.overdue = False
        a.return_count = a.extension_count = a.sent_back_count = a.redo_count = 0
        a.reply = None
        a.mark = now
        self.ticket_assignments.append(a)
        self.a_event(now, "assignment.dispatched", actor, a, None, a.snap())
        if parent is not None:
            # referral.service caps the lower hop's deadlines after the event is written.
            a.sign_by = min(a.sign_by, parent.due_at)
            a.return_by = min(a.return_by, parent.due_at)
        return a

    def dispatch(
        self, t: T, now: datetime, unit_ids: Sequence[int], limits: Any, first_role: str = "LEAD"
    ) -> list[A]:
        actor = self.dispatcher(t.centre)
        before = t.snap()
        made = [
            self.new_assignment(
                t, uid, first_role if i == 0 else "CO", now, actor, limits, t.centre, None
            )
            for i, uid in enumerate(unit_ids)
        ]
        t.status = "IN_PROGRESS"
        t.due_at = made[0].due_at
        self.t_event(now, "ticket.dispatched", actor, t, before, t.snap(), unit_ids)
        return made

    # -- one assignment ---------------------------------------------------------------------
    def run_assignment(self, a: A, limits: Any, wrong: bool) -> tuple[str, datetime | None]:
        """The unit's work on ``a`` until its reply is accepted (or it is returned, or the
        horizon). Returns ("ACCEPTED" | "RETURNED" | "STOPPED", when)."""
        try:
            q = self.quality.get(a.unit_id, 0.8)
            t = a.dispatched_at
            may_return = a.parent is None and (
                (wrong and self.r() < 0.75) or (not wrong and self.r() < 0.02 + 0.04 * (1 - q))
            )
            if may_return:
                t = self.request_return(a, t, sign_first=self.r() < 0.4)
                t_dec = self.later(t, 20, 360)
                self.act(a, t_dec)
                approve = wrong or self.r() < 0.55
                if self.decide_return(a, t_dec, approve, limits):
                    return "RETURNED", t_dec
                t = t_dec
            t = self.sign(a, t, q)
            if self.r() < 0.05:
                t = self.extension(a, t)
            return self.reply_cycles(a, t, q)
        except Horizon:
            self.sweep(a, self.horizon + timedelta(seconds=1))
            return "STOPPED", None

    def request_return(self, a: A, t: datetime, sign_first: bool) -> datetime:
        window_end = a.return_by
        if sign_first:
            ts = self.between(t, t + (window_end - t) * 0.3)
            self.act(a, ts)
            self.do_sign(a, ts)
            t = ts
        tr = self.between(t, window_end)
        self.act(a, tr)
        if a.status not in ("DISPATCHED", "HANDLING") or tr > a.return_by:
            return tr
        before = a.snap()
        rr_id = self.ids.take("return_request")
        a.status = "RETURN_REQUESTED"
        a.return_count += 1
        self.rows.return_request.append(
            [
                rr_id,
                a.id,
                self.rng.choice(RETURN_REASONS),
                "《宿迁市一网统管工作规程》职责清单",
                "属地镇（街道）",
                "核实人" + self.rng.choice(SURNAMES),
                f"0527-8{self.rng.randint(1000000, 9999999)}",
                self.handler(a),
                tr,
                None,
                None,
                None,
                None,
            ]
        )
        self.a_event(
            tr,
            "assignment.return_requested",
            self.handler(a),
            a,
            before,
            {**a.snap(), "returnRequestId": rr_id},
        )
        return tr

    def decide_return(self, a: A, now: datetime, approve: bool, limits: Any) -> bool:
        if a.status != "RETURN_REQUESTED":
            return False
        rr = self.rows.return_request[-1]
        actor = self.dispatcher(a.centre_code)
        note = None if approve else "经核实属于该单位职责，请按时办理"
        rr[9:13] = ["APPROVED" if approve else "REJECTED", note, actor, now]
        before = a.snap()
        if approve:
            a.status = "RETURNED"
            if a.role == "LEAD" and a.parent is None:
                a.ticket.status = "NEW"
                a.ticket.due_at = None
        else:
            a.status = "DISPATCHED"
            a.dispatched_at = now
            a.dispatched_by = actor
            a.sign_by = self.cal.add(now, limits[0])
            a.return_by = now
            a.return_locked = True
            a.due_at = max(a.due_at, self.cal.add(now, limits[1]))
            if a.role == "LEAD":
                a.ticket.due_at = a.due_at
        self.a_event(
            now,
            "assignment.return_approved" if approve else "assignment.return_rejected",
            actor,
            a,
            before,
            {**a.snap(), "returnRequestId": rr[0], "note": note},
        )
        return approve

    def do_sign(self, a: A, now: datetime) -> None:
        before = a.snap()
        a.status = "HANDLING"
        a.signed_at = now
        a.signed_by = self.handler(a)
        a.signed_late = now > a.sign_by
        self.a_event(now, "assignment.signed", self.handler(a), a, before, a.snap())

    def sign(self, a: A, t: datetime, q: float) -> datetime:
        if a.status != "DISPATCHED":
            return t
        x = self.r()
        if not a.return_locked and a.parent is None and x < 0.03 + 0.12 * (1 - q):
            # Never signed: the sweeper deems it accepted when the return window closes.
            t_next = a.return_by + timedelta(minutes=self.rng.uniform(2, 120))
            self.act(a, t_next)
            return t_next
        late = x < 0.08 + 0.3 * (1 - q)
        if late:
            hi = a.return_by if not a.return_locked else a.sign_by + (a.sign_by - a.dispatched_at)
            ts = self.between(a.sign_by, hi) if hi > a.sign_by else self.between(t, a.sign_by)
        else:
            ts = self.between(t, a.sign_by)
        self.act(a, ts)
        if a.status == "DISPATCHED":
            self.do_sign(a, ts)
        return ts

    def extension(self, a: A, t: datetime) -> datetime:
        if a.due_at <= t:
            return t
        te = self.between(t, a.due_at)
        self.act(a, te)
        if te >= a.due_at or a.status not in ("HANDLING", "REPLY_DRAFTED", "REPLY_APPROVED"):
            return te
        proposed = a.due_at + timedelta(days=self.rng.randint(2, 7))
        if a.parent is not None:
            # Never past the hop above (referral: decide_extension refuses it).
            proposed = min(proposed, a.parent.due_at)
            if proposed <= a.due_at:
                return te
        er_id = self.ids.take("extension_request")
        row: list[Any] = [
            er_id,
            a.id,
            "需协调多部门联合处置，申请延期",
            proposed,
            self.handler(a),
            te,
        ]
        self.rows.extension_request.append(row)
        self.a_event(
            te,
            "assignment.extension_requested",
            self.handler(a),
            a,
            None,
            {"extensionRequestId": er_id, "proposedDue": proposed.isoformat()},
        )
        td = self.later(te, 30, 600)
        try:
            self.act(a, td)
        except Horizon:
            row += [None, None, None, None, None]
            raise
        approve = self.r() < 0.8
        actor = self.dispatcher(a.centre_code)
        before = a.snap()
        if approve:
            a.due_at = proposed
            a.extension_count += 1
            a.overdue = False
            if a.role == "LEAD" and a.parent is None:
                a.ticket.due_at = proposed
        row += [
            "APPROVED" if approve else "REJECTED",
            proposed if approve else None,
            None,
            actor,
            td,
        ]
        self.a_event(
            td,
            "assignment.extension_approved" if approve else "assignment.extension_rejected",
            actor,
            a,
            before,
            {**a.snap(), "extensionRequestId": er_id},
        )
        return td

    def new_reply(self, a: A, now: datetime, text: str) -> dict[str, Any]:
        t = a.ticket
        satisfied = self.r() < 0.93
        reply = {
            "id": self.ids.take("reply"),
            "assignment_id": a.id,
            "status": "DRAFT",
            "handler_name": self.rng.choice(SURNAMES) + self.rng.choice(GIVEN),
            "handler_phone": f"0527-8{self.rng.randint(1000000, 9999999)}",
            "contacted_at": None if t.anonymous else now - timedelta(hours=self.rng.uniform(1, 20)),
            "communication": "" if t.anonymous else "电话联系来电人，说明了现场处置情况和处理结果",
            "citizen_satisfied": None if t.anonymous else satisfied,
            "unsatisfied_reasons": None if t.anonymous or satisfied else "希望进一步加强管理",
            "documents": _json([] if t.anonymous or satisfied else ["现场处置记录.pdf"]),
            "handling": "现场核查并组织处置，已整改到位" if t.anonymous else "",
            "outcome": "RESOLVED" if self.r() < 0.85 else "EXPLAINED",
            "text": text,
            "lint": _json(self.lint(text)),
            "drafted_by": self.handler(a),
            "drafted_at": now,
            "approved_by": None,
            "approved_at": None,
            "submitted_at": None,
            "reviewed_by": None,
            "reviewed_at": None,
            "review_note": None,
        }
        self.rows.reply.append(reply)
        return reply

    def draft(self, a: A, now: datetime, hollow: bool) -> None:
        text = self.rng.choice(HOLLOW_TEXTS if hollow else CLEAN_TEXTS)
        r = a.reply
        if r is None or r["status"] not in ("DRAFT", "APPROVED"):
            r = a.reply = self.new_reply(a, now, text)
        else:
            r.update(
                status="DRAFT",
                text=text,
                lint=_json(self.lint(text)),
                drafted_at=now,
                approved_by=None,
                approved_at=None,
            )
        before = a.snap()
        a.status = "REPLY_DRAFTED"
        self.a_event(
            now,
            "reply.drafted",
            self.handler(a),
            a,
            before,
            {**a.snap(), "replyId": r["id"], "outcome": r["outcome"], "lint": self.lint(text)},
        )

    def reply_cycles(self, a: A, t: datetime, q: float) -> tuple[str, datetime | None]:
        for cycle in range(3):
            on_time = self.r() < 0.55 + 0.45 * q
            if a.due_at > t and on_time:
                td = t + (a.due_at - t) * self.rng.uniform(0.2, 0.8)
            else:
                td = max(t, a.due_at) + timedelta(hours=self.rng.uniform(1, 72))
            if cycle == 0 and self.r() < 0.02 + 0.06 * (1 - q):
                th = self.between(t, td)
                self.act(a, th)
                self.draft(a, th, hollow=True)
            self.act(a, td)
            self.draft(a, td, hollow=False)
            ta = self.later(td, 10, 240)
            self.act(a, ta)
            before = a.snap()
            r = a.reply
            assert r is not None
            r.update(status="APPROVED", approved_by=self.leader(a), approved_at=ta)
            a.status = "REPLY_APPROVED"
            self.a_event(
                ta, "reply.approved", self.leader(a), a, before, {**a.snap(), "replyId": r["id"]}
            )
            tsub = self.later(ta, 1, 60)
            self.act(a, tsub)
            before = a.snap()
            r.update(status="SUBMITTED", submitted_at=tsub)
            a.status = "REPLY_SUBMITTED"
            a.replied_at = tsub
            self.a_event(
                tsub,
                "reply.submitted",
                self.leader(a),
                a,
                before,
                {**a.snap(), "replyId": r["id"], "late": tsub > a.due_at},
            )
            trev = self.later(tsub, 20, 1200)
            self.act(a, trev)
            accept = cycle == 2 or self.r() > 0.04 + 0.1 * (1 - q)
            self.review(a, trev, accept)
            if accept:
                return "ACCEPTED", trev
            t = trev
        raise AssertionError("unreachable")

    def review(self, a: A, now: datetime, accept: bool) -> None:
        r = a.reply
        assert r is not None
        actor = self.dispatcher(a.centre_code)
        before = a.snap()
        reasons = None
        if accept:
            r["status"] = "ACCEPTED"
            a.status = "ACCEPTED"
            a.accepted_at = now
        else:
            reasons = self.rng.choice(SENT_BACK_REASONS)
            r["status"] = "SENT_BACK"
            a.status = "HANDLING"
            a.sent_back_count += 1
            supplement = self.cal.add(now, TimeLimit(2, LimitUnit.WORKING_DAYS))
            if a.parent is not None:  # a lower hop's due never passes the one above
                supplement = min(supplement, a.parent.due_at)
            if self.r() < 0.6 and supplement > now:
                a.due_at = supplement
                a.overdue = False
                if a.role == "LEAD" and a.parent is None:
                    a.ticket.due_at = a.due_at
        r.update(reviewed_by=actor, reviewed_at=now, review_note=reasons)
        self.a_event(
            now,
            "reply.accepted" if accept else "reply.sent_back",
            actor,
            a,
            before,
            {**a.snap(), "replyId": r["id"], "reasons": reasons},
        )

    # -- a referral hop ---------------------------------------------------------------------
    def run_hop(self, hop: A, limits: Any) -> tuple[str, datetime | None]:
        """A lead unit that stands for a county with members: the county signs for it and
        dispatches it on; the accepted reply climbs back (review_reply._forward_up)."""
        lower = self.ref.units[hop.unit_id][2]
        assert lower is not None
        try:
            t = self.sign(hop, hop.dispatched_at, 0.95)
            if hop.status != "HANDLING":
                raise Horizon()
            trd = self.later(t, 10, 240)
            self.act(hop, trd)
            unit = self.rng.choice(self.ref.members[lower])
            actor = self.dispatcher(lower)
            child = self.new_assignment(hop.ticket, unit, "LEAD", trd, actor, limits, lower, hop)
            self.a_event(
                trd,
                "referral.dispatched",
                actor,
                hop,
                None,
                {**hop.snap(), "centre": lower, "units": [unit]},
                unit_domain(unit),
                centre_domain(lower),
            )
            return self.climb(hop, child)
        except Horizon:
            self.sweep(hop, self.horizon + timedelta(seconds=1))
            return "STOPPED", None

    def climb(self, hop: A, child: A) -> tuple[str, datetime | None]:
        """The child's work, then the forwarded reply and the upper review of the hop."""
        q = self.quality.get(child.unit_id, 0.8)
        if child.status == "DISPATCHED":
            status, when = self.run_assignment(child, None, False)
        else:
            try:
                status, when = self.reply_cycles(child, child.mark, q)
            except Horizon:
                self.sweep(child, self.horizon + timedelta(seconds=1))
                status, when = "STOPPED", None
        if status != "ACCEPTED" or when is None:
            raise Horizon()
        self.sweep(hop, when)
        if hop.status not in ("HANDLING", "REPLY_DRAFTED", "REPLY_APPROVED"):
            raise Horizon()
        source = child.reply
        assert source is not None
        up = dict(source)
        up.update(
            id=self.ids.take("reply"),
            assignment_id=hop.id,
            status="SUBMITTED",
            approved_by=self.dispatcher(child.centre_code),
            approved_at=when,
            submitted_at=when,
            reviewed_by=None,
            reviewed_at=None,
            review_note=None,
        )
        self.rows.reply.append(up)
        hop.reply = up
        hop.status = "REPLY_SUBMITTED"
        hop.replied_at = when
        hop.mark = when
        self.a_event(
            when,
            "reply.forwarded",
            self.dispatcher(child.centre_code),
            hop,
            None,
            {**hop.snap(), "replyId": up["id"], "fromAssignmentId": child.id},
        )
        trev = self.later(when, 20, 1200)
        self.act(hop, trev)
        self.review(hop, trev, True)
        self.hop_child[hop.id] = child
        return "ACCEPTED", trev

    # -- the ticket -------------------------------------------------------------------------
    def ticket(self, received: datetime, month_cum: list[float], phones: list[str]) -> None:
        rng = self.rng
        ref = self.ref
        t = T()
        t.id = self.ids.take("ticket")
        local = received.astimezone(TZ)
        t.number = f"SQ-{local:%Y%m%d}-{self.ids.take('number'):06d}"
        t.channel = _weighted(rng, CHANNEL_CUM, [c for c, _ in CHANNELS])
        t.origin = (
            "PROVINCE"
            if t.channel == "PROVINCE_ORDER"
            or (t.channel == "HOTLINE_12345" and self.r() < HOTLINE_PROVINCE_SHARE)
            else "CITY"
        )
        t.urgency = _weighted(rng, URGENCY_CUM, [u for u, _ in URGENCIES])
        t.category, cat_name = _weighted(rng, month_cum, ref.categories)
        t.centre = self.centre
        t.status = "NEW"
        t.due_at = None
        t.redo_count = 0
        t.satisfaction = None
        t.actually_resolved = None
        t.closed_at = t.archived_at = None
        t.received_at = received
        division = rng.choice(ref.divisions) if ref.divisions and self.r() < 0.9 else None
        t.anonymous = self.r() < 0.05
        name = phone = None
        earlier: list[tuple[Any, ...]] = []
        if not t.anonymous:
            if phones and self.r() < REPEAT_SHARE:
                phone = rng.choice(phones)  # a repeat complainant
                earlier = self.by_phone.get(phone, [])
            else:
                phone = f"1{rng.choice('35789')}{rng.randint(0, 999_999_999):09d}"
                if len(phones) < PHONE_POOL:
                    phones.append(phone)
                else:
                    # Forget a complainant: only phones in the pool are ever repeated.
                    i = rng.randrange(PHONE_POOL)
                    self.by_phone.pop(phones[i], None)
                    self.prior.pop(phones[i], None)
                    phones[i] = phone
            name = (
                rng.choice(SURNAMES)
                + rng.choice(GIVEN)
                + (rng.choice(GIVEN) if self.r() < 0.6 else "")
            )
        t.phone = phone
        place = (
            (division[1] if division else "宿迁市") + rng.choice(ROADS) + f"{rng.randint(1, 300)}号"
        )
        if earlier and self.r() < 0.5:
            # The same matter again: same category, place and name.
            prev = earlier[-1]
            t.category, cat_name, division, place, name = prev[1:]
        creator = self.dispatcher(t.centre)
        t.row = [
            t.id,
            t.number,
            t.channel,
            t.origin,
            t.category,
            rng.choice(TITLES).format(c=cat_name),
            f"来电人反映{place}附近{cat_name}，希望有关部门尽快处理。",
            place,
            division[0] if division else None,
            round(33.96 + rng.uniform(-0.35, 0.35), 6),
            round(118.28 + rng.uniform(-0.45, 0.45), 6),
            t.urgency,
            name,
            phone,
            t.anonymous,
            received,
        ]
        self.t_event(received, "ticket.created", creator, t, None, t.snap())
        if phone is not None:
            self.by_phone.setdefault(phone, []).append(
                (t.id, t.category, cat_name, division, place, name)
            )
            if len(self.by_phone[phone]) > 5:
                del self.by_phone[phone][0]
        if earlier and self.link is not None:
            self.link_repeat(t, creator)
        self.remember(t)
        try:
            self.life(t, division[0] if division else None)
        except Horizon:
            pass
        if self.trigger is not None and self.r() < 0.12:
            self.supervise(t, *self.trigger)
        self.finish(t, creator)

    def life(self, t: T, division: str | None) -> None:
        limits = self.ref.limits[(t.channel, t.urgency)]
        cands = self.candidates(t.category, division)
        pool = self.ref.members.get(t.centre, [])
        td = self.later(t.received_at, 3, 90 if t.urgency == "NORMAL" else 20)
        self.check(td)
        wrong = not cands or self.r() < 0.04
        lead = (
            self.rng.choice(pool)
            if wrong
            else (cands[0] if self.r() < 0.85 else self.rng.choice(cands[:3]))
        )
        units = [lead]
        if self.r() < 0.1:
            others = [u for u in (cands[1:4] or pool) if u != lead]
            if others:
                units.append(self.rng.choice(others))
        made = self.dispatch(t, td, units, limits)
        used = set(units)
        active: list[A] = list(made)
        accepted_at: list[datetime] = []
        co_ok = True
        for co in made[1:]:
            status, when = self.run_assignment(co, limits, False)
            if status == "ACCEPTED" and when is not None:
                accepted_at.append(when)
            elif status == "RETURNED":
                active.remove(co)
            else:
                co_ok = False
        a = made[0]
        for attempt in range(3):
            rep = self.ref.units[a.unit_id][2]
            if rep and self.ref.members.get(rep) and self.r() < 0.6:
                status, when = self.run_hop(a, limits)
            else:
                status, when = self.run_assignment(a, limits, wrong and attempt == 0)
            if status != "RETURNED" or attempt == 2:
                break
            assert when is not None
            active.remove(a)
            nxt = [u for u in cands if u not in used] or [u for u in pool if u not in used]
            tn = self.later(when, 10, 240)
            self.check(tn)
            a = self.dispatch(t, tn, [nxt[0]], limits)[0]
            used.add(nxt[0])
            active.append(a)
        if status != "ACCEPTED" or not co_ok or when is None:
            return
        accepted_at.append(when)
        self.close_out(t, a, limits, max(accepted_at))

    def close_out(self, t: T, lead: A, limits: Any, replied: datetime) -> None:
        """Replied, callback, redo or close, archive (§3(8)–(10))."""
        actor = self.dispatcher(t.centre)
        q = self.quality.get(lead.unit_id, 0.8)
        while True:
            before = t.snap()
            t.status = "REPLIED"
            self.t_event(replied, "ticket.replied", actor, t, before, t.snap())
            tc = self.later(replied, 60, 2880)
            self.check(tc)
            x = self.r()
            sat = (
                "UNREACHABLE"
                if x < 0.05
                else "UNSATISFIED"
                if x < 0.05 + 0.03 + 0.2 * (1 - q)
                else "BASICALLY_SATISFIED"
                if x < 0.3
                else "SATISFIED"
            )
            resolved = self.r() < {
                "SATISFIED": 0.97,
                "BASICALLY_SATISFIED": 0.85,
                "UNREACHABLE": 0.7,
            }.get(sat, 0.3)
            cb_id = self.ids.take("callback")
            self.rows.callback.append((cb_id, t.id, sat, resolved, None, actor, tc))
            before = t.snap()
            t.satisfaction = sat
            t.actually_resolved = resolved
            self.t_event(
                tc,
                "ticket.callback_recorded",
                actor,
                t,
                before,
                {**t.snap(), "satisfaction": sat, "actuallyResolved": resolved},
            )
            if sat == "UNSATISFIED" and self.trigger is None:
                self.trigger = (lead, tc)
            if sat != "UNSATISFIED":
                self.close(t, tc, actor)
                break
            if t.redo_count >= 2 or self.r() < 0.4:
                tcl = self.later(tc, 60, 4320)
                self.check(tcl)
                self.close(t, tcl, actor)
                break
            tr = self.later(tc, 30, 1440)
            self.check(tr)
            replied = self.redo(t, lead, tr, limits, actor)
        if self.r() < 0.3:
            ta = self.later(t.closed_at or tc, 3 * 1440, 20 * 1440)
            self.check(ta)
            before = t.snap()
            t.status = "ARCHIVED"
            t.archived_at = ta
            self.t_event(ta, "ticket.archived", actor, t, before, t.snap())

    def close(self, t: T, now: datetime, actor: str) -> None:
        before = t.snap()
        for a in self.ticket_assignments:
            if a.status == "ACCEPTED":
                a.status = "CLOSED"
        t.status = "CLOSED"
        t.closed_at = now
        self.t_event(now, "ticket.closed", actor, t, before, t.snap())

    def redo(self, t: T, lead: A, now: datetime, limits: Any, actor: str) -> datetime:
        reason = "市民对处理结果不满意，请重新办理"
        new_due = self.cal.add(now, limits[1])
        t_before, a_before = t.snap(), lead.snap()
        self.sweep(lead, now)
        lead.status = "HANDLING"
        lead.redo_count += 1
        lead.due_at = new_due
        lead.overdue = False
        lead.reminded_at = None
        lead.mark = now
        chain: list[tuple[A, dict[str, Any]]] = []
        cur = lead
        child = self.hop_child.get(cur.id)
        while child is not None and child.status == "ACCEPTED":
            before = child.snap()
            child.status = "HANDLING"
            child.redo_count += 1
            child.due_at = min(new_due, cur.due_at)
            child.overdue = False
            child.reminded_at = None
            child.mark = now
            chain.append((child, before))
            cur = child
            child = self.hop_child.get(cur.id)
        t.status = "IN_PROGRESS"
        t.redo_count += 1
        t.due_at = new_due
        t.satisfaction = None
        t.actually_resolved = None
        self.a_event(
            now, "assignment.redo", actor, lead, a_before, {**lead.snap(), "reason": reason}
        )
        for c, before in chain:
            self.a_event(now, "assignment.redo", actor, c, before, {**c.snap(), "reason": reason})
        self.t_event(now, "ticket.redo", actor, t, t_before, t.snap())
        try:
            if chain:
                status, when = self.climb(lead, chain[0][0])
            else:
                status, when = self.reply_cycles(lead, now, self.quality.get(lead.unit_id, 0.8))
        except Horizon:
            status, when = "STOPPED", None
        if status != "ACCEPTED" or when is None:
            for a in (lead, *(c for c, _ in chain)):
                self.sweep(a, self.horizon + timedelta(seconds=1))
            raise Horizon()
        return when

    # -- repeat complaints (§4(5)6) --------------------------------------------------------
    def link_repeat(self, t: T, creator: str) -> None:
        """The links ``domain.analysis.linking.link_new_ticket`` makes between a repeat
        complainant's new ticket and their earlier ones (the same rules, ``related.matches``),
        with its ``ticket.related`` event. Only repeat complainants are looked at: tickets that
        happen to share an address or a text are not searched for."""
        rel = self.link
        f = rel.Facts(
            ticket_id=t.id,
            received_at=t.received_at,
            category_code=t.category,
            title=t.row[5],
            content=t.row[6],
            address=t.row[7],
            phone=t.phone,
            anonymous=t.anonymous,
            centre_code=t.centre,
        )
        assert t.phone is not None
        found: list[tuple[Any, Any]] = []
        for c in reversed(self.prior.get(t.phone, [])):  # the most recent first
            ms = rel.matches(f, c)
            if not ms or len(found) >= rel.DEFAULT_POLICY.max_links:
                continue
            found.append((c, ms))
            for m in ms:
                self.rows.ticket_link.append(
                    (
                        self.ids.take("ticket_link"),
                        t.id,
                        c.ticket_id,
                        m.reason.value,
                        m.score,
                        _json(rel.evidence(m)),
                        None,
                        t.received_at,
                        "system:related",
                    )
                )
        if found:
            # One event for the links within the centre, in no ticket's history (linking.py).
            self.emit(
                t.received_at,
                "ticket.related",
                creator,
                "ticket",
                t.id,
                None,
                {
                    "ticketId": t.id,
                    "related": [
                        {
                            "ticketId": c.ticket_id,
                            "reasons": [{"reason": m.reason.value, "score": m.score} for m in ms],
                        }
                        for c, ms in found
                    ],
                    "automatic": True,
                },
                [centre_domain(t.centre)],
                None,
            )

    def remember(self, t: T) -> None:
        if self.link is None or t.phone is None:
            return
        lst = self.prior.setdefault(t.phone, [])
        lst.append(
            self.link.Facts(
                ticket_id=t.id,
                received_at=t.received_at,
                category_code=t.category,
                title=t.row[5],
                content=t.row[6],
                address=t.row[7],
                phone=t.phone,
                anonymous=t.anonymous,
                centre_code=t.centre,
            )
        )
        if len(lst) > 5:
            del lst[0]

    # -- supervision (§5) -------------------------------------------------------------------
    def supervise(self, t: T, a: A, trigger: datetime) -> None:
        """A supervision case over a unit that ran late or left the citizen unsatisfied."""
        supervisor = f"user:gen.supervisor.{t.centre}"
        opened = self.later(trigger, 60, 2880)
        if opened > self.horizon:
            return
        case_id = self.ids.take("supervision_case")
        grounds = ["LATE_WITHOUT_REASON"] if a.overdue else ["SHIRKING_OR_NOT_IMPLEMENTING"]
        deadline = self.cal.add(opened, TimeLimit(3, LimitUnit.WORKING_DAYS))
        case = {
            "id": case_id,
            "centre": t.centre,
            "grounds": grounds,
            "form": "DAILY_ONLINE",
            "deadline": _iso(deadline),
            "status": "OPEN",
            "outcome": None,
            "escalatedTo": None,
        }
        doms = [centre_domain(t.centre), unit_domain(a.unit_id)]
        self.rows.supervision_unit.append((case_id, a.unit_id, "TARGET"))
        self.rows.supervision_ticket.append((case_id, t.id))
        self.emit(
            opened,
            "supervision.opened",
            supervisor,
            "supervision",
            case_id,
            None,
            {
                **case,
                "units": [{"unitId": a.unit_id, "role": "TARGET"}],
                "ticketIds": [t.id],
                "note": None,
            },
            doms,
            None,
        )
        reminded_at = closed_at = closed_by = outcome = None
        status = "OPEN"
        responded = self.later(opened, 120, 6000) if self.r() < 0.85 else None
        remind = deadline + timedelta(seconds=self.rng.randint(5, 60))
        if remind <= self.horizon and (responded is None or responded > remind):
            reminded_at = remind
            snap = dict(case)
            self.emit(
                reminded_at,
                "supervision.reminded",
                SWEEPER,
                "supervision",
                case_id,
                snap,
                {
                    **snap,
                    "at": _iso(reminded_at),
                    "missingUnitIds": [a.unit_id],
                    "lateSeconds": int((reminded_at - deadline).total_seconds()),
                },
                doms,
                None,
            )
        if responded is not None and responded <= self.horizon:
            resp_id = self.ids.take("supervision_response")
            unit_actor = self.handler(a)
            done = responded - timedelta(hours=self.rng.uniform(0, 24))
            self.rows.supervision_response.append(
                (
                    resp_id,
                    case_id,
                    a.unit_id,
                    "已按督办要求完成整改并回访市民",
                    done,
                    unit_actor,
                    responded,
                )
            )
            before = dict(case)
            case["status"] = status = "RESPONDED"
            self.emit(
                responded,
                "supervision.responded",
                unit_actor,
                "supervision",
                case_id,
                before,
                {
                    **case,
                    "responseId": resp_id,
                    "unitId": a.unit_id,
                    "doneAt": _iso(done),
                    "late": responded > deadline,
                },
                doms,
                None,
            )
            tc = self.later(responded, 600, 7200)
            if self.r() < 0.75 and tc <= self.horizon:
                before = dict(case)
                case["status"] = status = "CLOSED"
                case["outcome"] = outcome = "RESOLVED"
                closed_at, closed_by = tc, supervisor
                self.emit(
                    tc,
                    "supervision.closed",
                    supervisor,
                    "supervision",
                    case_id,
                    before,
                    {**case, "note": None},
                    doms,
                    None,
                )
        self.rows.supervision_case.append(
            (
                case_id,
                t.centre,
                grounds,
                "DAILY_ONLINE",
                deadline,
                None,
                status,
                outcome,
                None,
                supervisor,
                opened,
                closed_by,
                closed_at,
                None,
                None,
                reminded_at,
                opened,
                closed_at or responded or opened,
            )
        )

    # -- rows -------------------------------------------------------------------------------
    def finish(self, t: T, creator: str) -> None:
        """The ticket's rows and its events (sorted by time, numbered)."""
        last = max(e[0] for e in self.events)
        self.rows.ticket.append(
            (
                *t.row,
                t.centre,
                t.status,
                t.due_at,
                creator,
                t.satisfaction,
                t.actually_resolved,
                t.redo_count,
                t.closed_at,
                t.archived_at,
                False,
                t.received_at,
                last,
            )
        )
        for a in self.ticket_assignments:
            self.rows.assignment.append(
                (
                    a.id,
                    t.id,
                    a.unit_id,
                    a.role,
                    a.centre_code,
                    a.parent.id if a.parent else None,
                    a.status,
                    a.dispatched_at,
                    a.dispatched_by,
                    None,
                    a.sign_by,
                    a.return_by,
                    a.due_at,
                    a.signed_at,
                    a.signed_by,
                    a.signed_late,
                    a.deemed_accepted,
                    a.return_locked,
                    a.return_count,
                    a.extension_count,
                    a.sent_back_count,
                    a.redo_count,
                    a.overdue,
                    a.reminded_at,
                    a.replied_at,
                    a.accepted_at,
                    a.dispatched_at,
                    a.mark,
                )
            )
        self.events.sort(key=lambda e: (e[0], e[1]))
        for e in self.events:
            self.rows.event.append((e[0], *e[2:]))
        self.events = []
        self.ticket_assignments = []
        self.hop_child = {}
        self.trigger = None


SWEEP_DELAYS = [timedelta(seconds=s) for s in range(5, 61)]
CHANNEL_CUM = _cum(w for _, w in CHANNELS)
URGENCY_CUM = _cum(w for _, w in URGENCIES)


# ---- the driver -------------------------------------------------------------------------------
def _received_times(rng: random.Random, n: int, start: date, end: date) -> list[datetime]:
    """``n`` intake times over [start, end] (days weighted by weekday and season, hours by a
    daily curve), sorted."""
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    day_cum = _cum((0.75 if d.weekday() >= 5 else 1.0) * MONTH_FACTOR[d.month - 1] for d in days)
    hour_cum = _cum(HOURS)
    hours = list(range(24))
    out = []
    for _ in range(n):
        d = _weighted(rng, day_cum, days)
        h = _weighted(rng, hour_cum, hours)
        out.append(
            datetime.combine(d, dtime(h, 0), tzinfo=TZ) + timedelta(seconds=rng.randrange(3600))
        )
    out.sort()
    return out


def _month_weights(
    rng: random.Random, categories: Sequence[tuple[str, str]], months: Sequence[tuple[int, int]]
) -> tuple[dict[tuple[int, int], list[float]], list[tuple[str, tuple[int, int]]]]:
    """Zipf-like category shares, and a few hotspots that rise in one month (and linger)."""
    order = list(range(len(categories)))
    rng.shuffle(order)
    base = [0.0] * len(categories)
    for rank, i in enumerate(order):
        base[i] = 1.0 / (rank + 1) ** 0.9
    hotspots: list[tuple[int, tuple[int, int]]] = []
    if len(months) >= 2:
        for i in rng.sample(order[:30], k=min(3, len(order))):
            hotspots.append((i, months[rng.randrange(len(months))]))
    out = {}
    for m in months:
        w = list(base)
        for i, peak in hotspots:
            if m == peak:
                w[i] *= 6.0
            elif months.index(m) == months.index(peak) + 1:
                w[i] *= 2.5
        out[m] = _cum(w)
    return out, [(categories[i][0], peak) for i, peak in hotspots]


async def _copy(conn: asyncpg.Connection, rows: Rows) -> None:
    async def copy(table: str, cols: Sequence[str], records: Sequence[Sequence[Any]]) -> None:
        if records:
            await conn.copy_records_to_table(
                table, records=[tuple(r) for r in records], columns=list(cols)
            )

    await copy("ticket", TICKET_COLS, rows.ticket)
    # Parents before children (a hop's assignment before the lower one's).
    await copy("assignment", ASSIGNMENT_COLS, sorted(rows.assignment, key=lambda r: r[0]))
    await copy("return_request", RETURN_COLS, rows.return_request)
    await copy("extension_request", EXTENSION_COLS, rows.extension_request)
    await copy("reply", REPLY_COLS, [tuple(r[c] for c in REPLY_COLS) for r in rows.reply])
    await copy("callback", CALLBACK_COLS, rows.callback)
    await copy("supervision_case", CASE_COLS, rows.supervision_case)
    await copy("supervision_unit", ["case_id", "unit_id", "role"], rows.supervision_unit)
    await copy("supervision_ticket", ["case_id", "ticket_id"], rows.supervision_ticket)
    await copy("supervision_response", RESPONSE_COLS, rows.supervision_response)
    await copy(
        "ticket_link",
        "id ticket_id related_id reason score evidence note created_at created_by".split(),
        rows.ticket_link,
    )
    # Event ids in commit order (domain.events): the commit lock is taken before the ids are
    # drawn and held to the commit; one NOTIFY tells the listeners.
    lock = getattr(events, "COMMIT_LOCK", None)
    if lock is not None:
        await conn.execute("SELECT pg_advisory_xact_lock($1)", lock)
    ids = [
        r["v"]
        for r in await conn.fetch(
            "SELECT nextval(pg_get_serial_sequence('event', 'id')) AS v "
            "FROM generate_series(1, $1)",
            len(rows.event),
        )
    ]
    await copy("event", EVENT_COLS, [(i, *e) for i, e in zip(ids, rows.event, strict=True)])
    channel = getattr(events, "CHANNEL", None)
    if channel is not None and ids:
        await conn.execute("SELECT pg_notify($1, $2)", channel, str(max(ids)))


async def generate(
    url: str,
    *,
    tickets: int,
    start: date,
    end: date,
    seed: int = 1,
    now: datetime | None = None,
    centre: str = "3213",
    chunk: int = 5000,
    progress: Callable[[str], None] | None = None,
) -> GenerateResult:
    """Generate ``tickets`` tickets received from ``start`` to ``end`` (inclusive) in the
    centre ``centre``, their lives simulated up to ``now`` (default: the day after ``end``,
    00:00 China time). ``url`` is any PostgreSQL URL (SQLAlchemy or plain)."""
    if end < start:
        raise ValueError("--to is before --from")
    horizon = now or datetime.combine(end + timedelta(days=1), dtime(0, 0), tzinfo=TZ)
    if horizon.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    say = progress or (lambda _m: None)
    started = time.monotonic()
    dsn, kwargs = asyncpg_dsn(async_url(url))
    conn = await asyncpg.connect(dsn, **kwargs)  # COPY
    id_conn = await asyncpg.connect(dsn, **kwargs)  # id blocks, while a COPY runs
    result = GenerateResult()
    loading: asyncio.Task[None] | None = None

    async def load(rows: Rows, done: int) -> None:
        t = time.monotonic()
        async with conn.transaction():
            await _copy(conn, rows)
        result.load_seconds += time.monotonic() - t
        result.add(rows)
        result.seconds = time.monotonic() - started
        say(f"{done}/{tickets}: {result}")

    def simulate(part: list[datetime], phones: list[str]) -> Rows:
        _ISO.clear()
        for received in part:
            local = received.astimezone(TZ)
            life.ticket(received, weights[(local.year, local.month)], phones)
        rows, life.rows = life.rows, Rows()
        return rows

    try:
        ref = await load_reference(conn)
        if not ref.members.get(centre):
            raise ValueError(f"centre {centre} has no active member units: seed the registry")
        if not ref.categories or not ref.limits:
            raise ValueError("no categories or time limits: run the seed first")
        rng = random.Random(seed)
        ids = Ids(id_conn, ref.has_ticket_link)
        await ids.start()
        life = Life(ref, ids, rng, horizon, centre)
        times = _received_times(rng, tickets, start, end)
        months = sorted(
            {(t.year, t.month) for t in (start, end)} | {(t.year, t.month) for t in times}
        )
        weights, hotspots = _month_weights(rng, ref.categories, months)
        say("hotspots: " + ", ".join(f"{c} {y}-{m:02d}" for c, (y, m) in hotspots))
        phones: list[str] = []
        # A pipeline: PostgreSQL loads one chunk while Python simulates the next.
        for lo in range(0, tickets, chunk):
            part = times[lo : lo + chunk]
            await ids.prefill(len(part))
            t0 = time.monotonic()
            rows = await asyncio.to_thread(simulate, part, phones)
            result.simulate_seconds += time.monotonic() - t0
            if loading is not None:
                await loading
            loading = asyncio.create_task(load(rows, lo + len(part)))
        if loading is not None:
            await loading
    finally:
        if loading is not None and not loading.done():
            loading.cancel()
        await id_conn.close()
        await conn.close()
    result.seconds = time.monotonic() - started
    return result


def _url() -> str:
    from pathlib import Path

    from domain.db import database_url
    from domain.settings import get_settings

    s = get_settings()
    return database_url(s.database_url, Path(s.data_dir))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m seeds.generator",
        description="Generate realistic tickets with their whole history (bulk COPY).",
    )
    p.add_argument("--tickets", type=int, required=True)
    p.add_argument("--from", dest="start", type=date.fromisoformat, required=True)
    p.add_argument("--to", dest="end", type=date.fromisoformat, required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--now",
        type=datetime.fromisoformat,
        default=None,
        help="simulate up to this time (ISO, with offset); default: the day after --to",
    )
    p.add_argument("--centre", default="3213", help="the centre receiving the tickets")
    p.add_argument("--url", default=None, help="database URL (default: YIWANG_DATABASE_URL)")
    p.add_argument(
        "--match-keys",
        action="store_true",
        help="then store the repeat-complaint match keys of the tickets (slow: MinHash), so "
        "tickets created later through the API are linked to generated ones",
    )
    args = p.parse_args(argv)

    def say(m: str) -> None:
        print(f"[generate] {m}", file=sys.stderr, flush=True)

    result = asyncio.run(
        generate(
            args.url or _url(),
            tickets=args.tickets,
            start=args.start,
            end=args.end,
            seed=args.seed,
            now=args.now,
            centre=args.centre,
            progress=say,
        )
    )
    print(result)
    if args.match_keys:
        asyncio.run(_match_keys(args.url or _url(), say))
    return 0


async def _match_keys(url: str, say: Callable[[str], None]) -> None:
    from domain.analysis.linking import backfill_match_keys
    from domain.db import make_engine, make_sessionmaker

    engine = make_engine(async_url(url), pool_size=1, max_overflow=0)
    try:
        t = time.monotonic()
        n = await backfill_match_keys(make_sessionmaker(engine))
        say(f"match keys stored for {n} tickets in {time.monotonic() - t:.1f}s")
    finally:
        await engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
