//! What every command starts from: the [`Ui`], the Docker Engine (connected once, on first
//! use: `init` and `validate` never need it), and the lab a command acts on.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use tokio::sync::OnceCell;

use super::error::{Error, Result};
use crate::cluster::ClusterError;
use crate::cluster::inventory::{self, LabSummary};
use crate::cluster::node_kubeconfig;
use crate::config::LabName;
use crate::docker::AnyEngine;
use crate::kube::api::KubeApi;
use crate::ops::{Env, LabKube};
use crate::state::lock::LabLock;
use crate::ui::Ui;

/// The shared context of a command.
pub(crate) struct Ctx<'a> {
    pub(crate) ui: &'a Ui,
    engine: OnceCell<AnyEngine>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(ui: &'a Ui) -> Self {
        Ctx {
            ui,
            engine: OnceCell::new(),
        }
    }

    /// The Docker Engine the environment names (`DOCKER_HOST`, the Docker context).
    pub(crate) async fn engine(&self) -> Result<&AnyEngine> {
        Ok(self.engine.get_or_try_init(AnyEngine::connect).await?)
    }

    /// What the use cases ([`crate::ops`]) run against: this engine, this [`Ui`], the real
    /// Kubernetes side.
    pub(crate) async fn env(&self) -> Result<Env<'_, AnyEngine>> {
        Ok(Env::new(self.engine().await?, self.ui, &LabKube))
    }

    /// NAME (which must be a lab name), else the name in `./playground.yaml`, else the only
    /// lab, else the default name.
    pub(crate) async fn lab_name(&self, name: Option<String>) -> Result<LabName> {
        if let Some(n) = name {
            return Ok(LabName::parse(&n)?);
        }
        if let Some(n) = crate::source::name_in_default_file()? {
            return Ok(n);
        }
        let labs = inventory::list(self.engine().await?).await?;
        match labs.as_slice() {
            [only] => Ok(only.name.clone()),
            [] => Ok(LabName::default()),
            many => Err(Error::SeveralLabs(
                many.iter().map(|l| l.name.to_string()).collect(),
            )),
        }
    }

    /// The lab as Docker's labels describe it, or `NotFound`.
    pub(crate) async fn find_lab(&self, name: &LabName) -> Result<LabSummary> {
        inventory::status(self.engine().await?, name)
            .await?
            .ok_or_else(|| ClusterError::NotFound(name.to_string()).into())
    }

    /// NAME resolved (see [`Ctx::lab_name`]) and found.
    /// With no lab at all on this engine, says so ([`Error::NoLabs`]) rather than naming the
    /// default name nobody asked for.
    pub(crate) async fn lab(&self, name: Option<String>) -> Result<LabSummary> {
        let given = name.clone();
        let name = self.lab_name(name).await?;
        match self.find_lab(&name).await {
            Err(Error::Cluster(ClusterError::NotFound(_)))
                if inventory::list(self.engine().await?).await?.is_empty() =>
            {
                Err(Error::NoLabs(given))
            }
            found => found,
        }
    }

    /// The kubeconfig k3s wrote in server-0, pointed at the lab's published API.
    pub(crate) async fn lab_kubeconfig(&self, lab: &LabSummary) -> Result<String> {
        let api = lab
            .api
            .as_deref()
            .ok_or_else(|| crate::ops::OpsError::NoApiAddress(lab.name.to_string()))?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        Ok(
            node_kubeconfig::fetch_kubeconfig(self.engine().await?, &lab.name, api, deadline)
                .await?,
        )
    }

    /// A client for a lab's API, with the credentials k3s wrote in server-0.
    pub(crate) async fn lab_api(&self, lab: &LabSummary) -> Result<KubeApi> {
        Ok(KubeApi::from_kubeconfig_yaml(&self.lab_kubeconfig(lab).await?).await?)
    }

    /// Take the lab's lock for a command that changes it (see [`crate::state::lock`]); a
    /// second command says whom it waits for, and waits.
    pub(crate) fn lock(&self, name: &LabName) -> Result<LabLock> {
        Ok(crate::ops::lock(self.ui, name)?)
    }

    /// Ask `question` on a terminal unless `yes`; no terminal counts as yes, as in every
    /// peer (scripts pass `--yes` or have no stdin). A "no" ends the command: not `what`.
    pub(crate) fn confirm(&self, yes: bool, question: &str, what: &'static str) -> Result<()> {
        if yes || !std::io::stdin().is_terminal() {
            return Ok(());
        }
        eprint!("{question} [y/N] ");
        std::io::stderr().flush().ok();
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(Error::Terminal)?;
        if matches!(answer.trim(), "y" | "Y" | "yes") {
            Ok(())
        } else {
            Err(Error::Declined(what))
        }
    }
}
