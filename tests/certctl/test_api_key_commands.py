from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from certctl.api.models import ApiKey
from certctl.kernel.credentials import hash_key
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_api_key_prints_the_key_last_and_stores_only_its_hash(api_client):
    out, err = run("create_api_key", "ci-bot", "--admin")
    raw = out.strip().splitlines()[-1]
    stored = ApiKey.objects.get(name="ci-bot")
    assert stored.is_admin
    assert stored.key_hash == hash_key(raw)
    assert raw not in {stored.key_hash, stored.key_prefix}
    assert "not shown again" in err

    response = api_client.get("/api/v1/auth/check", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.json()["admin"] is True
    assert response.json()["scopes"] == ["admin"]

    event = AuditEvent.objects.get(action="api_key_created")
    assert raw not in str(event.details)
    assert event.details["key_name"] == "ci-bot"


def test_create_api_key_with_scopes_teams_and_an_expiry(api_client):
    team = TeamFactory(name="payments")
    out, _ = run(
        "create_api_key",
        "pay-bot",
        "--scope",
        "read",
        "--scope",
        "approve",
        "--team",
        "payments",
        "--expires-in-days",
        "30",
    )
    raw = out.strip().splitlines()[-1]
    stored = ApiKey.objects.get(name="pay-bot")
    assert stored.scopes == ["read", "approve"]
    assert list(stored.teams.all()) == [team]
    assert 29 * 86400 < (stored.expires_at - stored.created_at).total_seconds() <= 30 * 86400
    body = api_client.get("/api/v1/auth/check", HTTP_AUTHORIZATION=f"Bearer {raw}").json()
    assert (body["scopes"], body["teams"]) == (["read", "approve"], [team.pk])
    with pytest.raises(CommandError, match="no team"):
        run("create_api_key", "other", "--team", "nowhere")
    assert not ApiKey.objects.filter(name="other").exists()


def test_create_api_key_refuses_a_duplicate_name():
    run("create_api_key", "dup")
    with pytest.raises(CommandError, match="already exists"):
        run("create_api_key", "dup")
    assert ApiKey.objects.filter(name="dup").count() == 1


@pytest.mark.parametrize("name", ["", "  ", "k" * 129, "a\x00b"])
def test_create_api_key_refuses_a_blank_or_overlong_name_with_one_line(name):
    """A 129-character name used to end in a DataError traceback on PostgreSQL (SQLite stored it)."""
    with pytest.raises(CommandError, match="key name must be 1 to 128 characters"):
        run("create_api_key", name)
    assert not ApiKey.objects.exists()
    assert not AuditEvent.objects.filter(action="api_key_created").exists()


def test_revoke_api_key_stops_the_key_and_audits(api_client):
    out, _ = run("create_api_key", "temp")
    raw = out.strip().splitlines()[-1]
    revoked_out, _ = run("revoke_api_key", "temp")
    assert "Revoked" in revoked_out
    assert api_client.get("/api/v1/teams", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    assert AuditEvent.objects.filter(action="api_key_revoked").count() == 1
    again, _ = run("revoke_api_key", "temp")
    assert "already revoked" in again
    assert AuditEvent.objects.filter(action="api_key_revoked").count() == 1


def test_revoke_api_key_of_an_unknown_name_fails():
    with pytest.raises(CommandError, match="no API key named"):
        run("revoke_api_key", "ghost")
