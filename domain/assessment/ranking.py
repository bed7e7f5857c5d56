"""The ranking notice (§7(3)1 "年度考核排名后3位的 … 进行通报"): a notice made from a published
month's ranking, or from the year's (the mean of its published months, §6), naming the units
flagged at the bottom (ties at the boundary included).

A draft month cannot be announced: its scores may still change. The reader must be allowed to
read the centre's scores, and to publish its notices (``publish_notice`` checks that).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from domain.accounts import Principal
from domain.assessment import queries
from domain.assessment.models import RunStatus
from domain.assessment.notice_models import Notice, NoticeKind
from domain.assessment.notices import publish_notice
from domain.errors import Conflict, InvalidInput, NotFound
from domain.registry.models import Centre, Unit
from domain.uow import UnitOfWork


def ranking_text(
    centre_name: str,
    period: str,
    ranked: int,
    bottom: list[tuple[int, str, Decimal]],
    note: str = "",
) -> str:
    """The notice's body: who is at the bottom, with rank and score (a pure function)."""
    lines = [
        f"{centre_name}{period}成员单位考核排名结果已公布（参评单位 {ranked} 个{note}）。",
        f"根据《关于全面提升宿迁市市域治理一张网事件办理质效的若干规定》第七条，对排名后"
        f"{len(bottom)}位的单位予以通报：",
    ]
    lines += [f"第{rank}名　{name}　{score}分" for rank, name, score in bottom]
    lines.append("请上述单位认真分析原因，限期整改，并将整改情况报指挥中心。")
    return "\n".join(lines)


async def publish_ranking_notice(
    *,
    uow: UnitOfWork,
    actor: Principal,
    centre_code: str,
    year: int,
    month: int | None = None,
    now: datetime | None = None,
) -> Notice:
    """Announce the bottom of a published month (``month`` given) or of the year so far."""
    if not 2000 <= year <= 2100:
        raise InvalidInput("year out of range", field="year")
    if month is not None and not 1 <= month <= 12:
        raise InvalidInput("month must be 1 to 12", field="month")
    async with uow.read_session() as s:
        centre = await s.get(Centre, centre_code)
        if month is not None:
            view = await queries.month_view(
                s, uow.enforcer, actor, centre_code, date(year, month, 1)
            )
            if centre is None or view is None:
                raise NotFound("no assessment of that month", field="month")
            if view.run.status != RunStatus.PUBLISHED:
                raise Conflict("publish the month's assessment before announcing its ranking")
            flagged = [(sc.rank, sc.unit_id, sc.score) for sc in view.scores if sc.flagged]
            ranked, period, note = len(view.scores), f"{year}年{month}月", ""
            kind = NoticeKind.MONTHLY_RANKING
        else:
            annual = await queries.annual_view(s, uow.enforcer, actor, centre_code, year)
            if centre is None or annual is None or not annual.published_months:
                raise NotFound("no published assessment in that year", field="year")
            flagged = [(a.rank, a.unit_id, a.score) for a in annual.scores if a.flagged]
            ranked, period = len(annual.scores), f"{year}年度"
            note = f"，按已公布的 {len(annual.published_months)} 个月的平均分"
            kind = NoticeKind.SPECIAL
        rows = await s.execute(
            select(Unit.id, Unit.name).where(Unit.id.in_([u for _, u, _ in flagged]))
        )
        names: dict[int, str] = {uid: name for uid, name in rows}
        centre_name = centre.name
    bottom = [(rank, names[uid], score) for rank, uid, score in sorted(flagged)]
    return await publish_notice(
        uow=uow,
        actor=actor,
        centre_code=centre_code,
        kind=kind,
        title=f"{centre_name}{period}成员单位考核排名通报",
        body=ranking_text(centre_name, period, ranked, bottom, note),
        unit_ids=[uid for _, uid, _ in sorted(flagged)],
        now=now,
    )
