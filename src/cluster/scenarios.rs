//! `up`, `suspend`, `resume` and `drop` end to end over the fake engine and the fake API, in
//! milliseconds and without Docker: converge, rollback, Ctrl-C, stop and start order, and
//! what `drop` leaves. What only Docker can show (real k3s, ports, restarts) stays in
//! `tests/it`.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

use crate::config::{Lab, Role, default_lab};
use crate::docker::fake::{Call, FakeEngine, Script};
use crate::docker::{Engine, RunState};
use crate::ui::Ui;

use super::cluster_api::FakeConnect;
use super::error::ClusterError;
use super::names::{self, LABEL_CLUSTER, LABEL_ROLE};
use super::plan::{PullPolicy, lb_image_from_env, ready_line};
use super::up::{UpOptions, UpOutcome, up_with};
use super::{cache, lifecycle};

/// What k3s writes to its kubeconfig output (the server is rewritten by `up`).
const K3S_KUBECONFIG: &str = "apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Y2E=
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {}
users:
- name: default
  user:
    client-certificate-data: Y2VydA==
    client-key-data: a2V5
";

/// An engine with the lab's images present, whose nodes behave as k3s's do when they start:
/// each logs the line `up` waits for (k3d `pkg/types/k3slogs.go`, see [`ready_line`]), and a
/// server writes its kubeconfig (k3s `--write-kubeconfig`, [`names::KUBECONFIG_OUTPUT`]).
fn k3s_engine(lab: &Lab) -> FakeEngine {
    let engine = FakeEngine::new()
        .with_image(&lab.cluster.image)
        .with_image(&lb_image_from_env());
    engine.on_start(
        LABEL_ROLE,
        "server",
        Script {
            lines: vec![
                ready_line(Role::Server, true).into(),
                ready_line(Role::Server, false).into(),
            ],
            files: vec![(names::KUBECONFIG_OUTPUT.into(), K3S_KUBECONFIG.into())],
        },
    );
    for role in [Role::Agent, Role::LoadBalancer] {
        engine.on_start(
            LABEL_ROLE,
            role.as_str(),
            Script {
                lines: vec![ready_line(role, false).into()],
                files: Vec::new(),
            },
        );
    }
    engine
}

fn lab(name: &str, servers: u32, agents: u32) -> Lab {
    let mut lab = default_lab();
    lab.name = name.into();
    lab.cluster.servers = servers;
    lab.cluster.agents = agents;
    lab.cluster.image_cache = false;
    lab.cluster.registry = None;
    lab.cluster.api.port = None;
    lab.cluster.ports.clear();
    lab
}

fn opts(dir: &tempfile::TempDir) -> UpOptions {
    UpOptions {
        pull: PullPolicy::Missing,
        timeout: Duration::from_secs(20),
        switch_context: false,
        dry_run: false,
        keep_on_failure: false,
        kubeconfig: dir.path().join("config"),
        repo_mount: None,
        ui_port: None,
        ready_nodes: None,
    }
}

fn never() -> impl Future<Output = ()> {
    std::future::pending()
}

async fn up(
    engine: &FakeEngine,
    lab: &Lab,
    dir: &tempfile::TempDir,
) -> Result<UpOutcome, ClusterError> {
    up_with(
        engine,
        &FakeConnect::default(),
        lab,
        &opts(dir),
        &Ui::new(true),
        never,
    )
    .await
}

/// The calls that change something, in order, as `kind target`.
fn changes(calls: &[Call]) -> Vec<String> {
    const CHANGING: [&str; 12] = [
        "ensure_network",
        "remove_network",
        "connect_network",
        "ensure_volume",
        "remove_volume",
        "pull_image",
        "create_container",
        "remove_container",
        "start",
        "stop",
        "pause",
        "unpause",
    ];
    calls
        .iter()
        .filter(|c| CHANGING.contains(&c.kind))
        .map(|c| c.to_string())
        .collect()
}

fn node(lab: &Lab, role: Role, i: u32) -> String {
    names::node(&lab.name, role, i)
}

fn position(calls: &[String], call: &str) -> usize {
    calls
        .iter()
        .position(|c| c == call)
        .unwrap_or_else(|| panic!("no `{call}` in {calls:#?}"))
}

