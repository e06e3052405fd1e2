"""The discovered inventory over the API: each filter, the detail, PATCH owner/team, dismiss/restore, changed
endpoints and their acknowledgement, the summary, and the reference aliases."""

from __future__ import annotations

import datetime as dt

import pytest

from audit.models import AuditEvent
from certificates.discovery.models import DiscoveredCertificate, DiscoveryEndpoint, DiscoveryStatus
from certificates.discovery.services.record import Place
from tests.certificates.discovery.inventory_support import NOW, Pki, imported, issue, net, seen
from tests.factories import AgentFactory, OwnerFactory, TeamFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/discovery/certificates"


def ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["data"]}


@pytest.fixture
def estate():
    pki = Pki()
    agent = AgentFactory(hostname="web1.example.test")
    good = seen(pki.leaf("shop.example", sans=["shop.example", "pay.example"]), net(443, "shop.example"))
    weak = seen(issue("old.example", key_kind="rsa1024", hash_name="sha1", days=10), net(8443))
    on_disk = seen(
        pki.leaf("files.example", days=400),
        Place(kind="agent", agent=agent, hostname="web1.example.test", path="/etc/ssl/files.pem"),
    )
    bundle = imported(issue("vault.internal", days=200))
    return {"pki": pki, "agent": agent, "good": good, "weak": weak, "disk": on_disk, "import": bundle}


def test_each_filter_narrows_the_list(client_with_key, estate):
    good, weak, disk, bundle = estate["good"], estate["weak"], estate["disk"], estate["import"]
    everything = {good.pk, weak.pk, disk.pk, bundle.pk}
    assert ids(client_with_key.get(URL)) == everything
    assert ids(client_with_key.get(URL, {"issuer": "issuing ca"})) == {good.pk, disk.pk}
    assert ids(client_with_key.get(URL, {"self_signed": "true"})) == {weak.pk, bundle.pk}
    assert ids(client_with_key.get(URL, {"weak": "true"})) == {weak.pk}
    assert ids(client_with_key.get(URL, {"weak": "false"})) == everything - {weak.pk}
    soon = (NOW + dt.timedelta(days=30)).isoformat()
    assert ids(client_with_key.get(URL, {"expires_before": soon})) == {weak.pk}
    assert ids(client_with_key.get(URL, {"expires_after": soon})) == everything - {weak.pk}
    assert ids(client_with_key.get(URL, {"endpoint": "shop.exam"})) == {good.pk}
    assert ids(client_with_key.get(URL, {"endpoint": "/etc/ssl"})) == {disk.pk}
    assert ids(client_with_key.get(URL, {"agent_id": estate["agent"].pk})) == {disk.pk}
    assert ids(client_with_key.get(URL, {"source": "network"})) == {good.pk, weak.pk}
    assert ids(client_with_key.get(URL, {"source": "agent"})) == {disk.pk}
    assert ids(client_with_key.get(URL, {"source": "import"})) == {bundle.pk}
    assert ids(client_with_key.get(URL, {"search": "PAY.example"})) == {good.pk}
    assert ids(client_with_key.get(URL, {"search": "vault"})) == {bundle.pk}
    assert ids(client_with_key.get(URL, {"status": "Unmanaged"})) == everything
    assert ids(client_with_key.get(URL, {"status": "Dismissed"})) == set()


def test_owner_team_and_changed_filters(client_with_key, estate):
    team = TeamFactory()
    owner = OwnerFactory(team=team)
    DiscoveredCertificate.objects.filter(pk=estate["good"].pk).update(team=team)
    DiscoveredCertificate.objects.filter(pk=estate["weak"].pk).update(owner=owner)
    assert ids(client_with_key.get(URL, {"team_id": team.pk})) == {estate["good"].pk}
    assert ids(client_with_key.get(URL, {"owner_id": owner.pk})) == {estate["weak"].pk}

    replacement = seen(
        estate["pki"].leaf("shop.example"), net(443, "shop.example"), at=NOW + dt.timedelta(hours=1)
    )
    assert ids(client_with_key.get(URL, {"changed": "true"})) == {replacement.pk}
    assert replacement.pk not in ids(client_with_key.get(URL, {"changed": "false"}))


