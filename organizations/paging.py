"""Pages of a big table at a cost bounded by the page, never by the org.

A list shows PAGE_SIZE rows, fetched with one row more to know whether a next
page exists, and a count that stops at COUNT_CAP: counting 100,000 matching
rows on every page would cost as much as the page itself, and nobody pages
past "10,000+" instead of refining the search.

A trail (the Audit log tab, the SCIM tab's provisioning activity) counts up to
TRAIL_COUNT_CAP only. Its entries are read newest first through an (organization,
time) index, and counting them is an index-only scan only where VACUUM has marked
the table's pages all-visible; in an org an identity provider is growing, it is
not, and a count of 10,000 entries visited 10,000 table rows. "500+" says as much to someone reading a trail
newest first, and a page past it says what it has seen ("551–600 of 601+"), and
the exact total on the last page."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.db.models import BigIntegerField, Q, QuerySet
from django.db.models.expressions import RawSQL

PAGE_SIZE = 50
COUNT_CAP = 10_000
TRAIL_COUNT_CAP = 500
MAX_PAGE = COUNT_CAP // PAGE_SIZE + 1  # deeper offsets are refused: refine the search


def in_org(org) -> Q:
    """`organization_id = (SELECT %s)`: the org as a parameter PostgreSQL does not
    look up in its statistics, so it plans for an average org. Compared plainly, an
    org the statistics do not know yet (one an identity provider is growing, not
    analyzed until a tenth of the table changed) looks as if it held a row or
    two: reading all of it and sorting it then looks cheaper than reading a
    page in index order, or than a search's own index. The statement is still
    scoped to the org (scim/api/lookups.py does the same for the SCIM lookups)."""
    return Q(organization_id=RawSQL("SELECT %s", (org.pk,), output_field=BigIntegerField()))


def capped_count(queryset: QuerySet, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """(count, capped): at most cap + 1 rows are counted, in one statement
    (SELECT COUNT(*) FROM (SELECT ... LIMIT cap + 1))."""
    n = queryset.order_by()[: cap + 1].count()
    return (cap, True) if n > cap else (n, False)


def page_number(value: Any) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), MAX_PAGE)


@dataclass
class Page:
    """One page of rows with what the pager needs."""

    rows: list
    number: int
    size: int
    count: int
    capped: bool
    has_next: bool
    params: dict[str, str] = field(default_factory=dict)  # the filters, kept on page links

    @property
    def has_more(self) -> bool:
        """A next page exists and the pager may link to it (pages stop at MAX_PAGE)."""
        return self.has_next and self.number < MAX_PAGE

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def num_pages(self) -> int | None:
        return None if self.capped else max(1, -(-self.count // self.size))

    @property
    def count_label(self) -> str:
        return f"{self.count:,}+" if self.capped else f"{self.count:,}"

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.size + 1 if self.rows else 0

    @property
    def last_index(self) -> int:
        return (self.number - 1) * self.size + len(self.rows)

    def query(self, number: int) -> str:
        return "?" + urlencode({**{k: v for k, v in self.params.items() if v}, "page": number})

    @property
    def previous_query(self) -> str:
        return self.query(self.number - 1)

    @property
    def next_query(self) -> str:
        return self.query(self.number + 1)


def paginate(
    queryset: QuerySet,
    number: Any,
    *,
    size: int = PAGE_SIZE,
    params: dict[str, str] | None = None,
    count: tuple[int, bool] | None = None,
    cap: int = COUNT_CAP,
) -> Page:
    """The page `number` of an ordered queryset: one statement for the rows and
    one count capped at `cap` (unless `count` is given)."""
    number = page_number(number)
    offset = (number - 1) * size
    rows = list(queryset[offset : offset + size + 1])
    has_next = len(rows) > size
    rows = rows[:size]
    if count is None:
        count = capped_count(queryset, cap)
    total, capped = count
    if capped and rows and offset + len(rows) >= total:
        # A page at or past the cap knows more than the count: the rows it has seen,
        # and on the last page the exact total.
        total, capped = (offset + len(rows) + 1, True) if has_next else (offset + len(rows), False)
    return Page(rows, number, size, total, capped, has_next, params or {})
