//! The planner's tests: plans for fresh, existing and partial labs, compared step by step.

use super::*;
use crate::cluster::k3s::{self, DNS_ADDR_ENV, KUBELET_ARGS, NODE_ENTRYPOINT, node_entrypoint};
use crate::config::{
    EnvVar, Filtered, LabName, NodeFilter, PortMapping, Protocol, Selection, default_lab,
};

fn inputs() -> Inputs {
    Inputs {
        api_port: 6550,
        token: "tok".into(),
        pull: PullPolicy::Missing,
        subnet_seed: 0,
        repo_mount: None,
        ui_port: None,
        cache: None,
        lb_image: LB_IMAGE.into(),
        registry: RegistrySettings::default(),
        host_modules: None,
    }
}

fn cached() -> Inputs {
    Inputs {
        cache: Some(CacheSettings::default()),
        ..inputs()
    }
}

/// The index of the phase holding a step whose text starts with `prefix`.
fn phase_of(plan: &Plan, prefix: &str) -> usize {
    plan.phases
        .iter()
        .position(|p| p.iter().any(|s| s.to_string().starts_with(prefix)))
        .unwrap_or_else(|| panic!("no step {prefix:?} in:\n{plan}"))
}

#[test]
fn the_cache_is_ensured_after_the_network_and_mirrors_written_before_the_first_start() {
    let plan = plan_up(&lab(3, 1), &Observed::default(), &cached()).unwrap();
    let text = plan.to_string();
    // The image comes with the nodes' images; the caches follow the network, in one phase.
    let image = phase_of(&plan, "pull image registry:3 for the image cache");
    assert_eq!(image, phase_of(&plan, "pull image rancher/k3s"));
    let caches = phase_of(&plan, "ensure image cache");
    assert!(phase_of(&plan, "create network") < caches && image < caches);
    let steps: Vec<&CacheStep> = plan.phases[caches]
        .iter()
        .filter_map(|s| match s {
            Step::EnsureCache(c) => Some(&**c),
            _ => None,
        })
        .collect();
    let got: Vec<(&str, &str, String, &str)> = steps
        .iter()
        .map(|c| {
            (
                c.upstream.host,
                c.spec.name.as_str(),
                c.ip.to_string(),
                c.network.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "docker.io",
                "playground-cache-docker-io",
                "172.28.0.245".into(),
                "playground-lab"
            ),
            (
                "ghcr.io",
                "playground-cache-ghcr-io",
                "172.28.0.246".into(),
                "playground-lab"
            ),
            (
                "quay.io",
                "playground-cache-quay-io",
                "172.28.0.247".into(),
                "playground-lab"
            ),
            (
                "registry.k8s.io",
                "playground-cache-registry-k8s-io",
                "172.28.0.248".into(),
                "playground-lab"
            ),
        ]
    );
    // No cache address is a node's.
    for n in plan.nodes() {
        assert!(
            !steps.iter().any(|c| Some(c.ip) == n.spec.ip),
            "{}",
            n.spec.name
        );
    }
    // Mirrors go to every new server and agent (not the load balancer), after create and
    // before any start.
    let mirrors = phase_of(&plan, "write /etc/rancher/k3s/registries.yaml");
    let Step::WriteMirrors {
        nodes,
        cache,
        registry,
        user: None,
    } = &plan.phases[mirrors][0]
    else {
        panic!("{text}")
    };
    assert_eq!(
        nodes,
        &[
            "playground-lab-server-0",
            "playground-lab-server-1",
            "playground-lab-server-2",
            "playground-lab-agent-0"
        ]
    );
    assert_eq!(cache, &Some(CacheSettings::default()));
    assert_eq!(registry, &None);
    assert!(phase_of(&plan, "create playground-lab-server-0") < mirrors);
    assert!(
        mirrors < phase_of(&plan, "start playground-lab-server-0"),
        "{text}"
    );
    // The lab's image export: made before the nodes, mounted in every server and agent at
    // k3s's airgap folder, and a cache object (`drop` keeps it), not the lab's.
    let export = phase_of(&plan, "create volume playground-cache-images-lab");
    assert!(export < phase_of(&plan, "create playground-lab-server-0"));
    let Some(Step::EnsureVolume { labels, .. }) = plan.phases[export]
        .iter()
        .find(|s| s.to_string() == "create volume playground-cache-images-lab")
    else {
        panic!("{text}")
    };
    assert_eq!(labels[names::LABEL_CACHE], "images");
    assert!(!labels.contains_key(names::LABEL_CLUSTER));
    for n in plan.nodes() {
        let mounted = n
            .spec
            .binds
            .contains(&"playground-cache-images-lab:/var/lib/rancher/k3s/agent/images".to_string());
        assert_eq!(mounted, n.role != Role::LoadBalancer, "{}", n.spec.name);
    }
}

