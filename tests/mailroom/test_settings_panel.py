"""Issue 11, "Settings and pages": a team-email channel's mail settings on its Details tab —
saved through `mailroom.mail_settings` into the channel's history (secrets only as
"changed"), the IMAP secret never in the page, refusals as field errors with nothing
written, the HTTP endpoint's token shown once — and "Test connection": the IMAP check
against a real dovecot, the SMTP check against a real aiosmtpd, each in plain words."""

import socket

import pytest
from django.test import Client
from django.urls import reverse

from channels_cfg.models import ChannelSettingsChange
from helpdesk.models import Channel
from mailroom.connection_check import CheckResult, ImapTarget, check_imap, check_smtp
from mailroom.mail_settings import save_mail_settings
from mailroom.models import MailSettings, hash_token
from tests.factories import ChannelFactory
from tests.mailroom.dovecot import dovecot_fixture, free_port  # noqa: F401
from tests.mailroom.helpers import mail
from tests.support.panels import browser_data, details_url, panel_in, text

pytestmark = pytest.mark.django_db
STORED_SECRET = "Stored-Secret-4711-never-shown"
Security = MailSettings.Security


@pytest.fixture
def channel():
    return ChannelFactory(name="Support", address="support@helpdesk.example")


@pytest.fixture
def stored(channel):
    """Mail settings with a stored IMAP secret (polling imap.example.com)."""
    return MailSettings.objects.create(
        channel=channel,
        addresses=["support@helpdesk.example"],
        imap_host="imap.example.com",
        imap_user="support@helpdesk.example",
        imap_secret=STORED_SECRET,
        uidvalidity=77,
        last_uid=40,
    )


def post_mail(client, channel, action=None, **changes):
    data = browser_data(client, channel, "mail", **changes)
    if action:
        data["action"] = action
    return client.post(details_url(channel), data)


def history(channel) -> list[dict]:
    return [c for entry in channel.settings_changes.all() for c in entry.changes]


# ---------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------


def test_the_panel_shows_the_saved_settings_without_the_secret(admin_client, stored, settings):
    settings.SITE_URL = "https://help.example.com"
    response = admin_client.get(details_url(stored.channel))
    html = response.content.decode()
    assert STORED_SECRET not in html
    assert 'name="mail-imap_secret"' in html
    assert 'value="imap.example.com"' in html
    page = text(response)
    for section in ("Receiving", "Sending", "Acknowledgement"):
        assert section in page
    url = f"https://help.example.com/mail/inbound/{stored.channel_id}/"
    assert url in page
    assert "A secret is stored and never shown" in page
    assert "Remove the stored secret" in page
    assert "{{ ticket_number }}" in page and "{{ channel_name }}" in page


def test_a_channel_without_mail_settings_shows_the_defaults(admin_client, channel):
    response = admin_client.get(details_url(channel))
    form = panel_in(response, "mail").form
    assert (form["imap_port"].value(), form["imap_folder"].value()) == (993, "INBOX")
    assert "No secret is stored yet." in text(response)
    assert "None yet: the endpoint refuses every request" in text(response)
    assert not MailSettings.objects.exists()  # a page view writes nothing


@pytest.mark.parametrize("kind", [k for k in Channel.Kind if k != Channel.Kind.TEAM_EMAIL])
def test_the_panel_is_absent_on_channels_whose_replies_do_not_leave_by_email(admin_client, kind):
    other = ChannelFactory(kind=kind)
    response = admin_client.get(details_url(other))
    assert response.status_code == 200
    assert 'id="panel-mail"' not in response.content.decode()
    refused = admin_client.post(details_url(other), {"panel": "mail", "mail-imap_host": "x"})
    assert refused.status_code == 400
    assert not MailSettings.objects.exists()


