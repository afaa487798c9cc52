"""The helpdesk's forms: validation only. Every value a client sends is checked against an
allowlist here before a view uses it."""

import mimetypes
import re
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext, gettext_lazy

from helpdesk.models import Channel, Team, Ticket, TicketType, User
from helpdesk.owner_search import MAX_TEXT, owner_by_key, owners_named

PER_PAGE_CHOICES = (10, 25, 50, 100)
DEFAULT_PER_PAGE = 25
OPEN_STATUSES = [(v, label) for v, label in Ticket.Status.choices if v != Ticket.Status.CLOSED]


class QueueFilterForm(forms.Form):
    """The query string of a queue page. Invalid values are dropped one by one (a bad
    `priority` does not cancel a good `channel`), never an error page."""

    FILTERS = ("q", "channel", "type", "priority", "status")

    q = forms.CharField(required=False, max_length=200, strip=True)
    channel = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    type = forms.ChoiceField(
        required=False, choices=[("", gettext_lazy("Any type")), *TicketType.choices]
    )
    priority = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", gettext_lazy("Any priority")), *Ticket.Priority.choices],
    )
    status = forms.ChoiceField(
        required=False, choices=[("", gettext_lazy("Any status")), *OPEN_STATUSES]
    )
    sort = forms.CharField(required=False, max_length=20)
    per_page = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=DEFAULT_PER_PAGE,
        choices=[(n, n) for n in PER_PAGE_CHOICES],
    )

    def __init__(self, *args, channels: list[Channel], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [("", gettext("Any channel"))] + [
            (c.pk, c.name) for c in channels
        ]
        for name in ("channel", "type", "priority", "status"):
            self.fields[name].widget.attrs.update(
                {"class": "form-select form-select-sm hd-filter", "data-autosubmit": ""}
            )

    def values(self) -> dict:
        """The valid values; an invalid field counts as not given."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            name: data.get(name)
            for name in self.fields
            if name not in self.errors and data.get(name) not in (None, "")
        }


OWNER_KEY = r"^((user|team):\d{1,18})?$"


class OwnerSearchForm(forms.Form):
    """The picker's search (`?q=ada`): any text up to `MAX_TEXT` characters, or none."""

    q = forms.CharField(required=False, max_length=MAX_TEXT)


def chosen_owner(key: str, text: str, *, ticket: Ticket | None = None) -> User | Team:
    """The team or user an owner picker chose: by `key` (`user:5`, what the picker posts),
    else by the typed `text` (`owners_named`). Otherwise a ValidationError that says what to
    do, with `choices` (several or close matches) for a form that offers them."""
    if key:
        chosen = owner_by_key(key)
        if chosen is None:
            error = forms.ValidationError(gettext("Choose a team or a user from the list."))
            error.choices = []
            raise error
        return chosen
    named = owners_named(text, ticket=ticket)
    if named.owner is not None:
        return named.owner
    if named.several:
        message = gettext("Several match “%(text)s”: pick one.")
    elif named.choices:
        message = gettext("No one is called exactly “%(text)s”. Did you mean:")
    else:
        message = gettext(
            "No one matches “%(text)s”. Type a name, username or email of someone "
            "with ticket access, or #team."
        )
    error = forms.ValidationError(message % {"text": text})
    error.choices = named.choices
    raise error


class OwnerForm(forms.Form):
    """The Ticket owner control (R3, R5): a team or a user with ticket access, or nobody.
    A team means the team alone (owner cleared); a user keeps the ticket's team when they
    are a member of it.

    The page lists nobody: the agent types in `owner`, and either the picker (JavaScript)
    fills `assignee` with the key of the option chosen, or — a plain form — the server
    resolves the typed name (`owners_named`: exact username, email, full name, or team,
    `#Support` for teams only). Several or no matches are an error offering `choices`,
    each a button posting `pick`. `take` is "Assign to me", `unassign` clears the owner."""

    owner = forms.CharField(required=False, max_length=MAX_TEXT, label=gettext_lazy("Ticket owner"))
    assignee = forms.RegexField(OWNER_KEY, required=False, max_length=40)
    pick = forms.RegexField(OWNER_KEY, required=False, max_length=40)
    take = forms.BooleanField(required=False)
    unassign = forms.BooleanField(required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, ticket: Ticket, actor: User | None = None, **kwargs):
        self.ticket, self.actor = ticket, actor
        self.choices: list = []  # what to pick from when the typed name was not exact
        super().__init__(*args, **kwargs)

    def _chosen(self, data: dict) -> User | Team | None:
        if data.get("take") and self.actor is not None:
            return self.actor
        if data.get("unassign"):
            return None
        key = data.get("pick") or data.get("assignee")
        if not key and not data.get("owner"):
            raise forms.ValidationError(
                gettext("Type a name, a username or #team and pick from the list, or use Unassign.")
            )
        try:
            return chosen_owner(key, data.get("owner", ""), ticket=self.ticket)
        except forms.ValidationError as error:
            self.choices = error.choices  # offered as buttons
            raise

    def clean(self):
        data = super().clean()
        if {"assignee", "pick"} & set(self.errors):
            raise forms.ValidationError(gettext("Choose a team or a user from the list."))
        if "owner" in self.errors:  # too long, or a NUL character
            raise forms.ValidationError(list(self.errors["owner"]))
        chosen = self._chosen(data)
        if chosen is None:
            data["assignment"] = (None, None)
        elif isinstance(chosen, Team):
            data["assignment"] = (None, chosen)
        else:
            keep_team = self.ticket.team if self.ticket.team_id else None
            if keep_team is not None and not chosen.memberships.filter(team=keep_team).exists():
                keep_team = None
            data["assignment"] = (chosen, keep_team)
        return data

    def error_text(self) -> str:
        """The one sentence the control shows when the form is not valid."""
        return " ".join(self.non_field_errors()) or gettext(
            "Choose a team or a user from the list."
        )


@dataclass(frozen=True)
class UploadedAttachment:
    """A file an agent attached to a reply, as the services keep files (`AttachmentFile`).
    Its type comes from its name, never from the browser."""

    filename: str
    content: bytes
    content_type: str
    content_id: str | None = None
    inline: bool = False


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(MultipleFileField, self).clean(f, initial) for f in files]


