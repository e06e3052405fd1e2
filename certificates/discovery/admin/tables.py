"""Small read-only tables of the discovery admin pages: where a certificate was seen, its open violations."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import format_html, format_html_join

from certificates.compliance.models import SEVERITY_ORDER, Violation
from certificates.discovery.models import DiscoveredCertificate, DiscoveryEndpoint


def endpoint_link(endpoint: DiscoveryEndpoint | None) -> str:
    if endpoint is None:
        return "import"
    url = reverse("admin:certificates_discoveryendpoint_change", args=[endpoint.pk])
    return format_html('<a href="{}">{}</a>', url, str(endpoint))


def violations_table(certificate: DiscoveredCertificate) -> str:
    """Its open violations, most severe first (one query); a claimed or dismissed certificate holds none."""
    rows = sorted(
        Violation.objects.filter(discovered_certificate=certificate, resolved_at__isnull=True).select_related(
            "rule"
        ),
        key=lambda v: (SEVERITY_ORDER.get(v.severity, 3), v.rule.name),
    )
    if not rows:
        return "none"
    body = format_html_join(
        "",
        '<tr><td>{}</td><td><a href="{}">{}</a></td><td>{}</td><td>{}</td></tr>',
        (
            (
                v.severity,
                reverse("admin:certificates_violation_change", args=[v.pk]),
                v.rule.name,
                v.message,
                f"{v.first_seen_at:%Y-%m-%d %H:%M} UTC",
            )
            for v in rows
        ),
    )
    return format_html(
        "<table><tr><th>Severity</th><th>Rule</th><th>Violation</th><th>Since</th></tr>{}</table>", body
    )