def test_only_account_admins_may_change_mail_settings(stored, agent, outsider, superadmin):
    for user in (agent, outsider):
        client = Client()
        client.force_login(user)
        response = client.post(
            details_url(stored.channel), {"panel": "mail", "mail-imap_host": "evil.example"}
        )
        assert response.status_code == 403
    stored.refresh_from_db()
    assert stored.imap_host == "imap.example.com"
    client = Client()
    client.force_login(superadmin)
    assert post_mail(client, stored.channel, imap_host="imap2.example.com").status_code == 302


def test_the_page_costs_the_same_with_and_without_mail_settings(
    admin_client, channel, django_assert_max_num_queries
):
    email_only = ChannelFactory(kind=Channel.Kind.FORM)
    admin_client.get(details_url(email_only))
    with django_assert_max_num_queries(20) as captured:
        admin_client.get(details_url(email_only))
    without_panel = len(captured)
    with django_assert_max_num_queries(without_panel + 1):  # the MailSettings row
        admin_client.get(details_url(channel))
    MailSettings.objects.create(channel=channel, addresses=["a@helpdesk.example"])
    for n in range(5):
        save_mail_settings(channel=channel, data={"imap_folder": f"F{n}"}, actor=None)
    with django_assert_max_num_queries(without_panel + 1):
        response = admin_client.get(details_url(channel))
    assert "Mail · IMAP folder: F3 → F4" in text(response)


# ---------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------


def test_saving_creates_the_settings_and_records_each_change(admin_client, admin_user, channel):
    response = post_mail(
        admin_client,
        channel,
        addresses="Support@Helpdesk.example\n\nreply@helpdesk.example ",
        imap_host="imap.example.com",
        imap_user="support@helpdesk.example",
        imap_secret="first-secret-123",
        from_name="Support team",
        acknowledge=True,
    )
    assert response.status_code == 302
    mail_settings = MailSettings.objects.get(channel=channel)
    assert mail_settings.addresses == ["reply@helpdesk.example", "support@helpdesk.example"]
    assert (mail_settings.imap_secret, mail_settings.acknowledge) == ("first-secret-123", True)
    entry = channel.settings_changes.get()
    assert (entry.section, entry.actor) == (ChannelSettingsChange.Section.DETAILS, admin_user)
    fields = {c["field"]: (c["before"], c["after"]) for c in entry.changes}
    assert fields == {
        "Mail · Addresses": ("(none)", "reply@helpdesk.example, support@helpdesk.example"),
        "Mail · IMAP host": ("(empty)", "imap.example.com"),
        "Mail · IMAP user": ("(empty)", "support@helpdesk.example"),
        "Mail · IMAP secret": ("(none)", "changed"),
        "Mail · From name": ("(empty)", "Support team"),
        "Mail · Acknowledge new tickets": ("Off", "On"),
    }
    page = admin_client.get(details_url(channel))
    assert "Mail settings saved." in text(page)
    assert "Mail · IMAP host: (empty) → imap.example.com" in text(page)
    assert "first-secret-123" not in page.content.decode()


def test_a_blank_secret_keeps_the_stored_one_and_a_new_one_shows_only_as_changed(
    admin_client, stored
):
    assert post_mail(admin_client, stored.channel, imap_folder="Support").status_code == 302
    stored.refresh_from_db()
    assert (stored.imap_secret, stored.imap_folder) == (STORED_SECRET, "Support")
    assert [c["field"] for c in history(stored.channel)] == ["Mail · IMAP folder"]

    assert post_mail(admin_client, stored.channel, imap_secret="Next-Secret-99").status_code == 302
    stored.refresh_from_db()
    assert stored.imap_secret == "Next-Secret-99"
    change = history(stored.channel)[0]
    assert change == {"field": "Mail · IMAP secret", "before": "(hidden)", "after": "changed"}
    html = admin_client.get(details_url(stored.channel)).content.decode()
    assert "Next-Secret-99" not in html and STORED_SECRET not in html


