"""The writers of the channel settings (R6, R14–R20): one transaction per save, an audit
entry per change (before → after, M2M included), optimistic concurrency on `version`, and
settings that apply to the tickets arriving after the save."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from channels_cfg import services
from channels_cfg.models import (
    AssignMode,
    ChannelAutomation,
    ChannelSettingsChange,
    Distribution,
    SkillRule,
)
from channels_cfg.services import (
    AutomationChanged,
    create_channel,
    save_automation,
    set_channel_active,
    update_channel,
)
from helpdesk.models import Channel, Ticket
from helpdesk.services import create_ticket
from tests.channels_cfg.test_forms import MP3, WAV
from tests.factories import (
    AgentFactory,
    ChannelAutomationFactory,
    ChannelFactory,
    OpeningHoursFactory,
    SkillFactory,
    TeamFactory,
    TeamMembershipFactory,
)
from tests.support.services import wait_until

pytestmark = pytest.mark.django_db
Section = ChannelSettingsChange.Section


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def automation_of(kind=Channel.Kind.TEAM_EMAIL, **fields) -> ChannelAutomation:
    return ChannelAutomationFactory(channel=ChannelFactory(kind=kind), **fields)


def changes_of(channel) -> list[dict]:
    entry = channel.settings_changes.get()
    return entry.changes


# ---------------------------------------------------------------------------------------
# save_automation
# ---------------------------------------------------------------------------------------


def test_r20_save_writes_fields_selection_rules_and_bumps_the_version(admin_user, agent):
    automation = automation_of()
    team = TeamFactory(name="Support")
    skill = SkillFactory(name="Norwegian")
    saved = save_automation(
        automation=automation,
        data={
            "assign_mode": AssignMode.SPECIFIC,
            "users": [agent],
            "teams": [team],
            "distribution": Distribution.ROUND_ROBIN,
            "skill_routing": True,
            "skill_rules": [{"condition": "language_is", "value": "no", "skill": skill}],
        },
        actor=admin_user,
        expected_version=1,
    )
    saved.refresh_from_db()
    assert saved.version == 2
    assert saved.updated_by == admin_user
    assert saved.assign_mode == AssignMode.SPECIFIC
    assert list(saved.users.all()) == [agent]
    assert list(saved.teams.all()) == [team]
    assert saved.distribution == Distribution.ROUND_ROBIN
    assert [(r.condition, r.value, r.skill) for r in saved.skill_rules.all()] == [
        ("language_is", "no", skill)
    ]


def test_r6_every_save_is_audited_before_after_in_plain_words(admin_user, agent, other_agent):
    automation = automation_of(assign_mode=AssignMode.SPECIFIC, users=[agent])
    save_automation(
        automation=automation,
        data={
            "assign_mode": AssignMode.SPECIFIC,
            "users": [other_agent],
            "available_only": False,
            "distribution": Distribution.RANDOM,
        },
        actor=admin_user,
        expected_version=1,
    )
    entry = automation.channel.settings_changes.get()
    assert (entry.section, entry.actor, entry.actor_name, entry.version) == (
        Section.AUTOMATION,
        admin_user,
        "Anna Admin",
        2,
    )
    assert entry.changes == [
        {
            "field": "Users",
            "before": "Ada Agent",
            "after": "Otto Other",
            "added": ["Otto Other"],
            "removed": ["Ada Agent"],
        },
        {"field": "Distribution", "before": "Load balanced", "after": "Random"},
        {"field": "Assign only to available users", "before": "On", "after": "Off"},
    ]


def test_r6_audit_of_modes_teams_hours_and_messages(admin_user, agent):
    team = TeamFactory(name="Phones")
    TeamMembershipFactory(team=team, user=agent)
    automation = automation_of(Channel.Kind.CALLING)
    OpeningHoursFactory(automation=automation, weekday=0, start=dt.time(8), end=dt.time(16))
    save_automation(
        automation=automation,
        data={
            "assign_mode": AssignMode.SPECIFIC,
            "teams": [team],
            "opening_hours": [
                {"weekday": 0, "start": dt.time(8), "end": dt.time(16)},
                {"weekday": 1, "start": dt.time(9), "end": dt.time(17)},
            ],
            "after_hours_message": "We are closed.",
        },
        actor=admin_user,
        expected_version=1,
    )
    changes = {c["field"]: c for c in changes_of(automation.channel)}
    assert changes["Routing during business hours"]["before"] == "None"
    assert changes["Routing during business hours"]["after"] == "Specific users and teams"
    assert changes["Teams"]["added"] == ["Phones"]
    assert changes["Opening hours"]["added"] == ["Tue 09:00–17:00"]
    assert changes["Opening hours"]["removed"] == []
    assert changes["Voicemail message"] == {
        "field": "Voicemail message",
        "before": "(empty)",
        "after": "“We are closed.”",
    }


def test_r6_a_save_that_changes_nothing_writes_nothing(admin_user):
    automation = automation_of(assign_mode=AssignMode.NONE)
    saved = save_automation(
        automation=automation,
        data={"assign_mode": AssignMode.NONE, "users": [], "skill_rules": []},
        actor=admin_user,
        expected_version=1,
    )
    assert saved.version == 1
    assert not ChannelSettingsChange.objects.exists()


def test_r20_a_stale_version_is_refused_and_nothing_is_overwritten(admin_user, superadmin, agent):
    automation = automation_of()
    save_automation(
        automation=automation,
        data={"assign_mode": AssignMode.CONTACT_OWNER},
        actor=superadmin,
        expected_version=1,
    )
    with pytest.raises(AutomationChanged) as exc:
        save_automation(
            automation=automation,
            data={"assign_mode": AssignMode.SPECIFIC, "users": [agent]},
            actor=admin_user,
            expected_version=1,
        )
    assert exc.value.automation.version == 2
    automation.refresh_from_db()
    assert automation.assign_mode == AssignMode.CONTACT_OWNER
    assert not automation.users.exists()
    assert automation.channel.settings_changes.count() == 1


def test_r7_a_refused_user_saves_nothing_at_all(admin_user, agent):
    """All or nothing: the rules and the mode are not half-saved when the selection fails."""
    automation = automation_of()
    skill = SkillFactory()
    unseated = AgentFactory(seat=False)
    with pytest.raises(ValidationError) as exc:
        save_automation(
            automation=automation,
            data={
                "assign_mode": AssignMode.SPECIFIC,
                "users": [agent, unseated],
                "skill_routing": True,
                "skill_rules": [{"condition": "language_is", "value": "no", "skill": skill}],
            },
            actor=admin_user,
            expected_version=1,
        )
    assert "users" in exc.value.message_dict
    automation.refresh_from_db()
    assert (automation.assign_mode, automation.version) == (AssignMode.NONE, 1)
    assert not automation.users.exists()
    assert not SkillRule.objects.exists()
    assert not ChannelSettingsChange.objects.exists()


def test_r14_team_only_team_without_a_seated_member_is_refused(admin_user):
    automation = automation_of()
    with pytest.raises(ValidationError) as exc:
        save_automation(
            automation=automation,
            data={"assign_mode": AssignMode.TEAM_ONLY, "teams": [TeamFactory()]},
            actor=admin_user,
            expected_version=1,
        )
    assert "teams" in exc.value.message_dict


def test_r14_a_mode_the_kind_does_not_offer_is_refused(admin_user):
    automation = automation_of(Channel.Kind.FORM)
    with pytest.raises(ValidationError) as exc:
        save_automation(
            automation=automation,
            data={"assign_mode": AssignMode.CUSTOMER_AGENT},
            actor=admin_user,
            expected_version=1,
        )
    assert "assign_mode" in exc.value.message_dict


def test_a_failure_late_in_the_save_rolls_everything_back(admin_user, agent, monkeypatch):
    automation = automation_of()

    def broken_record(**kwargs):
        raise RuntimeError("audit storage is down")

    monkeypatch.setattr(services, "_record", broken_record)
    with pytest.raises(RuntimeError):
        save_automation(
            automation=automation,
            data={"assign_mode": AssignMode.SPECIFIC, "users": [agent]},
            actor=admin_user,
            expected_version=1,
        )
    automation.refresh_from_db()
    assert (automation.assign_mode, automation.version) == (AssignMode.NONE, 1)
    assert not automation.users.exists()


def test_the_first_save_creates_the_automation(admin_user, agent):
    channel = ChannelFactory()
    saved = save_automation(
        automation=ChannelAutomation(channel=channel),
        data={"assign_mode": AssignMode.SPECIFIC, "users": [agent]},
        actor=admin_user,
        expected_version=1,
    )
    assert ChannelAutomation.objects.get(channel=channel) == saved
    assert saved.version == 2


def test_r19_audio_files_are_stored_replaced_and_removed(admin_user, media):
    automation = automation_of(Channel.Kind.CALLING)
    upload = SimpleUploadedFile("sorry.wav", WAV, "audio/wav")
    saved = save_automation(
        automation=automation,
        data={"unanswered_call_audio": upload},
        actor=admin_user,
        expected_version=1,
    )
    first = saved.unanswered_call_audio.name
    assert first.startswith("calling/unanswered/sorry")
    assert (media / first).read_bytes() == WAV
    audit = changes_of(automation.channel)
    assert audit == [
        {
            "field": "Audio message for unanswered calls",
            "before": "(none)",
            "after": "sorry.wav",
        }
    ]

    saved = save_automation(
        automation=saved,
        data={"unanswered_call_audio": False},
        actor=admin_user,
        expected_version=2,
    )
    assert not saved.unanswered_call_audio
    assert saved.version == 3


def test_r19_the_service_checks_the_audio_file_too(admin_user, media, monkeypatch):
    automation = automation_of(Channel.Kind.CALLING)
    with pytest.raises(ValidationError) as exc:
        save_automation(
            automation=automation,
            data={"voicemail_greeting": SimpleUploadedFile("x.exe", MP3, "audio/mpeg")},
            actor=admin_user,
            expected_version=1,
        )
    assert "voicemail_greeting" in exc.value.message_dict


# ---------------------------------------------------------------------------------------
# R20: the engine reads what was saved, for tickets that arrive afterwards
# ---------------------------------------------------------------------------------------


def test_r20_tickets_arriving_after_save_follow_the_new_settings(
    admin_user, agent, published_tasks
):
    team = TeamFactory(name="Support")
    TeamMembershipFactory(team=team, user=agent)
    automation = automation_of(Channel.Kind.FORM)
    with published_tasks.after_commit() as ran:  # committed, and routed by a worker
        before, _ = create_ticket(subject="Before", body="x", channel=automation.channel)
    assert ran[0] == "routing.tasks.route_ticket_task"
    save_automation(
        automation=automation,
        data={"assign_mode": AssignMode.TEAM_ONLY, "teams": [team]},
        actor=admin_user,
        expected_version=1,
    )
    with published_tasks.after_commit() as ran:
        after, _ = create_ticket(subject="After", body="x", channel=automation.channel)
    assert ran[0] == "routing.tasks.route_ticket_task"
    before.refresh_from_db()
    after.refresh_from_db()
    assert before.team is None  # routed with the old settings: None
    assert (after.team, after.owner) == (team, None)
    assert after.routing_state == Ticket.RoutingState.DONE


# ---------------------------------------------------------------------------------------
# Channels
# ---------------------------------------------------------------------------------------


def test_connecting_a_channel_creates_its_automation_and_an_audit_entry(admin_user):
    channel = create_channel(
        kind=Channel.Kind.WHATSAPP, name=" WhatsApp ", address="+47 1", actor=admin_user
    )
    assert channel.name == "WhatsApp"
    assert channel.automation.assign_mode == AssignMode.NONE
    entry = channel.settings_changes.get()
    assert entry.section == Section.CREATED
    assert {"field": "Kind", "before": "", "after": "WhatsApp"} in entry.changes


def test_editing_details_is_audited(admin_user):
    channel = ChannelFactory(name="Old", address="old@x.example")
    changes = update_channel(
        channel=channel, actor=admin_user, name="New", address="old@x.example", is_active=True
    )
    assert changes == [{"field": "Name", "before": "Old", "after": "New"}]
    channel.refresh_from_db()
    assert channel.name == "New"
    assert changes_of(channel) == changes
    assert update_channel(channel=channel, actor=admin_user, name="New") == []


def test_deactivating_and_reactivating_a_channel(admin_user):
    channel = ChannelFactory()
    assert set_channel_active(channel=channel, active=False, actor=admin_user) is True
    channel.refresh_from_db()
    assert channel.is_active is False
    assert set_channel_active(channel=channel, active=False, actor=admin_user) is False
    with pytest.raises(ValidationError):
        create_ticket(subject="Hi", body="x", channel=channel)
    assert set_channel_active(channel=channel, active=True, actor=admin_user) is True
    entries = list(channel.settings_changes.order_by("id").values_list("changes", flat=True))
    assert entries == [
        [{"field": "Active", "before": "Yes", "after": "No"}],
        [{"field": "Active", "before": "No", "after": "Yes"}],
    ]


def test_update_channel_cannot_change_the_kind(admin_user):
    with pytest.raises(TypeError):
        update_channel(channel=ChannelFactory(), actor=admin_user, kind="calling")


# ---------------------------------------------------------------------------------------
# Two admins at the same moment (PostgreSQL: real row locks)
# ---------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_r20_two_admins_saving_at_once_one_wins_the_other_is_told(
    admin_user, superadmin, agent, monkeypatch
):
    """Both forms showed version 1. The row lock serialises the saves; the second sees
    version 2 and is refused, so nothing is overwritten silently."""
    import threading

    from django.db import connection

    automation = automation_of()
    real_diff = services._diff

    def someone_waits_for_my_lock() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # a fresh view each time
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_stat_activity"
                " WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid)))"
            )
            return cursor.fetchone()[0]

    def slow_diff(*args, **kwargs):
        # The winner holds the row lock until the other save is queued behind it.
        wait_until(someone_waits_for_my_lock, timeout=20, interval=0.02)
        return real_diff(*args, **kwargs)

    monkeypatch.setattr(services, "_diff", slow_diff)
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def save(actor, mode):
        try:
            start.wait()
            save_automation(
                automation=ChannelAutomation.objects.get(pk=automation.pk),
                data={"assign_mode": mode, "users": [agent]},
                actor=actor,
                expected_version=1,
            )
            outcomes[actor.username] = "saved"
        except AutomationChanged:
            outcomes[actor.username] = "refused"
        finally:
            connection.close()

    threads = [
        threading.Thread(target=save, args=(admin_user, AssignMode.SPECIFIC)),
        threading.Thread(target=save, args=(superadmin, AssignMode.CONTACT_OWNER)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values()) == ["refused", "saved"]
    automation.refresh_from_db()
    assert automation.version == 2
    winner = next(name for name, outcome in outcomes.items() if outcome == "saved")
    expected_mode = AssignMode.SPECIFIC if winner == "admin" else AssignMode.CONTACT_OWNER
    assert automation.assign_mode == expected_mode
    assert automation.channel.settings_changes.count() == 1