class ReplyForm(forms.Form):
    """Send (an outbound reply, R4) or Add note (internal). Files go with a reply on a
    channel whose replies leave by email (`accepts_files`), within the mail limits."""

    SEND, NOTE = "send", "note"

    body = forms.CharField(
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={"required": gettext_lazy("Write a message first.")},
    )
    action = forms.ChoiceField(
        choices=[(SEND, gettext_lazy("Send")), (NOTE, gettext_lazy("Add note"))]
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    seen = forms.CharField(required=False, max_length=200)  # what the page showed
    files = MultipleFileField(required=False)

    def __init__(self, *args, accepts_files: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.accepts_files = accepts_files

    def clean(self):
        data = super().clean()
        files = data.get("files") or []
        data["attachments"] = []
        if not files:
            return data
        if not self.accepts_files:
            self.add_error("files", gettext("Files can be sent only on tickets answered by email."))
            return data
        if data.get("action") == self.NOTE:
            self.add_error("files", gettext("Files go with a reply, not with an internal note."))
            return data
        per_file, total = settings.MAIL_MAX_ATTACHMENT_BYTES, settings.MAIL_MAX_MESSAGE_BYTES
        for upload in files:
            if upload.size > per_file:
                self.add_error(
                    "files",
                    gettext(
                        "%(name)s is %(filesizeformat)s; a file may be at most %(filesizeformat2)s."
                    )
                    % {
                        "name": upload.name,
                        "filesizeformat": filesizeformat(upload.size),
                        "filesizeformat2": filesizeformat(per_file),
                    },
                )
        if sum(f.size for f in files) > total:
            self.add_error(
                "files",
                gettext("Together the files may be at most %(filesizeformat)s.")
                % {"filesizeformat": filesizeformat(total)},
            )
        if "files" in self.errors:
            return data
        data["attachments"] = [
            UploadedAttachment(
                filename=upload.name,
                content=upload.read(),
                content_type=mimetypes.guess_type(upload.name)[0] or "application/octet-stream",
            )
            for upload in files
        ]
        return data


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Ticket.Status.choices)
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class PriorityForm(forms.Form):
    priority = forms.TypedChoiceField(choices=Ticket.Priority.choices, coerce=int)
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class PropertiesForm(StatusForm, PriorityForm):
    """Status and priority together: the ticket page's Properties, saved in one step."""


# --- admin forms of the channel apps -------------------------------------------------------


class KeptSecretField(forms.CharField):
    """A password field that never renders the stored value; left blank, the form keeps the
    stored one (the form's `clean_<name>` returns `keep_blank_secret(self, name)`)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.PasswordInput(render_value=False))
        super().__init__(**kwargs)


def keep_blank_secret(form: forms.ModelForm, name: str) -> str:
    """The secret typed into `name`, or — left blank — the one the instance already has."""
    value = form.cleaned_data.get(name)
    return value or (getattr(form.instance, name) if form.instance.pk else "")


TICKET_AT_VERSION = re.compile(r"^(\d{1,18}):(\d{1,9})$")


class BulkForm(forms.Form):
    """A queue page's bulk bar: which tickets (each as `id:version`, the version the agent
    saw; `all_on_page` takes every row of the page) and one action with its value. The
    assignee is typed and picked as in the Ticket owner control (`owner`, and the picked
    option's key in `assignee`), so the page lists nobody whatever the number of agents."""

    ACTIONS = (
        ("assign", gettext_lazy("Assign")),
        ("unassign", gettext_lazy("Unassign")),
        ("status", gettext_lazy("Set status")),
        ("priority", gettext_lazy("Set priority")),
    )
    ACTIONS += (("close", gettext_lazy("Close")),)

    action = forms.ChoiceField(choices=ACTIONS)
    tickets = forms.MultipleChoiceField(required=False)
    page_tickets = forms.MultipleChoiceField(required=False)
    all_on_page = forms.BooleanField(required=False)
    owner = forms.CharField(required=False, max_length=MAX_TEXT)
    assignee = forms.RegexField(OWNER_KEY, required=False, max_length=40)
    status = forms.ChoiceField(
        required=False, choices=[("", gettext_lazy("Status…")), *OPEN_STATUSES]
    )
    priority = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", gettext_lazy("Priority…")), *Ticket.Priority.choices],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("tickets", "page_tickets"):
            self.fields[name].valid_value = lambda value: bool(TICKET_AT_VERSION.match(value))

    def clean(self):
        data = super().clean()
        chosen = data.get("page_tickets") if data.get("all_on_page") else data.get("tickets")
        picked = {}
        for value in chosen or []:
            pk, version = TICKET_AT_VERSION.match(value).groups()
            picked[int(pk)] = int(version)
        if not picked:
            raise forms.ValidationError(gettext("Select one or more tickets first."))
        data["picked"] = picked
        action = data.get("action")
        text, data["owner"], data["team"] = data.get("owner") or "", None, None
        if action == "assign":
            self._assignee(data, text)
        elif action == "unassign":
            data["action"] = "assign"  # to nobody
        elif action == "status" and not data.get("status"):
            self.add_error("status", gettext("Choose a status."))
        elif action == "priority" and data.get("priority") is None:
            self.add_error("priority", gettext("Choose a priority."))
        return data

    def _assignee(self, data: dict, text: str) -> None:
        """`owner` and `team`: whom the picked key or else the typed `text` names."""
        key = data.get("assignee")
        if "assignee" in self.errors or "owner" in self.errors:
            return  # a forged key, or text too long: already said
        if not key and not text:
            self.add_error(
                "owner",
                gettext(
                    "Type a name, a username or #team and pick from the list, or use Unassign."
                ),
            )
            return
        try:
            chosen = chosen_owner(key, text)
        except forms.ValidationError as error:
            self.add_error("owner", error)
            return
        data["owner" if isinstance(chosen, User) else "team"] = chosen
