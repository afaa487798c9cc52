"""The production configuration: static files under the manifest storage, transport security
from the environment (`check --deploy` clean with the README's production variables), and the
sign-in throttle per username+address and per address (password spraying)."""

import ast
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management import call_command
from django.test import RequestFactory

from helpdesk.throttling import client_ip
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
LOGIN = "/accounts/login/"
MANIFEST_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"


# ---------------------------------------------------------------------------------------
# Static files
# ---------------------------------------------------------------------------------------


def test_collectstatic_with_the_production_manifest_storage(settings, tmp_path):
    """`make test` collects with DEBUG on (plain storage); production's manifest storage also
    follows every url() and sourceMappingURL and stops on a missing file."""
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": MANIFEST_STORAGE}}

    call_command("collectstatic", interactive=False, verbosity=0)

    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    for name in ("vendor/bootstrap/bootstrap.min.css", "vendor/bootstrap/bootstrap.bundle.min.js"):
        assert re.search(r"\.[0-9a-f]{12}\.(css|js)$", manifest[name])
        assert (tmp_path / manifest[name]).is_file()
        assert (tmp_path / f"{manifest[name]}.gz").is_file()  # WhiteNoise's compressed copy
    assert staticfiles_storage.url("css/helpdesk.css") == f"/static/{manifest['css/helpdesk.css']}"


# ---------------------------------------------------------------------------------------
# Transport security from the environment
# ---------------------------------------------------------------------------------------


def readme_production_env() -> dict[str, str]:
    """The variables the README's "Production shape" exports, with its placeholders (…)
    filled in: a fresh SECRET_KEY, and 127.0.0.1 as the host of every URL."""
    section = (ROOT / "README.md").read_text().split("## Production shape", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    exports = re.search(r"^export (.*?[^\\])$", block, re.S | re.M).group(1)
    env = dict(word.split("=", 1) for word in shlex.split(exports.replace("\\\n", " ")))
    env = {k: v.replace("…", "127.0.0.1") for k, v in env.items()}
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    return env


def clean_environ() -> dict[str, str]:
    """This process's environment without any variable .env.example documents, so the
    subprocess sees the defaults plus what a test sets."""
    documented = re.findall(r"^#?([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M)
    # The browser tests allow Django's async-unsafe calls in this process; a deployment never.
    test_only = {"DJANGO_ALLOW_ASYNC_UNSAFE"}
    return {k: v for k, v in os.environ.items() if k not in {*documented, *test_only}}


def run_python(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**clean_environ(), "DJANGO_SETTINGS_MODULE": "helpdesk.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def security_settings(env: dict[str, str]) -> dict:
    names = [
        "DEBUG",
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SECURE_PROXY_SSL_HEADER",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "AXES_TRUSTED_PROXY_COUNT",
    ]
    code = f"from django.conf import settings; print({{n: getattr(settings, n) for n in {names}}})"
    result = run_python(env, "-c", code)
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout)


def test_check_deploy_is_clean_with_the_readme_production_variables():
    env = readme_production_env()
    assert env["DEBUG"] == "false" and "ALLOWED_HOSTS" in env

    result = run_python(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_defaults_turn_on_https_and_hsts():
    found = security_settings(readme_production_env())

    assert found == {
        "DEBUG": False,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_HSTS_PRELOAD": True,
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "AXES_TRUSTED_PROXY_COUNT": 1,
    }


def test_debug_defaults_stay_on_plain_http_and_each_knob_can_be_set():
    assert security_settings({}) == {
        "DEBUG": True,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "AXES_TRUSTED_PROXY_COUNT": 0,
    }
    chosen = security_settings(
        {
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "SECURE_SSL_REDIRECT": "false",
            "SECURE_HSTS_SECONDS": "3600",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS": "false",
            "SECURE_HSTS_PRELOAD": "false",
            "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO",
        }
    )
    assert chosen["SECURE_SSL_REDIRECT"] is False
    assert chosen["SECURE_HSTS_SECONDS"] == 3600
    assert chosen["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is chosen["SECURE_HSTS_PRELOAD"] is False
    assert chosen["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")


# ---------------------------------------------------------------------------------------
# Sign-in throttling (django-axes)
# ---------------------------------------------------------------------------------------


@pytest.fixture
def limits(settings):
    """3 failures lock a username+address pair, 6 lock an address."""
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_IP_FAILURE_LIMIT = 6
    return settings


def sign_in(client, username: str, password: str, address: str, **headers):
    return client.post(
        LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address, **headers
    )


def signed_in(response) -> bool:
    return response.status_code == 302


def locked(response) -> bool:
    return response.status_code == 429


def test_one_password_sprayed_over_many_usernames_locks_the_address(client, agent, limits):
    for n in range(6):
        response = sign_in(client, f"victim{n}", "Summer2026!", "203.0.113.7")
    assert locked(response)

    assert locked(sign_in(client, "agent", PASSWORD, "203.0.113.7"))
    assert signed_in(sign_in(client, "agent", PASSWORD, "198.51.100.2"))


def test_failures_under_the_address_limit_from_colleagues_lock_nobody(client, agent, limits):
    for n in range(5):  # five colleagues behind one NAT mistype once each
        assert not locked(sign_in(client, f"colleague{n}", "typo", "192.0.2.10"))

    assert signed_in(sign_in(client, "agent", PASSWORD, "192.0.2.10"))


def test_a_sign_in_clears_its_own_pair_only_not_the_address_count(client, agent, limits):
    """Otherwise anyone with one account could reset the address's count between guesses."""
    for n in range(5):
        sign_in(client, f"victim{n}", "guess", "203.0.113.7")
    assert signed_in(sign_in(client, "agent", PASSWORD, "203.0.113.7"))
    client.logout()

    assert locked(sign_in(client, "victim9", "guess", "203.0.113.7"))


def test_repeated_failures_lock_the_username_and_address_pair(client, agent, other_agent, limits):
    for _ in range(3):
        response = sign_in(client, "agent", "wrong", "203.0.113.7")
    assert locked(response)

    assert locked(sign_in(client, "agent", PASSWORD, "203.0.113.7"))
    assert signed_in(sign_in(client, "agent", PASSWORD, "198.51.100.2"))
    client.logout()
    assert signed_in(sign_in(client, "other_agent", PASSWORD, "203.0.113.7"))


def test_behind_a_proxy_the_address_is_the_one_the_proxy_saw(settings):
    settings.AXES_TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().post(
        LOGIN, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7"
    )
    assert client_ip(request) == "203.0.113.7"  # the forged left entry is ignored

    settings.AXES_TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.1"


def test_spraying_behind_a_proxy_locks_the_client_not_the_proxy(client, agent, limits):
    limits.AXES_TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.1"
    for n in range(6):
        forged = f"198.18.0.{n}, 203.0.113.7"  # a new forged entry each time changes nothing
        response = sign_in(client, f"victim{n}", "x", proxy, HTTP_X_FORWARDED_FOR=forged)
    assert locked(response)

    assert signed_in(sign_in(client, "agent", PASSWORD, proxy, HTTP_X_FORWARDED_FOR="198.51.100.2"))