def test_sorted_by_expiry_by_default_and_by_last_seen_on_request(client_with_key, estate):
    rows = client_with_key.get(URL).json()["data"]
    assert [r["not_after"] for r in rows] == sorted(r["not_after"] for r in rows)
    rows = client_with_key.get(URL, {"sort": "-last_seen_at"}).json()["data"]
    assert [r["last_seen_at"] for r in rows] == sorted((r["last_seen_at"] for r in rows), reverse=True)
    page = client_with_key.get(URL, {"per_page": 2, "page": 2}).json()
    assert (page["total"], page["page"], len(page["data"])) == (4, 2, 2)


def test_bad_filter_values_are_a_400(client_with_key, estate):
    assert client_with_key.get(URL, {"status": "Lost"}).status_code == 400
    assert client_with_key.get(URL, {"expires_before": "soon"}).status_code == 400
    assert client_with_key.get(URL, {"source": "fax"}).status_code == 400


def test_detail_has_sightings_and_endpoints_and_never_the_private_key(client_with_key, estate):
    good = estate["good"]
    body = client_with_key.get(f"{URL}/{good.pk}").json()
    assert body["pem"].startswith("-----BEGIN CERTIFICATE-----")
    (sighting,) = body["sightings"]
    assert (sighting["source"], sighting["address"], sighting["port"], sighting["sni"]) == (
        "network",
        "127.0.0.1",
        443,
        "shop.example",
    )
    (endpoint,) = body["endpoints"]
    assert endpoint["kind"] == "network" and endpoint["changed"] is False

    disk = client_with_key.get(f"{URL}/{estate['disk'].pk}").json()
    assert disk["sightings"][0]["path"] == "/etc/ssl/files.pem"
    assert disk["sightings"][0]["hostname"] == "web1.example.test"

    keyed = imported(issue("keyed.example"), with_key=True)
    body = client_with_key.get(f"{URL}/{keyed.pk}").json()
    assert body["has_private_key"] is True
    assert "encrypted_private_key" not in body and "PRIVATE KEY" not in str(body)
    listing = client_with_key.get(URL, {"search": "keyed"}).json()["data"][0]
    assert "encrypted_private_key" not in listing and "pem" not in listing
    assert client_with_key.get(f"{URL}/dcert-nope").status_code == 404


def test_patch_sets_owner_and_team_only(client_with_key, estate):
    good = estate["good"]
    team = TeamFactory()
    owner = OwnerFactory(team=team)
    response = client_with_key.patch(
        f"{URL}/{good.pk}", {"owner_id": owner.pk, "team_id": team.pk}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["owner_id"], response.json()["team_id"]) == (owner.pk, team.pk)
    assert AuditEvent.objects.filter(action="discovered_certificate_updated", resource_id=good.pk).exists()

    refused = client_with_key.patch(
        f"{URL}/{good.pk}", {"common_name": "x", "status": "Managed"}, format="json"
    )
    assert refused.status_code == 400
    assert set(refused.json()["fields"]) == {"common_name", "status"}
    assert (
        client_with_key.patch(f"{URL}/{good.pk}", {"team_id": "team-nope"}, format="json").status_code == 400
    )
    cleared = client_with_key.patch(f"{URL}/{good.pk}", {"owner_id": None}, format="json").json()
    assert cleared["owner_id"] is None and cleared["team_id"] == team.pk


def test_dismiss_with_a_reason_and_restore(client_with_key, estate):
    weak = estate["weak"]
    assert client_with_key.post(f"{URL}/{weak.pk}/dismiss", {}, format="json").status_code == 400
    body = client_with_key.post(
        f"{URL}/{weak.pk}/dismiss", {"reason": "lab box, retired"}, format="json"
    ).json()
    assert (body["status"], body["dismissed_reason"]) == ("Dismissed", "lab box, retired")
    again = client_with_key.post(f"{URL}/{weak.pk}/dismiss", {"reason": "twice"}, format="json")
    assert again.status_code == 200 and again.json()["dismissed_reason"] == "lab box, retired"
    assert ids(client_with_key.get(URL, {"status": "Dismissed"})) == {weak.pk}

    restored = client_with_key.post(f"{URL}/{weak.pk}/restore").json()
    assert (restored["status"], restored["dismissed_reason"]) == ("Unmanaged", "")
    actions = set(AuditEvent.objects.filter(resource_id=weak.pk).values_list("action", flat=True))
    assert {"discovered_certificate_dismissed", "discovered_certificate_restored"} <= actions


