# syntax=docker/dockerfile:1
# The session-server image: a release build of session-server on a distroless runtime, running as
# the numeric non-root user 65532. scripts/validate-deploy runs this file's cargo commands too.
# Build and run: see docs/container.md.
#checkov:skip=CKV_DOCKER_2:The distroless runtime has no shell or HTTP client for a HEALTHCHECK; orchestrators probe GET /health (liveness) and GET /ready (readiness) over HTTP instead.

FROM rust:1.95-slim-bookworm AS chef
RUN cargo install --locked cargo-chef@0.1.78
WORKDIR /src

# The recipe: manifests and lock file only, so it changes only when dependencies change.
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
# Dependency layer: reused until the recipe changes. Same profile and flags as the build below.
RUN cargo chef cook --release --locked -p session-server --bin session-server --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked -p session-server --bin session-server \
    && mkdir -p /out/data \
    && cp target/release/session-server /out/session-server

# glibc of Debian 12, as in the build image; the "nonroot" tag is the distroless user 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
# The binary's own default store is "embedded" (docs/configuration.md): the image keeps it, with the
# file on the /data volume. Kubernetes (definitions/) and Lambda (infra/) set SESSION_STORE=dynamodb.
# BIND_ADDRESS=0.0.0.0, not the binary's loopback default: a container is reached through its own
# network interface. Off loopback the server has no protected mode, so it refuses to start until
# the container is given tokens (API_TOKENS/ADMIN_TOKENS or their _FILE forms) or
# AUTH_DISABLED=true behind a gateway that authenticates.
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
