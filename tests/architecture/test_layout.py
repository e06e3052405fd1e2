"""The layout a newcomer relies on: one package per subdomain, small modules, and the task names beat stores."""

from __future__ import annotations

from pathlib import Path

from certctl.celery import app
from tests import REPO_ROOT

# Beat rows and queued messages name tasks: renaming one silently stops a schedule or drops queued work.
TASK_NAMES = {
    "audit.seal_chain",
    "certctl.tasks.heartbeat",
    "certificates.check_expiring",
    "certificates.check_renewals",
    "certificates.discovery_tick",
    "certificates.evaluate_compliance",
    "certificates.mark_offline_agents",
    "certificates.process_jobs",
    "certificates.reap_job_timeouts",
    "certificates.requeue_lost_issuer_revocations",
    "certificates.refresh_renewal_info",
    "certificates.regenerate_all_crls",
    "certificates.regenerate_crl",
    "certificates.retry_failed_jobs",
    "certificates.scan_chunk",
    "certificates.verify_deployment",
    "certificates.revoke_at_issuer",
    "certificates.rotate_ocsp_responders",
    "notifications.deliver_notification",
    "notifications.deliver_notifications",
    "notifications.escalate",
    "notifications.process_pending",
    "notifications.release_deferred",
    "notifications.retry_failed",
    "notifications.send_digests",
}
SUBDOMAINS = ("inventory", "issuance", "revocation", "agents", "expiry", "discovery", "compliance")
MAX_LINES = 400
SOURCE_FOLDERS = (
    "certctl",
    "certctl_agent",
    "certctl_client",
    "certificates",
    "notifications",
    "audit",
    "tests",
    "bench",
    "scripts",
)


def project_python_files() -> list[Path]:
    """Every Python file of the project's own code, tests, benchmarks and scripts (not a venv or data)."""
    return sorted(path for top in SOURCE_FOLDERS for path in (REPO_ROOT / top).rglob("*.py"))


def test_every_task_name_of_the_schedules_and_queues_is_registered():
    app.loader.import_default_modules()
    registered = {name for name in app.tasks if not name.startswith("celery.")}
    assert registered == TASK_NAMES


def test_every_periodic_task_names_a_registered_task():
    from certctl.schedules import periodic_tasks

    app.loader.import_default_modules()
    assert {item.task for item in periodic_tasks()} <= set(app.tasks)


def test_no_module_is_over_400_lines_outside_migrations():
    long = {}
    for path in project_python_files():
        if "migrations" in path.parts:
            continue
        lines = path.read_text().count("\n")
        if lines > MAX_LINES:
            long[str(path.relative_to(REPO_ROOT))] = lines
    assert long == {}


def test_the_certificates_app_top_holds_packages_and_its_registries_only():
    top = sorted(path.name for path in (REPO_ROOT / "certificates").glob("*.py"))
    assert top == [
        "__init__.py",
        "admin.py",
        "apps.py",
        "demo_data.py",
        "enums.py",
        "metrics.py",
        "models.py",
        "schedules.py",
        "tasks.py",
        "urls.py",
        "validators.py",
    ]
    for package in SUBDOMAINS:
        assert (REPO_ROOT / "certificates" / package / "services").is_dir(), package
