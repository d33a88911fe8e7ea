"""Searchable pickers: a <select> that holds only the chosen option and asks an
org-scoped JSON view for matches as the user types (the admin's own select2
autocomplete, pointed at our views). A picker never lists the whole org.

The JSON answers the shape the admin's autocomplete.js expects:
{"results": [{"id": "…", "text": "…"}], "pagination": {"more": false}}."""
from __future__ import annotations

import json
from typing import Callable, Iterable

from django import forms
from django.contrib.admin.widgets import AutocompleteMixin, get_select2_language
from django.http import HttpRequest, JsonResponse

from .paging import page_number

PICKER_PAGE_SIZE = 20
TERM_MAX_LENGTH = 100


class RemoteSelect(forms.Select):
    """Renders the selected value only; select2 fetches choices from `url`."""

    def __init__(self, url: str = "", attrs=None, placeholder: str = "Type to search…"):
        super().__init__(attrs)
        self.url = url
        self.placeholder = placeholder
        self.i18n_name = get_select2_language()

    def build_attrs(self, base_attrs, extra_attrs=None):
        attrs = super().build_attrs(base_attrs, extra_attrs=extra_attrs)
        css = attrs.get("class", "")
        attrs.update(
            {
                "data-ajax--cache": "true",
                "data-ajax--delay": 250,
                "data-ajax--type": "GET",
                "data-ajax--url": self.url,
                "data-theme": "admin-autocomplete",
                "data-allow-clear": json.dumps(not self.is_required),
                "data-placeholder": self.placeholder,
                "data-minimum-input-length": 0,
                "lang": self.i18n_name,
                "class": (css + " " if css else "") + "admin-autocomplete",
            }
        )
        return attrs

    def optgroups(self, name, value, attrs=None):
        """Only the chosen object: one query by primary key (a ModelChoiceField's
        queryset is already scoped to the org)."""
        field = self.choices.field
        # Only well-formed ids reach the query: the value may be anything a user posted.
        selected = [str(v) for v in value if str(v).isascii() and str(v).isdigit() and len(str(v)) < 19]
        options = [self.create_option(name, "", "", not selected, 0)]
        if selected:
            for index, obj in enumerate(field.queryset.filter(pk__in=selected[:1]), start=1):
                options.append(self.create_option(name, str(obj.pk), field.label_from_instance(obj), True, index))
        return [(None, options, 0)]

    @property
    def media(self):
        return AutocompleteMixin.media.fget(self)


def picker_response(
    request: HttpRequest,
    search: Callable[[str, int, int], Iterable],
    label: Callable[[object], str],
) -> JsonResponse:
    """Answer select2: `search(term, offset, limit)` returns up to limit + 1
    objects (the extra one says another page exists)."""
    term = request.GET.get("term", "")[:TERM_MAX_LENGTH]
    page = page_number(request.GET.get("page"))
    offset = (page - 1) * PICKER_PAGE_SIZE
    rows = list(search(term, offset, PICKER_PAGE_SIZE + 1))
    more = len(rows) > PICKER_PAGE_SIZE
    results = [{"id": str(obj.pk), "text": label(obj)} for obj in rows[:PICKER_PAGE_SIZE]]
    return JsonResponse({"results": results, "pagination": {"more": more}})
