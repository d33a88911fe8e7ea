"""The error every service raises for a request the domain rules refuse; its own
module so the modules services build on (organizations.guardrails) can raise it too."""


class ServiceError(ValueError):
    """A request the domain rules refuse; the message is safe to show a user."""
