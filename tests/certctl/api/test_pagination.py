from datetime import timedelta

import pytest
from django.utils import timezone

from certificates.inventory.models import ManagedCertificate
from tests.api_data import bulk_certificates

pytestmark = pytest.mark.django_db


def test_total_is_the_real_count_over_a_thousand_rows(client_with_key):
    bulk_certificates(1000)
    body = client_with_key.get("/api/v1/certificates?per_page=50").json()
    assert body["total"] == 1000
    assert body["per_page"] == 50
    assert body["page"] == 1
    assert len(body["data"]) == 50


def test_last_page_holds_the_remainder_and_pages_do_not_overlap(client_with_key):
    bulk_certificates(1000)
    first = client_with_key.get("/api/v1/certificates?per_page=300&page=1").json()
    last = client_with_key.get("/api/v1/certificates?per_page=300&page=4").json()
    assert len(last["data"]) == 100
    assert not {c["id"] for c in first["data"]} & {c["id"] for c in last["data"]}


def test_a_page_past_the_end_is_empty_but_keeps_the_total(client_with_key):
    bulk_certificates(1000)
    body = client_with_key.get("/api/v1/certificates?per_page=50&page=21").json()
    assert body["data"] == []
    assert body["total"] == 1000


@pytest.mark.parametrize("query", ["per_page=501", "per_page=0", "page=0", "per_page=abc", "page_size=501"])
def test_out_of_range_paging_parameters_are_a_400(client_with_key, query):
    response = client_with_key.get(f"/api/v1/certificates?{query}")
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"


def test_other_lists_use_page_paging_too(client_with_key):
    body = client_with_key.get("/api/v1/teams?per_page=5").json()
    assert set(body) == {"data", "total", "page", "per_page"}


def test_keyset_walk_sees_every_existing_row_once_in_order_while_rows_are_added(client_with_key):
    existing = bulk_certificates(230)
    # A block of rows with the same created_at: the id must break the tie.
    tie = timezone.now() - timedelta(hours=1)
    ManagedCertificate.objects.filter(pk__in=[c.pk for c in existing[50:90]]).update(created_at=tie)
    expected = list(ManagedCertificate.objects.order_by("-created_at", "-id").values_list("id", flat=True))

    seen: list[str] = []
    url = "/api/v1/certificates?page_size=40"
    for round_ in range(20):
        body = client_with_key.get(url).json()
        assert body["total"] >= 230
        seen.extend(c["id"] for c in body["data"])
        bulk_certificates(3, prefix=f"new{round_}")
        if body["next_cursor"] is None:
            break
        url = f"/api/v1/certificates?page_size=40&cursor={body['next_cursor']}"

    assert seen == expected


def test_an_invalid_cursor_is_a_400(client_with_key):
    response = client_with_key.get("/api/v1/certificates?cursor=not-a-cursor")
    assert response.status_code == 400
    assert "cursor" in response.json()["fields"]


def test_cursor_paging_refuses_a_sort(client_with_key):
    response = client_with_key.get("/api/v1/certificates?page_size=10&sort=name")
    assert response.status_code == 400


def test_per_page_defaults_to_50_and_accepts_up_to_500(client_with_key):
    bulk_certificates(600)
    default = client_with_key.get("/api/v1/certificates").json()
    assert (default["page"], default["per_page"], len(default["data"]), default["total"]) == (1, 50, 50, 600)
    largest = client_with_key.get("/api/v1/certificates?per_page=500").json()
    assert (largest["per_page"], len(largest["data"])) == (500, 500)
