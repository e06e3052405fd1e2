"""Discovery tables: what was found (DiscoveredCertificate), where (DiscoveryEndpoint), when (DiscoverySighting),
and the network scans that look (ScanProfile, ScanRun, ScanChunk)."""

from __future__ import annotations

from django.db import models

from certctl.kernel.fields import JSONField
from certctl.kernel.ids import id_factory
from certificates.inventory.models import Agent, DeploymentTarget, ManagedCertificate, Owner, Team


class DiscoveryStatus(models.TextChoices):
    UNMANAGED = "Unmanaged"
    MANAGED = "Managed"
    DISMISSED = "Dismissed"


class SightingSource(models.TextChoices):
    NETWORK = "network"
    AGENT = "agent"
    IMPORT = "import"


class ChainProblem(models.TextChoices):
    NONE = "", "None"
    MISSING_INTERMEDIATE = "missing_intermediate"
    WRONG_ORDER = "wrong_order"


class DiscoveredCertificate(models.Model):
    """One certificate, however many places it was seen: unique by the SHA-256 of its DER."""

    team_lookups = ("team",)  # team-bound keys and staff see these rows only (certctl.api.teams)

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("dcert"), editable=False)
    fingerprint_sha256 = models.CharField(max_length=64, unique=True)
    pem = models.TextField()
    # Intermediates that came with it the last time (as presented or as imported), PEM, leaf excluded.
    chain_pem = models.TextField(blank=True, default="")
    common_name = models.CharField(max_length=255, blank=True, default="")
    subject = models.CharField(max_length=1024, blank=True, default="")
    issuer_dn = models.CharField(max_length=1024, blank=True, default="", db_index=True)
    sans = JSONField(default=list, blank=True)
    serial_number = models.CharField(max_length=64, blank=True, default="")
    not_before = models.DateTimeField()
    not_after = models.DateTimeField(db_index=True)
    key_algorithm = models.CharField(max_length=16, blank=True, default="")  # RSA, ECDSA, Ed25519, Ed448, DSA
    key_size = models.PositiveIntegerField(null=True, blank=True)
    curve = models.CharField(max_length=32, blank=True, default="")  # secp256r1, ...
    signature_algorithm = models.CharField(
        max_length=64, blank=True, default=""
    )  # sha256WithRSAEncryption, ...
    is_self_signed = models.BooleanField(default=False)
    is_ca = models.BooleanField(default=False)
    # RSA under 2048 bits, EC under 256, DSA, or a SHA-1/MD5 signature: the "weak" filter.
    is_weak = models.BooleanField(default=False)

    status = models.CharField(
        max_length=16, choices=DiscoveryStatus.choices, default=DiscoveryStatus.UNMANAGED, db_index=True
    )
    managed_certificate = models.ForeignKey(
        ManagedCertificate, on_delete=models.SET_NULL, null=True, blank=True, related_name="discoveries"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=255, blank=True, default="")
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.CharField(max_length=255, blank=True, default="")
    dismissed_reason = models.TextField(blank=True, default="")
    # An owner or team set without claiming: expiry alerts and violations route to them.
    owner = models.ForeignKey(Owner, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    # A private key came with an import (Fernet-encrypted, write-only) or an agent found a matching key file.
    has_private_key = models.BooleanField(default=False)
    encrypted_private_key = models.TextField(blank=True, default="", editable=False)

    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "discovered certificate"
        ordering = ["not_after", "id"]
        indexes = [models.Index(fields=["status", "not_after"], name="dcert_status_expiry")]

    def __str__(self) -> str:
        return self.common_name or self.subject or self.fingerprint_sha256[:16]


class DiscoveryEndpoint(models.Model):
    """A place a certificate is served or stored: a network endpoint (address, port, SNI) or an agent's file."""

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("dend"), editable=False)
    kind = models.CharField(max_length=16, choices=SightingSource.choices)
    # net|<address>|<port>|<sni>  or  agent|<agent id>|<path>: one row per place.
    key = models.CharField(max_length=1400, unique=True)
    address = models.CharField(max_length=64, blank=True, default="")
    port = models.PositiveIntegerField(null=True, blank=True)
    sni = models.CharField(max_length=253, blank=True, default="")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    hostname = models.CharField(max_length=255, blank=True, default="")
    path = models.CharField(max_length=1024, blank=True, default="")
    protocol = models.CharField(max_length=16, blank=True, default="")  # TLSv1.3, ...
    chain_problem = models.CharField(max_length=32, choices=ChainProblem.choices, blank=True, default="")
    current_certificate = models.ForeignKey(
        DiscoveredCertificate, on_delete=models.SET_NULL, null=True, blank=True, related_name="current_at"
    )
    # Set when a different certificate replaced one seen here before; cleared by an operator's acknowledgement.
    previous_certificate = models.ForeignKey(
        DiscoveredCertificate, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(null=True, blank=True, db_index=True)
    change_acknowledged_at = models.DateTimeField(null=True, blank=True)
    # The deployment target this endpoint is, once known (set when claiming).
    target = models.ForeignKey(
        DeploymentTarget, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    last_error = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        verbose_name = "discovery endpoint"
        ordering = ["key"]

    def __str__(self) -> str:
        if self.kind == SightingSource.NETWORK:
            return f"{self.sni or self.address}:{self.port}"
        return f"{self.hostname or self.agent_id}:{self.path}"


class DiscoverySighting(models.Model):
    """A certificate seen at an endpoint (or in an import), first and last time."""

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("dsight"), editable=False)
    certificate = models.ForeignKey(DiscoveredCertificate, on_delete=models.CASCADE, related_name="sightings")
    endpoint = models.ForeignKey(
        DiscoveryEndpoint, on_delete=models.CASCADE, null=True, blank=True, related_name="sightings"
    )
    source = models.CharField(max_length=16, choices=SightingSource.choices)
    # Fingerprints of the chain as presented (leaf first), for chain rules; empty for a file.
    chain_fingerprints = JSONField(default=list, blank=True)
    key_present = models.BooleanField(null=True, blank=True)  # agent file scans: a matching key file exists
    scan_run = models.ForeignKey(
        "ScanRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    detail = models.CharField(max_length=255, blank=True, default="")  # import: file name and who imported
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-last_seen_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["certificate", "endpoint"],
                name="dsight_once_per_endpoint",
                condition=models.Q(endpoint__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.certificate_id} at {self.endpoint_id or self.source}"


class ScanProfile(models.Model):
    """What a network scan contacts: only these targets and ports, nothing else."""

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("scanprof"), editable=False)
    name = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True, default="")
    # "host:port", "host" (SNI name), "10.0.0.0/24" (IPv4 up to /16), "[2001:db8::1]:8443" / "2001:db8::1".
    targets = JSONField(default=list)
    ports = JSONField(default=list)  # empty means [443]
    interval_minutes = models.PositiveIntegerField(null=True, blank=True)  # empty: run on demand only
    concurrency = models.PositiveIntegerField(default=64)
    timeout_ms = models.PositiveIntegerField(default=3000)
    chunk_size = models.PositiveIntegerField(default=512)
    enabled = models.BooleanField(default=True)
    team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    last_run_at = models.DateTimeField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "scan profile"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ScanRunStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


