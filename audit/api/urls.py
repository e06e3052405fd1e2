from audit.api.views import AuditEventViewSet
from certctl.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("audit", AuditEventViewSet, basename="audit")

urlpatterns = router.urls
