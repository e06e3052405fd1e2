"""Demo inventory for `manage.py seed_demo`: a believable estate in every state, safe to load twice.

Rows are found by their unique names (get_or_create), so a second run adds nothing and leaves edits alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from certctl.kernel.x509 import key_usage
from certificates import models as m
from certificates.discovery.demo import scan_targets as lab_scan_targets
from certificates.discovery.models import ScanProfile
from certificates.enums import (
    AgentStatus,
    CertificateSource,
    CertificateStatus,
    JobStatus,
    JobType,
    RevocationReason,
    TargetType,
)
from certificates.issuance.issuers.ca_store import CAMaterial, CANotConfigured, load_ca, store_ca
from notifications.channels.targets import write_secrets
from notifications.enums import DestinationKind
from notifications.models import Destination

TEAMS = {
    "Platform": "Edge, ingress and shared infrastructure",
    "Payments": "Checkout and payment APIs",
    "Identity": "Login, SSO and directory services",
}
OWNERS = [
    ("Alice Martin", "alice@example.com", "Platform"),
    ("Bob Nguyen", "bob@example.com", "Platform"),
    ("Carol Diaz", "carol@example.com", "Payments"),
    ("Dave Okafor", "dave@example.com", "Payments"),
    ("Erin Walsh", "erin@example.com", "Identity"),
]
SERVICES = [
    "api-gateway", "www", "checkout", "payments-api", "billing", "invoices", "sso", "login", "ldap",
    "grafana", "prometheus", "vault", "registry", "ci", "wiki", "mail", "vpn", "status", "cdn-origin",
    "search", "auth-proxy", "webhooks", "reports", "admin", "partners", "mobile-api", "graphql",
    "uploads", "docs", "sandbox",
]  # fmt: skip
# Days until expiry for each certificate (None: not issued yet); spread over the next 90 days, some expired.
EXPIRY_DAYS = [
    -12, -5, -1, 0, 1, 2, 3, 5, 6, 7, 9, 10, 13, 14, 16, 20, 24, 28, 30, 33,
    38, 45, 52, 60, 67, 74, 81, 88, None, None,
]  # fmt: skip
# Statuses that the expiry date alone would not give, so every status of the model appears.
STATUS_OVERRIDES = {
    1: CertificateStatus.ARCHIVED,
    5: CertificateStatus.FAILED,
    7: CertificateStatus.RENEWAL_IN_PROGRESS,
    10: CertificateStatus.RENEWAL_IN_PROGRESS,
    20: CertificateStatus.REVOKED,
}
ENVIRONMENTS = ["production", "production", "staging", "development"]
CRITICAL_MATRIX = {
    "informational": ["Slack"],
    "warning": ["Slack", "Email"],
    "critical": ["PagerDuty", "OpsGenie", "Email"],
}


@dataclass
class _Estate:
    """The shared rows every demo certificate points at."""

    owners: list[m.Owner]
    policies: list[m.RenewalPolicy]
    issuer: m.Issuer
    ca: CAMaterial
    profile: m.CertificateProfile
    targets: list[m.DeploymentTarget]
    now: datetime


@dataclass
class SeedResult:
    created: dict[str, int] = field(default_factory=dict)

    def add(self, label: str, was_created: bool) -> None:
        self.created[label] = self.created.get(label, 0) + int(was_created)


def status_for(index: int, days: int | None) -> str:
    if index in STATUS_OVERRIDES:
        return STATUS_OVERRIDES[index]
    if days is None:
        return CertificateStatus.PENDING
    if days < 0:
        return CertificateStatus.EXPIRED
    return CertificateStatus.EXPIRING if days <= 30 else CertificateStatus.ACTIVE


def _demo_ca(issuer: m.Issuer, now: datetime) -> CAMaterial:
    """The issuer's CA, created (EC P-256, self-signed) the first time."""
    try:
        return load_ca(issuer)
    except CANotConfigured:
        pass
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "certctl Demo Root CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    store_ca(issuer, cert, key)
    issuer.save(update_fields=["config", "encrypted_config", "updated_at"])
    return load_ca(issuer)


def _issue_version(cert: m.ManagedCertificate, issuer: m.Issuer, ca: CAMaterial, not_after: datetime) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    not_before = min(not_after - timedelta(days=90), timezone.now())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cert.common_name)]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in cert.sans]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca.private_key, hashes.SHA256())
    )
    der = leaf.public_bytes(serialization.Encoding.DER)
    m.CertificateVersion.objects.create(
        certificate=cert,
        issuer=issuer,
        serial_number=format(leaf.serial_number, "040x"),
        not_before=not_before,
        not_after=not_after,
        fingerprint_sha256=hashlib.sha256(der).hexdigest(),
        pem_chain=leaf.public_bytes(serialization.Encoding.PEM).decode() + ca.chain_pem,
        key_algorithm="ECDSA",
        key_size=256,
    )


