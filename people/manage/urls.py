from django.urls import path
from django.views.generic import RedirectView

from people.manage.views import seats, skills, teams, users

app_name = "people_manage"
urlpatterns = [
    path("", RedirectView.as_view(pattern_name="people_manage:users"), name="index"),
    path("users/", users.user_list, name="users"),
    path("users/invite/", users.user_invite, name="invite"),
    path("users/<int:user_id>/", users.user_edit, name="user"),
    path(
        "users/<int:user_id>/deactivate/",
        users.user_set_active,
        {"active": False},
        name="deactivate",
    ),
    path(
        "users/<int:user_id>/reactivate/",
        users.user_set_active,
        {"active": True},
        name="reactivate",
    ),
    path("teams/", teams.team_list, name="teams"),
    path("teams/<int:team_id>/", teams.team_edit, name="team"),
    path("seats/", seats.seat_list, name="seats"),
    path("seats/give/", seats.seat_give, name="seat-give"),
    path("seats/<int:user_id>/take/", seats.seat_take, name="seat-take"),
    path("skills/", skills.skill_list, name="skills"),
    path("skills/<int:skill_id>/", skills.skill_edit, name="skill"),
]
