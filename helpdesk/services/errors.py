class TicketChanged(Exception):
    """The ticket changed since the caller read it (another agent acted first)."""

    def __init__(self, ticket, message: str = ""):
        self.ticket = ticket
        super().__init__(message or f"Ticket #{ticket.pk} was changed by someone else meanwhile.")
