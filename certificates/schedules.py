from django.conf import settings

from certctl.schedules import Periodic

PERIODIC_TASKS = [
    Periodic("agents-mark-offline", "certificates.mark_offline_agents", settings.AGENT_HEALTH_CHECK_INTERVAL),
]
