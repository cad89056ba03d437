"""Request-body size limit as pure ASGI middleware: refused before the body is parsed or buffered.

(FastAPI's own ``max_body_size`` answers a too-large Content-Length in plain text; this one keeps the
API's JSON error shape on every path.)"""
from __future__ import annotations

import json

from pixseek.api.errors import error_body


class BodyLimitMiddleware:
    """Answer 413 (JSON) for a request whose body is larger than ``max_bytes``.

    A declared ``Content-Length`` over the limit is refused before any byte is read; a chunked
    body is counted as it streams, and once over the limit the app sees the stream end and its
    response is replaced by the 413.
    """

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                too_big = False
            if too_big:
                return await self._refuse(send)
        state = {"seen": 0, "over": False, "started": False}

        async def counting_receive():
            message = await receive()
            if message["type"] == "http.request":
                state["seen"] += len(message.get("body", b""))
                if state["seen"] > self.max_bytes:
                    state["over"] = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def guarded_send(message):
            if state["over"]:
                if message["type"] == "http.response.start" and not state["started"]:
                    state["started"] = True
                    await self._refuse(send)
                return
            await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _refuse(self, send) -> None:
        mb = self.max_bytes / (1024 * 1024)
        body = json.dumps(error_body(413, "payload-too-large",
                                     f"request body is larger than the upload limit of {mb:g} MiB")).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
