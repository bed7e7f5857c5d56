"""Registry model: centres, units, staff (SQLAlchemy 2 typed mappings)."""

from __future__ import annotations

import enum

from sqlalchemy import Boolean, CheckConstraint, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from domain.base import Base, Timestamps


class CentreLevel(enum.StrEnum):
    CITY = "CITY"
    COUNTY = "COUNTY"
    TOWNSHIP = "TOWNSHIP"


class CentreKind(enum.StrEnum):
    ADMINISTRATIVE = "ADMINISTRATIVE"
    FUNCTIONAL_ZONE = "FUNCTIONAL_ZONE"


class UnitCategory(enum.StrEnum):
    COUNTY_DISTRICT = "COUNTY_DISTRICT"  # （一）县区
    PARTY_MASS = "PARTY_MASS"  # （二）党群类
    GOVERNMENT = "GOVERNMENT"  # （三）政府类
    VERTICAL = "VERTICAL"  # （四）垂管类
    OTHER = "OTHER"  # （五）其他
    DEPARTMENT = "DEPARTMENT"  # members of lower centres


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=32, validate_strings=True)


class Centre(Timestamps, Base):
    """指挥中心: one per administrative level and area."""

    __tablename__ = "centre"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    level: Mapped[CentreLevel] = mapped_column(_enum(CentreLevel, "centre_level"), nullable=False)
    kind: Mapped[CentreKind] = mapped_column(_enum(CentreKind, "centre_kind"), nullable=False)
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey("centre.code", ondelete="RESTRICT"), index=True
    )
    # The official statistical division code where one exists (NBS 2023); None for zones.
    division_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    demo: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    version: Mapped[int] = mapped_column(nullable=False, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        CheckConstraint("(level = 'CITY') = (parent_code IS NULL)", name="root_is_city"),
        CheckConstraint("length(trim(name)) > 0", name="name_not_blank"),
    )


class Unit(Timestamps, Base):
    """承办单位: a handling unit, member of exactly one centre at a time."""

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    short_name: Mapped[str | None] = mapped_column(String(50))
    category: Mapped[UnitCategory] = mapped_column(
        _enum(UnitCategory, "unit_category"), nullable=False
    )
    member_of: Mapped[str] = mapped_column(
        ForeignKey("centre.code", ondelete="RESTRICT"), nullable=False, index=True
    )
    represents: Mapped[str | None] = mapped_column(
        ForeignKey("centre.code", ondelete="RESTRICT"), unique=True
    )
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    demo: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    # Stable key of a seeded unit (e.g. "appendix:012"), so reseeding never duplicates one that
    # an administrator has since renamed or moved.
    seed_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    version: Mapped[int] = mapped_column(nullable=False, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        UniqueConstraint("member_of", "name"),
        CheckConstraint("length(trim(name)) > 0", name="name_not_blank"),
    )


class StaffPosition(enum.StrEnum):
    CENTRE = "CENTRE"
    UNIT_LEADER = "UNIT_LEADER"
    UNIT_HANDLER = "UNIT_HANDLER"


class Staff(Timestamps, Base):
    """A person who logs in: centre staff, or a unit's leader / designated handler (负责人+专人)."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    display_name: Mapped[str] = mapped_column(String(100), nullable=False)
    phone: Mapped[str | None] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="true")
    centre_code: Mapped[str | None] = mapped_column(
        ForeignKey("centre.code", ondelete="RESTRICT"), index=True
    )
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("unit.id", ondelete="RESTRICT"), index=True
    )
    demo: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")

    __table_args__ = (
        CheckConstraint("(centre_code IS NULL) <> (unit_id IS NULL)", name="one_home"),
        CheckConstraint("length(trim(username)) > 0", name="username_not_blank"),
    )
