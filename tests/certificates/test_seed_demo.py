"""`manage.py seed_demo` loads a demo estate in every state, and a second run changes nothing."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from certificates import models as m
from certificates.enums import CertificateStatus, JobStatus
from certificates.issuance.issuers.ca_store import load_ca
from certificates.issuance.services.job_processor import reap_timeouts
from notifications.channels import targets
from notifications.models import Destination

MODELS = [
    m.Team, m.Owner, m.RenewalPolicy, m.Issuer, m.CertificateProfile, m.Agent, m.DeploymentTarget,
    m.ManagedCertificate, m.CertificateVersion, m.Job, m.CertificateRevocation,
]  # fmt: skip


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


@pytest.mark.django_db
def test_seed_demo_is_idempotent():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first = counts()
    call_command("seed_demo", stdout=out)
    assert counts() == first
    assert "created: 0 teams, 0 owners" in out.getvalue().splitlines()[-1]


@pytest.mark.django_db
def test_seed_demo_builds_the_documented_estate():
    call_command("seed_demo", stdout=StringIO())
    assert (m.Team.objects.count(), m.Owner.objects.count(), m.RenewalPolicy.objects.count()) == (3, 5, 2)
    assert 28 <= m.ManagedCertificate.objects.count() <= 32
    assert set(Counter(m.ManagedCertificate.objects.values_list("status", flat=True))) == set(
        CertificateStatus.values
    )
    matrices = {p.name: p.alert_channels for p in m.RenewalPolicy.objects.all()}
    assert matrices["standard"] != matrices["critical-services"]
    assert set(matrices["critical-services"]["critical"]) == {"PagerDuty", "OpsGenie", "Email"}

    issuer = m.Issuer.objects.get(type="local")
    assert load_ca(issuer).certificate.subject.rfc4514_string() == "CN=certctl Demo Root CA"
    assert m.CertificateProfile.objects.exists()
    assert m.DeploymentTarget.objects.filter(agent__name="edge-01").count() == 2


@pytest.mark.django_db
def test_demo_expiries_spread_over_the_next_90_days_with_some_expired():
    call_command("seed_demo", stdout=StringIO())
    now = timezone.now()
    expiries = list(
        m.ManagedCertificate.objects.filter(expires_at__isnull=False).values_list("expires_at", flat=True)
    )
    assert sum(e < now for e in expiries) >= 2
    assert all(e < now + timedelta(days=91) for e in expiries)
    buckets = {min((e - now).days // 30, 2) for e in expiries if e > now}
    assert buckets == {0, 1, 2}
    for cert in m.ManagedCertificate.objects.exclude(expires_at=None):
        assert cert.versions.get().not_after == cert.expires_at


@pytest.mark.django_db
def test_seeded_jobs_are_still_valid_when_the_job_sweeps_run_an_hour_later():
    call_command("seed_demo", stdout=StringIO())
    before = dict(m.Job.objects.values_list("id", "status"))
    assert reap_timeouts(now=timezone.now() + timedelta(hours=1)).timed_out == []
    assert dict(m.Job.objects.values_list("id", "status")) == before
    assert JobStatus.RUNNING not in before.values()  # a seeded Running job would be reaped as lost
    renewing = m.Job.objects.filter(certificate__status=CertificateStatus.RENEWAL_IN_PROGRESS)
    assert {(job.status, job.agent.name) for job in renewing} == {(JobStatus.AWAITING_CSR, "edge-01")}


@pytest.mark.django_db
def test_seed_demo_configures_routing_to_see():
    """Team destinations (secrets encrypted), a lead to escalate to, quiet hours and a digest team."""
    call_command("seed_demo", stdout=StringIO())
    slack = Destination.objects.get(name="payments-slack")
    assert (slack.kind, slack.team.name, slack.config) == (
        "slack",
        "Payments",
        {"channel": "#payments-oncall"},
    )
    assert "/slack/payments" not in slack.encrypted_secrets  # stored encrypted
    assert targets.target_for(slack).get("webhook_url").endswith("/slack/payments")
    payments = m.Team.objects.get(name="Payments")
    assert (str(payments.quiet_hours_start), str(payments.quiet_hours_end), payments.timezone) == (
        "22:00:00",
        "07:00:00",
        "Europe/Berlin",
    )
    assert m.Team.objects.get(name="Identity").digest_enabled
    critical = m.RenewalPolicy.objects.get(name="critical-services")
    assert (critical.escalation_after_minutes, critical.escalation_steps) == (
        30,
        [["platform-lead"], ["PagerDuty"]],
    )
    critical.full_clean()  # the steps name destinations that exist