#[tokio::test]
async fn a_fresh_up_makes_network_volumes_and_nodes_in_plan_order_and_they_run() {
    let lab = lab("fresh", 1, 2);
    let engine = k3s_engine(&lab);
    let dir = tempfile::tempdir().unwrap();
    let outcome = up(&engine, &lab, &dir).await.unwrap();

    let (s0, a0, a1) = (
        node(&lab, Role::Server, 0),
        node(&lab, Role::Agent, 0),
        node(&lab, Role::Agent, 1),
    );
    let data = |role, i| format!("ensure_volume {}", names::data_volume(&lab.name, role, i));
    assert_eq!(
        changes(&engine.calls()),
        vec![
            format!("ensure_network {}", names::network(&lab.name)),
            data(Role::Server, 0),
            data(Role::Agent, 0),
            data(Role::Agent, 1),
            format!("ensure_volume {}", names::images_volume(&lab.name)),
            format!("create_container {s0}"),
            format!("create_container {a0}"),
            format!("create_container {a1}"),
            // A fresh lab starts the init server and every agent at once.
            format!("start {s0}"),
            format!("start {a0}"),
            format!("start {a1}"),
        ]
    );
    for n in [&s0, &a0, &a1] {
        assert_eq!(engine.container_state(n), Some(RunState::Running), "{n}");
    }
    assert_eq!(outcome.nodes.len(), 3);
    // The kubeconfig read out of server-0 points at the published API, and was merged.
    let text = outcome.kubeconfig.expect("the kubeconfig text");
    assert!(text.contains(&outcome.api), "{text}");
    let merged = std::fs::read_to_string(dir.path().join("config")).unwrap();
    assert!(merged.contains(&outcome.context), "{merged}");
}

#[tokio::test]
async fn up_on_an_existing_lab_recreates_and_starts_only_what_is_missing_or_stopped() {
    let lab = lab("converge", 1, 2);
    let engine = k3s_engine(&lab);
    let dir = tempfile::tempdir().unwrap();
    up(&engine, &lab, &dir).await.unwrap();
    let (a0, a1) = (node(&lab, Role::Agent, 0), node(&lab, Role::Agent, 1));
    engine.remove_container(&a1).await.unwrap();
    engine.stop(&a0, Duration::ZERO).await.unwrap();
    engine.clear_calls();

    up(&engine, &lab, &dir).await.unwrap();
    assert_eq!(
        changes(&engine.calls()),
        vec![
            // Ensured, not made: the data volume outlived its container (so no forget).
            format!(
                "ensure_volume {}",
                names::data_volume(&lab.name, Role::Agent, 1)
            ),
            format!("ensure_volume {}", names::images_volume(&lab.name)),
            format!("create_container {a1}"),
            format!("start {a0}"),
            format!("start {a1}"),
        ]
    );
    for n in [node(&lab, Role::Server, 0), a0, a1] {
        assert_eq!(engine.container_state(&n), Some(RunState::Running), "{n}");
    }
}

#[tokio::test]
async fn a_fresh_lab_that_fails_is_removed_and_the_error_stays_typed() {
    let lab = lab("rollback", 1, 2);
    let engine = k3s_engine(&lab);
    engine.fail_on("create_container", &node(&lab, Role::Agent, 1));
    let dir = tempfile::tempdir().unwrap();
    let err = up(&engine, &lab, &dir).await.unwrap_err();

    assert!(
        matches!(&err, ClusterError::Engine(e) if e.daemon_answer() == Some((500, "injected failure"))),
        "{err:?}"
    );
    let calls = changes(&engine.calls());
    // It had made things, and removed each of them.
    assert!(calls.contains(&format!("create_container {}", node(&lab, Role::Server, 0))));
    assert!(
        calls.iter().any(|c| c.starts_with("remove_network")),
        "{calls:#?}"
    );
    assert_eq!(engine.objects_labelled(LABEL_CLUSTER), Vec::<String>::new());
}

