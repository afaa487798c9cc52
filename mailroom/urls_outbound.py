"""Outbound mail's pages, included by helpdesk/urls.py under `tickets/`."""

from django.urls import path

from mailroom import views_outbound

app_name = "mailroom_outbound"

urlpatterns = [
    path(
        "<int:ticket_id>/outbound/<int:outbound_id>/retry/",
        views_outbound.outbound_retry,
        name="retry",
    ),
]
