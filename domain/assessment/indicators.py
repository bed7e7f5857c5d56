"""Indicators of a centre's members for one month, aggregated in PostgreSQL from the event log.

Never from counters kept on rows (``assignment.redo_count`` …, which can drift): every count is
a count of events in the month (Asia/Shanghai bounds), joined to the assignment and ticket rows
only for attributes that do not change — the unit, the dispatching centre, the role and the
ticket's origin level (PROVINCE/CITY) and number.

What counts, for a member unit of centre C, on the assignments C dispatched to it:

* received: ``assignment.dispatched``;
* sign-for: ``assignment.signed`` (late when its snapshot says ``signedLate``) and
  ``assignment.deemed_accepted`` (never signed: late);
* completion: assignments with a ``reply.accepted``; late when that reply's submission
  (``reply.submitted``, or ``reply.forwarded`` up a referral) came after the due time;
  plus assignments found ``assignment.overdue`` and not completed that month (late);
* callbacks: ``ticket.callback_recorded`` of a ticket whose lead assignment from C had a reply
  accepted before the callback; SATISFIED/BASICALLY_SATISFIED satisfied, UNSATISFIED not,
  UNREACHABLE excluded from both rates and counted;
* returns requested / approved / rejected, ``assignment.redo``, approved extensions,
  ``reply.sent_back``;
* hollow replies: drafts (``reply.drafted``) carrying §4(5) lint findings — from the event's
  ``lint`` when it records one, else the reply row's stored findings (the row keeps the
  findings of its latest draft: a draft corrected before approval no longer counts);
* supervision: ``supervision.opened`` naming the unit, and ``supervision.reminded`` listing it
  among the units that had not answered by the deadline (cases of C only).

A few statements for all members of a centre-month (no Python loop over rows). The month's
events are found through ``ix_event_type_at``; per-row look-ups (the submission of an accepted
reply, the accepted reply before a callback) are single probes of ``ix_event_entity``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.assessment.scoring import LevelIndicators, TicketRef, UnitIndicators
from domain.calendar import TZ


def month_bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime(month.year, month.month, 1, tzinfo=TZ)
    nxt = (
        datetime(month.year + 1, 1, 1, tzinfo=TZ)
        if month.month == 12
        else datetime(month.year, month.month + 1, 1, tzinfo=TZ)
    )
    return start, nxt


_TICKETS_SQL = """
WITH ev AS MATERIALIZED (
    SELECT e.id, e.type, (e.entity_id)::bigint AS aid,
           CASE WHEN e.type = 'assignment.signed'
                THEN coalesce((e.after ->> 'signedLate')::boolean, false) END AS signed_late,
           CASE WHEN e.type IN ('reply.accepted', 'reply.drafted')
                THEN (e.after ->> 'replyId')::bigint END AS reply_id,
           CASE WHEN e.type = 'reply.drafted'
                THEN jsonb_array_length(e.after -> 'lint') END AS lint_n
    FROM event e
    WHERE e.type IN (
            'assignment.dispatched', 'assignment.signed', 'assignment.deemed_accepted',
            'assignment.overdue', 'assignment.return_requested', 'assignment.return_approved',
            'assignment.return_rejected', 'assignment.extension_approved', 'assignment.redo',
            'reply.accepted', 'reply.sent_back', 'reply.drafted')
      AND e.at >= :m0 AND e.at < :m1
      AND e.entity_type = 'assignment'
),
x AS MATERIALIZED (
    SELECT ev.id, ev.type, ev.aid, ev.signed_late, ev.reply_id, ev.lint_n, a.unit_id,
           t.origin_level AS lvl, t.id AS tid, t.number
    FROM ev
    JOIN assignment a ON a.id = ev.aid
    JOIN ticket t ON t.id = a.ticket_id
    WHERE a.centre_code = :centre
),
comp AS (
    SELECT x.aid, x.unit_id, x.lvl, x.tid, x.number,
           bool_or(coalesce((sub.after ->> 'late')::boolean,
                            sub.at > (sub.after ->> 'dueAt')::timestamptz,
                            false)) AS late
    FROM x
    LEFT JOIN LATERAL (
        SELECT s.at, s.after FROM event s
        WHERE s.entity_type = 'assignment' AND s.entity_id = x.aid::text
          AND s.type IN ('reply.submitted', 'reply.forwarded')
          AND s.after ->> 'replyId' = x.reply_id::text
          AND s.id < x.id
        ORDER BY s.id DESC LIMIT 1
    ) sub ON true
    WHERE x.type = 'reply.accepted'
    GROUP BY x.aid, x.unit_id, x.lvl, x.tid, x.number
),
hollow AS (
    SELECT DISTINCT x.unit_id, x.lvl, x.tid, x.number, r.id AS reply_id
    FROM x JOIN reply r ON r.id = x.reply_id
    WHERE x.type = 'reply.drafted'
      AND coalesce(x.lint_n, jsonb_array_length(r.lint)) > 0
),
cb AS (
    SELECT e.id, e.ticket_id, e.after ->> 'satisfaction' AS sat,
           coalesce((e.after ->> 'actuallyResolved')::boolean, false) AS res
    FROM event e
    WHERE e.type = 'ticket.callback_recorded' AND e.at >= :m0 AND e.at < :m1
),
cbu AS (
    SELECT cb.sat, cb.res, a.unit_id, t.origin_level AS lvl, t.id AS tid, t.number
    FROM cb
    JOIN assignment a ON a.ticket_id = cb.ticket_id AND a.centre_code = :centre
                     AND a.role = 'LEAD'
    JOIN ticket t ON t.id = cb.ticket_id
    -- One index probe per callback (ix_event_entity), never a scan of every accepted reply.
    CROSS JOIN LATERAL (
        SELECT 1 FROM event r
        WHERE r.entity_type = 'assignment' AND r.entity_id = a.id::text
          AND r.type = 'reply.accepted' AND r.id < cb.id
        ORDER BY r.id LIMIT 1
    ) accepted
),
facts AS (
    SELECT unit_id, lvl, tid, number, aid,
           CASE type
               WHEN 'assignment.dispatched' THEN 'received'
               WHEN 'assignment.signed' THEN 'signed'
               WHEN 'assignment.deemed_accepted' THEN 'deemed'
               WHEN 'assignment.overdue' THEN 'overdue'
               WHEN 'assignment.return_requested' THEN 'ret_req'
               WHEN 'assignment.return_approved' THEN 'ret_app'
               WHEN 'assignment.return_rejected' THEN 'ret_rej'
               WHEN 'assignment.extension_approved' THEN 'ext'
               WHEN 'assignment.redo' THEN 'redo'
               WHEN 'reply.sent_back' THEN 'sent_back'
           END AS kind,
           coalesce(signed_late, false) AS flag,
           NULL::text AS sat, NULL::boolean AS res
    FROM x
    WHERE type NOT IN ('reply.accepted', 'reply.drafted')
      AND NOT (type = 'assignment.overdue'
               AND EXISTS (SELECT 1 FROM comp WHERE comp.aid = x.aid))
    UNION ALL
    SELECT unit_id, lvl, tid, number, aid, 'completed', late, NULL, NULL FROM comp
    UNION ALL
    SELECT unit_id, lvl, tid, number, reply_id, 'hollow', false, NULL, NULL FROM hollow
    UNION ALL
    SELECT unit_id, lvl, tid, number, NULL, 'cb', false, sat, res FROM cbu
)
SELECT unit_id, lvl,
    count(*) FILTER (WHERE kind = 'received') AS received,
    count(*) FILTER (WHERE kind = 'signed') AS signed,
    count(*) FILTER (WHERE kind = 'signed' AND flag) AS signed_late,
    count(*) FILTER (WHERE kind = 'deemed') AS deemed,
    count(*) FILTER (WHERE kind = 'completed') AS completed,
    count(*) FILTER (WHERE kind = 'completed' AND flag) AS completed_late,
    count(DISTINCT aid) FILTER (WHERE kind = 'overdue') AS open_overdue,
    count(*) FILTER (WHERE kind = 'cb' AND sat IN ('SATISFIED', 'BASICALLY_SATISFIED'))
        AS satisfied,
    count(*) FILTER (WHERE kind = 'cb' AND sat = 'UNSATISFIED') AS unsatisfied,
    count(*) FILTER (WHERE kind = 'cb' AND sat = 'UNREACHABLE') AS unreachable,
    count(*) FILTER (WHERE kind = 'cb' AND sat <> 'UNREACHABLE' AND res) AS resolved,
    count(*) FILTER (WHERE kind = 'ret_req') AS returns_requested,
    count(*) FILTER (WHERE kind = 'ret_app') AS returns_approved,
    count(*) FILTER (WHERE kind = 'ret_rej') AS returns_rejected,
    count(*) FILTER (WHERE kind = 'redo') AS redo,
    count(*) FILTER (WHERE kind = 'ext') AS extensions,
    count(*) FILTER (WHERE kind = 'sent_back') AS sent_back,
    count(*) FILTER (WHERE kind = 'hollow') AS hollow,
    jsonb_agg(DISTINCT jsonb_build_array(tid, number))
        FILTER (WHERE (kind = 'signed' AND flag) OR kind = 'deemed') AS t_sign_late,
    jsonb_agg(DISTINCT jsonb_build_array(tid, number))
        FILTER (WHERE (kind = 'completed' AND flag) OR kind = 'overdue') AS t_late,
    jsonb_agg(DISTINCT jsonb_build_array(tid, number))
        FILTER (WHERE kind = 'cb' AND sat = 'UNSATISFIED') AS t_unsatisfied,
    jsonb_agg(DISTINCT jsonb_build_array(tid, number))
        FILTER (WHERE kind = 'cb' AND sat <> 'UNREACHABLE' AND NOT res) AS t_unresolved,
    jsonb_agg(DISTINCT jsonb_build_array(tid, number))
        FILTER (WHERE kind = 'ret_req') AS t_returned,
    jsonb_agg(DISTINCT jsonb_build_array(tid, number))
        FILTER (WHERE kind = 'ret_rej') AS t_rejected_return,
    jsonb_agg(DISTINCT jsonb_build_array(tid, number)) FILTER (WHERE kind = 'redo') AS t_redo,
    jsonb_agg(DISTINCT jsonb_build_array(tid, number)) FILTER (WHERE kind = 'ext') AS t_extension,
    jsonb_agg(DISTINCT jsonb_build_array(tid, number))
        FILTER (WHERE kind = 'sent_back') AS t_sent_back,
    jsonb_agg(DISTINCT jsonb_build_array(tid, number)) FILTER (WHERE kind = 'hollow') AS t_hollow
