"""Real loopback servers for the channel tests: SMTP with STARTTLS and AUTH, and an HTTP robot.

The HTTP server imitates what the far ends check: the WeCom robot's body and size limit,
the DingTalk robot's body and signed URL (recomputed here from the shared secret, and
refused with errcode 310000 as DingTalk does), and a generic webhook's Idempotency-Key.
It can be told to fail the next N requests, to exercise retries.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A loopback port that was free a moment ago (aiosmtpd's Controller cannot take port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


# --- SMTP -------------------------------------------------------------------


@dataclass
class ReceivedMail:
    """One message as the SMTP server accepted it."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    authenticated: bool
    over_tls: bool


class _RecordingHandler:
    def __init__(self, inbox: list[ReceivedMail]) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.inbox.append(
            ReceivedMail(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                content=envelope.content,
                authenticated=bool(session.authenticated),
                # Covers both STARTTLS and implicit TLS (session.ssl is set only for STARTTLS).
                over_tls=server.transport is not None
                and server.transport.get_extra_info("ssl_object") is not None,
            )
        )
        return "250 OK"


class _Authenticator:
    def __init__(self, username: str, password: str) -> None:
        self.username = username.encode()
        self.password = password.encode()

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.username
            and auth_data.password == self.password
        )
        # handled=False: aiosmtpd then answers 535 itself (handled=True means "I replied already").
        return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    """A running aiosmtpd server and what it received."""

    port: int
    inbox: list[ReceivedMail] = field(default_factory=list)


@contextmanager
def smtp_server(
    ca: trustme.CA, username: str, password: str, *, offer_starttls: bool = True, implicit_tls: bool = False
) -> Iterator[SmtpServer]:
    """An SMTP server on a loopback port requiring STARTTLS and AUTH (or TLS from the start, or no TLS)."""
    inbox: list[ReceivedMail] = []
    kwargs: dict[str, Any] = {
        "authenticator": _Authenticator(username, password),
        "auth_require_tls": offer_starttls,
    }
    if offer_starttls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(LOOPBACK, "localhost").configure_cert(context)
        kwargs |= {"tls_context": context, "require_starttls": True}
    if implicit_tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(LOOPBACK, "localhost").configure_cert(context)
        kwargs |= {"ssl_context": context, "auth_require_tls": False}
    controller = Controller(_RecordingHandler(inbox), hostname=LOOPBACK, port=free_port(), **kwargs)
    controller.start()
    try:
        yield SmtpServer(port=controller.port, inbox=inbox)
    finally:
        controller.stop()


# --- HTTP robots --------------------------------------------------------------


