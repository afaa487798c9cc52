from django.urls import path

from webforms import views

app_name = "webforms"

urlpatterns = [
    path("<str:public_id>/", views.form_page, name="form"),
    path("<str:public_id>/thanks/", views.thanks_page, name="thanks"),
]