#[test]
fn the_lab_registry_is_ensured_mirrored_and_published_even_without_the_cache() {
    let mut l = lab(1, 1);
    l.cluster.image_cache = false;
    l.cluster.registry = Some(crate::config::RegistrySpec { port: 5001 });
    let plan = plan_up(&l, &Observed::default(), &inputs()).unwrap();
    let text = plan.to_string();
    // Its port is checked with the nodes', its image pulled with theirs.
    assert!(text.contains("127.0.0.1:5001/tcp"), "{text}");
    let image = phase_of(&plan, "pull image registry:3");
    let ensure = phase_of(
        &plan,
        "ensure lab registry playground-registry on 127.0.0.1:5001",
    );
    assert!(image < ensure && phase_of(&plan, "create network") < ensure);
    let Some(Step::EnsureRegistry(r)) = plan.phases[ensure]
        .iter()
        .find(|s| matches!(s, Step::EnsureRegistry(_)))
    else {
        panic!("{text}")
    };
    assert_eq!(r.ip.to_string(), "172.28.0.244");
    assert_eq!(r.network, "playground-lab");
    // No node has the registry's address.
    assert!(plan.nodes().all(|n| n.spec.ip != Some(r.ip)), "{text}");
    // Mirrors are written before the first start, with the registry alone.
    let mirrors = phase_of(&plan, "write /etc/rancher/k3s/registries.yaml");
    let Step::WriteMirrors {
        nodes,
        cache,
        registry,
        user: None,
    } = &plan.phases[mirrors][0]
    else {
        panic!("{text}")
    };
    assert_eq!(nodes.len(), 2);
    assert_eq!(cache, &None);
    assert_eq!(
        registry.map(|r| (r.host(), r.endpoint())),
        Some(("localhost:5001".into(), "http://172.28.0.244:5000".into()))
    );
    assert!(ensure < mirrors && mirrors < phase_of(&plan, "start playground-lab-server-0"));
    // The ConfigMap goes after the API is up.
    assert!(
        phase_of(&plan, "wait for the API")
            < phase_of(&plan, "apply kube-public/local-registry-hosting")
    );
    assert!(!text.contains("image cache"), "{text}");
}

#[test]
fn a_running_registry_is_left_alone_and_another_port_refused() {
    let mut l = lab(1, 0);
    l.cluster.registry = Some(crate::config::RegistrySpec { port: 5001 });
    let first = plan_up(&l, &Observed::default(), &inputs()).unwrap();
    let spec = RegistrySettings::default().container_spec(5001);
    let registry = ContainerInfo {
        id: spec.name.clone(),
        name: spec.name.clone(),
        image: spec.image.clone(),
        labels: spec.labels.clone(),
        state: RunState::Running,
        ips: [("playground-lab".to_string(), "172.28.0.244".to_string())].into(),
        started_at: None,
        finished_at: None,
        exit_code: None,
        restart_count: 0,
        env: Vec::new(),
        ports: spec.ports.clone(),
        cmd: Vec::new(),
        binds: Vec::new(),
        privileged: false,
    };
    let observed = Observed {
        containers: running(&first),
        network_exists: true,
        network_subnet: Some("172.28.0.0/24".into()),
        registry: Some(registry.clone()),
        ..Default::default()
    };
    let text = plan_up(&l, &observed, &inputs()).unwrap().to_string();
    assert!(!text.contains("ensure lab registry"), "{text}");
    assert!(!text.contains("5001/tcp"), "{text}");
    assert!(!text.contains("pull image registry"), "{text}");
    // Still published on every up: the ConfigMap is cheap and idempotent.
    assert!(text.contains("local-registry-hosting"), "{text}");
    // On another lab's network only: attached to this one.
    let elsewhere = Observed {
        registry: Some(ContainerInfo {
            ips: [("playground-other".to_string(), "x".to_string())].into(),
            ..registry
        }),
        ..observed.clone()
    };
    let text = plan_up(&l, &elsewhere, &inputs()).unwrap().to_string();
    assert!(text.contains("ensure lab registry"), "{text}");
    l.cluster.registry = Some(crate::config::RegistrySpec { port: 5002 });
    let err = plan_up(&l, &observed, &inputs()).unwrap_err();
    assert_eq!(
        err,
        PlanError::RegistryPort {
            container: "playground-registry".into(),
            have: 5001,
            want: 5002
        }
    );
    assert!(
        crate::diag::Report(&err)
            .to_string()
            .contains("cluster.registry.port: 5001"),
        "{err}"
    );
}

#[test]
fn no_cache_when_the_lab_turns_it_off() {
    let mut l = lab(1, 1);
    l.cluster.image_cache = false;
    let text = plan_up(&l, &Observed::default(), &cached())
        .unwrap()
        .to_string();
    assert!(
        !text.contains("cache") && !text.contains("registries.yaml"),
        "{text}"
    );
    let plan = plan_up(&l, &Observed::default(), &cached()).unwrap();
    assert!(
        plan.nodes()
            .all(|n| { !n.spec.binds.iter().any(|b| b.contains(k3s::AIRGAP_IMAGES)) })
    );
    // And none without cache settings, which is how the other tests plan.
    let text = plan_up(&lab(1, 1), &Observed::default(), &inputs())
        .unwrap()
        .to_string();
    assert!(!text.contains("cache"), "{text}");
}

#[test]
fn an_image_export_kept_from_before_is_not_listed_as_created() {
    // `drop` kept the export; the next lab of that name only mounts it.
    let observed = Observed {
        volumes: ["playground-cache-images-lab".to_string()].into(),
        ..Observed::default()
    };
    let plan = plan_up(&lab(1, 1), &observed, &cached()).unwrap();
    let text = plan.to_string();
    assert!(
        !text.contains("create volume playground-cache-images-lab"),
        "{text}"
    );
    assert!(
        plan.nodes()
            .filter(|n| n.role != Role::LoadBalancer)
            .all(|n| {
                n.spec.binds.contains(
                    &"playground-cache-images-lab:/var/lib/rancher/k3s/agent/images".to_string(),
                )
            })
    );
}

