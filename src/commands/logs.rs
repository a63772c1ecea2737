//! `playground logs`: the nodes' logs, each line prefixed with its node.

use super::error::Result;

use super::Ctx;

/// Print the nodes' logs.
///
/// Print the lab's node logs (what `docker logs` shows: k3s's output), each line prefixed
/// with its node, e.g. `server-0 | …`. Without --node, every node's lines interleave as
/// they arrive. Ctrl-C ends --follow.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The lab (default: the one in ./playground.yaml, or the only lab).
    #[arg(add = super::completions::lab_names())]
    pub(crate) name: Option<String>,
    /// Only this node, e.g. server-0, agent-1 or serverlb.
    #[arg(long)]
    pub(crate) node: Option<String>,
    /// Keep printing new lines until the nodes stop or Ctrl-C.
    #[arg(short, long)]
    pub(crate) follow: bool,
    /// Only lines since a duration ago (e.g. 10m, 1h30m) or an RFC 3339 time
    /// (e.g. 2026-01-02T15:04:05Z).
    #[arg(long, value_name = "DURATION_OR_TIME", value_parser = parse_since)]
    pub(crate) since: Option<jiff::Timestamp>,
}

const EXAMPLES: &str = "Example:
  playground logs --node agent-0 --since 10m --follow";

/// `--since`: a duration back from now, or a point in time. (clap shows the error's text.)
fn parse_since(s: &str) -> Result<jiff::Timestamp, Box<dyn std::error::Error + Send + Sync>> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let d = crate::config::duration::parse_duration(s)
        .map_err(|e| format!("{e}; or give a time such as 2026-01-02T15:04:05Z"))?;
    let d = jiff::SignedDuration::try_from(d)?;
    Ok(jiff::Timestamp::now()
        .checked_sub(d)
        .map_err(|e| format!("{s} ago: {e}"))?)
}

pub(crate) async fn run(ctx: &Ctx<'_>, args: Args) -> Result<()> {
    let lab = ctx.lab(args.name).await?;
    let since = args.since.map_or(0, |t| t.as_second());
    crate::cluster::logs::print_logs(
        ctx.engine().await?,
        &lab,
        args.node.as_deref(),
        args.follow,
        since,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_duration_ago_or_a_time() {
        let t = parse_since("2026-01-02T15:04:05Z").unwrap();
        assert_eq!(t.as_second(), 1_767_366_245);
        let ago = jiff::Timestamp::now().as_second() - parse_since("10m").unwrap().as_second();
        assert!((599..=601).contains(&ago), "{ago}");
        let e = parse_since("10").unwrap_err().to_string();
        assert!(e.contains("2026-01-02T15:04:05Z"), "{e}");
    }
}