def test_dismissing_a_managed_certificate_is_a_409(client_with_key, estate):
    DiscoveredCertificate.objects.filter(pk=estate["good"].pk).update(status=DiscoveryStatus.MANAGED)
    response = client_with_key.post(f"{URL}/{estate['good'].pk}/dismiss", {"reason": "x"}, format="json")
    assert response.status_code == 409 and response.json()["error"] == "conflict"


def test_changed_endpoint_is_flagged_and_acknowledged(client_with_key, estate):
    replacement = seen(
        estate["pki"].leaf("shop.example"), net(443, "shop.example"), at=NOW + dt.timedelta(hours=1)
    )
    changed = client_with_key.get("/api/v1/discovery/endpoints", {"changed": "true"}).json()["data"]
    (endpoint,) = changed
    assert endpoint["previous_certificate_id"] == estate["good"].pk
    assert endpoint["current_certificate_id"] == replacement.pk and endpoint["changed"] is True
    detail = client_with_key.get(f"{URL}/{replacement.pk}").json()
    assert detail["endpoints"][0]["changed"] is True
    assert client_with_key.get("/api/v1/discovery/summary").json()["changed_endpoints"] == 1

    ack = client_with_key.post(f"/api/v1/discovery/endpoints/{endpoint['id']}/acknowledge")
    assert ack.status_code == 200 and ack.json()["acknowledged"] is True
    assert ack.json()["endpoint"]["changed"] is False
    assert (
        client_with_key.post(f"/api/v1/discovery/endpoints/{endpoint['id']}/acknowledge").json()[
            "acknowledged"
        ]
        is False
    )
    assert client_with_key.get("/api/v1/discovery/endpoints", {"changed": "true"}).json()["data"] == []
    assert DiscoveryEndpoint.objects.get(pk=endpoint["id"]).change_acknowledged_at is not None
    assert client_with_key.get("/api/v1/discovery/summary").json()["changed_endpoints"] == 0


def test_endpoint_filters(client_with_key, estate):
    agent_rows = client_with_key.get("/api/v1/discovery/endpoints", {"kind": "agent"}).json()["data"]
    assert [row["path"] for row in agent_rows] == ["/etc/ssl/files.pem"]
    by_agent = client_with_key.get("/api/v1/discovery/endpoints", {"agent_id": estate["agent"].pk}).json()
    assert by_agent["total"] == 1
    assert client_with_key.get("/api/v1/discovery/endpoints", {"kind": "network"}).json()["total"] == 2


def test_summary_counts(client_with_key, estate):
    DiscoveredCertificate.objects.filter(pk=estate["import"].pk).update(status=DiscoveryStatus.DISMISSED)
    summary = client_with_key.get("/api/v1/discovery/summary").json()
    assert summary["by_status"] == {"Unmanaged": 3, "Managed": 0, "Dismissed": 1}
    assert (summary["total"], summary["weak"], summary["self_signed"]) == (4, 1, 1)
    assert summary["expiring_soon"] == 1 and summary["expired"] == 0
    assert summary["last_scan"] is None


def test_reference_aliases_answer_the_same(client_with_key, estate):
    assert ids(client_with_key.get("/api/v1/discovered-certificates")) == ids(client_with_key.get(URL))
    assert client_with_key.get(f"/api/v1/discovered-certificates/{estate['good'].pk}/").status_code == 200
    assert client_with_key.get("/api/v1/discovery-summary").json()["total"] == 4
    assert client_with_key.get(f"{URL}/").status_code == 200


def test_unauthenticated_is_refused(api_client, estate):
    assert api_client.get(URL).status_code == 401
