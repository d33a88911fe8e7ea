"""One redis.Redis per process on the default cache's Redis, for the few hot
paths that need plain Redis commands in one roundtrip (the SCIM rate limits,
the token cache's version check). Django's RedisCacheClient builds a new
redis.Redis on every call and spends several roundtrips on an incr."""
from __future__ import annotations

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache, RedisCacheClient, RedisSerializer

_redis_clients: dict[tuple[str, ...], object] = {}


def redis_client():
    """A redis.Redis on the default cache's primary, built once per process per
    CACHES configuration (tests swap CACHES), or None when the default cache is
    not Django's RedisCache storing integers unpickled (then the generic path
    runs). It shares the RedisCacheClient's connection pool, so the socket
    timeouts of CACHES OPTIONS apply and an outage raises (and fails open)."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    config = (*backend._servers, repr(backend._options))
    client = _redis_clients.get(config)
    if client is None:
        cache_client = backend._cache
        if type(cache_client) is not RedisCacheClient or type(cache_client._serializer) is not RedisSerializer:
            return None  # a custom client or serializer may not store ints as INCR-able strings
        client = cache_client._client(connection_pool=cache_client._get_connection_pool(write=True))
        _redis_clients[config] = client
    return client
