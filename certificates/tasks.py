from certificates.agent_tasks import mark_offline_agents  # noqa: F401
