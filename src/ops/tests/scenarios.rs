//! The rules users rely on, over the fake engine and a fake Kubernetes side, in milliseconds:
//! `drop` exports the kept Secrets, then keeps the images, then removes; a failed export
//! changes nothing unless `--force`; the record is marked dropped; `suspend` exports while the
//! API answers, and a stopped lab's `drop` relies on that export.
//!
//! They run on a paused clock, which moves on whenever the scenario waits on nothing but time
//! (`drop` removes in passes a quarter of a second apart). Each scenario keeps what playground stores (records, kept Secrets) in a folder of its own
//! ([`crate::state::test_root`]) and its kubeconfig in another.

use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;

use crate::argocd::apps::AppState;
use crate::argocd::bootstrap::{BootstrapError, Prepared};
use crate::argocd::refresh::RefreshError;
use crate::cluster::ClusterError;
use crate::cluster::cluster_api::FakeConnect;
use crate::cluster::inventory::LabSummary;
use crate::cluster::names::LABEL_CLUSTER;
use crate::cluster::tests::scenarios::{changes, k3s_engine, lab, position, up};
use crate::cluster::up::Starting;
use crate::config::{KeepSpec, Lab, LabName, Overrides};
use crate::docker::fake::FakeEngine;
use crate::docker::{Engine, RunState};
use crate::kube::api::NodeReady;
use crate::kube::kept::Refreshed;
use crate::kube::kubeconfig;
use crate::state::kept::{self, KeptError};
use crate::state::lock::LabLock;
use crate::state::record;
use crate::ui::Ui;

use crate::ops::drop::{DropOpts, anything_of, drop};
use crate::ops::keep::Saved;
use crate::ops::resume::resume;
use crate::ops::suspend::{SuspendOpts, suspend};
use crate::ops::{Env, Kube, OpsError};

/// What the fake API does when asked for the kept Secrets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Exports one Secret.
    Export,
    /// The API answers, and the export fails.
    Fail,
    /// The API does not answer.
    Silent,
}

/// The Kubernetes side, in memory: the cluster half's fake API, and a kept export that does
/// what [`Answer`] says and notes how many engine calls had been made when it ran.
struct FakeKube {
    connect: FakeConnect,
    engine: FakeEngine,
    answer: Answer,
    asked_at: Mutex<Vec<usize>>,
}

impl FakeKube {
    fn new(engine: &FakeEngine, answer: Answer) -> Self {
        FakeKube {
            connect: FakeConnect::default(),
            engine: engine.clone(),
            answer,
            asked_at: Mutex::new(Vec::new()),
        }
    }
    /// The engine calls made before each kept export, one entry per export.
    fn asked_at(&self) -> Vec<usize> {
        self.asked_at.lock().unwrap().clone()
    }
}

impl Kube for FakeKube {
    type Connect = FakeConnect;
    fn connect(&self) -> &FakeConnect {
        &self.connect
    }
    async fn refresh_kept<E: Engine>(
        &self,
        _engine: &E,
        lab: &LabSummary,
        _keep: &KeepSpec,
    ) -> Result<Option<Refreshed>, KeptError> {
        self.asked_at
            .lock()
            .unwrap()
            .push(self.engine.calls().len());
        match self.answer {
            Answer::Silent => Ok(None),
            Answer::Fail => Err(KeptError::Api {
                what: "list Secrets in kube-system".into(),
                source: "the server is currently unable to handle the request".into(),
            }),
            Answer::Export => {
                let secret = json!({
                    "apiVersion": "v1", "kind": "Secret",
                    "metadata": { "name": "sealed-secrets-key", "namespace": "kube-system" },
                    "data": { "tls.key": "a2V5" },
                });
                let path = kept::save(&lab.name, &[secret])?;
                Ok(Some(Refreshed {
                    path,
                    count: 1,
                    missing: vec![],
                    unmatched: vec![],
                    carried: vec![],
                }))
            }
        }
    }
    type Api = FakeApi;
    async fn open(&self, _kubeconfig: &str) -> crate::ops::Result<FakeApi> {
        Ok(FakeApi)
    }
}

