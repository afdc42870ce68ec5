#!/usr/bin/env bash
# The Kafka broker of docker-compose.yml (image apache/kafka:3.9.1, this directory mounted at
# /cfd/kafka): writes server.properties with SASL/SCRAM and ACLs (security.sh, as the local stack),
# formats the storage with the SCRAM users on first start, writes the admin's client settings for
# the healthcheck, and runs the broker.
#   INTERNAL://kafka:29092          containers (SASL_PLAINTEXT)
#   EXTERNAL://127.0.0.1:KAFKA_PORT the host (SASL_PLAINTEXT; published on loopback only)
#   CONTROLLER://kafka:9093         the KRaft controller (SASL PLAIN as cfd-admin)
# Passwords: KAFKA_PASSWORD_ADMIN, _API, _WORKER, _DB_PROCESSOR (secrets/kafka-broker.env, written by
# scripts/make-prod-secrets.sh); without them the development passwords, said loudly.
set -euo pipefail
. /cfd/kafka/security.sh
data=/var/lib/kafka/data
conf=/tmp/server.properties
: "${CLUSTER_ID:?CLUSTER_ID is required}"
: "${KAFKA_EXTERNAL_PORT:=9092}"

for role in "${KAFKA_ROLES[@]}"; do
  var="KAFKA_PASSWORD_$(printf '%s' "$role" | tr 'a-z-' 'A-Z_')"
  [[ -n "${!var:-}" ]] || echo "[kafka] $var is not set: cfd-$role gets the DEVELOPMENT password (fine for --profile dev only)" >&2
done

{
  kafka_common_properties kafka:9093 "$data"
  cat <<EOF
listeners=INTERNAL://0.0.0.0:29092,EXTERNAL://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093
advertised.listeners=INTERNAL://kafka:29092,EXTERNAL://127.0.0.1:$KAFKA_EXTERNAL_PORT
listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,INTERNAL:SASL_PLAINTEXT,EXTERNAL:SASL_PLAINTEXT
EOF
  kafka_sasl_properties INTERNAL EXTERNAL
} >"$conf"

cat >/tmp/admin.properties <<EOF
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-256
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="cfd-admin" password="$(kafka_role_password admin)";
EOF

if [[ ! -f "$data/meta.properties" ]]; then
  mapfile -d '' scram < <(kafka_scram_args)
  /opt/kafka/bin/kafka-storage.sh format -t "$CLUSTER_ID" -c "$conf" "${scram[@]}"
fi
exec /opt/kafka/bin/kafka-server-start.sh "$conf"
