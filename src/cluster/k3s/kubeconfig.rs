//! The kubeconfig k3s writes in a server: where, and when it is whole.

/// Where k3s writes its kubeconfig inside a server (`K3S_KUBECONFIG_OUTPUT`).
pub const KUBECONFIG_OUTPUT: &str = "/output/kubeconfig.yaml";

/// Why a kubeconfig that parses is not the whole one k3s writes, if it is not. k3s writes
/// `clusters`, `contexts`, `current-context`, then `users` (client-go's field order), each
/// credential a base64 PEM block: an empty file parses as an empty kubeconfig, a file cut
/// before `current-context` or `users` lacks them, and one cut inside a base64 value leaves a
/// PEM block without its `-----END` line (or no valid base64 at all).
pub fn incomplete(kc: &::kube::config::Kubeconfig) -> Option<String> {
    use base64::Engine as _;
    use secrecy::ExposeSecret;

    let Some(current) = kc.current_context.as_deref() else {
        return Some("no current-context".into());
    };
    let Some(context) = kc
        .contexts
        .iter()
        .find(|c| c.name == current)
        .and_then(|c| c.context.as_ref())
    else {
        return Some(format!("no context {current}"));
    };
    let Some(cluster) = kc
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)
        .and_then(|c| c.cluster.as_ref())
    else {
        return Some(format!("no cluster {}", context.cluster));
    };
    let user = context.user.as_deref().unwrap_or_default();
    let Some(auth) = kc
        .auth_infos
        .iter()
        .find(|a| a.name == user)
        .and_then(|a| a.auth_info.as_ref())
    else {
        return Some(format!("no user {user}"));
    };
    let data = [
        (
            "certificate-authority-data",
            cluster.certificate_authority_data.as_deref(),
        ),
        (
            "client-certificate-data",
            auth.client_certificate_data.as_deref(),
        ),
        (
            "client-key-data",
            auth.client_key_data.as_ref().map(|k| k.expose_secret()),
        ),
    ];
    for (field, value) in data {
        let Some(value) = value else { continue };
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(value.trim()) else {
            return Some(format!("{field} is not whole base64"));
        };
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim();
        if !(text.starts_with("-----BEGIN ")
            && text.contains("-----END ")
            && text.ends_with("-----"))
        {
            return Some(format!("{field} is not a whole PEM block"));
        }
    }
    // k3s's admin user has a client certificate and its key; the key comes last in the file.
    if auth.client_certificate_data.is_some() && auth.client_key_data.is_none() {
        return Some(format!("user {user} has a certificate but no key"));
    }
    let credentials = auth.client_key_data.is_some()
        || auth.client_key.is_some()
        || auth.token.is_some()
        || auth.token_file.is_some()
        || auth.exec.is_some()
        || auth.auth_provider.is_some()
        || auth.username.is_some();
    if !credentials {
        return Some(format!("user {user} has no credentials yet"));
    }
    None
}
