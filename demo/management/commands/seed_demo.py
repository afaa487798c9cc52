"""Demo data for `make run`: users, teams, skills, one channel of every kind with its
automation, contacts and tickets. Idempotent: a second run creates nothing new.

Channels, their automation, seats, tokens and the first tickets are made by the apps'
services (so the channels' settings history shows who set them up, and the tickets have
real assignment histories); the bulk of the tickets is inserted in batches."""

import random
from datetime import time, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from channels_cfg.models import AssignMode, ChannelAutomation, Distribution, SkillRule
from channels_cfg.services import create_channel, save_automation
from helpdesk import services
from helpdesk.models import Channel, Contact, User
from helpdesk.models.account import AccountSettings, ApiToken, Seat, hash_token
from helpdesk.models.availability import OutOfOffice, WorkingHours
from helpdesk.models.teams import AgentSkill, Skill, Team, TeamMembership
from helpdesk.models.tickets import AssignmentEvent, Message, Ticket
from helpdesk.services.groups import ACCOUNT_ADMINS, AGENTS, ensure_default_groups
from livechat.models import chat_kinds  # livechat: the chat widget's demo page
from livechat.setup import ensure_chat_settings
from webforms.models import form_kinds  # webforms: the public form pages
from webforms.services import form_settings_for, public_url

URL = "http://127.0.0.1:8000/"
DEMO_DOMAIN = "@demo.example"
SERVICE_TICKETS = 50  # the first tickets go through the services, for real histories
BATCH = 2000
# username, first name, last name, role, time zone
USERS = [
    ("superadmin", "Sigrid", "Berg", "superadmin", "UTC"),
    ("admin", "Anne", "Lund", "account admin", "Europe/Oslo"),
    ("agent", "Ola", "Nordmann", "agent", "Europe/Oslo"),
    ("alice", "Alice", "Hansen", "agent", "Europe/Oslo"),
    ("bob", "Bob", "Miller", "agent", "America/New_York"),
    ("carla", "Carla", "Mehta", "agent", "Asia/Kolkata"),
    ("dmitri", "Dmitri", "Volkov", "agent (away)", "UTC"),
    ("emma", "Emma", "Johnson", "agent", "America/New_York"),
    ("farid", "Farid", "Rahman", "agent without a seat", "Asia/Kolkata"),  # R7
]
AGENT_NAMES = ["agent", "alice", "bob", "carla", "dmitri", "emma", "farid"]
SEATED = ["admin", "agent", "alice", "bob", "carla", "dmitri", "emma"]
WORKING_HOURS = ["bob", "carla", "emma"]  # Mon–Fri 09:00–17:00 in their own time zone
TEAMS = {  # name: (main members, additional members)
    "Support": (["agent", "alice", "bob"], ["carla"]),
    "Billing": (["carla", "dmitri"], ["agent"]),
    "Sales": (["emma", "farid"], []),
}
MAIN_TEAM = {user: team for team, (main, _) in TEAMS.items() for user in main}
SKILLS = {"Norwegian": ["agent", "alice"], "Billing": ["carla", "dmitri"], "Spanish": ["bob"]}
K, A, D = Channel.Kind, AssignMode, Distribution
# kind: (name, address, automation fields; "users" and "teams" are the chosen ones)
CHANNELS = {
    K.TEAM_EMAIL: ("Support inbox", "support@acme.example", {
        "assign_mode": A.SPECIFIC, "teams": ["Support"], "distribution": D.LOAD_BALANCED,
        "skill_routing": True}),
    K.FORM: ("Billing question form", "forms/billing-question", {
        "assign_mode": A.TEAM_ONLY, "teams": ["Billing"]}),
    K.CHATFLOW: ("Website chat", "chatflow/website", {
        "assign_mode": A.SPECIFIC, "users": ["agent", "alice", "bob"],
        "distribution": D.ROUND_ROBIN, "chat_assignment_enabled": True}),
    K.WHATSAPP: ("WhatsApp", "+47 912 34 567", {"assign_mode": A.CONTACT_OWNER}),
    K.CALLING: ("Main phone line", "+47 21 00 00 00", {
        "assign_mode": A.SPECIFIC, "teams": ["Support"], "opening_hours_time_zone": "Europe/Oslo",
        "after_hours_message": "We are closed. Leave a message and we call you back."}),
    K.CUSTOM_CHAT: ("In-app chat", "custom-chat/mobile-app", {"assign_mode": A.NONE}),
}  # fmt: skip
FIRST = ["Ingrid", "Lars", "Maria", "James", "Priya", "Chen", "Sofia", "Omar", "Nina", "Lucas"]
LAST = ["Olsen", "Garcia", "Smith", "Patel", "Kowalski", "Haugen", "Rossi", "Kim"]
SUBJECTS = {
    "email": ["Invoice {n} is wrong", "Cannot log in", "Please cancel my order", "Refund status"],
    "messages": ["Question about delivery", "Is the product in stock?", "Help with my account"],
    "calls": ["Call about order {n}", "Voicemail: please call back", "Missed call"],
}
STATUSES = list(Ticket.Status.values)
STATUS_WEIGHTS = [20, 25, 20, 35]  # new, waiting on contact, waiting on us, closed
# One scenario per service-made ticket, in turn (7 scenarios and 6 channels cover every pair).
SCENARIOS = ["unassigned", "team", "owned", "replied", "waiting", "closed", "reassigned"]


