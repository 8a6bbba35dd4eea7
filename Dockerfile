# syntax=docker/dockerfile:1
# The Dukcapil verdict ingest service. Build: docker build -t identity-ingest .
# Run (embedded database, one node):
#   docker run --stop-timeout 30 -p 3000:3000 -v identity-data:/data -e SEALING_KEYS=... -e METRICS_TOKEN=... identity-ingest
#   (--stop-timeout: SIGTERM lets requests in flight finish for up to 25 s; Docker's default kills after 10 s)
# Run (PostgreSQL, replicas): add -e DATABASE_URL=postgresql://... -e REDIS_URL=redis://... (no /data needed).
# `npm run smoke:prod` replays these steps without Docker (CI runs it). README "Deployment" explains the rest.

# Node.js 26 "Lithium", the Active LTS line since 26.13.0 (2026-10-28), on Debian 12 like the machines that
# test it; pinned: bump deliberately, never by a moving tag. (npm run smoke:prod runs on the machine's Node.)
ARG NODE_IMAGE=node:26.13.0-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV CHECKPOINT_DISABLE=1 \
    ONNXRUNTIME_NODE_INSTALL=skip
# Dependencies first (a layer that only changes with the lockfile). postinstall runs `prisma generate`,
# which needs the schema and prisma.config.ts (and the stub engine path it sets). .npmrc holds
# onnxruntime-node-install=skip: its install script would download CUDA libraries from a host we never use
# (the CPU runtime ships in the package); ONNXRUNTIME_NODE_INSTALL above says the same should a later npm
# stop passing unknown .npmrc settings to install scripts (npm 11 warns that it will).
COPY package.json package-lock.json .npmrc prisma.config.ts tsconfig.json tsconfig.build.json ./
COPY prisma ./prisma
COPY scripts/no-schema-engine.sh ./scripts/
RUN npm ci --no-audit --no-fund
COPY src ./src
# TypeScript to dist/src (the generated client included), then drop every devDependency. npm keeps the ones a
# dependency names as an optional peer (@prisma/client: prisma, typescript); nothing at runtime needs them.
# onnxruntime-node ships its runtime for every platform (~220 MB for Windows and macOS): keep Linux's.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && node -e "for (const d of Object.keys(require('./package.json').devDependencies)) require('fs').rmSync('node_modules/' + d, { recursive: true, force: true })" \
 && rm -rf node_modules/onnxruntime-node/bin/napi-v6/win32 node_modules/onnxruntime-node/bin/napi-v6/darwin

FROM ${NODE_IMAGE} AS runtime
# MALLOC_ARENA_MAX=2: glibc otherwise gives every thread that allocates (sharp's libvips threads, each face
# worker, onnxruntime) its own arena, whose freed memory stays in the process (README "Face templates";
# ~100 MB less RSS with one face worker, measured with bench:ingest on the earlier Human pipeline).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/data \
    METRICS_HOST=0.0.0.0 \
    METRICS_PORT=9464
WORKDIR /app
# Code and dependencies belong to root and are read-only for the service user; only /data is writable.
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Migrations are applied at start from here (the wasm schema engine is a runtime dependency).
COPY --from=build /app/prisma ./prisma
RUN mkdir -p /data && chown node:node /data
USER node
# Embedded-database mode keeps its PGlite cluster, lock and admin socket here; unused with DATABASE_URL.
VOLUME ["/data"]
EXPOSE 3000 9464
# No curl in slim images: Node's fetch. /healthz answers while the process serves HTTP (/readyz adds the DB).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
# Pending migrations are applied at start (one-shot instead: node dist/src/db/cli.js deploy).
# Admin CLI: docker exec <container> node dist/src/cli/admin.js <command>
CMD ["node", "--enable-source-maps", "dist/src/server.js"]
