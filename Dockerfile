# Orgdesk web node (gunicorn) and, with another command, Celery worker or beat.
#   docker build -t orgdesk .
#   docker run -e SECRET_KEY=... -e DATABASE_URL=... -e REDIS_URL=... orgdesk
# compose.yaml runs the whole deployment; README.md "Deployment" explains it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DEBUG=0 \
    STATIC_ROOT=/app/staticfiles \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus \
    CELERY_BEAT_SCHEDULE_FILENAME=/tmp/celerybeat-schedule

RUN groupadd --system --gid 10001 orgdesk \
    && useradd --system --uid 10001 --gid orgdesk --home-dir /app --shell /usr/sbin/nologin orgdesk

WORKDIR /app
COPY pyproject.toml manage.py ./
COPY config ./config
COPY organizations ./organizations
COPY scim ./scim
COPY mappings ./mappings
COPY templates ./templates
# Editable: templates/ and settings stay beside the code (BASE_DIR).
RUN pip install -e . \
    && SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput \
    && rm -rf /app/var \
    && mkdir -p /tmp/prometheus && chown orgdesk:orgdesk /tmp/prometheus

USER orgdesk
EXPOSE 8000

# Liveness. Readiness (database reachable) is GET /readyz: point the load
# balancer's or orchestrator's readiness probe at it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "config/healthcheck.py", "/healthz"]

CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]
