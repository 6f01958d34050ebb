# One image for web, worker and beat (compose.yaml picks the command).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HEALTHHUB_DATA_DIR=/data
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# collectstatic needs settings, not the production key (which comes at run time).
RUN DJANGO_SETTINGS_MODULE=healthhub.settings SECRET_KEY=collectstatic-at-build-time-only python manage.py collectstatic --no-input -v0
RUN useradd --system --home /app healthhub && mkdir -p /data && chown healthhub /data
USER healthhub
EXPOSE 8000
# X-Forwarded-For is believed only from TRUSTED_PROXIES (accounts/client_address.py), not by uvicorn.
CMD ["uvicorn", "healthhub.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--no-proxy-headers"]
