from django.urls import path

from people import language, views

app_name = "people"
urlpatterns = [
    path("availability/", views.availability_page, name="availability"),
    path("language/", language.language_page, name="language"),
    path("availability/status/", views.status_set, name="status"),
    path("availability/away/", views.out_of_office_add, name="ooo-add"),
    path("availability/away/<int:period_id>/end/", views.out_of_office_end, name="ooo-end"),
]
