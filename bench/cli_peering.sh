#!/usr/bin/env bash
# Baseline for the benchmark: peer two clusters by hand with the consul CLI, the way an operator would,
# and poll until both sides are ACTIVE.
# Usage: cli_peering.sh CONSUL ACCEPTOR_ADDR ACCEPTOR_TOKEN DIALER_ADDR DIALER_TOKEN CA_FILE ACCEPTOR_PEER DIALER_PEER
set -euo pipefail
consul=$1 acceptor_addr=$2 acceptor_token=$3 dialer_addr=$4 dialer_token=$5 ca=$6 acceptor_peer=$7 dialer_peer=$8
export CONSUL_CACERT=$ca

token=$(CONSUL_HTTP_ADDR=$acceptor_addr CONSUL_HTTP_TOKEN=$acceptor_token \
    "$consul" peering generate-token -name "$acceptor_peer")
CONSUL_HTTP_ADDR=$dialer_addr CONSUL_HTTP_TOKEN=$dialer_token \
    "$consul" peering establish -name "$dialer_peer" -peering-token "$token" > /dev/null

active() {
    CONSUL_HTTP_ADDR=$1 CONSUL_HTTP_TOKEN=$2 "$consul" peering read -name "$3" -format json \
        | grep -q '"State": "ACTIVE"'
}
for _ in $(seq 1 480); do
    if active "$dialer_addr" "$dialer_token" "$dialer_peer" && active "$acceptor_addr" "$acceptor_token" "$acceptor_peer"; then
        exit 0
    fi
    sleep 0.25
done
echo "not ACTIVE after 120 s" >&2
exit 1
