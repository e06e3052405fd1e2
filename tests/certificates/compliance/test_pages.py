"""Compliance in the console: the certificate page's Compliance panel, the dashboard's counts, the admin pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from certificates.compliance.models import ComplianceRule, Violation
from certificates.compliance.services.evaluate import evaluate_discovered, evaluate_managed
from tests.certificates.compliance.support import discovered, managed, only_rule
from tests.discovery_support import Pki, issue

pytestmark = pytest.mark.django_db

PKI = Pki()


def tiles(response) -> dict[str, str]:
    return {tile.label: tile.value for _, group in response.context["tile_groups"] for tile in group}


def test_the_certificate_page_lists_its_open_violations_by_severity(admin_client):
    only_rule("self_signed", severity="Warning", name="No self-signed")
    ComplianceRule.objects.create(name="Keys", type="min_key_size", config={"rsa": 2048}, severity="Error")
    certificate = managed(issue("weak.example", key_kind="rsa1024"))
    evaluate_managed([certificate.pk])
    html = admin_client.get(reverse("admin:certificates_managedcertificate_change", args=[certificate.pk]))
    text = html.content.decode()
    assert html.status_code == 200 and "Compliance" in text
    assert text.index("RSA-1024 key is below the minimum of 2048 bits") < text.index("self-signed: no CA")
    assert "No self-signed" in text and "Warning" in text


def test_a_compliant_certificate_has_no_compliance_panel(admin_client):
    only_rule("self_signed")
    certificate = managed(PKI.leaf("fine.example"))
    evaluate_managed([certificate.pk])
    response = admin_client.get(
        reverse("admin:certificates_managedcertificate_change", args=[certificate.pk])
    )
    assert response.status_code == 200
    assert "Compliance" not in [panel.title for panel in response.context["panels"]]


def test_the_dashboard_counts_open_violations_by_severity_and_unmanaged_certificates(admin_client):
    only_rule("self_signed", severity="Critical")
    ComplianceRule.objects.create(name="Keys", type="min_key_size", config={"rsa": 2048}, severity="Error")
    evaluate_discovered([discovered(issue("a.example", key_kind="rsa1024"), port=1).pk])
    evaluate_discovered([discovered(issue("b.example"), port=2).pk])
    shown = tiles(admin_client.get(reverse("admin:index")))
    assert shown["Critical violations"] == "2" and shown["Error violations"] == "1"
    assert shown["Warning violations"] == "0" and shown["Unmanaged discovered certificates"] == "2"
    listed = admin_client.get(
        reverse("admin:certificates_violation_changelist") + "?state=open&severity__exact=Critical"
    )
    assert listed.context["cl"].result_count == 2


def test_the_admin_pages_render_and_a_bad_config_is_refused(admin_client):
    only_rule("self_signed")
    evaluate_discovered([discovered(issue("a.example")).pk])
    violation = Violation.objects.get()
    for url in (
        reverse("admin:certificates_compliancerule_changelist"),
        reverse("admin:certificates_compliancerule_add"),
        reverse("admin:certificates_violation_changelist") + "?state=resolved",
        reverse("admin:certificates_violation_change", args=[violation.pk]),
    ):
        assert admin_client.get(url).status_code == 200, url
    response = admin_client.post(
        reverse("admin:certificates_compliancerule_add"),
        {
            "name": "Bad",
            "type": "max_validity",
            "config": '{"days": "many"}',
            "severity": "Error",
            "applies_to": "all",
        },
    )
    assert response.status_code == 200 and "config.days" in response.content.decode()
    response = admin_client.post(
        reverse("admin:certificates_compliancerule_add"),
        {
            "name": "Good",
            "type": "max_validity",
            "config": '{"days": 90}',
            "severity": "Error",
            "applies_to": "all",
        },
    )
    assert response.status_code == 302
    assert ComplianceRule.objects.get(name="Good").config == {"days": 90}
