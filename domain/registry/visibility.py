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

    def unit_filter(self) -> ColumnElement[bool]:
        conds: list[ColumnElement[bool]] = []
        if self.member_centres:
            conds.append(Unit.member_of.in_(self.member_centres))
        if self.unit_ids:
            conds.append(Unit.id.in_(self.unit_ids))
        return or_(*conds) if conds else false()

    def centre_filter(self) -> ColumnElement[bool]:
        return Centre.code.in_(self.node_centres) if self.node_centres else false()

    def can_read_unit(self, unit: Unit) -> bool:
        return unit.member_of in self.member_centres or unit.id in self.unit_ids

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


async def visibility(session: AsyncSession, scope: Scope) -> Visibility:
    own = scope.centres_for("unit", "read")
    down = await descendants(session, scope.read_down_from)
    member_centres = frozenset(own | down)
    unit_ids = scope.units_for("unit", "read")
    # The city's registry admin keeps the centre directory: it sees every centre's entry, but
    # not their members (that is read-down, granted or withheld separately).
    directory = await descendants(session, scope.centres_for("node", "manage"))
    nodes = set(member_centres) | set(scope.centres_for("centre", "read")) | directory
    if unit_ids:
        result = await session.execute(select(Unit.member_of).where(Unit.id.in_(unit_ids)))
        nodes |= set(result.scalars())
    return Visibility(
        member_centres=member_centres,
        node_centres=frozenset(nodes),
        unit_ids=unit_ids,
        staff_centres=scope.centres_for("staff", "read"),
        staff_units=scope.units_for("staff", "read"),
        history_centres=scope.centres_for("history", "read") | frozenset(down),
        ticket_centres=scope.centres_for("ticket", "read") | frozenset(down),
        ticket_units=scope.units_for("ticket", "read"),
        pii_centres=scope.centres_for("pii", "read"),
        pii_units=scope.units_for("pii", "read_assigned"),
    )
