//! `playground doctor`: can this host run a lab? And the part of it `up` runs first.
//!
//! The flow: resolve the Docker endpoint (and say where it came from), connect, then run every
//! check at once, each under its own deadline, so the fast ones take at most [`FAST_BUDGET`]
//! together. Gathering (Docker, the file system, sockets) is kept apart from judging: the
//! `judge_*` functions are pure and take what was gathered, so the verdicts are unit-tested on
//! made-up `docker info` data.
//!
//! `doctor` is strict: any failure fails it (exit status 1), so a script learns that a real lab
//! cannot run here. `up` runs the fast checks without the privileged probe, and only refuses
//! what is certain to break the lab it is about to make: cgroup v1 under a k3s image of
//! Kubernetes 1.35 or later. The checks about kubelet (cgroups, disk) are said in `up` only for
//! labs whose image is a k3s image; a stand-in node runs no kubelet.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use crate::cluster::up;
use crate::config::{Lab, LabName};
use crate::diag::{Hinted, Report as Full};
use crate::docker::{AnyEngine, Endpoint, Engine, EngineError, Host, HostFacts, PrivilegedProbe};
use crate::ui::Ui;

/// The deadline of each fast check; they run at once, so this bounds them all.
pub(crate) const FAST_BUDGET: Duration = Duration::from_secs(1);
/// The privileged probe creates, starts and removes a container: slower, `doctor` only.
pub(crate) const PROBE_BUDGET: Duration = Duration::from_secs(10);

/// kubelet's default hard eviction threshold on the image file system (Kubernetes
/// `pkg/kubelet/eviction/defaults_linux.go`; nodefs is 10 %). A lab's nodes turn disk
/// eviction off (F15, [`crate::cluster::k3s::KUBELET_ARGS`]), so below this there is no
/// DiskPressure taint; a lab whose file re-enables it gets one.
pub(crate) const IMAGEFS_MIN_PERCENT: f64 = 15.0;

/// What a lab needs free to pull its images and run: k3s (about 0.25 GiB), Argo CD's (about
/// 1 GiB unpacked), the apps', and containerd's unpacked copies of each.
pub(crate) const MIN_FREE_GIB: f64 = 4.0;

/// kubelet's own words on a cgroup v1 host from Kubernetes 1.35 on (`failCgroupV1` defaults to
/// true; kubernetes.io/docs/concepts/architecture/cgroups/#deprecation-of-cgroup-v1).
pub(crate) const CGROUP_V1_REFUSAL: &str =
    "kubelet is configured to not run on a host using cgroup v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    Ok,
    Warn,
    Fail,
    /// Not checked, with the reason in the message.
    Skip,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Check {
    /// Stable name for scripts: endpoint, engine, cgroup, isolation, privileged, br_netfilter,
    /// mounts, proxy, disk, ports, repo.
    pub(crate) id: &'static str,
    pub(crate) status: Status,
    pub(crate) message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fix: Option<String>,
    /// Whether `up` refuses to go on when this fails (else it warns).
    #[serde(skip)]
    pub(crate) blocks_up: bool,
}

impl Check {
    fn new(id: &'static str, status: Status, message: impl Into<String>) -> Self {
        Check {
            id,
            status,
            message: message.into(),
            fix: None,
            blocks_up: false,
        }
    }
    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// The whole report, as `doctor -o json` prints it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Report {
    /// No check failed (warnings allowed).
    pub(crate) ok: bool,
    /// The endpoint and where it came from; `null` when none could be resolved.
    pub(crate) endpoint: Option<Endpoint>,
    /// What the engine said, when it answered.
    pub(crate) engine: Option<HostFacts>,
    pub(crate) checks: Vec<Check>,
    pub(crate) failures: usize,
    pub(crate) warnings: usize,
}

impl Report {
    fn new(endpoint: Option<Endpoint>, engine: Option<HostFacts>, checks: Vec<Check>) -> Self {
        let count = |s| checks.iter().filter(|c| c.status == s).count();
        let (failures, warnings) = (count(Status::Fail), count(Status::Warn));
        Report {
            ok: failures == 0,
            endpoint,
            engine,
            checks,
            failures,
            warnings,
        }
    }

