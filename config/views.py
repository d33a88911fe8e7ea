"""Tiny views outside any app: the health check (also the benchmark's bare-view ceiling)."""
from django.http import JsonResponse


def healthz(request):
    return JsonResponse({"status": "ok"})
