"""The only code that changes channels and their automation from the settings pages.

Every verb owns its transaction and writes one `ChannelSettingsChange` saying who changed
what, before → after, in plain words (R6). `save_automation` locks the automation row and
compares the version the admin's form showed: when another admin saved meanwhile it raises
`AutomationChanged` and writes nothing (R20). The routing engine reads the saved automation
when each ticket is routed, so a save applies to the tickets that arrive after it.
"""

from collections.abc import Iterator, Mapping

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext, gettext_lazy

from channels_cfg.models import (
    AUDIO_VALIDATORS,
    AUTOMATION_SETTINGS,
    FILE,
    ROWS,
    SCALAR,
    SELECTION,
    SETTINGS_BY_NAME,
    ChannelAutomation,
    ChannelSettingsChange,
    OpeningHours,
    SkillRule,
    setting_names,
)
from helpdesk.channel_kinds import KindPolicy, policy_for
from helpdesk.models import Channel, User
from helpdesk.models.availability import Weekday

Section = ChannelSettingsChange.Section


class AutomationChanged(Exception):
    """Another admin saved this channel's automation since the form was shown."""

    def __init__(self, automation: ChannelAutomation):
        self.automation = automation
        super().__init__(
            f"The automation of {automation.channel} changed meanwhile "
            f"(now version {automation.version})."
        )


# ---------------------------------------------------------------------------------------
# Plain-words values for the audit log
# ---------------------------------------------------------------------------------------

DETAIL_LABELS = {
    "name": gettext_lazy("Name"),
    "address": gettext_lazy("Address"),
    "is_active": gettext_lazy("Active"),
    "kind": gettext_lazy("Kind"),
}
LABELS = {s.name: s.label for s in AUTOMATION_SETTINGS} | DETAIL_LABELS
CHOICES = {s.name: s.choices for s in AUTOMATION_SETTINGS if s.choices}
SCALAR_FIELDS = setting_names(SCALAR)
LIST_FIELDS = setting_names(SELECTION, ROWS)
FILE_FIELDS = setting_names(FILE)
ORDER = tuple(SETTINGS_BY_NAME)  # the audit log lists changes in page order


def _labels_for(policy: KindPolicy) -> dict[str, str]:
    """Calling derives its assign-to mode from its switch, and names it after it."""
    return {"assign_mode": policy.assignment.label} if policy.calling_hours else {}


def _scalar_text(name: str, value) -> str:
    if isinstance(value, bool):
        return gettext("On") if value else gettext("Off")
    if name in CHOICES:
        return CHOICES[name](value).label
    if value in (None, ""):
        return gettext("(empty)")
    text = str(value)
    if len(text) > 120:
        text = text[:119] + "…"
    return f"“{text}”" if name == "after_hours_message" else text


def hours_text(row: dict) -> str:
    return f"{Weekday(row['weekday']).label[:3]} {row['start']:%H:%M}–{row['end']:%H:%M}"


def rule_text(row: dict) -> str:
    condition = SkillRule.Condition(row["condition"]).label
    return f"{condition} “{row['value']}” → {row['skill']}"


def _items(name: str, value) -> list[str]:
    """A list setting as the texts the log compares (sorted where order means nothing)."""
    if name == "opening_hours":
        rows = sorted(value, key=lambda r: (r["weekday"], r["start"], r["end"]))
        return [hours_text(r) for r in rows]
    if name == "skill_rules":
        return [rule_text(r) for r in value]
    return sorted(str(o) for o in value)


def _file_text(value) -> str:
    return value.name.rsplit("/", 1)[-1] if value else gettext("(none)")


def _diff(before: dict, after: dict, labels: dict) -> list[dict]:
    changes = []
    for name in ORDER:
        if name not in after or name not in before:
            continue
        label = labels.get(name, LABELS[name])
        if name in LIST_FIELDS:
            old, new = _items(name, before[name]), _items(name, after[name])
            if old != new:
                changes.append(
                    {
                        "field": label,
                        "before": ", ".join(old) or gettext("(none)"),
                        "after": ", ".join(new) or gettext("(none)"),
                        "added": [x for x in new if x not in old],
                        "removed": [x for x in old if x not in new],
                    }
                )
        elif name in FILE_FIELDS:
            if after[name] is not None:  # None: the file is kept
                old = _file_text(before[name])
                new = _file_text(after[name]) if after[name] is not False else gettext("(none)")
                if old != new or isinstance(after[name], UploadedFile):
                    changes.append({"field": label, "before": old, "after": new})
        elif before[name] != after[name]:
            changes.append(
                {
                    "field": label,
                    "before": _scalar_text(name, before[name]),
                    "after": _scalar_text(name, after[name]),
                }
            )
    return changes