#[test]
fn caches_that_run_on_the_lab_network_are_left_alone() {
    let first = plan_up(&lab(1, 1), &Observed::default(), &cached()).unwrap();
    let settings = CacheSettings::default();
    let mut caches: Vec<ContainerInfo> = cache::UPSTREAMS
        .iter()
        .map(|u| ContainerInfo {
            id: String::new(),
            name: settings.container(u),
            image: "registry:3".into(),
            state: RunState::Running,
            labels: settings.labels(u),
            started_at: None,
            finished_at: None,
            exit_code: None,
            restart_count: 0,
            ips: [("playground-lab".to_string(), "172.28.0.245".to_string())].into(),
            env: vec![],
            ports: vec![],
            cmd: vec![],
            binds: vec![],
            privileged: false,
        })
        .collect();
    // ghcr.io's cache is stopped; quay.io's runs but only on another lab's network.
    caches[1].state = RunState::Exited;
    caches[2].ips = [("playground-other".to_string(), "x".to_string())].into();
    let observed = Observed {
        containers: running(&first),
        network_exists: true,
        network_subnet: Some("172.28.0.0/24".into()),
        caches,
        cache_image_present: true,
        ..Default::default()
    };
    let text = plan_up(&lab(1, 1), &observed, &cached())
        .unwrap()
        .to_string();
    assert!(!text.contains("for the image cache"), "{text}");
    assert!(!text.contains("registries.yaml"), "no new node: {text}");
    assert!(!text.contains("playground-cache-docker-io "), "{text}");
    assert!(
        !text.contains("playground-cache-registry-k8s-io "),
        "{text}"
    );
    assert!(
        text.contains("ensure image cache playground-cache-ghcr-io "),
        "{text}"
    );
    assert!(
        text.contains("ensure image cache playground-cache-quay-io "),
        "{text}"
    );
}

#[test]
fn pull_never_requires_the_cache_image_without_pulling() {
    let never = Inputs {
        pull: PullPolicy::Never,
        ..cached()
    };
    let plan = plan_up(&lab(1, 0), &Observed::default(), &never).unwrap();
    assert!(plan.phases.iter().flatten().any(|s| *s
        == Step::EnsureCacheImage {
            image: "registry:3".into(),
            pull: false
        }));
}

fn lab(servers: u32, agents: u32) -> Lab {
    let mut lab = default_lab();
    lab.name = LabName::parse("lab").unwrap();
    lab.cluster.servers = servers;
    lab.cluster.agents = agents;
    lab
}

fn running(plan: &Plan) -> Vec<ContainerInfo> {
    plan.nodes()
        .map(|n| ContainerInfo {
            id: n.spec.name.clone(),
            name: n.spec.name.clone(),
            image: n.spec.image.clone(),
            state: RunState::Running,
            labels: n.spec.labels.clone(),
            started_at: None,
            finished_at: None,
            exit_code: None,
            restart_count: 0,
            ips: Default::default(),
            env: n.spec.env.clone(),
            ports: n.spec.ports.clone(),
            cmd: n.spec.cmd.clone(),
            binds: n.spec.binds.clone(),
            privileged: n.spec.privileged,
        })
        .collect()
}

#[test]
fn a_fresh_lab_is_built_in_order() {
    let plan = plan_up(&lab(1, 2), &Observed::default(), &inputs()).unwrap();
    assert!(plan.fresh);
    let text = plan.to_string();
    let order = [
        "check host ports",
        "create network playground-lab",
        "pull image",
        "create playground-lab-server-0",
        "start playground-lab-server-0",
        "start playground-lab-agent-0",
        "wait for the API",
        "write kube context",
    ];
    let mut at = 0;
    for want in order {
        let found = text[at..]
            .find(want)
            .unwrap_or_else(|| panic!("{want:?} missing or out of order in:\n{text}"));
        at += found;
    }
    // The server's container starts first, alone: Docker starts containers one after
    // another, and the server is on the critical path. The agents start in the next phase,
    // beside the wait for the server's ready line: nobody waits for the server's boot to
    // begin their own (agents retry their join).
    let starts = starts(&plan);
    assert_eq!(
        starts.iter().map(|(_, n)| n.as_str()).collect::<Vec<_>>(),
        [
            "playground-lab-server-0",
            "playground-lab-agent-0",
            "playground-lab-agent-1"
        ]
    );
    let server = starts[0].0;
    assert!(starts[1..].iter().all(|(phase, _)| *phase == server + 1));
    assert_eq!(
        awaits(&plan),
        [(server + 1, "playground-lab-server-0".to_string())]
    );
    // One server: no load balancer, and the API is published on server-0 at 127.0.0.1.
    assert!(plan.nodes().all(|n| n.role != Role::LoadBalancer));
    let s0 = plan.nodes().next().unwrap();
    assert_eq!(
        s0.spec.ports,
        vec![PortBinding {
            host_ip: "127.0.0.1".parse().unwrap(),
            host_port: 6550,
            container_port: 6443,
            protocol: "tcp"
        }]
    );
    // k3s is PID 1 (no docker-init), behind our entrypoint, in the host user namespace.
    assert!(!s0.spec.init && s0.spec.restart_unless_stopped && s0.spec.userns_host);
    assert_eq!(s0.spec.entrypoint, node_entrypoint());
    assert!(NODE_ENTRYPOINT.trim_end().ends_with("exec /bin/k3s \"$@\""));
    assert_eq!(
        s0.spec.extra_hosts,
        vec![format!("{}:host-gateway", names::HOST_ALIAS)]
    );
    // DNS is answered on the lab network's gateway address.
    let gateway = plan
        .phases
        .iter()
        .flatten()
        .find_map(|s| match s {
            Step::EnsureNetwork(n) => n.gateway.clone(),
            _ => None,
        })
        .unwrap();
    assert!(s0.spec.env.contains(&format!("{DNS_ADDR_ENV}={gateway}")));
    assert_eq!(s0.spec.tmpfs, vec!["/run", "/var/run"]);
    assert!(
        s0.spec
            .env
            .contains(&"K3S_KUBECONFIG_OUTPUT=/output/kubeconfig.yaml".to_string())
    );
    assert!(
        s0.spec
            .cmd
            .windows(2)
            .any(|w| w == ["--tls-san", "127.0.0.1"])
    );
    assert!(!s0.spec.env.iter().any(|e| e.starts_with("K3S_URL=")));
    let a0 = plan.nodes().find(|n| n.role == Role::Agent).unwrap();
    assert!(
        a0.spec
            .env
            .contains(&"K3S_URL=https://playground-lab-server-0:6443".to_string())
    );
    assert_eq!(a0.spec.labels[names::LABEL_ROLE], "agent");
    assert_eq!(a0.spec.labels[names::LABEL_CLUSTER], "lab");
    assert_eq!(plan.api_url, "https://127.0.0.1:6550");
}

