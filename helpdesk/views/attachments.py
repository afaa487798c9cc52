"""Downloading a message's attachment: only for users who can see its ticket, always as a
download (never rendered inline), with a content type a browser cannot run."""

import re

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404

from helpdesk.access import ticket_for_agent
from helpdesk.models import Attachment

OCTET_STREAM = "application/octet-stream"
# A type/subtype a browser might render or run (HTML, SVG, XML, scripts): served as bytes.
ACTIVE = re.compile(r"html|xml|svg|javascript|ecmascript|xsl", re.I)
TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*", re.I)


def safe_content_type(stored: str) -> str:
    """The stored type when it is a plain `type/subtype` nothing renders actively, else
    application/octet-stream (parameters such as charset are dropped)."""
    essence = (stored or "").split(";", 1)[0].strip()
    if not TYPE.fullmatch(essence) or ACTIVE.search(essence):
        return OCTET_STREAM
    return essence.lower()


@login_required
def attachment_download(request, ticket_id: int, attachment_id: int):
    """404 unless the user can see the ticket and the attachment belongs to it — and when its
    file is missing from storage (lost, or not restored with the database)."""
    ticket = ticket_for_agent(request.user, ticket_id)
    attachment = get_object_or_404(Attachment, pk=attachment_id, message__ticket=ticket)
    try:
        file = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404("The attachment's file is missing from storage.") from exc
    response = FileResponse(
        file,
        as_attachment=True,
        filename=attachment.filename,
        content_type=safe_content_type(attachment.content_type),
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
