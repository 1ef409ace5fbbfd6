# Production image: gunicorn serves the web app; the same image runs worker and beat.
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORTAL_DATA_DIR=/var/lib/portal

WORKDIR /app
RUN useradd --system --home /app --shell /usr/sbin/nologin portal \
    && mkdir -p /var/lib/portal && chown portal /var/lib/portal

COPY requirements/base.lock requirements/base.lock
RUN pip install --no-cache-dir -r requirements/base.lock

COPY . .
# collectstatic needs settings to import; this throwaway key never serves a request.
RUN SECRET_KEY=collectstatic-only DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    python manage.py collectstatic --noinput

USER portal
EXPOSE 8000
CMD ["gunicorn", "partner_portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--access-logformat", "%(h)s %(t)s \"%(m)s %(U)s\" %(s)s %(b)s %(L)s", "--access-logfile", "-"]
