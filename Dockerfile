# One image for web, worker and beat (compose.yaml picks the command).
# It installs the runtime lock only (requirements/runtime.txt, with hashes):
# no test, browser, bench or lint tools, and no simulation/ or tests/ (see
# .dockerignore). .ci/image-steps runs these same steps in a fresh
# virtualenv, since CI has no Docker engine.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HEALTHHUB_DATA_DIR=/data LOG_FORMAT=json \
    PROMETHEUS_MULTIPROC_DIR=/tmp/metrics PYTHONPATH=/app
RUN useradd --system --uid 10001 --home /app healthhub \
    && mkdir -p /data /tmp/metrics && chown healthhub /data /tmp/metrics
WORKDIR /app
COPY requirements/runtime.txt requirements/runtime.txt
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements/runtime.txt
COPY . .
# collectstatic needs settings, not the production key (which comes at run time).
RUN DJANGO_SETTINGS_MODULE=healthhub.settings SECRET_KEY=collectstatic-at-build-time-only \
    python manage.py collectstatic --no-input -v0 \
    && chown -R healthhub /data
USER healthhub
EXPOSE 8000
# Liveness of the web server (no database involved); compose gives the
# worker and beat services checks of their own.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "healthhub.health", "web"]
# X-Forwarded-For is believed only from TRUSTED_PROXIES (accounts/client_address.py), not by uvicorn.
CMD ["uvicorn", "healthhub.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--no-proxy-headers", \
     "--log-config", "deploy/uvicorn-logging.json"]
