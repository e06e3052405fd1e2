"""Odd alert-matrix input is a 400 naming it (API) or a form error (admin), never a 500; odd stored data
never stops the expiry check."""

from datetime import timedelta

import pytest
from django.urls import reverse

from certificates.expiry.services.check import check_expiring_certificates
from certificates.expiry.services.routing import policy_routing
from certificates.inventory.models import RenewalPolicy
from notifications.models import NotificationEvent
from tests.expiry_helpers import NOW, alerts_per_channel, cert_expiring_in, policy

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"alert_channels": {"critical": [["Email"]]}}, "['Email']"),
        ({"alert_channels": {"warning": [{"channel": "Slack"}]}}, "{'channel': 'Slack'}"),
        ({"alert_severity_map": {"²": "warning"}}, "'²'"),
        ({"alert_severity_map": {"٣": "critical"}}, "'٣'"),
    ],
)
def test_non_string_channel_or_non_ascii_threshold_key_is_a_400_naming_it(admin_client_with_key, body, named):
    response = admin_client_with_key.post("/api/v1/renewal-policies", {"name": "odd", **body}, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert named in response.json()["message"]
    assert not RenewalPolicy.objects.filter(name="odd").exists()


@pytest.mark.parametrize(("field", "value"), [("thresholds", "30, ²"), ("severities", "٣: warning")])
def test_admin_form_rejects_non_ascii_digits_with_a_message(admin_client, field, value):
    data = {
        "name": "odd",
        "renewal_window_days": "30",
        "max_retries": "3",
        "retry_interval_seconds": "3600",
        "thresholds": "30, 3",
        "severities": "",
        field: value,
    }

    response = admin_client.post(reverse("admin:certificates_renewalpolicy_add"), data)

    assert response.status_code == 200
    assert value.split(",")[-1].split(":")[0].strip() in " ".join(
        response.context["adminform"].form.errors[field]
    )
    assert not RenewalPolicy.objects.exists()


def test_stored_severity_key_that_is_not_a_number_is_dropped_on_read():
    routing = policy_routing([7], {"²": "critical", "7": "warning", "-1": "critical"}, {})
    assert routing.severity_map == {7: "warning"}


def test_malformed_stored_policy_data_does_not_stop_the_check():
    broken = policy(alert_thresholds_days=[7])
    RenewalPolicy.objects.filter(pk=broken.pk).update(
        alert_severity_map={"²": "critical"}, alert_channels={"warning": [["Slack"], "Email"]}
    )
    cert = cert_expiring_in(timedelta(days=3), broken)
    other = cert_expiring_in(timedelta(days=3), policy(alert_thresholds_days=[7]))

    result = check_expiring_certificates(now=NOW)

    assert alerts_per_channel(cert) == {"Email": 1}
    assert alerts_per_channel(other) == {"Email": 1}
    assert result.skipped_invalid_channel == 1


def test_admin_link_in_the_alert_opens_the_certificate_in_the_admin(admin_client, settings):
    settings.PUBLIC_URL = "https://certctl.example.test"
    cert = cert_expiring_in(timedelta(days=3), policy(alert_thresholds_days=[7]))
    check_expiring_certificates(now=NOW)
    message = NotificationEvent.objects.get(certificate=cert).message
    link = next(line for line in message.splitlines() if line.startswith("Admin: ")).removeprefix("Admin: ")

    assert link.startswith(settings.PUBLIC_URL + "/")
    response = admin_client.get(link.removeprefix(settings.PUBLIC_URL))

    assert response.status_code == 200
    assert cert.name in response.content.decode()
