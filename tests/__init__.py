"""certctl's test suite: one folder per package of the code it tests (tests/certificates/issuance/, ...)."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
