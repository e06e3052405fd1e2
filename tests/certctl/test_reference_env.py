"""The reference (Go) product's environment variables: aliases with a deprecation line, refused conflicts,
CERTCTL_AUTH_TYPE, CERTCTL_WEBHOOK_SIGNATURE, and the named API keys of CERTCTL_API_KEYS_NAMED (issue 22)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from audit.models import AuditEvent
from certctl.api.models import ApiKey
from certctl.kernel.credentials import hash_key
from certctl.kernel.env_aliases import NamedKey
from certctl.services.named_api_keys import ENV_KEY_PREFIX, sync_named_api_keys
from tests import REPO_ROOT

SHOWN = [
    "DATABASE_URL",
    "RENEWAL_CHECK_INTERVAL",
    "JOB_PROCESSOR_INTERVAL",
    "AGENT_HEALTH_CHECK_INTERVAL",
    "NOTIFICATION_PROCESS_INTERVAL",
    "JOB_RETRY_INTERVAL",
    "CRL_INTERVAL",
    "SMTP_SECURITY",
    "AUTH_TYPE",
    "API_KEYS_NAMED",
    "WEBHOOK_SIGNATURE",
]


def load_settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("CERTCTL_", "DATABASE_URL", "REDIS_URL"))
    }
    base |= {"CERTCTL_DEBUG": "true", "CERTCTL_DATA_DIR": str(tmp_path)}
    code = f"import json, certctl.settings as s; print(json.dumps({{n: getattr(s, n) for n in {SHOWN!r}}}))"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_with(tmp_path: Path, **env: str) -> tuple[dict, list[str]]:
    run = load_settings(tmp_path, **env)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout), [line for line in run.stderr.splitlines() if line.startswith("certctl:")]


def refusal(tmp_path: Path, **env: str) -> str:
    run = load_settings(tmp_path, **env)
    assert run.returncode != 0
    return run.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("old", "value", "setting", "expected", "new"),
    [
        ("CERTCTL_DATABASE_URL", "postgres://u:p@db.example:5432/cc", "DATABASE_URL", None, "DATABASE_URL"),
        (
            "CERTCTL_SCHEDULER_RENEWAL_CHECK_INTERVAL",
            "2h",
            "RENEWAL_CHECK_INTERVAL",
            7200,
            "CERTCTL_RENEWAL_CHECK_INTERVAL",
        ),
        (
            "CERTCTL_SCHEDULER_JOB_PROCESSOR_INTERVAL",
            "45s",
            "JOB_PROCESSOR_INTERVAL",
            45,
            "CERTCTL_JOB_PROCESSOR_INTERVAL",
        ),
        (
            "CERTCTL_SCHEDULER_AGENT_HEALTH_CHECK_INTERVAL",
            "3m",
            "AGENT_HEALTH_CHECK_INTERVAL",
            180,
            "CERTCTL_AGENT_HEALTH_CHECK_INTERVAL",
        ),
        (
            "CERTCTL_SCHEDULER_NOTIFICATION_PROCESS_INTERVAL",
            "90s",
            "NOTIFICATION_PROCESS_INTERVAL",
            90,
            "CERTCTL_NOTIFICATION_PROCESS_INTERVAL",
        ),
        ("CERTCTL_SCHEDULER_RETRY_INTERVAL", "10m", "JOB_RETRY_INTERVAL", 600, "CERTCTL_JOB_RETRY_INTERVAL"),
        ("CERTCTL_CRL_GENERATION_INTERVAL", "6h", "CRL_INTERVAL", 21600, "CERTCTL_CRL_INTERVAL"),
        ("CERTCTL_SMTP_USE_TLS", "true", "SMTP_SECURITY", "tls", "CERTCTL_SMTP_SECURITY"),
        ("CERTCTL_SMTP_USE_TLS", "false", "SMTP_SECURITY", "none", "CERTCTL_SMTP_SECURITY"),
    ],
)
def test_a_reference_variable_sets_ours_with_one_deprecation_line(
    tmp_path, old, value, setting, expected, new
):
    seen, warnings = settings_with(tmp_path, **{old: value})
    assert seen[setting] == (value if expected is None else expected)
    assert warnings == [f"certctl: {old} is deprecated, set {new} instead (docs/migrating-from-go.md)"]


def test_without_reference_variables_nothing_is_printed_and_the_defaults_hold(tmp_path):
    seen, warnings = settings_with(tmp_path)
    assert warnings == []
    assert (seen["AUTH_TYPE"], seen["API_KEYS_NAMED"], seen["WEBHOOK_SIGNATURE"]) == (
        "api-key",
        [],
        "certctl",
    )
    assert seen["CRL_INTERVAL"] == 3600 and seen["SMTP_SECURITY"] == "starttls"


def test_both_names_set_to_the_same_value_is_accepted(tmp_path):
    seen, _ = settings_with(
        tmp_path,
        CERTCTL_CRL_GENERATION_INTERVAL="1h",
        CERTCTL_CRL_INTERVAL="60m",
        CERTCTL_SMTP_USE_TLS="true",
    )
    assert seen["CRL_INTERVAL"] == 3600


@pytest.mark.parametrize(
    ("env", "names"),
    [
        (
            {"CERTCTL_CRL_GENERATION_INTERVAL": "2h", "CERTCTL_CRL_INTERVAL": "1h"},
            ("CERTCTL_CRL_GENERATION_INTERVAL", "CERTCTL_CRL_INTERVAL"),
        ),
        (
            {"CERTCTL_DATABASE_URL": "postgres://a/b", "DATABASE_URL": "postgres://c/d"},
            ("CERTCTL_DATABASE_URL", "DATABASE_URL"),
        ),
        (
            {"CERTCTL_SMTP_USE_TLS": "true", "CERTCTL_SMTP_SECURITY": "starttls"},
            ("CERTCTL_SMTP_USE_TLS", "CERTCTL_SMTP_SECURITY"),
        ),
    ],
)
def test_a_conflicting_pair_stops_start_up_naming_both(tmp_path, env, names):
    message = refusal(tmp_path, **env)
    assert "ImproperlyConfigured" in message and all(name in message for name in names)


def test_auth_type_api_key_is_accepted_and_none_is_refused(tmp_path):
    seen, warnings = settings_with(tmp_path, CERTCTL_AUTH_TYPE="api-key")
    assert seen["AUTH_TYPE"] == "api-key" and len(warnings) == 1 and "CERTCTL_AUTH_TYPE" in warnings[0]
    message = refusal(tmp_path, CERTCTL_AUTH_TYPE="none")
    assert "CERTCTL_AUTH_TYPE=none is not supported" in message and "without authentication" in message
    assert "must be api-key" in refusal(tmp_path, CERTCTL_AUTH_TYPE="jwt")


def test_webhook_signature_is_certctl_or_reference(tmp_path):
    seen, _ = settings_with(tmp_path, CERTCTL_WEBHOOK_SIGNATURE="Reference")
    assert seen["WEBHOOK_SIGNATURE"] == "reference"
    assert "CERTCTL_WEBHOOK_SIGNATURE" in refusal(tmp_path, CERTCTL_WEBHOOK_SIGNATURE="hmac")


def test_named_keys_are_parsed_in_the_reference_format(tmp_path):
    seen, warnings = settings_with(
        tmp_path, CERTCTL_API_KEYS_NAMED="ci:k-one-secret, ops:k-two-secret:admin,ci:k-three-secret"
    )
    assert seen["API_KEYS_NAMED"] == [
        ["ci", "k-one-secret", False],
        ["ops", "k-two-secret", True],
        ["ci", "k-three-secret", False],
    ]
    assert len(warnings) == 1 and "3 key(s)" in warnings[0]
    assert not any("secret" in line for line in warnings)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("ci", "expected name:key"),
        ("ci:k1:root", "expected name:key"),
        ("bad name:k1", "letters, digits"),
        ("ci:", "the key is empty"),
        ("ci:k1,ci:k2:admin", "same admin flag"),
        ("ci:k1,ci:k1", "listed twice"),
        ("ci:k1,ops:k1", "another name"),
    ],
)
def test_malformed_named_keys_stop_start_up_without_showing_a_key(tmp_path, value, problem):
    message = refusal(tmp_path, CERTCTL_API_KEYS_NAMED=value)
    assert "CERTCTL_API_KEYS_NAMED" in message and problem in message
    assert "k1" not in message and "k2" not in message


# --- The named keys become rows after migrate -------------------------------------------------------------


def _authenticates(api_client, key: str) -> int:
    return api_client.get("/api/v1/auth/check", HTTP_AUTHORIZATION=f"Bearer {key}").status_code


@pytest.mark.django_db
def test_named_keys_are_created_hashed_and_authenticate(api_client):
    outcome = sync_named_api_keys(
        [NamedKey("ci", "ci-key-0001", False), NamedKey("ops", "ops-key-0001", True)]
    )
    assert outcome["created"] == 2
    ci, ops = ApiKey.objects.get(name="ci"), ApiKey.objects.get(name="ops")
    assert (ci.key_hash, ci.key_prefix, ci.is_admin) == (hash_key("ci-key-0001"), ENV_KEY_PREFIX, False)
    assert ops.is_admin
    assert _authenticates(api_client, "ci-key-0001") == 200
    check = api_client.get("/api/v1/auth/check", HTTP_AUTHORIZATION="Bearer ops-key-0001").json()
    assert (check["user"], check["admin"]) == ("ops", True)
    assert AuditEvent.objects.filter(action="api_key_created", actor="CERTCTL_API_KEYS_NAMED").count() == 2


@pytest.mark.django_db
def test_a_second_run_changes_nothing_and_a_rotated_key_replaces_the_old_one(api_client):
    keys = [NamedKey("ci", "ci-key-0001", False), NamedKey("ci", "ci-key-0002", False)]
    assert sync_named_api_keys(keys)["created"] == 2
    assert sorted(ApiKey.objects.values_list("name", flat=True)) == ["ci", "ci~2"]
    assert sync_named_api_keys(keys)["unchanged"] == 2
    # Rotation done: only the new key stays listed; the old one stops working.
    outcome = sync_named_api_keys([NamedKey("ci", "ci-key-0002", False)])
    assert (outcome["unchanged"], outcome["revoked"]) == (1, 1)
    assert _authenticates(api_client, "ci-key-0002") == 200
    assert _authenticates(api_client, "ci-key-0001") == 401
    # A new key for the name takes the free row; the admin flag can change.
    outcome = sync_named_api_keys([NamedKey("ci", "ci-key-0002", True), NamedKey("ci", "ci-key-0003", False)])
    assert (outcome["updated"], outcome["created"]) == (2, 0)
    assert ApiKey.objects.get(key_hash=hash_key("ci-key-0002")).is_admin
    assert _authenticates(api_client, "ci-key-0003") == 200


@pytest.mark.django_db
def test_a_key_made_in_certctl_is_never_taken_over_and_an_unset_variable_revokes_nothing(api_client):
    ApiKey.objects.create(name="ci", key_prefix="cctl_abc", key_hash=hash_key("made-in-certctl"))
    assert sync_named_api_keys([NamedKey("ci", "env-key-0001", False)])["skipped"] == 1
    assert ApiKey.objects.get(name="ci").key_hash == hash_key("made-in-certctl")
    sync_named_api_keys([NamedKey("ops", "ops-key-0001", True)])
    assert sync_named_api_keys([])["revoked"] == 0
    assert _authenticates(api_client, "ops-key-0001") == 200


@pytest.mark.django_db
def test_migrate_synchronises_the_named_keys_of_the_settings(settings):
    from django.core.management import call_command

    settings.API_KEYS_NAMED = (NamedKey("deploy-bot", "deploy-bot-key-1", False),)
    call_command("migrate", verbosity=0)
    assert ApiKey.objects.get(name="deploy-bot").key_hash == hash_key("deploy-bot-key-1")
