"""The installed `certctl` console script, run as a subprocess against a live certctl server (pytest-django's
live_server on 127.0.0.1 over the test PostgreSQL), with a clean environment and HOME in tmp_path.

Every run goes through `run()`, which also checks that the API key appears in no output.
"""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from audit.services.record import record
from certificates.enums import CertificateStatus, JobStatus
from certificates.inventory.models import ManagedCertificate
from certificates.issuance.models import ApprovalRequest, Job
from notifications.enums import Channel, NotificationStatus
from tests.client.cli_process import CERTCTL, KEY_NAME, one_error_line, run
from tests.factories import CertificateFactory, JobFactory, OwnerFactory, ProfileFactory
from tests.notification_factories import NotificationEventFactory
from tests.revocation_support import issue_leaf, make_local_ca
from tests.sinks import point_channels_at

pytestmark = pytest.mark.django_db(transaction=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_certs_list_is_a_table_json_equal_to_the_api_and_quiet_ids(server):
    table = run(server, "certs", "list", "--limit", "100")
    assert table.returncode == 0, table.stderr
    assert "common_name" in table.stdout.splitlines()[1]
    assert "api-gateway-prod" in table.stdout

    as_json = run(server, "certs", "list", "--limit", "10", "--output", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == server.api("/api/v1/certificates", page_size=10)["data"]

    quiet = run(server, "-q", "certs", "list", "--limit", "10")
    assert quiet.stdout.split() == [row["id"] for row in json.loads(as_json.stdout)]


def test_certs_list_all_walks_every_cursor_page(server):
    result = run(server, "certs", "list", "--all", "--page-size", "7", "-q")
    assert result.returncode == 0, result.stderr
    ids = result.stdout.split()
    total = server.api("/api/v1/certificates", page_size=1)["total"]
    assert total > 7 * 2
    assert len(ids) == len(set(ids)) == total
    assert set(ids) == set(ManagedCertificate.objects.values_list("id", flat=True))


def test_expiring_within_lists_only_certificates_expiring_before_then(server):
    result = run(server, "certs", "list", "--expiring-within", "30", "--all", "-q")
    assert result.returncode == 0, result.stderr
    soon = ManagedCertificate.objects.filter(expires_at__lt=timezone.now() + timedelta(days=30))
    assert set(result.stdout.split()) == set(soon.values_list("id", flat=True))
    assert 0 < len(result.stdout.split()) < ManagedCertificate.objects.count()


def test_get_of_an_unknown_certificate_exits_3_with_one_error_line(server):
    result = run(server, "certs", "get", "cert-does-not-exist")
    assert result.returncode == 3
    line = one_error_line(result)
    assert "not_found" in line and "request " in line


def test_a_wrong_key_exits_4_and_is_never_printed(server):
    wrong = "cctl_wrong_key_that_must_not_be_echoed"
    result = run(server, "--api-key", wrong, "certs", "list", env=server.env(CERTCTL_API_KEY=None))
    assert result.returncode == 4
    assert "unauthorized" in one_error_line(result)
    assert wrong not in result.stdout + result.stderr


def test_an_unreachable_server_exits_1(server):
    result = run(server, "certs", "list", env=server.env(CERTCTL_URL=f"http://127.0.0.1:{free_port()}"))
    assert result.returncode == 1
    assert "cannot reach" in one_error_line(result)


def test_revoke_with_a_reason_revokes_and_audits_the_key_name(server):
    certificate, _, _ = issue_leaf(make_local_ca())
    result = run(server, "certs", "revoke", certificate.id, "--reason", "keyCompromise", "-o", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["reason"] == "keyCompromise"
    certificate.refresh_from_db()
    assert certificate.status == CertificateStatus.REVOKED
    event = AuditEvent.objects.get(action="certificate_revoked", resource_id=certificate.id)
    assert event.actor == KEY_NAME


def test_revoke_without_a_valid_reason_exits_2_and_revokes_nothing(server):
    certificate = CertificateFactory()
    missing = run(server, "certs", "revoke", certificate.id)
    invalid = run(server, "certs", "revoke", certificate.id, "--reason", "lostIt")
    assert (missing.returncode, invalid.returncode) == (2, 2)
    certificate.refresh_from_db()
    assert certificate.status == CertificateStatus.ACTIVE


def test_a_dead_notification_is_requeued_and_a_sent_one_is_a_conflict(server, settings, http_sink):
    point_channels_at(settings, http_sink)
    dead = NotificationEventFactory(status=NotificationStatus.DEAD, channel=Channel.WEBHOOK, retry_count=5)
    sent = NotificationEventFactory(status=NotificationStatus.SENT, sent_at=timezone.now())

    listed = run(server, "notifications", "list", "--status", "dead", "-q")
    assert listed.stdout.split() == [dead.id]

    requeued = run(server, "notifications", "requeue", dead.id, "-q")
    assert requeued.returncode == 0, requeued.stderr
    assert requeued.stdout.split() == [dead.id]
    assert server.api(f"/api/v1/notifications/{dead.id}")["status"] in ("pending", "sent")

    conflict = run(server, "notifications", "requeue", sent.id)
    assert conflict.returncode == 5
    assert conflict.stderr.strip().splitlines() == [line for line in conflict.stderr.splitlines() if line]
    assert conflict.stderr.startswith(f"{sent.id}: error: ") and "[conflict" in conflict.stderr


def test_bulk_requeue_by_status_reports_the_count(server, settings, http_sink):
    point_channels_at(settings, http_sink)
    dead = NotificationEventFactory.create_batch(3, status=NotificationStatus.DEAD, channel=Channel.WEBHOOK)
    result = run(server, "notifications", "requeue", "--status", "dead", "-o", "json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["count"] == 3 and set(answer["ids"]) == {event.id for event in dead}


def test_a_profile_in_the_config_file_is_used_when_the_environment_has_none(server):
    key_file = server.home / "certctl.key"
    key_file.write_text(server.key + "\n")
    config = server.home / ".config" / "certctl" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'[profiles.lab]\nurl = "{server.url}"\napi_key_file = "{key_file}"\n')
    env = server.env(CERTCTL_URL=None, CERTCTL_API_KEY=None)

    result = run(server, "--profile", "lab", "status", "-o", "json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["auth"] == {
        "status": "authenticated",
        "user": KEY_NAME,
        "admin": True,
        "scopes": ["admin"],
        "teams": None,
    }
    assert report["ready"]["status"] == "ready" and report["version"]["version"]

    unknown = run(server, "--profile", "nope", "status", env=env)
    assert unknown.returncode == 2
    assert "no profile 'nope'" in one_error_line(unknown)


def test_revoke_bulk_refuses_without_a_terminal_then_revokes_with_yes(server):
    owner, ca = OwnerFactory(), make_local_ca()
    batch = [issue_leaf(ca, owner=owner)[0] for _ in range(3)]
    refused = run(server, "revoke-bulk", "--team", owner.team_id, "--reason", "superseded")
    assert refused.returncode == 2
    assert not ManagedCertificate.objects.filter(status=CertificateStatus.REVOKED, team=owner.team).exists()

    done = run(
        server, "revoke-bulk", "--team", owner.team_id, "--reason", "superseded", "--yes", "--batch-size", "2",
        "-o", "json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    totals = json.loads(done.stdout)
    assert (totals["total_matched"], totals["total_revoked"], totals["total_failed"]) == (3, 3, 0)
    revoked = ManagedCertificate.objects.filter(
        pk__in=[c.pk for c in batch], status=CertificateStatus.REVOKED
    )
    assert revoked.count() == 3


def test_jobs_cancel_then_cancel_again_is_a_conflict(server):
    job = JobFactory(status=JobStatus.PENDING)
    listed = run(server, "jobs", "list", "--status", "Pending", "-o", "json")
    assert job.id in [row["id"] for row in json.loads(listed.stdout)]
    first = run(server, "jobs", "cancel", job.id)
    assert first.returncode == 0, first.stderr
    assert "Cancelled" in first.stdout
    again = run(server, "jobs", "cancel", job.id)
    assert again.returncode == 5


def test_reject_takes_the_job_id_and_approving_your_own_request_exits_4(server):
    job, own_job = (
        JobFactory(status=JobStatus.AWAITING_APPROVAL),
        JobFactory(status=JobStatus.AWAITING_APPROVAL),
    )
    for waiting, requester in ((job, "alice"), (own_job, KEY_NAME)):
        ApprovalRequest.objects.create(
            certificate=waiting.certificate, job=waiting, profile=ProfileFactory(), requested_by=requester
        )
    rejected = run(server, "jobs", "reject", job.id, "--note", "not this week", "-o", "json")
    assert rejected.returncode == 0, rejected.stderr
    assert json.loads(rejected.stdout)["state"] == "rejected"
    assert Job.objects.get(pk=job.pk).status == JobStatus.CANCELLED

    own = run(server, "jobs", "approve", own_job.id)
    assert own.returncode == 4
    assert "forbidden" in one_error_line(own)


def test_stats_json_is_the_api_summary(server):
    result = run(server, "stats", "-o", "json")
    assert result.returncode == 0, result.stderr
    ours, theirs = json.loads(result.stdout), server.api("/api/v1/stats/summary")
    for moment in ("generated_at", "completed_at"):  # when each answer was made
        ours.pop(moment), theirs.pop(moment)
    assert ours == theirs


def test_audit_tail_follow_prints_new_events_until_ctrl_c(server):
    record("cli_test_before", resource_type="test", resource_id="t-1", actor="someone")
    tail = subprocess.Popen(
        [str(CERTCTL), "audit", "tail", "-n", "1", "--follow", "--interval", "0.5", "--actor", "someone"],
        env=server.env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A suite started in the background (CI) ignores SIGINT, and children inherit that: give Ctrl-C back.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in tail.stdout], daemon=True).start()
    try:
        assert "cli_test_before" in lines.get(timeout=15)
        record("cli_test_after", resource_type="test", resource_id="t-2", actor="someone")
        assert "cli_test_after" in lines.get(timeout=15)
    finally:
        time.sleep(0.1)
        tail.send_signal(signal.SIGINT)
        tail.wait(timeout=10)
    stderr = tail.stderr.read()
    assert tail.returncode == 0, stderr
    assert "Traceback" not in stderr and server.key not in stderr


def test_certs_issue_signs_a_csr_file_and_export_writes_the_chain(server, tmp_path):
    from certificates.inventory.models import CertificateVersion
    from tests.issuance_helpers import issuable_certificate, make_csr, make_root, names_of

    certificate = issuable_certificate(
        make_root(name="cli-root"), name="cli-shop", common_name="cli.example.com"
    )
    csr_file = tmp_path / "request.csr"
    csr_file.write_text(make_csr(names_of(certificate))[0])
    issued = run(server, "certs", "issue", certificate.id, "--csr", str(csr_file), "-o", "json")
    assert issued.returncode == 0, issued.stderr
    version = CertificateVersion.objects.get(certificate_id=certificate.id)
    assert json.loads(issued.stdout)["serial_number"] == version.serial_number

    out = tmp_path / "chain.pem"
    exported = run(server, "certs", "export", certificate.id, "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert out.read_text().count("-----BEGIN CERTIFICATE-----") == 2


def test_issuers_agents_and_audit_lists_show_their_rows(server):
    issuers = run(server, "issuers", "list")
    assert issuers.returncode == 0 and "demo-local-ca" in issuers.stdout
    tested = run(server, "issuers", "test", server.api("/api/v1/issuers")["data"][0]["id"], "-o", "json")
    assert tested.returncode == 0, tested.stderr
    agents = run(server, "agents", "list", "--quiet")
    assert agents.returncode == 0 and agents.stdout.split() == [
        a["id"] for a in server.api("/api/v1/agents")["data"]
    ]
    audit = run(server, "audit", "list", "--actor", KEY_NAME, "-o", "json")
    assert audit.returncode == 0, audit.stderr
    assert {event["actor"] for event in json.loads(audit.stdout)} == {KEY_NAME}
