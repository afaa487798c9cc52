"""The data `manage.py bench_queues` measures: tickets shaped like a working helpdesk, each
with a contact and a first message, added until the database holds the number asked for.

On PostgreSQL the rows are made by the database itself (`INSERT … SELECT … FROM
generate_series`, 100,000 tickets a statement), about a minute per 100,000 tickets on two
cores with every index in place; elsewhere (SQLite) through `bulk_create`, much slower.
The random choices are seeded, so a build is the same every time.
"""

import random
from datetime import timedelta

from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone

from helpdesk.models import (
    AccountSettings,
    Channel,
    Contact,
    Message,
    Seat,
    Team,
    TeamMembership,
    Ticket,
    User,
)
from helpdesk.services.groups import AGENTS, ensure_default_groups

BENCH_AGENT = "bench_agent"
BENCH_TEAMS = 6
BENCH_AGENTS = 30
BATCH = 5000
CHUNK = 100_000  # tickets per INSERT … SELECT statement (PostgreSQL)

# Ticket languages: half English, a quarter Norwegian, a quarter unknown ("": the `simple`
# text-search configuration, English text).
LANGUAGES = ["en", "en", "nb", ""]
FIRST_NAMES = [
    "Kari",
    "Ola",
    "Ingrid",
    "Lars",
    "Anne",
    "Per",
    "Marit",
    "Jon",
    "Sara",
    "Emil",
    "Nora",
    "Ahmed",
    "Sofie",
    "Jonas",
    "Emma",
    "Ali",
    "Ida",
    "Magnus",
    "Eva",
    "Tor",
    "Hanna",
    "Liam",
    "Maja",
    "Noah",
    "Lea",
    "Oskar",
    "Aisha",
    "Erik",
    "Mia",
    "Filip",
    "Julie",
    "Sander",
    "Amira",
    "Henrik",
    "Thea",
    "Elias",
    "Vera",
]
LAST_NAMES = [
    "Nordmann",
    "Hansen",
    "Johansen",
    "Olsen",
    "Larsen",
    "Andersen",
    "Pedersen",
    "Nilsen",
    "Kristiansen",
    "Jensen",
    "Karlsen",
    "Johnsen",
    "Pettersen",
    "Eriksen",
    "Berg",
    "Haugen",
    "Hagen",
    "Johannessen",
    "Andreassen",
    "Jacobsen",
    "Dahl",
    "Jørgensen",
    "Halvorsen",
    "Henriksen",
    "Lund",
    "Sørensen",
    "Jakobsen",
    "Moen",
    "Gundersen",
    "Iversen",
    "Strand",
    "Solberg",
    "Svendsen",
    "Eide",
    "Knutsen",
    "Martinsen",
    "Paulsen",
    "Bakken",
    "Kristoffersen",
    "Mathisen",
    "Lie",
]
SUBJECTS = {
    "en": [
        "Cannot sign in",
        "Invoice is wrong",
        "Refund request",
        "Printer on fire",
        "Where is my order?",
        "Change of address",
        "App crashes on start",
        "Question about pricing",
    ],
    "nb": [
        "Får ikke logget inn",
        "Feil på fakturaen",
        "Ønsker refusjon",
        "Hvor er bestillingen min?",
        "Ny adresse",
        "Appen krasjer ved oppstart",
        "Spørsmål om pris",
        "Skriveren brenner",
    ],
}
SENTENCES = {
    "en": [
        "My printer keeps jamming whenever I print the invoices.",
        "The app crashed twice this morning after the update.",
        "I was charged twice for the same order.",
        "Please send me the receipt for my last payment.",
        "The parcel arrived damaged and the box was wet.",
        "I cannot reset my password because the link has expired.",
        "Our team needs three more licences before Friday.",
        "The tracking number does not work on your website.",
        "Could you change the delivery address on my account?",
        "The screen flickers when I open the settings page.",
        "I would like to cancel my subscription from next month.",
        "Thanks for the quick answer last week.",
    ],
    "nb": [
        "Skriveren setter seg fast hver gang jeg skriver ut fakturaene.",
        "Appen krasjet to ganger i morges etter oppdateringen.",
        "Jeg ble belastet to ganger for den samme bestillingen.",
        "Kan dere sende meg kvitteringen for siste betaling?",
        "Pakken kom skadet og esken var våt.",
        "Jeg får ikke nullstilt passordet fordi lenken er utløpt.",
        "Teamet vårt trenger tre lisenser til før fredag.",
        "Sporingsnummeret virker ikke på nettsiden deres.",
        "Kan dere endre leveringsadressen på kontoen min?",
        "Skjermen flimrer når jeg åpner innstillingene.",
        "Jeg vil si opp abonnementet fra neste måned.",
        "Takk for raskt svar forrige uke.",
    ],
}


