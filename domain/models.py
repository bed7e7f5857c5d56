"""Import every model module so the metadata knows all tables (alembic, tests)."""

from domain.events import Event
from domain.registry.models import Centre, Staff, Unit

__all__ = ["Centre", "Event", "Staff", "Unit"]