/// A lab's API whose Argo CD install fails: the GitOps half of `up` going wrong.
struct FakeApi;

impl crate::ops::api::LabApi for FakeApi {
    async fn argocd_version(&self, _ns: &str, recorded: Option<String>) -> Option<String> {
        recorded
    }
    async fn register_spokes<E: Engine, K: Kube>(&self, _env: &Env<'_, E, K>, _lab: &Lab) {}
    async fn bootstrap(
        &self,
        _prepared: &Prepared,
        _ui: &Ui,
        _deadline: tokio::time::Instant,
        _installed: &dyn Fn(record::ArgoCdRecord),
    ) -> Result<Vec<AppState>, BootstrapError> {
        Err(BootstrapError::ManifestNotLoaded)
    }
    async fn wait_every_node(
        &self,
        _lab: &Lab,
        _url: &str,
        starting: Starting,
        _deadline: tokio::time::Instant,
        _ui: &Ui,
    ) -> Result<Vec<NodeReady>, ClusterError> {
        starting.finish().await?;
        Ok(vec![])
    }
    async fn refresh(&self, _ns: &str) -> Result<String, RefreshError> {
        Ok(String::new())
    }
}

/// The lab file a kept lab was made from (one server, one agent, as [`World::up`] makes):
/// it keeps the sealed-secrets key.
const KEEPING: &str = "apiVersion: playground.dev/v1alpha1
kind: Playground
metadata:
  name: ignored
cluster: { servers: 1, agents: 1 }
keep:
  secrets:
    - { namespace: kube-system, name: sealed-secrets-key }
";

/// The lab file of a lab that keeps nothing.
const KEEPING_NOTHING: &str = "apiVersion: playground.dev/v1alpha1
kind: Playground
metadata:
  name: ignored
cluster: { servers: 1, agents: 1 }
";

/// One scenario's world: the data root, the kubeconfig folder, the engine.
struct World {
    _root: crate::state::test_root::Guard,
    _data: tempfile::TempDir,
    dir: tempfile::TempDir,
    engine: FakeEngine,
    lab: Lab,
    ui: Ui,
}

impl World {
    /// Lab `name` up (one server, one agent), recorded from `file`.
    async fn up(name: &str, file: &str) -> World {
        let data = tempfile::tempdir().unwrap();
        let root = crate::state::test_root::set(data.path());
        let lab = lab(name, 1, 1);
        let engine = k3s_engine(&lab);
        let dir = tempfile::tempdir().unwrap();
        up(&engine, &lab, &dir).await.unwrap();
        let git = record::GitRecord {
            repo: "https://example.com/lab.git".into(),
            path: "apps".into(),
            revision: "HEAD".into(),
            deployed: None,
        };
        let rec = record::LabRecord::new(&lab, file, &Overrides::default(), None, git, None);
        record::write(&rec).unwrap();
        engine.clear_calls();
        World {
            _root: root,
            _data: data,
            dir,
            engine,
            lab,
            ui: Ui::new(true, false),
        }
    }

    fn kube(&self, answer: Answer) -> FakeKube {
        FakeKube::new(&self.engine, answer)
    }

    fn env<'a>(&'a self, kube: &'a FakeKube) -> Env<'a, FakeEngine, FakeKube> {
        Env::new(&self.engine, &self.ui, kube)
    }

    fn name(&self) -> &LabName {
        &self.lab.name
    }

    /// The lab's lock, as the command takes it before a use case runs.
    fn lock(&self) -> LabLock {
        LabLock::acquire(self.name(), Duration::from_secs(1), |holder| {
            panic!("the scenario's lab is held by {holder}")
        })
        .unwrap()
    }

    fn kubeconfig(&self) -> std::path::PathBuf {
        self.dir.path().join("config")
    }

    fn opts(&self, force: bool) -> DropOpts {
        DropOpts {
            force,
            kubeconfig: Some(self.kubeconfig()),
        }
    }

    fn changes(&self) -> Vec<String> {
        changes(&self.engine.calls())
    }

    fn record(&self) -> record::LabRecord {
        record::read(self.name()).unwrap().expect("the record")
    }

