"""The grid of events × media, shared by the personal settings (R25) and the superadmin
defaults (R26). A row is the unit of choice: changing any toggle of a row makes the whole
row the user's own (or the account's), and the other rows keep following the defaults.

Each toggle also posts the value the page showed (`show_hidden_initial`), so a row counts
as changed only when this user toggled it — not because a default moved meanwhile.
"""

from dataclasses import dataclass

from django import forms
from django.utils.translation import gettext, gettext_lazy

from notifications.catalog import EVENT_HELP, Event, Medium, field_name
from notifications.services import PRECEDENCE, Cell, Effective, Source

# Where a value comes from, as the personal grid says it (R27).
SOURCE_LABELS = {
    Source.OWN: gettext_lazy("Your choice"),
    Source.USER_DEFAULT: gettext_lazy("Default set for you"),
    Source.TEAM_DEFAULT: gettext_lazy("Default for team %(team)s"),
    Source.ACCOUNT_DEFAULT: gettext_lazy("Default for everyone"),
    Source.BUILT_IN: gettext_lazy("Built-in default"),
}


def source_label(effective: Effective) -> str:
    label = str(SOURCE_LABELS[effective.source])
    return label % {"team": effective.team} if effective.source == Source.TEAM_DEFAULT else label


@dataclass
class GridCell:
    medium: str
    label: str
    field: forms.BoundField


@dataclass
class GridRow:
    event: str
    label: str
    help: str
    source: str
    source_label: str
    chosen: bool  # the choice of whoever edits this grid (else inherited)
    cells: list[GridCell]


class PreferenceGridForm(forms.Form):
    """`own_source`: the source of the rows whoever edits this grid has set (`OWN` for a
    user, the audience's source for a superadmin); `own_label` names those rows where the
    personal wording would not fit ("Default for Kari Nordmann")."""

    def __init__(
        self,
        *args,
        current: dict[Cell, Effective],
        own_source: str,
        own_label: str | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.current = current
        self.own_source = own_source
        self.own_label = own_label
        for event in Event.values:
            for medium in Medium.values:
                self.fields[field_name(event, medium)] = forms.BooleanField(
                    required=False,
                    initial=current[(event, medium)].enabled,
                    show_hidden_initial=True,
                    widget=forms.CheckboxInput(
                        attrs={"class": "form-check-input", "role": "switch", "data-medium": medium}
                    ),
                    label=f"{Event(event).label} — {Medium(medium).label}",
                )

    def rows(self) -> list[GridRow]:
        rows = []
        for event in Event.values:
            cells = [self.current[(event, m)] for m in Medium.values]
            # A row belongs to the strongest source among its cells (R27).
            strongest = min(cells, key=lambda c: PRECEDENCE.index(c.source))
            chosen = strongest.source == self.own_source
            rows.append(
                GridRow(
                    event=event,
                    label=Event(event).label,
                    help=EVENT_HELP[event],
                    source=strongest.source,
                    source_label=self.own_label
                    if chosen and self.own_label
                    else source_label(strongest),
                    chosen=chosen,
                    cells=[
                        GridCell(m, Medium(m).label, self[field_name(event, m)])
                        for m in Medium.values
                    ],
                )
            )
        return rows

    def changes(self) -> dict[Cell, bool]:
        """Every cell of the rows this user toggled, with the value posted."""
        changed = set(self.changed_data)
        events = [
            e for e in Event.values if any(field_name(e, m) in changed for m in Medium.values)
        ]
        return {(e, m): self.cleaned_data[field_name(e, m)] for e in events for m in Medium.values}


class AudienceForm(forms.Form):
    """The superadmin defaults page's audience picker (R26): everyone, a team or a user, in
    one select so only one can be picked. A GET form; the page works without JS."""

    audience = forms.ChoiceField(label=gettext_lazy("Defaults for"), required=False)

    def __init__(self, *args, teams, users, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["audience"].choices = [
            ("", gettext("Everyone")),
            (
                gettext("Teams (their main members)"),
                [(f"team:{t.pk}", t.name) for t in teams],
            ),
            (gettext("Users"), [(f"user:{u.pk}", str(u)) for u in users]),
        ]
        self.fields["audience"].widget.attrs.update({"class": "form-select form-select-sm"})


class QuietHoursForm(forms.Form):
    quiet_hours = forms.BooleanField(
        required=False,
        label=gettext_lazy("Quiet hours"),
        widget=forms.CheckboxInput(attrs={"class": "form-check-input", "role": "switch"}),
        help_text=(
            gettext_lazy(
                "Hold notification emails while I am unavailable (outside my working hours, set "
                "to away, or out of office) and send them in one digest when I am back. In-app "
                "notifications arrive as usual."
            )
        ),
    )
