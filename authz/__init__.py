"""Authorization: the Casbin model, the policy store in PostgreSQL, the enforcer and scopes.

Speaks only in plain codes and ids; imports neither ``domain`` nor ``api``.
"""

from authz.names import (
    CENTRE_ROLES,
    ROLES,
    UNIT_ROLES,
    centre_domain,
    centre_obj,
    face_obj,
    node_obj,
    parse_domain,
    unit_domain,
    unit_obj,
    user_subject,
)
from authz.scope import Scope, compute_scope

__all__ = [
    "CENTRE_ROLES",
    "ROLES",
    "UNIT_ROLES",
    "Scope",
    "centre_domain",
    "centre_obj",
    "compute_scope",
    "face_obj",
    "node_obj",
    "parse_domain",
    "unit_domain",
    "unit_obj",
    "user_subject",
]
