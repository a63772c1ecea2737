//! `nginx` stand-in: the subset of nginx's `stream` module that playground's load balancer
//! config uses (`plan::lb_config`), so multi-server labs run without the nginx image.
//!
//! Started as `nginx` (argv[0]), it reads `/etc/nginx/nginx.conf` (or `-c FILE`) and accepts
//! `error_log`, `worker_processes`, `events { worker_connections }` and
//! `stream { upstream NAME { server IP:PORT [max_fails=N] [fail_timeout=Ns]; }
//! server { listen PORT [udp]; proxy_pass NAME; proxy_timeout T; proxy_connect_timeout T; } }`.
//! Anything else is refused as nginx refuses it: `[emerg] unknown directive`. Like nginx it
//! resolves upstream addresses once, at start, and dies with "host not found in upstream"
//! when a name does not resolve (k3d #947), and prints "start worker processes" when it
//! listens (nginx `src/os/unix/ngx_process_cycle.c`).
//!
//! TCP is proxied round-robin; a failed connect marks the upstream down for `fail_timeout`
//! after `max_fails` failures and the next upstream is tried, as nginx's
//! `ngx_stream_upstream_round_robin.c` does. UDP is relayed per client address.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

const CONF: &str = "/etc/nginx/nginx.conf";

pub fn invoked_as_nginx() -> bool {
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .is_some_and(|p| p.file_name().is_some_and(|n| n == "nginx"))
}

/// nginx's error log format: `2026/01/01 00:00:00 [notice] 1#1: ...`.
fn log(level: &str, msg: &str) {
    let now = time::OffsetDateTime::now_utc();
    eprintln!(
        "{:04}/{:02}/{:02} {:02}:{:02}:{:02} [{level}] {}#{}: {msg}",
        now.year(),
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        std::process::id(),
        std::process::id(),
    );
}

#[derive(Debug)]
struct Peer {
    addr: SocketAddr,
    max_fails: u32,
    fail_timeout: Duration,
    fails: u32,
    down_until: Option<Instant>,
}

#[derive(Debug)]
struct Upstream {
    peers: Vec<Peer>,
    next: usize,
}

#[derive(Debug)]
struct Server {
    port: u16,
    udp: bool,
    upstream: String,
    connect_timeout: Duration,
    timeout: Duration,
    line: usize,
}

#[derive(Debug, Default)]
struct Config {
    upstreams: HashMap<String, Upstream>,
    servers: Vec<Server>,
}

/// Tokens with their line: words, `{`, `}`, `;`. Quotes and `#` comments as nginx reads them.
fn tokenize(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut word = String::new();
        let mut quote: Option<char> = None;
        let flush = |w: &mut String, out: &mut Vec<(String, usize)>| {
            if !w.is_empty() {
                out.push((std::mem::take(w), i + 1));
            }
        };
        for ch in line.chars() {
            match (quote, ch) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => word.push(c),
                (None, '"' | '\'') => quote = Some(ch),
                (None, '#') => break,
                (None, c) if c.is_whitespace() => flush(&mut word, &mut out),
                (None, '{' | '}' | ';') => {
                    flush(&mut word, &mut out);
                    out.push((ch.to_string(), i + 1));
                }
                (None, c) => word.push(c),
            }
        }
        flush(&mut word, &mut out);
    }
    out
}

/// nginx time values: `600s`, `2s`, `500ms`, `1m`, bare seconds.
fn duration(v: &str, file: &str, line: usize) -> Result<Duration> {
    let (num, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let n: u64 = num
        .parse()
        .ok()
        .with_context(|| format!("invalid value \"{v}\" in {file}:{line}"))?;
    Ok(match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(60 * n),
        _ => bail!("invalid value \"{v}\" in {file}:{line}"),
    })
}

