from django.urls import path

from certctl.api.routers import OptionalSlashRouter
from notifications.api.ack import ack_link
from notifications.api.destinations import DestinationViewSet
from notifications.api.views import NotificationViewSet

router = OptionalSlashRouter()
router.register("notifications", NotificationViewSet, basename="notification")
router.register("destinations", DestinationViewSet, basename="destination")

# The one-click link in alert messages: its token is the credential (no API key), so it sits outside the router.
urlpatterns = [path("notifications/ack/<str:token>", ack_link, name="notification-ack-link"), *router.urls]
