//! Node filters: the `@FILTER` suffix of ports, `k3sArgs` and `env` entries.
//!
//! The grammar is k3d's (`pkg/util/filter.go`):
//!
//! ```text
//! ^(server|servers|agent|agents|loadbalancer|all)(:(\d+,?)+|:\d*-\d*|:\*)?$
//! ```
//!
//! `server`/`servers` (and `agent`/`agents`) are synonyms; without an index they select every
//! node of the group. Checking happens in two steps: [`parse_filter`] checks the text alone,
//! [`check_filter`] checks it against the node counts once the whole `cluster:` section is
//! known (so `@agent:3` with two agents is an error, not a silent no-op).
//!
//! k3d also accepts a `:proxy` / `:direct` suffix on port filters. We reject it with an
//! explanation rather than accept and ignore it: here the filter alone decides the route
//! (`@loadbalancer` always goes through the load balancer, `@server:0` always publishes on that
//! node), so a suffix could only ever be redundant or contradict the filter.

use std::fmt;

use super::error::{Problem, closest};
use super::model::{NodeFilter, Selection};

const GROUPS: [&str; 6] = [
    "server",
    "servers",
    "agent",
    "agents",
    "loadbalancer",
    "all",
];

const FILTER_HINT: &str = "a node filter is `server`, `agent`, `loadbalancer` or `all`, optionally \
    followed by `:*`, `:0`, `:0,2` or `:1-3` (e.g. `@server:0`, `@agent:*`)";

/// Parses the text after `@` (e.g. `server:0`, `agents:1-2`, `loadbalancer`).
pub(crate) fn parse_filter(text: &str) -> Result<NodeFilter, Problem> {
    let bad = |message: String| Problem::new(message).hint(FILTER_HINT);
    let (group, spec) = match text.split_once(':') {
        Some((group, spec)) => (group, Some(spec)),
        None => (text, None),
    };
    if !GROUPS.contains(&group) {
        let mut message = format!("unknown node group `{group}` in filter `@{text}`");
        if let Some(near) = closest(group, &GROUPS) {
            message.push_str(&format!(" (did you mean `{near}`?)"));
        }
        return Err(bad(message));
    }
    let Some(spec) = spec else {
        return Ok(match group {
            "server" | "servers" => NodeFilter::Servers(Selection::All),
            "agent" | "agents" => NodeFilter::Agents(Selection::All),
            "loadbalancer" => NodeFilter::LoadBalancer,
            _ => NodeFilter::All,
        });
    };
    // k3d's suffix: `@loadbalancer:proxy`, `@server:0:direct`. See the module docs.
    let (spec, suffix) = match spec.split_once(':') {
        Some((spec, suffix)) => (spec, Some(suffix)),
        None if matches!(spec, "proxy" | "direct") => ("", Some(spec)),
        None => (spec, None),
    };
    if let Some(suffix) = suffix {
        return Err(if matches!(suffix, "proxy" | "direct") {
            Problem::new(format!("the `:{suffix}` suffix of k3d filters is not supported (in `@{text}`)")).hint(
                "the filter alone decides the route: `@loadbalancer` goes through the load balancer, \
                 `@server:N` / `@agent:N` publish directly on that node; drop the suffix",
            )
        } else {
            bad(format!("unexpected `:{suffix}` in filter `@{text}`"))
        });
    }
    let selection = parse_selection(spec).map_err(|why| {
        bad(format!(
            "invalid node index `{spec}` in filter `@{text}`: {why}"
        ))
    })?;
    match group {
        "server" | "servers" => Ok(NodeFilter::Servers(selection)),
        "agent" | "agents" => Ok(NodeFilter::Agents(selection)),
        _ => Err(
            Problem::new(format!("`@{group}` takes no node index (in `@{text}`)"))
                .hint(format!("write just `@{group}`")),
        ),
    }
}