def _policies(result: SeedResult) -> list[m.RenewalPolicy]:
    standard, created = m.RenewalPolicy.objects.get_or_create(
        name="standard", defaults={"renewal_window_days": 30, "auto_renew": True}
    )
    result.add("renewal_policies", created)
    critical, created = m.RenewalPolicy.objects.get_or_create(
        name="critical-services",
        defaults={
            "renewal_window_days": 45,
            "auto_renew": True,
            "max_retries": 5,
            "retry_interval_seconds": 900,
            "alert_thresholds_days": [45, 30, 14, 7, 3, 0],
            "alert_severity_map": {
                "45": "informational",
                "30": "informational",
                "14": "warning",
                "7": "warning",
                "3": "critical",
                "0": "critical",
            },
            "alert_channels": CRITICAL_MATRIX,
        },
    )
    result.add("renewal_policies", created)
    return [standard, critical]


def _receiver(path: str) -> str:
    """A URL on the demo receiver of `make run` (docs/notifications.md, "The demo receiver")."""
    return f"http://127.0.0.1:{settings.DEMO_RECEIVER_HTTP_PORT}{path}"


def _destinations(result: SeedResult, teams: dict[str, m.Team], critical: m.RenewalPolicy) -> None:
    """Team destinations, a team lead to escalate to, quiet hours and a digest: the routing of issue 17 to see.

    Slack and Teams point at the demo receiver; without it (CERTCTL_DEMO_RECEIVER=false) their sends fail and
    land in the dead letter, which is the honest outcome for a URL nobody answers.
    """
    specs = [
        ("payments-slack", DestinationKind.SLACK, teams["Payments"], {"channel": "#payments-oncall"},
         {"webhook_url": _receiver("/slack/payments")}),
        ("identity-teams", DestinationKind.TEAMS, teams["Identity"], {}, {"webhook_url": _receiver("/teams/identity")}),
        ("platform-lead", DestinationKind.EMAIL, None, {"recipients": ["lead@example.com"]}, {}),
        ("platform-webhook", DestinationKind.WEBHOOK, teams["Platform"], {}, {"url": _receiver("/webhook/platform")}),
    ]  # fmt: skip
    for name, kind, team, config, secrets in specs:
        if Destination.objects.filter(name=name).exists():
            continue
        destination = Destination(name=name, kind=kind, team=team, config=config)
        write_secrets(destination, secrets)
        destination.save()
        result.add("destinations", True)
    m.Team.objects.filter(pk=teams["Payments"].pk, quiet_hours_start__isnull=True).update(
        quiet_hours_start=time(22, 0), quiet_hours_end=time(7, 0), timezone="Europe/Berlin"
    )
    m.Team.objects.filter(pk=teams["Identity"].pk).update(digest_enabled=True, timezone="Europe/Berlin")
    m.RenewalPolicy.objects.filter(pk=critical.pk, escalation_after_minutes__isnull=True).update(
        escalation_after_minutes=30, escalation_steps=[["platform-lead"], ["PagerDuty"]]
    )


def _scan_profile(result: SeedResult, team: m.Team, now: datetime) -> None:
    """The demo TLS lab of `make run` (certificates/discovery/demo.py) as a scan profile, due at once: beat's
    first discovery tick scans it, and the discovered inventory fills with its problems (docs/discovery.md)."""
    _, created = ScanProfile.objects.get_or_create(
        name="demo-tls-lab",
        defaults={
            "description": "The loopback demo TLS lab `make run` starts (manage.py run_demo_tls_lab)",
            "targets": lab_scan_targets(settings.DEMO_TLS_LAB_PORT),
            "ports": [443],
            "interval_minutes": 60,
            "concurrency": 8,
            "timeout_ms": 2000,
            "team": team,
            "next_run_at": now,
        },
    )
    result.add("scan_profiles", created)


