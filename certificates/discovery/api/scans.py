"""Discovery API: scans (filled in by its issue)."""

urlpatterns: list = []