@dataclass
class Hit:
    """One request the HTTP server received."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    answer: Any


@dataclass
class RobotState:
    """What the robots expect, what they saw, and how they should misbehave."""

    wecom_key: str = "wecom-key-123"
    dingtalk_token: str = "ding-token-456"
    dingtalk_secret: str = "SEC0123456789abcdef"
    now_ms: int = 0
    fail_times: int = 0
    fail_mode: str = "http500"  # http500 | http400 | http429 | errcode | slow | not_json
    slow_seconds: float = 1.0
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.fail_times = 0
            self.fail_mode = "http500"
            self.hits.clear()

    def fail_next(self, times: int, mode: str) -> None:
        with self.lock:
            self.fail_times = times
            self.fail_mode = mode

    def _take_failure(self) -> str | None:
        with self.lock:
            if self.fail_times <= 0:
                return None
            self.fail_times -= 1
            return self.fail_mode


def _expected_sign(secret: str, timestamp: str) -> str:
    # Written out here independently of engine/channels/dingtalk.py, as DingTalk's docs give it.
    mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def _make_handler(state: RobotState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                body: Any = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                body = None
            status, answer = self._answer(parts.path, query, body)
            with state.lock:
                state.hits.append(Hit(parts.path, query, dict(self.headers.items()), body, answer))
            self._reply(status, answer)

        def _answer(self, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
            failure = state._take_failure()
            if failure == "slow":
                time.sleep(state.slow_seconds)
            elif failure == "http500":
                return 500, {"error": "boom"}
            elif failure == "http400":
                return 400, {"error": "bad request"}
            elif failure == "http429":
                return 429, {"error": "slow down"}
            elif failure == "not_json":
                return 200, "<html>proxy says hello</html>"
            if not self.headers.get("Content-Type", "").startswith("application/json") or body is None:
                return 400, {"error": "expected a JSON body"}
            if path == "/cgi-bin/webhook/send":
                return 200, self._wecom(query, body, failure)
            if path == "/robot/send":
                return 200, self._dingtalk(query, body, failure)
            if path == "/hook":
                return self._generic(body)
            return 404, {"error": "no such path"}

        def _wecom(self, query: dict[str, str], body: Any, failure: str | None) -> dict[str, Any]:
            if query.get("key") != state.wecom_key:
                return {"errcode": 93000, "errmsg": "invalid webhook url"}
            if failure == "errcode":
                return {"errcode": 45009, "errmsg": "api freq out of limit"}
            content = (
                body.get("markdown", {}).get("content") if isinstance(body.get("markdown"), dict) else None
            )
            if body.get("msgtype") != "markdown" or not isinstance(content, str) or not content:
                return {"errcode": 40008, "errmsg": "invalid message type"}
            if len(content.encode("utf-8")) > 4096:
                return {"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"}
            return {"errcode": 0, "errmsg": "ok"}

        def _dingtalk(self, query: dict[str, str], body: Any, failure: str | None) -> dict[str, Any]:
            if query.get("access_token") != state.dingtalk_token:
                return {"errcode": 300001, "errmsg": "token is not exist"}
            timestamp, sign = query.get("timestamp", ""), query.get("sign", "")
            if not timestamp.isdigit() or abs(int(timestamp) - state.now_ms) > 3_600_000:
                return {"errcode": 310000, "errmsg": "invalid timestamp"}
            if not hmac.compare_digest(sign, _expected_sign(state.dingtalk_secret, timestamp)):
                return {"errcode": 310000, "errmsg": "sign not match"}
            if failure == "errcode":
                return {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
            markdown = body.get("markdown")
            if (
                body.get("msgtype") != "markdown"
                or not isinstance(markdown, dict)
                or not isinstance(markdown.get("title"), str)
                or not isinstance(markdown.get("text"), str)
                or not markdown["title"]
                or not markdown["text"]
            ):
                return {"errcode": 40035, "errmsg": "missing parameter markdown.title / markdown.text"}
            return {"errcode": 0, "errmsg": "ok"}

        def _generic(self, body: Any) -> tuple[int, Any]:
            key = self.headers.get("Idempotency-Key")
            if not key or key != body.get("idempotency_key"):
                return 400, {"error": "Idempotency-Key header missing or not the body's key"}
            return 200, {"accepted": key}

        def _reply(self, status: int, answer: Any) -> None:
            data = (answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the "slow" mode's timeout)

    return Handler


@dataclass
class RobotServer:
    """A running robot server: its base URL and its state."""

    base_url: str
    state: RobotState

    @property
    def wecom_url(self) -> str:
        return f"{self.base_url}/cgi-bin/webhook/send?key={self.state.wecom_key}"

    @property
    def dingtalk_url(self) -> str:
        return f"{self.base_url}/robot/send?access_token={self.state.dingtalk_token}"

    @property
    def hook_url(self) -> str:
        return f"{self.base_url}/hook"


@contextmanager
def robot_server() -> Iterator[RobotServer]:
    """The HTTP robot server on a loopback port chosen by the OS, served from a thread."""
    state = RobotState()
    httpd = ThreadingHTTPServer((LOOPBACK, 0), _make_handler(state))
    thread = threading.Thread(target=httpd.serve_forever, name="robot-server", daemon=True)
    thread.start()
    try:
        yield RobotServer(base_url=f"http://{LOOPBACK}:{httpd.server_address[1]}", state=state)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
