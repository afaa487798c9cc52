"""Sending the form: raw first (an InboundEvent of kind "form"), then a worker makes the
ticket; the page never waits for that. Resubmissions, the spam trap, bad input, the size
limits and expired pages — each with what is (and is not) stored."""

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from helpdesk.models import Attachment, Contact, InboundEvent, Message, Ticket
from helpdesk.services import retry_failed_inbound
from helpdesk.services.intake import sweep_received
from tests.webforms.conftest import token_of

pytestmark = pytest.mark.django_db

Status = InboundEvent.Status
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def nothing_stored():
    return (
        InboundEvent.objects.count(),
        Ticket.objects.count(),
        Contact.objects.count(),
        Message.objects.count(),
    ) == (0, 0, 0, 0)


@pytest.mark.usefixtures("eager_celery")
def test_a_submission_is_stored_raw_then_becomes_a_routed_ticket(
    visitor, form_channel, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = visitor.send(attachment=SimpleUploadedFile("statement.pdf", PDF, "text/html"))
    assert response.status_code == 303
    assert response["Location"] == f"{visitor.url}thanks/"

    event = InboundEvent.objects.get()
    assert (event.kind, event.channel, event.status) == ("form", form_channel, Status.PROCESSED)
    assert event.payload["subject"] == "Invoice 2024-113 charged twice"
    assert event.payload["visitor"] == visitor.cookie.split(":")[0]
    assert bytes(event.raw) == PDF and event.payload["attachment"]["size"] == len(PDF)
    assert event.headers["ip"] == visitor.ip

    ticket = Ticket.objects.get()
    assert event.ticket == ticket
    assert (ticket.channel, ticket.subject, ticket.ticket_type) == (
        form_channel,
        "Invoice 2024-113 charged twice",
        form_channel.policy.ticket_type,
    )
    assert ticket.routing_state == Ticket.RoutingState.DONE  # routed (mode None: triage)
    assert (ticket.contact.name, ticket.contact.email) == ("Kim Larsen", "kim@customer.example")
    message = ticket.messages.get()
    assert message.body == "Hello, I was charged twice for invoice 2024-113."
    assert (message.sender_name, message.sender_address) == ("Kim Larsen", "kim@customer.example")
    assert message.external_id == event.source_id
    attachment = Attachment.objects.get(message=message)
    assert (attachment.filename, attachment.content_type, attachment.size) == (
        "statement.pdf",
        "application/pdf",  # decided by us, not by the browser's "text/html"
        len(PDF),
    )
    assert visitor.client.get(response["Location"]).status_code == 200


def test_the_page_does_not_wait_for_the_ticket(
    visitor, published_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert visitor.send().status_code == 303
    assert InboundEvent.objects.get().status == Status.RECEIVED
    assert Ticket.objects.count() == 0
    assert published_tasks.names == ["webforms.tasks.process_form_task"]
    published_tasks.run()
    assert InboundEvent.objects.get().status == Status.PROCESSED
    assert Ticket.objects.count() == 1


def test_a_double_click_or_a_resubmission_is_one_ticket(visitor, published_tasks):
    visitor.open()
    with published_tasks.after_commit():
        first = visitor.send(token=visitor.token)
        second = visitor.send(token=visitor.token)  # the same rendered page, sent again
    assert first.status_code == second.status_code == 303
    assert InboundEvent.objects.count() == 1
    assert Ticket.objects.count() == 1
    with published_tasks.after_commit():
        visitor.send(subject="Another question")  # a new page: a new submission
    assert Ticket.objects.count() == 2


def test_a_filled_spam_trap_looks_sent_but_only_the_rejected_event_remains(
    visitor, published_tasks
):
    with published_tasks.after_commit() as ran:
        response = visitor.send(website="https://cheap-pills.example")
    assert response.status_code == 303
    assert ran == []  # nothing published: it was settled at once
    event = InboundEvent.objects.get()
    assert event.status == Status.IGNORED
    assert "spam-trap" in event.error
    assert event.payload["honeypot"] is True
    assert "cheap-pills" not in str(event.payload)
    assert (Ticket.objects.count(), Contact.objects.count(), Message.objects.count()) == (0, 0, 0)


@pytest.mark.parametrize(
    ("values", "field", "says"),
    [
        ({"name": "  "}, "name", "Enter your name."),
        ({"email": "kim"}, "email", "Enter an email address like name@example.com."),
        ({"email": ""}, "email", "Enter your email address"),
        ({"subject": "x" * 201}, "subject", "at most 200 characters (it has 201)"),
        ({"message": ""}, "message", "Write your message."),
        ({"message": "a" * 20_001}, "message", "at most 20000 characters (it has 20001)"),
        ({"name": "Kim\x00"}, "name", "NUL character"),
    ],
)
def test_bad_input_shows_the_form_again_with_the_error_and_stores_nothing(
    visitor, published_tasks, values, field, says
):
    with published_tasks.after_commit():
        response = visitor.send(**values)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Your message was not sent yet" in html
    assert says in html
    assert f'id="id_{field}_error"' in html
    assert 'aria-invalid="true"' in html
    kept = {k: v for k, v in values.items() if v.strip() and "\x00" not in v and len(v) < 300}
    for value in kept.values():
        assert value in html  # what was typed is still there
    assert token_of(response) == visitor.token  # the same page: the same submission id
    assert nothing_stored()


def test_a_corrected_form_is_accepted_with_the_same_token(visitor, published_tasks):
    with published_tasks.after_commit():
        assert visitor.send(email="kim").status_code == 400
        assert visitor.send(token=visitor.token).status_code == 303
    assert Ticket.objects.count() == 1


def test_an_attachment_over_the_limit_is_refused_beside_its_field(visitor, settings):
    settings.FORMS_MAX_ATTACHMENT_BYTES = 1024
    big = SimpleUploadedFile("scan.pdf", PDF + b"0" * 2000, "application/pdf")
    response = visitor.send(attachment=big)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_attachment_error"' in html
    assert "The file is too large: at most 1 KB (this one is 2 KB)" in html
    assert nothing_stored()


def test_a_body_far_over_the_limit_is_refused_unread(visitor, settings):
    settings.FORMS_MAX_ATTACHMENT_BYTES = 1024
    visitor.open()
    huge = SimpleUploadedFile("scan.pdf", PDF + b"0" * 400_000, "application/pdf")
    response = visitor.client.post(
        visitor.url, {**visitor.fields(), "attachment": huge, "token": visitor.token}
    )
    assert response.status_code == 413
    assert "the file is too large" in response.content.decode()
    assert nothing_stored()


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("tool.exe", b"MZ\x90\x00", ".exe files cannot be sent here"),
        ("invoice.pdf", b"<html><script>alert(1)</script>", "not a PDF"),
        ("empty.pdf", b"", "The file is empty"),
    ],
)
def test_a_file_of_another_type_is_refused(visitor, name, content, says):
    response = visitor.send(attachment=SimpleUploadedFile(name, content, "application/pdf"))
    assert response.status_code == 400
    assert says in response.content.decode()
    assert nothing_stored()


