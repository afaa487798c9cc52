"""Crispy layout pieces of the Automation form: sections, groups of fields shown while they
apply, and the user/team pickers."""

from crispy_forms.layout import HTML, Div, Field, Fieldset

OPTIONS = "channels_cfg/fields/options.html"
PICKER = "channels_cfg/fields/picker.html"
OWNER_NOTE = (
    '<p class="cs-note">Contact owner routing respects “Assign only to available users” below.</p>'
)
NOTHING_TO_DISTRIBUTE = (
    '<p class="cs-note cs-when-empty">Nothing to set here: the current choice above picks '
    "no user.</p>"
)
SKILLS_NOT_USED = (
    '<p class="cs-note cs-when-empty">Skills apply when tickets are routed to users; '
    "the current choice above routes to no user.</p>"
)
AFTER_HOURS_NOTE = (
    '<p class="cs-note">Calls outside the opening hours go to voicemail and wait in Unassigned.</p>'
)


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