    /// The report as `flux check --pre` prints one: a line per check, a fix under each
    /// failure, a verdict. `fancy` uses ✔/✗/!; otherwise plain words for logs and pipes.
    pub(crate) fn render(&self, fancy: bool) -> String {
        let mut out = String::new();
        out.push_str(if fancy { "► " } else { "" });
        out.push_str("checking the host for playground\n");
        for c in &self.checks {
            let mark = match (c.status, fancy) {
                (Status::Ok, true) => "✔",
                (Status::Warn, true) => "!",
                (Status::Fail, true) => "✗",
                (Status::Skip, true) => "-",
                (Status::Ok, false) => "[ok]  ",
                (Status::Warn, false) => "[warn]",
                (Status::Fail, false) => "[FAIL]",
                (Status::Skip, false) => "[skip]",
            };
            out.push_str(&format!("{mark} {}: {}\n", c.id, c.message));
            if let Some(fix) = &c.fix {
                out.push_str(&format!("  fix: {fix}\n"));
            }
        }
        let verdict = if self.ok {
            format!(
                "host checks passed{}",
                match self.warnings {
                    0 => String::new(),
                    n => format!(" with {n} warning(s)"),
                }
            )
        } else {
            format!(
                "host checks failed: {} failure(s), {} warning(s); a real lab cannot run here until the fixes above are made",
                self.failures, self.warnings
            )
        };
        let mark = match (self.ok, fancy) {
            (true, true) => "✔ ",
            (false, true) => "✗ ",
            _ => "",
        };
        out.push_str(&format!("{mark}{verdict}\n"));
        out
    }
}

// ---- Judging: pure ------------------------------------------------------------------------

/// Where the endpoint came from, or why none could be had.
pub(crate) fn judge_endpoint(endpoint: std::result::Result<&Endpoint, &EngineError>) -> Check {
    match endpoint {
        Ok(e) => Check::new("endpoint", Status::Ok, e.to_string()),
        Err(e) => {
            // The engine error's hint is the fix.
            let mut c = Check::new("endpoint", Status::Fail, e.to_string());
            c.fix = e.hint();
            c.blocks_up = true;
            c
        }
    }
}

/// The first Podman with `host-gateway` in `--add-host` / `ExtraHosts` (containers/podman#19152,
/// v4.7.0); older ones refuse every node's create with "invalid IP address in add-host".
pub(crate) const PODMAN_MIN: (u32, u32) = (4, 7);

