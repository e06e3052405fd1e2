"""JSON columns that cannot hold NULL, edited in the admin (certctl.kernel.fields): a blank optional field stores the empty
default, and `null`, a non-finite number or a NUL character is a form error, not a database error (all three were
500s, found by tests/certctl/test_admin_fuzz.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from certctl.kernel.fields import JSONField, NotNullJSONFormField
from certificates.inventory.models import Agent, CertificateProfile, ManagedCertificate
from tests.factories import AgentFactory, CertificateFactory

pytestmark = pytest.mark.django_db


def agent_form(agent: Agent, **changes) -> dict:
    posted = {
        "name": agent.name,
        "hostname": agent.hostname,
        "status": agent.status,
        "os": agent.os,
        "architecture": agent.architecture,
        "ip_address": agent.ip_address,
        "version": agent.version,
        "metadata": '{"rack": "b7"}',
        "retired_reason": "",
        "targets-TOTAL_FORMS": "0",
        "targets-INITIAL_FORMS": "0",
        "_save": "Save",
    }
    return {**posted, **changes}


@pytest.mark.parametrize(
    ("posted", "error"),
    [
        ("null", "null is not allowed here"),
        ("1e309", "numbers must be finite"),
        ('{"load": NaN}', "numbers must be finite"),
        ("[1, -Infinity]", "numbers must be finite"),
        ('{"rack": "b\\u00007"}', "NUL characters"),
        ('{"r\\u0000ck": 1}', "NUL characters"),
    ],
)
def test_null_and_non_finite_numbers_are_form_errors_and_change_nothing(admin_client, posted, error):
    agent = AgentFactory(metadata={"rack": "a1"})
    url = reverse("admin:certificates_agent_change", args=[agent.pk])

    response = admin_client.post(url, agent_form(agent, metadata=posted))

    assert response.status_code == 200
    assert error in str(response.context["adminform"].form.errors["metadata"])
    agent.refresh_from_db()
    assert agent.metadata == {"rack": "a1"}


def test_a_blank_optional_json_field_stores_its_empty_default(admin_client):
    agent = AgentFactory(metadata={"rack": "a1"})
    url = reverse("admin:certificates_agent_change", args=[agent.pk])

    response = admin_client.post(url, agent_form(agent, metadata=""))

    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.metadata == {}


def test_a_valid_json_value_is_saved(admin_client):
    agent = AgentFactory(metadata={})
    response = admin_client.post(
        reverse("admin:certificates_agent_change", args=[agent.pk]),
        agent_form(agent, metadata='{"rack": "c3"}'),
    )
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.metadata == {"rack": "c3"}


def test_the_form_field_keeps_required_fields_required_and_gives_fresh_defaults():
    sans = ManagedCertificate._meta.get_field("sans").formfield()
    ekus = CertificateProfile._meta.get_field("allowed_ekus").formfield()
    assert isinstance(sans, NotNullJSONFormField) and isinstance(ekus, NotNullJSONFormField)
    first, second = sans.clean(""), sans.clean("")
    assert first == [] and second == [] and first is not second  # a new list each time, never a shared one
    with pytest.raises(Exception, match="required"):
        ekus.clean("")  # blank=False: still "This field is required", not the default
    assert ekus.clean('["serverAuth"]') == ["serverAuth"]


def test_migrations_see_a_plain_json_field():
    field = CertificateFactory._meta.model._meta.get_field("tags")
    assert isinstance(field, JSONField)
    assert field.deconstruct()[1] == "django.db.models.JSONField"