FROM facts
GROUP BY unit_id, lvl
"""

_SUPERVISION_SQL = """
SELECT e.type, (e.entity_id)::bigint AS case_id, u.unit_id
FROM event e
CROSS JOIN LATERAL (
    SELECT (el ->> 'unitId')::int AS unit_id
    FROM jsonb_array_elements(CASE WHEN e.type = 'supervision.opened'
                                   THEN e.after -> 'units' END) el
    UNION ALL
    SELECT el::int
    FROM jsonb_array_elements_text(CASE WHEN e.type = 'supervision.reminded'
                                        THEN e.after -> 'missingUnitIds' END) el
) u
WHERE e.type IN ('supervision.opened', 'supervision.reminded')
  AND e.at >= :m0 AND e.at < :m1
  AND e.after ->> 'centre' = :centre
"""

_TICKET_KEYS = {
    "signLate": "t_sign_late",
    "late": "t_late",
    "unsatisfied": "t_unsatisfied",
    "unresolved": "t_unresolved",
    "returned": "t_returned",
    "rejectedReturn": "t_rejected_return",
    "redo": "t_redo",
    "extension": "t_extension",
    "sentBack": "t_sent_back",
    "hollow": "t_hollow",
}
_COUNTS = (
    "received",
    "signed",
    "signed_late",
    "deemed",
    "completed",
    "completed_late",
    "open_overdue",
    "satisfied",
    "unsatisfied",
    "unreachable",
    "resolved",
    "returns_requested",
    "returns_approved",
    "returns_rejected",
    "redo",
    "extensions",
    "sent_back",
    "hollow",
)


def _refs(value: Any) -> tuple[TicketRef, ...]:
    if not value:
        return ()
    return tuple(sorted((int(i), str(n)) for i, n in value))


async def member_units(s: AsyncSession, centre_code: str) -> list[int]:
    """The centre's active member units (the registry decides membership)."""
    rows = await s.execute(
        text("SELECT id FROM unit WHERE member_of = :c AND active ORDER BY id"),
        {"c": centre_code},
    )
    return [int(r) for r in rows.scalars()]