    /// The lab's containers in `state`.
    async fn in_state(&self, state: RunState) -> Vec<String> {
        self.engine
            .list_containers(&[(LABEL_CLUSTER, self.name().as_str())])
            .await
            .unwrap()
            .into_iter()
            .filter(|c| c.state == state)
            .map(|c| c.name)
            .collect()
    }

    /// Stop every running node as `docker stop` would, not through playground (no export).
    async fn stop_behind_our_back(&self) {
        for node in self.in_state(RunState::Running).await {
            self.engine
                .stop(&node, Duration::from_secs(1))
                .await
                .unwrap();
        }
        self.engine.clear_calls();
    }

    async fn running(&self) -> usize {
        self.in_state(RunState::Running).await.len()
    }
}

/// Why a use case that had to export the kept Secrets stopped.
fn kept_export_failure<T: std::fmt::Debug>(r: Result<T, OpsError>) -> KeptError {
    match r {
        Err(OpsError::KeptExport { source, .. }) => *source,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn drop_exports_the_kept_secrets_then_keeps_the_images_then_removes() {
    let w = World::up("keeper", KEEPING).await;
    let kube = w.kube(Answer::Export);
    let dropped = drop(&w.env(&kube), &w.lock(), &w.opts(false))
        .await
        .unwrap();

    assert!(
        matches!(&dropped.kept, Saved::Exported(d) if d.starts_with("1 in ")),
        "{dropped:?}"
    );
    assert!(kept::path(w.name()).exists());
    let calls: Vec<String> = w.engine.calls().iter().map(|c| c.to_string()).collect();
    let exported = kube.asked_at()[0];
    let images = calls
        .iter()
        .position(|c| c.starts_with("exec "))
        .expect("the images step");
    let removed = calls
        .iter()
        .position(|c| c.starts_with("remove_container "))
        .expect("a removal");
    assert!(
        exported <= images && images < removed,
        "{exported} {images} {removed}: {calls:#?}"
    );
    assert_eq!(
        w.engine.objects_labelled(LABEL_CLUSTER),
        Vec::<String>::new()
    );
    assert!(dropped.removed > 0);
}

#[tokio::test(start_paused = true)]
async fn a_failed_export_stops_the_drop_before_anything_changes() {
    let w = World::up("failing", KEEPING).await;
    let kube = w.kube(Answer::Fail);
    let before = w.running().await;
    let err = drop(&w.env(&kube), &w.lock(), &w.opts(false))
        .await
        .unwrap_err();

    assert!(
        matches!(
            err,
            OpsError::KeptExport {
                what: "dropped",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().ends_with("nothing was dropped"), "{err}");
    assert_eq!(w.changes(), Vec::<String>::new());
    assert_eq!(w.running().await, before);
    assert_eq!(w.record().times.dropped, None);
    // Its context stays too.
    assert!(kubeconfig::has_entries(&w.kubeconfig(), w.name()).unwrap());
}

#[tokio::test(start_paused = true)]
async fn drop_force_goes_on_after_a_failed_export_and_removes_everything() {
    let w = World::up("forced", KEEPING).await;
    let kube = w.kube(Answer::Fail);
    let dropped = drop(&w.env(&kube), &w.lock(), &w.opts(true)).await.unwrap();

    assert_eq!(dropped.kept, Saved::Forced);
    assert_eq!(
        w.engine.objects_labelled(LABEL_CLUSTER),
        Vec::<String>::new()
    );
    assert!(w.record().times.dropped.is_some());
    assert!(!kept::path(w.name()).exists());
}

#[tokio::test(start_paused = true)]
async fn drop_marks_the_record_dropped_and_keeps_it_for_restore() {
    let w = World::up("recorded", KEEPING_NOTHING).await;
    let kube = w.kube(Answer::Export);
    let dropped = drop(&w.env(&kube), &w.lock(), &w.opts(false))
        .await
        .unwrap();

    assert!(dropped.restorable);
    assert_eq!(dropped.record_set_aside, None);
    let rec = w.record();
    assert!(rec.times.dropped.is_some());
    // What `restore` rebuilds from is still there.
    assert_eq!(rec.git.repo, "https://example.com/lab.git");
}

#[tokio::test(start_paused = true)]
async fn drop_removes_the_labs_kube_context() {
    let w = World::up("context", KEEPING_NOTHING).await;
    assert!(kubeconfig::has_entries(&w.kubeconfig(), w.name()).unwrap());
    let kube = w.kube(Answer::Export);
    drop(&w.env(&kube), &w.lock(), &w.opts(false))
        .await
        .unwrap();
    assert!(!kubeconfig::has_entries(&w.kubeconfig(), w.name()).unwrap());
}

#[tokio::test(start_paused = true)]
async fn a_lab_that_keeps_nothing_is_dropped_without_asking_its_api() {
    let w = World::up("nokeep", KEEPING_NOTHING).await;
    let kube = w.kube(Answer::Fail);
    let dropped = drop(&w.env(&kube), &w.lock(), &w.opts(false))
        .await
        .unwrap();
    assert_eq!(dropped.kept, Saved::Nothing);
    assert_eq!(kube.asked_at(), Vec::<usize>::new());
}

#[tokio::test(start_paused = true)]
async fn drop_force_sets_aside_a_record_that_does_not_parse() {
    let w = World::up("garbled", KEEPING).await;
    std::fs::write(record::path(w.name()), "version: [not a record").unwrap();
    let kube = w.kube(Answer::Export);
    // Without --force the unreadable record is a failed export: nothing goes.
    let err = drop(&w.env(&kube), &w.lock(), &w.opts(false))
        .await
        .unwrap_err();
    assert!(matches!(err, OpsError::KeptExport { .. }), "{err:?}");
    assert_eq!(w.changes(), Vec::<String>::new());

    let dropped = drop(&w.env(&kube), &w.lock(), &w.opts(true)).await.unwrap();
    assert_eq!(dropped.kept, Saved::Forced);
    let aside = dropped.record_set_aside.expect("set aside");
    assert!(aside.exists(), "{}", aside.display());
    assert!(!dropped.restorable);
}

#[tokio::test(start_paused = true)]
async fn without_a_kubeconfig_place_everything_else_goes_then_that_is_the_error() {
    let w = World::up("nowhere", KEEPING_NOTHING).await;
    let kube = w.kube(Answer::Export);
    let opts = DropOpts {
        force: false,
        kubeconfig: None,
    };
    let err = drop(&w.env(&kube), &w.lock(), &opts).await.unwrap_err();
    assert!(matches!(err, OpsError::KubeconfigFile(_)), "{err:?}");
    assert_eq!(
        w.engine.objects_labelled(LABEL_CLUSTER),
        Vec::<String>::new()
    );
}

#[tokio::test(start_paused = true)]
async fn anything_of_a_lab_is_enough_to_drop_it_and_a_dropped_record_is_not() {
    let w = World::up("traces", KEEPING_NOTHING).await;
    let path = w.kubeconfig();
    assert!(anything_of(&w.engine, w.name(), Some(&path)).await.unwrap());
    let kube = w.kube(Answer::Export);
    drop(&w.env(&kube), &w.lock(), &w.opts(false))
        .await
        .unwrap();
    // Dropped: its record stays, marked, and no longer counts.
    assert!(!anything_of(&w.engine, w.name(), Some(&path)).await.unwrap());
    // A live record alone is something of the lab (a half-made one).
    let rec = record::LabRecord::new(
        &w.lab,
        KEEPING_NOTHING,
        &Overrides::default(),
        None,
        w.record().git,
        None,
    );
    record::write(&rec).unwrap();
    assert!(anything_of(&w.engine, w.name(), Some(&path)).await.unwrap());
    // So is a kubeconfig whose place cannot be known (`drop` then says what is wrong).
    let other = LabName::parse("other").unwrap();
    assert!(anything_of(&w.engine, &other, None).await.unwrap());
    assert!(!anything_of(&w.engine, &other, Some(&path)).await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn suspend_exports_while_the_api_answers_then_stops_agents_before_servers() {
    let w = World::up("sleepy", KEEPING).await;
    let kube = w.kube(Answer::Export);
    let done = suspend(&w.env(&kube), &w.lock(), SuspendOpts::default())
        .await
        .unwrap();

    assert_eq!(done.state, "suspended");
    assert!(matches!(done.kept, Saved::Exported(_)));
    let changes = w.changes();
    let calls = w.engine.calls();
    let first_stop = calls.iter().position(|c| c.kind == "stop").expect("a stop");
    assert!(
        kube.asked_at()[0] <= first_stop,
        "exported after a stop: {calls:#?}"
    );
    let agent = crate::cluster::names::node(w.name(), crate::config::Role::Agent, 0);
    let server = crate::cluster::names::node(w.name(), crate::config::Role::Server, 0);
    assert!(
        position(&changes, &format!("stop {agent}"))
            < position(&changes, &format!("stop {server}"))
    );
    assert_eq!(w.running().await, 0);
}

#[tokio::test(start_paused = true)]
async fn a_failed_export_stops_nothing_and_suspend_force_stops_all_the_same() {
    let w = World::up("stubborn", KEEPING).await;
    let kube = w.kube(Answer::Fail);
    let err = suspend(&w.env(&kube), &w.lock(), SuspendOpts::default())
        .await
        .unwrap_err();
    assert!(err.to_string().ends_with("nothing was suspended"), "{err}");
    assert_eq!(w.changes(), Vec::<String>::new());

    let opts = SuspendOpts {
        pause: true,
        force: true,
    };
    let done = suspend(&w.env(&kube), &w.lock(), opts).await.unwrap();
    assert_eq!((done.state, done.kept), ("paused", Saved::Forced));
    assert_eq!(w.in_state(RunState::Paused).await.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_suspended_lab_is_dropped_with_the_export_its_suspend_made() {
    let w = World::up("stopped", KEEPING).await;
    let kube = w.kube(Answer::Export);
    suspend(&w.env(&kube), &w.lock(), SuspendOpts::default())
        .await
        .unwrap();
    // Stopped: its API is not asked again; the export made at suspend stands.
    let dropped = drop(&w.env(&kube), &w.lock(), &w.opts(false))
        .await
        .unwrap();
    assert!(
        matches!(&dropped.kept, Saved::Exported(d) if d.ends_with("made when it was suspended")),
        "{dropped:?}"
    );
    assert_eq!(kube.asked_at().len(), 1);
    assert_eq!(
        w.engine.objects_labelled(LABEL_CLUSTER),
        Vec::<String>::new()
    );
}

#[tokio::test(start_paused = true)]
async fn a_stopped_lab_without_an_export_is_not_dropped() {
    let w = World::up("unsaved", KEEPING).await;
    let kube = w.kube(Answer::Export);
    // Stopped behind playground's back: no export was made.
    w.stop_behind_our_back().await;
    let source = kept_export_failure(drop(&w.env(&kube), &w.lock(), &w.opts(false)).await);
    assert!(matches!(source, KeptError::NoExport { .. }), "{source:?}");
    assert_eq!(w.changes(), Vec::<String>::new());
    assert_eq!(kube.asked_at(), Vec::<usize>::new());
}

#[tokio::test(start_paused = true)]
async fn a_restored_lab_does_not_take_its_last_lifes_export_for_its_own() {
    let w = World::up("reborn", KEEPING).await;
    let kube = w.kube(Answer::Export);
    drop(&w.env(&kube), &w.lock(), &w.opts(false))
        .await
        .unwrap();
    let dropped = w.record();
    assert!(dropped.times.exported.is_some(), "{:?}", dropped.times);

    // Restored at once (the fakes take no time, so no clock could tell the two lives
    // apart), then stopped behind playground's back before any export of its own.
    up(&w.engine, &w.lab, &w.dir).await.unwrap();
    let git = dropped.git.clone();
    let rec = record::LabRecord::new(
        &w.lab,
        KEEPING,
        &Overrides::default(),
        None,
        git,
        Some(&dropped),
    );
    record::write(&rec).unwrap();
    w.stop_behind_our_back().await;
    let source = kept_export_failure(drop(&w.env(&kube), &w.lock(), &w.opts(false)).await);
    assert!(matches!(source, KeptError::Stale { .. }), "{source:?}");
    assert_eq!(w.changes(), Vec::<String>::new());
    assert_eq!(
        kept::load(w.name()).unwrap().len(),
        1,
        "the old export stays"
    );
}

#[tokio::test(start_paused = true)]
async fn a_running_lab_whose_api_does_not_answer_falls_back_on_its_suspend_export() {
    let w = World::up("mute", KEEPING).await;
    let kube = w.kube(Answer::Silent);
    let err = drop(&w.env(&kube), &w.lock(), &w.opts(false))
        .await
        .unwrap_err();
    assert!(matches!(err, OpsError::KeptExport { .. }), "{err:?}");
    assert_eq!(w.changes(), Vec::<String>::new());
}

#[tokio::test(start_paused = true)]
async fn resume_after_suspend_starts_every_node_and_reports_them_ready() {
    let w = World::up("awake", KEEPING_NOTHING).await;
    let kube = w.kube(Answer::Export);
    suspend(&w.env(&kube), &w.lock(), SuspendOpts::default())
        .await
        .unwrap();
    let nodes = resume(&w.env(&kube), &w.lock(), Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(w.running().await, 2);
    assert!(
        kube.connect
            .calls()
            .iter()
            .any(|c| c.starts_with("wait_ready")),
        "{:?}",
        kube.connect.calls()
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_gitops_half_keeps_the_cluster_its_record_and_its_context() {
    let data = tempfile::tempdir().unwrap();
    let _root = crate::state::test_root::set(data.path());
    let dir = tempfile::tempdir().unwrap();
    let mut lab = lab("gitless", 1, 1);
    // `up` probes the UI's host port on this machine: one nothing holds, not the default 8080
    // that a developer's own lab may be using.
    lab.argocd.ui.port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let engine = k3s_engine(&lab);
    let ui = Ui::new(true, false);
    let kube = FakeKube::new(&engine, Answer::Export);
    let env = Env::new(&engine, &ui, &kube);
    let source = crate::source::LabSource {
        lab: lab.clone(),
        text: KEEPING_NOTHING.to_string(),
        overrides: Overrides::default(),
        origin: None,
    };
    let prepared = Some(Prepared {
        repo: crate::argocd::seed::RepoSource::Remote {
            url: "https://example.com/lab.git".into(),
            credentials: None,
        },
        revision: "HEAD".into(),
        expected: None,
        path: "apps".into(),
        namespace: "argocd".into(),
        manifest: None,
        warnings: vec![],
        kept_secrets: vec![],
        components: vec![],
        project: "default".into(),
        source_fields: Default::default(),
        source_type: None,
        resources: vec![],
        recorded_argocd: None,
    });
    let opts = crate::ops::up::UpOpts {
        pull: crate::cluster::plan::PullPolicy::Missing,
        timeout: Duration::from_secs(20),
        switch_context: false,
        cluster_only: false,
        dry_run: false,
        keep_on_failure: false,
        yes: true,
        watch: false,
        context: None,
        kubeconfig: Some(dir.path().join("config")),
    };
    let err = crate::ops::up::up_lab(&env, &source, prepared, &opts, None, async { Ok(()) })
        .await
        .err()
        .expect("the GitOps half fails");
    assert!(
        matches!(&err, crate::ops::up::UpError::Bootstrap(e) if matches!(**e, BootstrapError::ManifestNotLoaded)),
        "{err:?}"
    );
    // Nothing was rolled back: the nodes stay, the lab is recorded, its context stays.
    // (An agent whose start was still in flight is left as it was, for the next `up`.)
    let nodes = engine
        .list_containers(&[(LABEL_CLUSTER, lab.name.as_str())])
        .await
        .unwrap();
    assert!(nodes.len() >= 2, "{nodes:?}");
    assert!(
        !changes(&engine.calls())
            .iter()
            .any(|c| c.starts_with("remove_container"))
    );
    assert!(record::read(&lab.name).unwrap().is_some());
    assert!(kubeconfig::has_entries(&dir.path().join("config"), &lab.name).unwrap());
}
