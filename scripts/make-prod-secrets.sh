#!/usr/bin/env bash
# Writes the secrets of `docker compose --profile prod` (random, from openssl), once:
#   secrets/app.env           JWT_SECRET, HMAC_KEY, SEALING_KEY, TEMPORAL_PAYLOAD_KEYS, KAFKA_*_KEYS (the event
#                             signing seed included),
#                             DATABASE_URL (app role), SMTP_URL
#   secrets/postgres.env      POSTGRES_PASSWORD (superuser, administration only), CFD_APP_DB_PASSWORD
#   secrets/kafka-broker.env  KAFKA_PASSWORD_<ROLE>: the broker's SCRAM users (scripts/kafka/security.sh)
#   secrets/kafka-<role>.env  KAFKA_SASL_PASSWORD of one container's Kafka user cfd-<role> (api, worker,
#                             db-processor; admin for the migrate step, which creates topics and ACLs)
# Mode 600, ignored by git and by the Docker build context. Refuses to overwrite existing files:
# the database keeps the passwords of its first start, the broker the Kafka passwords of its first
# format, and changing HMAC_KEY or SEALING_KEY makes existing sessions, codes and sealed values
# unreadable (add a TEMPORAL_PAYLOAD_KEYS entry in front to rotate it; keep the old one while
# histories use it). Edit SMTP_URL for a real mail server.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir="${1:-secrets}"
roles=(api worker db-processor admin)
files=("$dir/app.env" "$dir/postgres.env" "$dir/kafka-broker.env")
for role in "${roles[@]}"; do files+=("$dir/kafka-$role.env"); done
for f in "${files[@]}"; do
  if [[ -e "$f" ]]; then echo "$f exists; not overwriting (delete the secrets to regenerate)" >&2; exit 1; fi
done
mkdir -p "$dir"
umask 077
rand() { openssl rand -base64 48 | tr -d '\n/+=' | cut -c1-"${1:-48}"; }
db_pw="$(rand 40)"
cat >"$dir/postgres.env" <<ENV
POSTGRES_PASSWORD=$(rand 40)
CFD_APP_DB_PASSWORD=$db_pw
ENV
cat >"$dir/app.env" <<ENV
JWT_SECRET=$(rand)
HMAC_KEY=$(rand)
SEALING_KEY=$(rand)
TEMPORAL_PAYLOAD_KEYS=k1:$(rand)
KAFKA_REQUEST_MAC_KEYS=k1:$(rand)
KAFKA_REPLY_MAC_KEYS=k1:$(rand)
KAFKA_PAYLOAD_KEYS=k1:$(rand)
KAFKA_EVENT_SIGNING_KEYS=k1:$(openssl rand 32 | base64 | tr '+/' '-_' | tr -d '=\n')
DATABASE_URL=postgres://cfd_auth:$db_pw@postgres-prod:5432/cfd_auth
SMTP_URL=smtp://maildev:1025
ENV
: >"$dir/kafka-broker.env"
for role in "${roles[@]}"; do
  pw="$(rand)"
  printf 'KAFKA_PASSWORD_%s=%s\n' "$(printf '%s' "$role" | tr 'a-z-' 'A-Z_')" "$pw" >>"$dir/kafka-broker.env"
  printf 'KAFKA_SASL_PASSWORD=%s\n' "$pw" >"$dir/kafka-$role.env"
done
echo "wrote ${files[*]} (mode 600)"
