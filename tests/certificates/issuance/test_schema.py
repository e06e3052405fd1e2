"""The lifecycle endpoints are typed in the OpenAPI document."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema():
    document = SchemaGenerator().get_schema(request=None, public=True)
    # With or without the api stream's hook that documents paths without the optional trailing slash.
    document["paths"] = {path.rstrip("/"): ops for path, ops in document["paths"].items()}
    return document


@pytest.mark.parametrize(
    ("path", "method", "status", "component"),
    [
        ("/api/v1/certificates/{id}/renew", "post", "202", "RenewResponse"),
        ("/api/v1/certificates/{id}/issue", "post", "201", "CertificateVersion"),
        ("/api/v1/certificates/{id}/export/pem", "get", "200", "PemExport"),
        ("/api/v1/certificates/bulk-renew", "post", "200", "BulkRenewResponse"),
        ("/api/v1/issuers/{id}/test", "post", "200", "IssuerTestResponse"),
        ("/api/v1/jobs/{id}/cancel", "post", "200", "Job"),
        ("/api/v1/approvals/{id}/approve", "post", "200", "DecisionResponse"),
        ("/api/v1/approvals/{id}/reject", "post", "200", "DecisionResponse"),
    ],
)
def test_endpoint_has_a_typed_response(schema, path, method, status, component):
    operation = schema["paths"][path][method]
    ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
    assert ref == f"#/components/schemas/{component}"


def test_list_endpoints_document_their_filters(schema):
    jobs = {p["name"] for p in schema["paths"]["/api/v1/jobs"]["get"]["parameters"]}
    assert {"status", "type", "certificate_id", "page", "per_page"} <= jobs
    approvals = {p["name"] for p in schema["paths"]["/api/v1/approvals"]["get"]["parameters"]}
    assert {"state", "certificate_id", "requested_by"} <= approvals
    pkcs12 = schema["paths"]["/api/v1/certificates/{id}/export/pkcs12"]["post"]["responses"]["200"]["content"]
    assert "application/x-pkcs12" in pkcs12