#[test]
fn a_running_lab_plans_no_changes() {
    let first = plan_up(&lab(1, 2), &Observed::default(), &inputs()).unwrap();
    let observed = Observed {
        containers: running(&first),
        network_exists: true,
        network_subnet: Some("172.28.0.0/24".into()),
        ..Default::default()
    };
    let again = plan_up(&lab(1, 2), &observed, &inputs()).unwrap();
    assert!(!again.fresh);
    let kinds: Vec<String> = again
        .phases
        .iter()
        .flatten()
        .map(|s| s.to_string())
        .collect();
    assert!(
        kinds
            .iter()
            .all(|s| s.starts_with("wait for the API") || s.starts_with("write kube context")),
        "{kinds:?}"
    );
}

#[test]
fn a_brand_new_agent_is_not_announced_as_forgotten() {
    // A lab of one agent raised to two: agent-1 never existed, it has no data volume.
    let first = plan_up(&lab(1, 1), &Observed::default(), &inputs()).unwrap();
    let observed = Observed {
        containers: running(&first),
        network_exists: true,
        volumes: [
            names::data_volume(&lab(1, 1).name, Role::Server, 0),
            names::data_volume(&lab(1, 1).name, Role::Agent, 0),
        ]
        .into(),
        ..Default::default()
    };
    let text = plan_up(&lab(1, 2), &observed, &inputs())
        .unwrap()
        .to_string();
    assert!(text.contains("create playground-lab-agent-1"), "{text}");
    assert!(!text.contains("forget"), "{text}");
    assert!(
        text.contains("let playground-lab-agent-1 join with a new node password"),
        "{text}"
    );
}

#[test]
fn a_missing_agent_is_recreated_and_a_stopped_one_started() {
    let first = plan_up(&lab(1, 2), &Observed::default(), &inputs()).unwrap();
    let mut containers = running(&first);
    containers.retain(|c| c.name != "playground-lab-agent-1");
    containers
        .iter_mut()
        .find(|c| c.name == "playground-lab-agent-0")
        .unwrap()
        .state = RunState::Exited;
    let observed = Observed {
        containers,
        network_exists: true,
        ..Default::default()
    };
    let plan = plan_up(&lab(1, 2), &observed, &inputs()).unwrap();
    let text = plan.to_string();
    assert!(text.contains("create playground-lab-agent-1"), "{text}");
    assert!(!text.contains("create playground-lab-agent-0"), "{text}");
    assert!(text.contains("start playground-lab-agent-0"), "{text}");
    assert!(text.contains("start playground-lab-agent-1"), "{text}");
    assert!(!text.contains("start playground-lab-server-0"), "{text}");
    assert!(!text.contains("create network"), "{text}");
}

#[test]
fn several_servers_get_an_init_server_and_a_load_balancer() {
    let mut l = lab(3, 1);
    l.cluster.ports.push(PortMapping {
        host_ip: "127.0.0.1".parse().unwrap(),
        host_port: 8080,
        container_port: 80,
        protocol: Protocol::Tcp,
        target: NodeFilter::LoadBalancer,
    });
    let plan = plan_up(&l, &Observed::default(), &inputs()).unwrap();
    let nodes: Vec<&NodePlan> = plan.nodes().collect();
    let s0 = nodes[0];
    assert!(s0.spec.cmd.contains(&"--cluster-init".to_string()));
    assert_eq!(s0.ready_line, "Containerd is now running");
    assert!(
        s0.spec.ports.is_empty(),
        "the API goes through the load balancer"
    );
    let s1 = nodes[1];
    assert!(!s1.spec.cmd.contains(&"--cluster-init".to_string()));
    assert!(
        s1.spec
            .env
            .contains(&"K3S_URL=https://playground-lab-server-0:6443".to_string())
    );
    let lb = nodes.iter().find(|n| n.role == Role::LoadBalancer).unwrap();
    let ports: Vec<(u16, u16)> = lb
        .spec
        .ports
        .iter()
        .map(|p| (p.host_port, p.container_port))
        .collect();
    assert_eq!(ports, vec![(6550, 6443), (8080, 80)]);
    let conf = &lb.spec.env[0];
    assert!(
        conf.contains("listen 6443;") && conf.contains("listen 80;"),
        "{conf}"
    );
    // Upstreams are static IPs, so nginx never needs to resolve a stopped node's name.
    assert!(
        conf.contains("server 172.28.0.2:6443") && conf.contains("server 172.28.0.4:6443"),
        "{conf}"
    );
    // A fresh lab starts the init server, the agents and the load balancer together;
    // joining servers follow one by one (k3d #452: etcd adds one member at a time).
    let starts = starts(&plan);
    let names: Vec<&str> = starts.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "playground-lab-server-0",
            "playground-lab-agent-0",
            "playground-lab-serverlb",
            "playground-lab-server-1",
            "playground-lab-server-2",
        ]
    );
    let phase_of = |name: &str| starts.iter().find(|(_, n)| n == name).unwrap().0;
    let init = phase_of("playground-lab-server-0");
    assert_eq!(phase_of("playground-lab-agent-0"), init + 1);
    assert_eq!(phase_of("playground-lab-serverlb"), init + 1);
    assert_eq!(
        awaits(&plan),
        [(init + 1, "playground-lab-server-0".to_string())]
    );
    assert!(phase_of("playground-lab-server-1") > phase_of("playground-lab-server-0"));
    assert!(phase_of("playground-lab-server-2") > phase_of("playground-lab-server-1"));
}

