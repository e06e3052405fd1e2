from certctl.api.routers import OptionalSlashRouter
from certificates.api.agents import agent_urlpatterns

router = OptionalSlashRouter()

urlpatterns = [*agent_urlpatterns, *router.urls]