def test_removing_the_secret_with_the_mailbox(admin_client, stored):
    refused = post_mail(admin_client, stored.channel, remove_secret=True)
    assert refused.status_code == 200
    assert "To stop fetching mail, clear the host and the user." in text(refused)
    both = post_mail(admin_client, stored.channel, remove_secret=True, imap_secret="x-new")
    assert "Either type a new secret or remove the stored one" in text(both)

    response = post_mail(
        admin_client, stored.channel, remove_secret=True, imap_host="", imap_user=""
    )
    assert response.status_code == 302
    stored.refresh_from_db()
    assert (stored.imap_secret, stored.polls_imap) == ("", False)
    secret = next(c for c in history(stored.channel) if c["field"] == "Mail · IMAP secret")
    assert (secret["before"], secret["after"]) == ("(hidden)", "(none)")


def test_the_secret_is_absent_from_an_invalid_post_and_from_a_test(admin_client, stored):
    invalid = post_mail(admin_client, stored.channel, imap_port="99999", imap_secret="Typed-1")
    assert invalid.status_code == 200
    assert "Ensure this value is less than or equal to 65535." in text(invalid)
    assert "The secret you typed is not shown again" in text(invalid)
    tested = post_mail(admin_client, stored.channel, "test_imap", imap_port=str(free_port()))
    assert tested.status_code == 200
    for response in (invalid, tested):
        html = response.content.decode()
        assert STORED_SECRET not in html and "Typed-1" not in html
    stored.refresh_from_db()
    assert (stored.imap_port, stored.imap_secret) == (993, STORED_SECRET)
    assert not stored.channel.settings_changes.exists()


def test_an_address_of_another_channel_is_refused_with_its_name(admin_client, channel):
    sales = ChannelFactory(name="Sales")
    MailSettings.objects.create(channel=sales, addresses=["sales@helpdesk.example"])
    response = post_mail(
        admin_client, channel, addresses="support@helpdesk.example\nSALES@helpdesk.example"
    )
    assert response.status_code == 200
    errors = panel_in(response, "mail").form.errors
    assert errors["addresses"] == [
        "sales@helpdesk.example is already an address of the channel “Sales”: an address "
        "belongs to one channel. Remove it there first."
    ]
    assert "Nothing was saved." in text(response)
    assert not MailSettings.objects.filter(channel=channel).exists()  # not even the row
    assert not channel.settings_changes.exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"addresses": "support@\nnot an address"}, "addresses", "“support@” is not an email"),
        ({"imap_host": "imap.example.com"}, "imap_user", "Give the user too"),
        ({"imap_user": "someone"}, "imap_host", "Give the host too"),
        ({"imap_host": "imap.example.com", "imap_user": "u"}, "imap_secret", "Type the secret"),
        ({"after_fetch": "move", "processed_folder": ""}, "processed_folder", "Name the folder"),
        ({"after_fetch": "move", "processed_folder": "INBOX"}, "processed_folder", "another"),
        ({"ack_body": "Hi {% if %}"}, "ack_body", "“{% if %}” cannot be used: tags"),
        ({"ack_body": 'Hi {% include "x" %}'}, "ack_body", "“{% include"),
        ({"ack_body": '{% extends "base.html" %}'}, "ack_body", "tags and comments are not"),
        (
            {"ack_subject": "[#{{ ticket_number|shout }}]"},
            "ack_subject",
            "“{{ ticket_number|shout }}” cannot be used: filters are not supported",
        ),
        (
            {"ack_body": 'Hi {{ subject|center:"999999999" }}'},
            "ack_body",
            "filters are not supported",
        ),
        ({"ack_body": "Hi {{ contact.email }}"}, "ack_body", "“{{ contact.email }}” is not a"),
        (
            {"imap_host": "a..b", "imap_user": "u", "imap_secret": "s"},
            "imap_host",
            "“a..b” is not a host name",
        ),
        (
            {"imap_host": "x" * 64 + ".example", "imap_user": "u", "imap_secret": "s"},
            "imap_host",
            "1 to 63 characters",
        ),
        ({"from_address": "nobody"}, "from_address", "Enter a valid email address."),
        ({"imap_security": "rot13"}, "imap_security", "Select a valid choice."),
    ],
)
def test_refusals_are_field_errors_and_nothing_is_written(
    admin_client, channel, changes, field, message
):
    response = post_mail(admin_client, channel, **changes)
    assert response.status_code == 200
    errors = panel_in(response, "mail").form.errors
    assert list(errors) == [field]
    assert message in " ".join(errors[field])
    assert message in text(response)
    assert not MailSettings.objects.exists()
    assert not ChannelSettingsChange.objects.exists()


