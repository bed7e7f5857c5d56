"""The policy store: Casbin rules in PostgreSQL (table ``casbin_rule``).

The table is the one the casbin async SQLAlchemy adapter reads; changes are written here inside
the caller's transaction (so a registry change and its policy mirror commit together) and announce
themselves with ``pg_notify`` — delivered by PostgreSQL only if and when the transaction commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Index, Integer, MetaData, String, and_, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

POLICY_CHANNEL = "yiwang_policy"

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class _Base(DeclarativeBase):
    metadata = metadata


class CasbinRule(_Base):
    __tablename__ = "casbin_rule"
    __table_args__ = (Index("ix_casbin_rule_ptype_v0", "ptype", "v0"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ptype: Mapped[str] = mapped_column(String(255))
    v0: Mapped[str | None] = mapped_column(String(255))
    v1: Mapped[str | None] = mapped_column(String(255))
    v2: Mapped[str | None] = mapped_column(String(255))
    v3: Mapped[str | None] = mapped_column(String(255))
    v4: Mapped[str | None] = mapped_column(String(255))
    v5: Mapped[str | None] = mapped_column(String(255))

    def __str__(self) -> str:
        values = [self.v0, self.v1, self.v2, self.v3, self.v4, self.v5]
        parts = [self.ptype]
        for v in values:
            if v is None:
                break
            parts.append(v)
        return ", ".join(parts)


def _match(ptype: str, rule: Sequence[str]) -> list[object]:
    cols = [
        CasbinRule.v0,
        CasbinRule.v1,
        CasbinRule.v2,
        CasbinRule.v3,
        CasbinRule.v4,
        CasbinRule.v5,
    ]
    conds: list[object] = [CasbinRule.ptype == ptype]
    for i, col in enumerate(cols):
        conds.append(col == rule[i] if i < len(rule) else col.is_(None))
    return conds


async def has_rule(session: AsyncSession, ptype: str, rule: Sequence[str]) -> bool:
    q = select(func.count()).select_from(CasbinRule).where(and_(*_match(ptype, rule)))  # type: ignore[arg-type]
    return bool((await session.execute(q)).scalar_one())


async def add_rules(session: AsyncSession, ptype: str, rules: Iterable[Sequence[str]]) -> int:
    """Insert the rules that are not there yet; returns how many were added."""
    added = 0
    for rule in rules:
        if await has_rule(session, ptype, rule):
            continue
        row = CasbinRule(ptype=ptype)
        for i, v in enumerate(rule):
            setattr(row, f"v{i}", v)
        session.add(row)
        added += 1
    if added:
        await session.flush()
        await notify(session)
    return added


async def remove_rules(session: AsyncSession, ptype: str, rules: Iterable[Sequence[str]]) -> int:
    removed = 0
    for rule in rules:
        res = await session.execute(delete(CasbinRule).where(and_(*_match(ptype, rule))))  # type: ignore[arg-type]
        removed += int(res.rowcount or 0)  # type: ignore[attr-defined]
    if removed:
        await notify(session)
    return removed


async def rules_of(session: AsyncSession, ptype: str, **fields: str) -> list[list[str]]:
    q = select(CasbinRule).where(CasbinRule.ptype == ptype)
    for name, value in fields.items():
        q = q.where(getattr(CasbinRule, name) == value)
    rows = (await session.execute(q.order_by(CasbinRule.id))).scalars()
    return [[v for v in (r.v0, r.v1, r.v2, r.v3, r.v4, r.v5) if v is not None] for r in rows]


async def sync_rules(session: AsyncSession, ptype: str, rules: Iterable[Sequence[str]]) -> int:
    """Bulk form of ``add_rules`` for seeding: one read of what exists, then the missing rows."""
    existing = {tuple(r) for r in await rules_of(session, ptype)}
    missing: list[tuple[str, ...]] = []
    for rule in rules:
        key = tuple(rule)
        if key not in existing:
            existing.add(key)
            missing.append(key)
    for rule in missing:
        row = CasbinRule(ptype=ptype)
        for i, v in enumerate(rule):
            setattr(row, f"v{i}", v)
        session.add(row)
    if missing:
        await session.flush()
        await notify(session)
    return len(missing)


async def notify(session: AsyncSession) -> None:
    """Tell every instance to reload; PostgreSQL delivers it only when this transaction commits."""
    await session.execute(text("SELECT pg_notify(:ch, 'changed')"), {"ch": POLICY_CHANNEL})
