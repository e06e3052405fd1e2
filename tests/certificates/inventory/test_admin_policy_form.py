"""The renewal-policy alert matrix is edited with checkboxes and short lists, validated like the API."""

from __future__ import annotations

import pytest
from django.urls import reverse

from certificates.inventory.models import RenewalPolicy
from tests.factories import RenewalPolicyFactory

ADD_URL = reverse("admin:certificates_renewalpolicy_add")


def policy_post(**overrides) -> dict:
    data = {
        "name": "critical-services",
        "renewal_window_days": "30",
        "auto_renew": "on",
        "max_retries": "3",
        "retry_interval_seconds": "3600",
        "thresholds": "30, 14, 7, 0",
        "severities": "30: informational, 14: warning, 7: warning, 0: critical",
        "custom_channels": "on",
        "channels_informational": ["Slack"],
        "channels_warning": ["Slack", "Email"],
        "channels_critical": ["PagerDuty", "OpsGenie", "Email"],
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def errors_of(response) -> dict:
    return response.context["adminform"].form.errors


@pytest.mark.django_db
def test_matrix_form_saves_thresholds_severities_and_channels(admin_client):
    response = admin_client.post(ADD_URL, policy_post(thresholds="7, 30, 0, 14"))
    assert response.status_code == 302
    policy = RenewalPolicy.objects.get(name="critical-services")
    assert policy.alert_thresholds_days == [30, 14, 7, 0]
    assert policy.alert_severity_map == {
        "30": "informational",
        "14": "warning",
        "7": "warning",
        "0": "critical",
    }
    assert policy.alert_channels == {
        "informational": ["Slack"],
        "warning": ["Slack", "Email"],
        "critical": ["PagerDuty", "OpsGenie", "Email"],
    }


@pytest.mark.django_db
def test_tier_left_unticked_is_an_explicit_opt_out(admin_client):
    admin_client.post(ADD_URL, policy_post(channels_informational=None, channels_warning=None))
    assert RenewalPolicy.objects.get().alert_channels == {"critical": ["PagerDuty", "OpsGenie", "Email"]}


@pytest.mark.django_db
def test_custom_matrix_off_stores_the_email_default(admin_client):
    admin_client.post(ADD_URL, policy_post(custom_channels=None))
    assert RenewalPolicy.objects.get().alert_channels == {}


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"thresholds": "30, soon, 0"}, "thresholds", "'soon' is not a whole number of days"),
        ({"thresholds": "30, 400"}, "thresholds", "400"),
        ({"thresholds": "7, 7"}, "thresholds", "must not repeat"),
        ({"severities": "30: urgent"}, "severities", "unknown severity tier 'urgent'"),
        ({"severities": "21: warning"}, "severities", "21 days, which is not one of the thresholds"),
        ({"severities": "thirty"}, "severities", "must look like 'days: tier'"),
        ({"channels_warning": ["Carrier pigeon"]}, "channels_warning", "Carrier pigeon"),
        (
            {"channels_informational": None, "channels_warning": None, "channels_critical": None},
            "custom_channels",
            "Tick at least one channel",
        ),
    ],
)
@pytest.mark.django_db
def test_bad_input_is_rejected_with_a_message_naming_it(admin_client, overrides, field, message):
    response = admin_client.post(ADD_URL, policy_post(**overrides))
    assert response.status_code == 200
    assert message in " ".join(errors_of(response)[field])
    assert not RenewalPolicy.objects.exists()


@pytest.mark.django_db
def test_change_form_shows_the_stored_matrix_as_ticked_boxes(admin_client):
    policy = RenewalPolicyFactory(
        alert_thresholds_days=[14, 0], alert_channels={"critical": ["PagerDuty"]}, alert_severity_map={}
    )
    response = admin_client.get(reverse("admin:certificates_renewalpolicy_change", args=[policy.pk]))
    form = response.context["adminform"].form
    assert form.initial["thresholds"] == "14, 0"
    assert form.initial["severities"] == "14: warning, 0: critical"
    assert form.initial["custom_channels"] is True
    assert form.initial["channels_critical"] == ["PagerDuty"]
    assert (
        'name="channels_critical" value="PagerDuty" id="id_channels_critical_4" checked'
        in response.content.decode()
    )
