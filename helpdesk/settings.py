"""Settings for the helpdesk: one module, every knob read from the environment.

With no variables set the project runs embedded: a SQLite file beside manage.py, Celery
tasks executed eagerly in-process and email printed to the console. Production differs by
variables alone (see .env.example and the README's configuration table).
"""

from pathlib import Path
from urllib.parse import unquote, urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)

_DEV_SECRET_KEY = "dev-only-insecure-key-never-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    "helpdesk.apps.HelpdeskConfig",
    "channels_cfg.apps.ChannelsCfgConfig",
    "routing.apps.RoutingConfig",
    "notifications.apps.NotificationsConfig",
    "mailroom.apps.MailroomConfig",
    "whatsapp.apps.WhatsAppConfig",  # whatsapp: the Cloud API in and out
    "calls.apps.CallsConfig",  # calls: Twilio voice webhooks
    "webforms.apps.WebformsConfig",  # webforms: the public form pages /f/<public id>/
    "livechat.apps.LivechatConfig",  # livechat: the chat widget and the custom chat API
    "people.apps.PeopleConfig",  # people: an agent's own availability (R11)
    "demo.apps.DemoConfig",  # manage.py seed_demo; imports every app, none imports it
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the browser's (Accept-Language) here, the user's own choice once signed in.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "helpdesk.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # htmx asking for a part of a page after the session ended: the whole page signs in again
    "helpdesk.middleware.SignInAgainMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
