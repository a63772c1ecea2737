//! Request handling: authentication, then dispatch by path to discovery, OpenAPI,
//! health endpoints or the resource verbs.
//!
//! Paths follow the apiserver's layout:
//! `/api/v1[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]` for the core group and
//! `/apis/{group}/{version}/...` for the others. `/api/v1/namespaces/{name}[/status]` is
//! the Namespace resource itself.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use super::Shared;
use super::discovery;
use super::node::K3S_VERSION;
use super::openapi;
use super::resource::{self, PatchKind, WriteOpts};
use super::select::Selector;
use super::status::{ApiError, ApiResult};
use super::table;
use super::watch::{self, WatchParams};

pub type Body = BoxBody<Bytes, Infallible>;

/// Largest request body accepted (the apiserver's limit is 3 MiB per object; the
/// biggest Argo CD CRD is ~350 KB).
const MAX_BODY: usize = 16 << 20;

fn respond(code: u16, content_type: &str, body: Bytes) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", content_type)
        .body(Full::new(body).boxed())
        .unwrap()
}

fn json_response(code: u16, v: &Value) -> Response<Body> {
    respond(code, "application/json", Bytes::from(v.to_string()))
}

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.to_status())
}

/// The parts of a request the handlers look at.
struct Req {
    method: Method,
    query: HashMap<String, String>,
    accept: String,
    content_type: String,
    user_agent: String,
    body: Bytes,
}

impl Req {
    fn q(&self, k: &str) -> Option<&str> {
        self.query.get(k).map(String::as_str)
    }

    fn flag(&self, k: &str) -> bool {
        matches!(self.q(k), Some("true" | "1" | ""))
    }

    /// `fieldManager`, or what the server derives from the User-Agent.
    fn manager(&self) -> String {
        match self.q("fieldManager") {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => self
                .user_agent
                .split('/')
                .next()
                .filter(|s| !s.is_empty())
                .unwrap_or("unknown")
                .to_string(),
        }
    }

    fn write_opts(&self) -> WriteOpts {
        WriteOpts {
            manager: self.manager(),
            dry_run: self.q("dryRun").is_some_and(|v| v == "All"),
        }
    }

    fn json_body(&self) -> ApiResult<Value> {
        if self
            .content_type
            .starts_with("application/vnd.kubernetes.protobuf")
        {
            return super::protobuf::decode(&self.body).ok_or_else(|| {
                ApiError::new(415, "UnsupportedMediaType", "the double decodes protobuf only for Namespace, ConfigMap, Secret and ServiceAccount; send JSON")
            });
        }
        serde_json::from_slice(&self.body).map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        })
    }

    /// Apply bodies are YAML (JSON being a subset).
    fn yaml_body(&self) -> ApiResult<Value> {
        if let Ok(v) = serde_json::from_slice(&self.body) {
            return Ok(v);
        }
        let text =
            std::str::from_utf8(&self.body).map_err(|e| ApiError::bad_request(e.to_string()))?;
        serde_saphyr::from_str::<Value>(text)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
    }
}

fn parse_query(q: Option<&str>) -> HashMap<String, String> {
    q.unwrap_or("")
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let dec = |s: &str| {
                urlencoding::decode(&s.replace('+', " "))
                    .map(|c| c.into_owned())
                    .unwrap_or_default()
            };
            (dec(k), dec(v))
        })
        .collect()
}

