from django.urls import path

from channels_cfg import views

app_name = "channels_cfg"
urlpatterns = [
    path("", views.channel_list, name="list"),
    path("new/", views.channel_create, name="create"),
    path("<int:channel_id>/", views.channel_details, name="details"),
    path("<int:channel_id>/automation/", views.channel_automation, name="automation"),
    path("<int:channel_id>/deactivate/", views.channel_deactivate, name="deactivate"),
    path("<int:channel_id>/activate/", views.channel_activate, name="activate"),
]
