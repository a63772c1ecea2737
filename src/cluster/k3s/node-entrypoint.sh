# playground's k3s node entrypoint. It runs as PID 1 (the node has no docker-init), makes the
# container what k3s needs of it, then replaces itself with k3s, so k3s is PID 1.
#
# Why each step exists (upstream facts; the test stand-in enforces each one):
# - PID 1: on cgroup v2 k3s moves every process out of the container's root cgroup only when
#   it is PID 1 (k3s pkg/cli/cmds/init_linux.go: `os.Getpid() == 1` → EvacuateCgroup2).
#   Otherwise kubelet dies: "cannot enter cgroupv2 … with domain controllers -- it is in an
#   invalid state" (k3s-io/k3s#4085).
# - Shared /: containerd refuses pods asking for mountPropagation unless / is a shared mount
#   (containerd internal/cri/opts/spec_linux.go ensureShared): node-exporter, CSI, Cilium.
# - Node identity: k3s keeps the node password in /etc/rancher/node/password, outside its data
#   dir, and the server refuses the node name when a new container brings a new password
#   (k3s pkg/agent/config/config.go, pkg/nodepassword). It goes in the data volume, so a node
#   recreated on its volume is the same node.
# - DNS: Docker's resolver is 127.0.0.11, which k3s rejects for kubelet and replaces with
#   8.8.8.8 (k3s pkg/agent/config/config.go locateOrGenerateResolvConf), so pods would skip the
#   host's resolvers (VPN, corporate DNS). Docker answers on 127.0.0.11 through NAT rules in
#   the node's own network namespace; the same resolver is made to answer on the lab network's
#   gateway address (for the node and, through PREROUTING, for pods), and kubelet is given a
#   resolv.conf that names it.
# - br_netfilter: flannel puts pods on the cni0 bridge, and kube-proxy's DNAT of a Service
#   address sees the reply of an endpoint on the same node only when bridged frames go through
#   netfilter. Docker 27.3 and later no longer load the module (moby#48492, moby#48948); k3s
#   loads it itself (k3s pkg/agent/syssetup/setup.go `modprobe -- br_netfilter`), which works
#   when the node has the host's /lib/modules (mounted read-only, as kind does) and may load
#   modules (privileged). When it is still missing, kube-proxy is told to masquerade all
#   Service traffic (--kube-proxy-arg=masquerade-all=true): the endpoint then answers the
#   node's cni0 address, and the reply goes back through conntrack. Its cost is that pods see
#   the node, not the client, as the source of Service traffic, so it is the fallback only.
set -u
say() { echo "playground-entrypoint: $*" >&2; }

if ! mount --make-rshared / 2>/dev/null; then
  say "cannot make / a shared mount (needs CAP_SYS_ADMIN); pods that ask for mount propagation will fail"
fi

identity=/var/lib/rancher/k3s/playground-node
mkdir -p "$identity" /etc/rancher
if [ -d /etc/rancher/node ] && [ ! -L /etc/rancher/node ]; then
  # A node made before its identity moved to the volume: keep the password it registered with.
  [ -e "$identity/password" ] || cp -p /etc/rancher/node/* "$identity/" 2>/dev/null
  rm -rf /etc/rancher/node
fi
ln -sfn "$identity" /etc/rancher/node

dns=${PLAYGROUND_DNS_ADDR:-}
if [ -n "$dns" ] && [ -z "${K3S_RESOLV_CONF:-}" ] && grep -q '^nameserver 127\.0\.0\.11' /etc/resolv.conf 2>/dev/null; then
  rules=$(iptables-save -t nat 2>/dev/null || true)
  port_of() {
    echo "$rules" | sed -n "s/.*-d 127\.0\.0\.11\/32 -p $1 .*--to-destination 127\.0\.0\.11:\([0-9][0-9]*\).*/\1/p" | head -n 1
  }
  udp=$(port_of udp)
  tcp=$(port_of tcp)
  if [ -n "$udp" ] && [ -n "$tcp" ]; then
    ok=1
    for chain in OUTPUT PREROUTING; do
      iptables -t nat -I "$chain" -d "$dns/32" -p udp --dport 53 -j DNAT --to-destination "127.0.0.11:$udp" || ok=0
      iptables -t nat -I "$chain" -d "$dns/32" -p tcp --dport 53 -j DNAT --to-destination "127.0.0.11:$tcp" || ok=0
    done
    # Pods' queries are routed to a loopback address after the DNAT; kube-proxy sets this too,
    # but only once it runs.
    echo 1 >/proc/sys/net/ipv4/conf/all/route_localnet 2>/dev/null || true
    if [ "$ok" = 1 ]; then
      mkdir -p /run/playground
      { echo "nameserver $dns"; grep -v '^nameserver' /etc/resolv.conf; } >/run/playground/resolv.conf
      export K3S_RESOLV_CONF=/run/playground/resolv.conf
    else
      say "cannot add the DNS rules (needs CAP_NET_ADMIN); kubelet will use 8.8.8.8 for pods"
    fi
  else
    say "Docker's DNS rules for 127.0.0.11 were not found; kubelet will use 8.8.8.8 for pods"
  fi
fi

nf=/proc/sys/net/bridge/bridge-nf-call-iptables
[ -e "$nf" ] || modprobe br_netfilter 2>/dev/null || true
if [ ! -e "$nf" ]; then
  say "br_netfilter is not loaded ($nf is missing): pods could not reach Services on their own node; kube-proxy will masquerade all Service traffic instead. Host fix: sudo modprobe br_netfilter, and persist it: echo br_netfilter | sudo tee /etc/modules-load.d/br_netfilter.conf"
  case "${1:-}" in
    server|agent) set -- "$@" --kube-proxy-arg=masquerade-all=true ;;
  esac
fi

exec /bin/k3s "$@"