/// (phase index, node name) of every start, in plan order.
fn starts(plan: &Plan) -> Vec<(usize, String)> {
    plan.phases
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            p.iter().filter_map(move |s| match s {
                Step::StartNode(n) | Step::LaunchNode(n) => Some((i, n.spec.name.clone())),
                _ => None,
            })
        })
        .collect()
}

/// (phase index, node name) of every wait for a launched node's ready line.
fn awaits(plan: &Plan) -> Vec<(usize, String)> {
    plan.phases
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            p.iter().filter_map(move |s| match s {
                Step::AwaitNode(n) => Some((i, n.spec.name.clone())),
                _ => None,
            })
        })
        .collect()
}

#[test]
fn a_stopped_ha_lab_starts_all_its_servers_before_waiting_on_any() {
    // F2: a restarted etcd member logs its ready line only with a quorum, so waiting on
    // server-0 before starting server-1 would never end: every server is launched, in one
    // phase, before any ready line is awaited.
    let first = plan_up(&lab(3, 1), &Observed::default(), &inputs()).unwrap();
    let mut containers = running(&first);
    for c in &mut containers {
        c.state = RunState::Exited;
    }
    let observed = Observed {
        containers,
        network_exists: true,
        network_subnet: Some("172.28.0.0/24".into()),
        ..Default::default()
    };
    let plan = plan_up(&lab(3, 1), &observed, &inputs()).unwrap();
    assert!(!plan.fresh);
    let starts = starts(&plan);
    let server_phases: BTreeSet<usize> = starts
        .iter()
        .filter(|(_, n)| n.contains("-server-"))
        .map(|(i, _)| *i)
        .collect();
    assert_eq!(server_phases.len(), 1, "{plan}");
    let servers = *server_phases.first().unwrap();
    assert!(
        plan.phases[servers]
            .iter()
            .all(|s| matches!(s, Step::LaunchNode(n) if n.role == Role::Server)),
        "{plan}"
    );
    // Every server's "k3s is up and running" is awaited after all of them were launched:
    // none is the init server on create.
    let awaits = awaits(&plan);
    assert_eq!(awaits.len(), 3, "{plan}");
    assert!(awaits.iter().all(|(i, _)| *i == servers + 1), "{plan}");
    for s in &plan.phases[servers + 1] {
        if let Step::AwaitNode(n) = s {
            assert_eq!(n.ready_line, "k3s is up and running");
        }
    }
    // The agent and the load balancer start while they boot: the agent retries its join,
    // and the lab is back after its slowest node, not after the sum of them.
    assert!(
        starts
            .iter()
            .filter(|(_, n)| !n.contains("-server-"))
            .all(|(i, _)| *i == servers + 1),
        "{plan}"
    );
    assert_eq!(starts.len(), 5, "{plan}");
}

#[test]
fn the_server_count_of_an_existing_lab_cannot_change() {
    for (had, want) in [(1, 3), (3, 1), (3, 5)] {
        let first = plan_up(&lab(had, 1), &Observed::default(), &inputs()).unwrap();
        let observed = Observed {
            containers: running(&first),
            network_exists: true,
            network_subnet: Some("172.28.0.0/24".into()),
            ..Default::default()
        };
        let err = plan_up(&lab(want, 1), &observed, &inputs()).unwrap_err();
        assert_eq!(
            err,
            PlanError::ServerCountChanged {
                lab: "lab".into(),
                had,
                want
            }
        );
        let text = crate::diag::Report(&err).to_string();
        assert!(
            text.contains(&format!("created with {had} server(s)"))
                && text.contains("playground drop lab")
                && text.contains("playground restore"),
            "{text}"
        );
    }
    // Agents may change.
    let first = plan_up(&lab(3, 1), &Observed::default(), &inputs()).unwrap();
    let observed = Observed {
        containers: running(&first),
        network_exists: true,
        network_subnet: Some("172.28.0.0/24".into()),
        ..Default::default()
    };
    let plan = plan_up(&lab(3, 2), &observed, &inputs()).unwrap();
    assert!(plan.to_string().contains("create playground-lab-agent-1"));
}

#[test]
fn the_load_balancer_image_follows_the_inputs() {
    let plan = plan_up(
        &lab(2, 0),
        &Observed::default(),
        &Inputs {
            lb_image: "example/lb:test".into(),
            ..inputs()
        },
    )
    .unwrap();
    let lb = plan.nodes().find(|n| n.role == Role::LoadBalancer).unwrap();
    assert_eq!(lb.spec.image, "example/lb:test");
    assert!(
        plan.to_string().contains("pull image example/lb:test"),
        "{plan}"
    );
}

