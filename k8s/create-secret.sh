#!/usr/bin/env bash
# Creates the Secret the manifests in this folder (and an Argo CD install with
# secrets.existingSecret) read: caller secrets, page token keys, the session secret and the
# Postgres, Redis and NATS passwords, each a fresh random value. Run it once, before the
# first `kubectl apply -k k8s/`; running it again refuses to replace an existing Secret
# (new passwords would no longer match the databases' volumes).
#
#   NAMESPACE=delinkcious ./k8s/create-secret.sh
set -euo pipefail

namespace="${NAMESPACE:-delinkcious}"
name="${SECRET_NAME:-delinkcious-secrets}"
keys=(
  caller-token-api-gateway
  caller-token-link-checker
  caller-token-link-manager
  caller-token-news-manager
  caller-token-social-graph-manager
  db-password-link-manager
  db-password-social-graph-manager
  db-password-user-manager
  nats-password
  page-token-key-link-manager
  page-token-key-news-manager
  page-token-key-social-graph-manager
  postgres-password
  redis-password
  redis-password-api-gateway
  session-secret
)

# 48 hex characters from the kernel's random source: letters and digits only, so safe in URLs.
random_value() {
  od -An -N24 -tx1 /dev/urandom | tr -d ' \n'
}

if kubectl get namespace "$namespace" >/dev/null 2>&1; then
  :
else
  kubectl create namespace "$namespace"
fi
if kubectl -n "$namespace" get secret "$name" >/dev/null 2>&1; then
  echo "Secret $name already exists in namespace $namespace; leaving it as it is." >&2
  exit 0
fi

args=()
for key in "${keys[@]}"; do
  args+=("--from-literal=$key=$(random_value)")
done
kubectl -n "$namespace" create secret generic "$name" "${args[@]}"
echo "Created Secret $name in namespace $namespace with ${#keys[@]} random values." >&2
