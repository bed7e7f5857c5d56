"""Default role-level policies (p rules). Seeded idempotently; administrators may add more."""

from __future__ import annotations

# (role, kind, action) valid in every domain ("*").
_READ_CENTRE = [("centre", "read"), ("unit", "read")]

DEFAULT_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    "registry_admin": [
        *_READ_CENTRE,
        ("unit", "manage"),
        ("staff", "read"),
        ("staff", "manage"),
        ("history", "read"),
    ],
    "centre_admin": [
        *_READ_CENTRE,
        ("staff", "read"),
        ("staff", "manage"),
        ("role", "grant"),
        ("policy", "manage"),
        ("history", "read"),
    ],
    "dispatcher": [*_READ_CENTRE, ("staff", "read"), ("ticket", "dispatch")],
    "supervisor": [*_READ_CENTRE, ("staff", "read"), ("unit", "supervise"), ("history", "read")],
    "reviewer": [*_READ_CENTRE, ("reply", "review")],
    "leader": [*_READ_CENTRE, ("cockpit", "read")],
    "partner": [("centre", "read"), ("ticket", "create")],
    "unit_leader": [("unit", "read"), ("staff", "read"), ("reply", "approve")],
    "unit_handler": [("unit", "read"), ("reply", "draft")],
}

# (role, kind, action) valid only in the root (city) domain: the centre directory is the city's.
ROOT_PERMISSIONS: list[tuple[str, str, str]] = [
    ("registry_admin", "node", "manage"),
    ("registry_admin", "subrole", "grant"),
]

# Roles whose read extends down the chain when read-down is granted to a centre.
READ_DOWN_ROLES = ("centre_admin", "dispatcher", "supervisor", "reviewer", "leader")


def default_p_rules(root_code: str) -> list[list[str]]:
    rules = [
        [role, "*", kind, act] for role, perms in DEFAULT_PERMISSIONS.items() for kind, act in perms
    ]
    rules += [[role, f"centre:{root_code}/", kind, act] for role, kind, act in ROOT_PERMISSIONS]
    return rules


def read_down_rules(centre_code: str) -> list[list[str]]:
    """The p rules that let a centre's roles read down its chain (granted or withheld)."""
    return [[role, f"centre:{centre_code}/", "tree", "read"] for role in READ_DOWN_ROLES]