fn is_public(path: &str) -> bool {
    path == "/version"
        || ["/readyz", "/livez", "/healthz"]
            .iter()
            .any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

fn token_matches(expected: &str, presented: &str) -> bool {
    // k3s tokens may be full (`K10<ca-hash>::server:<secret>`) or just the secret.
    let secret = |t: &str| {
        t.rsplit_once("::")
            .map(|(_, s)| s.trim_start_matches("server:").to_string())
            .unwrap_or(t.to_string())
    };
    presented == expected || secret(presented) == secret(expected)
}

pub async fn route(
    shared: Arc<Shared>,
    client_cert: bool,
    req: Request<Incoming>,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    shared.requests.lock().unwrap().push(format!(
        "{} {}",
        parts.method,
        parts
            .uri
            .path_and_query()
            .map_or(path.as_str(), |p| p.as_str())
    ));
    let header = |n: &str| {
        parts
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let bearer = header("authorization")
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_string());
    // The admin client certificate, the node token (k3s accepts it as a bearer token), or a
    // ServiceAccount token (the legacy validator, see `tokens`).
    let authed = client_cert
        || matches!((&shared.token, &bearer), (Some(t), Some(b)) if !t.is_empty() && token_matches(t, b))
        || bearer
            .as_deref()
            .is_some_and(|b| super::tokens::authenticate(&shared.store.lock().unwrap(), b));
    if !authed && !is_public(&path) {
        return error_response(&ApiError::unauthorized());
    }
    let body = match http_body_util::Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return error_response(&ApiError::new(413, "RequestEntityTooLarge", e.to_string()));
        }
    };
    let req = Req {
        method: parts.method.clone(),
        query: parse_query(parts.uri.query()),
        accept: header("accept"),
        content_type: header("content-type"),
        user_agent: header("user-agent"),
        body,
    };
    match dispatch(&shared, &path, &req) {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

fn dispatch(shared: &Shared, path: &str, req: &Req) -> ApiResult<Response<Body>> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let get_only = |f: &dyn Fn() -> ApiResult<Value>| -> ApiResult<Response<Body>> {
        if req.method != Method::GET {
            return Err(ApiError::method_not_allowed());
        }
        Ok(json_response(200, &f()?))
    };
    match segs.as_slice() {
        ["version"] => get_only(&|| {
            Ok(json!({
                "major": "1", "minor": "33", "gitVersion": K3S_VERSION,
                "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                "buildDate": "2025-09-01T00:00:00Z", "goVersion": "go1.24.6", "compiler": "gc",
                "platform": format!("linux/{}", if cfg!(target_arch = "aarch64") { "arm64" } else { "amd64" }),
            }))
        }),
        ["readyz" | "livez" | "healthz", ..] => Ok(respond(
            200,
            "text/plain; charset=utf-8",
            Bytes::from_static(b"ok"),
        )),
        ["api"] => get_only(&|| Ok(discovery::api_versions(&shared.server_address))),
        ["api", "v1"] => get_only(&|| {
            discovery::resource_list(&shared.store.lock().unwrap(), "", "v1")
                .ok_or_else(ApiError::no_route)
        }),
        ["apis"] => get_only(&|| Ok(discovery::api_group_list(&shared.store.lock().unwrap()))),
        ["apis", g] => get_only(&|| {
            discovery::api_group(&shared.store.lock().unwrap(), g).ok_or_else(ApiError::no_route)
        }),
        ["apis", g, v] => get_only(&|| {
            discovery::resource_list(&shared.store.lock().unwrap(), g, v)
                .ok_or_else(ApiError::no_route)
        }),
        ["openapi", "v3"] => get_only(&|| Ok(openapi::root(&shared.store.lock().unwrap()))),
        ["openapi", "v3", "api", v] => get_only(&|| {
            openapi::gv_doc(&shared.store.lock().unwrap(), "", v).ok_or_else(ApiError::no_route)
        }),
        ["openapi", "v3", "apis", g, v] => get_only(&|| {
            openapi::gv_doc(&shared.store.lock().unwrap(), g, v).ok_or_else(ApiError::no_route)
        }),
        // The HA stand-in (see `cluster`): k3s serves its bootstrap data at this path.
        ["v1-k3s", "server-bootstrap"] => get_only(&|| {
            let dir = shared.state_dir.as_deref().ok_or_else(ApiError::no_route)?;
            super::cluster::bootstrap(dir)
                .map_err(|e| ApiError::new(500, "InternalError", format!("{e:#}")))
        }),
        // The double's own membership exchange (etcd does this on its peer port).
        ["v1-k3s", "double-members"] => {
            let dir = shared.state_dir.as_deref().ok_or_else(ApiError::no_route)?;
            let internal = |e: anyhow::Error| ApiError::new(500, "InternalError", format!("{e:#}"));
            let members = if req.method == Method::POST {
                // A server without `--cluster-init` keeps its data in sqlite (kine) and has
                // no etcd to join until restarted with it (F18; k3s-io/k3s #3982). The wording
                // is the double's own: k3s's exact message for this case was not found.
                if super::cluster::read_members(dir).is_none() {
                    return Err(ApiError::new(
                        400,
                        "BadRequest",
                        "this server is not running embedded etcd (it was started without --cluster-init); a server cannot join it",
                    ));
                }
                let names: Vec<String> = serde_json::from_slice(&req.body)
                    .map_err(|e| ApiError::new(400, "BadRequest", e.to_string()))?;
                super::cluster::add_members(dir, &names).map_err(internal)?
            } else {
                super::cluster::read_members(dir).unwrap_or_default()
            };
            Ok(json_response(200, &json!(members)))
        }
        ["api", "v1", rest @ ..] => resource_request(shared, "", "v1", rest, req),
        ["apis", g, v, rest @ ..] => resource_request(shared, g, v, rest, req),
        _ => Err(ApiError::no_route()),
    }
}

