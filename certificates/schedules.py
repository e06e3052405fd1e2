"""Beat schedules of the certificates app (registered by certctl.schedules after migrate)."""

from django.conf import settings

from certctl.kernel.schedules import Periodic

PERIODIC_TASKS = [
    Periodic(
        "discovery-schedule",
        "certificates.discovery_tick",
        settings.DISCOVERY_SCHEDULE_INTERVAL,
        "CERTCTL_DISCOVERY_SCHEDULE_INTERVAL",
    ),
    Periodic(
        "compliance-evaluation",
        "certificates.evaluate_compliance",
        settings.COMPLIANCE_INTERVAL,
        "CERTCTL_COMPLIANCE_INTERVAL",
    ),
    Periodic(
        "crl-generation", "certificates.regenerate_all_crls", settings.CRL_INTERVAL, "CERTCTL_CRL_INTERVAL"
    ),
    Periodic(
        "ocsp-responder-rotation",
        "certificates.rotate_ocsp_responders",
        settings.CRL_INTERVAL,
        "CERTCTL_CRL_INTERVAL",
    ),
    Periodic(
        "issuer-revocation-requeue",
        "certificates.requeue_lost_issuer_revocations",
        settings.JOB_TIMEOUT_INTERVAL,
        "CERTCTL_JOB_TIMEOUT_INTERVAL",
    ),
    Periodic(
        "renewal-check",
        "certificates.check_renewals",
        settings.RENEWAL_CHECK_INTERVAL,
        "CERTCTL_RENEWAL_CHECK_INTERVAL",
    ),
    Periodic(
        "renewal-info-refresh",
        "certificates.refresh_renewal_info",
        settings.RENEWAL_CHECK_INTERVAL,
        "CERTCTL_RENEWAL_CHECK_INTERVAL",
    ),
    Periodic(
        "job-processor",
        "certificates.process_jobs",
        settings.JOB_PROCESSOR_INTERVAL,
        "CERTCTL_JOB_PROCESSOR_INTERVAL",
    ),
    Periodic(
        "job-retry",
        "certificates.retry_failed_jobs",
        settings.JOB_RETRY_INTERVAL,
        "CERTCTL_JOB_RETRY_INTERVAL",
    ),
    Periodic(
        "job-timeouts",
        "certificates.reap_job_timeouts",
        settings.JOB_TIMEOUT_INTERVAL,
        "CERTCTL_JOB_TIMEOUT_INTERVAL",
    ),
    Periodic(
        "agents-mark-offline",
        "certificates.mark_offline_agents",
        settings.AGENT_HEALTH_CHECK_INTERVAL,
        "CERTCTL_AGENT_HEALTH_CHECK_INTERVAL",
    ),
    Periodic(
        "expiry-check",
        "certificates.check_expiring",
        settings.RENEWAL_CHECK_INTERVAL,
        "CERTCTL_RENEWAL_CHECK_INTERVAL",
    ),
]