def test_saving_nothing_says_so_and_records_nothing(admin_client, stored):
    stored.signature = "Kind regards,\nSupport"
    stored.save()
    crlf = {name: getattr(stored, name).replace("\n", "\r\n") for name in ("signature", "ack_body")}
    response = post_mail(admin_client, stored.channel, **crlf)  # as browsers post a textarea
    assert response.status_code == 302
    assert "Mail settings: nothing changed." in text(admin_client.get(details_url(stored.channel)))
    assert not stored.channel.settings_changes.exists()


def test_another_mailbox_starts_the_poller_over_and_a_signature_does_not(admin_client, stored):
    post_mail(admin_client, stored.channel, signature="Kind regards")
    stored.refresh_from_db()
    assert (stored.uidvalidity, stored.last_uid) == (77, 40)
    post_mail(admin_client, stored.channel, imap_folder="Support")
    stored.refresh_from_db()
    assert (stored.uidvalidity, stored.last_uid) == (None, 0)


def test_long_texts_are_shortened_in_the_history(channel):
    body = "Hello {{ contact_name }}, " + "we read every mail. " * 20
    save_mail_settings(channel=channel, data={"ack_body": body}, actor=None)
    change = history(channel)[0]
    assert change["field"] == "Mail · Acknowledgement body"
    assert len(change["after"]) == 120 and change["after"].endswith("…")


def test_the_service_refuses_other_channels_and_unknown_fields(channel):
    form_channel = ChannelFactory(kind=Channel.Kind.FORM)
    with pytest.raises(Exception, match="Only a team-email channel has mail settings"):
        save_mail_settings(channel=form_channel, data={}, actor=None)
    with pytest.raises(TypeError, match="cannot change last_uid"):
        save_mail_settings(channel=channel, data={"last_uid": 0}, actor=None)
    assert not MailSettings.objects.exists()


# ---------------------------------------------------------------------------------------
# The HTTP endpoint's token
# ---------------------------------------------------------------------------------------


def test_a_new_endpoint_token_is_shown_once_and_works(admin_client, stored):
    response = post_mail(admin_client, stored.channel, "new_token", from_name="Typed, not saved")
    assert response.status_code == 200
    raw = panel_in(response, "mail").results["new_token"].reveal
    assert raw and raw in response.content.decode()
    stored.refresh_from_db()
    assert stored.endpoint_token_hash == hash_token(raw)
    assert stored.from_name == ""  # the typed values were kept on the page, not saved
    assert 'value="Typed, not saved"' in response.content.decode()
    assert f"starts with {raw[:8]}" in text(response)
    assert history(stored.channel) == [
        {"field": "Mail · HTTP endpoint token", "before": "(none)", "after": "changed"}
    ]
    later = admin_client.get(details_url(stored.channel)).content.decode()
    assert raw not in later and raw[:8] in later

    accepted = Client().post(
        reverse("mail-inbound", args=[stored.channel_id]),
        mail(),
        content_type="message/rfc822",
        headers={"authorization": f"Bearer {raw}"},
    )
    assert accepted.status_code == 202


def test_a_new_token_creates_the_settings_when_missing(admin_client, channel):
    response = post_mail(admin_client, channel, "new_token")
    assert response.status_code == 200
    assert MailSettings.objects.get(channel=channel).endpoint_token_prefix


# ---------------------------------------------------------------------------------------
# Test connection: IMAP (a real dovecot)
# ---------------------------------------------------------------------------------------


