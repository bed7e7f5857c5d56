"""Names of subjects, domains and objects in the Casbin policy."""

from __future__ import annotations

CENTRE_ROLES = (
    "centre_admin",
    "registry_admin",
    "dispatcher",
    "supervisor",
    "reviewer",
    "leader",
    "partner",
    "partner_reader",
)
UNIT_ROLES = ("unit_main_leader", "unit_leader", "unit_handler")
ROLES = CENTRE_ROLES + UNIT_ROLES


def user_subject(username: str) -> str:
    return f"user:{username}"


def centre_domain(code: str) -> str:
    return f"centre:{code}/"


def unit_domain(unit_id: int) -> str:
    return f"unit:{unit_id}/"


def unit_obj(unit_id: int) -> str:
    return f"unit:{unit_id}"


def centre_obj(code: str) -> str:
    return f"centre:{code}"


def node_obj(code: str) -> str:
    return f"node:{code}"


def parse_domain(domain: str) -> tuple[str, str] | None:
    """``centre:3213/`` -> ("centre", "3213"); ``unit:7/`` -> ("unit", "7"); else None."""
    if not domain.endswith("/") or ":" not in domain:
        return None
    kind, _, rest = domain[:-1].partition(":")
    if kind not in ("centre", "unit") or not rest or "/" in rest:
        return None
    if kind == "unit" and not rest.isdigit():
        return None
    return kind, rest


def face_obj(unit_id: int) -> str:
    """The unit that stands for a lower centre, seen from that centre (g2: face -> centre/)."""
    return f"face:{unit_id}"
