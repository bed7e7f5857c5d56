"""A principal's scope: computed once per request from the policy, used as SQL filters."""

from __future__ import annotations

from dataclasses import dataclass, field

from authz.enforcer import PolicyEnforcer
from authz.names import parse_domain


@dataclass(frozen=True)
class Scope:
    """What a subject may see and do, by centre code and unit id.

    ``act_centres[(kind, action)]`` are the centres in whose *own* domain the subject holds that
    permission: supervising, managing and granting never extend beyond them. ``read_down_from``
    are centres whose read was granted down the chain; ``domain`` expands them to descendants.
    """

    subject: str
    roles: dict[str, frozenset[str]] = field(default_factory=dict)
    act_centres: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    act_units: dict[tuple[str, str], frozenset[int]] = field(default_factory=dict)
    read_down_from: frozenset[str] = frozenset()

    def centres_for(self, kind: str, action: str) -> frozenset[str]:
        return self.act_centres.get((kind, action), frozenset())

    def units_for(self, kind: str, action: str) -> frozenset[int]:
        return self.act_units.get((kind, action), frozenset())

    @property
    def is_anonymous(self) -> bool:
        return not self.roles


def compute_scope(enforcer: PolicyEnforcer, subject: str) -> Scope:
    roles: dict[str, frozenset[str]] = {}
    act_centres: dict[tuple[str, str], set[str]] = {}
    act_units: dict[tuple[str, str], set[int]] = {}
    read_down: set[str] = set()
    for domain, role_set in enforcer.roles_by_domain(subject).items():
        parsed = parse_domain(domain)
        if parsed is None:
            continue
        kind, key = parsed
        roles[domain] = frozenset(role_set)
        for role in role_set:
            for perm in enforcer.permissions(role, domain):
                if perm == ("tree", "read") and kind == "centre":
                    read_down.add(key)
                elif kind == "centre":
                    act_centres.setdefault(perm, set()).add(key)
                else:
                    act_units.setdefault(perm, set()).add(int(key))
    return Scope(
        subject=subject,
        roles=roles,
        act_centres={k: frozenset(v) for k, v in act_centres.items()},
        act_units={k: frozenset(v) for k, v in act_units.items()},
        read_down_from=frozenset(read_down),
    )
