from django.shortcuts import redirect

from helpdesk.access import agent_required


@agent_required
def home(request):
    """The helpdesk opens on the Unassigned queue, where triage starts (R1, R2)."""
    return redirect("queue", slug="unassigned")