/// `MAJOR.MINOR` of a version such as `4.9.3` or `5.0.0-dev`.
fn major_minor(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.split(['.', '-', '+']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

pub(crate) fn judge_engine(facts: &HostFacts) -> Check {
    if facts.product.contains("Podman") {
        let v = &facts.product_version;
        let message = format!(
            "Podman {v} (Docker API {}){}",
            facts.api_version,
            if facts.operating_system.is_empty() {
                String::new()
            } else {
                format!(", on {}", facts.operating_system)
            }
        );
        return match major_minor(v) {
            Some(mm) if mm < PODMAN_MIN => {
                let mut c = Check::new(
                    "engine",
                    Status::Fail,
                    format!(
                        "{message}: Podman before {}.{} has no host-gateway for --add-host, and every node asks for host.playground.internal:host-gateway",
                        PODMAN_MIN.0, PODMAN_MIN.1
                    ),
                )
                .fix("upgrade Podman to 4.7 or later (containers/podman#19152), or use Docker");
                c.blocks_up = true;
                c
            }
            Some(_) => Check::new(
                "engine",
                Status::Warn,
                format!(
                    "{message}: Podman's Docker-compatible API is not among the engines playground is tested on (rootful Podman 4.7 or later may work; see the README)"
                ),
            ),
            None => Check::new(
                "engine",
                Status::Warn,
                format!("{message}: cannot read Podman's version"),
            ),
        };
    }
    if facts.server_version.is_empty() {
        return Check::new("engine", Status::Warn, "the engine did not say its version");
    }
    Check::new(
        "engine",
        Status::Ok,
        format!(
            "Docker Engine {}, API {}{}",
            facts.server_version,
            facts.api_version,
            if facts.operating_system.is_empty() {
                String::new()
            } else {
                format!(", on {}", facts.operating_system)
            }
        ),
    )
}

/// The Kubernetes minor version of a `rancher/k3s:vX.Y.Z-k3sN` image, if it is one.
pub(crate) fn k3s_minor(image: &str) -> Option<u32> {
    if !runs_kubelet(image) {
        return None;
    }
    let (_, tag) = image.rsplit_once(':')?;
    let rest = tag.strip_prefix('v')?;
    let mut parts = rest.split(['.', '-', '+']);
    let (major, minor) = (parts.next()?, parts.next()?);
    (major == "1").then(|| minor.parse().ok()).flatten()
}

/// Whether the image is a k3s image (so a kubelet runs in it): `[registry/]…/k3s[:tag]`.
pub(crate) fn runs_kubelet(image: &str) -> bool {
    let repo = image.split('@').next().unwrap_or(image);
    let repo = match repo.rsplit_once(':') {
        Some((r, tag)) if !tag.contains('/') => r,
        _ => repo,
    };
    repo.rsplit('/').next() == Some("k3s")
}

/// cgroup v2 is what k3s needs; Kubernetes 1.35 refuses v1.
pub(crate) fn judge_cgroup(facts: &HostFacts, image: &str) -> Check {
    let driver = if facts.cgroup_driver.is_empty() {
        String::new()
    } else {
        format!(" (driver {})", facts.cgroup_driver)
    };
    match facts.cgroup_version.as_str() {
        "2" => Check::new("cgroup", Status::Ok, format!("cgroup v2{driver}")),
        // Older Kubernetes runs on v1: nothing to say about a lab on such an image.
        "1" if k3s_minor(image).is_some_and(|m| m < 35) => Check::new(
            "cgroup",
            Status::Ok,
            format!("cgroup v1{driver}: fine for {image} (Kubernetes 1.35 and later refuse it)"),
        ),
        "1" => {
            let minor = k3s_minor(image);
            let mut c = Check::new(
                "cgroup",
                Status::Fail,
                format!(
                    "cgroup v1{driver}: Kubernetes 1.35 and later (k3s v1.35, the default image) refuse it by default (failCgroupV1); kubelet exits with \"{CGROUP_V1_REFUSAL}\""
                ),
            )
            .fix(
                "boot the Docker host with cgroup v2 (kernel argument systemd.unified_cgroup_hierarchy=1; WSL2: kernelCommandLine = cgroup_no_v1=all in .wslconfig; Docker Desktop and current distributions use v2), or pin cluster.image to a k3s older than v1.35",
            );
            c.blocks_up = minor.is_some_and(|m| m >= 35);
            c
        }
        _ => Check::new(
            "cgroup",
            Status::Warn,
            format!("the engine does not say its cgroup version{driver} (API older than 1.40?)"),
        ),
    }
}

/// What `doctor` and `up` say of a rootless engine.
pub(crate) const ROOTLESS_REFUSAL: &str = "the engine is rootless: its containers run in a user namespace, where k3s does not evacuate the root cgroup and kubelet cannot start; rootless engines are not supported";

/// userns-remap and Docker Desktop's Enhanced Container Isolation both put "privileged"
/// containers in a user namespace, where k3s cannot do what it needs (F9, F20).
///
/// userns-remap shows in `docker info` as the security option `name=userns`. ECI is not named
/// in `docker info`: Docker documents that it runs user containers under the Sysbox runtime
/// (`sysbox-runc`) while the default runtime still reads `runc`
/// (docs.docker.com …/enhanced-container-isolation/how-eci-works). So we look for a `sysbox`
/// runtime among the engine's runtimes, and `doctor`'s privileged probe reads the runtime its
/// container really ran under, which is the surer sign.
pub(crate) fn judge_isolation(facts: &HostFacts, probe_runtime: Option<&str>) -> Check {
    // Rootless Docker and rootless Podman say `name=rootless` (docker/cli reads it so too).
    // Every container of theirs is in a user namespace, where k3s skips evacuating the root
    // cgroup (k3s `pkg/cli/cmds/init_linux.go`: `os.Getpid() == 1 &&
    // !userns.RunningInUserNS()`), so kubelet dies on cgroup v2 (N2). Refused, not half-done.
    let rootless = facts
        .security_options
        .iter()
        .any(|o| o.split(',').any(|kv| kv == "name=rootless"));
    if rootless {
        let mut c = Check::new(
            "isolation",
            Status::Fail,
            format!("{ROOTLESS_REFUSAL} (security option name=rootless)"),
        )
        .fix("use a rootful engine: Docker Engine run as root (`sudo systemctl start docker`, and DOCKER_HOST unset), Docker Desktop, or Colima");
        c.blocks_up = true;
        return c;
    }
    let userns = facts
        .security_options
        .iter()
        .any(|o| o.split(',').any(|kv| kv == "name=userns"));
    let sysbox = probe_runtime.is_some_and(|r| r.contains("sysbox"))
        || facts.runtimes.iter().any(|r| r.contains("sysbox"))
        || facts.default_runtime.contains("sysbox");
    if sysbox {
        return Check::new(
            "isolation",
            Status::Warn,
            "Enhanced Container Isolation (Sysbox) is on: privileged nodes run in a user namespace, where k3s is not expected to work",
        )
        .fix("turn off Settings > General > Use Enhanced Container Isolation in Docker Desktop (if your organization allows it), or use another engine (Colima, a Linux VM)");
    }
    if userns {
        return Check::new(
            "isolation",
            Status::Warn,
            "userns-remap is on (security option name=userns): a privileged container must run with UsernsMode host, or the engine refuses it",
        )
        .fix("the nodes need UsernsMode: host; or remove \"userns-remap\" from /etc/docker/daemon.json and restart Docker");
    }
    Check::new(
        "isolation",
        Status::Ok,
        "no userns-remap, no Enhanced Container Isolation",
    )
}

/// What became of the privileged probe; `None` when no image was there to try it with.
pub(crate) fn judge_privileged(
    image: &str,
    probe: Option<&std::result::Result<PrivilegedProbe, String>>,
) -> Check {
    let fix = "k3s needs privileged nodes: run playground against an engine that may start privileged containers (rootful Docker on Linux, Docker Desktop, Colima); in a container or a locked-down VM, give the engine the capabilities it needs (e.g. run its host container with --privileged)";
    match probe {
        None => Check::new(
            "privileged",
            Status::Skip,
            format!(
                "not checked: image {image} is not present, and doctor pulls nothing (`docker pull {image}`, then run doctor again)"
            ),
        ),
        Some(Err(e)) => Check::new("privileged", Status::Skip, format!("not checked: {e}")),
        Some(Ok(PrivilegedProbe::Started { runtime, .. })) => Check::new(
            "privileged",
            Status::Ok,
            format!(
                "a privileged container starts (image {image}{})",
                if runtime.is_empty() {
                    String::new()
                } else {
                    format!(", runtime {runtime}")
                }
            ),
        ),
        // The probe runs `/bin/sh`; an image without one says nothing about privileges.
        Some(Ok(PrivilegedProbe::Refused(text)))
            if text.contains("executable file not found")
                || text.contains("no such file or directory") =>
        {
            Check::new(
                "privileged",
                Status::Skip,
                format!("not checked: image {image} cannot run the probe: {text}"),
            )
        }
        Some(Ok(PrivilegedProbe::Refused(text))) => Check::new(
            "privileged",
            Status::Fail,
            format!("the engine refuses privileged containers: {text}"),
        )
        .fix(fix),
    }
}

/// The host fix for a kernel without `br_netfilter`, loaded now and at every boot.
pub(crate) const BR_NETFILTER_FIX: &str = "on the Docker host: `sudo modprobe br_netfilter`, and to keep it across reboots `echo br_netfilter | sudo tee /etc/modules-load.d/br_netfilter.conf`";

/// Whether the engine's kernel has `br_netfilter`, as the privileged probe saw it (N1). Docker
/// 27.3 and later no longer load it (moby#48492, moby#48948). Without it a pod cannot reach a
/// Service whose endpoint is on its own node, unless kube-proxy masquerades everything: the
/// nodes mount the host's `/lib/modules` so k3s can load it, and fall back to
/// masquerade-all when it still is missing (see `node-entrypoint.sh`). So: a warning.
pub(crate) fn judge_br_netfilter(
    probe: Option<&std::result::Result<PrivilegedProbe, String>>,
) -> Check {
    match probe {
        Some(Ok(PrivilegedProbe::Started {
            br_netfilter: Some(true),
            ..
        })) => Check::new(
            "br_netfilter",
            Status::Ok,
            format!("br_netfilter is loaded ({} exists)", crate::docker::BRIDGE_NF_SYSCTL),
        ),
        Some(Ok(PrivilegedProbe::Started {
            br_netfilter: Some(false),
            ..
        })) => Check::new(
            "br_netfilter",
            Status::Warn,
            format!(
                "br_netfilter is not loaded ({} is missing): k3s loads it from the host's /lib/modules when it can; otherwise the nodes fall back to kube-proxy's masquerade-all, and pods see the node instead of the client as the source of Service traffic",
                crate::docker::BRIDGE_NF_SYSCTL
            ),
        )
        .fix(BR_NETFILTER_FIX),
        _ => Check::new(
            "br_netfilter",
            Status::Skip,
            "not checked: the privileged probe did not run to the end",
        ),
    }
}

/// Docker Desktop's default file-sharing list (Settings > Resources > File sharing); a bind
/// from elsewhere fails at create with "Mounts denied".
pub(crate) const DESKTOP_SHARED: &[&str] =
    &["/Users", "/Volumes", "/private", "/tmp", "/var/folders"];

/// The proxy variables a shell behind a proxy sets (curl's and Go's names, both cases).
const PROXY_VARS: [&str; 4] = ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"];

/// A shell behind a proxy, and a lab that gives its nodes none: there the proxy is often the
/// only way out, and every pull of the nodes fails (k3d's FAQ on proxies). Only the variable's
/// name is shown: a proxy URL may hold credentials. `None` when this shell sets no proxy.
pub(crate) fn judge_proxy(lab: &Lab, env: impl Fn(&str) -> Option<String>) -> Option<Check> {
    let var = PROXY_VARS
        .into_iter()
        .find(|v| env(v).is_some_and(|x| !x.trim().is_empty()))?;
    Some(match &lab.cluster.proxy {
        Some(_) => Check::new(
            "proxy",
            Status::Ok,
            format!("this shell sets {var}, and the lab gives its nodes a proxy (cluster.proxy)"),
        ),
        None => Check::new(
            "proxy",
            Status::Warn,
            format!(
                "this shell sets {var}, but the lab gives its nodes no proxy: where the proxy is the only way out, the nodes cannot pull images"
            ),
        )
        .fix("add `proxy: fromEnv` under `cluster:` in the lab file (or `{ httpsProxy: …, noProxy: … }`); if this network reaches the internet without it, nothing to do"),
    })
}

/// The lab's `cluster.mounts`: every host path is still there, and on Docker Desktop, inside
/// a shared folder.
pub(crate) fn judge_mounts(lab: &Lab, facts: Option<&HostFacts>) -> Check {
    let mounts = &lab.cluster.mounts;
    if mounts.is_empty() {
        return Check::new("mounts", Status::Ok, "the lab mounts no host folders");
    }
    let missing: Vec<String> = mounts
        .iter()
        .filter(|m| !m.value.host.exists())
        .map(|m| m.value.host.display().to_string())
        .collect();
    if !missing.is_empty() {
        return Check::new(
            "mounts",
            Status::Fail,
            format!(
                "host paths of cluster.mounts are gone: {}",
                missing.join(", ")
            ),
        )
        .fix("create them again, or change cluster.mounts");
    }
    let desktop = facts.is_some_and(|f| f.operating_system.contains("Docker Desktop"));
    if desktop {
        let unshared: Vec<String> = mounts
            .iter()
            .map(|m| m.value.host.display().to_string())
            .filter(|h| {
                !DESKTOP_SHARED
                    .iter()
                    .any(|s| h == s || h.starts_with(&format!("{s}/")))
            })
            .collect();
        if !unshared.is_empty() {
            return Check::new(
                "mounts",
                Status::Warn,
                format!(
                    "Docker Desktop may refuse these mounts (\"Mounts denied\"): {} is outside its default shared folders",
                    unshared.join(", ")
                ),
            )
            .fix(crate::docker::MOUNTS_DENIED_HINT);
        }
    }
    Check::new(
        "mounts",
        Status::Ok,
        format!(
            "{} host mount(s) present: {}",
            mounts.len(),
            mounts
                .iter()
                .map(|m| format!("{}{}", m.value.written, m.filter))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
}

/// Free space on the file system behind Docker's root.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DiskSpace {
    pub(crate) available: u64,
    pub(crate) total: u64,
}

pub(crate) fn judge_disk(root: &str, space: std::result::Result<DiskSpace, String>) -> Check {
    let space = match space {
        Ok(s) if s.total > 0 => s,
        Ok(_) => {
            return Check::new(
                "disk",
                Status::Skip,
                format!("not checked: {root} reports no size"),
            );
        }
        Err(why) => return Check::new("disk", Status::Skip, format!("not checked: {why}")),
    };
    let percent = space.available as f64 * 100.0 / space.total as f64;
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    let what = format!(
        "{:.1} GiB of {:.1} GiB free ({percent:.0}%) under Docker's root {root}",
        gib(space.available),
        gib(space.total)
    );
    let fix = "free space on that file system (`docker system prune`, `docker volume prune`)";
    if gib(space.available) < MIN_FREE_GIB {
        Check::new(
            "disk",
            Status::Fail,
            format!("{what}: less than the {MIN_FREE_GIB:.0} GiB a lab needs to pull its images (k3s, Argo CD, the apps')"),
        )
        .fix(fix)
    } else if percent < IMAGEFS_MIN_PERCENT {
        Check::new(
            "disk",
            Status::Warn,
            format!("{what}: below kubelet's default imagefs.available<{IMAGEFS_MIN_PERCENT}% eviction threshold, which lab nodes turn off (as kind does); a lab file that turns it on again gets nodes tainted DiskPressure"),
        )
        .fix(fix)
    } else {
        Check::new("disk", Status::Ok, what)
    }
}

// ---- Gathering ----------------------------------------------------------------------------

/// Why Docker's root cannot be measured from here, if it cannot: the engine must be on this
/// machine (a local socket, and the engine's host name is ours), else `DockerRootDir` is a
/// path inside a VM (Docker Desktop, Colima) or on another machine.
fn disk_space(endpoint: &Endpoint, facts: &HostFacts) -> std::result::Result<DiskSpace, String> {
    let engine_name = facts.name.as_str();
    let root = &facts.docker_root_dir;
    if root.is_empty() {
        return Err("the engine does not say where its root is".into());
    }
    if endpoint.unix_socket().is_none() {
        return Err(format!(
            "the engine at {} is not on this machine, so its root {root} cannot be measured from here",
            endpoint.host
        ));
    }
    // Only Linux runs the engine on the host itself. On macOS Docker always lives in a Linux VM
    // (Docker Desktop, colima, OrbStack), so no host name of ours can match the engine's.
    let here = if cfg!(target_os = "linux") {
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default()
    } else {
        String::new()
    };
    if facts.operating_system.contains("Docker Desktop") || engine_name != here.trim() {
        return Err(format!(
            "Docker's root {root} is inside the engine's VM ({}), not statable from this host; check the VM's disk (Docker Desktop: Settings > Resources)",
            if engine_name.is_empty() {
                "unknown host"
            } else {
                engine_name
            }
        ));
    }
    statvfs(Path::new(root))
}

#[cfg(unix)]
fn statvfs(path: &Path) -> std::result::Result<DiskSpace, String> {
    let s =
        rustix::fs::statvfs(path).map_err(|e| format!("cannot stat {}: {e}", path.display()))?;
    Ok(DiskSpace {
        available: s.f_bavail.saturating_mul(s.f_frsize),
        total: s.f_blocks.saturating_mul(s.f_frsize),
    })
}

#[cfg(not(unix))]
fn statvfs(path: &Path) -> std::result::Result<DiskSpace, String> {
    Err(format!(
        "cannot measure {} on this platform",
        path.display()
    ))
}

/// The lab's host ports, through the same check `up` makes before it creates anything.
async fn ports_check<E: Engine>(engine: &E, lab: Option<&Lab>) -> Check {
    let Some(lab) = lab else {
        return Check::new(
            "ports",
            Status::Skip,
            "not checked: no lab file here (-f FILE)",
        );
    };
    match up::busy_ports(engine, lab).await {
        Ok(report) => ports_verdict(&lab.name, &report),
        Err(e) => Check::new("ports", Status::Warn, format!("not checked: {}", Full(&e))),
    }
}

/// The verdict on what `up`'s port check found. A port whose probe was denied is neither free
/// nor in use: doctor says so, as `up` warns it, and does not call it free.
fn ports_verdict(lab: &LabName, report: &up::PortReport) -> Check {
    let addr =
        |p: &crate::docker::PortBinding| format!("{}:{}/{}", p.host_ip, p.host_port, p.protocol);
    let free: Vec<String> = report
        .ports
        .iter()
        .filter(|p| !report.denied.contains(p))
        .map(addr)
        .collect();
    if !report.busy.is_empty() {
        let mut what: Vec<String> = report.busy.iter().map(|e| e.to_string()).collect();
        let fix: Vec<String> = report
            .busy
            .iter()
            .map(|e| e.hint().unwrap_or_default())
            .collect();
        what.extend(report.denied_notes());
        return Check::new("ports", Status::Fail, what.join("; ")).fix(fix.join("; "));
    }
    if report.ports.is_empty() {
        return Check::new(
            "ports",
            Status::Ok,
            format!("lab {lab} binds no new host port"),
        );
    }
    if report.denied.is_empty() {
        return Check::new("ports", Status::Ok, format!("free: {}", free.join(", ")));
    }
    let mut what = Vec::new();
    if !free.is_empty() {
        what.push(format!("free: {}", free.join(", ")));
    }
    what.extend(report.denied_notes());
    Check::new("ports", Status::Warn, what.join("; "))
}

/// Argo CD's repo-server runs as uid 999 and reads the mounted local repository.
fn repo_check(lab: Option<&Lab>) -> Check {
    let Some(lab) = lab else {
        return Check::new(
            "repo",
            Status::Skip,
            "not checked: no lab file here (-f FILE)",
        );
    };
    let Some(dir) = lab.gitops.repo.local_dir() else {
        return Check::new(
            "repo",
            Status::Ok,
            format!("remote repository {}: Argo CD clones it", lab.gitops.repo),
        );
    };
    // The report says why in words; the error itself goes no further. A checkout whose Git
    // data lies outside it (a linked worktree, a submodule) cannot be mounted: `up` refuses it.
    let repo = match crate::repo::git::open(dir) {
        Ok(repo) => repo,
        Err(e) => {
            return Check::new("repo", Status::Fail, format!("{}: {e}", dir.display()))
                .fix("gitops.repo must name a Git repository (`git init`, or `playground init`)");
        }
    };
    if let Err(e @ crate::repo::git::GitError::GitDirOutside { .. }) =
        crate::repo::git::check_self_contained(&repo)
    {
        let check = Check::new("repo", Status::Fail, e.to_string());
        return match crate::diag::Hinted::hint(&e) {
            Some(fix) => check.fix(fix),
            None => check,
        };
    }
    let root = match std::fs::canonicalize(repo.root()) {
        Ok(root) => root,
        Err(e) => {
            return Check::new("repo", Status::Fail, format!("{}: {e}", dir.display()))
                .fix("gitops.repo must name a Git repository (`git init`, or `playground init`)");
        }
    };
    match crate::argocd::bootstrap::unreadable_by_others(&root) {
        None => Check::new(
            "repo",
            Status::Ok,
            format!(
                "{} is readable by argocd-repo-server (uid 999)",
                root.display()
            ),
        ),
        Some(w) => {
            let (what, fix) = match w.split_once("; run ") {
                Some((what, cmd)) => (what.to_string(), format!("run {cmd}")),
                None => (w, "make it readable by other users".into()),
            };
            Check::new("repo", Status::Fail, what).fix(fix)
        }
    }
}

async fn timed<T>(
    budget: Duration,
    what: &str,
    f: impl std::future::Future<Output = T>,
) -> std::result::Result<T, String> {
    tokio::time::timeout(budget, f)
        .await
        .map_err(|_| format!("{what} did not answer within {} ms", budget.as_millis()))
}

/// Which checks to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Everything, strictly.
    Doctor,
    /// The fast engine checks `up` makes (`up` checks ports and the repo itself).
    Up,
}

/// Run the checks against `engine`.
async fn checks<E: Host>(
    engine: &E,
    lab: Option<&Lab>,
    image: &str,
    scope: Scope,
) -> (Option<HostFacts>, Vec<Check>) {
    let facts_f = timed(FAST_BUDGET, "docker info", engine.host_facts());
    let ports_f = async {
        match scope {
            Scope::Doctor => Some(
                timed(FAST_BUDGET, "the port check", ports_check(engine, lab))
                    .await
                    .unwrap_or_else(|e| {
                        Check::new("ports", Status::Warn, format!("not checked: {e}"))
                    }),
            ),
            Scope::Up => None,
        }
    };
    let probe_f = async {
        if scope != Scope::Doctor {
            return None;
        }
        let present =
            match timed(FAST_BUDGET, "the image lookup", engine.image_present(image)).await {
                Ok(Ok(p)) => p,
                Ok(Err(e)) => return Some(Some(Err(Full(&e).to_string()))),
                Err(e) => return Some(Some(Err(e))),
            };
        if !present {
            return Some(None);
        }
        Some(Some(
            match timed(
                PROBE_BUDGET,
                "the privileged probe",
                engine.probe_privileged(image),
            )
            .await
            {
                Ok(Ok(p)) => Ok(p),
                Ok(Err(e)) => Err(Full(&e).to_string()),
                Err(e) => Err(e),
            },
        ))
    };
    let (facts, ports, probe) = tokio::join!(facts_f, ports_f, probe_f);
    let mut out = vec![judge_endpoint(Ok(engine.endpoint()))];
    let facts = match facts {
        Ok(Ok(f)) => Some(f),
        Ok(Err(e)) => {
            out.push(Check::new("engine", Status::Fail, Full(&e).to_string()));
            None
        }
        Err(e) => {
            out.push(
                Check::new("engine", Status::Fail, e)
                    .fix("check that the engine is healthy (`docker info`)"),
            );
            None
        }
    };
    let runtime = match &probe {
        Some(Some(Ok(PrivilegedProbe::Started { runtime, .. }))) => Some(runtime.as_str()),
        _ => None,
    };
    if let Some(f) = &facts {
        out.push(judge_engine(f));
        out.push(judge_cgroup(f, image));
        out.push(judge_isolation(f, runtime));
    }
    if let Some(probe) = &probe {
        out.push(judge_privileged(image, probe.as_ref()));
        out.push(judge_br_netfilter(probe.as_ref()));
    }
    if let Some(lab) = lab {
        out.push(judge_mounts(lab, facts.as_ref()));
        if scope == Scope::Doctor {
            out.extend(judge_proxy(lab, |v| std::env::var(v).ok()));
        }
    }
    if let Some(f) = &facts {
        out.push(judge_disk(
            &f.docker_root_dir,
            disk_space(engine.endpoint(), f),
        ));
    }
    if let Some(p) = ports {
        out.push(p);
    }
    if scope == Scope::Doctor {
        out.push(repo_check(lab));
    }
    (facts, out)
}

/// `playground doctor`: every check, strictly. Never fails itself; the report says.
pub(crate) async fn doctor(lab: Option<&Lab>) -> Report {
    let image = lab.map_or(crate::config::DEFAULT_K3S_IMAGE, |l| {
        l.cluster.image.as_str()
    });
    let endpoint = match crate::docker::endpoint::resolve_from_env() {
        Ok(e) => e,
        Err(e) => {
            let e = EngineError::from(e);
            return Report::new(None, None, vec![judge_endpoint(Err(&e))]);
        }
    };
    let engine = match timed(
        FAST_BUDGET,
        "the engine",
        AnyEngine::connect_to(endpoint.clone()),
    )
    .await
    {
        Ok(Ok(engine)) => engine,
        Ok(Err(e)) => return Report::new(Some(endpoint), None, vec![judge_endpoint(Err(&e))]),
        Err(why) => {
            let c = Check::new("endpoint", Status::Fail, format!("{endpoint}: {why}"))
                .fix(endpoint.hint());
            return Report::new(Some(endpoint), None, vec![c]);
        }
    };
    let (facts, checks) = checks(&engine, lab, image, Scope::Doctor).await;
    Report::new(Some(endpoint), facts, checks)
}

/// A host `up` refuses: a check failed that is certain to break the lab.
#[derive(Debug, thiserror::Error)]
#[error(
    "this host cannot run lab {lab} ({image}): {}\n  (`playground doctor` checks the whole host)",
    reasons.iter().map(|(what, _)| what.as_str()).collect::<Vec<_>>().join("\n")
)]
pub struct PreflightError {
    pub(crate) lab: String,
    pub(crate) image: String,
    /// Each failed check's message, and its fix.
    pub(crate) reasons: Vec<(String, Option<String>)>,
}