# Connections: with DEBUG off (the production shape) each web thread and each worker process
# keeps its connection CONN_MAX_AGE seconds instead of opening one per request or task
# (3–10 ms each, and the prepared statements below are lost with it), and checks a connection
# it reuses before its first query (CONN_HEALTH_CHECKS: a restarted PostgreSQL costs one
# reconnect, not an error). Persistent connections rather than psycopg's pool: the pool is
# per process and does not survive Celery's prefork (its fixup closes the pool after every
# task), and a gthread web process needs a connection per thread anyway (the chat widget's
# long polls hold one each). At most WEB_CONCURRENCY × WEB_THREADS + the workers' processes
# connections; CONN_MAX_AGE=0 opens one per request again (e.g. behind PgBouncer).
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0 if DEBUG else 60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", env.bool("CONN_HEALTH_CHECKS", default=True))
# PostgreSQL: bind parameters on the server (bench_intake, 2 processes, 195 → 219–244 new
# tickets/s), and prepare a statement once a connection has run it DB_PREPARE_THRESHOLD
# times, so PostgreSQL stops parsing and planning the hot ones (routing's reads, the intake,
# the queues) again. Django leaves preparing off by default for transaction-mode poolers such
# as PgBouncer: set DB_PREPARE_THRESHOLD=none behind one.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options.setdefault("server_side_binding", env.bool("DB_SERVER_SIDE_BINDING", default=True))
    _threshold = env.str("DB_PREPARE_THRESHOLD", default="5")
    _options.setdefault(
        "prepare_threshold", None if _threshold.lower() == "none" else int(_threshold)
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "helpdesk.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Failed-login throttling (django-axes), over the last AXES_COOLOFF_HOURS: a username+address
# pair is locked after AXES_FAILURE_LIMIT failures (guessing one password), and an address
# after AXES_IP_FAILURE_LIMIT failures whatever the usernames (spraying one password over many).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_IP_FAILURE_LIMIT = env.int("AXES_IP_FAILURE_LIMIT", default=20)
if AXES_IP_FAILURE_LIMIT < AXES_FAILURE_LIMIT:
    raise ImproperlyConfigured("AXES_IP_FAILURE_LIMIT must be at least AXES_FAILURE_LIMIT.")
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
# Reverse proxies in front of the app that append the client address to X-Forwarded-For;
# with 0 the address is REMOTE_ADDR (behind a proxy: the proxy's, the same for everyone).
AXES_TRUSTED_PROXY_COUNT = env.int("AXES_TRUSTED_PROXY_COUNT", default=0)


# helpdesk/throttling.py: the address behind the proxies, and what a failure counts against.
AXES_LOCKOUT_PARAMETERS = "helpdesk.throttling.lockout_parameters"
AXES_CLIENT_IP_CALLABLE = "helpdesk.throttling.client_ip"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# The deployment's language: pages for a browser that asks for none of LANGUAGES, and what
# background work writes (routing explanations, notifications to users who chose nothing).
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", "English"), ("nb", "Norsk bokmål")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Named date formats per language (helpdesk/formats/<language>/formats.py).
FORMAT_MODULE_PATH = ["helpdesk.formats"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Django 6 content security policy: everything is served from here, nothing inline runs.
SECURE_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "media-src": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
# HTTPS, on by default when DEBUG is off. Behind a proxy that ends TLS, SECURE_PROXY_SSL_HEADER
# names the header it sets to "https" (e.g. X-Forwarded-Proto, or HTTP_X_FORWARDED_PROTO) —
# only when the proxy always sets or strips it, since a client could send it otherwise.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
_proxy_header = env.str("SECURE_PROXY_SSL_HEADER", default="").upper().replace("-", "_")
if _proxy_header and not _proxy_header.startswith("HTTP_"):
    _proxy_header = f"HTTP_{_proxy_header}"
SECURE_PROXY_SSL_HEADER = (_proxy_header, "https") if _proxy_header else None
USE_X_FORWARDED_HOST = env.bool("USE_X_FORWARDED_HOST", default=False)


def mailers_from_url(url: str) -> dict:
    """Turn EMAIL_URL (console://, locmem://, smtp://user:pass@host:port, smtp+tls://,
    smtp+ssl://) into Django 6.1's MAILERS setting."""
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme in {"console", "locmem", "dummy"}:
        backend = f"django.core.mail.backends.{scheme}.EmailBackend"
        return {"default": {"BACKEND": backend}}
    if scheme not in {"smtp", "smtp+tls", "smtp+ssl"}:
        raise ImproperlyConfigured(f"EMAIL_URL scheme {scheme!r} is not supported.")
    options = {
        "host": parts.hostname or "localhost",
        "port": parts.port or {"smtp": 25, "smtp+tls": 587, "smtp+ssl": 465}[scheme],
        "use_tls": scheme == "smtp+tls",
        "use_ssl": scheme == "smtp+ssl",
        "timeout": 10,
    }
    if parts.username:
        options["username"] = unquote(parts.username)
        options["password"] = unquote(parts.password or "")
    return {
        "default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": options}
    }


EMAIL_URL = env.str("EMAIL_URL", default="console://")
MAILERS = mailers_from_url(EMAIL_URL)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="helpdesk@localhost")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Celery: with no broker configured every task runs eagerly in the calling process.
CELERY_TASK_ALWAYS_EAGER = not env.str("CELERY_BROKER_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or "memory://"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The broker is a doorbell (helpdesk/jobs.py): publishing tries once and fails fast when
# the broker is down (max_retries 0 for the connection, no publish retries), and the sweeps
# below publish again whatever PostgreSQL says is overdue.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "max_retries": 0,
    "socket_connect_timeout": env.float("CELERY_BROKER_CONNECT_TIMEOUT", default=2.0),
}
CELERY_TASK_PUBLISH_RETRY = False
# Celery's Django fixup closes every connection before and after each task unless told to
# reuse them: with persistent connections it keeps them, and helpdesk/celery.py applies
# Django's own rule around each task instead (CONN_MAX_AGE, health checks, errors).
if DATABASES["default"]["CONN_MAX_AGE"]:
    CELERY_DB_REUSE_MAX = 10_000

