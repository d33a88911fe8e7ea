"""Finding members of a big org: the Members tab's search and filters and the
member pickers, each at the cost of one page.

Search matches a substring of the userName (the e-mail, for people added by
hand) or of the name, lowercased, or a whole account e-mail; a whole e-mail is
matched as the start of the userName (an index range), not as a substring. On PostgreSQL, trigram indexes on exactly
these expressions (migration 0006) answer it without reading the org; terms
shorter than MIN_SEARCH_LENGTH have no trigram and are refused on the Members
tab (a picker matches them as the start of the userName, a range of the
(organization, lower(userName)) index).

A searched statement compares the org as `(SELECT %s)` (paging.in_org): PostgreSQL
plans it as a parameter whose value it does not look up in its statistics, so
it costs the org as an average one. Compared plainly, an org the statistics do
not know yet (a new org an identity provider is growing, not analyzed until a
tenth of the table changed) looks as if it held a row or two, and reading it
whole through its (organization, ...) index, filtering every member, looks
cheaper than the trigram index: the search then cost what the org holds. Filters
without a search term keep the plain comparison: for them walking the org in
userName order, stopping at a page, is the right plan."""
from __future__ import annotations

import re

from django import forms
from django.db.models import Func, Q, QuerySet, TextField
from django.db.models.functions import Lower
from django.shortcuts import get_object_or_404

from .models import Membership, Organization, OrgRole, User
from .paging import Page, capped_count, in_org, paginate

MIN_SEARCH_LENGTH = 3
# Below this many matches a search sorts them itself (a few thousand rows from
# the trigram index); above it, walking the userName index in order finds a
# page of matches quickly because they are dense.
SORT_MATCHES_BELOW = 2000


def searched_members(org: Organization) -> QuerySet:
    """The org's memberships, the org compared as a parameter (paging.in_org): for
    statements that search, so that the trigram indexes stay the cheaper plan in any org."""
    return Membership.objects.filter(in_org(org))


class NameText(Func):
    """lower(given_name || ' ' || family_name || ' ' || display_name): the
    expression of the name trigram index, spelt the same way."""

    template = "LOWER(%(expressions)s)"
    arg_joiner = " || ' ' || "
    output_field = TextField()


class Unindexed(Func):
    """`(<text> || '')`: the same text, but no index's expression. Sorted by, the
    planner sorts the matches instead of walking the whole userName index in order
    while filtering (scrambled_username); filtered on, the text is checked row by
    row instead of read from a trigram index (search_members' walk)."""

    template = "(%(expressions)s || '')"
    output_field = TextField()


def scrambled_username() -> Unindexed:
    """lower(scim_username) || '': sorts like the userName, through no index."""
    return Unindexed(Lower("scim_username"))


def username_order(queryset: QuerySet) -> QuerySet:
    """One org's members in userName order: the order of the (organization,
    lower(userName)) unique index itself, with no id after it (the index makes it
    total already). PostgreSQL then walks the index and stops at the page's end
    whatever it believes of the org's size; with the id added it had to sort, and
    an org grown since the last ANALYZE, believed a row or two, was read whole,
    joined to its accounts and sorted for each page (20,000 rows, 79,000
    buffers, 50 ms per page at 20,000 members)."""
    return queryset.order_by(Lower("scim_username"))


# A whole e-mail address: something before the @, a dot after it, no spaces.
WHOLE_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def search_members(queryset: QuerySet, term: str, *, walk: bool = False) -> QuerySet:
    """walk: the substring is checked on each member of a walk in userName order
    (for a term most members match: members_page), not read from the trigram indexes."""
    term = term.strip().lower()
    if not term:
        return queryset
    if WHOLE_EMAIL.fullmatch(term):
        # A whole e-mail is the start of a userName, a range of the (organization,
        # lower(userName)) index. As a substring it would be the trigrams it shares
        # with every address of its domain, in every org: the trigram index then
        # reads each of them, and the search costs what the database holds.
        # (The range is what the btree index reads; LIKE keeps it exact in any collation.)
        starts = Q(_search_username__gte=term, _search_username__lt=term + "\U0010ffff",
                   _search_username__startswith=term)
        match = starts | Q(_search_name__contains=term)
    else:
        match = Q(_search_username__contains=term) | Q(_search_name__contains=term)
    if "@" in term:
        # A whole sign-in e-mail finds its person even when the IdP's userName
        # differs: the account is one point lookup on its unique lower(email)
        # index, first, so the match stays an OR of index scans.
        account = User.objects.alias(_email=Lower("email")).filter(_email=term).values_list("pk", flat=True).first()
        if account is not None:
            match |= Q(user_id=account)
    username, name = Lower("scim_username"), NameText("given_name", "family_name", "display_name")
    if walk:
        username, name = Unindexed(username), Unindexed(name)
    return queryset.alias(_search_username=username, _search_name=name).filter(match)