def seed_demo(now: datetime | None = None) -> SeedResult:
    """Load the demo inventory in one transaction; returns how many rows of each kind were created."""
    now = now or timezone.now()
    result = SeedResult()
    with transaction.atomic():
        teams = {}
        for name, description in TEAMS.items():
            teams[name], created = m.Team.objects.get_or_create(
                name=name, defaults={"description": description}
            )
            result.add("teams", created)
        owners = []
        for name, email, team in OWNERS:
            owner, created = m.Owner.objects.get_or_create(
                email=email, defaults={"name": name, "team": teams[team]}
            )
            owners.append(owner)
            result.add("owners", created)
        policies = _policies(result)
        _destinations(result, teams, policies[1])
        _scan_profile(result, teams["Platform"], now)
        issuer, created = m.Issuer.objects.get_or_create(
            name="demo-local-ca", defaults={"type": "local", "config": {}, "enabled": True}
        )
        result.add("issuers", created)
        ca = _demo_ca(issuer, now)
        profile, created = m.CertificateProfile.objects.get_or_create(
            name="tls-server-90d",
            defaults={
                "description": "Public TLS server certificates, 90 days",
                "max_ttl_seconds": 90 * 86400,
            },
        )
        result.add("profiles", created)
        agent, created = m.Agent.objects.get_or_create(
            name="edge-01",
            defaults={
                "hostname": "edge-01.example.com",
                "status": AgentStatus.ONLINE,
                "last_heartbeat_at": now,
                "os": "linux",
                "architecture": "amd64",
                "version": "0.1.0",
            },
        )
        result.add("agents", created)
        targets = []
        for target_name, target_type, config in [
            (
                "nginx-edge",
                TargetType.NGINX,
                {"cert_path": "/etc/nginx/tls/site.pem", "reload": "nginx -s reload"},
            ),
            ("haproxy-lb", TargetType.HAPROXY, {"pem_path": "/etc/haproxy/certs/site.pem"}),
        ]:
            target, created = m.DeploymentTarget.objects.get_or_create(
                agent=agent, name=target_name, defaults={"type": target_type, "config": config}
            )
            targets.append(target)
            result.add("targets", created)
        estate = _Estate(owners, policies, issuer, ca, profile, targets, now)
        for index, (service, days) in enumerate(zip(SERVICES, EXPIRY_DAYS, strict=True)):
            _seed_certificate(result, estate, index, service, days)
    return result


def _seed_certificate(
    result: SeedResult, estate: _Estate, index: int, service: str, days: int | None
) -> None:
    owners, policies, issuer, now = estate.owners, estate.policies, estate.issuer, estate.now
    owner = owners[index % len(owners)]
    status = status_for(index, days)
    expires_at = None if days is None else now + timedelta(days=days, hours=6)
    common_name = f"{service}.example.com"
    cert, created = m.ManagedCertificate.objects.get_or_create(
        name=f"{service}-{ENVIRONMENTS[index % len(ENVIRONMENTS)][:4]}",
        defaults={
            "common_name": common_name,
            "sans": [common_name, f"www.{common_name}"] if index % 3 == 0 else [common_name],
            "environment": ENVIRONMENTS[index % len(ENVIRONMENTS)],
            "owner": owner,
            "team": owner.team,
            "issuer": issuer,
            "renewal_policy": policies[1] if index % 4 == 0 else policies[0],
            "profile": estate.profile,
            "status": status,
            "expires_at": expires_at,
            "tags": {"service": service, "demo": "true"},
            "source": CertificateSource.API,
            "last_renewal_at": None if expires_at is None else expires_at - timedelta(days=90),
            "revoked_at": now - timedelta(days=2) if status == CertificateStatus.REVOKED else None,
            "revocation_reason": RevocationReason.KEY_COMPROMISE
            if status == CertificateStatus.REVOKED
            else "",
        },
    )
    result.add("certificates", created)
    if not created:
        return
    if index % 2 == 0:
        cert.targets.add(estate.targets[index % len(estate.targets)])
    if expires_at is not None:
        _issue_version(cert, issuer, estate.ca, expires_at)
    if status == CertificateStatus.REVOKED:
        version = cert.versions.first()
        m.CertificateRevocation.objects.create(
            certificate=cert,
            issuer=issuer,
            serial_number=version.serial_number,
            reason=RevocationReason.KEY_COMPROMISE,
            revoked_by="demo-seed",
            revoked_at=cert.revoked_at,
        )
    # A renewal in progress waits for edge-01's CSR (agent keygen, make run's mode), as the job processor would
    # leave it: a seeded Running job would be failed as lost by the job-timeout sweep within minutes.
    job_status = {
        CertificateStatus.RENEWAL_IN_PROGRESS: JobStatus.AWAITING_CSR,
        CertificateStatus.FAILED: JobStatus.FAILED,
        CertificateStatus.PENDING: JobStatus.PENDING,
    }.get(status)
    if job_status:
        failed = job_status == JobStatus.FAILED
        m.Job.objects.create(
            type=JobType.ISSUANCE if status == CertificateStatus.PENDING else JobType.RENEWAL,
            certificate=cert,
            agent=estate.targets[0].agent if job_status == JobStatus.AWAITING_CSR else None,
            status=job_status,
            attempts=3 if failed else 0,
            last_error="issuer timed out (demo)" if failed else "",
            scheduled_at=now - timedelta(hours=1),
            started_at=now - timedelta(minutes=50) if failed else None,
            completed_at=now - timedelta(minutes=40) if failed else None,
        )
