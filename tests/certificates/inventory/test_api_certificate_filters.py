from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone

from certificates.inventory.models import ManagedCertificate
from tests.factories import AgentFactory, CertificateFactory, ProfileFactory, TargetFactory

pytestmark = pytest.mark.django_db


def ids(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [c["id"] for c in response.json()["data"]]


def test_filters_by_status_environment_owner_team_issuer_and_profile(client_with_key):
    profile = ProfileFactory()
    match = CertificateFactory(status="Expiring", environment="production", profile=profile)
    CertificateFactory(status="Active", environment="production")
    CertificateFactory(status="Expiring", environment="staging")
    base = "/api/v1/certificates"
    assert ids(client_with_key.get(f"{base}?status=Expiring&environment=production")) == [match.id]
    assert ids(client_with_key.get(f"{base}?owner_id={match.owner_id}")) == [match.id]
    assert ids(client_with_key.get(f"{base}?team_id={match.team_id}")) == [match.id]
    assert ids(client_with_key.get(f"{base}?issuer_id={match.issuer_id}")) == [match.id]
    assert ids(client_with_key.get(f"{base}?profile_id={profile.id}")) == [match.id]


def test_unknown_status_is_a_400(client_with_key):
    response = client_with_key.get("/api/v1/certificates?status=active")
    assert response.status_code == 400
    assert "status" in response.json()["fields"]


def test_agent_filter_finds_certificates_mapped_to_that_agents_targets(client_with_key):
    agent = AgentFactory()
    a, b = TargetFactory(agent=agent), TargetFactory(agent=agent)
    both = CertificateFactory()
    both.targets.set([a, b])
    CertificateFactory().targets.set([TargetFactory()])
    CertificateFactory()
    assert ids(client_with_key.get(f"/api/v1/certificates?agent_id={agent.id}")) == [both.id]


def test_expiry_window_filters_take_rfc3339_times(client_with_key):
    now = timezone.now()
    soon = CertificateFactory(expires_at=now + timedelta(days=5))
    CertificateFactory(expires_at=now + timedelta(days=60))
    CertificateFactory(expires_at=now - timedelta(days=1))
    after = quote(now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    before = quote((now + timedelta(days=10)).isoformat())
    response = client_with_key.get(f"/api/v1/certificates?expires_after={after}&expires_before={before}")
    assert ids(response) == [soon.id]


def test_created_and_updated_after_filters(client_with_key):
    old = CertificateFactory()
    new = CertificateFactory()
    cutoff = timezone.now() - timedelta(hours=1)
    ManagedCertificate.objects.filter(pk=old.pk).update(
        created_at=cutoff - timedelta(days=1), updated_at=cutoff - timedelta(days=1)
    )
    stamp = quote(cutoff.isoformat())
    assert ids(client_with_key.get(f"/api/v1/certificates?created_after={stamp}")) == [new.id]
    assert ids(client_with_key.get(f"/api/v1/certificates?updated_after={stamp}")) == [new.id]


@pytest.mark.parametrize("param", ["expires_before", "expires_after", "created_after", "updated_after"])
def test_an_unparsable_time_is_a_400_not_ignored(client_with_key, param):
    response = client_with_key.get(f"/api/v1/certificates?{param}=next-tuesday")
    assert response.status_code == 400
    assert param in response.json()["fields"]


def test_sort_by_expiry_ascending_and_descending(client_with_key):
    now = timezone.now()
    certs = [CertificateFactory(expires_at=now + timedelta(days=d)) for d in (30, 10, 20)]
    by_expiry = [c.id for c in sorted(certs, key=lambda c: c.expires_at)]
    assert ids(client_with_key.get("/api/v1/certificates?sort=expires_at")) == by_expiry
    assert ids(client_with_key.get("/api/v1/certificates?sort=-expires_at")) == by_expiry[::-1]


def test_sort_by_name_breaks_no_ties_randomly(client_with_key):
    names = ["charlie", "alpha", "bravo"]
    certs = {n: CertificateFactory(name=n, status="Active") for n in names}
    assert ids(client_with_key.get("/api/v1/certificates?sort=name")) == [certs[n].id for n in sorted(names)]
    same_status = ids(client_with_key.get("/api/v1/certificates?sort=status"))
    assert same_status == sorted(c.id for c in certs.values())


def test_unknown_sort_field_is_a_400(client_with_key):
    response = client_with_key.get("/api/v1/certificates?sort=owner")
    assert response.status_code == 400
    assert "sort" in response.json()["fields"]


def test_default_order_is_newest_first(client_with_key):
    first, second = CertificateFactory(), CertificateFactory()
    assert ids(client_with_key.get("/api/v1/certificates")) == [second.id, first.id]


def test_filters_apply_in_cursor_mode(client_with_key):
    CertificateFactory(environment="production")
    CertificateFactory(environment="staging")
    body = client_with_key.get("/api/v1/certificates?page_size=10&environment=staging").json()
    assert body["total"] == 1
    assert body["next_cursor"] is None


def test_sparse_fieldsets_return_only_the_requested_keys(client_with_key):
    cert = CertificateFactory()
    body = client_with_key.get("/api/v1/certificates?fields=id,expires_at").json()
    assert body["data"] == [{"id": cert.id, "expires_at": body["data"][0]["expires_at"]}]
    one = client_with_key.get(f"/api/v1/certificates/{cert.id}?fields=name").json()
    assert one == {"name": cert.name}


def test_sparse_fieldsets_refuse_unknown_keys(client_with_key):
    response = client_with_key.get("/api/v1/certificates?fields=id,secret_sauce")
    assert response.status_code == 400
    assert "secret_sauce" in response.json()["fields"]["fields"][0]
