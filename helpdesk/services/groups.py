"""The default groups: "Agents" carry ticket access (R8); "Account admins" also manage
channels and routing (R6). Created after every migrate, idempotently."""

from django.contrib.auth.models import Group, Permission

from helpdesk.models.permissions import MANAGE_HELPDESK, TICKET_ACCESS

# Not `helpdesk.access.permission_parts`: the access module imports the services, and the
# user services use these groups.


def permission_parts(permission: str) -> tuple[str, str]:
    app_label, _, name = permission.partition(".")
    return app_label, name


AGENTS = "Agents"
ACCOUNT_ADMINS = "Account admins"

GROUP_PERMISSIONS = {
    AGENTS: [permission_parts(TICKET_ACCESS)],
    ACCOUNT_ADMINS: [permission_parts(TICKET_ACCESS), permission_parts(MANAGE_HELPDESK)],
}


def ensure_default_groups(**kwargs) -> None:
    for name, perms in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, codename in perms:
            perm = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is not None:
                group.permissions.add(perm)
