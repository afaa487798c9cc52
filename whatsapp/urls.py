"""WhatsApp's URLs, included by helpdesk/urls.py under `whatsapp/`."""

from django.urls import path

from whatsapp import views

app_name = "whatsapp"

urlpatterns = [
    path("<int:channel_id>/webhook/", views.webhook, name="webhook"),
    path("tickets/<int:ticket_id>/template/", views.ticket_template, name="template"),
]
