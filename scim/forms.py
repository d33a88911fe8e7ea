"""Forms of the Marketplace pages."""
from __future__ import annotations

from django import forms

SEARCH_MAX_LENGTH = 100


class MarketplaceSearchForm(forms.Form):
    """The ?q= search of Marketplace > Apps (the page also filters as you type)."""

    q = forms.CharField(
        required=False,
        max_length=SEARCH_MAX_LENGTH,
        strip=True,
        label="Search apps",
        widget=forms.TextInput(
            attrs={"id": "app-search", "placeholder": "Search apps, e.g. Okta", "autocomplete": "off", "type": "search"}
        ),
    )
