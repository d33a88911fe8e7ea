import pytest

from .world import World, build_world


@pytest.fixture
def world(db) -> World:
    return build_world()


@pytest.fixture
def login(client, world):
    """Log the test client in as one of the world's people (`anonymous`: nobody)."""

    def _login(who: str):
        user = world.user(who)
        if user is not None:
            client.force_login(user)
        return client

    return _login
