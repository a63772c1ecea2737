use super::super::names;
use super::export::{LABEL_EXPORT_LAB, exportable_refs};
use super::*;

#[test]
fn a_cache_is_shared_unpublished_and_never_a_lab_object() {
    let s = CacheSettings::default();
    let spec = s.container_spec(&UPSTREAMS[0]);
    assert_eq!(spec.name, "playground-cache-docker-io");
    assert_eq!(spec.image, "registry:3");
    // Never expires what it cached (a lab made again 30 days later still finds it).
    assert_eq!(
        spec.env,
        vec![
            "REGISTRY_PROXY_REMOTEURL=https://registry-1.docker.io",
            "REGISTRY_PROXY_TTL=0s"
        ]
    );
    assert_eq!(
        spec.binds,
        vec!["playground-cache-docker-io-data:/var/lib/registry"]
    );
    // No restart policy: offline, the registry panics at start and would crash-loop.
    assert!(spec.ports.is_empty() && !spec.privileged && !spec.restart_unless_stopped);
    assert_eq!(spec.labels[names::LABEL_CACHE], "docker.io");
    assert_eq!(spec.labels[names::LABEL_CACHE_NAMESPACE], "default");
    assert!(!spec.labels.contains_key(names::LABEL_CLUSTER));
    let t = CacheSettings {
        image: "i".into(),
        namespace: "ns1".into(),
    };
    assert_eq!(
        t.volume(&UPSTREAMS[3]),
        "playground-cache-ns1-registry-k8s-io-data"
    );
}

#[test]
fn only_tagged_references_are_exported() {
    let listed = format!(
        "public.ecr.aws/docker/library/redis:8.2.3-alpine\nsha256:{a}\n\
         docker.io/rancher/mirrored-pause@sha256:{a}\ndocker.io/rancher/mirrored-pause:3.6\n\
         public.ecr.aws/docker/library/redis:8.2.3-alpine\n\n",
        a = "a".repeat(64)
    );
    assert_eq!(
        exportable_refs(&listed),
        vec![
            "docker.io/rancher/mirrored-pause:3.6",
            "public.ecr.aws/docker/library/redis:8.2.3-alpine"
        ]
    );
}

#[test]
fn no_upstream_is_proxied_that_the_proxy_cannot_serve() {
    // distribution/distribution#4383, #3842: ECR Public refuses the proxy; its images are
    // kept by the export instead.
    assert!(UPSTREAMS.iter().all(|u| !u.host.ends_with("ecr.aws")));
    let s = CacheSettings::default();
    let lab = crate::lab::LabName::parse("lab").unwrap();
    assert_eq!(s.export_volume(&lab), "playground-cache-images-lab");
    assert_eq!(s.export_labels(&lab)[LABEL_EXPORT_LAB], "lab");
    assert!(!s.export_labels(&lab).contains_key(names::LABEL_CLUSTER));
}

#[test]
fn sizes_read_as_people_do() {
    assert_eq!(human_size(512), "512 B");
    assert_eq!(human_size(1536), "1.50 KiB");
    assert_eq!(human_size(3 * 1024 * 1024 * 1024), "3.00 GiB");
}
