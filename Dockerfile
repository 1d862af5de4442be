# pgshelf container image.
#
# NOT BUILT HERE: the machines this project is developed on have no Docker
# engine, so this file has never been built. It follows the same steps as
# scripts/setup --release and scripts/run, which are tested; treat the first
# build as a check of this file.
#
#   docker build -t pgshelf .
#   docker run -p 3000:3000 -v pgshelf-data:/data pgshelf
#
# The image listens on 0.0.0.0:3000 (inside the container) and keeps its
# catalog, instance key and local backups in /data: mount a volume
# there, and back up instance.key separately (without it stored passwords
# cannot be read). Nothing answers without signing in: on the first start
# `docker logs` shows a one-time /setup?token=... link for the first admin.
# On stop, running backups get stop_grace_secs (default 30) to finish before
# they are recorded as stopped: give the container longer than that
# (`docker stop -t 45`, compose `stop_grace_period: 45s`).

# ---- build ---------------------------------------------------------------
FROM rust:1.95-bookworm AS build
WORKDIR /src
RUN rustup target add wasm32-unknown-unknown
# Same pinned tools as scripts/setup: cargo-leptos without its downloader,
# wasm-bindgen matching Cargo.lock, wasm-opt built from source (Debian's
# binaryen 108 produces wasm that fails to hydrate).
RUN cargo install cargo-leptos --version 0.3.10 --locked --features no_downloads \
 && cargo install wasm-opt --version 0.116.1 --locked
COPY Cargo.toml Cargo.lock ./
RUN WB=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' Cargo.lock) \
 && cargo install wasm-bindgen-cli --version "$WB" --locked
COPY . .
RUN cargo leptos build --release

# ---- run -----------------------------------------------------------------
FROM debian:bookworm-slim
# PostgreSQL client tools 14-18 from the PostgreSQL project's apt repository
# (set up by Debian's postgresql-common helper), so pgshelf can pick the
# lowest pg_dump at least as new as each server; zstd and age for manual
# restores; ssh for SFTP destinations; curl for the health check.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates postgresql-common zstd age openssh-client curl \
 && /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y \
 && apt-get install -y --no-install-recommends \
      postgresql-client-14 postgresql-client-15 postgresql-client-16 \
      postgresql-client-17 postgresql-client-18 \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --home-dir /data --create-home pgshelf
COPY --from=build /src/target/release/pgshelf /usr/local/bin/pgshelf
COPY --from=build /src/target/site /usr/share/pgshelf/site
USER pgshelf
WORKDIR /data
ENV PGSHELF_LISTEN=0.0.0.0:3000 \
    PGSHELF_DATA=/data \
    LEPTOS_SITE_ROOT=/usr/share/pgshelf/site \
    LEPTOS_ENV=PROD
EXPOSE 3000
# /healthz answers 200 while the catalog answers (503 otherwise); a failed
# backup does not make it unhealthy.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:3000/healthz"]
STOPSIGNAL SIGTERM
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/pgshelf"]
CMD ["serve"]
