"""Access control beyond the scope matrix (tests/certctl/api/test_scope_matrix.py): key expiry, the migration of
existing keys, the two-person rule's settings, staff groups and staff bound to teams in the admin and the API."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from certctl.models import TeamMembership
from certificates.models import ApprovalRequest, CertificateProfile, ManagedCertificate
from tests.certctl.test_deploy_checks import manage
from tests.factories import (
    AgentFactory,
    CertificateFactory,
    JobFactory,
    OwnerFactory,
    ProfileFactory,
    TeamFactory,
    make_api_key,
)

User = get_user_model()


def bearer(client, key: str):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.mark.django_db
def test_an_expired_key_is_refused_and_one_still_valid_works(api_client):
    _, old = make_api_key("old", expires_at=timezone.now() - timedelta(seconds=1))
    _, fresh = make_api_key("fresh", expires_at=timezone.now() + timedelta(days=1))
    response = bearer(api_client, old).get("/api/v1/teams")
    assert response.status_code == 401
    assert response.json()["message"] == "API key expired"
    assert bearer(api_client, fresh).get("/api/v1/teams").status_code == 200


@pytest.mark.django_db
def test_a_write_key_cannot_switch_the_two_person_rule_off(api_client):
    profile = ProfileFactory(requires_approval=True)
    _, writer = make_api_key("writer")  # read + write, as every non-admin key before scopes
    response = bearer(api_client, writer).patch(
        f"/api/v1/profiles/{profile.pk}", {"requires_approval": False}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    profile.refresh_from_db()
    assert profile.requires_approval is True
    assert not AuditEvent.objects.filter(action__startswith="profile_").exists()


@pytest.mark.django_db
def test_changing_an_approval_setting_is_audited_with_before_and_after(api_client, admin_client):
    profile = ProfileFactory(requires_approval=True, max_sans=100)
    _, admin_key = make_api_key("boss", is_admin=True)
    response = bearer(api_client, admin_key).patch(
        f"/api/v1/profiles/{profile.pk}", {"requires_approval": False, "max_sans": 50}, format="json"
    )
    assert response.status_code == 200, response.content
    changed = AuditEvent.objects.get(action="profile_changed", resource_id=profile.pk)
    assert changed.actor == "boss"
    assert changed.details["before"] == {"max_sans": 100, "requires_approval": True}
    assert changed.details["after"] == {"max_sans": 50, "requires_approval": False}
    approval = AuditEvent.objects.get(action="profile_approval_changed", resource_id=profile.pk)
    assert (approval.details["before"], approval.details["after"]) == (
        {"requires_approval": True},
        {"requires_approval": False},
    )

    # The admin's form goes through the same service.
    page = admin_client.get(reverse("admin:certificates_certificateprofile_change", args=[profile.pk]))
    form = page.context["adminform"].form
    data = {}
    for name, value in form.initial.items():
        if name not in form.fields or value is None or value is False:
            continue
        data[name] = json.dumps(value) if isinstance(value, (list, dict)) else value
    data["requires_approval"] = "on"
    response = admin_client.post(
        reverse("admin:certificates_certificateprofile_change", args=[profile.pk]), data
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert CertificateProfile.objects.get(pk=profile.pk).requires_approval is True
    assert AuditEvent.objects.filter(action="profile_approval_changed", resource_id=profile.pk).count() == 2


def test_existing_keys_keep_their_rights_through_the_migration(tmp_path):
    for target in ([], ["certctl", "0002"]):  # everything, then back to before scopes
        result = manage(["migrate", *target, "--no-input"], tmp_path, CERTCTL_DEBUG="true")
        assert result.returncode == 0, result.stderr
    db = sqlite3.connect(tmp_path / "db.sqlite3")
    rows = [("key-a", "ops", "a" * 64, 1), ("key-b", "ci", "b" * 64, 0)]
    db.executemany(
        "INSERT INTO certctl_apikey (id, name, key_prefix, key_hash, is_admin, created_at) "
        "VALUES (?, ?, 'cctl_x', ?, ?, '2026-01-01 00:00:00')",
        rows,
    )
    db.execute(
        "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, "
        "is_active, date_joined) VALUES ('!', 0, 'staffer', '', '', '', 1, 1, '2026-01-01 00:00:00')"
    )
    db.commit()
    result = manage(["migrate", "--no-input"], tmp_path, CERTCTL_DEBUG="true")
    assert result.returncode == 0, result.stderr
    scopes = dict(db.execute("SELECT name, scopes FROM certctl_apikey").fetchall())
    assert scopes == {"ops": '["admin"]', "ci": '["read", "write"]'}
    groups = {name for (name,) in db.execute("SELECT name FROM auth_group")}
    assert {"Operators", "Approvers", "Auditors"} <= groups
    staff_perms = {
        code
        for (code,) in db.execute(
            "SELECT p.codename FROM auth_user_user_permissions up JOIN auth_permission p ON p.id = up.permission_id"
        )
    }
    assert staff_perms == {"api_read", "api_write"}  # the staff user keeps today's API rights


def staff(name: str, group: str, *teams) -> User:
    user = User.objects.create_user(name, password="pw-123456", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    for team in teams:
        TeamMembership.objects.create(user=user, team=team)
    return user


@pytest.mark.django_db
def test_groups_give_the_admin_rights_they_name(client):
    certificate = CertificateFactory()
    job = JobFactory(certificate=certificate, status="AwaitingApproval")
    approval = ApprovalRequest.objects.create(
        certificate=certificate, job=job, profile=ProfileFactory(), requested_by="requester"
    )
    changelist = reverse("admin:certificates_managedcertificate_changelist")
    archive = {"action": "archive_selected", "_selected_action": [certificate.pk]}

    client.force_login(staff("audrey", "Auditors"))
    assert client.get(changelist).status_code == 200
    assert client.get(reverse("admin:audit_auditevent_changelist")).status_code == 200
    client.post(changelist, archive)
    assert ManagedCertificate.objects.get(pk=certificate.pk).status != "Archived"
    assert client.get(reverse("admin:certificates_issuer_add")).status_code == 403
    decide = {"action": "approve_selected", "_selected_action": [approval.pk]}
    client.post(reverse("admin:certificates_approvalrequest_changelist"), decide)
    assert ApprovalRequest.objects.get(pk=approval.pk).state == "pending"

    client.force_login(staff("april", "Approvers"))
    client.post(reverse("admin:certificates_approvalrequest_changelist"), decide)
    assert ApprovalRequest.objects.get(pk=approval.pk).state == "approved"
    client.post(changelist, archive)
    assert ManagedCertificate.objects.get(pk=certificate.pk).status != "Archived"

    client.force_login(staff("otto", "Operators"))
    assert client.get(reverse("admin:certificates_issuer_add")).status_code == 403
    client.post(changelist, archive)
    assert ManagedCertificate.objects.get(pk=certificate.pk).status == "Archived"


@pytest.mark.django_db
def test_staff_bound_to_a_team_see_only_its_rows_in_the_admin_and_the_api(client, api_client):
    mine, theirs = TeamFactory(name="payments"), TeamFactory(name="search")
    own = CertificateFactory(name="pay-api", team=mine, owner=OwnerFactory(team=mine))
    other = CertificateFactory(name="search-api", team=theirs, owner=OwnerFactory(team=theirs))
    user = staff("pat", "Operators", mine)
    client.force_login(user)
    page = client.get(reverse("admin:certificates_managedcertificate_changelist")).content.decode()
    assert "pay-api" in page and "search-api" not in page
    response = client.get(reverse("admin:certificates_managedcertificate_change", args=[other.pk]))
    assert response.status_code == 302  # "doesn't exist", back to the index
    assert (
        client.get(reverse("admin:certificates_managedcertificate_change", args=[own.pk])).status_code == 200
    )
    audit = client.get(reverse("admin:audit_auditevent_changelist")).status_code
    assert audit == 200

    api_client.force_login(user)
    listed = {row["id"] for row in api_client.get("/api/v1/certificates").json()["data"]}
    assert listed == {own.pk}
    assert api_client.get(f"/api/v1/certificates/{other.pk}").status_code == 404
    assert api_client.get("/api/v1/auth/check").json()["teams"] == [mine.pk]


@pytest.mark.django_db
def test_bulk_operations_of_a_team_bound_key_stay_within_its_teams(api_client):
    mine, theirs = TeamFactory(name="payments"), TeamFactory(name="search")
    own = CertificateFactory(team=mine, owner=OwnerFactory(team=mine))
    other = CertificateFactory(team=theirs, owner=OwnerFactory(team=theirs))
    _, key = make_api_key("payments-bot", scopes=["read", "write", "admin"], teams=[mine])
    client = bearer(api_client, key)

    for path in ("/api/v1/certificates/bulk-renew", "/api/v1/certificates/bulk-revoke"):
        body = {"reason": "superseded"} if path.endswith("revoke") else {}
        unbounded = client.post(path, {**body, "owner_id": other.owner_id}, format="json")
        assert unbounded.status_code == 400, unbounded.content
        assert "team-bound" in unbounded.json()["fields"]["team_id"][0]
        foreign = client.post(path, {**body, "team_id": theirs.pk}, format="json")
        assert foreign.status_code == 400
        ids = client.post(path, {**body, "certificate_ids": [own.pk, other.pk]}, format="json")
        assert ids.status_code == 400
        assert other.pk in ids.json()["fields"]["certificate_ids"][0]
    assert ManagedCertificate.objects.get(pk=other.pk).status == other.status

    moved = client.post(
        "/api/v1/certificates/bulk-reassign",
        {"certificate_ids": [other.pk], "owner_id": own.owner_id},
        format="json",
    )
    assert moved.status_code == 400
    assert ManagedCertificate.objects.get(pk=other.pk).owner_id == other.owner_id
    stolen = client.post(
        "/api/v1/certificates",
        {"name": "x", "common_name": "x.example.test", "owner_id": other.owner_id},
        format="json",
    )
    assert stolen.status_code == 400 and "owner_id" in stolen.json()["fields"]
    created = client.post(
        "/api/v1/targets",
        {"name": "edge", "type": "NGINX", "agent_id": AgentFactory().pk, "config": {}},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert created.json()["team_id"] == mine.pk  # the key's one team
