"""Email in and out (issue 11). This round: the pure, database-free core of inbound mail.

- `parsing.parse_message(raw) -> ParsedMail` (or `UnreadableMessage`): headers, bodies in
  any charset, sanitised HTML, quoted history folded away, attachments and inline images.
- `loops.classify(parsed, our_addresses) -> Classification`: auto-replies, bounces, bulk
  and our own mail (RFC 3834), which never create tickets and are never answered.
- `threading.thread_candidates(parsed)`: In-Reply-To, References, reply token, ticket tag.

Not yet a Django app in INSTALLED_APPS: no models, no I/O.
"""
