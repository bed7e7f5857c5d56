"""Turn a principal's scope into SQL filters over the registry (computed once per request)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from authz import Scope
from domain.registry.models import Centre, Unit


@dataclass(frozen=True)
class Visibility:
    member_centres: frozenset[str]  # centres whose member units may be read
    node_centres: frozenset[str]  # centres whose directory entry may be read
    unit_ids: frozenset[int]  # units readable through their own domain
    staff_centres: frozenset[str]  # centres whose units' staff (and phones) may be read
    staff_units: frozenset[int]
    history_centres: frozenset[str]
    ticket_centres: frozenset[str] = frozenset()  # tickets owned by these centres
    ticket_units: frozenset[int] = frozenset()  # tickets assigned to these units
    pii_centres: frozenset[str] = frozenset()  # complainant data in clear, any ticket
    pii_units: frozenset[int] = frozenset()  # complainant data in clear, non-anonymous only
    # An API client's subject (client:<id>): it reads the tickets it created. None for staff.
    subject: str | None = None

    def unit_filter(self) -> ColumnElement[bool]:
        conds: list[ColumnElement[bool]] = []
        if self.member_centres:
            conds.append(Unit.member_of.in_(self.member_centres))
            # The unit that stands for one's own centre at the level above (e.g. 沭阳县 among
            # the city's members, seen from 沭阳县): needed to follow referrals.
            conds.append(Unit.represents.in_(self.member_centres))
        if self.unit_ids:
            conds.append(Unit.id.in_(self.unit_ids))
        return or_(*conds) if conds else false()

    def centre_filter(self) -> ColumnElement[bool]:
        return Centre.code.in_(self.node_centres) if self.node_centres else false()

    def can_read_unit(self, unit: Unit) -> bool:
        return (
            unit.member_of in self.member_centres
            or unit.represents in self.member_centres
            or unit.id in self.unit_ids
        )

    def can_read_staff_of(self, unit: Unit) -> bool:
        return unit.member_of in self.staff_centres or unit.id in self.staff_units


async def descendants(session: AsyncSession, roots: frozenset[str]) -> set[str]:
    """All centres below (and including) the roots, by one recursive query."""
    if not roots:
        return set()
    tree = select(Centre.code).where(Centre.code.in_(roots)).cte("tree", recursive=True)
    tree = tree.union_all(select(Centre.code).where(Centre.parent_code == tree.c.code))
    result = await session.execute(select(tree.c.code))
    return {str(code) for code in result.scalars()}


async def ancestors(session: AsyncSession, codes: frozenset[str]) -> set[str]:
    """The centres above the given ones, by one recursive query."""
    if not codes:
        return set()
    up = (
        select(Centre.parent_code.label("code"))
        .where(Centre.code.in_(codes))
        .cte("up", recursive=True)
    )
    up = up.union_all(select(Centre.parent_code).where(Centre.code == up.c.code))
    result = await session.execute(select(up.c.code).where(up.c.code.is_not(None)))
    return {str(code) for code in result.scalars()}


class CentreTree:
    """The centre hierarchy (code -> parent), loaded in one query; a few hundred rows."""

    def __init__(self, parents: dict[str, str | None]) -> None:
        self.parents = parents
        self.children: dict[str, list[str]] = {}
        for code, parent in parents.items():
            if parent is not None:
                self.children.setdefault(parent, []).append(code)

    @classmethod
    async def load(cls, session: AsyncSession) -> CentreTree:
        rows = await session.execute(select(Centre.code, Centre.parent_code))
        return cls({code: parent for code, parent in rows.all()})

    def descendants(self, roots: frozenset[str] | set[str]) -> set[str]:
        """The roots and everything below them."""
        out: set[str] = set()
        stack = [r for r in roots if r in self.parents]
        while stack:
            code = stack.pop()
            if code not in out:
                out.add(code)
                stack.extend(self.children.get(code, ()))
        return out

    def ancestors(self, codes: frozenset[str] | set[str]) -> set[str]:
        """Everything above the given centres."""
        out: set[str] = set()
        for code in codes:
            parent = self.parents.get(code)
            while parent is not None and parent not in out:
                out.add(parent)
                parent = self.parents.get(parent)
        return out


async def visibility(session: AsyncSession, scope: Scope) -> Visibility:
    tree = await CentreTree.load(session)
    own = scope.centres_for("unit", "read")
    down = frozenset(tree.descendants(scope.read_down_from))
    member_centres = frozenset(own | down)
    unit_ids = scope.units_for("unit", "read")
    # The city's registry admin keeps the centre directory: it sees every centre's entry, but
    # not their members (that is read-down, granted or withheld separately).
    directory = tree.descendants(scope.centres_for("node", "manage"))
    nodes = set(member_centres) | set(scope.centres_for("centre", "read")) | directory
    if unit_ids:
        result = await session.execute(select(Unit.member_of).where(Unit.id.in_(unit_ids)))
        nodes |= set(result.scalars())
    # The directory entries around one's own centres — those above (referrals come from there)
    # and those below (they are dispatched to through the units that stand for them) — but
    # not their members: that is read-down, granted or withheld separately.
    nodes |= tree.ancestors(nodes)
    nodes |= tree.descendants(own)
    return Visibility(
        member_centres=member_centres,
        node_centres=frozenset(nodes),
        unit_ids=unit_ids,
        staff_centres=scope.centres_for("staff", "read"),
        staff_units=scope.units_for("staff", "read"),
        history_centres=scope.centres_for("history", "read") | down,
        ticket_centres=scope.centres_for("ticket", "read") | down,
        ticket_units=scope.units_for("ticket", "read"),
        pii_centres=scope.centres_for("pii", "read"),
        pii_units=scope.units_for("pii", "read_assigned"),
        subject=scope.subject if scope.subject.startswith("client:") else None,
    )
