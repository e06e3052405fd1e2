# certctl: one image for the web server, the Celery worker and Celery beat (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    CERTCTL_DATA_DIR=/var/lib/certctl

WORKDIR /app
RUN groupadd --system certctl && useradd --system --gid certctl --home-dir /app certctl \
    && mkdir -p /var/lib/certctl && chown certctl:certctl /var/lib/certctl

COPY pyproject.toml ./
COPY certctl ./certctl
COPY certificates ./certificates
COPY notifications ./notifications
COPY audit ./audit
COPY templates ./templates
COPY static ./static
COPY manage.py Procfile ./
RUN pip install -e .

# Static files are collected at build time; throwaway keys only satisfy the production settings check.
RUN CERTCTL_SECRET_KEY=build-only CERTCTL_ENCRYPTION_KEY=build-only CERTCTL_ALLOWED_HOSTS=localhost \
    python manage.py collectstatic --no-input -v 0 \
    && chown -R certctl:certctl /var/lib/certctl

USER certctl
EXPOSE 8000
CMD ["python", "-m", "gunicorn", "certctl.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--access-logfile", "-", "--error-logfile", "-", "--no-control-socket", \
     "--logger-class", "certctl.gunicorn_logging.RedactingLogger"]
