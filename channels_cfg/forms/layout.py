"""Crispy layout pieces of the Automation form: sections, groups of fields shown while they
apply, and the user/team pickers."""

from crispy_forms.layout import HTML, Div, Field, Fieldset
from django.utils.html import format_html
from django.utils.translation import gettext_lazy

OPTIONS = "channels_cfg/fields/options.html"
PICKER = "channels_cfg/fields/picker.html"
OWNER_NOTE = gettext_lazy("Contact owner routing respects “Assign only to available users” below.")
NOTHING_TO_DISTRIBUTE = gettext_lazy("Nothing to set here: the current choice above picks no user.")
SKILLS_NOT_USED = gettext_lazy(
    "Skills apply when tickets are routed to users; the current choice above routes to no user."
)
AFTER_HOURS_NOTE = gettext_lazy(
    "Calls outside the opening hours go to voicemail and wait in Unassigned."
)


def note(text: str, *, when_empty: bool = False) -> HTML:
    """A note between the fields; `when_empty`: shown only while the section shows nothing
    else (the script hides the groups that do not apply)."""
    css_class = "cs-note cs-when-empty" if when_empty else "cs-note"
    return HTML(format_html('<p class="{}">{}</p>', css_class, text))


def section(title: str, *fields, **attrs) -> Fieldset:
    return Fieldset(title, *fields, css_class="cs-section", **attrs)


def group(name: str, *fields, css_class: str = "", applies: str = "") -> Div:
    """Fields shown only while `name` is in effect (see `_rules_for`). `applies` says when,
    for the page without JavaScript, where every group shows."""
    caption = [HTML(f'<p class="cs-applies">{applies}</p>')] if applies else []
    return Div(*caption, *fields, css_class=f"cs-group {css_class}".strip(), data_cs_group=name)


def pickers(users: str, teams: str) -> Div:
    return Div(
        Div(Field(users, template=PICKER), css_class="col-md-6"),
        Div(Field(teams, template=PICKER), css_class="col-md-6"),
        css_class="row g-3",
    )
