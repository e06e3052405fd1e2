import subprocess
import sys

import pytest
import yaml
from django.core.management import call_command

from tests import REPO_ROOT

ROOT = REPO_ROOT


@pytest.mark.django_db
def test_openapi_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    paths = schema["paths"]
    for path in ("/api/v1/certificates", "/api/v1/certificates/{id}/versions", "/api/v1/stats/summary"):
        assert path in paths
    params = {p["name"] for p in paths["/api/v1/certificates"]["get"]["parameters"]}
    assert {"cursor", "page", "per_page", "sort", "expires_before", "agent_id"} <= params
    team_put = paths["/api/v1/teams/{id}"]["put"]
    assert team_put["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "PatchedTeamRequest"
    )
    assert {"400", "401", "403", "404", "409"} <= team_put["responses"].keys()
    assert "401" not in paths["/api/v1/version"]["get"]["responses"]
    issuer = schema["components"]["schemas"]["Issuer"]["properties"]
    assert "secrets" not in issuer
    assert "has_secrets" in issuer


@pytest.mark.django_db
def test_schema_endpoint_serves_the_document_without_a_key(api_client):
    response = api_client.get("/api/v1/schema/")
    assert response.status_code == 200
    assert b"/api/v1/certificates" in response.content


def test_schema_command_passes_in_a_fresh_process(tmp_path):
    env = {"CERTCTL_DEBUG": "1", "CERTCTL_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "spectacular",
            "--validate",
            "--fail-on-warn",
            "--file",
            str(tmp_path / "s.yaml"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_the_authorize_dialog_offers_the_operators_api_key_first_and_labels_agent_schemes(client, db):
    schemes = client.get("/api/v1/schema/?format=json").json()["components"]["securitySchemes"]
    names = list(schemes)
    assert names[:2] == ["apiKey", "staffSession"]
    agent_schemes = [name for name in names if name.startswith("agent")]
    assert agent_schemes and all(
        schemes[name]["description"].startswith("Agents only") for name in agent_schemes
    )