/// `*`, `0,2,3` (a trailing comma is allowed, as in k3d) or `1-3` with optional open ends.
fn parse_selection(spec: &str) -> Result<Selection, &'static str> {
    let index = |s: &str| -> Result<Option<u32>, &'static str> {
        if s.is_empty() {
            Ok(None)
        } else if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().map(Some).map_err(|_| "index too large")
        } else {
            Err("expected `*`, a list like `0,2` or a range like `1-3`")
        }
    };
    if spec == "*" {
        return Ok(Selection::All);
    }
    if let Some((lo, hi)) = spec.split_once('-') {
        let (lo, hi) = (index(lo)?, index(hi)?);
        if let (Some(lo), Some(hi)) = (lo, hi)
            && lo > hi
        {
            return Err("the range is empty (start after end)");
        }
        return Ok(Selection::Range(lo, hi));
    }
    let items = spec.strip_suffix(',').unwrap_or(spec);
    let mut indices = Vec::new();
    for item in items.split(',') {
        indices.push(index(item)?.ok_or("expected `*`, a list like `0,2` or a range like `1-3`")?);
    }
    indices.sort_unstable();
    indices.dedup();
    Ok(Selection::Indices(indices))
}

/// Checks `filter` against the node counts: every index named must exist and the filter must
/// select at least one node (a setting that applies nowhere is almost certainly a mistake).
pub(crate) fn check_filter(filter: &NodeFilter, servers: u32, agents: u32) -> Result<(), Problem> {
    let (selection, role, count) = match filter {
        NodeFilter::LoadBalancer | NodeFilter::All => return Ok(()),
        NodeFilter::Servers(s) => (s, "server", servers),
        NodeFilter::Agents(s) => (s, "agent", agents),
    };
    let highest = match selection {
        Selection::All => None,
        Selection::Indices(v) => v.iter().copied().max(),
        Selection::Range(lo, hi) => hi.or(*lo),
    };
    let plural = |n: u32| if n == 1 { "" } else { "s" };
    if let Some(highest) = highest
        && highest >= count
    {
        let hint = if count == 0 {
            format!("set `{role}s:` in `cluster:` to add {role}s, or change the filter")
        } else {
            format!(
                "{role} indices start at 0: valid ones here are 0 to {}",
                count - 1
            )
        };
        return Err(Problem::new(format!(
            "`{filter}` refers to {role} {highest}, but the cluster has {count} {role}{}",
            plural(count)
        ))
        .hint(hint));
    }
    if selected(filter, servers, agents) == 0 {
        return Err(Problem::new(format!(
            "`{filter}` selects no node: the cluster has {count} {role}{}",
            plural(count)
        ))
        .hint(format!(
            "set `{role}s:` in `cluster:`, or change the filter"
        )));
    }
    Ok(())
}

/// How many nodes `filter` selects (the load balancer counts as one node).
pub(crate) fn selected(filter: &NodeFilter, servers: u32, agents: u32) -> u32 {
    match filter {
        NodeFilter::LoadBalancer => 1,
        NodeFilter::All => servers + agents,
        NodeFilter::Servers(s) => (0..servers).filter(|i| s.contains(*i)).count() as u32,
        NodeFilter::Agents(s) => (0..agents).filter(|i| s.contains(*i)).count() as u32,
    }
}

