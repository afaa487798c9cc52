from django.urls import path

from mailroom import views

urlpatterns = [
    path("inbound/<int:channel_id>/", views.inbound_mail, name="mail-inbound"),
]