# Queues, one per kind of work, so that a burst of one kind never waits ahead of another
# (a notification burst and the next routing decision): each is a list of its own in Redis.
# A worker started without -Q listens to all of them, taking turns (one worker on a small
# box); `WORKER_QUEUES=routing bin/serve worker` runs a worker of one (README, "Production
# shape"). Tasks go by name: the channels' intake (`<app>.tasks.process_<kind>_task`, named in
# INTAKE_TASKS) to "intake", sends to customers and form owners to "outbound", the
# announcements and deliveries of notifications to "notifications"; the sweeps and everything
# else of beat to the default queue. A queue missing from this list is an error, on publish
# and in a worker's -Q.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_QUEUES = [  # each bound by its own name (else Celery binds all by "celery")
    Queue(name, routing_key=name)
    for name in ("routing", "intake", "notifications", "outbound", "celery")
]
CELERY_TASK_CREATE_MISSING_QUEUES = False
CELERY_TASK_ROUTES = {
    "routing.tasks.route_ticket_task": {"queue": "routing"},
    "*.tasks.process_*_task": {"queue": "intake"},
    "mailroom.tasks.poll_mailbox_task": {"queue": "intake"},
    "notifications.tasks.announce_*_task": {"queue": "notifications"},
    "notifications.tasks.deliver_task": {"queue": "notifications"},
    "notifications.tasks.send_digest_task": {"queue": "notifications"},
    "mailroom.tasks.send_outbound_task": {"queue": "outbound"},
    "whatsapp.tasks.send_whatsapp_task": {"queue": "outbound"},
    "livechat.tasks.send_chat_webhook_task": {"queue": "outbound"},
    "routing.tasks.email_submission_to_owner_task": {"queue": "outbound"},
}
CELERY_TIMEZONE = "UTC"
# How often Celery beat runs each sweep.
SWEEP_SECONDS = env.float("SWEEP_SECONDS", default=60.0)
CELERY_BEAT_SCHEDULE = {
    "jobs-sweep": {"task": "helpdesk.tasks.sweep_jobs_task", "schedule": SWEEP_SECONDS},
    "routing-sweep-pending": {
        "task": "routing.tasks.sweep_pending_task",
        "schedule": SWEEP_SECONDS,
    },
    "routing-reroute-waiting": {
        "task": "routing.tasks.reroute_waiting_task",
        "schedule": SWEEP_SECONDS,
    },
    "notifications-sweep": {
        "task": "notifications.tasks.sweep_deliveries_task",
        "schedule": SWEEP_SECONDS,
    },
    "notifications-digests": {
        "task": "notifications.tasks.send_digests_task",
        "schedule": SWEEP_SECONDS,
    },
    "intake-sweep": {"task": "helpdesk.tasks.sweep_inbound_task", "schedule": SWEEP_SECONDS},
    "mail-poll": {"task": "mailroom.tasks.poll_mailboxes_task", "schedule": 60.0},
    "mail-outbound-sweep": {
        "task": "mailroom.tasks.sweep_outbound_task",
        "schedule": SWEEP_SECONDS,
    },
    # whatsapp: replies nobody sent (broker down, worker killed) are published again
    "whatsapp-outbound-sweep": {
        "task": "whatsapp.tasks.sweep_whatsapp_outbound_task",
        "schedule": SWEEP_SECONDS,
    },
}

# How long background work may wait for a worker before its sweep publishes it again:
# a job (helpdesk/jobs.py; doubled after every further attempt), a ticket pending routing,
# a notification delivery nobody took.
JOBS_GRACE_SECONDS = env.int("JOBS_GRACE_SECONDS", default=60)
ROUTING_PENDING_GRACE_SECONDS = env.int("ROUTING_PENDING_GRACE_SECONDS", default=120)
NOTIFICATIONS_PENDING_GRACE_SECONDS = env.int("NOTIFICATIONS_PENDING_GRACE_SECONDS", default=120)
# An email claimed for sending longer ago than this was interrupted (the worker died): it is
# tried again. Longer than the SMTP timeout.
EMAIL_SENDING_LEASE_SECONDS = env.int("EMAIL_SENDING_LEASE_SECONDS", default=120)
# First retry of a temporary SMTP failure; doubled after every further failure.
NOTIFICATIONS_RETRY_BASE_SECONDS = env.int("NOTIFICATIONS_RETRY_BASE_SECONDS", default=30)