impl crate::diag::Hinted for PreflightError {
    /// Every failed check's fix, in order.
    fn hint(&self) -> Option<String> {
        self.reasons
            .iter()
            .fold(None, |hint, (_, fix)| crate::diag::join(hint, fix.clone()))
    }
}

impl crate::diag::Classified for PreflightError {}

/// The checks `up` makes before it plans: a warning for each problem, once; an error for a
/// problem certain to break this lab. Checks about kubelet are skipped for images that run
/// none (the test suite's stand-in node).
pub(crate) async fn preflight_up<E: Host>(
    engine: &E,
    lab: &Lab,
    ui: &Ui,
) -> Result<(), PreflightError> {
    let image = lab.cluster.image.as_str();
    let (_, checks) = checks(engine, Some(lab), image, Scope::Up).await;
    let kubelet = runs_kubelet(image);
    let mut refused = Vec::new();
    for c in checks {
        if matches!(c.status, Status::Ok | Status::Skip) {
            continue;
        }
        if !kubelet && matches!(c.id, "cgroup" | "disk") {
            tracing::info!(
                "{}: {} (no kubelet in {image}, so not a problem)",
                c.id,
                c.message
            );
            continue;
        }
        if c.status == Status::Fail && c.blocks_up {
            refused.push((c.message, c.fix));
        } else {
            ui.warn(&match &c.fix {
                Some(fix) => format!("{}\n  hint: {fix}", c.message),
                None => c.message,
            });
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        Err(PreflightError {
            lab: lab.name.to_string(),
            image: image.to_string(),
            reasons: refused,
        })
    }
}

/// Whether `doctor`'s table output goes to a terminal (marks) or a pipe (words).
pub(crate) fn fancy_output() -> bool {
    std::io::stdout().is_terminal()
}

#[cfg(test)]
mod tests;