def target(dovecot, **changes) -> ImapTarget:
    values = {
        "host": dovecot.host,
        "port": dovecot.port,
        "security": Security.NONE,
        "user": dovecot.user,
        "secret": dovecot.password,
        "folder": "INBOX",
    }
    return ImapTarget(**{**values, **changes})


@pytest.mark.imap
def test_imap_a_good_login_says_how_many_messages_the_folder_has(dovecot):
    dovecot.append(mail(message_id="<a@x.example>"))
    dovecot.append(mail(message_id="<b@x.example>"))
    result = check_imap(target(dovecot))
    assert result.ok is True
    assert result.message == (
        f"Connected to 127.0.0.1:{dovecot.port} (no TLS), logged in as support, "
        "folder INBOX has 2 messages."
    )
    assert dovecot.count("INBOX") == 2  # read-only: nothing moved or flagged
    assert all(rb"\Seen" not in line for line in dovecot.flags())


@pytest.mark.imap
def test_imap_a_wrong_password_is_the_servers_refusal_without_the_secret(dovecot):
    result = check_imap(target(dovecot, secret="Wrong-Password-123"))
    assert result.ok is False
    assert result.message.startswith("The server refused the login: [AUTHENTICATIONFAILED]")
    assert "Wrong-Password-123" not in result.message


@pytest.mark.imap
def test_imap_a_missing_folder_is_named(dovecot):
    result = check_imap(target(dovecot, folder="Nowhere"))
    assert result.ok is False
    assert result.message == (
        "Logged in as support, but the folder “Nowhere” does not exist "
        "(the server said: Mailbox doesn't exist: Nowhere)."
    )


@pytest.mark.imap
def test_imap_tls_against_a_plain_port_is_a_failed_handshake(dovecot):
    result = check_imap(target(dovecot, security=Security.SSL))
    assert result.ok is False
    assert result.message == (
        f"The TLS handshake failed: the server at 127.0.0.1:{dovecot.port} does not speak TLS "
        "from the start on this port (try STARTTLS, or the port for TLS, usually 993)."
    )


@pytest.mark.imap
def test_imap_starttls_on_a_server_without_it_says_so(dovecot):
    result = check_imap(target(dovecot, security=Security.STARTTLS))
    assert result.ok is False
    assert result.message.startswith(
        f"The server at 127.0.0.1:{dovecot.port} does not offer STARTTLS"
    )


def test_imap_nothing_listening_is_a_refused_connection():
    port = free_port()
    result = check_imap(ImapTarget("127.0.0.1", port, Security.NONE, "u", "secret-x"))
    assert result == result.__class__(
        False, f"No server answered at 127.0.0.1:{port} (connection refused)."
    )


def test_imap_a_server_that_never_greets_times_out(settings):
    settings.MAIL_IMAP_TIMEOUT_SECONDS = 0.3
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts the connection, never says a word
        port = silent.getsockname()[1]
        result = check_imap(ImapTarget("127.0.0.1", port, Security.NONE, "u", "secret-x"))
    assert result.ok is False
    assert result.message == f"The server at 127.0.0.1:{port} did not answer within 0.3 seconds."


@pytest.mark.parametrize(
    ("host", "said"),
    [
        ("a..b", "“a..b” is not a host name"),
        ("x" * 64 + ".example", "each part between dots must have 1 to 63 characters"),
    ],
)
def test_imap_a_host_name_that_is_not_one_is_said_not_raised(host, said):
    result = check_imap(ImapTarget(host, 993, Security.SSL, "u", "secret-x"))
    assert result.ok is False
    assert said in result.message


@pytest.mark.imap
@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"user": "jürgen"}, "The user or the secret contains characters other than ASCII"),
        ({"secret": "pässwort"}, "The user or the secret contains characters other than ASCII"),
        ({"folder": "Erledigt/Büro"}, "The folder name “Erledigt/Büro” contains characters"),
    ],
)
def test_imap_values_imaplib_cannot_send_are_said_not_raised(dovecot, changes, said):
    result = check_imap(target(dovecot, **changes))
    assert result.ok is False
    assert said in result.message
    assert "pässwort" not in result.message


