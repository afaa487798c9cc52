"""The grid of events × media, shared by the personal settings (R25) and the superadmin
defaults (R26). A row is the unit of choice: changing any toggle of a row makes the whole
row the user's own (or the account's), and the other rows keep following the defaults.

Each toggle also posts the value the page showed (`show_hidden_initial`), so a row counts
as changed only when this user toggled it — not because a default moved meanwhile.
"""

from dataclasses import dataclass

from django import forms

from notifications.catalog import EVENT_HELP, Event, Medium, field_name
from notifications.services import Cell, Effective, Source

PRECEDENCE = [Source.OWN, Source.DEFAULT, Source.BUILT_IN]
SOURCE_LABELS = {
    Source.OWN: "Your choice",
    Source.DEFAULT: "Account default",
    Source.BUILT_IN: "Built-in default",
}


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
    chosen: bool  # the choice of whoever edits this grid (else inherited)
    cells: list[GridCell]

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS[self.source]


class PreferenceGridForm(forms.Form):
    def __init__(self, *args, current: dict[Cell, Effective], own_source: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.current = current
        self.own_source = own_source
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
            sources = {self.current[(event, m)].source for m in Medium.values}
            # A row belongs to the strongest source among its cells (R27).
            source = next(s for s in PRECEDENCE if s in sources)
            rows.append(
                GridRow(
                    event=event,
                    label=Event(event).label,
                    help=EVENT_HELP[event],
                    source=source,
                    chosen=source == self.own_source,
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


class QuietHoursForm(forms.Form):
    quiet_hours = forms.BooleanField(
        required=False,
        label="Quiet hours",
        widget=forms.CheckboxInput(attrs={"class": "form-check-input", "role": "switch"}),
        help_text=(
            "Hold notification emails while I am unavailable (outside my working hours, set "
            "to away, or out of office) and send them in one digest when I am back. In-app "
            "notifications arrive as usual."
        ),
    )