#[test]
fn node_filters_place_args_env_and_ports() {
    let mut l = lab(1, 2);
    l.cluster.k3s_args.push(Filtered {
        value: "--disable=traefik".into(),
        filter: NodeFilter::Servers(Selection::All),
    });
    l.cluster.env.push(Filtered {
        value: crate::config::EnvVar {
            key: "ONLY".into(),
            value: "a1".into(),
            from_host: None,
        },
        filter: NodeFilter::Agents(Selection::Indices(vec![1])),
    });
    l.cluster.ports.push(PortMapping {
        host_ip: "127.0.0.1".parse().unwrap(),
        host_port: 9000,
        container_port: 90,
        protocol: Protocol::Udp,
        target: NodeFilter::Agents(Selection::Indices(vec![0])),
    });
    let plan = plan_up(&l, &Observed::default(), &inputs()).unwrap();
    let by = |name: &str| plan.nodes().find(|n| n.spec.name == name).unwrap().clone();
    let has_arg = |node: &str, arg: &str| by(node).spec.cmd.iter().any(|a| a == arg);
    let has_env = |node: &str, kv: &str| by(node).spec.env.iter().any(|e| e == kv);
    assert!(has_arg("playground-lab-server-0", "--disable=traefik"));
    assert!(!has_arg("playground-lab-agent-0", "--disable=traefik"));
    assert!(has_env("playground-lab-agent-1", "ONLY=a1"));
    assert!(!has_env("playground-lab-agent-0", "ONLY=a1"));
    assert_eq!(by("playground-lab-agent-0").spec.ports[0].protocol, "udp");

    // One host port on two nodes cannot work.
    l.cluster.ports.push(PortMapping {
        host_ip: "127.0.0.1".parse().unwrap(),
        host_port: 9100,
        container_port: 91,
        protocol: Protocol::Tcp,
        target: NodeFilter::Agents(Selection::All),
    });
    assert_eq!(
        plan_up(&l, &Observed::default(), &inputs()),
        Err(PlanError::PortOnManyNodes(9100, 2))
    );
}

#[test]
fn foreign_containers_and_pull_policies() {
    let observed = Observed {
        foreign: vec!["playground-lab-server-0".into()],
        ..Default::default()
    };
    assert_eq!(
        plan_up(&lab(1, 0), &observed, &inputs()),
        Err(PlanError::NameTaken("playground-lab-server-0".into()))
    );
    let present = Observed {
        images_present: [crate::config::DEFAULT_K3S_IMAGE.to_string()].into(),
        ..Default::default()
    };
    let text = plan_up(&lab(1, 0), &present, &inputs())
        .unwrap()
        .to_string();
    assert!(!text.contains("pull image"), "{text}");
    let always = Inputs {
        pull: PullPolicy::Always,
        ..inputs()
    };
    assert!(
        plan_up(&lab(1, 0), &present, &always)
            .unwrap()
            .to_string()
            .contains("pull image")
    );
    let never = Inputs {
        pull: PullPolicy::Never,
        ..inputs()
    };
    assert!(
        plan_up(&lab(1, 0), &Observed::default(), &never)
            .unwrap()
            .to_string()
            .contains("require image")
    );
}

#[test]
fn subnets_avoid_the_ones_in_use() {
    assert_eq!(choose_subnet(&[]), Some("172.28.0.0/24".into()));
    assert_eq!(
        choose_subnet(&["172.28.0.0/24".into(), "172.28.1.0/24".into()]),
        Some("172.28.2.0/24".into())
    );
    // A /16 covering the first 256 candidates pushes us past it.
    assert_eq!(
        choose_subnet(&["172.28.0.0/16".into()]),
        Some("172.29.0.0/24".into())
    );
    assert_eq!(client_host("0.0.0.0".parse().unwrap()), "127.0.0.1");
}

/// An existing lab made with `first`, as Docker shows it (env as we set it, plus what an
/// image's `ENV` adds).
fn existing(first: &Plan) -> Observed {
    let mut containers = running(first);
    for c in &mut containers {
        c.env.push("PATH=/usr/local/sbin:/bin".into());
    }
    Observed {
        containers,
        network_exists: true,
        network_subnet: Some("172.28.0.0/24".into()),
        ..Default::default()
    }
}

#[test]
fn the_env_keys_label_names_our_keys_and_never_a_value() {
    let plan = plan_up(&lab(1, 1), &Observed::default(), &inputs()).unwrap();
    for n in plan.nodes() {
        let keys = &n.spec.labels[names::LABEL_ENV_KEYS];
        assert!(keys.split(',').any(|k| k == "K3S_TOKEN"), "{keys}");
        assert!(!keys.contains("tok"), "{keys}");
        assert!(!keys.contains('='), "{keys}");
    }
}

#[test]
fn a_changed_token_or_secret_env_is_masked_in_the_diff() {
    let mut l = lab(1, 1);
    let first = plan_up(&l, &Observed::default(), &inputs()).unwrap();
    let observed = existing(&first);
    l.cluster.env.push(Filtered {
        value: EnvVar {
            key: "REGISTRY_PASSWORD".into(),
            value: "hunter2-secret".into(),
            from_host: None,
        },
        filter: NodeFilter::All,
    });
    let again = Inputs {
        token: "another-token".into(),
        ..inputs()
    };
    let plan = plan_up(&l, &observed, &again).unwrap();
    let text = plan.to_string();
    assert!(text.contains("env K3S_TOKEN: *** → ***"), "{text}");
    assert!(
        text.contains("env REGISTRY_PASSWORD: (unset) → ***"),
        "{text}"
    );
    for secret in ["another-token", "hunter2-secret", "=tok"] {
        assert!(!text.contains(secret), "{secret} in:\n{text}");
    }
    // The image's own variables are not ours: never reported.
    assert!(!text.contains("PATH"), "{text}");
}

