"""A real graphql-transport-ws client over a real websocket (httpx-ws), for end-to-end tests."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws

PROTOCOL = "graphql-transport-ws"

TICKET_EVENTS = """subscription($filter: TicketEventFilter, $after: ID) {
  ticketEvents(filter: $filter, after: $after) { id type actor ticketId entityType entityId after }
}"""


class Closed(Exception):
    def __init__(self, code: int, reason: str | None) -> None:
        super().__init__(f"closed {code}: {reason}")
        self.code = code
        self.reason = reason or ""


class GqlWs:
    """One websocket connection speaking graphql-transport-ws."""

    def __init__(self, ws: AsyncWebSocketSession) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self.ack: dict[str, Any] | None = None

    async def init(self, payload: dict[str, Any] | None) -> dict[str, Any]:
        await self.ws.send_json({"type": "connection_init", "payload": payload or {}})
        msg = await self.receive(wait=10)
        assert msg["type"] == "connection_ack", msg
        self.ack = msg
        return msg

    async def receive(self, wait: float = 10) -> dict[str, Any]:
        try:
            msg: dict[str, Any] = await self.ws.receive_json(timeout=wait)
        except WebSocketDisconnect as exc:
            raise Closed(exc.code, exc.reason) from None
        return msg

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        op = str(next(self._ids))
        await self.ws.send_json(
            {"id": op, "type": "subscribe", "payload": {"query": query, "variables": variables}}
        )
        return op

    async def next_data(self, op: str | None = None, wait: float = 10) -> dict[str, Any]:
        """The data of the next `next` message (of ``op``); pings are answered, others fail."""
        while True:
            msg = await self.receive(wait)
            if msg["type"] == "ping":
                await self.ws.send_json({"type": "pong"})
                continue
            if op is not None and msg.get("id") != op:
                continue
            assert msg["type"] == "next", msg
            assert not msg["payload"].get("errors"), msg
            data: dict[str, Any] = msg["payload"]["data"]
            return data

    async def collect(
        self, field: str, count: int, op: str | None = None, wait: float = 15
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while len(out) < count:
            out.append((await self.next_data(op, wait))[field])
        return out

    async def quiet(self, seconds: float) -> list[dict[str, Any]]:
        """Messages that arrive within ``seconds`` (expecting none, usually)."""
        got: list[dict[str, Any]] = []
        with contextlib.suppress(TimeoutError):
            while True:
                got.append(await self.receive(wait=seconds))
        return got


@contextlib.asynccontextmanager
async def connect(
    base_url: str, token: str | None = None, *, init: bool = True, **params: Any
) -> AsyncIterator[GqlWs]:
    payload = dict(params)
    ws: AsyncWebSocketSession
    if token is not None:
        payload["Authorization"] = f"Bearer {token}"
    async with (
        httpx.AsyncClient(timeout=30) as http,
        aconnect_ws(
            f"{base_url}/graphql",
            http,
            subprotocols=[PROTOCOL],
            keepalive_ping_interval_seconds=None,
        ) as ws,
    ):
        client = GqlWs(ws)
        if init:
            await client.init(payload)
        yield client