def test_test_connection_on_the_page_with_a_bad_host_answers_in_words(admin_client, channel):
    response = post_mail(
        admin_client, channel, "test_imap", imap_host="a..b", imap_user="u", imap_secret="s"
    )
    assert response.status_code == 200
    assert "“a..b” is not a host name" in text(response)


@pytest.mark.imap
def test_test_connection_on_the_page_uses_the_typed_values_and_the_stored_secret(
    admin_client, channel, dovecot
):
    MailSettings.objects.create(
        channel=channel,
        imap_host=dovecot.host,
        imap_user=dovecot.user,
        imap_secret=dovecot.password,
        imap_port=1,
    )
    response = post_mail(
        admin_client,
        channel,
        "test_imap",
        imap_host=dovecot.host.upper(),  # a host name's case does not matter
        imap_port=str(dovecot.port),
        imap_security=Security.NONE,
        imap_user=dovecot.user,
    )
    assert response.status_code == 200
    assert f"Connected to 127.0.0.1:{dovecot.port} (no TLS), logged in as support" in text(response)
    assert dovecot.password not in response.content.decode()
    assert f'value="{dovecot.port}"' in response.content.decode()  # kept as typed
    assert MailSettings.objects.get(channel=channel).imap_port == 1  # not saved
    assert not channel.settings_changes.exists()

    refused = post_mail(
        admin_client,
        channel,
        "test_imap",
        imap_host=dovecot.host,
        imap_port=str(dovecot.port),
        imap_security=Security.NONE,
        imap_user=dovecot.user,
        imap_secret="Typo-Secret-55",
    )
    assert "The server refused the login" in text(refused)
    assert "Typo-Secret-55" not in refused.content.decode()


@pytest.mark.parametrize(
    "typed", [{"imap_host": "imap.attacker.example"}, {"imap_user": "someone-else"}]
)
def test_test_connection_never_sends_the_stored_secret_to_another_server_or_user(
    admin_client, stored, monkeypatch, typed
):
    """Anyone able to open the page could type their own server and collect the secret."""
    tried = []
    monkeypatch.setattr(
        "mailroom.connection_check.check_imap", lambda target, **kw: tried.append(target)
    )
    response = post_mail(admin_client, stored.channel, "test_imap", **typed)
    assert response.status_code == 200
    assert "Type the secret to test a different server" in text(response)
    assert tried == []


def test_test_connection_uses_the_stored_secret_with_the_saved_host_and_user(
    admin_client, stored, monkeypatch
):
    tried = []

    def check(target, **kwargs):
        tried.append(target)
        return CheckResult(True, "Connected (checked).")

    monkeypatch.setattr("mailroom.connection_check.check_imap", check)
    response = post_mail(admin_client, stored.channel, "test_imap", imap_port="143")
    assert "Connected (checked)." in text(response)
    assert [(t.host, t.port, t.user, t.secret) for t in tried] == [
        ("imap.example.com", 143, "support@helpdesk.example", STORED_SECRET)
    ]
    typed = post_mail(
        admin_client, stored.channel, "test_imap", imap_host="other.example", imap_secret="typed-1"
    )
    assert "Connected (checked)." in text(typed)
    assert (tried[-1].host, tried[-1].secret) == ("other.example", "typed-1")


def test_test_connection_says_what_is_missing_first(admin_client, channel):
    response = post_mail(admin_client, channel, "test_imap", imap_host="imap.example.com")
    assert "Enter the IMAP user first." in text(response)
    response = post_mail(admin_client, channel, "test_imap", imap_host="h", imap_user="u")
    assert "Type the secret first: none is stored." in text(response)
    response = post_mail(admin_client, channel, "test_imap", imap_port="0")
    assert "Fix the fields marked below, then test again." in text(response)


