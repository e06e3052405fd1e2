"""The operator console: certctl's Django admin site, its dashboard home page and task-grouped navigation."""
