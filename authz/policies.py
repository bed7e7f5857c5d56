"""Default role-level policies (p rules). Seeded idempotently; administrators may add more."""

from __future__ import annotations

# (role, kind, action) valid in every domain ("*").
_READ_CENTRE = [("centre", "read"), ("unit", "read")]

_TICKET_READ = ("ticket", "read")
_UNIT_WORK = [
    ("unit", "read"),
    _TICKET_READ,
    ("supervision", "respond"),
    ("supervision", "read"),
    ("meeting", "read"),
    ("assignment", "sign"),
    ("assignment", "return"),
    ("assignment", "extend"),
    ("reply", "draft"),
    ("reply", "submit"),
    ("pii", "read_assigned"),
    # §7(1): a unit reads the notices that name it.
    ("notice", "read"),
    # §6: a unit reads its own published monthly scores.
    ("assessment", "read"),
]

# §7, §3(10): notices (通报), accountability referrals (移送, never shown to units), the
# recurring-problem analysis and the leader cockpit (领导驾驶舱).
_NOTICE_READ = ("notice", "read")
_ANALYSIS_READ = ("analysis", "read")

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
        _TICKET_READ,
        _NOTICE_READ,
        ("notice", "publish"),
        _ANALYSIS_READ,
    ],
    # §3(2),(7),(8): the centre's 分拨人员 dispatch, decide returns and extensions, review
    # replies and call back.
    "dispatcher": [
        *_READ_CENTRE,
        ("staff", "read"),
        ("ticket", "create"),
        ("ticket", "dispatch"),
        ("ticket", "decide"),
        ("ticket", "review"),
        ("ticket", "callback"),
        ("ticket", "archive"),
        # §4(5)6: correct the automatic repeat-complaint links (linkTickets/unlinkTickets).
        ("ticket", "link"),
        _TICKET_READ,
        ("pii", "read"),
        ("supervision", "read"),
        ("meeting", "read"),
        ("meeting", "manage"),
        _NOTICE_READ,
        _ANALYSIS_READ,
        # A referral to the unit that stands for this centre (转办/下派): the centre's
        # dispatchers act for that unit (object face:<unit id>, mirrored from Unit.represents).
        *[("hop", act) for act in ("sign", "return", "extend", "draft", "approve", "submit")],
    ],
    # §5, §7: supervise the centre's own members (opening a case checks ("unit", "supervise")
    # on every target unit: membership decides), manage the centre's cases and meetings.
    "supervisor": [
        *_READ_CENTRE,
        ("staff", "read"),
        ("unit", "supervise"),
        ("history", "read"),
        _TICKET_READ,
        ("supervision", "read"),
        ("supervision", "manage"),
        ("meeting", "read"),
        ("meeting", "manage"),
        # §6, §7(3)1: the centre scores its own members every month.
        ("assessment", "read"),
        ("assessment", "compute"),
        ("assessment", "publish"),
        ("assessment", "attention"),
        _NOTICE_READ,
        ("notice", "publish"),
        ("accountability", "read"),
        ("accountability", "refer"),
        ("accountability", "manage"),
        _ANALYSIS_READ,
        ("cockpit", "read"),
    ],
    "reviewer": [
        *_READ_CENTRE,
        ("ticket", "review"),
        ("ticket", "callback"),
        _TICKET_READ,
        ("pii", "read"),
        _NOTICE_READ,
    ],
    "leader": [
        *_READ_CENTRE,
        ("cockpit", "read"),
        ("assessment", "read"),
        _TICKET_READ,
        ("supervision", "read"),
        ("meeting", "read"),
        _NOTICE_READ,
        ("accountability", "read"),
        _ANALYSIS_READ,
    ],
    "partner": [("centre", "read"), ("ticket", "create")],
    # An API client granted READ_CENTRE_TICKETS: its centre's tickets, complainant data masked.
    "partner_reader": [("centre", "read"), _TICKET_READ],
    # §2(1) 负责人+专人, §3(6): handlers draft, the leader approves; a final reply ("此为最终答复")
    # needs the unit's main leader (§4(4)).
    "unit_handler": list(_UNIT_WORK),
    "unit_leader": [*_UNIT_WORK, ("staff", "read"), ("reply", "approve")],
    "unit_main_leader": [
        *_UNIT_WORK,
        ("staff", "read"),
        ("reply", "approve"),
        ("reply", "approve_final"),
    ],
}

# (role, kind, action) valid only in the root (city) domain: the centre directory is the city's.
ROOT_PERMISSIONS: list[tuple[str, str, str]] = [
    ("registry_admin", "node", "manage"),
    ("registry_admin", "subrole", "grant"),
    # The working-day calendar, the category taxonomy, routing rules and time limits are
    # city-wide reference data.
    ("centre_admin", "calendar", "manage"),
    ("centre_admin", "routing", "manage"),
    # The scoring scheme (weights, thresholds, cliffs) is city-wide reference data (§6).
    ("centre_admin", "assessment", "scheme"),
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
