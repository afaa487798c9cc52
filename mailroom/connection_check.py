"""“Test connection” for a team-email channel: can the helpdesk reach its mailbox, and can
its mail leave? Each check talks to the real server once and says what happened in plain
words — what it reached, what the server answered, or where it stopped and why.

- `check_imap(target)`: connect (TLS from the start, STARTTLS or none), log in, SELECT the
  folder read-only (nothing on the server changes), LOGOUT; standard library `imaplib`,
  timeout `MAIL_IMAP_TIMEOUT_SECONDS`.
- `check_smtp(sender=…)`: the server of `MAILERS["default"]` (EMAIL_URL): connect, EHLO,
  STARTTLS and login when configured, `MAIL FROM:<sender>`, then RSET and QUIT — nothing
  is sent. An installation whose mail does not leave by SMTP (console, locmem) has nothing
  to test.

No queries, and the secret is never part of a message: the server's own words are quoted
with any occurrence of it masked. Values the protocol cannot carry — a host name that is
not one (`a..b`, a part over 63 characters), a user, secret or folder outside ASCII, a from
address whose local part is — are said in plain words too, never raised.
"""

import imaplib
import re
import smtplib
import socket
import ssl
from contextlib import suppress
from dataclasses import dataclass

from django.conf import settings
from django.utils.encoding import punycode
from django.utils.translation import gettext, gettext_lazy, ngettext

from mailroom.imap import quote
from mailroom.models import MailSettings

