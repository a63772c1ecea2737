//! `image import`: copy images from the host's Docker into every node's containerd, as k3d's
//! `image import` does, so a lab runs images that were built locally or pulled once.
//!
//! The flow:
//! 1. find the lab by its labels, and refuse unless every server and agent runs;
//! 2. check that every image is in the host's Docker (naming the missing ones);
//! 3. export them once, through the Engine (`docker save`), into a temp file on the host;
//! 4. for every server and agent at once: stream that tar into the node with the archive API,
//!    at [`IMPORT_DIR`], run [`k3s::ctr_import`] there (k3s ships `ctr`; `k8s.io` is the
//!    namespace the kubelet reads), then remove the file.
//!
//! Why no `--all-platforms`: with Docker's containerd image store (the default on Docker
//! Desktop, and on fresh installs of Docker Engine 29), `docker save` writes the image's whole
//! multi-platform index but only the blobs of the platform that was pulled. `--all-platforms`
//! makes `ctr` walk every manifest the index names and fail on the first absent one with
//! `ctr: content digest sha256:…: not found` (k3d-io/k3d#1538, kubernetes-sigs/kind#3795).
//! Without it `ctr` imports the platform it runs on, which is the node's, which is what the
//! kubelet will run.
//!
//! Why `ctr` rather than k3s's auto-import directory ([`k3s::AIRGAP_IMAGES`]):
//! the import happens now and its errors are reported now, whatever the k3s version (older
//! ones read that directory only at start), and no tar stays behind to take the disk twice and
//! be imported again at every start. Why a file rather than piping the tar into `ctr`'s stdin
//! (k3d's "direct" mode): the same upload then serves every node from one export, and a
//! failure names the node and what `ctr` said. [`IMPORT_DIR`] is the node's data volume: on
//! disk rather than in the `/run` tmpfs (memory), and present in every node.

use futures::future::try_join_all;

use super::error::{ClusterError as Error, Result};
use crate::docker::{Engine, RunState};
use crate::ui::Ui;

use super::cache::human_size;
use super::inventory::{self, LabState};
use super::k3s::{self, IMPORT_DIR};

/// Import `images` from the host's Docker into every server and agent of `lab`. Returns the
/// nodes imported into.
pub(crate) async fn import<E: Engine>(
    engine: &E,
    lab: &crate::lab::LabName,
    images: &[String],
    ui: &Ui,
) -> Result<Vec<String>> {
    let _guard = crate::interrupt::guard();
    let summary = inventory::status(engine, lab)
        .await?
        .ok_or_else(|| Error::NotFound(lab.to_string()))?;
    if matches!(summary.state, LabState::Suspended | LabState::Paused) {
        let state = if summary.state == LabState::Paused {
            "paused"
        } else {
            "suspended"
        };
        return Err(Error::LabNotRunning {
            lab: lab.to_string(),
            state,
        });
    }
    let nodes: Vec<&inventory::NodeSummary> = summary
        .nodes
        .iter()
        .filter(|n| n.role == "server" || n.role == "agent")
        .collect();
    let stopped: Vec<&str> = nodes
        .iter()
        .filter(|n| n.state != RunState::Running)
        .map(|n| n.name.as_str())
        .collect();
    if !stopped.is_empty() {
        return Err(Error::NodesStopped {
            lab: lab.to_string(),
            nodes: stopped.join(", "),
        });
    }

    let mut missing = Vec::new();
    for image in images {
        if !engine.image_present(image).await? {
            missing.push(image.as_str());
        }
    }
    if !missing.is_empty() {
        return Err(Error::ImagesMissing {
            missing: missing.join(", "),
            first: missing[0].to_string(),
        });
    }

    // Removed when it drops, whatever happens below.
    let tar = tempfile::Builder::new()
        .prefix("playground-import-")
        .suffix(".tar")
        .tempfile()
        .map_err(Error::TempFile)?;
    let file_name = format!(
        "playground-import-{}-{}.tar",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let work = async {
        let s = ui.step(format!("export {} from Docker", images.join(", ")));
        match engine.export_images(images, tar.path()).await {
            Ok(size) => s.done_with(&human_size(size)),
            Err(e) => {
                s.fail();
                return Err(e.into());
            }
        }
        try_join_all(nodes.iter().map(|n| {
            let step = ui.step(format!("import into {}", n.name));
            let file_name = &file_name;
            let source = tar.path();
            async move {
                let r = import_into(engine, &n.name, source, file_name).await;
                match &r {
                    Ok(()) => step.done(),
                    Err(_) => step.fail(),
                }
                r
            }
        }))
        .await
    };
    // Ctrl-C or SIGTERM would end the process before any destructor ran: stop the work
    // instead, so the host's temp tar goes with `tar` and the copies in the nodes are removed.
    tokio::select! {
        r = work => { r?; }
        _ = crate::interrupt::interrupted() => {
            let path = format!("{IMPORT_DIR}/{file_name}");
            for n in &nodes {
                let _ = engine.exec(&n.name, &["rm", "-f", &path]).await;
            }
            return Err(Error::Interrupted);
        }
    }
    Ok(nodes.iter().map(|n| n.name.clone()).collect())
}

/// Upload the tar into one node, import it with `ctr`, and remove it again.
async fn import_into<E: Engine>(
    engine: &E,
    node: &str,
    source: &std::path::Path,
    file_name: &str,
) -> Result<()> {
    engine
        .upload_file(node, source, IMPORT_DIR, file_name)
        .await?;
    let path = format!("{IMPORT_DIR}/{file_name}");
    let imported = engine.exec(node, &k3s::ctr_import(&path)).await;
    // The tar has done its job either way; do not leave it on the node's disk.
    let _ = engine.exec(node, &["rm", "-f", &path]).await;
    let (code, output) = imported?;
    if code != 0 {
        return Err(Error::CtrImport {
            node: node.to_string(),
            code,
            output: output.trim().to_string(),
        });
    }
    Ok(())
}
