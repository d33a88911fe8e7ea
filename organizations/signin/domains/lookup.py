"""Reading a domain's verification TXT record with dnspython, through the
resolver settings.DNS_RESOLVER names ("host:port"; unset: the system's).

The answer is one of three: the record holds the expected value (found), the
name has no such record (absent: NXDOMAIN, no TXT, or TXT without the value),
or DNS could not say (an error: timeout, SERVFAIL, no resolver). Only "absent"
may take a verified domain away; an error never does."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import dns.exception
import dns.name
import dns.resolver
from django.conf import settings

logger = logging.getLogger("orgdesk.domains")

TIMEOUT_SECONDS = 3.0
FOUND, ABSENT, ERROR = "found", "absent", "error"
_SHOWN_VALUES = 5  # TXT values quoted in a failure message
_SHOWN_CHARS = 120


@dataclass(frozen=True)
class Answer:
    outcome: str  # FOUND, ABSENT or ERROR
    message: str = ""  # what DNS answered, in words, when not FOUND
    values: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return self.outcome == FOUND


def resolver_address(value: str | None) -> tuple[str, int] | None:
    """("127.0.0.1", 5353) from "127.0.0.1:5353", ("::1", 53) from "[::1]:53";
    a bare host means port 53; None or "" means the system's resolver."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif value.count(":") == 1:
        host, port = value.split(":")
    else:
        host, port = value, "53"
    return host, int(port)


def _resolver() -> dns.resolver.Resolver:
    address = resolver_address(getattr(settings, "DNS_RESOLVER", None))
    if address is None:
        resolver = dns.resolver.Resolver(configure=True)
    else:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [address[0]]
        resolver.port = address[1]
    resolver.timeout = TIMEOUT_SECONDS
    resolver.lifetime = TIMEOUT_SECONDS
    resolver.cache = None  # a re-check must see the record as it is now
    return resolver


def _quote(value: str) -> str:
    return '"' + (value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "…") + '"'


def txt_values(name: str) -> list[str]:
    """Every TXT value at `name` (multi-string records joined), or raises dnspython's errors."""
    answer = _resolver().resolve(dns.name.from_text(name), "TXT", raise_on_no_answer=False, search=False)
    values = []
    for rdata in answer.rrset or []:
        values.append(b"".join(rdata.strings).decode("utf-8", "replace"))
    return values


def check(name: str, expected: str) -> Answer:
    try:
        values = txt_values(name)
    except dns.resolver.NXDOMAIN:
        return Answer(ABSENT, f"DNS answered that {name} does not exist (NXDOMAIN): the TXT record is not published.")
    except dns.resolver.NoNameservers as exc:
        logger.info("TXT lookup of %s failed: %s", name, exc)
        return Answer(ERROR, f"The DNS servers could not answer for {name} (SERVFAIL or refused). Try again later.")
    except dns.exception.Timeout:
        return Answer(ERROR, f"DNS did not answer for {name} within {TIMEOUT_SECONDS:.0f} seconds. Try again later.")
    except dns.resolver.NoResolverConfiguration:
        logger.error("No DNS resolver is configured (DNS_RESOLVER unset and no /etc/resolv.conf)")
        return Answer(ERROR, "Orgdesk has no DNS resolver configured; ask your operator (DNS_RESOLVER).")
    except (dns.exception.DNSException, OSError, ValueError) as exc:
        logger.warning("TXT lookup of %s failed: %r", name, exc)
        return Answer(ERROR, f"The DNS lookup of {name} failed ({type(exc).__name__}). Try again later.")
    if expected in values:
        return Answer(FOUND, values=values)
    if not values:
        return Answer(ABSENT, f"DNS has no TXT record at {name}.", values)
    shown = ", ".join(_quote(v) for v in values[:_SHOWN_VALUES])
    more = f" and {len(values) - _SHOWN_VALUES} more" if len(values) > _SHOWN_VALUES else ""
    return Answer(ABSENT, f"The TXT record at {name} holds {shown}{more}, not the value expected.", values)
