"""Discovery API: imports (filled in by its issue)."""

urlpatterns: list = []