#[test]
fn a_lab_made_before_the_env_keys_label_reports_no_false_removal() {
    let mut l = lab(1, 1);
    l.cluster.env.push(Filtered {
        value: EnvVar {
            key: "HTTP_PROXY".into(),
            value: "http://proxy:3128".into(),
            from_host: None,
        },
        filter: NodeFilter::All,
    });
    let first = plan_up(&l, &Observed::default(), &inputs()).unwrap();
    let mut observed = existing(&first);
    for c in &mut observed.containers {
        c.labels.remove(names::LABEL_ENV_KEYS);
    }
    // Unchanged: nothing at all, though the container has more env than we would set.
    let plan = plan_up(&l, &observed, &inputs()).unwrap();
    assert_eq!(plan.changes, Vec::new());
    // With the label, the key the file dropped is seen as removed.
    let labelled = existing(&first);
    l.cluster.env.clear();
    let plan = plan_up(&l, &labelled, &inputs()).unwrap();
    assert!(
        plan.diff()
            .contains("env HTTP_PROXY: http://proxy:3128 → (unset)"),
        "{}",
        plan.diff()
    );
    assert!(plan.changes_nodes());
}

#[test]
fn recreates_come_after_the_api_wait_one_per_phase_agents_then_servers_then_the_balancer() {
    let l = lab(3, 2);
    let first = plan_up(&l, &Observed::default(), &inputs()).unwrap();
    let mut observed = existing(&first);
    // The node image changed; the balancer runs nginx, which did not.
    for c in observed
        .containers
        .iter_mut()
        .filter(|c| !c.name.ends_with("serverlb"))
    {
        c.image = "old/image:1".into();
    }
    let plan = plan_up(&l, &observed, &inputs()).unwrap();
    let wait = phase_of(&plan, "wait for the API");
    let order: Vec<String> = plan.phases[wait + 1..]
        .iter()
        .filter(|p| p.len() == 1)
        .filter_map(|p| match &p[0] {
            Step::RecreateNode { node, .. } => Some(node.spec.name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        order,
        [
            "playground-lab-agent-0",
            "playground-lab-agent-1",
            "playground-lab-server-0",
            "playground-lab-server-1",
            "playground-lab-server-2",
        ]
    );
    assert!(
        !plan
            .to_string()
            .contains("recreate playground-lab-serverlb")
    );
    assert!(plan.to_string().contains(
        "recreate playground-lab-agent-0 from its new spec (stop, remove, create, start; it keeps its data volume playground-lab-agent-0-data)"
    ));
}

#[test]
fn a_moved_api_port_or_host_is_refused_with_the_way_out() {
    let mut l = lab(1, 0);
    let first = plan_up(&l, &Observed::default(), &inputs()).unwrap();
    let observed = existing(&first);
    l.cluster.api.port = Some(6551);
    let err = plan_up(&l, &observed, &inputs()).unwrap_err();
    assert!(
        matches!(&err, PlanError::ApiAddressChanged { had, want, .. } if had.ends_with(":6550") && want.ends_with(":6551")),
        "{err:?}"
    );
    assert!(
        crate::diag::Report(&err)
            .to_string()
            .contains("playground drop lab"),
        "{err}"
    );
    // The same port, or none in the file (the lab keeps its own): fine.
    l.cluster.api.port = Some(6550);
    assert!(plan_up(&l, &observed, &inputs()).is_ok());
    l.cluster.api.port = None;
    l.cluster.api.host = "0.0.0.0".parse().unwrap();
    let err = plan_up(&l, &observed, &inputs()).unwrap_err();
    assert!(
        matches!(err, PlanError::ApiAddressChanged { .. }),
        "{err:?}"
    );
}

#[test]
fn a_recreated_node_has_its_new_ports_checked_before_anything_changes() {
    let mut l = lab(1, 1);
    let first = plan_up(&l, &Observed::default(), &inputs()).unwrap();
    let observed = existing(&first);
    l.cluster.ports.push(PortMapping {
        host_ip: "127.0.0.1".parse().unwrap(),
        host_port: 8088,
        container_port: 80,
        protocol: Protocol::Tcp,
        target: NodeFilter::Agents(Selection::All),
    });
    let plan = plan_up(&l, &observed, &inputs()).unwrap();
    assert_eq!(
        plan.phases[0],
        [Step::CheckPorts(vec![PortBinding {
            host_ip: "127.0.0.1".parse().unwrap(),
            host_port: 8088,
            container_port: 80,
            protocol: "tcp",
        }])]
    );
    assert!(phase_of(&plan, "recreate playground-lab-agent-0") > 0);
}

#[test]
fn every_node_turns_kubelets_disk_eviction_off_before_the_labs_own_args() {
    // F15: a lab's own `--kubelet-arg` of the same flag comes later, so it wins.
    let mut l = lab(1, 1);
    l.cluster.k3s_args.push(Filtered {
        value: "--kubelet-arg=eviction-hard=nodefs.available<5%".into(),
        filter: NodeFilter::All,
    });
    let plan = plan_up(&l, &Observed::default(), &inputs()).unwrap();
    for n in plan.nodes().filter(|n| n.role != Role::LoadBalancer) {
        let at = |arg: &str| n.spec.cmd.iter().position(|a| a == arg);
        let ours: Vec<usize> = KUBELET_ARGS.iter().map(|a| at(a).unwrap()).collect();
        let theirs = at("--kubelet-arg=eviction-hard=nodefs.available<5%").unwrap();
        assert!(ours.iter().all(|o| *o < theirs), "{:?}", n.spec.cmd);
    }
}

#[test]
fn a_command_change_shows_what_differs_not_the_args_every_node_carries() {
    let v = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    let show = |a: &str, b: &str| diff::command_difference(&v(a), &v(b));
    assert_eq!(
        show("agent --a --b", "agent --a --b --label=x"),
        ("agent …".to_string(), "agent … --label=x".to_string())
    );
    assert_eq!(
        show("server --a --tls-san x", "server --a --tls-san y"),
        ("server … x".to_string(), "server … y".to_string())
    );
    assert_eq!(
        show("agent --old --b", "agent --new --b"),
        ("agent --old …".to_string(), "agent --new …".to_string())
    );
    assert_eq!(
        show("agent", "server"),
        ("agent".to_string(), "server".to_string())
    );
}

#[test]
fn a_value_from_the_host_marks_its_node_and_is_masked_in_the_diff() {
    let mut l = lab(1, 0);
    l.cluster.env.push(Filtered {
        value: crate::config::EnvVar {
            key: "GREETING".into(),
            value: "from-the-shell-1".into(),
            from_host: Some(crate::config::HostValue {
                var: "MY_GREETING".into(),
                unset: None,
            }),
        },
        filter: NodeFilter::All,
    });
    let first = plan_up(&l, &Observed::default(), &inputs()).unwrap();
    let server = first.nodes().next().unwrap();
    assert_eq!(
        server
            .spec
            .labels
            .get(names::LABEL_SECRET_ENV)
            .map(String::as_str),
        Some("GREETING")
    );
    // The shell's value changed: the diff says so, without either value.
    let observed = Observed {
        containers: running(&first),
        network_exists: true,
        network_subnet: Some("172.28.0.0/24".into()),
        ..Default::default()
    };
    l.cluster.env[0].value.value = "from-the-shell-2".into();
    let plan = plan_up(&l, &observed, &inputs()).unwrap();
    let diff = plan.diff();
    assert!(diff.contains("env GREETING: *** → ***"), "{diff}");
    assert!(!diff.contains("from-the-shell"), "{diff}");
}

/// `cluster.registries` with mirrors, a credential from the host and a CA file.
fn with_registries(l: &mut Lab, password: &str) {
    l.cluster.registries = Some(crate::config::UserRegistries::sample(password));
}

#[test]
fn the_users_registries_are_written_into_new_nodes_even_without_cache_or_registry() {
    let mut l = lab(1, 1);
    with_registries(&mut l, "s3cret-pw");
    let plan = plan_up(&l, &Observed::default(), &inputs()).unwrap();
    let text = plan.to_string();
    let mirrors = phase_of(&plan, "write /etc/rancher/k3s/registries.yaml");
    let Step::WriteMirrors {
        nodes,
        cache: None,
        registry: None,
        user: Some(user),
    } = &plan.phases[mirrors][0]
    else {
        panic!("{text}")
    };
    assert_eq!(
        nodes,
        &["playground-lab-server-0", "playground-lab-agent-0"]
    );
    assert!(user.configs.contains_key("corp.example:5000"));
    assert!(
        text.contains("corp.example:5000 (cluster.registries)")
            && text.contains("configs: corp.example:5000"),
        "{text}"
    );
    // The CA file is bound where the merged file names it; every k3s node carries the digest.
    for n in plan.nodes().filter(|n| n.role != Role::LoadBalancer) {
        assert!(
            n.spec.binds.contains(
                &"/home/me/corp-ca.pem:/etc/rancher/k3s/playground-registries/0/ca.pem:ro"
                    .to_string()
            ),
            "{:?}",
            n.spec.binds
        );
        assert_eq!(
            n.spec.labels[crate::cluster::k3s::registries::LABEL_REGISTRIES],
            "d1"
        );
    }
    // The plan never shows a credential, nor does its Debug form.
    assert!(!text.contains("s3cret-pw") && !format!("{plan:?}").contains("s3cret-pw"));
}

#[test]
fn changed_registries_are_a_node_change_and_the_recreated_node_gets_them() {
    let l = lab(1, 1);
    let first = plan_up(&l, &Observed::default(), &inputs()).unwrap();
    let mut changed = l.clone();
    with_registries(&mut changed, "s3cret-pw");
    let plan = plan_up(&changed, &existing(&first), &inputs()).unwrap();
    let diff = plan.diff();
    assert!(diff.contains("registries: (none) → entries d1"), "{diff}");
    assert!(!diff.contains("s3cret-pw"), "{diff}");
    let recreated: Vec<&Option<crate::config::UserRegistries>> = plan
        .phases
        .iter()
        .flatten()
        .filter_map(|s| match s {
            Step::RecreateNode { user, .. } => Some(user),
            _ => None,
        })
        .collect();
    assert_eq!(recreated.len(), 2, "{plan}");
    assert!(recreated.iter().all(|u| u.is_some()));
    // The same entries again: nothing to do.
    let made = plan_up(&changed, &Observed::default(), &inputs()).unwrap();
    assert!(
        plan_up(&changed, &existing(&made), &inputs())
            .unwrap()
            .changes
            .is_empty()
    );
}
