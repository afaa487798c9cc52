"""Which contact a form submission belongs to — the one rule, in one place.

On a form nothing is verified: anyone can type any name and any address. What we do know
is the browser, by its signed visitor cookie (tokens.py). So:

1. **The cookie wins.** A visitor whose token belongs to a contact is that contact,
   whatever name or address they type now (a returning visitor is the same contact). A
   blank name of the contact is filled; a blank address too, unless another contact holds
   it. The contact's existing name and address are never overwritten.
2. **No contact for the cookie, the typed address is nobody's:** a new contact with that
   name, that address and the visitor token — so the next visit is recognised by rule 1.
3. **No contact for the cookie, the address is an existing contact's without an owner:**
   the ticket goes to that contact (one contact per address, as for email), but the
   visitor token is **not** tied to it: typing an address never turns a browser into that
   contact.
4. **No contact for the cookie, the address is an existing contact's who has an owner:**
   a typed address must not take over that contact's owner routing (R14) — anyone could
   then reach that owner, or read as that customer. The submission gets a new contact of
   its own (the name and the visitor token; no address, since an address belongs to one
   contact) and the first message says so, for the agent who triages it: "[The address
   … typed on the form belongs to another contact …]". The typed address stays on the
   message (`sender_address`). Merging the two is an agent's decision.

Whenever the typed address is another contact's than the one chosen (rule 1 with a
different address, rule 4), the message carries that note. Verifying an address (a
confirmation link) would let rule 4 merge; it is not built.
"""

from dataclasses import dataclass

from helpdesk.models import Contact
from helpdesk.services import normalize_email
from helpdesk.services.intake import insert_once

ATTEMPTS = 3  # a concurrent insert of the same token or address: look again


@dataclass(frozen=True)
class Identified:
    contact: Contact
    how: str  # for the event's reason
    note: str = ""  # appended to the first message, for the agents


def _note(email: str, holder: Contact, *, kept_on: str) -> str:
    return (
        f"[The address {email} typed on the form belongs to another contact "
        f"(“{holder}”, #{holder.pk}). It is not verified, so this submission stays with "
        f"{kept_on}.]"
    )


def identify(*, visitor_token: str | None, name: str, email: str) -> Identified:
    """The contact of a submission by the rules above (inside the caller's transaction;
    concurrent submissions of one visitor or one address find each other's rows)."""
    email, name = normalize_email(email), name.strip()
    for _ in range(ATTEMPTS):
        found = _identify_once(visitor_token=visitor_token or "", name=name, email=email)
        if found is not None:
            return found
    raise RuntimeError("a contact for this submission could not be found or created")


def _holder_of(email: str) -> Contact | None:
    if not email:
        return None
    return Contact.objects.filter(email__iexact=email).order_by("pk").first()


def _identify_once(*, visitor_token: str, name: str, email: str) -> Identified | None:
    if visitor_token:
        contact = Contact.objects.filter(visitor_token=visitor_token).first()
        if contact is not None:
            return _returning(contact, name=name, email=email)
    holder = _holder_of(email)
    if holder is None:
        contact = Contact(name=name, email=email, visitor_token=visitor_token)
        return Identified(contact, "new contact") if insert_once(contact) else None
    if holder.owner_id is None:
        if name and not holder.name:
            holder.name = name
            holder.save(update_fields=["name"])
        return Identified(holder, f"the address of contact #{holder.pk} (no owner)")
    contact = Contact(name=name, visitor_token=visitor_token)
    if not insert_once(contact):
        return None
    note = _note(email, holder, kept_on="a new contact of its own and is not routed to its owner")
    return Identified(contact, f"new contact: the address is owned contact #{holder.pk}'s", note)


def _returning(contact: Contact, *, name: str, email: str) -> Identified:
    fields = []
    if name and not contact.name:
        contact.name = name
        fields.append("name")
    note = ""
    if email and email != contact.email.lower():
        holder = _holder_of(email)
        if holder is None and not contact.email:
            contact.email = email
            fields.append("email")
        elif holder is not None and holder.pk != contact.pk:
            note = _note(email, holder, kept_on="the visitor's own contact (known by cookie)")
    if fields:
        contact.save(update_fields=fields)
    return Identified(contact, f"returning visitor: contact #{contact.pk} (cookie)", note)
