# syntax=docker/dockerfile:1
# One image for every process of cfd-broker-auth: api, worker, db-processor, migrate (compiled
# JavaScript in /app/dist) and the web client (/app/web, a `next build`). docker-compose.yml picks
# the command. Node 24 LTS, the version scripts/lib/node.sh runs locally.
#
#   docker build -t cfd-auth-app .                       (compose builds it for you)
#   build args: NEXT_PUBLIC_API_URL (the API as the browser reaches it; empty: same host, port
#   NEXT_PUBLIC_API_PORT), both baked into the web bundle at build time.
#
# The files belong to root and are read-only for the `node` user the processes run as; compose's
# prod profile also mounts the root filesystem read-only.

ARG NODE_IMAGE=node:24.22.3-bookworm-slim

# --- production dependencies of the back end (no dev dependencies, no build tools) -----------
FROM ${NODE_IMAGE} AS deps
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
WORKDIR /app
# .npmrc first: it carries install settings (legacy-peer-deps) that npm ci must see.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --loglevel=error && npm cache clean --force

# --- compile the back end: tsc to dist/ (tsconfig.build.json) ----------------------------------
FROM ${NODE_IMAGE} AS build
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --loglevel=error
COPY tsconfig.json tsconfig.build.json ./
COPY api ./api
COPY activities ./activities
COPY workflows ./workflows
COPY db-processor ./db-processor
COPY entities ./entities
COPY common ./common
COPY temporal-config ./temporal-config
COPY codec-server ./codec-server
COPY scripts/migrate.ts scripts/ensure-topics.ts scripts/signup-cli.ts scripts/keys-cli.ts scripts/admin-cli.ts ./scripts/
RUN npx tsc -p tsconfig.build.json

# --- build the web client, then keep its production dependencies only ---------------------------
FROM ${NODE_IMAGE} AS web
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false \
    NEXT_TELEMETRY_DISABLED=1
ARG NEXT_PUBLIC_API_URL=
ARG NEXT_PUBLIC_API_PORT=3001
ENV NEXT_PUBLIC_API_URL=${NEXT_PUBLIC_API_URL} NEXT_PUBLIC_API_PORT=${NEXT_PUBLIC_API_PORT}
WORKDIR /app/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --loglevel=error
COPY web/app ./app
COPY web/components ./components
COPY web/lib ./lib
COPY web/next.config.ts web/tsconfig.json ./
RUN npm run build && npm prune --omit=dev --loglevel=error && rm -rf .next/cache && npm cache clean --force

# --- runtime ------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NEXT_TELEMETRY_DISABLED=1 \
    # The image brings its own Node: scripts/lib/node.sh must not fetch another one.
    CFD_NODE=system
WORKDIR /app
# No ownership change on COPY: everything belongs to root, the `node` user can read but not change it.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=web /app/web/package.json /app/web/next.config.ts ./web/
COPY --from=web /app/web/node_modules ./web/node_modules
COPY --from=web /app/web/.next ./web/.next
USER node
# api (API_PORT), worker health (WORKER_HEALTH_PORT), db-processor health (DB_PROCESSOR_HEALTH_PORT), web
EXPOSE 3001 3002 3003 3000
CMD ["node", "dist/api/main.js"]
