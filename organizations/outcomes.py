"""What a change made on a settings page says afterwards, and where the browser
goes: back to the page with a message, or, for a person who just took their own
access away, to their home page (or signed out, told why, if they belong
nowhere else) rather than to a page they can no longer open."""
from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from .models import Membership

# Posted by a confirmation page that told the person what they lose.
LOSS_CONFIRMED_FIELD = "confirm_loss"


def loss_confirmed(request: HttpRequest) -> bool:
    return request.POST.get(LOSS_CONFIRMED_FIELD) == "yes"


@dataclass
class Outcome:
    """What a successful change says, and where the browser goes next."""

    message: str
    level: int = messages.SUCCESS
    url: str | None = None


def lost_own_access(request: HttpRequest, message: str) -> Outcome | HttpResponse:
    """After a person confirmed taking their own access away: their home if they
    still belong somewhere, else signed out, told why, on the sign-in page."""
    if request.user.is_superuser or Membership.objects.in_effect().filter(user=request.user).exists():
        return Outcome(message, url=reverse("member_home"))
    logout(request)
    messages.info(request, f"{message} You belong to no other organization, so you are signed out.")
    return redirect("admin:login")


def finish(request: HttpRequest, result: Outcome | HttpResponse, default_url: str) -> HttpResponse:
    if isinstance(result, HttpResponse):
        return result
    messages.add_message(request, result.level, result.message)
    return redirect(result.url or default_url)
