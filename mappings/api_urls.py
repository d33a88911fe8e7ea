"""Read-only REST API (access report). Filled in by the Group mapping work."""

urlpatterns: list = []