class ScanRun(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=id_factory("dscan"), editable=False)
    profile = models.ForeignKey(
        ScanProfile, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    profile_name = models.CharField(max_length=255, blank=True, default="")
    status = models.CharField(max_length=16, choices=ScanRunStatus.choices, default=ScanRunStatus.QUEUED)
    requested_by = models.CharField(max_length=255, blank=True, default="")
    targets_total = models.PositiveIntegerField(default=0)  # addresses x ports
    targets_done = models.PositiveIntegerField(default=0)
    found = models.PositiveIntegerField(default=0)  # handshakes that presented a certificate
    new_certificates = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)  # timeouts and handshake failures (refused ports are not)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        verbose_name = "scan run"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.profile_name or self.id} ({self.status})"


class ScanChunk(models.Model):
    """A slice of a run's targets that one worker takes with SELECT ... FOR UPDATE SKIP LOCKED."""

    id = models.CharField(primary_key=True, max_length=40, default=id_factory("dchunk"), editable=False)
    run = models.ForeignKey(ScanRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    # {"targets": ["host:port", ...]} or {"first": <int address>, "count": n, "version": 4, "ports": [...]}
    spec = JSONField(default=dict)
    status = models.CharField(max_length=16, default="pending")  # pending, running, done
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    targets = models.PositiveIntegerField(default=0)
    found = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="dchunk_unique_index")]
        indexes = [models.Index(fields=["run", "status"], name="dchunk_run_status")]

    def __str__(self) -> str:
        return f"{self.run_id} chunk {self.index}"