fn resource_request(
    shared: &Shared,
    group: &str,
    version: &str,
    rest: &[&str],
    req: &Req,
) -> ApiResult<Response<Body>> {
    let (ns, plural, name, sub) = match rest {
        ["namespaces", ns, plural, tail @ ..]
            if !(tail.is_empty() && matches!(*plural, "status" | "finalize")) =>
        {
            (
                Some(*ns),
                *plural,
                tail.first().copied(),
                tail.get(1).copied(),
            )
        }
        [plural, tail @ ..] => (None, *plural, tail.first().copied(), tail.get(1).copied()),
        [] => return Err(ApiError::no_route()),
    };
    if rest.len() > 5 || (ns.is_none() && rest.len() > 3) {
        return Err(ApiError::no_route());
    }
    let info = discovery::resolve(&shared.store.lock().unwrap(), group, version, plural)
        .ok_or_else(ApiError::no_route)?;
    if ns.is_some() && !info.namespaced {
        return Err(ApiError::no_route());
    }
    if info.namespaced && ns.is_none() && name.is_some() {
        return Err(ApiError::no_route());
    }
    let ns_str = ns.unwrap_or("");
    let table_include = table::wants_table(&req.accept)
        .then(|| req.q("includeObject").unwrap_or("Metadata").to_string());
    let o = req.write_opts();

    if sub == Some("scale") {
        let name = name.unwrap_or_default();
        if !resource::has_scale(&info) {
            return Err(ApiError::no_route());
        }
        let mut store = shared.store.lock().unwrap();
        let obj = match req.method {
            Method::GET => resource::scale_of(&resource::get(&store, &info, ns_str, name)?),
            Method::PUT => {
                let body = req.json_body()?;
                resource::write_scale(
                    &mut store,
                    &info,
                    ns_str,
                    name,
                    |s| {
                        *s = body;
                        Ok(())
                    },
                    &o,
                )?
            }
            Method::PATCH => {
                let kind = PatchKind::from_content_type(&req.content_type)
                    .filter(|k| *k != PatchKind::Apply)
                    .ok_or_else(|| ApiError::unsupported_media_type(&req.content_type))?;
                let mut patch = req.json_body()?;
                let change = |s: &mut Value| match kind {
                    PatchKind::Json => {
                        super::apply::json_patch(s, &patch).map_err(ApiError::bad_request)
                    }
                    _ => {
                        super::apply::strip_directives(&mut patch);
                        super::apply::merge_patch(s, &patch);
                        Ok(())
                    }
                };
                resource::write_scale(&mut store, &info, ns_str, name, change, &o)?
            }
            _ => return Err(ApiError::method_not_allowed()),
        };
        return Ok(json_response(200, &obj));
    }
    if sub == Some("eviction") {
        return evict(shared, &info, ns_str, name.unwrap_or_default(), req);
    }
    if sub == Some("log") {
        return pod_log(shared, &info, ns_str, name.unwrap_or_default(), req);
    }
    match (&req.method, name) {
        (&Method::GET, None) => {
            let sel = Selector::parse(req.q("labelSelector"), req.q("fieldSelector"))?;
            sel.check_kind(&info.plural)?;
            if req.flag("watch") {
                let p = WatchParams {
                    resource_version: req.q("resourceVersion").map(String::from),
                    timeout_seconds: req.q("timeoutSeconds").and_then(|s| s.parse().ok()),
                    bookmarks: req.flag("allowWatchBookmarks"),
                    send_initial_events: req.flag("sendInitialEvents"),
                    table: table_include,
                };
                let body = watch::serve(&shared.store, info, ns.map(String::from), sel, p)?;
                let ct = if table::wants_table(&req.accept) {
                    "application/json;as=Table;v=v1;g=meta.k8s.io"
                } else {
                    "application/json"
                };
                return Ok(Response::builder()
                    .status(200)
                    .header("content-type", ct)
                    .body(body)
                    .unwrap());
            }
            let (items, rv) = resource::list(&shared.store.lock().unwrap(), &info, ns, &sel);
            Ok(match table_include {
                Some(include) => {
                    json_response(200, &table::to_table(&info, &items, Some(rv), &include))
                }
                None => json_response(200, &resource::list_doc(&info, items, rv)),
            })
        }
        (&Method::GET, Some(name)) => {
            if sub.is_some_and(|s| s != "status" || !info.has_status) {
                return Err(ApiError::no_route());
            }
            let obj = resource::get(&shared.store.lock().unwrap(), &info, ns_str, name)?;
            Ok(match table_include {
                Some(include) => json_response(
                    200,
                    &table::to_table(&info, std::slice::from_ref(&obj), None, &include),
                ),
                None => json_response(200, &obj),
            })
        }
        (&Method::POST, None) => {
            let body = req.json_body()?;
            let obj = resource::create(&mut shared.store.lock().unwrap(), &info, ns, body, &o)?;
            Ok(json_response(201, &obj))
        }
        (&Method::PUT, Some(name)) => {
            let body = req.json_body()?;
            let obj = resource::update(
                &mut shared.store.lock().unwrap(),
                &info,
                ns_str,
                name,
                sub,
                body,
                &o,
            )?;
            Ok(json_response(200, &obj))
        }
        (&Method::PATCH, Some(name)) => {
            let kind = PatchKind::from_content_type(&req.content_type)
                .ok_or_else(|| ApiError::unsupported_media_type(&req.content_type))?;
            if let Some(v) = req.q("fieldValidation")
                && !matches!(v, "Strict" | "Warn" | "Ignore")
            {
                return Err(ApiError::bad_request(format!(
                    "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {v:?}"
                )));
            }
            if kind == PatchKind::Apply {
                if req.q("fieldManager").is_none_or(str::is_empty) {
                    return Err(ApiError::invalid(
                        "meta.k8s.io",
                        "PatchOptions",
                        "",
                        &[(
                            "FieldValueRequired",
                            "fieldManager",
                            "Required value: is required for apply patch".into(),
                        )],
                    ));
                }
                let body = req.yaml_body()?;
                let (obj, created) = resource::server_side_apply(
                    &mut shared.store.lock().unwrap(),
                    &info,
                    ns_str,
                    name,
                    sub,
                    body,
                    req.flag("force"),
                    &o,
                )?;
                return Ok(json_response(if created { 201 } else { 200 }, &obj));
            }
            let body = req.json_body()?;
            let obj = resource::patch(
                &mut shared.store.lock().unwrap(),
                &info,
                ns_str,
                name,
                sub,
                kind,
                body,
                &o,
            )?;
            Ok(json_response(200, &obj))
        }
        (&Method::DELETE, Some(name)) if sub.is_none() => {
            let obj = resource::delete(
                &mut shared.store.lock().unwrap(),
                &info,
                ns_str,
                name,
                o.dry_run,
            )?;
            Ok(json_response(200, &obj))
        }
        (&Method::DELETE, None) => {
            let sel = Selector::parse(req.q("labelSelector"), req.q("fieldSelector"))?;
            sel.check_kind(&info.plural)?;
            let mut store = shared.store.lock().unwrap();
            let (items, _) = resource::list(&store, &info, ns, &sel);
            let mut deleted = Vec::new();
            for it in items {
                let (ins, iname) = (
                    super::meta::namespace_of(&it).to_string(),
                    super::meta::name_of(&it).to_string(),
                );
                deleted.push(resource::delete(
                    &mut store, &info, &ins, &iname, o.dry_run,
                )?);
            }
            let rv = store.current_rv();
            Ok(json_response(200, &resource::list_doc(&info, deleted, rv)))
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// A subresource only core Pods have, served for one method.
fn pod_subresource(
    info: &super::discovery::ResourceInfo,
    req: &Req,
    method: Method,
) -> ApiResult<()> {
    if info.plural != "pods" || !info.group.is_empty() {
        return Err(ApiError::no_route());
    }
    if req.method != method {
        return Err(ApiError::method_not_allowed());
    }
    Ok(())
}

/// `POST pods/NAME/eviction` (policy/v1 Eviction), as kubernetes
/// `pkg/registry/core/pod/storage/eviction.go` answers it: the name in the body must be the
/// URL's ("name in URL does not match name in Eviction object", 400), a missing pod is 404,
/// and an allowed eviction deletes the pod and answers 201 with a Success Status. The double
/// has no PodDisruptionBudgets, so every eviction is allowed.
fn evict(
    shared: &Shared,
    info: &super::discovery::ResourceInfo,
    ns: &str,
    name: &str,
    req: &Req,
) -> ApiResult<Response<Body>> {
    pod_subresource(info, req, Method::POST)?;
    let body = req.json_body()?;
    if body["kind"].as_str().is_some_and(|k| k != "Eviction") {
        return Err(ApiError::bad_request(format!(
            "not a Eviction object: {}",
            body["kind"]
        )));
    }
    if body["metadata"]["name"].as_str() != Some(name) {
        return Err(ApiError::bad_request(
            "name in URL does not match name in Eviction object",
        ));
    }
    let o = req.write_opts();
    resource::delete(&mut shared.store.lock().unwrap(), info, ns, name, o.dry_run)?;
    Ok(json_response(
        201,
        &serde_json::json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
        }),
    ))
}

/// The annotation whose value a Pod's log is, in this double: no container runs here, so a
/// test writes what the container "printed" (a stand-in knob, not a Kubernetes behaviour).
pub const LOG_ANNOTATION: &str = "double.playground.test/log";

/// `GET pods/{name}/log[?container=C]`: the container is checked as the apiserver checks it
/// (kubernetes `pkg/registry/core/pod/strategy.go`, `validateContainer`): none named is the
/// one container, or a 400 naming the choices; an unknown one is a 400. The text is the Pod's
/// [`LOG_ANNOTATION`], with `{container}` replaced by the container's name, or nothing.
fn pod_log(
    shared: &Shared,
    info: &super::discovery::ResourceInfo,
    ns: &str,
    name: &str,
    req: &Req,
) -> ApiResult<Response<Body>> {
    pod_subresource(info, req, Method::GET)?;
    let pod = resource::get(&shared.store.lock().unwrap(), info, ns, name)?;
    let names = |key: &str| -> Vec<String> {
        pod["spec"][key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(String::from))
            .collect()
    };
    let containers = names("containers");
    let all: Vec<String> = names("initContainers")
        .into_iter()
        .chain(containers.clone())
        .collect();
    let container = match req.q("container").filter(|c| !c.is_empty()) {
        Some(c) if all.iter().any(|n| n == c) => c.to_string(),
        Some(c) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )));
        }
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                all.join(" ")
            )));
        }
    };
    let text = pod["metadata"]["annotations"][LOG_ANNOTATION]
        .as_str()
        .unwrap_or_default()
        .replace("{container}", &container);
    Ok(respond(200, "text/plain", Bytes::from(text)))
}
