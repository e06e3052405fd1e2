"""Issue 21's figures in one run: every benchmark behind its table, one after the other, and the verdict per target.

    scripts/with-services.sh .venv/bin/python bench/issue21.py [--django-ca-python PATH] [--only scale ocsp ...]

Each benchmark runs in its own process on its own fresh database (PostgreSQL and Redis from the environment that
`scripts/with-services.sh` sets), checks its own results, and ends with `figure NAME VALUE UNIT` lines; this
collects them and prints, per target of the issue, the figure, the target, whether it is met and by how much it
misses, with the load average around each benchmark. Without `--django-ca-python` (a venv with django-ca 3.2,
see bench/issuance.py) the two issuance ratios are missing. Never fails on timing; exits non-zero when a
benchmark fails (a wrong count, a signature that does not verify, ...).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)

from bench.http_load import load_average  # noqa: E402

# (name, how to run it); the OCSP figures over HTTP come with gunicorn's sync workers, as the Procfile runs it.
BENCHMARKS = {
    "scale": ["bench/scale.py"],
    "ocsp": ["bench/ocsp_http.py"],
    "revocation": ["bench/revocation.py"],
    "expiry": ["bench/expiry_check.py", "--sizes", "100000"],
    "issuance": ["bench/issuance.py"],
}

# figure -> (comparison, target, unit, what it is), in the order.
TARGETS = {
    "list_p50_ms_1m": ("<", 10, "ms", "list, 1,000,000 rows, first page, p50"),
    "keyset_mid_p50_ms_1m": ("<", 10, "ms", "keyset page mid-walk, p50"),
    "keyset_90pct_over_first_ratio_1m": (
        "<",
        1.5,
        "x",
        "keyset at 90 % over the first page (flat with depth)",
    ),
    "filtered_p50_ms_1m": ("<", 10, "ms", "filtered list, p50"),
    "stats_p50_ms_1m": ("<", 20, "ms", "stats summary at 1,000,000, p50"),
    "expiry_cold_s_100k": ("<", 1.5, "s", "expiry check, 100,000 certificates, cold"),
    "issue_one_ratio_djangoca_pg": (">=", 1.5, "x", "issue_from_csr over django-ca sign_cert (PostgreSQL)"),
    "issue_many_ratio_djangoca_pg": (">=", 2, "x", "issue_many over django-ca sign_cert (PostgreSQL)"),
    "ocsp_nonce_http_per_s": (">=", 2000, "/s", "OCSP with a nonce over HTTP"),
    "ocsp_cached_http_per_s": (">=", 5000, "/s", "OCSP from the cache over HTTP"),
    "crl_append_s_100k": ("<", 0.3, "s", "CRL of 100,000 after one more revocation"),
    "crl_full_s_100k": ("<", 1, "s", "CRL full rebuild, 100,000"),
    "bulk_revoke_s_10k": ("<", 2, "s", "bulk revoke 10,000"),
}

FIGURE = re.compile(r"^figure (\S+) (\S+) (.+)$", re.MULTILINE)


def run(name: str, command: list[str], django_ca: str | None) -> tuple[dict[str, float], str]:
    if name == "issuance" and django_ca:
        command = [*command, "--django-ca-python", django_ca]
    env = {**os.environ, **({"DJANGO_CA_PYTHON": django_ca} if django_ca else {})}
    before, started = load_average(), time.monotonic()
    out = subprocess.run([sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if out.returncode != 0:
        sys.stdout.write(out.stdout[-3000:] + out.stderr[-3000:])
        raise SystemExit(f"{name}: exited {out.returncode}")
    figures = {m.group(1): float(m.group(2)) for m in FIGURE.finditer(out.stdout)}
    return figures, f"{name:<10} {seconds:6.0f} s  load average before {before}, after {load_average()}"


def verdict(figure: str, value: float | None) -> str:
    comparison, target, unit, _ = TARGETS[figure]
    if value is None:
        return "not measured"
    met = value < target if comparison == "<" else value >= target
    if met:
        return "met"
    factor = value / target if comparison == "<" else target / value if value else float("inf")
    return f"NOT met: {abs(value - target):.3g} {unit} ({factor:.2f}x) off"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--django-ca-python", help="python of a venv with django-ca 3.2 (issuance ratios)")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these benchmarks")
    args = parser.parse_args()

    print(f"issue 21 figures, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores")
    figures: dict[str, float] = {}
    for name, command in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        got, line = run(name, command, args.django_ca_python)
        figures.update(got)
        print(line, flush=True)

    print()
    print(f"{'figure':<34} {'value':>10}  {'target':<10} verdict  — what")
    for figure, (comparison, target, unit, what) in TARGETS.items():
        value = figures.get(figure)
        shown = "—" if value is None else f"{value:,.3g}" if value < 100 else f"{value:,.0f}"
        print(f"{figure:<34} {shown:>10}  {comparison + ' ' + str(target) + ' ' + unit:<10} "
              f"{verdict(figure, value)} — {what}")  # fmt: skip
    print()
    for figure, value in figures.items():
        print(f"figure {figure} {value:g}")


if __name__ == "__main__":
    main()