def _agents_group() -> Group:
    ensure_default_groups()
    return Group.objects.get(name=AGENTS)


def bench_agent() -> User:
    """The agent the pages are rendered for: main member of one bench team, additional
    member of another (so both R22 and R23 span two teams)."""
    agent, created = User.objects.get_or_create(
        username=BENCH_AGENT, defaults={"first_name": "Bench", "last_name": "Agent"}
    )
    if created:
        agent.set_unusable_password()
        agent.save(update_fields=["password"])
    agent.groups.add(_agents_group())
    teams = bench_teams()
    TeamMembership.objects.get_or_create(
        team=teams[0], user=agent, defaults={"role": TeamMembership.Role.MAIN}
    )
    TeamMembership.objects.get_or_create(
        team=teams[1], user=agent, defaults={"role": TeamMembership.Role.ADDITIONAL}
    )
    return User.objects.get(pk=agent.pk)


def bench_teams() -> list[Team]:
    return [Team.objects.get_or_create(name=f"Bench team {i + 1}")[0] for i in range(BENCH_TEAMS)]


def _bench_people() -> list[User]:
    group = _agents_group()
    people = []
    for i in range(BENCH_AGENTS):
        user, created = User.objects.get_or_create(
            username=f"bench_agent_{i:02d}",
            defaults={"first_name": f"Agent{i:02d}", "last_name": "Bench"},
        )
        if created:
            user.groups.add(group)
        people.append(user)
    return people


def seated_agents(count: int) -> int:
    """At least `count` seated agents with ticket access, main members of the bench teams
    in turn — the pages' owner controls and counts then see a helpdesk of that size (issue
    14 measures the ticket page with 500). Returns how many were added."""
    have = User.objects.filter(username__startswith="seated_agent_").count()
    if have >= count:
        return 0
    account = AccountSettings.load()
    if account.purchased_seats < Seat.objects.count() + count - have:
        account.purchased_seats = Seat.objects.count() + count - have
        account.save()
    users = User.objects.bulk_create(
        [
            User(username=f"seated_agent_{i:04d}", first_name=f"Seated{i:04d}", password="!")
            for i in range(have, count)
        ]
    )
    group, teams = _agents_group(), bench_teams()
    User.groups.through.objects.bulk_create(
        [User.groups.through(user_id=u.pk, group_id=group.pk) for u in users]
    )
    Seat.objects.bulk_create([Seat(user=u) for u in users])
    TeamMembership.objects.bulk_create(
        [TeamMembership(team=teams[u.pk % len(teams)], user=u) for u in users]
    )
    return len(users)


def _bench_channels() -> list[Channel]:
    return [
        Channel.objects.get_or_create(
            name=f"Bench {label}", defaults={"kind": kind, "address": f"bench-{kind}"}
        )[0]
        for kind, label in Channel.Kind.choices
    ]


def contact_name(number: int) -> str:
    """The bench contact number `number`'s name (its address is customer<number>@…)."""
    first = FIRST_NAMES[number % len(FIRST_NAMES)]
    return f"{first} {LAST_NAMES[(number // len(FIRST_NAMES)) % len(LAST_NAMES)]}"


def build_tickets(total: int, *, seed: int = 7, out=None) -> int:
    """Add tickets until the database holds `total`; returns how many were added.

    The mix resembles a working helpdesk: 70% closed; of the open ones 20% unassigned,
    25% team only, 45% owner and team, 10% owner only; 1 in 40 owned tickets belong to
    the bench agent. One contact per five tickets; every ticket has one inbound message of
    two sentences in its language and a model code ("model QX42") that few messages share.
    """
    missing = total - Ticket.objects.count()
    if missing <= 0:
        return 0
    agent = bench_agent()
    setup = {
        "agent": agent,
        "teams": bench_teams(),
        "people": _bench_people(),
        "channels": _bench_channels(),
    }
    if connection.vendor == "postgresql":
        return _build_sql(missing, seed=seed, out=out, **setup)
    return _build_orm(missing, seed=seed, out=out, **setup)


