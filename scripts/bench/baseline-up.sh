#!/usr/bin/env bash
# The peer of `playground up` in the benchmark: the same Docker objects made with sequential
# docker CLI calls, waiting on the same log lines, as a hand-written k3d-like script would.
# Usage: baseline-up.sh NAME AGENTS IMAGE
set -euo pipefail
name=$1 agents=$2 image=$3
label="playground.cluster=$name"
net="playground-$name"
token=benchmarktoken

wait_line() { # container line: poll the log every 0.1 s, as a hand-written script would
  # (`docker logs -f | grep -m1` hangs until the node logs again after the match).
  for _ in $(seq 1200); do
    docker logs "$1" 2>&1 | grep -q "$2" && return 0
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1" >&2; return 1
}

docker network create --label "$label" "$net" >/dev/null
docker volume create --label "$label" "$net-images" >/dev/null
docker volume create --label "$label" "$net-server-0-data" >/dev/null
docker create --name "$net-server-0" --hostname "$net-server-0" --network "$net" --label "$label" \
  --init --tmpfs /run --tmpfs /var/run --restart unless-stopped \
  -v "$net-server-0-data:/var/lib/rancher/k3s" -v "$net-images:/var/lib/playground/images" \
  -e "K3S_TOKEN=$token" -e K3S_KUBECONFIG_OUTPUT=/output/kubeconfig.yaml \
  -p 127.0.0.1::6443 "$image" server --tls-san 127.0.0.1 >/dev/null
docker start "$net-server-0" >/dev/null
wait_line "$net-server-0" "k3s is up and running"
for i in $(seq 0 $((agents - 1))); do
  docker volume create --label "$label" "$net-agent-$i-data" >/dev/null
  docker create --name "$net-agent-$i" --hostname "$net-agent-$i" --network "$net" --label "$label" \
    --init --tmpfs /run --tmpfs /var/run --restart unless-stopped \
    -v "$net-agent-$i-data:/var/lib/rancher/k3s" -v "$net-images:/var/lib/playground/images" \
    -e "K3S_TOKEN=$token" -e "K3S_URL=https://$net-server-0:6443" "$image" agent >/dev/null
  docker start "$net-agent-$i" >/dev/null
  wait_line "$net-agent-$i" "Successfully registered node"
done
docker cp "$net-server-0:/output/kubeconfig.yaml" - >/dev/null
