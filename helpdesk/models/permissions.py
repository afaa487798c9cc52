"""The helpdesk's two permission names, as `user.has_perm` takes them. Declared here, beside
the models that carry them (`Ticket.Meta`, `AccountSettings.Meta`), so the models can use
them without importing `helpdesk.access`; everything else takes them from `helpdesk.access`."""

TICKET_ACCESS = "helpdesk.access_tickets"  # see and work tickets (R8)
MANAGE_HELPDESK = "helpdesk.manage_helpdesk"  # channel settings and routing (R6)


def codename(permission: str) -> str:
    return permission.partition(".")[2]
