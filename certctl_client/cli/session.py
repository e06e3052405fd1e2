"""What every command shares: where the server is (resolved lazily, so `--help` needs no config), one Api client
for the whole run, and how to render results. One session per process: `main()` creates it, the root callback fills
it from the global options."""

from __future__ import annotations

from dataclasses import dataclass, field

from certctl_client.api import Api
from certctl_client.cli.output import Mode, Renderer
from certctl_client.config import Connection, resolve


@dataclass(repr=False)
class Session:
    url: str | None = None
    api_key: str | None = None
    profile: str | None = None
    mode: Mode = "table"
    quiet: bool = False
    connection: Connection | None = None
    _api: Api | None = field(default=None)

    def __repr__(self) -> str:  # the key never appears, even in a debugger or a traceback's locals
        return f"Session(url={self.url!r}, profile={self.profile!r}, mode={self.mode!r}, quiet={self.quiet})"

    @property
    def api(self) -> Api:
        if self._api is None:
            self.connection = resolve(self.url, self.api_key, self.profile)
            self._api = Api(self.connection)
        return self._api

    @property
    def out(self) -> Renderer:
        return Renderer(self.mode, self.quiet)

    @property
    def has_key(self) -> bool:
        return bool(self.connection and self.connection.api_key)

    def close(self) -> None:
        if self._api is not None:
            self._api.close()


_active = Session()


def activate(session: Session) -> Session:
    global _active
    _active = session
    return session


def current() -> Session:
    """The session of the running command."""
    return _active


def api() -> Api:
    return current().api


def out() -> Renderer:
    return current().out


def fetch_rows(
    path: str, *, every: bool, limit: int, page_size: int | None = None, **params: object
) -> tuple[list[dict], bool]:
    """The rows of a list endpoint: every row with `every`, else the first `limit`; and whether more were left out."""
    if every:
        return list(api().paginate(path, page_size=page_size or 200, **params)), False
    rows = list(api().paginate(path, limit=limit + 1, page_size=page_size or min(limit + 1, 500), **params))
    return rows[:limit], len(rows) > limit


def more_caption(more: bool, limit: int) -> str | None:
    return f"first {limit} rows shown; --all for every row" if more else None
