"""The writers of a team-email channel's `MailSettings` for the product page (the channel's
Details tab, `mailroom.settings_panel`): `save_mail_settings` and `new_endpoint_token`.

Each owns its transaction, creates the settings row when the channel has none, refuses bad
input with a `ValidationError` keyed by field (having written nothing), and records what
changed in the channel's change history (`channels_cfg.services.record_settings_change`,
section Details, fields "Mail · …"). Secrets — the IMAP secret and the endpoint token —
appear there only as "changed", never with their value.
"""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils.translation import gettext, gettext_lazy

from channels_cfg.services import record_settings_change
from helpdesk.models import Channel, User
from mailroom.acknowledge import TemplateError, check_template
from mailroom.connection_check import bad_host
from mailroom.models import MailSettings

# What the page edits, in page order, with its label in the history (the history keeps
# the words of the moment, as text: `channels_cfg.services`).
LABELS = {
    "addresses": gettext_lazy("Addresses"),
    "imap_host": gettext_lazy("IMAP host"),
    "imap_port": gettext_lazy("IMAP port"),
    "imap_security": gettext_lazy("IMAP security"),
    "imap_user": gettext_lazy("IMAP user"),
    "imap_secret": gettext_lazy("IMAP secret"),
    "imap_folder": gettext_lazy("IMAP folder"),
    "after_fetch": gettext_lazy("After fetching"),
    "processed_folder": gettext_lazy("Processed folder"),
    "from_name": gettext_lazy("From name"),
    "from_address": gettext_lazy("From address"),
    "signature": gettext_lazy("Signature"),
    "acknowledge": gettext_lazy("Acknowledge new tickets"),
    "ack_subject": gettext_lazy("Acknowledgement subject"),
    "ack_body": gettext_lazy("Acknowledgement body"),
}
PREFIX = gettext_lazy("Mail · ")
TOKEN_LABEL = gettext_lazy("HTTP endpoint token")
SECRETS = {"imap_secret"}
EDITABLE = set(LABELS) - SECRETS
CHOICES = {"imap_security": MailSettings.Security, "after_fetch": MailSettings.AfterFetch}
# A change of any of these points the poller at another mailbox: it starts over there
# (mail already stored is recognised by its Message-ID, so nothing doubles).
MAILBOX = ("imap_host", "imap_user", "imap_folder")
LONG_TEXT = 120


def _refuse_unless_email(channel: Channel) -> None:
    if channel.policy.intake != "email":
        raise ValidationError(gettext("Only a team-email channel has mail settings."))


def _text(name: str, value) -> str:
    if isinstance(value, bool):
        return gettext("On") if value else gettext("Off")
    if name in CHOICES:
        return str(CHOICES[name](value).label)
    text = " ".join(str(value if value is not None else "").split())
    if not text:
        return gettext("(empty)")
    return text if len(text) <= LONG_TEXT else text[: LONG_TEXT - 1] + "…"


def _secret_change(before: str, after: str) -> str | None:
    if before == after:
        return None
    return gettext("(none)") if not after else gettext("changed")


def _changes(before: dict, after: MailSettings) -> list[dict]:
    changes = []
    for name, label in LABELS.items():
        old, new = before[name], getattr(after, name)
        if name in SECRETS:
            text = _secret_change(old, new)
            if text:
                changes.append(
                    {
                        "field": f"{PREFIX}{label}",
                        "before": gettext("(hidden)") if old else gettext("(none)"),
                        "after": text,
                    }
                )
        elif name == "addresses":
            if sorted(old) != list(new):
                changes.append(
                    {
                        "field": f"{PREFIX}{label}",
                        "before": ", ".join(old) or gettext("(none)"),
                        "after": ", ".join(new) or gettext("(none)"),
                        "added": [a for a in new if a not in old],
                        "removed": [a for a in old if a not in new],
                    }
                )
        elif old != new:
            changes.append(
                {"field": f"{PREFIX}{label}", "before": _text(name, old), "after": _text(name, new)}
            )
    return changes


