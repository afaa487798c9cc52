"""Issue 11: every way in — the HTTP endpoint, `ingest_email` from stdin and a Maildir — stores
the raw mail first and goes through the same handler; failed events are retried by the
admin action and `retry_inbound`."""

import io
import sys

import pytest
from django.core.management import ManagementUtility, call_command
from django.db import OperationalError
from django.test import Client
from django.urls import reverse

from helpdesk.models import Channel, InboundEvent, Ticket
from mailroom.models import MailSettings
from tests.factories import ChannelFactory
from tests.mailroom.conftest import eml
from tests.mailroom.helpers import deliver, mail, mailbox_fixture  # noqa: F401

Status = InboundEvent.Status


@pytest.fixture
def endpoint(mailbox):
    token = mailbox.set_endpoint_token()
    mailbox.save()
    url = reverse("mail-inbound", args=[mailbox.channel_id])
    return url, token


def post(url, body: bytes, token="", content_type="message/rfc822", **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().post(url, data=body, content_type=content_type, **headers, **extra)


def test_the_endpoint_stores_a_mail_with_a_good_token(endpoint, mailbox):
    url, token = endpoint
    response = post(url, mail(), token)
    assert response.status_code == 202
    event = InboundEvent.objects.get(pk=response.json()["event"])
    assert (event.channel, bytes(event.raw)) == (mailbox.channel, mail())
    assert response.json()["duplicate"] is False
    assert post(url, mail(), token).json() == {"event": event.pk, "duplicate": True}


def test_the_endpoint_refuses_a_bad_token(endpoint):
    url, token = endpoint
    for bad in ("", "nope", token + "x"):
        response = post(url, mail(), bad)
        assert response.status_code == 401
        assert "error" in response.json()
    assert not InboundEvent.objects.exists()


def test_the_endpoint_refuses_what_is_not_a_message(endpoint):
    url, token = endpoint
    response = post(url, b'{"a": 1}', token, content_type="application/json")
    assert response.status_code == 415
    assert "error" in response.json()


def test_the_endpoint_refuses_a_message_too_large(endpoint, settings):
    url, token = endpoint
    settings.MAIL_MAX_RAW_BYTES = 100
    response = post(url, mail(body="x" * 200), token)
    assert response.status_code == 413
    assert not InboundEvent.objects.exists()


def test_the_endpoint_is_404_for_an_unknown_channel(endpoint):
    _, token = endpoint
    response = post(reverse("mail-inbound", args=[999999]), mail(), token)
    assert response.status_code == 404
    assert response.json()["error"]


def test_the_endpoint_is_404_for_an_inactive_channel_and_stores_nothing(endpoint, mailbox):
    url, token = endpoint
    Channel.objects.filter(pk=mailbox.channel_id).update(is_active=False)
    response = post(url, mail(), token)
    assert response.status_code == 404
    assert "active" in response.json()["error"]
    assert not InboundEvent.objects.exists()


def post_chunked(url, body: bytes, token: str):
    """As gunicorn hands on a chunked request: no Content-Length, the body decoded."""
    return Client().generic(
        "POST",
        url,
        b"",
        CONTENT_TYPE="message/rfc822",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": io.BytesIO(body)},
    )


def test_the_endpoint_reads_a_chunked_body_without_content_length(endpoint, mailbox):
    url, token = endpoint
    response = post_chunked(url, mail(), token)
    assert response.status_code == 202, response.content
    event = InboundEvent.objects.get(pk=response.json()["event"])
    assert bytes(event.raw) == mail()


def test_a_chunked_body_is_read_only_up_to_the_limit(endpoint, settings):
    url, token = endpoint
    settings.MAIL_MAX_RAW_BYTES = len(mail())
    assert post_chunked(url, mail(), token).status_code == 202
    too_large = mail(body="x" * 200)
    response = post_chunked(url, too_large, token)
    assert response.status_code == 413
    assert InboundEvent.objects.count() == 1
    empty = post_chunked(url, b"", token)
    assert empty.status_code == 400


def test_the_endpoint_needs_post(endpoint):
    url, _ = endpoint
    assert Client().get(url).status_code == 405


def test_ingest_email_reads_one_mail_from_stdin(mailbox, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(eml("latin1.eml"))))
    out = io.StringIO()
    call_command("ingest_email", "--channel", str(mailbox.channel_id), stdout=out)
    event = InboundEvent.objects.get()
    assert event.status == Status.PROCESSED, event.error
    assert f"event {event.pk} processed" in out.getvalue()
    assert Ticket.objects.count() == 1


