# job-rerunner in a container. Dokku builds this file on `git push` (no buildpack), and
# so does anything else that builds images (docs/deploy.md).
#
# It cannot be built on the project's machines (no container registry to pull the base
# images from), so a test (tests/api/operate.rs) checks what can be checked without
# Docker: the build image matches rust-toolchain.toml, the build command is CI's, every
# workspace member has its stub, the port and the health check agree with app.json.

# Build stage: the official Rust image at the version rust-toolchain.toml pins.
FROM rust:1.95.0-slim-trixie AS build
WORKDIR /src

# The dependencies first, in a layer of their own: with stub sources for every workspace
# member it is rebuilt only when Cargo.toml or Cargo.lock change, so a change to the
# code alone rebuilds just the service's own crate. The stubs' fingerprints are removed
# so that the real sources, whatever their timestamps, are compiled.
COPY Cargo.toml Cargo.lock ./
COPY loadgen/Cargo.toml loadgen/
RUN mkdir -p src loadgen/src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > loadgen/src/main.rs \
    && cargo build --release --locked \
    && rm -rf src loadgen/src target/release/.fingerprint/job-rerunner-*

# The service itself, built exactly as CI builds it.
COPY migrations migrations
COPY src src
COPY loadgen/src loadgen/src
RUN cargo build --release --locked

# Runtime stage: slim Debian (the build image's release, so glibc matches) with the
# system root certificates, which rustls uses to verify api.github.com.
FROM debian:trixie-slim
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# A non-root user with the id of Dokku's buildpack containers (herokuish, 32767): the
# storage directory `dokku storage:ensure-directory` prepares is writable for it
# without a chown, on either route.
RUN groupadd --system --gid 32767 rerunner \
    && useradd --system --uid 32767 --gid rerunner --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin rerunner \
    && mkdir -p /app/db \
    && chown rerunner:rerunner /app/db

# The default DATABASE_URL (sqlite://db/job-rerunner.db) is relative to /app: the data
# directory is /app/db, where Dokku's storage is mounted.
WORKDIR /app
# At the path the Procfile names (the buildpack route's too), so one Procfile serves both
# routes; and on the PATH for `dokku run job-re-runner job-rerunner check-config`.
COPY --from=build /src/target/release/job-rerunner /app/target/release/job-rerunner
RUN ln -s /app/target/release/job-rerunner /usr/local/bin/job-rerunner
# Dokku before 0.31 reads its zero-downtime checks (CHECKS) and, before 0.30, app.json
# from the image's /app; later versions read app.json from the repository.
COPY CHECKS app.json ./

# Numeric, so that a runtime can tell it is not root without reading /etc/passwd.
USER 32767:32767
EXPOSE 5000
# No ENTRYPOINT: Dokku runs the Procfile's `web` command (`./target/release/job-rerunner`)
# in place of CMD, and an entry point would get that command as its arguments.
CMD ["./target/release/job-rerunner"]
