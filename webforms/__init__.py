"""Web forms as a way in (issue 12, "Forms"): every form channel has a public page
`/f/<public id>/` — name, email, subject, message and an optional attachment — that anyone
may fill in, directly or inside an `<iframe>` on another site.

- `models.py`: `FormSettings` (one per form channel: the unguessable public id, the page's
  texts, attachments on or off, the sites that may embed it) and `SubmissionCount` (the
  rate limits' counters, in the database so every web process sees the same counts).
- `tokens.py`: the signed form token (a submission id per rendered page, bound to the
  visitor) and the signed visitor cookie.
- `limits.py`: the size and type limits (pure).
- `forms.py` + `views.py`: the page, the thank-you page (PRG), the refusals.
- `services.py`: the settings' writers, the embeddable snippet, `submit` (raw first: the
  submission is stored as an `InboundEvent` of kind "form", then processed by a worker).
- `throttle.py`: per-address and per-IP limits counted in the database.
- `identity.py`: which contact a submission belongs to (the cookie decides; a typed address
  never takes over another contact).
- `inbound.py`: the handler `process_inbound` runs: a stored submission → a ticket.

Imports only `helpdesk` of our apps (import-linter contract "webforms").
"""
