#!/usr/bin/env bash
# Baseline for bench/run.py: peer two clusters by hand with the consul CLI, the way an operator would,
# then poll `consul peering read` until both sides are ACTIVE.
#
# Usage: cli_peering.sh ACCEPTOR_PEER_NAME DIALER_PEER_NAME
# Environment: CONSUL (the binary), ACCEPTOR_ADDR, ACCEPTOR_TOKEN, DIALER_ADDR, DIALER_TOKEN, CONSUL_CACERT.
# ACL tokens come through the environment so that they do not show in the process list.
set -euo pipefail
acceptor_peer=$1 dialer_peer=$2

token=$(CONSUL_HTTP_ADDR=$ACCEPTOR_ADDR CONSUL_HTTP_TOKEN=$ACCEPTOR_TOKEN \
    "$CONSUL" peering generate-token -name "$acceptor_peer")
CONSUL_HTTP_ADDR=$DIALER_ADDR CONSUL_HTTP_TOKEN=$DIALER_TOKEN \
    "$CONSUL" peering establish -name "$dialer_peer" -peering-token "$token" > /dev/null

active() {
    CONSUL_HTTP_ADDR=$1 CONSUL_HTTP_TOKEN=$2 "$CONSUL" peering read -name "$3" | grep -q '^State: *ACTIVE$'
}
for _ in $(seq 1 480); do
    if active "$DIALER_ADDR" "$DIALER_TOKEN" "$dialer_peer" && active "$ACCEPTOR_ADDR" "$ACCEPTOR_TOKEN" "$acceptor_peer"; then
        exit 0
    fi
    sleep 0.25
done
echo "not ACTIVE after 120 s" >&2
exit 1
