# Huddle's web image: `bin/serve` (a worker per core) on config.asgi:application.
# The same image runs the Celery worker and beat with another command (see compose.yaml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH=/app/.venv/bin:$PATH \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/media

RUN pip install --no-cache-dir "uv==0.13.9"

WORKDIR /app
# Dependencies first (from the lock, without the dev group), so code changes reuse this layer.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project

COPY . .
# Static files are collected at build time; WhiteNoise serves them from STATIC_ROOT.
RUN DEBUG=0 SECRET_KEY=collectstatic-only-not-a-secret python manage.py collectstatic --no-input \
    && useradd --system --uid 10001 --no-create-home --home-dir /app huddle \
    && mkdir -p /app/media && chown huddle /app/media

USER huddle
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 CMD ["bin/healthcheck"]
CMD ["bin/serve", "--host", "0.0.0.0", "--port", "8000"]
