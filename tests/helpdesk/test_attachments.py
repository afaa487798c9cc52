"""Attachment downloads (issue 11): only for users who can see the ticket (anyone else gets
404, as for the ticket itself), always as a download with `nosniff`, and never with a
content type a browser would render or run (HTML, SVG, XML, scripts → octet-stream)."""

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from helpdesk import access
from helpdesk.models import Attachment, Ticket
from helpdesk.views.attachments import safe_content_type
from tests.factories import MessageFactory, TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def attach(ticket, filename="report.pdf", content_type="application/pdf", data=b"%PDF-1.4"):
    message = MessageFactory(ticket=ticket)
    return Attachment.objects.create(
        message=message,
        file=ContentFile(data, name=filename),
        filename=filename,
        content_type=content_type,
        size=len(data),
    )


def download_url(ticket, attachment):
    return reverse("attachment-download", args=[ticket.pk, attachment.pk])


def test_an_agent_downloads_an_attachment_of_a_ticket_they_see(agent_client):
    ticket = TicketFactory()
    attachment = attach(ticket, filename="Invoice März.pdf")
    response = agent_client.get(download_url(ticket, attachment))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4"
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''Invoice%20M%C3%A4rz.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "stored",
    [
        "text/html",
        "TEXT/HTML; charset=utf-8",
        "image/svg+xml",
        "application/xhtml+xml",
        "text/xml",
        "application/javascript",
        "",
        "not a type",
    ],
)
def test_active_content_is_served_as_an_octet_stream_attachment(agent_client, stored):
    ticket = TicketFactory()
    attachment = attach(ticket, "page.html", stored, b"<script>alert(1)</script>")
    response = agent_client.get(download_url(ticket, attachment))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_plain_types_are_kept_without_parameters():
    assert safe_content_type("image/png") == "image/png"
    assert safe_content_type("text/plain; charset=iso-8859-1") == "text/plain"


def test_a_user_who_cannot_see_the_ticket_gets_404(agent_client, agent, monkeypatch):
    ticket = TicketFactory()
    attachment = attach(ticket)
    # A narrower access rule (access.tickets_visible_to is the one place that decides).
    monkeypatch.setattr(
        access, "tickets_visible_to", lambda user: Ticket.objects.exclude(pk=ticket.pk)
    )
    assert agent_client.get(download_url(ticket, attachment)).status_code == 404


def test_a_user_without_ticket_access_gets_404(client, outsider):
    ticket = TicketFactory()
    attachment = attach(ticket)
    client.force_login(outsider)
    response = client.get(download_url(ticket, attachment))
    assert response.status_code == 404


def test_an_attachment_of_another_ticket_is_404_under_this_ticket(agent_client):
    mine, other = TicketFactory(), TicketFactory()
    attachment = attach(other)
    assert agent_client.get(download_url(mine, attachment)).status_code == 404


def test_anonymous_is_sent_to_login(client):
    ticket = TicketFactory()
    attachment = attach(ticket)
    response = client.get(download_url(ticket, attachment))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_thread_links_each_attachment(agent_client):
    ticket = TicketFactory()
    attachment = attach(ticket, filename="screenshot.png", content_type="image/png")
    html = agent_client.get(reverse("ticket", args=[ticket.pk])).content.decode()
    assert f'href="{download_url(ticket, attachment)}"' in html
    assert "screenshot.png" in html


def test_an_attachment_whose_file_is_missing_from_storage_is_404_not_500(agent_client):
    """A file lost from MEDIA_ROOT (or not restored with the database) is not found."""
    ticket = TicketFactory()
    attachment = attach(ticket)
    attachment.file.storage.delete(attachment.file.name)
    response = agent_client.get(download_url(ticket, attachment))
    assert response.status_code == 404