#[tokio::test]
async fn an_existing_lab_is_not_removed_by_a_failed_up() {
    let lab = lab("keep", 1, 2);
    let engine = k3s_engine(&lab);
    let dir = tempfile::tempdir().unwrap();
    up(&engine, &lab, &dir).await.unwrap();
    let a1 = node(&lab, Role::Agent, 1);
    engine.remove_container(&a1).await.unwrap();
    engine.fail_on("create_container", &a1);
    engine.clear_calls();

    let err = up(&engine, &lab, &dir).await.unwrap_err();
    assert!(matches!(err, ClusterError::Engine(_)), "{err:?}");
    let calls = changes(&engine.calls());
    assert!(
        !calls.iter().any(|c| c.starts_with("remove_")),
        "{calls:#?}"
    );
    for n in [node(&lab, Role::Server, 0), node(&lab, Role::Agent, 0)] {
        assert_eq!(engine.container_state(&n), Some(RunState::Running), "{n}");
    }
}

#[tokio::test]
async fn ctrl_c_during_a_step_returns_interrupted_and_rolls_a_fresh_lab_back() {
    let lab = lab("interrupt", 1, 1);
    // The node image is not local: `up` pulls it, and the pull is held there.
    let engine = FakeEngine::new();
    let held = engine.hold("pull_image", &lab.cluster.image);
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = watch::channel(false);
    let interrupted = || {
        let mut rx = rx.clone();
        async move {
            let _ = rx.wait_for(|fired| *fired).await;
        }
    };
    let (api, opts, ui) = (FakeConnect::default(), opts(&dir), Ui::new(true));
    let run = up_with(&engine, &api, &lab, &opts, &ui, interrupted);
    let ctrl_c = async {
        held.arrived().await;
        tx.send(true).unwrap();
    };
    // A Ctrl-C that `up` did not act on would leave it waiting on the held pull forever.
    let (result, ()) =
        tokio::time::timeout(Duration::from_secs(10), async { tokio::join!(run, ctrl_c) })
            .await
            .expect("up did not stop on Ctrl-C");
    held.release();

    assert!(
        matches!(result, Err(ClusterError::Interrupted)),
        "{result:?}"
    );
    let calls = changes(&engine.calls());
    assert!(
        calls.contains(&format!("ensure_network {}", names::network(&lab.name))),
        "the network was made before the pull: {calls:#?}"
    );
    assert!(
        !calls.iter().any(|c| c.starts_with("create_container")),
        "{calls:#?}"
    );
    assert_eq!(engine.objects_labelled(LABEL_CLUSTER), Vec::<String>::new());
}

#[tokio::test]
async fn suspend_stops_agents_before_servers_and_resume_starts_servers_first() {
    let lab = lab("order", 1, 2);
    let engine = k3s_engine(&lab);
    let dir = tempfile::tempdir().unwrap();
    up(&engine, &lab, &dir).await.unwrap();
    let ui = Ui::new(true);
    let (s0, a0, a1) = (
        node(&lab, Role::Server, 0),
        node(&lab, Role::Agent, 0),
        node(&lab, Role::Agent, 1),
    );

    engine.clear_calls();
    lifecycle::suspend(&engine, &lab.name, false, &ui)
        .await
        .unwrap();
    let calls = changes(&engine.calls());
    assert_eq!(calls.len(), 3, "{calls:#?}");
    let server = position(&calls, &format!("stop {s0}"));
    for agent in [&a0, &a1] {
        assert!(
            position(&calls, &format!("stop {agent}")) < server,
            "{calls:#?}"
        );
    }
    for n in [&s0, &a0, &a1] {
        assert_eq!(engine.container_state(n), Some(RunState::Exited), "{n}");
    }

    engine.clear_calls();
    let api = FakeConnect::default();
    let ready = lifecycle::resume_with(&engine, &api, &lab.name, Duration::from_secs(20), &ui)
        .await
        .unwrap();
    // Every node starts at once, servers first (agents retry their join); then the API.
    assert_eq!(
        changes(&engine.calls()),
        vec![
            format!("start {s0}"),
            format!("start {a0}"),
            format!("start {a1}")
        ]
    );
    assert_eq!(ready.len(), 3);
    assert_eq!(api.calls()[1], "wait_ready 3", "{:?}", api.calls());
}

