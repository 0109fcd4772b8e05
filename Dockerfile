# syntax=docker/dockerfile:1
#
# The Mortar SaaS starter (examples/saas-axum) as a container image.
#
#   docker build -t mortar-saas-axum .
#   docker run --rm -p 3000:3000 -v mortar-data:/app/data mortar-saas-axum
#
# or the whole stack (PostgreSQL, Redis, SeaweedFS S3): `docker compose up --build`, see
# docker-compose.yml and docs/production.md. No secret goes into the image: signing and sealing
# keys, passwords and the like are given at run time (`-e`, `--env-file`, the orchestrator's
# secrets).
#
# Probes: the image has no HEALTHCHECK (the slim base has no curl). Point the orchestrator at
#   GET /health  liveness: 200 while the process serves;
#   GET /ready   readiness: 200 once the database (and Redis and S3, when configured) answer,
#                503 otherwise.
# Stopping: SIGTERM drains in-flight requests and waits up to MORTAR_SHUTDOWN_TIMEOUT (default
# 30 s) for running jobs; give the orchestrator a longer grace period than that (`docker stop -t`,
# compose's `stop_grace_period`, Kubernetes' `terminationGracePeriodSeconds`).

# --- build ----------------------------------------------------------------------------------------
# The workspace's rust-version (Cargo.toml) is the minimum; this is the toolchain it is built with.
FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# The registry and the target directory live in BuildKit caches, so a rebuild compiles only what
# changed. The cache is not part of the image: the binary is copied out of it.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p example-saas-axum \
    && install -m 0755 target/release/example-saas-axum /usr/local/bin/example-saas-axum

# --- run ------------------------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# CA certificates for TLS to PostgreSQL, Redis, S3 and OAuth providers; nothing else is needed:
# the message catalogs, feature-flag defaults and roles are compiled into the binary. Unpinned on
# purpose: the CA bundle should be the newest the base image's release has.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 mortar \
    && useradd --system --uid 10001 --gid mortar --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin mortar \
    && mkdir -p /app/data/storage \
    && chown -R mortar:mortar /app
COPY --from=builder /usr/local/bin/example-saas-axum /usr/local/bin/example-saas-axum

WORKDIR /app
USER 10001:10001

# Container defaults; every one is overridden by the same variable at run time. /app/data holds
# the SQLite database (when MORTAR_DATABASE_URL is not a server), uploads (without S3) and the
# sealing key file storage/keys/totp.key (without MORTAR_TOTP_KEY): keep it on a volume.
ENV MORTAR_LISTEN=0.0.0.0:3000 \
    MORTAR_STORAGE_DIR=/app/data/storage \
    MORTAR_DATABASE_URL=sqlite:///app/data/mortar.db?mode=rwc \
    MORTAR_LOG_FORMAT=json
VOLUME ["/app/data"]

EXPOSE 3000
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/example-saas-axum"]
