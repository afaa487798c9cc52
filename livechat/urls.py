"""Live chat's URLs, included by helpdesk/urls.py under `chat/`."""

from django.urls import path

from livechat import views

app_name = "livechat"

urlpatterns = [
    path("w/<str:public_id>/start", views.widget_start, name="widget-start"),
    path("w/<str:public_id>/texts", views.widget_words, name="widget-texts"),
    path("w/<str:public_id>/messages", views.widget_messages, name="widget-messages"),
    path("api/<int:channel_id>/messages", views.api_messages, name="api-messages"),
    path("tickets/<int:ticket_id>/messages/", views.ticket_messages, name="ticket-messages"),
    path("demo/", views.demo, name="demo"),
]
