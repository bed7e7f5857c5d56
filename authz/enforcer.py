"""The enforcer: Casbin over the PostgreSQL policy store, kept current on every instance.

Each instance LISTENs on the policy channel (asyncpg) and reloads on notification; after a lost
connection it reconnects and reloads in full (notifications sent meanwhile are lost), and it
reloads periodically as a safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from importlib import resources
from typing import Any

import asyncpg
import casbin
from casbin_async_sqlalchemy_adapter import Adapter
from sqlalchemy.ext.asyncio import AsyncEngine

from authz.names import parse_domain
from authz.store import POLICY_CHANNEL, CasbinRule

log = logging.getLogger(__name__)


def model_path() -> str:
    return str(resources.files("authz").joinpath("model.conf"))


class PolicyEnforcer:
    """One per process, made in the app lifespan (never lazily per request)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._adapter = Adapter(engine, db_class=CasbinRule)
        self.casbin = casbin.AsyncEnforcer(model_path(), self._adapter)
        self._lock = asyncio.Lock()
        self._listener: asyncio.Task[None] | None = None
        self.reloads = 0

    async def load(self) -> None:
        async with self._lock:
            await self.casbin.load_policy()
            self.reloads += 1

    # ---- questions --------------------------------------------------------------------------
    def roles_by_domain(self, subject: str) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for _sub, role, dom in self.casbin.get_filtered_grouping_policy(0, subject):
            out.setdefault(dom, set()).add(role)
        return out

    def permissions(self, role: str, domain: str) -> set[tuple[str, str]]:
        """(kind, action) pairs a role has in a domain (global and domain-specific rules)."""
        perms: set[tuple[str, str]] = set()
        for sub, dom, typ, act in self.casbin.get_filtered_policy(0, role):
            if sub == role and dom in ("*", domain):
                perms.add((typ, act))
        return perms

    def enforce(self, subject: str, domain: str, kind: str, obj: str, action: str) -> bool:
        return bool(self.casbin.enforce(subject, domain, kind, obj, action))

    def allowed(self, subject: str, kind: str, obj: str, action: str) -> bool:
        """May ``subject`` do ``action`` on ``obj`` in any domain it holds a role in?"""
        # g2 is reflexive in Casbin (has_link(a, a)): a domain spelled like an object would
        # reach that very object, so only well-formed domains count.
        return any(
            self.enforce(subject, dom, kind, obj, action)
            for dom in self.roles_by_domain(subject)
            if parse_domain(dom) is not None
        )

    def has_member(self, obj: str, domain: str) -> bool:
        rm = self.casbin.get_named_role_manager("g2")
        return bool(rm.has_link(obj, domain))

    # ---- staying current --------------------------------------------------------------------
    def start_listening(
        self, dsn: str, connect_kwargs: dict[str, Any], safety_reload: float
    ) -> None:
        self._listener = asyncio.create_task(self._listen(dsn, connect_kwargs, safety_reload))

    async def stop(self) -> None:
        if self._listener:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
            self._listener = None

    async def _listen(self, dsn: str, kwargs: dict[str, Any], safety_reload: float) -> None:
        changed = asyncio.Event()

        def on_notify(*_args: object) -> None:
            changed.set()

        backoff = 0.5
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(dsn, **kwargs)
                await conn.add_listener(POLICY_CHANNEL, on_notify)
                conn.add_termination_listener(on_notify)
                # Whatever was sent while we were not listening is lost: reload in full.
                await self.load()
                backoff = 0.5
                while not conn.is_closed():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(changed.wait(), timeout=safety_reload)
                    changed.clear()
                    await self.load()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("policy listener lost its connection; retrying", exc_info=True)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close()
