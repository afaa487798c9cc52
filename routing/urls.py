from django.urls import path

from routing import views

app_name = "routing"
urlpatterns = [
    path("channels/<int:channel_id>/preview/", views.preview, name="preview"),
    path("decisions/<int:decision_id>/", views.decision_details, name="decision"),
]