/// Renders the filter back in k3d syntax, with the `@`: `@server:0,2`, `@agent:*`.
impl fmt::Display for NodeFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (group, selection) = match self {
            NodeFilter::LoadBalancer => return f.write_str("@loadbalancer"),
            NodeFilter::All => return f.write_str("@all"),
            NodeFilter::Servers(s) => ("server", s),
            NodeFilter::Agents(s) => ("agent", s),
        };
        write!(f, "@{group}:")?;
        match selection {
            Selection::All => f.write_str("*"),
            Selection::Indices(v) => {
                let list: Vec<String> = v.iter().map(u32::to_string).collect();
                f.write_str(&list.join(","))
            }
            Selection::Range(lo, hi) => {
                let end = |e: &Option<u32>| e.map(|n| n.to_string()).unwrap_or_default();
                write!(f, "{}-{}", end(lo), end(hi))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use NodeFilter::*;

    #[test]
    fn parses_k3d_filters() {
        let cases = [
            ("server", Servers(Selection::All)),
            ("servers", Servers(Selection::All)),
            ("server:*", Servers(Selection::All)),
            ("server:0", Servers(Selection::Indices(vec![0]))),
            ("agents:2,0,2,", Agents(Selection::Indices(vec![0, 2]))),
            ("agent:1-3", Agents(Selection::Range(Some(1), Some(3)))),
            ("agent:-2", Agents(Selection::Range(None, Some(2)))),
            ("agent:1-", Agents(Selection::Range(Some(1), None))),
            ("agent:-", Agents(Selection::Range(None, None))),
            ("loadbalancer", LoadBalancer),
            ("all", All),
        ];
        for (text, want) in cases {
            assert_eq!(parse_filter(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_bad_filters_with_a_reason() {
        let cases = [
            (
                "sever:0",
                "unknown node group `sever` in filter `@sever:0` (did you mean `server`?)",
            ),
            ("nodes", "unknown node group `nodes`"),
            ("", "unknown node group ``"),
            ("server:", "invalid node index `` in filter `@server:`"),
            ("server:a1", "invalid node index `a1`"),
            ("server:0,,1", "invalid node index `0,,1`"),
            ("agent:3-1", "the range is empty"),
            ("agent:0-1-2", "invalid node index `0-1-2`"),
            ("agent:99999999999", "index too large"),
            ("loadbalancer:0", "`@loadbalancer` takes no node index"),
            ("all:*", "`@all` takes no node index"),
            (
                "loadbalancer:proxy",
                "the `:proxy` suffix of k3d filters is not supported",
            ),
            (
                "server:0:direct",
                "the `:direct` suffix of k3d filters is not supported",
            ),
            ("server:0:fast", "unexpected `:fast`"),
            ("agent:x", "invalid node index `x`"),
        ];
        for (text, want) in cases {
            let problem = parse_filter(text).unwrap_err();
            assert!(
                problem.message.contains(want),
                "{text}: {}",
                problem.message
            );
            assert!(problem.hint.is_some(), "{text} has no hint");
        }
    }

    #[test]
    fn checks_indices_against_node_counts() {
        let ok = |f: &str, s, a| check_filter(&parse_filter(f).unwrap(), s, a);
        assert!(ok("agent:1", 1, 2).is_ok());
        assert!(ok("agent:-1", 1, 2).is_ok());
        assert!(ok("server:0-2", 3, 0).is_ok());
        assert!(ok("loadbalancer", 1, 0).is_ok());
        assert!(ok("all", 1, 0).is_ok());

        let err = ok("agent:3", 1, 2).unwrap_err();
        assert_eq!(
            err.message,
            "`@agent:3` refers to agent 3, but the cluster has 2 agents"
        );
        assert_eq!(
            err.hint.as_deref(),
            Some("agent indices start at 0: valid ones here are 0 to 1")
        );
        let err = ok("server:0,1", 1, 0).unwrap_err();
        assert_eq!(
            err.message,
            "`@server:0,1` refers to server 1, but the cluster has 1 server"
        );
        assert!(
            ok("agent:2-", 1, 2)
                .unwrap_err()
                .message
                .contains("refers to agent 2")
        );
        let err = ok("agents", 1, 0).unwrap_err();
        assert_eq!(
            err.message,
            "`@agent:*` selects no node: the cluster has 0 agents"
        );
        let err = ok("agent:0", 1, 0).unwrap_err();
        assert!(err.hint.unwrap().contains("set `agents:`"));
    }

    #[test]
    fn counts_selected_nodes() {
        let n = |f: &str| selected(&parse_filter(f).unwrap(), 3, 2);
        assert_eq!(n("loadbalancer"), 1);
        assert_eq!(n("all"), 5);
        assert_eq!(n("server"), 3);
        assert_eq!(n("server:1-"), 2);
        assert_eq!(n("agent:0,1"), 2);
    }

    #[test]
    fn displays_in_k3d_syntax() {
        for text in [
            "@server:*",
            "@agent:0,2",
            "@agent:1-",
            "@server:-2",
            "@loadbalancer",
            "@all",
        ] {
            assert_eq!(parse_filter(&text[1..]).unwrap().to_string(), text);
        }
    }
}