Security = MailSettings.Security
SECURITY_WORDS = {
    Security.SSL: "TLS",
    Security.STARTTLS: "STARTTLS",
    Security.NONE: gettext_lazy("no TLS"),
}
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
NOT_SMTP = {
    "console": gettext_lazy("mail is printed on the console of the web and worker processes"),
    "locmem": gettext_lazy("mail is kept in memory, as in tests"),
    "dummy": gettext_lazy("mail is thrown away"),
    "filebased": gettext_lazy("mail is written to files"),
}
SMTP_TIMEOUT_SECONDS = 10
# OpenSSL's words for "the answer was not TLS" (a plain-text greeting read as a TLS record).
PLAIN_TEXT_ANSWERS = {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG"}
# Dovecot's timing after each answer, "(0.001 + 0.000 secs)": noise for a person.
_TIMING = re.compile(r"\s*\(\d+\.\d+ \+ \d+\.\d+(?: \+ \d+\.\d+)? secs\)")
MASK = "••••"


@dataclass(frozen=True)
class CheckResult:
    """`ok`: True it worked, False it failed, None there was nothing to test."""

    ok: bool | None
    message: str


@dataclass(frozen=True)
class ImapTarget:
    host: str
    port: int
    security: str
    user: str
    secret: str
    folder: str = "INBOX"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def _said(value, secret: str = "") -> str:
    """A server's answer as text on one line (bytes decoded, the secret masked)."""
    if isinstance(value, list | tuple):
        value = b" ".join(v if isinstance(v, bytes) else str(v).encode() for v in value if v)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = _TIMING.sub("", " ".join(str(value).split())).strip()
    if secret:
        text = text.replace(secret, MASK)
    return text[:300]


def _network_failure(exc: OSError, where: str, host: str, timeout: float) -> str:
    """Why no conversation with the server began (or why it broke off), in plain words."""
    if isinstance(exc, ConnectionRefusedError):
        return gettext("No server answered at %(where)s (connection refused).") % {"where": where}
    if isinstance(exc, socket.gaierror):
        return gettext("The host name “%(host)s” could not be found (%(why)s).") % {
            "host": host,
            "why": exc.strerror or exc,
        }
    if isinstance(exc, TimeoutError):
        return gettext("The server at %(where)s did not answer within %(seconds)s seconds.") % {
            "where": where,
            "seconds": f"{timeout:g}",
        }
    if isinstance(exc, ssl.SSLCertVerificationError):
        why = exc.verify_message or exc.reason
        return gettext(
            "The TLS handshake failed: the server's certificate was refused (%(why)s)."
        ) % {"why": why}
    if isinstance(exc, ssl.SSLError):
        if exc.reason in PLAIN_TEXT_ANSWERS:
            return gettext(
                "The TLS handshake failed: the server at %(where)s does not speak TLS from the "
                "start on this port (try STARTTLS, or the port for TLS, usually 993)."
            ) % {"where": where}
        reason = (exc.reason or "").replace("_", " ").lower() or exc.strerror or str(exc)
        return gettext("The TLS handshake failed: %(reason)s.") % {"reason": reason}
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return _closed(where)
    return gettext("The connection to %(where)s failed: %(why)s.") % {
        "where": where,
        "why": exc.strerror or exc,
    }


def _closed(where: str) -> str:
    return gettext("The server at %(where)s closed the connection.") % {"where": where}


def bad_host(host: str) -> str:
    """Why `host` cannot be a host name ("" when it can): IDNA must encode it."""
    try:
        host.encode("idna")
    except UnicodeError:
        return gettext(
            "“%(host)s” is not a host name: each part between dots must have 1 to 63 characters."
        ) % {"host": host}
    return ""


def _unsendable(where: str) -> str:
    return gettext("A value could not be sent to %(where)s.") % {"where": where}


def _unsendable_imap(stage: str, target: "ImapTarget") -> str:
    """A value imaplib could not send (a ValueError), by the stage it was sent at."""
    if stage == "connect":
        return bad_host(target.host) or gettext("“%(host)s” is not a usable host name.") % {
            "host": target.host
        }
    if stage == "login":
        return gettext(
            "The user or the secret contains characters other than ASCII, which this "
            "connection cannot send. Check them for typing mistakes."
        )
    if stage == "select":
        return gettext(
            "The folder name “%(folder)s” contains characters other than ASCII, which this "
            "connection cannot send."
        ) % {"folder": target.folder}
    return _unsendable(target.where)


# ---------------------------------------------------------------------------------------
# Receiving: IMAP
# ---------------------------------------------------------------------------------------


def check_imap(target: ImapTarget, *, timeout: float | None = None) -> CheckResult:
    """Connect, log in and select the folder as the poller would; say what happened."""
    timeout = settings.MAIL_IMAP_TIMEOUT_SECONDS if timeout is None else timeout
    where, secret = target.where, target.secret
    security = SECURITY_WORDS.get(target.security, target.security)
    stage = "connect"
    client = None
    try:
        if target.security == Security.SSL:
            context = ssl.create_default_context()
            client = imaplib.IMAP4_SSL(
                target.host, target.port, ssl_context=context, timeout=timeout
            )
        else:
            client = imaplib.IMAP4(target.host, target.port, timeout=timeout)
            if target.security == Security.STARTTLS:
                stage = "starttls"
                client.starttls(ssl.create_default_context())
        stage = "login"
        client.login(target.user, secret)
        stage = "select"
        typ, data = client.select(quote(target.folder), readonly=True)
        if typ != "OK":
            said = _said(data, secret).rstrip(".")
            return CheckResult(
                False,
                gettext(
                    "Logged in as %(user)s, but the folder “%(folder)s” does not exist "
                    "(the server said: %(said)s)."
                )
                % {"user": target.user, "folder": target.folder, "said": said},
            )
        count = _said(data)
        return CheckResult(
            True,
            ngettext(
                "Connected to %(where)s (%(security)s), logged in as %(user)s, "
                "folder %(folder)s has %(count)s message.",
                "Connected to %(where)s (%(security)s), logged in as %(user)s, "
                "folder %(folder)s has %(count)s messages.",
                int(count) if count.isdigit() else 2,
            )
            % {
                "where": where,
                "security": security,
                "user": target.user,
                "folder": target.folder,
                "count": count,
            },
        )
    except imaplib.IMAP4.abort as exc:
        said = _said(exc.args, secret)
        if stage == "starttls":
            return CheckResult(
                False,
                gettext("The server at %(where)s does not offer STARTTLS (%(said)s).")
                % {"where": where, "said": said},
            )
        return CheckResult(
            False,
            gettext("The server at %(where)s broke off: %(said)s.")
            % {"where": where, "said": said},
        )
    except imaplib.IMAP4.error as exc:
        said = _said(exc.args, secret)
        if stage == "login":
            return CheckResult(
                False, gettext("The server refused the login: %(said)s") % {"said": said}
            )
        if stage == "starttls":
            return CheckResult(
                False,
                gettext("STARTTLS did not work at %(where)s: %(said)s")
                % {"where": where, "said": said},
            )
        return CheckResult(
            False,
            gettext("The server at %(where)s did not greet as IMAP: %(said)s")
            % {"where": where, "said": said},
        )
    except EOFError:
        return CheckResult(False, _closed(where))
    except OSError as exc:
        return CheckResult(False, _network_failure(exc, where, target.host, timeout))
    except ValueError:  # UnicodeError included: a value imaplib cannot send
        return CheckResult(False, _unsendable_imap(stage, target))
    finally:
        if client is not None:
            with suppress(imaplib.IMAP4.error, OSError, EOFError, ValueError):
                client.logout()


# ---------------------------------------------------------------------------------------
# Sending: SMTP
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    use_tls: bool
    use_ssl: bool
    username: str
    password: str
    timeout: float

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def security(self) -> str:
        return "TLS" if self.use_ssl else "STARTTLS" if self.use_tls else gettext("no TLS")


def smtp_server(mailer: dict | None = None) -> SmtpServer | None:
    """The SMTP server mail leaves through (`MAILERS["default"]`), or None when this
    installation does not send by SMTP."""
    mailer = settings.MAILERS["default"] if mailer is None else mailer
    if mailer.get("BACKEND") != SMTP_BACKEND:
        return None
    options = mailer.get("OPTIONS", {})
    return SmtpServer(
        host=options.get("host") or "localhost",
        port=int(options.get("port") or 25),
        use_tls=bool(options.get("use_tls")),
        use_ssl=bool(options.get("use_ssl")),
        username=options.get("username") or "",
        password=options.get("password") or "",
        timeout=float(options.get("timeout") or SMTP_TIMEOUT_SECONDS),
    )


def not_smtp_text(mailer: dict | None = None) -> str:
    """What happens to mail when it does not leave by SMTP (console, locmem…)."""
    mailer = settings.MAILERS["default"] if mailer is None else mailer
    backend = mailer.get("BACKEND", "")
    name = backend.removesuffix(".EmailBackend").rsplit(".", 1)[-1]
    what = NOT_SMTP.get(name) or gettext("mail is handed to %(backend)s") % {"backend": backend}
    return gettext("the %(name)s backend: %(what)s") % {"name": name, "what": what}


def check_smtp(*, sender: str, mailer: dict | None = None) -> CheckResult:
    """Ask the server whether it would take mail from `sender`; send nothing."""
    server = smtp_server(mailer)
    if server is None:
        return CheckResult(
            None,
            gettext(
                "Mail is not sent by SMTP in this installation (%(what)s), "
                "so there is nothing to test."
            )
            % {"what": not_smtp_text(mailer)},
        )
    where, secret = server.where, server.password
    try:
        envelope = envelope_address(sender)
    except ValueError:
        return CheckResult(
            False,
            gettext("“%(sender)s” cannot be a from address: its domain is not one.")
            % {"sender": sender},
        )
    stage = "connect"
    client = None
    try:
        if server.use_ssl:
            client = smtplib.SMTP_SSL(timeout=server.timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(timeout=server.timeout)
        code, banner = client.connect(server.host, server.port)
        if code != 220:
            return CheckResult(
                False,
                gettext("The server at %(where)s would not talk: %(code)s %(said)s")
                % {"where": where, "code": code, "said": _said(banner, secret)},
            )
        greeting = gettext("Connected to %(where)s (%(security)s): %(code)s %(said)s.") % {
            "where": where,
            "security": server.security,
            "code": code,
            "said": _said(banner, secret),
        }
        stage = "ehlo"
        client.ehlo_or_helo_if_needed()
        if server.use_tls:
            stage = "starttls"
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        login = ""
        if server.username:
            stage = "login"
            client.login(server.username, server.password)
            login = " " + gettext("Logged in as %(user)s.") % {"user": server.username}
        stage = "mail"
        code, answer = client.mail(envelope)
        if code != 250:
            refused = gettext("The server refused MAIL FROM:<%(envelope)s>: %(code)s %(said)s") % {
                "envelope": envelope,
                "code": code,
                "said": _said(answer, secret),
            }
            return CheckResult(False, f"{greeting}{login} {refused}")
        client.rset()
        accepted = gettext(
            "MAIL FROM:<%(envelope)s> accepted: %(code)s %(said)s. Nothing was sent."
        ) % {"envelope": envelope, "code": code, "said": _said(answer, secret)}
        return CheckResult(True, f"{greeting}{login} {accepted}")
    except smtplib.SMTPAuthenticationError as exc:
        return CheckResult(
            False,
            gettext("The server refused the login as %(user)s: %(code)s %(said)s")
            % {
                "user": server.username,
                "code": exc.smtp_code,
                "said": _said(exc.smtp_error, secret),
            },
        )
    except smtplib.SMTPNotSupportedError:
        if stage == "starttls":
            message = gettext("The server at %(where)s does not offer STARTTLS.")
        else:
            message = gettext("The server at %(where)s does not offer a login (AUTH).")
        return CheckResult(False, message % {"where": where})
    except smtplib.SMTPServerDisconnected:
        return CheckResult(False, _closed(where))
    except smtplib.SMTPResponseException as exc:
        return CheckResult(
            False,
            gettext("The server at %(where)s answered %(code)s %(said)s")
            % {"where": where, "code": exc.smtp_code, "said": _said(exc.smtp_error, secret)},
        )
    except smtplib.SMTPException as exc:
        return CheckResult(
            False,
            gettext("The conversation with %(where)s failed: %(said)s")
            % {"where": where, "said": _said(exc, secret)},
        )
    except OSError as exc:
        return CheckResult(False, _network_failure(exc, where, server.host, server.timeout))
    except ValueError:  # UnicodeError included: a value smtplib cannot send
        if stage == "connect":
            return CheckResult(
                False,
                bad_host(server.host)
                or gettext("“%(host)s” is not usable.") % {"host": server.host},
            )
        if stage == "login":
            return CheckResult(
                False,
                gettext(
                    "The SMTP user or password of EMAIL_URL contains characters other than "
                    "ASCII, which this connection cannot send."
                ),
            )
        if stage == "mail":
            return CheckResult(
                False,
                gettext(
                    "“%(sender)s” cannot be a from address here: the part before the @ has "
                    "characters other than ASCII."
                )
                % {"sender": sender},
            )
        return CheckResult(False, _unsendable(where))
    finally:
        if client is not None:
            with suppress(smtplib.SMTPException, OSError, ValueError):
                client.quit()


def envelope_address(sender: str) -> str:
    """`sender` as the SMTP envelope carries it: a domain outside ASCII in its IDNA form
    (punycode), as Django's SMTP backend sends a reply's. Raises ValueError when the
    domain cannot be encoded."""
    local, at, domain = sender.strip().rpartition("@")
    if not at or domain.isascii():
        return sender.strip()
    return f"{local}@{punycode(domain)}"