def _record(*, channel, section, actor, changes, version=None) -> ChannelSettingsChange:
    return ChannelSettingsChange.objects.create(
        channel=channel,
        section=section,
        actor=actor,
        actor_name=str(actor) if actor else "",
        version=version,
        # Labels may be lazy translations: the history keeps the words of the moment, as text.
        changes=[{key: _plain(value) for key, value in change.items()} for change in changes],
    )


def _plain(value):
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def record_settings_change(
    *,
    channel: Channel,
    actor: User | None,
    changes: list[dict],
    section: str = Section.DETAILS,
) -> ChannelSettingsChange | None:
    """Add a save of another app's settings to the channel's change history (a Details
    tab panel, `channels_cfg.panels`), inside the caller's transaction. `changes` are
    {"field", "before", "after"} texts in plain words — a secret as "changed", never its
    value; optional "added"/"removed" lists. Nothing is written when there is no change."""
    if not changes:
        return None
    for change in changes:
        if not {"field", "before", "after"} <= change.keys():
            raise ValueError(f"A change needs a field, before and after: {change!r}")
    return _record(channel=channel, section=section, actor=actor, changes=changes)


# ---------------------------------------------------------------------------------------
# Channels
# ---------------------------------------------------------------------------------------

DETAIL_FIELDS = ("name", "address", "is_active")


def _detail_text(value) -> str:
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    return str(value) or gettext("(empty)")


def create_channel(
    *, kind: str, name: str, actor: User | None, address: str = "", is_active: bool = True
) -> Channel:
    """Connect a channel with its automation at the defaults (None: tickets wait in
    Unassigned until an admin sets the Automation tab)."""
    with transaction.atomic():
        channel = Channel(
            kind=kind, name=name.strip(), address=address.strip(), is_active=is_active
        )
        channel.full_clean()
        channel.save()
        automation = ChannelAutomation.default_for(channel)
        automation.updated_by = actor
        automation.save()
        _record(
            channel=channel,
            section=Section.CREATED,
            actor=actor,
            version=automation.version,
            changes=[
                {"field": LABELS["kind"], "before": "", "after": channel.get_kind_display()},
                {"field": LABELS["name"], "before": "", "after": channel.name},
                *(
                    [{"field": LABELS["address"], "before": "", "after": channel.address}]
                    if channel.address
                    else []
                ),
                {"field": LABELS["is_active"], "before": "", "after": _detail_text(is_active)},
            ],
        )
    return channel


def update_channel(*, channel: Channel, actor: User | None, **values) -> list[dict]:
    """Change a channel's name, address or active state; returns the changes recorded."""
    unknown = set(values) - set(DETAIL_FIELDS)
    if unknown:
        raise TypeError(f"update_channel() cannot change {', '.join(sorted(unknown))}")
    with transaction.atomic():
        locked = Channel.objects.select_for_update().get(pk=channel.pk)
        changes = []
        for name, value in values.items():
            value = value.strip() if isinstance(value, str) else value
            old = getattr(locked, name)
            if old != value:
                before, after = _detail_text(old), _detail_text(value)
                changes.append({"field": LABELS[name], "before": before, "after": after})
                setattr(locked, name, value)
        if not changes:
            return []
        locked.full_clean()
        locked.save(update_fields=[n for n in DETAIL_FIELDS if n in values])
        _record(channel=locked, section=Section.DETAILS, actor=actor, changes=changes)
    for name in DETAIL_FIELDS:
        setattr(channel, name, getattr(locked, name))
    return changes


def set_channel_active(*, channel: Channel, active: bool, actor: User | None) -> bool:
    """Deactivate (no new tickets arrive; existing ones stay) or reactivate a channel.
    Returns whether anything changed."""
    return bool(update_channel(channel=channel, actor=actor, is_active=active))


# ---------------------------------------------------------------------------------------
# Automation
# ---------------------------------------------------------------------------------------


