# sessiond: build the single binary in a Bun image, run it alone in a small image as a non-root user.
# No Docker engine runs on the development machines; this file is kept correct by reading (see README).

FROM oven/bun:1.4.5 AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN bun install --frozen-lockfile --ignore-scripts || bun install --ignore-scripts
COPY tsconfig.json bunfig.toml ./
COPY src ./src
COPY drizzle ./drizzle
COPY scripts ./scripts
RUN bun build ./src/main.ts --compile --minify --no-compile-autoload-bunfig --no-compile-autoload-dotenv --outfile /out/sessiond

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 sessiond \
 && useradd --system --uid 10001 --gid sessiond --home-dir /data --shell /usr/sbin/nologin sessiond \
 && mkdir -p /data && chown sessiond:sessiond /data
COPY --from=build /out/sessiond /usr/local/bin/sessiond
USER sessiond
WORKDIR /data
ENV DATA_DIR=/data PORT=3000 HOST=0.0.0.0
VOLUME /data
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:3000/health || exit 1
# Exec form: the binary is PID 1 and receives SIGTERM itself (it drains and exits 0 within 10 s).
ENTRYPOINT ["/usr/local/bin/sessiond"]
CMD ["serve"]