# ---------------------------------------------------------------------------------------
# Test connection: SMTP (a real aiosmtpd)
# ---------------------------------------------------------------------------------------


@pytest.fixture
def smtp_refusing(settings):
    """An aiosmtpd server that refuses every MAIL FROM with 550."""
    from aiosmtpd.controller import Controller

    class Refuse:
        async def handle_MAIL(self, server, session, envelope, address, mail_options):
            return "550 5.7.1 Sender not allowed here"

    port = free_port()
    controller = Controller(Refuse(), hostname="127.0.0.1", port=port)
    controller.start()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 5},
        }
    }
    try:
        yield port
    finally:
        controller.stop()


@pytest.mark.smtp
def test_smtp_the_server_accepts_the_sender_and_nothing_is_sent(smtp_server):
    result = check_smtp(sender="support@helpdesk.example")
    assert result.ok is True
    assert result.message.startswith(f"Connected to 127.0.0.1:{smtp_server.port} (no TLS): 220 ")
    assert result.message.endswith(
        "MAIL FROM:<support@helpdesk.example> accepted: 250 OK. Nothing was sent."
    )
    assert smtp_server.received == []


@pytest.mark.smtp
def test_smtp_a_refused_sender_is_the_servers_answer(smtp_refusing):
    result = check_smtp(sender="support@helpdesk.example")
    assert result.ok is False
    assert result.message.endswith(
        "The server refused MAIL FROM:<support@helpdesk.example>: 550 5.7.1 Sender not allowed here"
    )


def test_smtp_nothing_listening(settings):
    port = free_port()
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "password": "smtp-pw-1"},
        }
    }
    result = check_smtp(sender="a@b.example")
    assert (result.ok, result.message) == (
        False,
        f"No server answered at 127.0.0.1:{port} (connection refused).",
    )


def test_smtp_without_an_smtp_backend_there_is_nothing_to_test(settings):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
    result = check_smtp(sender="a@b.example")
    assert result.ok is None
    assert result.message == (
        "Mail is not sent by SMTP in this installation (the console backend: mail is printed "
        "on the console of the web and worker processes), so there is nothing to test."
    )


@pytest.mark.smtp
def test_smtp_an_idn_from_address_is_offered_in_its_ascii_form(smtp_server):
    result = check_smtp(sender="support@bücher.example")
    assert result.ok is True, result.message
    assert "MAIL FROM:<support@xn--bcher-kva.example> accepted: 250 OK." in result.message


@pytest.mark.smtp
def test_smtp_a_from_address_smtp_cannot_carry_is_said_not_raised(smtp_server):
    result = check_smtp(sender="jürgen@helpdesk.example")
    assert result.ok is False
    assert result.message == (
        "“jürgen@helpdesk.example” cannot be a from address here: the part before the @ has "
        "characters other than ASCII."
    )
    assert check_smtp(sender="a@b..example").ok is False


def test_smtp_a_host_name_that_is_not_one_is_said_not_raised(settings):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "smtp..example", "port": 25},
        }
    }
    result = check_smtp(sender="a@b.example")
    assert (result.ok, result.message) == (
        False,
        "“smtp..example” is not a host name: each part between dots must have 1 to 63 characters.",
    )


@pytest.mark.smtp
def test_test_sending_on_the_page_uses_the_typed_from_address(admin_client, channel, smtp_server):
    response = post_mail(admin_client, channel, "test_smtp", from_address="help@helpdesk.example")
    assert response.status_code == 200
    page = text(response)
    assert "MAIL FROM:<help@helpdesk.example> accepted: 250 OK. Nothing was sent." in page
    assert f"leave through the server of EMAIL_URL: 127.0.0.1:{smtp_server.port}" in page
    default = post_mail(admin_client, channel, "test_smtp")
    assert "MAIL FROM:<support@helpdesk.example> accepted" in text(default)
    assert not MailSettings.objects.exists()
