"""The layer contracts of .importlinter hold on this tree, and an upward import breaks them, so `make test` fails.

Each case copies the code, adds one import that points the wrong way and runs lint-imports on the copy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import REPO_ROOT

PACKAGES = ("certctl", "certctl_agent", "certctl_client", "certificates", "notifications", "audit")
LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    for name in PACKAGES:
        shutil.copytree(REPO_ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / ".importlinter", root / ".importlinter")
    return root


def lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [sys.executable, "-c", LINT, "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_as_committed_keeps_every_contract(tree):
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


UPWARD_IMPORTS = [
    pytest.param(
        "certificates/inventory/models.py",
        "from certificates.inventory.services import certificates as _upward",
        "Models import no service and no face, in any package",
        id="a model imports a service",
    ),
    pytest.param(
        "certificates/issuance/services/renewal.py",
        "from certificates.issuance import tasks as _upward",
        "Services import no API, admin, task, view or the Celery app",
        id="a service imports a task",
    ),
    pytest.param(
        "notifications/services/outbox.py",
        "from certctl.celery import app as _upward",
        "Apps never import the composition root",
        id="a service imports the Celery app",
    ),
    pytest.param(
        "certctl/kernel/ids.py",
        "from certificates import enums as _upward",
        "The kernel (certctl.kernel) knows no app",
        id="the kernel imports an app",
    ),
    pytest.param(
        "certctl/api/pagination.py",
        "from notifications import enums as _upward",
        "The API kit (certctl.api) knows no app",
        id="the API kit imports an app",
    ),
    pytest.param(
        "notifications/models.py",
        "from certificates.inventory import models as _upward",
        "Apps import downward: certificates, then notifications, then audit",
        id="notifications imports certificates",
    ),
    pytest.param(
        "certificates/inventory/services/certificates.py",
        "from certificates.issuance.services import jobs as _upward",
        "Subdomain services: expiry, agents and revocation build on discovery",
        id="inventory services import issuance services",
    ),
    pytest.param(
        "certificates/compliance/services/evaluate.py",
        "from certificates.discovery.services import record as _upward",
        "Subdomain services: expiry, agents and revocation build on discovery",
        id="compliance services import discovery services",
    ),
    pytest.param(
        "certificates/issuance/services/jobs.py",
        "from certificates.issuance.services import renewal as _upward",
        "No import circles between sibling modules or packages",
        id="jobs and renewal import each other",
    ),
    pytest.param(
        "certctl_agent/client.py",
        "from certctl.kernel import ids as _upward",
        "The host agent (certctl_agent) shares no code with the server",
        id="the host agent imports server code",
    ),
    pytest.param(
        "certctl_client/api.py",
        "from certctl.kernel import ids as _upward",
        "The CLI and the MCP server (certctl_client) share no server code",
        id="the API clients import server code",
    ),
]


@pytest.mark.parametrize(("module", "line", "contract"), UPWARD_IMPORTS)
def test_an_upward_import_breaks_its_contract(tree, module, line, contract):
    path = tree / module
    original = path.read_text()
    # Inside a function too: import-linter sees every import statement, not only the module-level ones.
    path.write_text(original + f"\n\ndef _late():\n    {line}  # noqa\n")
    try:
        result = lint(tree)
    finally:
        path.write_text(original)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert broken, result.stdout
    assert contract in result.stdout.split("Broken contracts")[1], result.stdout
