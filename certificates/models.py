"""The certificates app's models for Django's registry and migrations; each is defined in its package's `models`."""

from certificates.agents.models import AgentGroup
from certificates.compliance.models import ComplianceRule, Violation
from certificates.discovery.models import (
    DiscoveredCertificate,
    DiscoveryEndpoint,
    DiscoverySighting,
    ScanChunk,
    ScanProfile,
    ScanRun,
)
from certificates.expiry.models import ExpiryCheckRun
from certificates.inventory.models import (
    Agent,
    CertificateProfile,
    CertificateVersion,
    DeploymentTarget,
    Issuer,
    ManagedCertificate,
    Owner,
    RenewalPolicy,
    Team,
    TimestampedModel,
    default_ekus,
    default_key_algorithms,
    default_thresholds,
)
from certificates.issuance.models import (
    AcmeHttpChallenge,
    AcmeOrder,
    ApprovalRequest,
    Job,
    ServerGeneratedKey,
)
from certificates.revocation.models import (
    CertificateRevocation,
    CRLCache,
    OCSPCertStatus,
    OCSPResponder,
    OCSPResponseCache,
)

__all__ = [
    "AcmeHttpChallenge",
    "AcmeOrder",
    "Agent",
    "AgentGroup",
    "ApprovalRequest",
    "CRLCache",
    "CertificateProfile",
    "CertificateRevocation",
    "CertificateVersion",
    "ComplianceRule",
    "DeploymentTarget",
    "DiscoveredCertificate",
    "DiscoveryEndpoint",
    "DiscoverySighting",
    "ExpiryCheckRun",
    "Issuer",
    "Job",
    "ManagedCertificate",
    "OCSPCertStatus",
    "OCSPResponder",
    "OCSPResponseCache",
    "Owner",
    "RenewalPolicy",
    "ScanChunk",
    "ScanProfile",
    "ScanRun",
    "ServerGeneratedKey",
    "Team",
    "TimestampedModel",
    "Violation",
    "default_ekus",
    "default_key_algorithms",
    "default_thresholds",
]