#[tokio::test]
async fn drop_leaves_nothing_of_the_lab_and_keeps_the_shared_caches() {
    let mut lab = lab("dropped", 1, 1);
    lab.cluster.image_cache = true;
    let settings = cache::CacheSettings::from_env();
    let engine = k3s_engine(&lab).with_image(&settings.image);
    let dir = tempfile::tempdir().unwrap();
    up(&engine, &lab, &dir).await.unwrap();
    let caches: Vec<String> = cache::UPSTREAMS
        .iter()
        .map(|u| settings.container(u))
        .collect();
    for c in &caches {
        assert_eq!(engine.container_state(c), Some(RunState::Running), "{c}");
    }
    assert!(!engine.objects_labelled(LABEL_CLUSTER).is_empty());

    // The caches are attached to the lab network: it goes only once they are detached.
    let removed = lifecycle::remove_objects(&engine, &lab.name).await.unwrap();
    assert!(removed > 0);
    assert_eq!(engine.objects_labelled(LABEL_CLUSTER), Vec::<String>::new());
    for c in &caches {
        assert_eq!(engine.container_state(c), Some(RunState::Running), "{c}");
    }
}

#[tokio::test]
async fn a_host_port_in_use_is_a_conflict_found_before_anything_is_made() {
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut lab = lab("port", 1, 0);
    lab.cluster.api.port = Some(holder.local_addr().unwrap().port());
    let engine = k3s_engine(&lab);
    let dir = tempfile::tempdir().unwrap();
    let err = up(&engine, &lab, &dir).await.unwrap_err();

    assert!(matches!(err, ClusterError::PortInUse { .. }), "{err:?}");
    assert_eq!(err.kind(), super::ErrorKind::Conflict);
    assert_eq!(changes(&engine.calls()), Vec::<String>::new());
}

#[tokio::test]
async fn a_node_that_never_logs_its_ready_line_times_out_and_a_fresh_lab_goes() {
    let lab = lab("silent", 1, 1);
    let engine = k3s_engine(&lab);
    // This agent starts, but never registers.
    let agent = node(&lab, Role::Agent, 0);
    let dir = tempfile::tempdir().unwrap();
    let mut opts = opts(&dir);
    opts.timeout = Duration::from_secs(1);
    engine.mute(&agent);
    let (api, ui) = (FakeConnect::default(), Ui::new(true));
    let err = up_with(&engine, &api, &lab, &opts, &ui, never)
        .await
        .unwrap_err();

    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(err.kind(), super::ErrorKind::Timeout);
    assert!(err.to_string().contains(&agent), "{err}");
    assert_eq!(engine.objects_labelled(LABEL_CLUSTER), Vec::<String>::new());
}

#[tokio::test]
async fn suspending_a_lab_that_does_not_exist_is_not_found() {
    let lab = lab("nowhere", 1, 0);
    let engine = k3s_engine(&lab);
    let err = lifecycle::suspend(&engine, &lab.name, false, &Ui::new(true))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClusterError::NotFound(name) if *name == lab.name),
        "{err:?}"
    );
    assert_eq!(err.kind(), super::ErrorKind::NotFound);
    assert!(err.to_string().contains("hint: `playground list`"), "{err}");
}

#[tokio::test]
async fn a_subnet_taken_between_plan_and_create_is_planned_again() {
    // Two labs created at once may choose the same free subnet: the daemon refuses the
    // second with "Pool overlaps" (a 403 from libnetwork's IPAM), which the executor knows by
    // the daemon's answer (`EngineError::is_subnet_overlap`), and `up` plans again with the
    // subnets as they are now.
    let lab = lab("race", 1, 0);
    let engine = k3s_engine(&lab);
    let network = names::network(&lab.name);
    engine.rival_for_subnet(&network);
    let dir = tempfile::tempdir().unwrap();
    up(&engine, &lab, &dir).await.unwrap();

    let attempts = engine
        .calls()
        .iter()
        .filter(|c| c.kind == "ensure_network" && c.target == network)
        .count();
    assert_eq!(attempts, 2, "{:?}", engine.calls());
    let rival = format!("{network}-rival");
    let rival = engine
        .inspect_network(&rival)
        .await
        .unwrap()
        .expect("the rival");
    let ours = engine.inspect_network(&network).await.unwrap().unwrap();
    assert!(ours.subnet.is_some());
    assert_ne!(ours.subnet, rival.subnet);
}
