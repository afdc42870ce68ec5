# shellcheck shell=bash
# Sourced by scripts/stack.sh (local broker) and scripts/kafka/container-broker.sh (docker compose):
# the broker's common settings, its SASL/SCRAM users and ACL settings, written once for both.
#
# One SCRAM-SHA-256 user per role of common/kafka/identity.ts, created when the storage is formatted
# (KRaft keeps SCRAM credentials in its metadata log). cfd-admin is the only super user; the broker
# denies whatever no ACL allows (scripts/ensure-topics.ts grants each service its ACLs). Controller
# listeners cannot use SCRAM in KRaft: the controller listener takes PLAIN, as cfd-admin.
# Development passwords are `dev-only-kafka-<role>-password` (devKafkaPassword() in identity.ts).

KAFKA_ROLES=(api worker db-processor admin)

# kafka_common_properties <controller host:port> <log dir>: a single-node KRaft broker+controller.
kafka_common_properties() {
  cat <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$1
controller.listener.names=CONTROLLER
log.dirs=$2
num.partitions=6
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
EOF
}

kafka_dev_password() { printf 'dev-only-kafka-%s-password' "$1"; }

# kafka_role_password <role>: KAFKA_PASSWORD_<ROLE> (e.g. KAFKA_PASSWORD_DB_PROCESSOR) or the dev one.
kafka_role_password() {
  local var="KAFKA_PASSWORD_$(printf '%s' "$1" | tr 'a-z-' 'A-Z_')"
  if [[ -n "${!var:-}" ]]; then printf '%s' "${!var}"; else kafka_dev_password "$1"; fi
}

# kafka_sasl_properties <sasl listener name>...: the server.properties lines for SASL and ACLs.
# The first name is the inter-broker listener.
kafka_sasl_properties() {
  local admin_pw name lower
  admin_pw="$(kafka_role_password admin)"
  cat <<EOF
inter.broker.listener.name=$1
sasl.enabled.mechanisms=SCRAM-SHA-256
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-256
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="cfd-admin" password="$admin_pw" user_cfd-admin="$admin_pw";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:cfd-admin
allow.everyone.if.no.acl.found=false
EOF
  for name in "$@"; do
    lower="$(printf '%s' "$name" | tr 'A-Z' 'a-z')"
    printf 'listener.name.%s.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="cfd-admin" password="%s";\n' "$lower" "$admin_pw"
  done
}

# kafka_scram_args: the --add-scram arguments of `kafka-storage format`, one per role, NUL-separated.
kafka_scram_args() {
  local role
  for role in "${KAFKA_ROLES[@]}"; do
    printf -- '--add-scram\0SCRAM-SHA-256=[name=cfd-%s,password=%s]\0' "$role" "$(kafka_role_password "$role")"
  done
}