def _new_contacts_sql(cursor, count: int) -> tuple[int, int]:
    """Insert `count` contacts; returns the first and last of their (consecutive) ids."""
    cursor.execute("SELECT COALESCE(MAX(id), 0) FROM helpdesk_contact")
    (before,) = cursor.fetchone()
    cursor.execute(
        """
        INSERT INTO helpdesk_contact
            (name, email, phone, whatsapp_id, visitor_token, created_at, owner_id)
        SELECT (%(first)s::text[])[1 + n %% %(nfirst)s::int]
                   || ' ' || (%(last)s::text[])[1 + (n / %(nfirst)s::int) %% %(nlast)s::int],
               'customer' || n || '@bench.example', '', '', '', now(), NULL
        FROM generate_series(%(start)s::bigint + 1, %(start)s::bigint + %(count)s::bigint) AS n
        """,
        {
            "first": FIRST_NAMES,
            "last": LAST_NAMES,
            "nfirst": len(FIRST_NAMES),
            "nlast": len(LAST_NAMES),
            "start": before,
            "count": count,
        },
    )
    cursor.execute("SELECT MIN(id), MAX(id) FROM helpdesk_contact WHERE id > %s", [before])
    low, high = cursor.fetchone()
    assert high - low + 1 == count, "contacts were inserted meanwhile; run the bench again"
    return low, high


# One statement makes a chunk of tickets: the innermost SELECT draws the random numbers (one
# set per row: volatile functions are evaluated per row), the middle one picks the owner,
# team, language and channel, the outer one the columns.
TICKETS_SQL = """
INSERT INTO helpdesk_ticket
    (subject, status, priority, source, ticket_type, language, assigned_at, routing_state,
     created_at, updated_at, last_activity_at, closed_at, version, channel_id, contact_id,
     owner_id, team_id)
SELECT
    CASE WHEN lang = 'nb' THEN (%(subjects_nb)s::text[])[1 + floor(r_subject * 8)::int]
         ELSE (%(subjects_en)s::text[])[1 + floor(r_subject * 8)::int] END
        || ' (' || g || ')',
    CASE WHEN closed THEN 'closed'
         ELSE (ARRAY['new', 'waiting_on_us', 'waiting_on_contact'])[1 + g %% 3] END,
    1 + floor(r_priority * 4)::int, 'channel', (%(types)s::text[])[channel], lang,
    CASE WHEN owner_id IS NOT NULL THEN created END, 'done',
    created, now(), created + r_activity * interval '3 days',
    CASE WHEN closed THEN created + r_activity * interval '3 days' END, 1,
    (%(channels)s::bigint[])[channel],
    %(contact_low)s::bigint + floor(r_contact * %(contacts)s::int)::bigint, owner_id, team_id
FROM (
    SELECT *,
        (%(languages)s::text[])[1 + floor(r_language * 4)::int] AS lang,
        1 + floor(r_channel * %(nchannels)s::int)::int AS channel,
        CASE WHEN shape >= 0.20 AND shape < 0.90
             THEN (%(teams)s::bigint[])[1 + floor(r_team * %(nteams)s::int)::int] END AS team_id,
        CASE WHEN shape < 0.45 THEN NULL
             WHEN r_owner < 0.025 THEN %(agent)s::bigint
             ELSE (%(people)s::bigint[])
                  [1 + floor((r_owner - 0.025) / 0.975 * %(npeople)s::int)::int]
        END AS owner_id
    FROM (
        SELECT g, random() < 0.7 AS closed, random() AS shape, random() AS r_team,
            random() AS r_owner, random() AS r_subject, random() AS r_priority,
            random() AS r_channel, random() AS r_contact, random() AS r_language,
            random() AS r_activity,
            now() - (60 + random() * 365 * 86400) * interval '1 second' AS created
        FROM generate_series(%(low)s::bigint, %(high)s::bigint) AS g
    ) AS drawn
) AS picked
"""

MESSAGES_SQL = """
INSERT INTO helpdesk_message
    (direction, body, external_id, created_at, author_id, channel_id, ticket_id, html,
     is_automatic, quoted, sender_address, sender_name)
SELECT 'inbound',
    CASE WHEN t.language = 'nb'
         THEN (%(nb)s::text[])[1 + floor(random() * 12)::int]
              || ' ' || (%(nb)s::text[])[1 + floor(random() * 12)::int] || ' Modell '
         ELSE (%(en)s::text[])[1 + floor(random() * 12)::int]
              || ' ' || (%(en)s::text[])[1 + floor(random() * 12)::int] || ' Model '
    END || chr(65 + (t.id %% 26)::int) || chr(65 + (t.id / 26 %% 26)::int) || (t.id / 676 %% 100),
    '', t.created_at, NULL, t.channel_id, t.id, '', false, '', '', ''
FROM helpdesk_ticket AS t
WHERE t.id > %(after)s::bigint
"""