fn parse(text: &str, file: &str) -> Result<Config> {
    let toks = tokenize(text);
    let mut cfg = Config::default();
    let mut i = 0;
    // A directive: its words up to `;` or `{`.
    let directive = |i: &mut usize| -> Result<(Vec<String>, usize, bool)> {
        let line = toks[*i].1;
        let mut words = Vec::new();
        while *i < toks.len() {
            let (t, _) = &toks[*i];
            *i += 1;
            match t.as_str() {
                ";" => return Ok((words, line, false)),
                "{" => return Ok((words, line, true)),
                "}" => bail!("unexpected \"}}\" in {file}:{line}"),
                _ => words.push(t.clone()),
            }
        }
        bail!("unexpected end of file, expecting \";\" or \"}}\" in {file}:{line}")
    };
    let unknown =
        |w: &str, line: usize| anyhow::anyhow!("unknown directive \"{w}\" in {file}:{line}");
    let close = |i: &mut usize| -> bool {
        if toks.get(*i).is_some_and(|(t, _)| t == "}") {
            *i += 1;
            true
        } else {
            false
        }
    };
    while i < toks.len() {
        let (words, line, block) = directive(&mut i)?;
        match (words[0].as_str(), block) {
            ("error_log" | "worker_processes" | "pid" | "user", false) => {}
            ("events", true) => {
                while !close(&mut i) {
                    let (w, line, b) = directive(&mut i)?;
                    if w[0] != "worker_connections" || b {
                        return Err(unknown(&w[0], line));
                    }
                }
            }
            ("stream", true) => {
                while !close(&mut i) {
                    let (w, line, b) = directive(&mut i)?;
                    match (w[0].as_str(), b) {
                        ("upstream", true) => {
                            let name = w.get(1).cloned().with_context(|| {
                                format!("invalid number of arguments in \"upstream\" directive in {file}:{line}")
                            })?;
                            let mut peers = Vec::new();
                            while !close(&mut i) {
                                let (s, line, b) = directive(&mut i)?;
                                if s[0] != "server" || b || s.len() < 2 {
                                    return Err(unknown(&s[0], line));
                                }
                                // Resolved once, here, as nginx does at start.
                                let addr = std::net::ToSocketAddrs::to_socket_addrs(s[1].as_str())
                                    .ok()
                                    .and_then(|mut a| a.next())
                                    .with_context(|| {
                                        format!(
                                            "host not found in upstream \"{}\" in {file}:{line}",
                                            s[1]
                                        )
                                    })?;
                                let mut peer = Peer {
                                    addr,
                                    max_fails: 1,
                                    fail_timeout: Duration::from_secs(10),
                                    fails: 0,
                                    down_until: None,
                                };
                                for p in &s[2..] {
                                    match p.split_once('=') {
                                        Some(("max_fails", v)) => {
                                            peer.max_fails = v.parse().with_context(|| {
                                                format!(
                                                    "invalid parameter \"{p}\" in {file}:{line}"
                                                )
                                            })?
                                        }
                                        Some(("fail_timeout", v)) => {
                                            peer.fail_timeout = duration(v, file, line)?
                                        }
                                        _ => bail!("invalid parameter \"{p}\" in {file}:{line}"),
                                    }
                                }
                                peers.push(peer);
                            }
                            cfg.upstreams.insert(name, Upstream { peers, next: 0 });
                        }
                        ("server", true) => {
                            let mut srv = Server {
                                port: 0,
                                udp: false,
                                upstream: String::new(),
                                connect_timeout: Duration::from_secs(60),
                                timeout: Duration::from_secs(600),
                                line,
                            };
                            while !close(&mut i) {
                                let (d, line, b) = directive(&mut i)?;
                                if b {
                                    return Err(unknown(&d[0], line));
                                }
                                let arg = d.get(1).cloned().unwrap_or_default();
                                match d[0].as_str() {
                                    "listen" => {
                                        srv.port = arg.parse().with_context(|| {
                                            format!("invalid port in \"{arg}\" of the \"listen\" directive in {file}:{line}")
                                        })?;
                                        for p in &d[2..] {
                                            match p.as_str() {
                                                "udp" => srv.udp = true,
                                                _ => bail!(
                                                    "invalid parameter \"{p}\" in {file}:{line}"
                                                ),
                                            }
                                        }
                                    }
                                    "proxy_pass" => srv.upstream = arg,
                                    "proxy_timeout" => srv.timeout = duration(&arg, file, line)?,
                                    "proxy_connect_timeout" => {
                                        srv.connect_timeout = duration(&arg, file, line)?
                                    }
                                    other => return Err(unknown(other, line)),
                                }
                            }
                            cfg.servers.push(srv);
                        }
                        (other, _) => return Err(unknown(other, line)),
                    }
                }
            }
            (other, _) => return Err(unknown(other, line)),
        }
    }
    for s in &cfg.servers {
        if s.port == 0 {
            bail!("no \"listen\" is defined for server in {file}:{}", s.line);
        }
        if !cfg.upstreams.contains_key(&s.upstream) {
            bail!("no upstream \"{}\" in {file}:{}", s.upstream, s.line);
        }
    }
    Ok(cfg)
}