def test_a_form_without_attachments_refuses_one(visitor, form_settings):
    form_settings.allow_attachments = False
    form_settings.save()
    response = visitor.send(attachment=SimpleUploadedFile("a.pdf", PDF, "application/pdf"))
    assert response.status_code == 400
    assert "This form does not take attachments" in response.content.decode()
    assert nothing_stored()


def test_a_page_left_open_too_long_asks_to_send_again(visitor, settings, published_tasks):
    settings.FORMS_TOKEN_MAX_AGE_SECONDS = 3600
    with time_machine.travel("2025-03-01 10:00:00Z"):
        visitor.open()
    with time_machine.travel("2025-03-01 12:00:00Z"):
        response = visitor.send(token=visitor.token)
        assert response.status_code == 400
        assert "This page was open for too long" in response.content.decode()
        assert "Kim Larsen" in response.content.decode()
        fresh = token_of(response)
        assert fresh != visitor.token
        assert nothing_stored()
        with published_tasks.after_commit():
            assert visitor.send(token=fresh).status_code == 303
    assert Ticket.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        b'--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nKim',  # cut off
        b"garbage without boundaries",
    ],
)
def test_an_unreadable_body_is_a_400_page_not_a_500(visitor, body):
    visitor.open()
    response = visitor.client.generic(
        "POST", visitor.url, body, content_type="multipart/form-data; boundary=x"
    )
    assert response.status_code == 400
    assert "Your message was not sent" in response.content.decode()
    assert nothing_stored()


def test_a_post_without_a_token_is_refused(visitor):
    response = visitor.client.post(visitor.url, visitor.fields())
    assert response.status_code == 400
    assert "This form could not be checked" in response.content.decode()
    assert nothing_stored()


def test_sending_costs_a_fixed_number_of_queries(visitor, django_assert_max_num_queries):
    visitor.open()
    # the settings; the event; two counters (client address, typed address); and the
    # savepoint pair of the submission's transaction inside the test's own
    with django_assert_max_num_queries(6):
        assert visitor.send(token=visitor.token).status_code == 303


def test_a_failed_processing_keeps_the_event_for_a_retry(
    visitor, form_channel, published_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        visitor.send()
    form_channel.is_active = False  # closed between storing and processing
    form_channel.save()
    published_tasks.run()
    event = InboundEvent.objects.get()
    assert event.status == Status.FAILED and "inactive" in event.error
    assert (Ticket.objects.count(), Contact.objects.count()) == (0, 0)  # nothing half-written
    form_channel.is_active = True
    form_channel.save()
    with published_tasks.after_commit():
        assert retry_failed_inbound([event.pk]) == [event.pk]
    event.refresh_from_db()
    assert event.status == Status.PROCESSED and Ticket.objects.count() == 1


def test_a_submission_whose_message_was_lost_is_processed_by_the_sweep(
    visitor, published_tasks, django_capture_on_commit_callbacks
):
    # The publish after commit never happens (the broker was down).
    with (
        time_machine.travel("2025-03-01 10:00:00Z"),
        django_capture_on_commit_callbacks(execute=False),
    ):
        assert visitor.send().status_code == 303
    assert published_tasks.names == []
    with time_machine.travel("2025-03-01 10:05:00Z"):
        assert sweep_received() == 1
    ran = published_tasks.run()
    assert ran[:2] == ["webforms.tasks.process_form_task", "routing.tasks.route_ticket_task"]
    assert InboundEvent.objects.get().status == Status.PROCESSED
    assert Ticket.objects.count() == 1
