from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    """Routes without a trailing slash, as in the reference; a client that adds one still gets an answer."""

    def __init__(self) -> None:
        super().__init__()
        # DRF turns any truthy `trailing_slash` argument into "/", so the optional slash is set afterwards.
        self.trailing_slash = "/?"