class MemberFilterForm(forms.Form):
    """The Members tab's query string: search, filters and page."""

    STATUS_CHOICES = [("", "Any status"), ("active", "Active"), ("deactivated", "Deactivated")]
    SOURCE_CHOICES = [("", "Any source"), ("scim", "Identity provider (SCIM)"), ("manual", "Added by hand")]
    ROLE_CHOICES = [("", "Any role"), *OrgRole.choices]

    q = forms.CharField(required=False, max_length=100, label="Search",
                        widget=forms.TextInput(attrs={"placeholder": "e-mail or name", "type": "search"}))
    role = forms.ChoiceField(required=False, choices=ROLE_CHOICES)
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES)
    source = forms.ChoiceField(required=False, choices=SOURCE_CHOICES)

    def clean_q(self) -> str:
        q = self.cleaned_data["q"].strip()
        if q and len(q) < MIN_SEARCH_LENGTH:
            raise forms.ValidationError(f"Type at least {MIN_SEARCH_LENGTH} characters to search.")
        return q

    def params(self) -> dict[str, str]:
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


def filter_members(org: Organization, params: dict[str, str], *, walk: bool = False) -> QuerySet:
    searched = params.get("q") and not walk
    qs = searched_members(org) if searched else Membership.objects.filter(organization=org)
    if params.get("role"):
        qs = qs.filter(role=params["role"])
    if params.get("status") == "active":
        qs = qs.filter(active=True)
    elif params.get("status") == "deactivated":
        qs = qs.filter(active=False)
    if params.get("source") == "scim":
        qs = qs.filter(scim_managed=True)
    elif params.get("source") == "manual":
        qs = qs.filter(scim_managed=False)
    return search_members(qs, params.get("q", ""), walk=walk)


def org_member(org: Organization, membership_id: object) -> QuerySet:
    """The member of *this* org with that id (another org's id finds nothing),
    with its account. The org as a parameter (paging.in_org): compared plainly, an
    org grown since the last ANALYZE, believed a row or two, was walked through
    (organization, role, active) to find the one id (20,000 rows at 20,000
    members) instead of reading the primary key."""
    return Membership.objects.filter(in_org(org), pk=membership_id).select_related("user")


def member_or_404(org: Organization, membership_id: object) -> Membership:
    return get_object_or_404(org_member(org, membership_id))


def members_page(org: Organization, params: dict[str, str], page: object) -> Page:
    """A page of the org's members by userName, with the count: three statements
    (count, rows, the user accounts of the page) whatever the org's size."""
    qs = filter_members(org, params)
    if params:
        count = capped_count(qs)
    else:
        # The whole org: an index-only count of (organization, id), exact.
        count = (Membership.objects.filter(organization=org).count(), False)
    if params.get("q") and count[0] < SORT_MATCHES_BELOW:
        # Few matches, sorted. Their accounts are read by primary key for the page:
        # joined, with the org costed as an average one (in_org), PostgreSQL hashed
        # every account in the database to join the few matches (72,000 at 201
        # members).
        ordered = qs.order_by(scrambled_username(), "pk")
        return paginate(ordered.prefetch_related("user"), page, params=params, count=count)
    elif params.get("q"):
        # Most members match: a page is the first matches of a walk in userName
        # order. Offered the trigram indexes, PostgreSQL may believe the matches
        # few (an org compared as a parameter is costed as an average one) and
        # fetch and sort all of them: 100,000 rows, 400,000 buffers for `bench`.
        # The accounts are read for the page's rows only (a join ahead of the
        # sort would read one per match where the org's size is not known).
        walked = username_order(filter_members(org, params, walk=True))
        return paginate(walked.prefetch_related("user"), page, params=params, count=count)
    else:
        ordered = username_order(qs)
    return paginate(ordered.select_related("user"), page, params=params, count=count)


def member_choices(org: Organization, term: str, offset: int = 0, limit: int = 21, *,
                   exclude_owner: bool = False, active_only: bool = False) -> list[Membership]:
    """Members for a picker: `limit` of them from `offset`, matching `term`
    (empty: in userName order). Always scoped to `org`."""
    qs = searched_members(org) if term.strip() else Membership.objects.filter(organization=org)
    if exclude_owner:
        qs = qs.exclude(role=OrgRole.OWNER)
    if active_only:
        qs = qs.filter(active=True)
    term = term.strip()
    if term and len(term) < MIN_SEARCH_LENGTH:
        # Too short for a trigram: the start of the userName.
        qs = username_order(qs.alias(_prefix=Lower("scim_username")).filter(_prefix__startswith=term.lower()))
    else:
        qs = search_members(qs, term)
        if term and capped_count(qs, SORT_MATCHES_BELOW)[0] < SORT_MATCHES_BELOW:
            qs = qs.order_by(scrambled_username(), "pk")
        else:
            qs = username_order(qs)
    return list(qs.select_related("user")[offset : offset + limit])


def member_label(m: Membership) -> str:
    name = " ".join(p for p in (m.given_name, m.family_name) if p) or m.display_name
    label = m.user.email if m.user.email.lower() == m.scim_username.lower() else f"{m.scim_username} ({m.user.email})"
    return f"{label} · {name} · {m.get_role_display()}" if name else f"{label} · {m.get_role_display()}"


