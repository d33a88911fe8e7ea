"""A small authoritative DNS server for tests, on dnslib: it answers TXT
queries from a dict ({name: [value, ...]}) on 127.0.0.1 at a random UDP port.
A name it does not hold is NXDOMAIN; a name it holds without TXT values is an
empty answer (NOERROR, no records); a name in `fail` answers SERVFAIL.
Change `records` while it runs: each query reads it afresh."""
from __future__ import annotations

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer


def _chunks(value: str) -> list[bytes]:
    data = value.encode("utf-8")
    return [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]


class _Resolver(BaseResolver):
    def __init__(self, zone: "DnsServer") -> None:
        self.zone = zone

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        self.zone.queries.append(name)
        if name in self.zone.fail:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        if name not in self.zone.records:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        if request.q.qtype in (QTYPE.TXT, QTYPE.ANY):
            for value in self.zone.records[name]:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(_chunks(value)), ttl=60))
        return reply


class DnsServer:
    def __init__(self, records: dict[str, list[str]] | None = None) -> None:
        self.records: dict[str, list[str]] = {k.lower(): list(v) for k, v in (records or {}).items()}
        self.fail: set[str] = set()
        self.queries: list[str] = []
        self._server = DNSServer(_Resolver(self), address="127.0.0.1", port=0,
                                 logger=DNSLogger(log="-request,-reply,-truncated,-error", prefix=False))

    @property
    def address(self) -> str:
        """What settings.DNS_RESOLVER takes: "127.0.0.1:PORT"."""
        host, port = self._server.server.server_address[:2]
        return f"{host}:{port}"

    def set_txt(self, name: str, *values: str) -> None:
        self.records[name.lower().rstrip(".")] = list(values)

    def remove(self, name: str) -> None:
        self.records.pop(name.lower().rstrip("."), None)

    def __enter__(self) -> "DnsServer":
        self._server.start_thread()
        return self

    def __exit__(self, *exc) -> None:
        self._server.stop()
        self._server.server.server_close()