class SavedSettings(Mapping):
    """The settings of an automation as saved — the very dict the Automation form's
    `automation_data()` gives for settings being edited — each read when first asked for,
    so a reader that needs three of them costs the queries of those three.

    Not saved yet: the defaults (no users, teams or rows). `pks_only`: chosen users and
    teams without their other columns (enough for the routing config).
    """

    def __init__(self, automation: ChannelAutomation, *, pks_only: bool = False):
        self.automation, self.pks_only = automation, pks_only
        self._values: dict = {}

    def __getitem__(self, name: str):
        if name not in SETTINGS_BY_NAME:
            raise KeyError(name)
        if name not in self._values:
            self._values[name] = self._read(SETTINGS_BY_NAME[name])
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(ORDER)

    def __len__(self) -> int:
        return len(ORDER)

    def _read(self, setting):
        automation = self.automation
        if setting.store in (SCALAR, FILE):
            return getattr(automation, setting.name)
        if automation.pk is None:
            return []
        if setting.store == SELECTION:
            chosen = getattr(automation, setting.name).all()
            return list(chosen.only("pk") if self.pks_only else chosen)
        if setting.name == "opening_hours":
            return [
                {"weekday": h.weekday, "start": h.start, "end": h.end}
                for h in automation.opening_hours.all()
            ]
        return [
            {"condition": r.condition, "value": r.value, "skill": r.skill}
            for r in automation.skill_rules.select_related("skill")
        ]


def automation_state(automation: ChannelAutomation) -> dict:
    """Every setting the Automation form edits, as saved (a read: the form shows it and
    `save_automation` compares against it)."""
    return dict(SavedSettings(automation))


def save_automation(
    *,
    automation: ChannelAutomation,
    data: dict,
    actor: User | None,
    expected_version: int | None,
) -> ChannelAutomation:
    """Save the Automation tab in one transaction: fields, users and teams, opening hours,
    skill rules, files, and the audit entry — all or nothing.

    `data` holds any of the settings (missing keys keep their value; for a file, None keeps
    it and False removes it). `expected_version` is the version the admin's form showed:
    if another admin saved since, `AutomationChanged` is raised and nothing is written.
    Returns the saved automation; its version is unchanged when `data` changed nothing.
    Raises `ValidationError` when a chosen user or team cannot be routed to (R7, R8, R14).
    """
    channel = automation.channel
    with transaction.atomic():
        ChannelAutomation.objects.get_or_create(
            channel=channel, defaults={"assign_mode": policy_for(channel.kind).default_mode}
        )
        locked = ChannelAutomation.objects.select_for_update().get(channel=channel)
        locked.channel = channel
        if expected_version is not None and locked.version != expected_version:
            raise AutomationChanged(locked)
        before = automation_state(locked)
        after = {**before, **{k: v for k, v in data.items() if k in before}}
        labels = _labels_for(policy_for(channel.kind))
        changes = _diff(before, after, labels)
        if not changes:
            return locked

        for name in SCALAR_FIELDS:
            setattr(locked, name, after[name])
        locked.pending_selection = {f: after[f] for f in ChannelAutomation.SELECTION_FIELDS}
        locked.full_clean(exclude=["channel", "updated_by", *FILE_FIELDS])
        old_files = []
        for name in FILE_FIELDS:
            value = after[name]
            if value is False:
                old_files.append(getattr(locked, name).name)
                setattr(locked, name, "")
            elif isinstance(value, UploadedFile):
                for validator in AUDIO_VALIDATORS:
                    try:
                        validator(value)
                    except ValidationError as exc:
                        raise ValidationError({name: exc.messages}) from exc
                old_files.append(getattr(locked, name).name)
                getattr(locked, name).save(value.name, value, save=False)
        locked.version += 1
        locked.updated_by = actor
        locked.save()
        for name in ChannelAutomation.SELECTION_FIELDS:
            getattr(locked, name).set(after[name])
        if after["opening_hours"] != before["opening_hours"]:
            locked.opening_hours.all().delete()
            OpeningHours.objects.bulk_create(
                [OpeningHours(automation=locked, **row) for row in after["opening_hours"]]
            )
        if after["skill_rules"] != before["skill_rules"]:
            locked.skill_rules.all().delete()
            SkillRule.objects.bulk_create(
                [SkillRule(automation=locked, **row) for row in after["skill_rules"]]
            )
        _record(
            channel=channel,
            section=Section.AUTOMATION,
            actor=actor,
            version=locked.version,
            changes=changes,
        )
        storage = locked.unanswered_call_audio.storage
        for name in filter(None, old_files):
            transaction.on_commit(lambda name=name: storage.delete(name))
    return locked