type Upstreams = Arc<Mutex<HashMap<String, Upstream>>>;

/// The next peer that is not marked down, round-robin; all down: all are tried again.
fn pick(ups: &Upstreams, name: &str, tried: &[SocketAddr]) -> Option<SocketAddr> {
    let mut all = ups.lock().unwrap();
    let u = all.get_mut(name)?;
    let n = u.peers.len();
    let now = Instant::now();
    for pass in 0..2 {
        for k in 0..n {
            let idx = (u.next + k) % n;
            let p = &u.peers[idx];
            let up = pass == 1 || p.down_until.is_none_or(|t| t <= now);
            if up && !tried.contains(&p.addr) {
                u.next = (idx + 1) % n;
                return Some(p.addr);
            }
        }
    }
    None
}

fn report(ups: &Upstreams, name: &str, addr: SocketAddr, ok: bool) {
    let mut all = ups.lock().unwrap();
    let Some(p) = all
        .get_mut(name)
        .and_then(|u| u.peers.iter_mut().find(|p| p.addr == addr))
    else {
        return;
    };
    if ok {
        p.fails = 0;
        p.down_until = None;
    } else {
        p.fails += 1;
        if p.fails >= p.max_fails {
            p.down_until = Some(Instant::now() + p.fail_timeout);
            p.fails = 0;
        }
    }
}

async fn proxy_tcp(
    mut client: TcpStream,
    ups: Upstreams,
    name: String,
    connect: Duration,
    idle: Duration,
) {
    let mut tried = Vec::new();
    while let Some(addr) = pick(&ups, &name, &tried) {
        tried.push(addr);
        match tokio::time::timeout(connect, TcpStream::connect(addr)).await {
            Ok(Ok(mut up)) => {
                report(&ups, &name, addr, true);
                let _ =
                    tokio::time::timeout(idle, tokio::io::copy_bidirectional(&mut client, &mut up))
                        .await;
                return;
            }
            Ok(Err(e)) => {
                log(
                    "error",
                    &format!("connect() to {addr} failed ({e}) while connecting to upstream"),
                );
                report(&ups, &name, addr, false);
            }
            Err(_) => {
                log(
                    "error",
                    &format!(
                        "upstream timed out (110: Connection timed out) while connecting to upstream, upstream: \"{addr}\""
                    ),
                );
                report(&ups, &name, addr, false);
            }
        }
    }
    log(
        "error",
        &format!("no live upstreams while connecting to upstream \"{name}\""),
    );
}

async fn serve_udp(sock: Arc<UdpSocket>, ups: Upstreams, name: String) {
    let sessions: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>> = Default::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf).await else {
            continue;
        };
        let existing = sessions.lock().unwrap().get(&from).cloned();
        let up = match existing {
            Some(u) => u,
            None => {
                let Some(addr) = pick(&ups, &name, &[]) else {
                    continue;
                };
                let Ok(u) = UdpSocket::bind("0.0.0.0:0").await else {
                    continue;
                };
                if u.connect(addr).await.is_err() {
                    continue;
                }
                let u = Arc::new(u);
                sessions.lock().unwrap().insert(from, u.clone());
                let (back, reply) = (sock.clone(), u.clone());
                tokio::spawn(async move {
                    let mut b = vec![0u8; 65536];
                    while let Ok(n) = reply.recv(&mut b).await {
                        let _ = back.send_to(&b[..n], from).await;
                    }
                });
                u
            }
        };
        let _ = up.send(&buf[..n]).await;
    }
}