class Command(BaseCommand):
    help = "Create demo users, teams, channels, contacts and tickets (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--tickets", type=int, default=300, help="Demo tickets wanted.")
        parser.add_argument(
            "--once", action="store_true", help="Do nothing if the demo admin already exists."
        )

    def handle(self, *args, tickets: int, once: bool, **options):
        if once and User.objects.filter(username="admin").exists():
            self.stdout.write("Demo data already present.")
            self._chat_settings()  # a database seeded before the demo page stopped making them
            self._print_logins()
            return
        self.rng = random.Random(42)
        with transaction.atomic():
            ensure_default_groups()
            users = self._users()
            teams = self._teams(users)
            channels = self._channels(users, teams)
            self._chat_settings()
            contacts = self._contacts(users)
            self._tickets(tickets, users, teams, channels, contacts)
            if not ApiToken.objects.filter(key_hash=hash_token(settings.DEMO_API_TOKEN)).exists():
                services.create_api_token(
                    user=users["agent"], name="Demo token", raw=settings.DEMO_API_TOKEN
                )
        self._print_logins()

    def _users(self) -> dict[str, User]:
        password = make_password(settings.DEMO_PASSWORD)  # hashed once: hashing is slow
        groups = {name: Group.objects.get(name=name) for name in (AGENTS, ACCOUNT_ADMINS)}
        users = {}
        for username, first, last, role, tz in USERS:
            user, _ = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@acme.example",
                    "time_zone": tz,
                    "password": password,
                    "is_staff": role in ("superadmin", "account admin"),
                    "is_superuser": role == "superadmin",
                    "availability_mode": "working_hours" if username in WORKING_HOURS else "manual",
                    "status": "away" if username == "dmitri" else "available",
                },
            )
            if username == "admin":
                user.groups.add(groups[ACCOUNT_ADMINS])
            elif username in AGENT_NAMES:
                user.groups.add(groups[AGENTS])
            users[username] = user
        self._seats(users)
        for name in WORKING_HOURS:
            for weekday in range(5):
                WorkingHours.objects.get_or_create(
                    user=users[name], weekday=weekday, start=time(9), end=time(17)
                )
        if not users["alice"].out_of_office.exists():
            start = timezone.now() + timedelta(days=14)
            OutOfOffice.objects.create(
                user=users["alice"], start=start, end=start + timedelta(days=7), note="Holiday"
            )
        return users

    def _seats(self, users: dict[str, User]) -> None:
        seated = [users[name] for name in SEATED]
        needed = Seat.objects.exclude(user__in=seated).count() + len(seated)
        account = AccountSettings.load()
        AccountSettings.objects.filter(pk=account.pk, purchased_seats__lt=needed).update(
            purchased_seats=needed
        )
        for user in seated:
            services.give_seat(user=user, by=users["superadmin"])

    def _teams(self, users: dict[str, User]) -> dict[str, Team]:
        teams = {}
        for name, (main, additional) in TEAMS.items():
            teams[name], _ = Team.objects.get_or_create(name=name)
            for role, members in (("main", main), ("additional", additional)):
                for username in members:
                    TeamMembership.objects.get_or_create(
                        team=teams[name], user=users[username], defaults={"role": role}
                    )
        for skill_name, usernames in SKILLS.items():
            skill, _ = Skill.objects.get_or_create(name=skill_name)
            for username in usernames:
                AgentSkill.objects.get_or_create(user=users[username], skill=skill)
        return teams

    def _channels(self, users, teams) -> list[Channel]:
        """One channel of every kind, connected and set up by the account admin through the
        channels_cfg services (each with its audit entries), as on the settings pages."""
        admin, channels = users["admin"], []
        for kind, (name, address, config) in CHANNELS.items():
            channel = Channel.objects.filter(kind=kind, name=name).first()
            if channel is None:
                channel = create_channel(kind=kind, name=name, address=address, actor=admin)
            if not ChannelAutomation.objects.filter(channel=channel, version__gt=1).exists():
                data = {k: v for k, v in config.items() if k not in ("users", "teams")}
                data["users"] = [users[u] for u in config.get("users", [])]
                data["teams"] = [teams[t] for t in config.get("teams", [])]
                save_automation(
                    automation=ChannelAutomation(channel=channel),
                    data=data | self._automation_extras(kind),
                    actor=admin,
                    expected_version=None,
                )
            channels.append(channel)
        return channels

    def _chat_settings(self) -> None:
        """The chat channels' settings (the widget's public id): /chat/demo/ only reads them."""
        for channel in Channel.objects.filter(kind__in=chat_kinds()):
            ensure_chat_settings(channel)

    def _automation_extras(self, kind: str) -> dict:
        if kind == K.CALLING:
            hours = [{"weekday": day, "start": time(8), "end": time(18)} for day in range(5)]
            return {"opening_hours": hours}
        if kind == K.TEAM_EMAIL:
            norwegian = Skill.objects.get(name="Norwegian")
            rule = {"condition": SkillRule.Condition.LANGUAGE_IS, "value": "no", "skill": norwegian}
            return {"skill_rules": [rule]}
        return {}

    def _contacts(self, users: dict[str, User]) -> list[Contact]:
        owners = [users[name] for name in SEATED[1:]]
        contacts = []
        for i in range(40):  # 10 first and 8 last names: distinct pairs up to lcm(10, 8) = 40
            first, last = FIRST[i % 10], LAST[i % 8]
            owner = owners[i // 3 % len(owners)] if i % 3 == 0 else None
            contact, _ = Contact.objects.get_or_create(
                email=f"{first}.{last}{DEMO_DOMAIN}".lower(),
                defaults={
                    "name": f"{first} {last}",
                    "phone": f"+47 400 00 {i:03d}",
                    "whatsapp_id": f"4740000{i:03d}" if i % 2 else "",
                    "visitor_token": f"demo-visitor-{i}" if owner else "",
                    "owner": owner,
                },
            )
            contacts.append(contact)
        return contacts

    def _tickets(self, wanted, users, teams, channels, contacts) -> None:
        existing = Ticket.objects.filter(contact__email__endswith=DEMO_DOMAIN).count()
        if existing >= wanted:
            return
        self.stdout.write(f"Creating {wanted - existing} demo tickets…")
        self._progress_step = 0
        ctx = (users, teams, channels, contacts)
        for i in range(existing, min(wanted, SERVICE_TICKETS)):
            self._service_ticket(i, *ctx)
            self._progress(i + 1 - existing, wanted - existing)
        now, batch = timezone.now(), max(1, min(BATCH, wanted // 20))  # report every 5%
        for start in range(max(existing, SERVICE_TICKETS), wanted, batch):
            end = min(start + batch, wanted)
            rows = Ticket.objects.bulk_create(
                [self._bulk_ticket(i, now, *ctx) for i in range(start, end)]
            )
            Message.objects.bulk_create(
                Message(
                    ticket=t,
                    channel=t.channel,
                    direction=Message.Direction.INBOUND,
                    body=f"Hello, {t.subject.lower()}. Can you help?",
                    external_id=f"demo-{start + n}" if t.channel else "",
                    created_at=t.created_at,
                )
                for n, t in enumerate(rows)
            )
            self._progress(end - existing, wanted - existing)

    def _progress(self, done: int, total: int) -> None:
        step = done * 20 // total  # one line per 5%
        if step > self._progress_step or done == total:
            self._progress_step = step
            bar = "#" * step + "-" * (20 - step)
            self.stdout.write(f"  [{bar}] {done * 100 // total:3d}% ({done}/{total})")

    def _subject(self, channel: Channel | None) -> str:
        options = SUBJECTS[Channel.ticket_type_for(channel)]
        return self.rng.choice(options).format(n=self.rng.randint(1000, 9999))

    def _service_ticket(self, i, users, teams, channels, contacts) -> None:
        rng, channel = self.rng, channels[i % len(channels)]
        agent = users[rng.choice(AGENT_NAMES)]
        ticket, created = services.create_ticket(
            subject=self._subject(channel),
            body="Hello, I need help with this. Thanks in advance!",
            channel=channel,
            contact=rng.choice(contacts),
            priority=rng.choice(Ticket.Priority.values),
            language="no" if i % 4 == 0 else "en",
            external_id=f"demo-{i}",
        )
        scenario = SCENARIOS[i % len(SCENARIOS)]
        if not created or scenario == "unassigned":
            return
        admin, manual = users["admin"], AssignmentEvent.Cause.MANUAL
        if scenario == "team":
            team = rng.choice(list(teams.values()))
            services.assign(ticket=ticket, team=team, actor=admin, cause=manual)
        elif scenario in ("owned", "reassigned"):
            team = teams[MAIN_TEAM[agent.username]]
            services.assign(ticket=ticket, owner=agent, team=team, actor=admin, cause=manual)
            services.add_note(ticket=ticket, author=agent, body="Looking into this today.")
            if scenario == "reassigned":
                carla, billing = users["carla"], teams["Billing"]
                services.assign(ticket=ticket, owner=carla, team=billing, actor=agent, cause=manual)
        else:
            services.reply(ticket=ticket, author=agent, body="Thanks, we are on it. Details?")
            if scenario == "waiting":
                services.add_inbound_message(ticket=ticket, body="Here are the details.")
            elif scenario == "closed":
                services.close(ticket=ticket, actor=agent)

    def _bulk_ticket(self, i, now, users, teams, channels, contacts) -> Ticket:
        rng = self.rng
        channel = None if i % 25 == 0 else rng.choice(channels)  # a few created manually
        created_at = now - timedelta(seconds=rng.uniform(3600, 60 * 86400))
        last_activity_at = created_at + (now - created_at) * rng.random() * 0.2
        mode = {0: "none", 1: "none", 2: "team", 3: "team"}.get(i % 10, "owner")
        status = rng.choices(STATUSES, STATUS_WEIGHTS)[0]
        if mode != "owner" and status == Ticket.Status.WAITING_ON_CONTACT:
            status = Ticket.Status.NEW  # a reply would have given it an owner (R4)
        if mode == "none" and status == Ticket.Status.CLOSED:
            status = Ticket.Status.WAITING_ON_US
        owner = users[rng.choice(AGENT_NAMES)] if mode == "owner" else None
        team = rng.choice(list(teams.values())) if mode == "team" else None
        return Ticket(
            subject=self._subject(channel),
            status=status,
            priority=rng.choices(Ticket.Priority.values, [20, 50, 20, 10])[0],
            source=Ticket.Source.CHANNEL if channel else Ticket.Source.MANUAL,
            channel=channel,
            ticket_type=Channel.ticket_type_for(channel),
            language="no" if rng.random() < 0.2 else "en",
            contact=rng.choice(contacts),
            owner=owner,
            team=teams[MAIN_TEAM[owner.username]] if owner else team,
            assigned_at=created_at + (last_activity_at - created_at) / 2 if owner else None,
            routing_state=Ticket.RoutingState.DONE,
            created_at=created_at,
            last_activity_at=last_activity_at,
            closed_at=last_activity_at if status == Ticket.Status.CLOSED else None,
        )

    def _print_logins(self) -> None:
        token, w = settings.DEMO_API_TOKEN, self.stdout.write
        w(f"\nDemo helpdesk: {URL}   (admin site: {URL}admin/)")
        w("Logins (username / password / role):")
        for username, *_, role, _tz in USERS:
            w(f"  {username:<11} / {settings.DEMO_PASSWORD} / {role}")
        w(f"Demo API token of 'agent': {token}")
        w(f'  curl -H "Authorization: Bearer {token}" {URL}api/v1/tickets/1/')
        # webforms: each form channel's public page (its settings made when first needed)
        for channel in Channel.objects.filter(kind__in=form_kinds(), is_active=True):
            url = public_url(form_settings_for(channel), base_url=URL)
            w(f"Public form '{channel.name}': {url}")
