# syntax=docker/dockerfile:1
# One image for every role: `serve` (default), `worker`, `emulator`, `migrate`, `clients ...`.

FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml constraints.txt README.md ./
COPY app ./app
# Install the pinned dependencies, then drop the packaged copy of the app: the image runs the
# source tree in /srv/gateway, next to its migrations.
RUN /opt/venv/bin/pip install --no-cache-dir -c constraints.txt . \
    && /opt/venv/bin/pip uninstall --yes chorus-pro-gateway

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    API_HOST=0.0.0.0 \
    DATABASE_URL=sqlite+aiosqlite:////var/lib/gateway/gateway.db \
    CHORUS_SECRETS_KEY_FILE=/var/lib/gateway/secrets.key
RUN useradd --system --uid 10001 --create-home gateway \
    && mkdir -p /var/lib/gateway && chown gateway /var/lib/gateway
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/gateway
COPY --chown=root:root alembic.ini ./
COPY --chown=root:root migrations ./migrations
COPY --chown=root:root app ./app
USER gateway
VOLUME ["/var/lib/gateway"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2).status != 200)"]
ENTRYPOINT ["python", "-m", "app"]
CMD ["serve"]
