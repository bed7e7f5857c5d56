"""The Starlette ASGI app: /graphql, /healthz; engine and enforcer made once in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from cross_web import HTTPException
from graphql import OperationType, parse
from graphql.error import GraphQLSyntaxError
from graphql.utilities import get_operation_ast
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage

from api.auth import bearer, decode_token
from api.context import Context
from api.schema import build_schema
from api.subscriptions import CLOSE_TOO_MANY_CONNECTIONS
from authz.enforcer import PolicyEnforcer
from domain.accounts import Principal, load_principal
from domain.calendar import TZ
from domain.db import asyncpg_dsn, database_url, make_engine, make_sessionmaker
from domain.eventstream import EventHub
from domain.partners.service import TOKEN_PREFIX, load_client_principal
from domain.settings import Settings, get_settings
from domain.tickets.service import calendar_coverage
from domain.tickets.sweeper import run_forever

log = logging.getLogger(__name__)


class BodyLimit:
    """Refuse request bodies over the limit with 413, by header and while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = True
                if too_big:
                    await self._reject(scope, receive, send)
                    return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return msg

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        resp = JSONResponse(
            {"errors": [{"message": f"request body over {self.max_bytes} bytes"}]}, status_code=413
        )
        await resp(scope, receive, send)


class _TooLarge(Exception):
    pass


class _Refused(Exception):
    """A websocket connection refused with a close code of our own (not 4403)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws as strawberry speaks it, plus our own refusals and bookkeeping."""

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except _Refused as refused:
            await self.websocket.close(code=refused.code, reason=refused.reason)

    async def shutdown(self) -> None:
        try:
            await super().shutdown()
        finally:
            view = self.view
            if isinstance(view, YiwangGraphQL):
                view.release(self.context)


class YiwangGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler

    def __init__(self, app_state: dict[str, Any], **kwargs: Any) -> None:
        self._state = app_state
        # Open websocket connections per principal (this instance).
        self.connections: dict[str, int] = {}
        super().__init__(**kwargs)

    async def authenticate(self, token: str | None) -> Principal | None:
        """The principal behind a bearer token: a staff JWT or an API client's yw_ token."""
        st = self._state
        if not token:
            return None
        if token.startswith(TOKEN_PREFIX):
            # An API client's token (yw_…): looked up by its hash among active clients.
            async with st["sessions"]() as s:
                return await load_client_principal(s, st["enforcer"], token)
        claims = decode_token(st["settings"], token)
        if claims is None:
            return None
        async with st["sessions"]() as s:
            return await load_principal(s, st["enforcer"], str(claims["sub"]))

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:
        st = self._state
        ctx = Context(
            settings=st["settings"],
            sessions=st["sessions"],
            enforcer=st["enforcer"],
            request=request,
            response=response,
            hub=st.get("hub"),
            authenticate=self.authenticate,
        )
        if isinstance(request, WebSocket):
            return ctx  # authenticated by connection_init (on_ws_connect)
        principal = await self.authenticate(bearer(request.headers.get("authorization")))
        if principal is not None:
            ctx.principal = principal
        return ctx

    async def execute_single(self, *args: Any, **kwargs: Any) -> Any:
        """Subscriptions are served over the websocket only: over HTTP, a clear 400."""
        data = kwargs.get("request_data")
        query = getattr(data, "query", None)
        if isinstance(query, str) and "subscription" in query:
            try:
                op = get_operation_ast(parse(query), getattr(data, "operation_name", None))
            except GraphQLSyntaxError:
                op = None  # the normal path reports the syntax error
            if op is not None and op.operation == OperationType.SUBSCRIPTION:
                raise HTTPException(
                    400,
                    "subscriptions are served over a websocket at /graphql "
                    "(subprotocol graphql-transport-ws)",
                )
        return await super().execute_single(*args, **kwargs)

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        """connection_init: ``{"Authorization": "Bearer <token>"}`` (or ``{"token": …}``)."""
        params = context.connection_params or {}
        raw = params.get("Authorization") or params.get("authorization")
        token = bearer(raw) if isinstance(raw, str) else None
        if token is None and isinstance(params.get("token"), str):
            token = str(params["token"])
        principal = await self.authenticate(token)
        if principal is None:
            raise ConnectionRejectionError()  # 4403 Forbidden
        limit = context.settings.max_connections_per_principal
        subject = principal.subject
        if self.connections.get(subject, 0) >= limit:
            raise _Refused(
                CLOSE_TOO_MANY_CONNECTIONS,
                f"too many connections: at most {limit} per principal on this server",
            )
        self.connections[subject] = self.connections.get(subject, 0) + 1
        context.counted_as = subject
        context.principal = principal
        context.token = token
        return {"subject": subject}

    def release(self, context: Context) -> None:
        # The subject counted at connect: the principal may since have been refreshed away.
        subject, context.counted_as = context.counted_as, None
        if subject and self.connections.get(subject):
            self.connections[subject] -= 1
            if not self.connections[subject]:
                del self.connections[subject]


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    state: dict[str, Any] = {"settings": settings}
    schema = build_schema(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        url = database_url(settings.database_url, settings.data_dir)
        engine = make_engine(url)
        enforcer = PolicyEnforcer(engine)
        await enforcer.load()
        dsn, kwargs = asyncpg_dsn(url)
        enforcer.start_listening(dsn, kwargs, settings.policy_reload_seconds)
        sessions = make_sessionmaker(engine)
        hub = EventHub(dsn, kwargs, poll_seconds=settings.event_poll_seconds)
        await hub.start()
        state.update(engine=engine, sessions=sessions, enforcer=enforcer, hub=hub)
        async with sessions() as s:
            coverage = await calendar_coverage(s, datetime.now(TZ).date())
        if not coverage["nextYearCovered"]:
            # Deadlines that run into an uncovered year fail (CalendarNotCovered): say it loudly.
            log.warning(
                "the working-day calendar has no data for %s: an administrator must enter its "
                "holidays and adjusted workdays (setCalendarDay) before deadlines reach it",
                coverage["nextYear"],
            )
        # The deadline sweeper: every instance runs one; SKIP LOCKED keeps them from doubling up.
        stop_sweeper = asyncio.Event()
        sweeper: asyncio.Task[None] | None = None
        if settings.sweeper_enabled:
            sweeper = asyncio.create_task(
                run_forever(sessions, settings.sweep_interval_seconds, stop_sweeper),
                name="yiwang-deadline-sweeper",
            )
        state["sweeper"] = sweeper
        try:
            yield
        finally:
            if sweeper is not None:
                stop_sweeper.set()  # a sweep in progress may finish its batch ...
                try:
                    await asyncio.wait_for(asyncio.shield(sweeper), timeout=5)
                except TimeoutError:
                    sweeper.cancel()  # ... or is cancelled: its open batch rolls back
                    with contextlib.suppress(asyncio.CancelledError):
                        await sweeper
            await hub.stop()
            await enforcer.stop()
            await engine.dispose()

    graphql = YiwangGraphQL(
        state,
        schema=schema,
        graphql_ide="graphiql" if settings.demo else None,
        allow_queries_via_get=True,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
    )

    async def healthz(_request: Request) -> Response:
        try:
            async with state["engine"].connect() as conn:
                await conn.execute(text("SELECT 1"))
            async with state["sessions"]() as s:
                calendar = await calendar_coverage(s, datetime.now(TZ).date())
        except Exception:
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse(
            {
                "status": "ok",
                "policyReloads": state["enforcer"].reloads,
                "events": {
                    "position": state["hub"].position,
                    "listening": state["hub"].connected.is_set(),
                    "subscribers": state["hub"].subscriber_count,
                },
                "calendar": calendar,
            }
        )

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )
    app.state.yiwang = state
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
