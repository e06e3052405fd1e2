"""gunicorn's access log, redacted like the audit trail: secret-like query parameters and credential headers
never reach the log. Procfile and the Dockerfile run gunicorn with `--logger-class certctl.gunicorn_logging.RedactingLogger`.
"""

from __future__ import annotations

from gunicorn.glogging import Logger

from audit.redaction import REDACTED, redact_query

SECRET_HEADERS = ("authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key")


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        query = redact_query(environ.get("QUERY_STRING", ""))
        path = environ.get("RAW_URI", "").split("?", 1)[0] or environ.get("PATH_INFO", "")
        uri = f"{path}?{query}" if query else path
        atoms["r"] = f"{environ.get('REQUEST_METHOD')} {uri} {environ.get('SERVER_PROTOCOL')}"
        atoms["q"] = query
        atoms["{query_string}e"] = query
        atoms["{raw_uri}e"] = uri
        for name in SECRET_HEADERS:
            for key in (f"{{{name}}}i", f"{{{name}}}o", f"{{http_{name.replace('-', '_')}}}e"):
                if key in atoms:
                    atoms[key] = REDACTED
        return atoms
