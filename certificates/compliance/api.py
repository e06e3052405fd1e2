"""Compliance API: rules and violations."""

urlpatterns: list = []
