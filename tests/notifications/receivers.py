"""Real receivers on loopback for the notification tests: an HTTP server in a thread
that records each request and answers with scripted statuses (Teams, Slack and webhook
all arrive here), and an SMTP server (aiosmtpd) that records each message."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.alerts.worker_support import free_port


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


class HttpReceiver:
    """POSTs to any path are recorded; `answers` are used in order, then 200.

    `hold_next` requests are kept waiting without an answer until `release` is set (a
    sender that dies meanwhile): they are recorded in `held`, never answered."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.held: list[Received] = []
        self.answers: deque[int] = deque()
        self.hold_next = 0
        self.release = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    hold = receiver.hold_next > 0
                    receiver.hold_next -= int(hold)
                if hold:
                    receiver.held.append(Received(self.path, dict(self.headers.items()), body, 0))
                    receiver.release.wait(timeout=120)
                    return
                with receiver._lock:
                    status = receiver.answers.popleft() if receiver.answers else 200
                    receiver.requests.append(
                        Received(self.path, dict(self.headers.items()), body, status)
                    )
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def accepted(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [
                r
                for r in self.requests
                if 200 <= r.answered < 300 and (path is None or r.path == path)
            ]

    def __enter__(self) -> HttpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class _Collect:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 Message accepted for delivery"


class SmtpReceiver:
    """An SMTP server on a free loopback port; `messages` holds what it accepted."""

    def __init__(self) -> None:
        self.handler = _Collect()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[Message]:
        return self.handler.messages

    def __enter__(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