async def collect(s: AsyncSession, *, centre_code: str, month: date) -> dict[int, UnitIndicators]:
    """Every active member's indicators for the month (members without events included)."""
    m0, m1 = month_bounds(month)
    params = {"centre": centre_code, "m0": m0, "m1": m1}
    # For this transaction only: JIT compilation costs more than it saves on this one-off
    # aggregation, and the month's rows should be hashed and sorted in memory.
    await s.execute(text("SET LOCAL jit = off"))
    await s.execute(text("SET LOCAL work_mem = '64MB'"))
    members = await member_units(s, centre_code)
    levels: dict[int, dict[str, LevelIndicators]] = defaultdict(dict)
    for row in (await s.execute(text(_TICKETS_SQL), params)).mappings():
        tickets = {k: _refs(row[col]) for k, col in _TICKET_KEYS.items()}
        levels[int(row["unit_id"])][str(row["lvl"])] = LevelIndicators(
            **{k: int(row[k]) for k in _COUNTS}, tickets=tickets
        )
    opened: dict[int, set[int]] = defaultdict(set)
    overdue: dict[int, set[int]] = defaultdict(set)
    for type_, case_id, unit_id in (await s.execute(text(_SUPERVISION_SQL), params)).all():
        (opened if type_ == "supervision.opened" else overdue)[int(unit_id)].add(int(case_id))
    attention: dict[int, Decimal] = {
        int(uid): Decimal(score)
        for uid, score in (
            await s.execute(
                text(
                    "SELECT unit_id, score FROM attention_score "
                    "WHERE centre_code = :centre AND month = :month"
                ),
                {"centre": centre_code, "month": month},
            )
        ).all()
    }
    return {
        uid: UnitIndicators(
            unit_id=uid,
            levels=levels.get(uid, {}),
            supervision_opened=tuple(sorted(opened.get(uid, ()))),
            supervision_overdue=tuple(sorted(overdue.get(uid, ()))),
            attention=attention.get(uid),
        )
        for uid in members
    }
