"""The writers of web forms, and what the Details panel will show.

- `form_settings_for(channel)`: the channel's `FormSettings`, created when first needed.
- `save_form_settings(form_settings)`, `renew_public_id(form_settings)`: the admin's edits.
- `update_form_settings(channel=…, data=…, actor=…)`, `new_form_address(channel=…,
  actor=…)`: the same edits from the channel's Details tab (`webforms.settings_panel`),
  each in one transaction and recorded in the channel's change history.
- `public_url(form_settings)`, `embed_snippet(form_settings)`: the page's address and the
  `<iframe>` tag to paste into another site.
- `submit(form_settings=…, submission=…, client_ip=…, headers=…)`: raw first — the
  submission is stored as an `InboundEvent` (kind "form", source id = the page's
  submission id) and counted against the rate limits in one transaction, then processed
  by `process_form_task` after commit; the page does not wait for it.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils.html import escape

from channels_cfg.services import record_settings_change
from helpdesk.models import Channel, InboundEvent, User
from helpdesk.services.intake import insert_once, process_inbound, publish_on_commit, store_inbound
from webforms.inbound import handle_form
from webforms.models import INTAKE, FormSettings, form_kinds, new_public_id
from webforms.throttle import count_submission

SNIPPET_HEIGHT = 780  # px: the form with an attachment field and one line of intro


def form_settings_for(channel: Channel) -> FormSettings:
    """The settings of a form channel, created (with a new public id) on first use."""
    if channel.kind not in form_kinds():
        raise ValueError(f"{channel} is not a form channel")
    found = FormSettings.objects.filter(channel=channel).first()
    if found is not None:
        return found
    row = FormSettings(channel=channel)
    insert_once(row)  # a concurrent first use created it: take that one
    return FormSettings.objects.select_related("channel").get(channel=channel)


def save_form_settings(form_settings: FormSettings) -> FormSettings:
    form_settings.full_clean()
    form_settings.save()
    return form_settings


def renew_public_id(form_settings: FormSettings) -> str:
    """A new public id: the old address and every pasted snippet stop working (404)."""
    form_settings.public_id = new_public_id()
    form_settings.save(update_fields=["public_id", "updated_at"])
    return form_settings.public_id


# What the Details tab may change, with its name in the channel's change history (which,
# like every channel's history, is written in English: stored words, not the page's).
EDITABLE = {
    "title": "Title",
    "intro": "Intro",
    "thank_you": "Thank-you text",
    "allow_attachments": "Allow attachments",
    "embed_origins": "Sites that may embed it",
}
HISTORY_PREFIX = "Form · "
HISTORY_CHARS = 80


def _history_text(value) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    text = " ".join(str(value).split())
    if not text:
        return "(empty)"
    return text if len(text) <= HISTORY_CHARS else text[: HISTORY_CHARS - 1] + "…"


def _locked_form_settings(channel: Channel) -> FormSettings:
    form_settings_for(channel)
    locked = FormSettings.objects.select_for_update().get(channel=channel)
    locked.channel = channel
    return locked


def update_form_settings(*, channel: Channel, data: dict, actor: User | None) -> list[dict]:
    """Save the form's texts, attachment switch and embedding sites from the Details tab;
    returns the changes recorded ([]: none). `data` holds any of `EDITABLE` (missing keys
    keep their value; `embed_origins` is text, one origin per line). Raises
    `ValidationError` by field, having written nothing."""
    unknown = set(data) - set(EDITABLE)
    if unknown:
        raise TypeError(f"update_form_settings() cannot change {', '.join(sorted(unknown))}")
    with transaction.atomic():
        row = _locked_form_settings(channel)
        before = {name: getattr(row, name) for name in EDITABLE}
        for name, value in data.items():
            setattr(row, name, value.strip() if isinstance(value, str) else value)
        row.full_clean(exclude=["channel", "public_id"])  # normalises title and origins
        changes = [
            {
                "field": HISTORY_PREFIX + label,
                "before": _history_text(before[name]),
                "after": _history_text(getattr(row, name)),
            }
            for name, label in EDITABLE.items()
            if before[name] != getattr(row, name)
        ]
        if not changes:
            return []
        row.save(update_fields=[*EDITABLE, "updated_at"])
        record_settings_change(channel=channel, actor=actor, changes=changes)
    return changes


def new_form_address(*, channel: Channel, actor: User | None) -> FormSettings:
    """A new public id from the Details tab (`renew_public_id`), recorded in the history
    with both addresses: the old link and every pasted snippet stop working at once."""
    with transaction.atomic():
        row = _locked_form_settings(channel)
        old_url = public_url(row)
        renew_public_id(row)
        record_settings_change(
            channel=channel,
            actor=actor,
            changes=[
                {
                    "field": HISTORY_PREFIX + "Public address",
                    "before": old_url,
                    "after": public_url(row),
                }
            ],
        )
    return row


def open_form(public_id: str) -> FormSettings | None:
    """The settings behind a public id, with the channel (one query); None if unknown."""
    if not public_id.isalnum() or len(public_id) > 32:
        return None
    return FormSettings.objects.select_related("channel").filter(public_id=public_id).first()


def public_url(form_settings: FormSettings, *, base_url: str | None = None) -> str:
    base = (base_url or settings.SITE_URL).rstrip("/")
    return base + reverse("webforms:form", args=[form_settings.public_id])


def embed_snippet(form_settings: FormSettings, *, base_url: str | None = None) -> str:
    """The tag to paste into a page of another site (shown on the Details tab). A plain
    string, not marked safe: a page showing it as text escapes it, never renders it."""
    src = escape(public_url(form_settings, base_url=base_url))
    title = escape(form_settings.heading)
    return (
        f'<iframe src="{src}" title="{title}" width="100%" height="{SNIPPET_HEIGHT}" '
        'loading="lazy" style="border:0;max-width:40rem"></iframe>'
    )


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class Submission:
    """A validated form (forms.SubmissionForm.submission())."""

    submission_id: str
    name: str
    email: str
    subject: str
    message: str
    visitor_token: str | None  # only when the cookie matches the page's token
    honeypot: bool
    attachment: Attachment | None = None


@dataclass(frozen=True)
class Submitted:
    event: InboundEvent
    created: bool  # False: this submission id was stored before (double-click, resubmit)


def submit(
    *,
    form_settings: FormSettings,
    submission: Submission,
    client_ip: str | None,
    headers: dict | None = None,
) -> Submitted:
    """Store the submission, count it and publish its processing; raises
    `throttle.RateLimited` — and then nothing is stored. A filled spam trap is stored and
    settled IGNORED right away (nothing but the event remains; nothing is published)."""
    item = submission.attachment
    payload = {
        "name": submission.name,
        "email": submission.email,
        "subject": submission.subject,
        "message": submission.message,
        "visitor": submission.visitor_token or "",
        "honeypot": submission.honeypot,
        "attachment": (
            {
                "filename": item.filename,
                "content_type": item.content_type,
                "size": len(item.content),
            }
            if item
            else None
        ),
    }
    with transaction.atomic():
        event, created = store_inbound(
            channel=form_settings.channel,
            kind=INTAKE,
            source_id=submission.submission_id,
            raw=item.content if item else b"",
            payload=payload,
            headers=headers or {},
        )
        if created:
            count_submission(client_ip=client_ip, address=submission.email)
            if not submission.honeypot:
                publish_on_commit(event)
    if created and submission.honeypot:
        process_inbound(event.pk, handle_form)
    return Submitted(event=event, created=created)
