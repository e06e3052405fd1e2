"""certctl's REST API over httpx: the API key on every request, the error envelope as ApiError, and paging."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from certctl_client.config import Connection

USER_AGENT = "certctl-client"
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class ClientError(Exception):
    """Base of what a client reports to its user."""


class NetworkError(ClientError):
    """The server could not be reached or did not answer in time."""


class ApiError(ClientError):
    """The API answered with an error envelope: `{"error", "message", "request_id"}` (+ `fields` on 400)."""

    def __init__(
        self, status: int, code: str, message: str, request_id: str = "", fields: dict | None = None
    ):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.request_id, self.fields = request_id, fields or {}

    def __str__(self) -> str:
        # The API's message often names the field already (`since: must be ...`): add only what it leaves out.
        missing = [
            f"{name}: {' '.join(map(str, errors))}"
            for name, errors in self.fields.items()
            if " ".join(map(str, errors)) not in self.message
        ]
        return self.message + (f" ({'; '.join(missing)})" if missing else "")


class Api:
    """One connection to a certctl server. Use as a context manager, or call close()."""

    def __init__(self, connection: Connection, transport: httpx.BaseTransport | None = None) -> None:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if connection.api_key:
            headers["Authorization"] = f"Bearer {connection.api_key}"
        self.http = httpx.Client(
            base_url=connection.url,
            headers=headers,
            timeout=TIMEOUT,
            verify=connection.verify,
            transport=transport,
        )

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def request(
        self, method: str, path: str, *, params: dict | None = None, json: Any = None
    ) -> httpx.Response:
        """Send a request to `path` (relative to the server, e.g. "/api/v1/certificates"); raise on an error answer."""
        clean = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        try:
            response = self.http.request(method, path, params=clean, json=json)
        except httpx.TimeoutException as exc:
            raise NetworkError(f"{self.http.base_url} did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise NetworkError(f"cannot reach {self.http.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise _error_of(response)
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params).json()

    def post(self, path: str, json: Any = None, **params: Any) -> Any:
        response = self.request("POST", path, params=params, json=json if json is not None else {})
        return response.json() if response.content else None

    def patch(self, path: str, json: Any, **params: Any) -> Any:
        return self.request("PATCH", path, params=params, json=json).json()

    def delete(self, path: str, **params: Any) -> None:
        self.request("DELETE", path, params=params)

    def paginate(
        self, path: str, *, limit: int | None = None, page_size: int = 200, **params: Any
    ) -> Iterator[dict]:
        """Every row of a list endpoint: follows `next_cursor` (keyset lists) or `page` (the others)."""
        yielded = 0
        keyset = path.rstrip("/").endswith("/api/v1/certificates")  # the certificate list pages by cursor
        query: dict[str, Any] = dict(params)
        if keyset:
            query["page_size"] = page_size
        else:
            query.update(per_page=page_size, page=1)
        while True:
            body = self.get(path, **query)
            for row in body.get("data", []):
                yield row
                yielded += 1
                if limit is not None and yielded >= limit:
                    return
            if keyset:
                if not body.get("next_cursor"):
                    return
                query["cursor"] = body["next_cursor"]
            else:
                if query["page"] * query["per_page"] >= body.get("total", 0):
                    return
                query["page"] += 1


def _error_of(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return ApiError(
        response.status_code,
        str(body.get("error") or f"http_{response.status_code}"),
        str(body.get("message") or response.reason_phrase or "error"),
        str(body.get("request_id") or response.headers.get("X-Request-ID", "")),
        body.get("fields") if isinstance(body.get("fields"), dict) else None,
    )
