"""Extra sections of a channel's Details tab, contributed by other apps.

channels_cfg knows no other app; an app that keeps settings of its own for some channels
(mailroom: a team-email channel's mailbox) describes them as a `DetailsPanel` and registers
it from its `AppConfig.ready()`:

    register_details_panel(MailPanel())

`channels_cfg.views.channel_details` then shows every panel that applies to the channel
below the Details fieldset, each in its own `<form>` with a hidden `panel` field holding
the panel's key, and hands a POST carrying that key to the panel: **Save** validates the
panel's form and calls `save` (a service of the panel's app, which records its changes
with `channels_cfg.services.record_settings_change`); a button named `action` runs one of
the panel's `actions` ("test_imap", "new_token" …) and the page is shown again with the
values as typed and the action's `ActionResult` beside its button.

Which channels a panel applies to is decided by the channel kind's policy
(`channel.policy`), never by naming kinds.
"""

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext

from helpdesk.models import Channel, User


@dataclass(frozen=True)
class ActionResult:
    """What an action did, in plain words: `ok` True (it worked), False (it failed) or None
    (there was nothing to do). `reveal` is a value shown once beside the message (a new
    token), never stored by the page."""

    ok: bool | None
    message: str
    reveal: str = ""


class DetailsPanel:
    """One section of the Details tab. Subclasses set `key` (unique, the value of the
    hidden `panel` field), `title` and `description` (the section's heading and the line
    under it, shown by channels_cfg) and `template` (rendered inside the panel's `<form>`
    after the heading, with `panel` — a `ShownPanel` — and `channel` in its context; its
    submit buttons are Save, or `name="action" value="<action>"`), and implement the
    methods below. A panel for the channels of one way in sets `intake` (the kind policy's
    `intake`, e.g. "email") and need not write `applies_to`."""

    key: str = ""
    title: str = ""
    description: str = ""
    template: str = ""
    # action name → the label of its button (the names a POST's `action` may carry)
    actions: dict[str, str] = {}
    intake: str = ""

    def applies_to(self, channel: Channel) -> bool:
        if not self.intake:
            raise NotImplementedError("set `intake` or write `applies_to`")
        return channel.policy.intake == self.intake

    def form(self, channel: Channel, data=None) -> forms.Form:
        """The panel's form: unbound with the saved values, or bound to `data`."""
        raise NotImplementedError

    def save(self, *, channel: Channel, form: forms.Form, actor: User | None) -> list[dict]:
        """Save a valid form; returns the changes recorded in the channel's history ([]:
        nothing changed). Raises `ValidationError` (a dict keyed by the form's fields) to
        refuse, having written nothing."""
        raise NotImplementedError

    def run(
        self, action: str, *, channel: Channel, form: forms.Form, actor: User | None
    ) -> ActionResult:
        """Run one of `actions` with the values of the bound `form` (valid or not)."""
        raise NotImplementedError

    def context(self, *, channel: Channel, form: forms.Form) -> dict[str, Any]:
        """Anything else the template shows (read-only values)."""
        return {}

    def saved_message(self, changes: list[dict]) -> str:
        if changes:
            return gettext("%(title)s: saved.") % {"title": self.title}
        return gettext("%(title)s: nothing changed.") % {"title": self.title}


@dataclass
class ShownPanel:
    """A panel as one page shows it: its form (bound after a POST to it), the result of
    the action just run, and its template's extra values."""

    panel: DetailsPanel
    form: forms.Form
    results: dict[str, ActionResult] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.panel.key

    @property
    def title(self) -> str:
        return self.panel.title

    @property
    def description(self) -> str:
        return self.panel.description

    @property
    def template(self) -> str:
        return self.panel.template


_PANELS: dict[str, DetailsPanel] = {}


def register_details_panel(panel: DetailsPanel) -> None:
    """Add a panel to the Details tab (from an `AppConfig.ready()`). Registering a panel of
    the same class again replaces it; another panel with a key already taken is refused."""
    if not panel.key or not panel.template:
        raise ImproperlyConfigured(f"{type(panel).__name__} needs a key and a template.")
    if not all(name.isidentifier() for name in panel.actions):
        raise ImproperlyConfigured(f"{type(panel).__name__}: action names are identifiers.")
    known = _PANELS.get(panel.key)
    if known is not None and type(known) is not type(panel):
        raise ImproperlyConfigured(
            f"The Details panel key {panel.key!r} is taken by {type(known).__name__}."
        )
    _PANELS[panel.key] = panel


def details_panels_for(channel: Channel) -> list[DetailsPanel]:
    """The registered panels that apply to this channel, in the order registered."""
    return [panel for panel in _PANELS.values() if panel.applies_to(channel)]


def details_panel(channel: Channel, key: str) -> DetailsPanel | None:
    """The panel with this key if it applies to this channel, else None."""
    panel = _PANELS.get(key)
    return panel if panel is not None and panel.applies_to(channel) else None
