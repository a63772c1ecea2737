//! Addresses on a lab network: the subnet chosen for it and each object's static address.
//!
//! Every node, cache and the registry gets a fixed address derived from the subnet's base, so
//! addresses survive restarts (embedded etcd breaks when they change, k3d #550). The same
//! concern as k3d `pkg/client/ipam.go`, which hands out IPs from the network's subnet.

use std::net::Ipv4Addr;

use crate::config::{MAX_AGENTS, MAX_SERVERS, Role};

use super::super::cache;

/// The gateway of the lab network: the first address of its subnet.
pub fn gateway_ip(base: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(base) + 1)
}

/// The static address of the `index`th image cache on a lab network: .245 up (one per
/// upstream), below the load balancer's .254 and far above the last agent's (.40), so a cache
/// never takes a node's address (see [`cache`]).
pub fn cache_ip(base: Ipv4Addr, index: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(base) + CACHE_IP_OFFSET + index as u32)
}

const CACHE_IP_OFFSET: u32 = 245;

/// The static address of the lab registry on a lab network: .244, just below the caches and,
/// like them, far above the last agent's (see [`crate::cluster::registry`]).
pub fn registry_ip(base: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(base) + REGISTRY_IP_OFFSET)
}

const REGISTRY_IP_OFFSET: u32 = 244;
const _: () = assert!(
    REGISTRY_IP_OFFSET < CACHE_IP_OFFSET && REGISTRY_IP_OFFSET > 2 + MAX_SERVERS + MAX_AGENTS,
    "the lab registry would take a cache's or a node's address"
);
const _: () = assert!(
    CACHE_IP_OFFSET as usize + cache::UPSTREAMS.len() <= 254,
    "image caches would take the load balancer's address"
);

pub(super) fn node_ip(base: Ipv4Addr, role: Role, index: u32) -> Ipv4Addr {
    // .1 is the gateway. Servers from .2, agents after the largest server count, LB at .254.
    let offset = match role {
        Role::Server => 2 + index,
        Role::Agent => 2 + MAX_SERVERS + index,
        Role::LoadBalancer => 254,
    };
    Ipv4Addr::from(u32::from(base) + offset)
}

fn parse_cidr(s: &str) -> Option<(u32, u32)> {
    let (ip, len) = s.split_once('/')?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    let len: u32 = len.parse().ok()?;
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - len.min(32))
    };
    let start = u32::from(ip) & mask;
    Some((start, start | !mask))
}

pub(super) fn subnet_base(s: &str) -> Option<Ipv4Addr> {
    parse_cidr(s).map(|(start, _)| Ipv4Addr::from(start))
}

/// The first /24 in 172.28.0.0/14 that overlaps no network Docker already has.
pub fn choose_subnet(used: &[String]) -> Option<String> {
    choose_subnet_from(used, 0)
}

/// Like [`choose_subnet`], searching from candidate `start` (wrapping), so labs created at
/// the same moment rarely pick the same one.
pub fn choose_subnet_from(used: &[String], start: u32) -> Option<String> {
    let used: Vec<(u32, u32)> = used.iter().filter_map(|s| parse_cidr(s)).collect();
    (0u32..1024).map(|i| (i + start) % 1024).find_map(|i| {
        let start = u32::from(Ipv4Addr::new(172, 28, 0, 0)) + (i << 8);
        let end = start | 0xff;
        let free = used.iter().all(|&(a, b)| end < a || start > b);
        free.then(|| format!("{}/24", Ipv4Addr::from(start)))
    })
}
