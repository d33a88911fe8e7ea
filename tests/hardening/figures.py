"""The figures the hardening issue asks for: hostile inputs tried, clients
raced, faults injected. The suites count them in their modules' dicts; the run
prints them at its end (tests/conftest.py). Under pytest-xdist each test
process counts its own share, so the counts are summed across processes."""
from __future__ import annotations

import sys

# counter name -> the module and the dict of it that counts
COUNTERS = {
    "fuzz": ("tests.hardening.test_fuzz_scim", "TRIED"),
    "race": ("tests.hardening.test_concurrency", "RACED"),
    "crash": ("tests.hardening.test_worker_crash", "FAULTS"),
}

Figures = dict[str, dict[str, int]]


def counted() -> Figures:
    """What the suites that ran in this process counted."""
    found = {}
    for name, (module, attribute) in COUNTERS.items():
        if module in sys.modules:
            found[name] = dict(getattr(sys.modules[module], attribute))
    return found


def add(total: Figures, more: Figures) -> Figures:
    for name, counts in more.items():
        into = total.setdefault(name, {})
        for key, value in counts.items():
            into[key] = into.get(key, 0) + value
    return total


def lines(figures: Figures) -> list[str]:
    out = []
    fuzz, race, crash = (figures.get(name, {}) for name in ("fuzz", "race", "crash"))
    if fuzz.get("inputs"):
        out.append(
            f"hardening: {fuzz['inputs']} hostile SCIM inputs tried: {fuzz['refused']} refused with 4xx SCIM "
            f"errors, {fuzz['accepted']} accepted, {fuzz['server_errors']} server errors"
        )
    if race.get("clients"):
        out.append(
            f"hardening: {race['clients']} concurrent clients raced "
            f"({race['requests']} SCIM requests + recomputes) on PostgreSQL"
        )
    if crash.get("worker_kills"):
        out.append(f"hardening: {crash['worker_kills']} Celery pool process(es) SIGKILLed mid-recompute")
    return out