def _serialise_address_changes() -> None:
    """Two admins giving the same address to two channels at once check one after the
    other (PostgreSQL: a transaction-scoped advisory lock)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ["mailroom:addresses"])


def _locked_settings(channel: Channel) -> MailSettings:
    MailSettings.objects.get_or_create(channel=channel)
    locked = MailSettings.objects.select_for_update().get(channel=channel)
    locked.channel = channel
    return locked


def _problems(mail: MailSettings, *, typed_secret: str, remove_secret: bool) -> dict:
    """Every reason to refuse these settings, by field (empty: none)."""
    errors: dict[str, list[str]] = {}

    def refuse(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    for address in mail.addresses:
        try:
            validate_email(address)
        except ValidationError:
            refuse(
                "addresses",
                gettext("“%(address)s” is not an email address.") % {"address": address},
            )
    ours = set(mail.addresses)
    others = MailSettings.objects.exclude(channel=mail.channel).values_list(
        "channel__name", "addresses"
    )
    for name, addresses in others:
        for address in sorted(ours & {str(a).lower() for a in addresses or []}):
            refuse(
                "addresses",
                gettext(
                    "%(address)s is already an address of the channel “%(channel)s”: an "
                    "address belongs to one channel. Remove it there first."
                )
                % {"address": address, "channel": name},
            )
    if typed_secret and remove_secret:
        refuse(
            "remove_secret",
            gettext("Either type a new secret or remove the stored one, not both."),
        )
    host, user = mail.imap_host.strip(), mail.imap_user.strip()
    if host and bad_host(host):
        refuse("imap_host", bad_host(host))
    if host and not user:
        refuse("imap_user", gettext("Give the user too: mail is fetched with a host and a user."))
    if user and not host:
        refuse("imap_host", gettext("Give the host too: mail is fetched with a host and a user."))
    if host and user and not mail.imap_secret and not remove_secret:
        refuse("imap_secret", gettext("Type the secret: the mailbox cannot be opened without one."))
    if host and user and remove_secret:
        refuse(
            "remove_secret",
            gettext(
                "The mailbox cannot be opened without a secret. To stop fetching mail, "
                "clear the host and the user."
            ),
        )
    if not mail.imap_folder.strip():
        refuse("imap_folder", gettext("Name the folder mail is fetched from (usually INBOX)."))
    if mail.after_fetch == MailSettings.AfterFetch.MOVE:
        folder = mail.processed_folder.strip()
        if not folder:
            refuse("processed_folder", gettext("Name the folder fetched mail is moved to."))
        elif folder == mail.imap_folder.strip():
            refuse(
                "processed_folder",
                gettext(
                    "Fetched mail must move to another folder than the one it is fetched from."
                ),
            )
    for name in ("ack_subject", "ack_body"):
        try:
            check_template(getattr(mail, name))
        except TemplateError as exc:
            refuse(name, str(exc))
    return errors


def save_mail_settings(*, channel: Channel, data: dict, actor: User | None) -> list[dict]:
    """Save the mail settings of the Details tab; returns the changes recorded ([]: none).

    `data` holds any of `EDITABLE` (missing keys keep their value; `addresses` a list of
    addresses), `imap_secret` (a new secret; "" keeps the stored one) and `remove_secret`.
    Raises `ValidationError` by field — an address another channel answers for, a host
    without user, a host name that is not one, a template with anything but its placeholders …
    — and writes nothing then."""
    _refuse_unless_email(channel)
    unknown = set(data) - EDITABLE - {"imap_secret", "remove_secret"}
    if unknown:
        raise TypeError(f"save_mail_settings() cannot change {', '.join(sorted(unknown))}")
    typed_secret = data.get("imap_secret") or ""
    remove_secret = bool(data.get("remove_secret"))
    with transaction.atomic():
        _serialise_address_changes()
        mail = _locked_settings(channel)
        before = {name: getattr(mail, name) for name in LABELS}
        for name in EDITABLE & set(data):
            value = data[name]
            if isinstance(value, str):  # browsers post CRLF line ends
                value = value.replace("\r\n", "\n").strip()
            setattr(mail, name, value)
        if typed_secret:
            mail.imap_secret = typed_secret
        elif remove_secret:
            mail.imap_secret = ""
        try:
            mail.full_clean(exclude=["channel"])  # lengths, choices; addresses normalised
        except ValidationError as exc:
            raise ValidationError(exc.message_dict) from exc
        errors = _problems(mail, typed_secret=typed_secret, remove_secret=remove_secret)
        if errors:
            raise ValidationError(errors)
        changes = _changes(before, mail)
        if not changes:
            return []
        fields = [*LABELS]
        if any(before[name] != getattr(mail, name) for name in MAILBOX):
            mail.uidvalidity, mail.last_uid = None, 0
            mail.last_poll_at, mail.last_poll_error = None, ""
            fields += ["uidvalidity", "last_uid", "last_poll_at", "last_poll_error"]
        mail.save(update_fields=fields)  # not the poller's position, unless it starts over
        record_settings_change(channel=channel, actor=actor, changes=changes)
    return changes


def new_endpoint_token(*, channel: Channel, actor: User | None) -> tuple[MailSettings, str]:
    """A new token for the channel's HTTP endpoint (the old one stops working at once).
    Returns the saved settings and the raw token — show it once; only its SHA-256 and
    first characters are kept."""
    _refuse_unless_email(channel)
    with transaction.atomic():
        mail = _locked_settings(channel)
        had_one = bool(mail.endpoint_token_hash)
        raw = mail.set_endpoint_token()
        mail.save(update_fields=["endpoint_token_hash", "endpoint_token_prefix"])
        record_settings_change(
            channel=channel,
            actor=actor,
            changes=[
                {
                    "field": f"{PREFIX}{TOKEN_LABEL}",
                    "before": gettext("(hidden)") if had_one else gettext("(none)"),
                    "after": gettext("changed"),
                }
            ],
        )
    return mail, raw
