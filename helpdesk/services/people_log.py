"""The audit log and the edit conflicts of the People settings pages (users, teams, seats,
skills).

A page shows a *state*: a small dict of what the admin is about to edit, where a list holds
`[id, name]` pairs (`user_state`, `team_state`, `skill_state`). The form sends that state back;
the service locks the row, reads the state again and, when it differs (by value, and by id
for lists, so a rename elsewhere is not a conflict), raises `PeopleChanged` saying what
changed and writes nothing. Every change is one `PeopleChange` row: before → after in plain
words, like the channel settings' change history.
"""

from django.utils.translation import gettext

from helpdesk.models import PeopleChange, User

Subject = PeopleChange.Subject


class PeopleChanged(Exception):
    """Someone changed this user, team or skill since the admin's page was shown."""

    def __init__(self, *, label: str, changes: list[dict]):
        self.label = label
        self.changes = changes
        words = "; ".join(f"{c['field']}: {c['before']} → {c['after']}" for c in changes)
        super().__init__(
            gettext("%(label)s changed meanwhile (%(value)s).")
            % {"label": label, "value": words or gettext("details")}
        )


def _key(value):
    """What a state value is compared by: ids for `[id, name]` lists."""
    if isinstance(value, list):
        return sorted(item[0] if isinstance(item, list | tuple) else item for item in value)
    return value


def same_state(shown: dict, current: dict) -> bool:
    return all(_key(shown.get(name)) == _key(value) for name, value in current.items())


def _text(value) -> str:
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if value in (None, ""):
        return gettext("(empty)")
    return str(value)


def _names(value) -> list[str]:
    return sorted(str(item[1] if isinstance(item, list | tuple) else item) for item in value)


def diff_states(before: dict, after: dict, labels: dict[str, str]) -> list[dict]:
    """Before → after in plain words, for every field of `labels` that changed (in its
    order); lists also say what was added and removed."""
    changes = []
    for name, label in labels.items():
        if name not in before or name not in after:
            continue
        old, new = before[name], after[name]
        if _key(old) == _key(new):
            continue
        if isinstance(new, list):
            old_names, new_names = _names(old or []), _names(new)
            changes.append(
                {
                    "field": str(label),
                    "before": ", ".join(old_names) or gettext("(none)"),
                    "after": ", ".join(new_names) or gettext("(none)"),
                    "added": [x for x in new_names if x not in old_names],
                    "removed": [x for x in old_names if x not in new_names],
                }
            )
        else:
            changes.append({"field": str(label), "before": _text(old), "after": _text(new)})
    return changes


def check_unchanged(*, shown: dict | None, current: dict, label: str, labels: dict) -> None:
    """Raise `PeopleChanged` when the state the admin saw is not the current one (`shown`
    None: no check, e.g. a script)."""
    if shown is not None and not same_state(shown, current):
        raise PeopleChanged(label=label, changes=diff_states(shown, current, labels))


def record_people_change(
    *,
    kind: str,
    subject_id: int,
    label: str,
    actor: User | None,
    changes: list[dict],
    summary: str = "",
) -> PeopleChange | None:
    """One audit row, inside the caller's transaction; nothing when nothing changed."""
    if not changes:
        return None
    return PeopleChange.objects.create(
        subject_kind=kind,
        subject_id=subject_id,
        subject_label=label[:200],
        summary=str(summary)[:200],
        actor=actor,
        actor_name=str(actor) if actor else "",
        # Labels may be lazy translations: the log keeps words of the moment, as text.
        changes=[
            {key: value if isinstance(value, list) else str(value) for key, value in change.items()}
            for change in changes
        ],
    )