def _build_sql(missing, *, seed, out, agent, teams, people, channels) -> int:
    with connection.cursor() as cursor:
        with transaction.atomic():
            contact_low, contact_high = _new_contacts_sql(cursor, max(1, missing // 5))
        params = {
            "subjects_en": SUBJECTS["en"],
            "subjects_nb": SUBJECTS["nb"],
            "languages": LANGUAGES,
            "types": [c.ticket_type for c in channels],
            "channels": [c.pk for c in channels],
            "nchannels": len(channels),
            "teams": [t.pk for t in teams],
            "nteams": len(teams),
            "agent": agent.pk,
            "people": [p.pk for p in people],
            "npeople": len(people),
            "contact_low": contact_low,
            "contacts": contact_high - contact_low + 1,
        }
        cursor.execute("SELECT COUNT(*) FROM helpdesk_ticket")
        (existing,) = cursor.fetchone()
        added = 0
        while added < missing:
            size = min(CHUNK, missing - added)
            cursor.execute("SELECT COALESCE(MAX(id), 0) FROM helpdesk_ticket")
            (after,) = cursor.fetchone()
            with transaction.atomic():
                cursor.execute("SELECT setseed(%s::float8)", [((seed + added) % 1000) / 1000])
                cursor.execute(
                    TICKETS_SQL,
                    {**params, "low": existing + added + 1, "high": existing + added + size},
                )
                cursor.execute(
                    MESSAGES_SQL, {"en": SENTENCES["en"], "nb": SENTENCES["nb"], "after": after}
                )
            added += size
            if out is not None:
                out.write(f"  … {added}/{missing} tickets")
    return added


def _build_orm(missing, *, seed, out, agent, teams, people, channels) -> int:
    rng = random.Random(seed + missing)
    now = timezone.now()
    start = Contact.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    contacts = Contact.objects.bulk_create(
        [
            Contact(name=contact_name(n), email=f"customer{n}@bench.example")
            for n in range(start + 1, start + 1 + max(1, missing // 5))
        ],
        batch_size=BATCH,
    )
    added = owned = 0
    while added < missing:
        batch, bodies = [], []
        for _ in range(min(BATCH, missing - added)):
            created = now - timedelta(seconds=rng.randint(60, 365 * 86400))
            channel = rng.choice(channels)
            closed = rng.random() < 0.7
            shape = rng.random()
            owner = team = None
            if shape >= 0.20:
                team = rng.choice(teams) if shape < 0.90 else None
                if shape >= 0.45:
                    owned += 1
                    owner = agent if owned % 40 == 1 else rng.choice(people)
            activity = created + timedelta(seconds=rng.randint(0, 3 * 86400))
            language = rng.choice(LANGUAGES)
            texts = "nb" if language == "nb" else "en"
            number = added + len(batch) + 1
            batch.append(
                Ticket(
                    subject=f"{rng.choice(SUBJECTS[texts])} ({number})",
                    status=Ticket.Status.CLOSED
                    if closed
                    else rng.choice(
                        [
                            Ticket.Status.NEW,
                            Ticket.Status.WAITING_ON_US,
                            Ticket.Status.WAITING_ON_CONTACT,
                        ]
                    ),
                    priority=rng.choice(Ticket.Priority.values),
                    channel=channel,
                    ticket_type=channel.ticket_type,
                    language=language,
                    contact=rng.choice(contacts),
                    owner=owner,
                    team=team,
                    assigned_at=created if owner else None,
                    routing_state=Ticket.RoutingState.DONE,
                    created_at=created,
                    last_activity_at=activity,
                    closed_at=activity if closed else None,
                )
            )
            code = f"{chr(65 + number % 26)}{chr(65 + number // 26 % 26)}{number // 676 % 100}"
            model = "Modell" if texts == "nb" else "Model"
            bodies.append(" ".join([*rng.sample(SENTENCES[texts], 2), model, code]))
        with transaction.atomic():
            Ticket.objects.bulk_create(batch, batch_size=BATCH)
            Message.objects.bulk_create(
                [
                    Message(
                        ticket=ticket,
                        channel=ticket.channel,
                        direction=Message.Direction.INBOUND,
                        body=body,
                        created_at=ticket.created_at,
                    )
                    for ticket, body in zip(batch, bodies, strict=True)
                ],
                batch_size=BATCH,
            )
        added += len(batch)
        if out is not None:
            out.write(f"  … {added}/{missing} tickets")
    return added