async fn run(conf: &str) -> Result<()> {
    let text =
        std::fs::read_to_string(conf).with_context(|| format!("open() \"{conf}\" failed"))?;
    let cfg = parse(&text, conf)?;
    let ups: Upstreams = Arc::new(Mutex::new(cfg.upstreams));
    for s in cfg.servers {
        let bind = SocketAddr::from(([0, 0, 0, 0], s.port));
        if s.udp {
            let sock = Arc::new(
                UdpSocket::bind(bind)
                    .await
                    .with_context(|| format!("bind() to {bind} failed"))?,
            );
            tokio::spawn(serve_udp(sock, ups.clone(), s.upstream));
        } else {
            let l = TcpListener::bind(bind)
                .await
                .with_context(|| format!("bind() to {bind} failed"))?;
            let ups = ups.clone();
            tokio::spawn(async move {
                loop {
                    if let Ok((c, _)) = l.accept().await {
                        tokio::spawn(proxy_tcp(
                            c,
                            ups.clone(),
                            s.upstream.clone(),
                            s.connect_timeout,
                            s.timeout,
                        ));
                    }
                }
            });
        }
    }
    log("notice", "using the \"epoll\" event method");
    log("notice", "nginx/1.29.0 (playground stand-in)");
    log("notice", "start worker processes");
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    // The nginx image stops with SIGQUIT (graceful shutdown).
    let mut quit = signal(SignalKind::quit())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = quit.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    log("notice", "exiting");
    Ok(())
}

/// `nginx [-c FILE] [-g DIRECTIVES] [-t]`.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut conf = CONF.to_string();
    let mut test = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-c" => conf = it.next().cloned().unwrap_or_default(),
            // `daemon off;` is all we are given; the stand-in never daemonizes.
            "-g" => {
                it.next();
            }
            "-t" => test = true,
            other => {
                log("emerg", &format!("invalid option: \"{other}\""));
                return ExitCode::from(1);
            }
        }
    }
    if test {
        return match std::fs::read_to_string(&conf)
            .map_err(anyhow::Error::from)
            .and_then(|t| parse(&t, &conf))
        {
            Ok(_) => {
                eprintln!("nginx: configuration file {conf} test is successful");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("nginx: [emerg] {e:#}");
                ExitCode::from(1)
            }
        };
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            log("emerg", &e.to_string());
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(&conf)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log("emerg", &format!("{e:#}"));
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_generated_config_and_refuses_the_rest() {
        let conf = "error_log stderr notice;\nworker_processes auto;\nevents { worker_connections 1024; }\nstream {\n  upstream u_6443_tcp {\n    server 127.0.0.1:6443 max_fails=1 fail_timeout=10s;\n  }\n  server {\n    listen 6443;\n    proxy_pass u_6443_tcp;\n    proxy_timeout 600s;\n    proxy_connect_timeout 2s;\n  }\n  upstream u_53_udp {\n    server 127.0.0.1:53 max_fails=1 fail_timeout=10s;\n  }\n  server {\n    listen 53 udp;\n    proxy_pass u_53_udp;\n  }\n}\n";
        let cfg = parse(conf, "t").unwrap();
        assert_eq!(cfg.servers.len(), 2);
        assert!(cfg.servers[1].udp);
        assert_eq!(cfg.servers[0].connect_timeout, Duration::from_secs(2));
        let err = parse("http { }", "t").unwrap_err().to_string();
        assert_eq!(err, "unknown directive \"http\" in t:1");
        let err = parse(
            "stream { upstream u { server no-such-host.invalid:1; } }",
            "t",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("host not found in upstream"), "{err}");
    }
}
