from django.urls import path

from calls import views

urlpatterns = [
    path("<int:channel_id>/incoming/", views.incoming, name="calls-incoming"),
    path("<int:channel_id>/dial/", views.dial, name="calls-dial"),
    path("<int:channel_id>/status/", views.status, name="calls-status"),
    path("<int:channel_id>/recording/", views.recording, name="calls-recording"),
]
