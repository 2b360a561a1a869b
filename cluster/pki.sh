#!/usr/bin/env bash
# Make the cluster's certificates and kubeconfigs under $GAVEL_STATE/pki (fresh per cluster).
# One CA signs the API server's serving certificate and every client certificate; the
# service-account key pair signs tokens.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
node_ip=$1
pki=$GAVEL_STATE/pki
mkdir -p "$pki"
cd "$pki"
[[ -f ca.crt ]] || openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=gavel-cluster-ca" \
  -keyout ca.key -out ca.crt 2>/dev/null
[[ -f sa.key ]] || { openssl genrsa -out sa.key 2048 2>/dev/null; openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null; }

cert() { # name, subject, extensions
  [[ -f $1.crt ]] && return 0
  openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
    -extfile <(printf '%s\n' "$3") -out "$1.crt" 2>/dev/null
  rm -f "$1.csr"
}
client=$'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth'
cert apiserver "/CN=kube-apiserver" $'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth'"
subjectAltName=DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.$CLUSTER_DOMAIN,DNS:localhost,DNS:$NODE_NAME,IP:127.0.0.1,IP:$APISERVER_SERVICE_IP,IP:$node_ip"
cert admin "/O=system:masters/CN=gavel-admin" "$client"
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client"
cert controller-manager "/CN=system:kube-controller-manager" "$client"
cert scheduler "/CN=system:kube-scheduler" "$client"
cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" "$client"
cert kube-proxy "/CN=system:kube-proxy" "$client"
cert kube-router "/CN=gavel:kube-router" "$client"

kubeconfig() { # file, cert name
  cat >"$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: gavel
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 <ca.crt)
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 <"$2.crt")
    client-key-data: $(base64 -w0 <"$2.key")
contexts:
- name: gavel
  context: {cluster: gavel, user: $2}
current-context: gavel
KC
  chmod 600 "$1"
}
for c in controller-manager scheduler kubelet kube-proxy kube-router; do kubeconfig "$c.kubeconfig" "$c"; done
kubeconfig "$KUBECONFIG_PATH" admin
