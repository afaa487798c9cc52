from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMembership", related_name="teams"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    """A user is a main member of at most one team and an additional member of any (R9)."""

    class Role(models.TextChoices):
        MAIN = "main", gettext_lazy("Main")
        ADDITIONAL = "additional", gettext_lazy("Additional")

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role, default=Role.MAIN)

    class Meta:
        ordering = ["team", "role", "user"]
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="membership_once_per_team"),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(role="main"),
                name="one_main_team_per_user",
                violation_error_message=gettext_lazy(
                    "This user is already the main member of another team."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.get_role_display()})"


class Skill(models.Model):
    name = models.CharField(max_length=80, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AgentSkill(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_skills"
    )
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="agent_skills")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "skill"], name="agent_skill_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.skill}"