# Intake (helpdesk/services/intake.py): an inbound event still RECEIVED this long after it
# was stored is processed again by the sweep; the task that processes each kind of event,
# named by string so the core imports no adapter.
INTAKE_GRACE_SECONDS = env.int("INTAKE_GRACE_SECONDS", default=120)
# Tries of an event that meets the database's passing trouble (a lost connection, a
# deadlock) before it is left FAILED for an admin; between tries it waits for the sweep.
INTAKE_MAX_ATTEMPTS = env.int("INTAKE_MAX_ATTEMPTS", default=5)
INTAKE_TASKS = {"email": "mailroom.tasks.process_email_task"}
# whatsapp app (the adapter's name is also a channel kind's value, which only
# helpdesk/channel_kinds.py may spell as a string)
INTAKE_TASKS.update(whatsapp="whatsapp.tasks.process_whatsapp_task")
INTAKE_TASKS["call"] = "calls.tasks.process_call_task"  # calls app
INTAKE_TASKS["form"] = "webforms.tasks.process_form_task"  # webforms app
# Inbound email (mailroom): attachments larger than these are not kept (listed in the
# message instead); the HTTP endpoint refuses bodies larger than MAIL_MAX_RAW_BYTES.
MAIL_MAX_ATTACHMENT_BYTES = env.int("MAIL_MAX_ATTACHMENT_BYTES", default=10 * 1024 * 1024)
MAIL_MAX_MESSAGE_BYTES = env.int("MAIL_MAX_MESSAGE_BYTES", default=25 * 1024 * 1024)
MAIL_MAX_RAW_BYTES = env.int("MAIL_MAX_RAW_BYTES", default=40 * 1024 * 1024)
# Acknowledgements (mailroom/acknowledge.py): at most this many automatic answers to one
# sender in MAIL_ACK_SENDER_WINDOW_HOURS, and to one domain in an hour.
MAIL_ACK_PER_SENDER = env.int("MAIL_ACK_PER_SENDER", default=5)
MAIL_ACK_SENDER_WINDOW_HOURS = env.int("MAIL_ACK_SENDER_WINDOW_HOURS", default=24)
MAIL_ACK_PER_DOMAIN = env.int("MAIL_ACK_PER_DOMAIN", default=200)
MAIL_IMAP_TIMEOUT_SECONDS = env.float("MAIL_IMAP_TIMEOUT_SECONDS", default=30.0)
MAIL_IMAP_BATCH = env.int("MAIL_IMAP_BATCH", default=25)

# Demo data (manage.py seed_demo).
DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="demo")
DEMO_API_TOKEN = env.str("DEMO_API_TOKEN", default="demo-agent-token-change-me")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        "celery.app.trace": {"level": env.str("CELERY_TASK_LOG_LEVEL", default="WARNING")},
    },
}

# WhatsApp (the whatsapp app, docs/channels/whatsapp.md): the webhook refuses deliveries
# larger than WHATSAPP_MAX_BODY_BYTES; media larger than WHATSAPP_MAX_MEDIA_BYTES is not kept;
# calls to the Graph API wait WHATSAPP_HTTP_TIMEOUT_SECONDS; a reply claimed longer ago than
# WHATSAPP_SENDING_LEASE_SECONDS was interrupted and is sent again; a status for a wamid we
# do not know yet is tried WHATSAPP_STATUS_MATCH_ATTEMPTS times (first retry after
# WHATSAPP_INBOUND_RETRY_BASE_SECONDS, doubling); at most WHATSAPP_REJECTIONS_PER_HOUR
# refused (unsigned) deliveries per channel and hour are kept as rejected events.
WHATSAPP_MAX_BODY_BYTES = env.int("WHATSAPP_MAX_BODY_BYTES", default=3 * 1024 * 1024)
WHATSAPP_MAX_MEDIA_BYTES = env.int("WHATSAPP_MAX_MEDIA_BYTES", default=16 * 1024 * 1024)
WHATSAPP_HTTP_TIMEOUT_SECONDS = env.float("WHATSAPP_HTTP_TIMEOUT_SECONDS", default=10.0)
WHATSAPP_SENDING_LEASE_SECONDS = env.int("WHATSAPP_SENDING_LEASE_SECONDS", default=60)
WHATSAPP_STATUS_MATCH_ATTEMPTS = env.int("WHATSAPP_STATUS_MATCH_ATTEMPTS", default=4)
WHATSAPP_INBOUND_RETRY_BASE_SECONDS = env.int("WHATSAPP_INBOUND_RETRY_BASE_SECONDS", default=5)
WHATSAPP_REJECTIONS_PER_HOUR = env.int("WHATSAPP_REJECTIONS_PER_HOUR", default=100)
# Calls (the calls app, docs/channels/calls.md): at most CALLS_REJECTIONS_PER_HOUR refused
# (badly signed) webhooks per channel and hour are kept; the incoming-call webhook's routing
# decision waits at most CALLS_DECISION_LOCK_TIMEOUT_MS for a lock (PostgreSQL), else the
# caller gets voicemail and the ticket is routed by the worker.
CALLS_REJECTIONS_PER_HOUR = env.int("CALLS_REJECTIONS_PER_HOUR", default=100)
CALLS_DECISION_LOCK_TIMEOUT_MS = env.int("CALLS_DECISION_LOCK_TIMEOUT_MS", default=3000)

