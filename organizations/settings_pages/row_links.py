"""The links of each row of a long list, reversed once per page.

A Members page lists 50 rows, each with five links to the member's pages and
the list to come back to (`?next=`). Reversed row by row in the template
(`{% url %}` and `|urlencode` for each), they were a third of the page's
rendering. Here each URL name is reversed once, with a sentinel id, and each
row's link is that URL with the row's id put in the sentinel's place."""
from __future__ import annotations

from urllib.parse import quote

from django.urls import NoReverseMatch, reverse

SENTINEL = 4_611_686_018_427_387_903  # 2**62 - 1: no row has this id


class RowLinks:
    """`names`: key -> URL name taking (org uid, row id). `next_url`, when
    given, is added to every link as `?next=` (where the page sends one back)."""

    def __init__(self, org_uid: str, names: dict[str, str], next_url: str | None = None) -> None:
        query = "?next=" + quote(next_url, safe="/") if next_url else ""  # as the `urlencode` filter wrote it
        self.parts: dict[str, tuple[str, str]] = {}
        for key, name in names.items():
            try:
                url = reverse(name, args=[org_uid, SENTINEL])
            except NoReverseMatch:  # as `{% url … as x %}`: a page this build does not have is no link
                continue
            head, tail = url.rsplit(f"/{SENTINEL}/", 1)
            self.parts[key] = (f"{head}/", f"/{tail}{query}")

    def of(self, row_id: int) -> dict[str, str]:
        return {key: f"{head}{row_id}{tail}" for key, (head, tail) in self.parts.items()}

    def annotate(self, rows, attribute: str = "links") -> None:
        """Sets `row.<attribute>` to the row's links, by key."""
        for row in rows:
            setattr(row, attribute, self.of(row.pk))
