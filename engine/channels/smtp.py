"""Email over SMTP: STARTTLS when asked (never a silent downgrade), AUTH when a username is given.

The Message-ID is derived from the digest's idempotency key, so a digest resent after a
crash carries the same Message-ID and mail clients and archives recognise it as the same message.
"""

from __future__ import annotations

import base64
import hashlib
import smtplib
import ssl
from datetime import tzinfo
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from duban.engine.channels.errors import DeliveryFailed
from duban.engine.channels.model import Digest
from duban.engine.channels.render import DEFAULT_MAX_LINES, DEFAULT_TZ, render_digest
from duban.engine.time.clock import Clock


def message_id_for(idempotency_key: str, sender: str) -> str:
    """The Message-ID for a digest: the same key always gives the same id."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "duban.invalid"
    token = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:40]
    return f"<{token}.duban@{domain}>"


class SmtpTransport:
    """Sends each digest as one UTF-8 plain-text email through one SMTP server.

    `starttls` upgrades a plain connection (port 587/25) and fails rather than continue
    in the clear; `implicit_tls` speaks TLS from the first byte (port 465) instead.
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str | None,
        password: str | None,
        starttls: bool,
        sender: str,
        timeout: float,
        *,
        tz: tzinfo = DEFAULT_TZ,
        clock: Clock | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_lines: int = DEFAULT_MAX_LINES,
        implicit_tls: bool = False,
    ) -> None:
        if implicit_tls and starttls:
            raise ValueError("choose implicit TLS (port 465) or STARTTLS, not both")
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.starttls = starttls
        self.sender = sender
        self.timeout = timeout
        self._tz = tz
        self._clock = clock
        self._ssl_context = ssl_context
        self._max_lines = max_lines
        self.implicit_tls = implicit_tls

    def build_message(self, digest: Digest) -> EmailMessage:
        """The email for a digest, headers and body, ready to send."""
        _check_address(digest.address)
        rendered = render_digest(digest, self._tz, max_lines=self._max_lines)
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = digest.address
        message["Subject"] = rendered.subject
        message["Message-ID"] = message_id_for(digest.idempotency_key, self.sender)
        message["X-Duban-Idempotency-Key"] = digest.idempotency_key
        # RFC 3834: marks the mail as automatic so auto-responders do not answer it.
        message["Auto-Submitted"] = "auto-generated"
        if self._clock is not None:
            message["Date"] = format_datetime(self._clock.now().astimezone(self._tz))
        # base64 keeps Chinese text intact through servers without 8BITMIME.
        message.set_content(rendered.text_plain, charset="utf-8", cte="base64")
        return message

    def _tls_context(self) -> ssl.SSLContext:
        return self._ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            # Port 465 ("SMTPS"): many Chinese mail providers offer only this.
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._tls_context())
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    def send(self, digest: Digest) -> None:
        """Deliver the digest to `digest.address`, or raise DeliveryFailed."""
        message = self.build_message(digest)
        where = f"smtp://{self.host}:{self.port}"
        try:
            with self._connect() as smtp:
                smtp.ehlo()
                if self.starttls:
                    # Raises SMTPNotSupportedError when the server offers no STARTTLS:
                    # credentials and notices never go out in the clear by accident.
                    smtp.starttls(context=self._tls_context())
                    smtp.ehlo()
                if self.username:
                    _login(smtp, self.username, self._password or "")
                refused = smtp.send_message(
                    message, from_addr=parseaddr(self.sender)[1], to_addrs=[digest.address]
                )
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryFailed(
                f"{where}: recipient refused: {exc.recipients}", retryable=all(400 <= c < 500 for c in codes)
            ) from exc
        except smtplib.SMTPResponseException as exc:
            # 4xx is "try later" in SMTP, 5xx is "never" (535 is a wrong password).
            raise DeliveryFailed(
                f"{where}: {exc.smtp_code} {_text(exc.smtp_error)}", retryable=400 <= exc.smtp_code < 500
            ) from exc
        except smtplib.SMTPServerDisconnected as exc:
            raise DeliveryFailed(f"{where}: disconnected: {exc}", retryable=True) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryFailed(
                f"{where}: server does not support what is required: {exc}", retryable=False
            ) from exc
        except smtplib.SMTPException as exc:
            # e.g. "No suitable authentication method found": configuration, not weather.
            raise DeliveryFailed(f"{where}: {exc}", retryable=False) from exc
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryFailed(
                f"{where}: TLS certificate not trusted: {exc.verify_message}", retryable=False
            ) from exc
        except (OSError, ssl.SSLError) as exc:
            # Refused connections, resets and timeouts (socket.timeout is an OSError).
            raise DeliveryFailed(f"{where}: {type(exc).__name__}: {exc}", retryable=True) from exc
        if refused:
            codes = [code for code, _ in refused.values()]
            raise DeliveryFailed(
                f"{where}: recipient refused: {refused}", retryable=all(400 <= c < 500 for c in codes)
            )


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    if username.isascii() and password.isascii():
        smtp.login(username, password)
        return
    # smtplib encodes credentials as ASCII and fails on anything else; SASL PLAIN is
    # UTF-8 (RFC 4616), so a non-ASCII password is sent with AUTH PLAIN by hand.
    mechanisms = smtp.esmtp_features.get("auth", "").upper().split()
    if "PLAIN" not in mechanisms:
        raise smtplib.SMTPException("non-ASCII credentials need AUTH PLAIN, which the server does not offer")
    token = base64.b64encode(b"\0" + username.encode("utf-8") + b"\0" + password.encode("utf-8"))
    code, response = smtp.docmd("AUTH", "PLAIN " + token.decode("ascii"))
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, response)


def _check_address(address: str) -> None:
    # A CR/LF in an address would let a contact inject headers; a missing @ is a typo.
    addr = parseaddr(address)[1]
    if "\r" in address or "\n" in address or "@" not in addr or addr != address.strip():
        raise DeliveryFailed(f"not a plain email address: {address!r}", retryable=False)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
