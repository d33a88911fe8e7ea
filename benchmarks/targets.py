"""What each SCIM operation must reach, as a ratio to the bare Django view
measured in the same run, and the pure functions that check a run against it.

A ratio, not a rate: the bare view (`/healthz`, the same gunicorn, middleware
and network path with no work of its own) is the ceiling of the machine the run
is on, so "0.5 of the bare view" means the same on a laptop, a CI runner or a
busy shared machine, where an absolute req/s would not. Every target is checked
at every org size the run seeds; benchmarks/run.py prints the verdicts, then
exits non-zero naming every miss (unless --no-fail)."""
from __future__ import annotations

from dataclasses import dataclass

BARE_OP = "bare"  # the row every ratio divides by: the bare view measured first in the run


@dataclass(frozen=True)
class Target:
    op: str  # the operation key of benchmarks/run.py (and scenario.lua)
    name: str  # what the operation is, as the README says it
    min_ratio: float  # req/s at least this fraction of the bare view's req/s


# Keyed by operation; the one place the targets live.
TARGETS: dict[str, Target] = {t.op: t for t in (
    # The hot reads: an IdP's import and every push look users up one at a time.
    Target("username_lookup", "`userName eq` lookup", 0.5),
    Target("externalid_lookup", "`externalId eq` lookup", 0.5),
    Target("get_user", "GET /Users/{id}", 0.5),
    Target("connector_test", "connector test (GET /Users?startIndex=1&count=2)", 0.5),
    # Writes.
    Target("post_user_no_invite", "POST /Users, invitations off (SSO)", 0.12),
    Target("post_user", "POST /Users, invitations on (the default)", 0.06),
    Target("put_user", "PUT /Users/{id}", 0.15),
    Target("patch_deactivate", "PATCH /Users/{id} active false/true", 0.10),
    Target("group_patch_100", "group PATCH ±100 members", 0.06),
    Target("group_patch_100_mapped", "mapped group PATCH ±100 members", 0.03),
)}


def bare_rps(rows: list[dict]) -> float | None:
    """The bare view's req/s in this run (its first measurement), or None."""
    for row in rows:
        if row.get("op") == BARE_OP and row.get("rps"):
            return float(row["rps"])
    return None


def ratio(rps: float | None, bare: float | None) -> float | None:
    if not rps or not bare:
        return None
    return round(rps / bare, 3)


def with_ratios(rows: list[dict]) -> list[dict]:
    """The rows, each with `x_bare` (req/s over the bare view's) where it has a rate."""
    bare = bare_rps(rows)
    for row in rows:
        if "rps" in row:
            row["x_bare"] = ratio(row["rps"], bare)
    return rows


@dataclass(frozen=True)
class Verdict:
    op: str
    name: str
    size: int
    min_ratio: float
    ratio: float | None
    ok: bool
    why: str  # empty when ok

    def sentence(self) -> str:
        got = f"{self.ratio:.3f}" if self.ratio is not None else "no figure"
        return f"{self.name} at {self.size:,} members: {got} of the bare view, target ≥ {self.min_ratio}" + (
            f" ({self.why})" if self.why else "")


def check(rows: list[dict], sizes: list[int], targets: dict[str, Target] = TARGETS) -> list[Verdict]:
    """One verdict per (target, size). An operation that was not measured at a
    size, failed requests, or has no bare view to divide by is a miss: a figure
    that cannot be trusted never passes."""
    bare = bare_rps(rows)
    found = {(row.get("op"), row.get("size")): row for row in rows if "rps" in row}
    verdicts = []
    for target in targets.values():
        for size in sizes:
            row = found.get((target.op, size))
            if bare is None:
                verdicts.append(Verdict(target.op, target.name, size, target.min_ratio, None, False,
                                        "the bare view was not measured"))
                continue
            if row is None:
                verdicts.append(Verdict(target.op, target.name, size, target.min_ratio, None, False, "not measured"))
                continue
            got = ratio(row["rps"], bare)
            if row.get("errors"):
                verdicts.append(Verdict(target.op, target.name, size, target.min_ratio, got, False,
                                        f"{row['errors']:,} of {row.get('requests', 0):,} requests failed"))
                continue
            ok = row["rps"] >= target.min_ratio * bare  # the unrounded ratio decides
            verdicts.append(Verdict(target.op, target.name, size, target.min_ratio, got, ok,
                                    "" if ok else "below target"))
    return verdicts


def mark(row: dict, verdicts: list[Verdict]) -> str:
    """The table's verdict cell for a row: "ok", "MISS", or "" (no target)."""
    for v in verdicts:
        if v.op == row.get("op") and v.size == row.get("size"):
            return "ok" if v.ok else "MISS"
    return ""


def misses(verdicts: list[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if not v.ok]
