"""Enumerations of the certificate domain, with the reference product's exact, case-sensitive values."""

from django.db import models


class CertificateStatus(models.TextChoices):
    PENDING = "Pending"
    ACTIVE = "Active"
    EXPIRING = "Expiring"
    EXPIRED = "Expired"
    RENEWAL_IN_PROGRESS = "RenewalInProgress"
    FAILED = "Failed"
    REVOKED = "Revoked"
    ARCHIVED = "Archived"


class CertificateSource(models.TextChoices):
    UNSPECIFIED = "", "Unspecified"
    API = "API"
    AGENT = "Agent"
    ACME = "ACME"
    EST = "EST"
    SCEP = "SCEP"
    DISCOVERY = "Discovery"  # claimed from discovery (a scan or an agent file scan)
    IMPORT = "Import"  # claimed from an imported PEM bundle or PKCS#12 file


class IssuerType(models.TextChoices):
    LOCAL = "local", "Local CA"
    ACME = "ACME"
    STEP_CA = "StepCA"
    VAULT_PKI = "VaultPKI"
    DIGICERT = "DigiCert"
    SECTIGO = "Sectigo"
    GOOGLE_CAS = "GoogleCAS"
    AWS_ACM_PCA = "AWSACMPCA"
    EJBCA = "EJBCA"


class TargetType(models.TextChoices):
    NGINX = "NGINX"
    APACHE = "Apache"
    HAPROXY = "HAProxy"
    F5 = "F5"
    IIS = "IIS"
    TRAEFIK = "Traefik"
    CADDY = "Caddy"
    ENVOY = "Envoy"
    POSTFIX = "Postfix"
    DOVECOT = "Dovecot"
    KUBERNETES_SECRETS = "KubernetesSecrets"
    JAVA_KEYSTORE = "JavaKeystore"


class AgentStatus(models.TextChoices):
    ONLINE = "Online"
    OFFLINE = "Offline"
    DEGRADED = "Degraded"


class JobType(models.TextChoices):
    ISSUANCE = "Issuance"
    RENEWAL = "Renewal"
    DEPLOYMENT = "Deployment"
    VALIDATION = "Validation"


class JobStatus(models.TextChoices):
    PENDING = "Pending"
    AWAITING_CSR = "AwaitingCSR"
    AWAITING_APPROVAL = "AwaitingApproval"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


OPEN_JOB_STATUSES = (
    JobStatus.PENDING,
    JobStatus.AWAITING_CSR,
    JobStatus.AWAITING_APPROVAL,
    JobStatus.RUNNING,
)


class ApprovalState(models.TextChoices):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class RevocationReason(models.TextChoices):
    """RFC 5280 CRLReason names; `code` gives the number used in CRLs and OCSP."""

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "keyCompromise"
    CA_COMPROMISE = "caCompromise"
    AFFILIATION_CHANGED = "affiliationChanged"
    SUPERSEDED = "superseded"
    CESSATION_OF_OPERATION = "cessationOfOperation"
    CERTIFICATE_HOLD = "certificateHold"
    PRIVILEGE_WITHDRAWN = "privilegeWithdrawn"

    @property
    def code(self) -> int:
        return REVOCATION_REASON_CODES[self.value]


# RFC 5280 §5.3.1 CRLReason codes (7 is unused): the CRL, the OCSP responder and ACME revocation send these.
REVOCATION_REASON_CODES = {
    "unspecified": 0,
    "keyCompromise": 1,
    "caCompromise": 2,
    "affiliationChanged": 3,
    "superseded": 4,
    "cessationOfOperation": 5,
    "certificateHold": 6,
    "privilegeWithdrawn": 9,
}

KEY_ALGORITHMS = ("RSA", "ECDSA", "Ed25519")
EKU_NAMES = ("serverAuth", "clientAuth", "codeSigning", "emailProtection", "timeStamping")


class VerificationStatus(models.TextChoices):
    """Post-deployment check of a deployment job: did the target's endpoint serve the deployed certificate."""

    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"