# Web forms (the webforms app, docs/channels/forms.md): an attachment of at most
# FORMS_MAX_ATTACHMENT_BYTES, a message of at most FORMS_MAX_MESSAGE_CHARS; at most
# FORMS_RATE_PER_IP submissions from one client address and FORMS_RATE_PER_ADDRESS for one
# typed email address per FORMS_RATE_WINDOW_SECONDS (counted in the database; 0 = no limit);
# a rendered form may be sent for FORMS_TOKEN_MAX_AGE_SECONDS; the visitor cookie lasts
# FORMS_VISITOR_COOKIE_DAYS. Beat deletes the counters of past windows.
FORMS_MAX_ATTACHMENT_BYTES = env.int("FORMS_MAX_ATTACHMENT_BYTES", default=10 * 1024 * 1024)
FORMS_MAX_MESSAGE_CHARS = env.int("FORMS_MAX_MESSAGE_CHARS", default=20_000)
FORMS_RATE_PER_IP = env.int("FORMS_RATE_PER_IP", default=20)
FORMS_RATE_PER_ADDRESS = env.int("FORMS_RATE_PER_ADDRESS", default=5)
FORMS_RATE_WINDOW_SECONDS = env.int("FORMS_RATE_WINDOW_SECONDS", default=3600)
FORMS_TOKEN_MAX_AGE_SECONDS = env.int("FORMS_TOKEN_MAX_AGE_SECONDS", default=24 * 3600)
FORMS_VISITOR_COOKIE_DAYS = env.int("FORMS_VISITOR_COOKIE_DAYS", default=365)
CELERY_BEAT_SCHEDULE["webforms-prune-counts"] = {
    "task": "webforms.tasks.prune_counts_task",
    "schedule": 3600.0,
}

