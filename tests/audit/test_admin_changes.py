"""A change saved in the Django admin is a domain audit event, alongside the API-call row of the POST."""

import pytest

from audit.models import AuditEvent
from certctl.api.models import ApiKey

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def api_rows_written_in_the_request(settings):
    settings.AUDIT_API_WRITE = "sync"


@pytest.fixture
def admin_user_client(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_superuser("root", "r@example.test", "pw-for-tests-only")
    )
    return client


def test_changing_an_object_in_the_admin_records_who_changed_what(admin_user_client):
    from django.contrib.auth.models import Group

    response = admin_user_client.post("/admin/auth/group/add/", {"name": "operators", "_save": "Save"})
    assert response.status_code == 302
    group = Group.objects.get(name="operators")
    url = f"/admin/auth/group/{group.pk}/change/"
    assert admin_user_client.post(url, {"name": "on-call", "_save": "Save"}).status_code == 302
    added, changed = AuditEvent.objects.filter(action__startswith="admin_").order_by("timestamp")
    assert (added.action, added.actor, added.actor_type, added.resource_type, added.resource_id) == (
        "admin_addition",
        "root",
        "User",
        "auth.group",
        str(group.pk),
    )
    assert (changed.action, changed.details["object"]) == ("admin_change", "on-call")
    assert "Name" in changed.details["change"]
    assert AuditEvent.objects.filter(action="api_post", resource_id=url, actor="root").exists()


def test_a_log_entry_written_by_any_admin_becomes_an_event(django_user_model):
    from django.contrib.admin.models import DELETION, LogEntry
    from django.contrib.contenttypes.models import ContentType

    user = django_user_model.objects.create_superuser("root", "r@example.test", "pw-for-tests-only")
    LogEntry.objects.create(
        user=user,
        content_type=ContentType.objects.get_for_model(ApiKey),
        object_id="key-1",
        object_repr="old-key",
        action_flag=DELETION,
    )
    event = AuditEvent.objects.get(action="admin_deletion")
    assert (event.actor, event.resource_type, event.resource_id) == ("root", "certctl.apikey", "key-1")
    assert event.details == {"object": "old-key", "change": ""}
