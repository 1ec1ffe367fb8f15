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
    CHORUS_SECRETS_KEY_FILE=/var/lib/gateway-secrets/secrets.key
# The key that encrypts technical-account passwords lives apart from the database volume, so a
# copy or backup of the data never carries the key that opens it (the emulator target creates
# it there on first start; for real targets mount a secret and point CHORUS_SECRETS_KEY_FILE at it).
RUN useradd --system --uid 10001 --create-home gateway \
    && mkdir -p /var/lib/gateway /var/lib/gateway-secrets \
    && chown gateway /var/lib/gateway /var/lib/gateway-secrets \
    && chmod 700 /var/lib/gateway-secrets
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/gateway
COPY --chown=root:root alembic.ini ./
COPY --chown=root:root migrations ./migrations
COPY --chown=root:root app ./app
USER gateway
VOLUME ["/var/lib/gateway"]
VOLUME ["/var/lib/gateway-secrets"]
EXPOSE 8000
# Probes what PID 1 runs: the API's /health/ready on its port, the worker's heartbeat in the
# database, the emulator's port (`gateway healthcheck --help`).
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-m", "app", "healthcheck"]
ENTRYPOINT ["python", "-m", "app"]
CMD ["serve"]
