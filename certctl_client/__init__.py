"""Clients of certctl's REST API that run outside the server: the `certctl` CLI and the `certctl-mcp` server.

They share `api` (an httpx client with the API key, the error envelope as ApiError, paging) and `config` (where the
URL and key come from). Like the host agent, they import no server code: everything goes through /api/v1, so every
action is authenticated, authorised and audited exactly like an API call.
"""
