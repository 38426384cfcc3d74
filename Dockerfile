# syntax=docker/dockerfile:1
# The session-server image: a release build of session-server on a distroless runtime, running as
# the numeric non-root user 65532. Every cargo build here goes through scripts/build-server,
# which scripts/validate-deploy runs too. Build and run: see the README, "Run the container".
#checkov:skip=CKV_DOCKER_2:The distroless runtime has no shell or HTTP client for a HEALTHCHECK; orchestrators probe GET /health (liveness) and GET /ready (readiness) over HTTP instead.

# Manifests and lock file with stub sources: changes only when dependencies change.
FROM rust:1.95-slim-bookworm AS planner
WORKDIR /src
COPY . .
RUN scripts/build-server skeleton /skeleton

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependency layer: compiled from the skeleton, so it is reused until Cargo.toml/Cargo.lock change.
COPY --from=planner /skeleton/ ./
COPY scripts/build-server scripts/build-server
RUN scripts/build-server deps
# The real sources, and the release build of session-server (--locked).
COPY . .
RUN scripts/build-server release /out \
    && mkdir -p /out/data

# glibc of Debian 12, as in the build image; the "nonroot" tag is the distroless user 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
# The binary's own default store is "embedded" (README, settings): the image keeps it, with the
# file on the /data volume. Kubernetes (definitions/) and Lambda (infra/) set SESSION_STORE=dynamodb.
ENV PORT=8080 \
    BIND_ADDRESS=0.0.0.0 \
    LOG_FORMAT=json \
    SESSION_STORE=embedded \
    EMBEDDED_DB_PATH=/data/sessions.redb
COPY --from=build /out/session-server /usr/local/bin/session-server
COPY --from=build --chown=65532:65532 /out/data /data
VOLUME ["/data"]
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/session-server"]
CMD ["serve"]
