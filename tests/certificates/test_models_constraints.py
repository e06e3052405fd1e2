"""CheckConstraints and validators hold on PostgreSQL even when the ORM's validation is bypassed."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from audit.models import AppendOnlyError, AuditEvent
from audit.services.record import record
from certificates import validators
from certificates.inventory.models import CertificateProfile, RenewalPolicy
from certificates.issuance.models import ApprovalRequest
from tests.factories import (
    AgentFactory,
    CertificateFactory,
    JobFactory,
    ProfileFactory,
    RenewalPolicyFactory,
    TargetFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("renewal_window_days", 0),
        ("renewal_window_days", 366),
        ("max_retries", 11),
        ("retry_interval_seconds", 59),
        ("retry_interval_seconds", 86401),
    ],
)
def test_policy_ranges_are_check_constraints_for_orm_updates(field, value):
    policy = RenewalPolicyFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        RenewalPolicy.objects.filter(pk=policy.pk).update(**{field: value})


def test_policy_ranges_are_check_constraints_for_raw_sql():
    policy = RenewalPolicyFactory()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE certificates_renewalpolicy SET renewal_window_days = 400 WHERE id = %s", [policy.id]
        )


def test_short_lived_profile_needs_a_ttl_under_an_hour_in_the_database():
    profile = ProfileFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        CertificateProfile.objects.filter(pk=profile.pk).update(allow_short_lived=True, max_ttl_seconds=7200)
    CertificateProfile.objects.filter(pk=profile.pk).update(allow_short_lived=True, max_ttl_seconds=600)
    profile.refresh_from_db()
    assert profile.is_short_lived


def test_target_name_is_unique_per_agent_in_the_database():
    agent = AgentFactory()
    TargetFactory(agent=agent, name="edge")
    with pytest.raises(IntegrityError), transaction.atomic():
        TargetFactory(agent=agent, name="edge")


def test_certificate_name_is_unique_in_the_database():
    CertificateFactory(name="one")
    with pytest.raises(IntegrityError), transaction.atomic():
        CertificateFactory(name="one")


def test_approval_state_and_decision_time_must_agree():
    job = JobFactory()
    profile = ProfileFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ApprovalRequest.objects.create(
            certificate=job.certificate, job=job, profile=profile, requested_by="x", state="approved"
        )


def test_only_one_pending_approval_per_job():
    job = JobFactory()
    profile = ProfileFactory()
    fields = {"certificate": job.certificate, "job": job, "profile": profile, "requested_by": "x"}
    ApprovalRequest.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        ApprovalRequest.objects.create(**fields)


def test_full_clean_runs_the_policy_validators():
    policy = RenewalPolicy(
        name="bad", alert_channels={"critical": ["Fax"]}, alert_severity_map={"x": "warning"}
    )
    with pytest.raises(ValidationError) as excinfo:
        policy.full_clean()
    assert {"alert_channels", "alert_severity_map"} <= excinfo.value.message_dict.keys()


@pytest.mark.parametrize(
    ("validator", "value", "needle"),
    [
        (validators.validate_thresholds, [], "non-empty"),
        (validators.validate_thresholds, [7, 7], "repeat"),
        (validators.validate_thresholds, [True], "True"),
        (validators.validate_alert_channels, {"urgent": ["Email"]}, "'urgent'"),
        (validators.validate_alert_channels, {"critical": "Email"}, "list"),
        (validators.validate_alert_channels, {"critical": ["Email", "Email"]}, "repeats"),
        (validators.validate_alert_channels, [], "object"),
        (validators.validate_severity_map, {"400": "critical"}, "'400'"),
        (validators.validate_severity_map, {"7": "loud"}, "'loud'"),
        (validators.validate_key_algorithms, [{"algorithm": "RSA", "min_size": 1024}], "2048"),
        (validators.validate_ekus, ["serverAuth", "ocspSigning"], "'ocspSigning'"),
        (validators.validate_regex_list, ["[a-"], "invalid regular expression"),
        (validators.validate_common_name, "bad name", "hostname"),
        (validators.validate_common_name, "x" * 254, "253"),
    ],
)
def test_validators_reject_bad_values_and_name_them(validator, value, needle):
    with pytest.raises(ValidationError) as excinfo:
        validator(value)
    assert needle in " ".join(excinfo.value.messages)


def test_audit_events_are_append_only():
    event = record("thing_done", resource_type="thing", resource_id="t-1")
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="other")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


def test_ids_carry_their_type_prefix():
    cert = CertificateFactory()
    assert cert.id.startswith("cert-")
    assert cert.owner_id.startswith("owner-")
    assert cert.renewal_policy_id.startswith("rp-")
