"""Discovery API: inventory (filled in by its issue)."""

urlpatterns: list = []
