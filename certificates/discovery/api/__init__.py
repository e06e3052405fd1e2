"""Discovery's API routes under /api/v1: scans, imports and the discovered inventory, each in its module."""

from certificates.discovery.api.imports import urlpatterns as import_urls
from certificates.discovery.api.inventory import urlpatterns as inventory_urls
from certificates.discovery.api.scans import urlpatterns as scan_urls

urlpatterns = [*scan_urls, *import_urls, *inventory_urls]
