# syntax=docker/dockerfile:1
# One image for every Node process of cfd-broker-auth (api, worker, db-processor, migrate);
# docker-compose.yml picks the command. TypeScript runs through tsx, as in local development.
FROM node:20-bookworm-slim

ENV NODE_ENV=development \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

WORKDIR /app

# Dependencies first, so source edits do not reinstall them. bcrypt loads its prebuilt linux binary.
COPY package.json package-lock.json ./
RUN npm ci --loglevel=error && npm cache clean --force

COPY --chown=node:node . .

USER node
# api (API_PORT), worker health (WORKER_HEALTH_PORT), db-processor health (DB_PROCESSOR_HEALTH_PORT)
EXPOSE 3001 3002 3003
CMD ["npx", "tsx", "api/main.ts"]