# Live chat (the livechat app, docs/channels/chat.md): a widget or API request of at most
# LIVECHAT_MAX_BODY_BYTES, a message of at most LIVECHAT_MAX_TEXT_CHARS; a visitor's token
# is valid LIVECHAT_TOKEN_MAX_AGE_DAYS. The widget's long poll waits at most
# LIVECHAT_WAIT_SECONDS (PostgreSQL LISTEN/NOTIFY; each wait holds a web thread and a
# database connection), at most LIVECHAT_WAITS_PER_VISITOR at a time per conversation and
# LIVECHAT_WAITS_PER_PROCESS per web process; without PostgreSQL the widget polls every
# LIVECHAT_SHORT_POLL_MS. The ticket page asks for new messages every
# LIVECHAT_AGENT_POLL_SECONDS. Custom chat replies are POSTed to the channel's webhook with
# a timeout of LIVECHAT_WEBHOOK_TIMEOUT_SECONDS, retried after
# LIVECHAT_WEBHOOK_RETRY_BASE_SECONDS (doubling); a send claimed longer ago than
# LIVECHAT_WEBHOOK_LEASE_SECONDS was interrupted and is sent again.
LIVECHAT_MAX_BODY_BYTES = env.int("LIVECHAT_MAX_BODY_BYTES", default=32 * 1024)
LIVECHAT_MAX_TEXT_CHARS = env.int("LIVECHAT_MAX_TEXT_CHARS", default=4000)
LIVECHAT_TOKEN_MAX_AGE_DAYS = env.int("LIVECHAT_TOKEN_MAX_AGE_DAYS", default=180)
LIVECHAT_WAIT_SECONDS = env.float("LIVECHAT_WAIT_SECONDS", default=20.0)
LIVECHAT_WAITS_PER_VISITOR = env.int("LIVECHAT_WAITS_PER_VISITOR", default=2)
# bin/serve runs WEB_THREADS threads per web process: all but 4 of them may wait.
LIVECHAT_WAITS_PER_PROCESS = env.int(
    "LIVECHAT_WAITS_PER_PROCESS", default=max(0, env.int("WEB_THREADS", default=16) - 4)
)
LIVECHAT_SHORT_POLL_MS = env.int("LIVECHAT_SHORT_POLL_MS", default=1500)
LIVECHAT_AGENT_POLL_SECONDS = env.int("LIVECHAT_AGENT_POLL_SECONDS", default=2)
LIVECHAT_WEBHOOK_TIMEOUT_SECONDS = env.float("LIVECHAT_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
LIVECHAT_WEBHOOK_RETRY_BASE_SECONDS = env.int("LIVECHAT_WEBHOOK_RETRY_BASE_SECONDS", default=30)
LIVECHAT_WEBHOOK_LEASE_SECONDS = env.int("LIVECHAT_WEBHOOK_LEASE_SECONDS", default=60)
INTAKE_TASKS["chat"] = "livechat.tasks.process_chat_task"  # livechat app
CELERY_BEAT_SCHEDULE["livechat-webhook-sweep"] = {  # livechat: webhook replies nobody sent
    "task": "livechat.tasks.sweep_chat_webhooks_task",
    "schedule": SWEEP_SECONDS,
}
# Live chat, continued: a visitor's message to a chat ticket closed more than
# LIVECHAT_NEW_CONVERSATION_AFTER_HOURS ago starts a new conversation (a new ticket, routed
# again); sooner, it reopens the ticket. Rate limits of the widget (livechat/throttle.py), per
# LIVECHAT_RATE_WINDOW_SECONDS: LIVECHAT_RATE_STARTS_PER_IP new visitor tokens per client
# address, LIVECHAT_RATE_MESSAGES_PER_CONVERSATION and LIVECHAT_RATE_MESSAGES_PER_IP visitor
# messages (0 = no limit); counted in Redis at LIVECHAT_RATE_REDIS_URL (default: the broker's
# when it is Redis), else in each process's memory. /chat/demo/ is served when DEBUG or
# LIVECHAT_DEMO is on.
LIVECHAT_NEW_CONVERSATION_AFTER_HOURS = env.float(
    "LIVECHAT_NEW_CONVERSATION_AFTER_HOURS", default=24.0
)
LIVECHAT_RATE_WINDOW_SECONDS = env.int("LIVECHAT_RATE_WINDOW_SECONDS", default=600)
LIVECHAT_RATE_STARTS_PER_IP = env.int("LIVECHAT_RATE_STARTS_PER_IP", default=20)
LIVECHAT_RATE_MESSAGES_PER_CONVERSATION = env.int(
    "LIVECHAT_RATE_MESSAGES_PER_CONVERSATION", default=60
)
LIVECHAT_RATE_MESSAGES_PER_IP = env.int("LIVECHAT_RATE_MESSAGES_PER_IP", default=300)
LIVECHAT_RATE_REDIS_URL = env.str(
    "LIVECHAT_RATE_REDIS_URL",
    default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "",
)
LIVECHAT_DEMO = env.bool("LIVECHAT_DEMO", default=DEBUG)