def run_from_mta(channel_id: int, raw: bytes, monkeypatch) -> int:
    """`manage.py ingest_email --channel ID` as an MTA pipe runs it: its exit status."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    # Django closes the connections when a command ends; the test's transaction needs its own.
    monkeypatch.setattr("django.core.management.base.connections.close_all", lambda: None)
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", "ingest_email", "--channel", str(channel_id)]).execute()
    return exited.value.code


@pytest.mark.parametrize(
    "error", [OperationalError("the database system is starting up"), RuntimeError("surprise")]
)
def test_ingest_email_exits_75_when_the_mail_could_not_be_stored(mailbox, monkeypatch, error):
    """EX_TEMPFAIL: the MTA keeps the mail and delivers it again later (1 would bounce it)."""

    def fail(**kwargs):
        raise error

    monkeypatch.setattr("mailroom.management.commands.ingest_email.store_email", fail)
    assert run_from_mta(mailbox.channel_id, mail(), monkeypatch) == 75
    assert "The mail was not stored" in sys.stderr.getvalue()
    assert not InboundEvent.objects.exists()


def test_ingest_email_exits_75_when_the_database_is_unreachable(mailbox, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr("django.db.models.query.QuerySet.first", unreachable)
    assert run_from_mta(mailbox.channel_id, mail(), monkeypatch) == 75


def test_ingest_email_exits_0_once_stored_even_when_processing_fails(mailbox, monkeypatch):
    def fail(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("mailroom.management.commands.ingest_email.process_inbound", fail)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(mail())))
    err = io.StringIO()
    call_command("ingest_email", "--channel", str(mailbox.channel_id), stdout=io.StringIO(),
                 stderr=err)  # fmt: skip
    event = InboundEvent.objects.get()
    assert event.status == Status.RECEIVED  # the intake sweep processes it
    assert f"event {event.pk} stored, not processed yet (OperationalError)" in err.getvalue()


def test_ingest_email_usage_errors_exit_64(mailbox, monkeypatch, tmp_path):
    assert run_from_mta(999999, mail(), monkeypatch) == 64
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(
            ["manage.py", "ingest_email", "--channel", str(mailbox.channel_id), "--maildir",
             str(tmp_path)]
        ).execute()  # fmt: skip
    assert exited.value.code == 64
    assert not InboundEvent.objects.exists()


def test_ingest_email_reads_a_maildir_and_marks_every_mail_seen(mailbox, tmp_path):
    maildir = tmp_path / "Maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1717.M1.host").write_bytes(mail())
    (maildir / "new" / "1718.M2.host").write_bytes(eml("attachment_base64.eml"))
    (maildir / "cur" / "1719.M3.host:2,F").write_bytes(eml("windows1252.eml"))

    out = io.StringIO()
    call_command("ingest_email", "--channel", str(mailbox.channel_id), "--maildir", str(maildir),
                 stdout=out)  # fmt: skip

    assert "3 messages read" in out.getvalue()
    assert list((maildir / "new").iterdir()) == []
    names = sorted(p.name for p in (maildir / "cur").iterdir())
    assert names == ["1717.M1.host:2,S", "1718.M2.host:2,S", "1719.M3.host:2,FS"]
    assert Ticket.objects.count() == 3
    call_command("ingest_email", "--channel", str(mailbox.channel_id), "--maildir", str(maildir),
                 stdout=io.StringIO())  # fmt: skip
    assert (Ticket.objects.count(), InboundEvent.objects.count()) == (3, 3)


def failed_event(mailbox, monkeypatch) -> InboundEvent:
    monkeypatch.setattr("mailroom.inbound.create_ticket", lambda **kw: 1 / 0)
    event = deliver(mailbox.channel, mail())
    monkeypatch.undo()
    assert event.status == Status.FAILED
    return event


def test_retry_inbound_processes_failed_events_again(mailbox, monkeypatch):
    event = failed_event(mailbox, monkeypatch)
    out = io.StringIO()
    call_command("retry_inbound", "--all-failed", stdout=out)
    event.refresh_from_db()
    assert event.status == Status.PROCESSED
    assert f"event {event.pk}: processed" in out.getvalue()
    assert Ticket.objects.count() == 1


def test_the_admin_retry_action_sets_failed_events_back_to_received(
    mailbox, monkeypatch, superadmin
):
    event = failed_event(mailbox, monkeypatch)
    client = Client()
    client.force_login(superadmin)
    changelist = reverse("admin:helpdesk_inboundevent_changelist")
    assert client.get(changelist, {"status__exact": "failed"}).status_code == 200
    response = client.post(changelist, {"action": "retry", "_selected_action": [event.pk]})
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.status == Status.RECEIVED  # the sweep or the published task processes it
    page = client.get(reverse("admin:helpdesk_inboundevent_change", args=[event.pk]))
    assert page.status_code == 200 and b"Printer on fire" in page.content
    raw = client.get(reverse("admin:helpdesk_inboundevent_raw", args=[event.pk]))
    assert raw["Content-Disposition"].startswith("attachment")
    assert raw.content == mail()


def test_the_mail_settings_admin_never_renders_the_secret(mailbox, superadmin):
    mailbox.imap_secret = "hunter2-very-secret"
    mailbox.save()
    client = Client()
    client.force_login(superadmin)
    page = client.get(reverse("admin:mailroom_mailsettings_change", args=[mailbox.pk]))
    assert page.status_code == 200
    assert b"hunter2-very-secret" not in page.content


def test_the_sweep_publishes_events_left_received(mailbox, settings, monkeypatch):
    from helpdesk.services import intake
    from mailroom.inbound import store_email

    rung = []
    monkeypatch.setattr(intake, "ring", lambda task, **kw: rung.append((task.name, kw)) or True)
    event, _ = store_email(channel=mailbox.channel, raw=mail())
    settings.INTAKE_GRACE_SECONDS = 0
    assert intake.sweep_received() == 1
    assert rung == [("mailroom.tasks.process_email_task", {"event_id": event.pk})]
    assert ChannelFactory  # imported for other tests' fixtures
    assert MailSettings.objects.count() == 1
