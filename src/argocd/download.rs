//! The `argocd` CLI binary, downloaded from the lab's own Argo CD server and cached per
//! server version.
//!
//! `argocd-server` serves the CLI it was built with at `/download/argocd-<os>-<arch>`, so a
//! CLI fetched from it always matches the server. [`ensure`] keeps one copy per server version
//! at `<cache>/playground/argocd/<version>/argocd` (the version as `/api/version` reports it,
//! build metadata included), and downloads only when that file is missing or implausible.
//!
//! The download streams into a temp file in the same directory, is checked (HTTP 200,
//! non-empty, the executable magic of the host's platform: ELF on Linux, Mach-O on macOS), made
//! 0755, synced, and only then renamed into place. An interrupted or rejected download leaves
//! nothing at the final path, so a later run never executes half a binary.
//!
//! # Trust model
//!
//! The server publishes no checksum of the CLI, so none is checked. What is trusted instead:
//! - same origin: the binary comes from the Argo CD server of the lab, on 127.0.0.1, the very
//!   server it will be given admin credentials for; anyone who controls that server already
//!   controls what the CLI could reach;
//! - the version-keyed cache: once a version is cached it is never downloaded again, so a
//!   later server cannot swap the binary of a version already in use;
//! - plausibility only (status, size, magic), which catches wrong answers (an HTML page, an
//!   error body, a truncated stream), not tampering.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The platform names Argo CD uses in `/download/argocd-<os>-<arch>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    /// `linux` or `darwin`.
    pub(crate) os: &'static str,
    /// `amd64` or `arm64` (Go's names).
    pub(crate) arch: &'static str,
}

impl Platform {
    /// The platform of Rust's `std::env::consts::{OS, ARCH}`, if Argo CD builds a CLI for it.
    pub(crate) fn from_consts(os: &str, arch: &str) -> Result<Self, DownloadError> {
        let os_name = match os {
            "linux" => "linux",
            "macos" => "darwin",
            _ => return Err(unsupported(os, arch)),
        };
        let arch_name = match arch {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            _ => return Err(unsupported(os, arch)),
        };
        Ok(Platform {
            os: os_name,
            arch: arch_name,
        })
    }

    /// The platform this program runs on.
    pub fn host() -> Result<Self, DownloadError> {
        Self::from_consts(std::env::consts::OS, std::env::consts::ARCH)
    }

    /// `linux-amd64`.
    pub(crate) fn name(&self) -> String {
        format!("{}-{}", self.os, self.arch)
    }

    /// The server path of this platform's CLI: `/download/argocd-linux-amd64`.
    pub(crate) fn download_path(&self) -> String {
        format!("/download/argocd-{}", self.name())
    }

    /// The executable format this platform runs.
    fn format(&self) -> Format {
        if self.os == "darwin" {
            Format::MachO
        } else {
            Format::Elf
        }
    }
}

fn unsupported(os: &str, arch: &str) -> DownloadError {
    DownloadError::UnsupportedPlatform {
        os: os.to_string(),
        arch: arch.to_string(),
    }
}

/// An executable file format, told by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Elf,
    MachO,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Format::Elf => "an ELF executable",
            Format::MachO => "a Mach-O executable",
        }
    }
}

/// The format `head` (a file's first bytes) starts with, if it is an executable we know.
pub(crate) fn sniff(head: &[u8]) -> Option<Format> {
    const MACHO: [[u8; 4]; 5] = [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xcf, 0xfa, 0xed, 0xfe],
        // A universal ("fat") binary, which is how arm64 + amd64 macOS builds often ship.
        [0xca, 0xfe, 0xba, 0xbe],
    ];
    let head = head.get(..4)?;
    if head == b"\x7fELF" {
        Some(Format::Elf)
    } else if MACHO.iter().any(|m| m == head) {
        Some(Format::MachO)
    } else {
        None
    }
}

/// What a body that is not an executable looks like, for the error message.
fn describe(head: &[u8]) -> String {
    if head.is_empty() {
        return "an empty body".into();
    }
    if head.first() == Some(&b'<') {
        return "an HTML or XML page".into();
    }
    if let Some(f) = sniff(head) {
        return f.name().into();
    }
    let shown: String = head
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
    format!("a file starting with bytes {shown}")
}

/// Why the CLI could not be had.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error(
        "Argo CD publishes its CLI for linux and darwin on amd64 and arm64; this machine is {os}/{arch}"
    )]
    UnsupportedPlatform { os: String, arch: String },
    #[error(
        "the Argo CD server reported the version {0:?}, which is not one the CLI cache can be keyed by"
    )]
    BadVersion(String),
    #[error("downloading the argocd CLI from {url} failed: {source}\n  nothing was cached")]
    Download {
        url: String,
        #[source]
        source: HttpError,
    },
    #[error("the Argo CD server has no CLI for {platform}: {url} answered HTTP 404")]
    NotServed {
        url: String,
        platform: String,
        release: String,
    },
    #[error(
        "{url} did not return an argocd executable for {platform}: expected {expected}, got {got}\n  nothing was cached"
    )]
    NotExecutable {
        url: String,
        platform: String,
        release: String,
        expected: &'static str,
        got: String,
    },
    #[error(
        "refusing to run {path}: {why}, so anyone on this machine could have replaced the argocd CLI"
    )]
    Untrusted {
        path: PathBuf,
        why: String,
        cache: String,
    },
    #[error("cannot write the argocd CLI cache {path}: {source}")]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl crate::diag::Hinted for DownloadError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::UnsupportedPlatform { .. } => Some(
                "run `playground password` and log in from a machine Argo CD has a CLI for"
                    .to_string(),
            ),
            Self::BadVersion(..) => Some("expected something like v3.5.1+6c2a6f1".to_string()),
            Self::Download { .. } => {
                Some("check that the lab runs (`playground status`) and retry".to_string())
            }
            Self::NotServed { release, .. } => Some(format!(
                "argocd-server serves only the CLI of its own platform; install argocd {release} from https://github.com/argoproj/argo-cd/releases/tag/{release}"
            )),
            Self::NotExecutable { release, .. } => Some(format!(
                "the server only serves the CLI of its own platform; install argocd {release} from https://github.com/argoproj/argo-cd/releases/tag/{release}"
            )),
            Self::Untrusted { cache, .. } => Some(format!(
                "remove {cache} (`rm -r {cache}`); the next run downloads the CLI again into folders only you can write"
            )),
            Self::Cache { .. } => Some(
                "check the permissions of the cache directory, or set XDG_CACHE_HOME".to_string(),
            ),
        }
    }
}

/// The release tag of a server version: `v3.5.1+6c2a6f1` → `v3.5.1`.
pub(crate) fn release_of(version: &str) -> &str {
    version.split('+').next().unwrap_or(version)
}

/// Check that a version the server reported is safe as a directory name: `v` and a digit,
/// then semver characters only (`[0-9A-Za-z.+-]`), and short. The server is trusted to run
/// the CLI, but a path traversal through the cache key would be a bug of ours.
pub(crate) fn check_version(version: &str) -> Result<(), DownloadError> {
    let ok = version.len() <= 64
        && version.starts_with('v')
        && version[1..].starts_with(|c: char| c.is_ascii_digit())
        && !version.contains("..")
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'));
    if ok {
        Ok(())
    } else {
        Err(DownloadError::BadVersion(version.to_string()))
    }
}

/// Where the CLI of server version `version` is cached under the user cache dir `cache_dir`.
pub(crate) fn cache_path(cache_dir: &Path, version: &str) -> PathBuf {
    cache_dir
        .join("playground")
        .join("argocd")
        .join(version)
        .join("argocd")
}

/// A CLI binary ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedCli {
    pub path: PathBuf,
    /// The server version it belongs to.
    pub(crate) version: String,
    /// Whether this call downloaded it (false: it was in the cache).
    pub downloaded: bool,
}

/// An HTTP answer to a GET: its status and a stream of its body.
pub struct Fetched {
    pub(crate) status: u16,
    pub(crate) body: Box<dyn Read>,
}

/// Why an HTTP request got no answer, or its body could not be read: the transport's own error
/// (`ureq::Error`, `std::io::Error`, [`HttpStatus`]), kept whole so callers can wrap it as a
/// `#[source]` and `--verbose` shows its chain. Boxed because the seams are traits that
/// doubles implement without ureq.
pub(crate) type HttpError = Box<dyn std::error::Error + Send + Sync>;

/// An answer with a status other than the one the request needs.
#[derive(Debug, thiserror::Error)]
#[error("HTTP {0}")]
pub(crate) struct HttpStatus(pub u16);

/// Fetches a URL. [`crate::argocd::cli::UreqHttp`] is the real one; tests pass closures.
pub trait FetchStream {
    fn get(&self, url: &str) -> Result<Fetched, HttpError>;
}

impl<F: Fn(&str) -> Result<Fetched, HttpError>> FetchStream for F {
    fn get(&self, url: &str) -> Result<Fetched, HttpError> {
        self(url)
    }
}

/// The folders and file of the CLI cache must be writable by their owner only: we execute
/// what is there, with the lab's admin token in its environment. Checks the binary and every
/// folder from `<cache_dir>/playground` down to it.
pub(crate) fn check_trusted(cache_dir: &Path, path: &Path) -> Result<(), DownloadError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let root = cache_dir.join("playground");
        let mut at = Some(path);
        while let Some(p) = at {
            let meta = std::fs::metadata(p).map_err(|source| DownloadError::Cache {
                path: p.to_path_buf(),
                source,
            })?;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o022 != 0 {
                return Err(DownloadError::Untrusted {
                    path: path.to_path_buf(),
                    why: format!("{} is writable by others (mode {mode:03o})", p.display()),
                    cache: root.display().to_string(),
                });
            }
            if p == root {
                break;
            }
            at = p.parent().filter(|d| d.starts_with(&root));
        }
    }
    #[cfg(not(unix))]
    let _ = (cache_dir, path);
    Ok(())
}

/// The cached CLI of `version` when there is a plausible one: a file that starts with the
/// platform's executable magic (a cache edited or truncated by hand is downloaded again).
pub(crate) fn cached(cache_dir: &Path, version: &str, platform: Platform) -> Option<PathBuf> {
    // The version comes from the server and becomes a path: never `../..`.
    check_version(version).ok()?;
    let path = cache_path(cache_dir, version);
    let mut head = [0u8; 4];
    let mut file = std::fs::File::open(&path).ok()?;
    file.read_exact(&mut head).ok()?;
    (sniff(&head) == Some(platform.format())).then_some(path)
}

/// The CLI of server `version` for `platform`: from the cache, else downloaded from
/// `server` (`http://127.0.0.1:<port>`) and installed into the cache. Blocking.
pub fn ensure(
    cache_dir: &Path,
    server: &str,
    version: &str,
    platform: Platform,
    fetch: &dyn FetchStream,
) -> Result<CachedCli, DownloadError> {
    check_version(version)?;
    if let Some(path) = cached(cache_dir, version, platform) {
        check_trusted(cache_dir, &path)?;
        return Ok(CachedCli {
            path,
            version: version.to_string(),
            downloaded: false,
        });
    }
    let url = format!(
        "{}{}",
        server.trim_end_matches('/'),
        platform.download_path()
    );
    let download_error = |source: HttpError| DownloadError::Download {
        url: url.clone(),
        source,
    };
    let fetched = fetch.get(&url).map_err(download_error)?;
    match fetched.status {
        200 => {}
        404 => {
            return Err(DownloadError::NotServed {
                url,
                platform: platform.name(),
                release: release_of(version).to_string(),
            });
        }
        status => return Err(download_error(Box::new(HttpStatus(status)))),
    }
    let path = cache_path(cache_dir, version);
    install(&path, fetched.body, |head| {
        if sniff(head) == Some(platform.format()) {
            Ok(())
        } else {
            Err(DownloadError::NotExecutable {
                url: url.clone(),
                platform: platform.name(),
                release: release_of(version).to_string(),
                expected: platform.format().name(),
                got: describe(head),
            })
        }
    })
    .map_err(|e| match e {
        Install::Rejected(e) => e,
        Install::Read(e) => download_error(Box::new(e)),
        Install::Write(source) => DownloadError::Cache {
            path: path.clone(),
            source,
        },
    })?;
    Ok(CachedCli {
        path,
        version: version.to_string(),
        downloaded: true,
    })
}

/// Why [`install`] stopped.
#[derive(Debug)]
enum Install<E> {
    /// `check` refused the first bytes.
    Rejected(E),
    /// Reading the body failed (a broken connection).
    Read(std::io::Error),
    /// Writing the cache failed.
    Write(std::io::Error),
}

/// The largest CLI accepted: Argo CD's is about 200 MB; a server streaming far more is broken.
const MAX_CLI_BYTES: u64 = 1 << 30;

/// Stream `body` into `path` atomically as an executable: a temp file in the same directory,
/// `check`ed on its first 4 bytes, mode 0755, synced, renamed into place. On any failure the
/// temp file is removed (by `NamedTempFile`'s drop) and `path` is left as it was.
fn install<E>(
    path: &Path,
    mut body: Box<dyn Read>,
    check: impl FnOnce(&[u8]) -> Result<(), E>,
) -> Result<u64, Install<E>> {
    let mut head = Vec::with_capacity(4);
    (&mut body)
        .take(4)
        .read_to_end(&mut head)
        .map_err(Install::Read)?;
    check(&head).map_err(Install::Rejected)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    // 0755 whatever the umask: the folders of something we execute are ours alone to write.
    crate::fsutil::create_dir(dir, crate::fsutil::CACHE_DIR_MODE).map_err(Install::Write)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".argocd-download-")
        .tempfile_in(dir)
        .map_err(Install::Write)?;
    tmp.write_all(&head).map_err(Install::Write)?;
    let mut written = head.len() as u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Install::Read(e)),
        };
        written += n as u64;
        if written > MAX_CLI_BYTES {
            return Err(Install::Read(std::io::Error::other(format!(
                "the body is larger than {MAX_CLI_BYTES} bytes"
            ))));
        }
        tmp.write_all(&buf[..n]).map_err(Install::Write)?;
    }
    set_executable(tmp.as_file()).map_err(Install::Write)?;
    tmp.as_file().sync_all().map_err(Install::Write)?;
    tmp.persist(path).map_err(|e| Install::Write(e.error))?;
    Ok(written)
}

#[cfg(unix)]
fn set_executable(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn set_executable(_: &std::fs::File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    const LINUX_AMD64: Platform = Platform {
        os: "linux",
        arch: "amd64",
    };
    const ELF: &[u8] = b"\x7fELF\x02\x01\x01\0rest of the binary";

    /// A server that answers `status` and `body`, and counts its calls.
    struct Fake {
        status: u16,
        body: Vec<u8>,
        /// Fail the body stream after this many bytes (a dropped connection).
        fail_after: Option<usize>,
        calls: Cell<usize>,
        urls: std::cell::RefCell<Vec<String>>,
    }

    impl Fake {
        fn new(status: u16, body: &[u8]) -> Self {
            Fake {
                status,
                body: body.to_vec(),
                fail_after: None,
                calls: Cell::new(0),
                urls: Default::default(),
            }
        }
    }

    /// A reader that yields `data` then fails.
    struct Broken(std::io::Cursor<Vec<u8>>);

    impl Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "connection reset by peer",
                )),
                n => Ok(n),
            }
        }
    }

    impl FetchStream for Fake {
        fn get(&self, url: &str) -> Result<Fetched, HttpError> {
            self.calls.set(self.calls.get() + 1);
            self.urls.borrow_mut().push(url.to_string());
            let body: Box<dyn Read> = match self.fail_after {
                Some(n) => Box::new(Broken(std::io::Cursor::new(self.body[..n].to_vec()))),
                None => Box::new(std::io::Cursor::new(self.body.clone())),
            };
            Ok(Fetched {
                status: self.status,
                body,
            })
        }
    }

    /// [`ensure`] for linux-amd64 from a server on 127.0.0.1:8080.
    fn get(cache: &Path, version: &str, fake: &Fake) -> Result<CachedCli, DownloadError> {
        ensure(cache, "http://127.0.0.1:8080", version, LINUX_AMD64, fake)
    }

    #[test]
    fn platforms_map_to_argo_cd_names() {
        for (os, arch, path) in [
            ("linux", "x86_64", "/download/argocd-linux-amd64"),
            ("linux", "aarch64", "/download/argocd-linux-arm64"),
            ("macos", "aarch64", "/download/argocd-darwin-arm64"),
            ("macos", "x86_64", "/download/argocd-darwin-amd64"),
        ] {
            let got = Platform::from_consts(os, arch).unwrap().download_path();
            assert_eq!(got, path, "{os}/{arch}");
        }
        for (os, arch) in [
            ("windows", "x86_64"),
            ("linux", "riscv64"),
            ("freebsd", "x86_64"),
        ] {
            let e = Platform::from_consts(os, arch).unwrap_err().to_string();
            assert!(e.contains(&format!("{os}/{arch}")), "{e}");
        }
        // The host is one of the four on every machine the tests run on.
        assert!(Platform::host().is_ok());
    }

    #[test]
    fn the_cache_is_keyed_by_the_full_server_version() {
        let cache = Path::new("/c");
        assert_eq!(
            cache_path(cache, "v3.5.1+6c2a6f1"),
            Path::new("/c/playground/argocd/v3.5.1+6c2a6f1/argocd")
        );
        assert_eq!(release_of("v3.5.1+6c2a6f1"), "v3.5.1");
        assert_eq!(release_of("v3.6.0-rc1"), "v3.6.0-rc1");
        for good in ["v3.5.1", "v3.5.1+6c2a6f1", "v2.10.0-rc1+abc.def"] {
            check_version(good).unwrap();
        }
        for bad in [
            "",
            "3.5.1",
            "v",
            "v../../etc",
            "v3/../../x",
            "v3.5.1 ",
            "vx.1",
            &format!("v1{}", "0".repeat(64)),
        ] {
            assert!(check_version(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn magic_tells_executables_from_other_bodies() {
        assert_eq!(sniff(ELF), Some(Format::Elf));
        assert_eq!(sniff(&[0xcf, 0xfa, 0xed, 0xfe, 7]), Some(Format::MachO));
        assert_eq!(sniff(&[0xca, 0xfe, 0xba, 0xbe]), Some(Format::MachO));
        assert_eq!(sniff(b"<!doctype html>"), None);
        assert_eq!(sniff(b"#!/bin/sh\n"), None);
        assert_eq!(sniff(b"\x7fEL"), None);
        assert_eq!(describe(b""), "an empty body");
        assert_eq!(describe(b"<html>"), "an HTML or XML page");
        assert_eq!(
            describe(b"{\"error\":1}"),
            "a file starting with bytes 7b 22 65 72 72 6f 72 22"
        );
    }

    #[test]
    fn a_miss_downloads_once_then_the_cache_answers() {
        let cache = tempfile::tempdir().unwrap();
        let fake = Fake::new(200, ELF);
        let got = ensure(
            cache.path(),
            "http://127.0.0.1:8080/",
            "v3.5.1+abc",
            LINUX_AMD64,
            &fake,
        )
        .unwrap();
        assert!(got.downloaded);
        assert_eq!(
            fake.urls.borrow().as_slice(),
            ["http://127.0.0.1:8080/download/argocd-linux-amd64"]
        );
        assert_eq!(got.path, cache_path(cache.path(), "v3.5.1+abc"));
        assert_eq!(std::fs::read(&got.path).unwrap(), ELF);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&got.path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o755);
        }
        // No temp file is left beside it.
        let dir = got.path.parent().unwrap();
        assert_eq!(std::fs::read_dir(dir).unwrap().count(), 1);

        let again = get(cache.path(), "v3.5.1+abc", &fake).unwrap();
        assert!(!again.downloaded);
        assert_eq!(fake.calls.get(), 1);

        // Another server version is another cache entry.
        let other = get(cache.path(), "v3.6.0+def", &fake).unwrap();
        assert!(other.downloaded);
        assert_eq!(fake.calls.get(), 2);
        assert_ne!(other.path, got.path);
    }

    /// Nothing may exist at the final path after a failed download, and the temp file is gone.
    fn assert_nothing_cached(cache: &Path, version: &str) {
        let path = cache_path(cache, version);
        assert!(!path.exists(), "{} exists", path.display());
        if let Some(dir) = path.parent().filter(|d| d.exists()) {
            let left: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
            assert!(left.is_empty(), "left behind: {left:?}");
        }
    }

    #[test]
    fn an_interrupted_download_leaves_no_file() {
        let cache = tempfile::tempdir().unwrap();
        let mut body = ELF.to_vec();
        body.extend(std::iter::repeat_n(0u8, 200_000));
        let mut fake = Fake::new(200, &body);
        fake.fail_after = Some(100_000);
        let e = get(cache.path(), "v3.5.1", &fake).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("connection reset"), "{text}");
        assert!(
            text.contains("http://127.0.0.1:8080/download/argocd-linux-amd64"),
            "{text}"
        );
        assert_nothing_cached(cache.path(), "v3.5.1");

        // The next run downloads again, whole.
        let whole = Fake::new(200, &body);
        let got = get(cache.path(), "v3.5.1", &whole).unwrap();
        assert_eq!(std::fs::read(got.path).unwrap().len(), body.len());
    }

    #[test]
    fn implausible_answers_are_refused_with_what_came() {
        let cases: [(u16, &[u8], &[&str]); 5] = [
            (
                404,
                b"404 page not found\n",
                &["no CLI for linux-amd64", "HTTP 404", "releases/tag/v3.5.1"],
            ),
            (502, b"bad gateway", &["HTTP 502", "nothing was cached"]),
            (
                200,
                b"",
                &[
                    "an empty body",
                    "expected an ELF executable",
                    "nothing was cached",
                ],
            ),
            (200, b"<!doctype html><html>", &["an HTML or XML page"]),
            // A macOS binary is not something a Linux host can run.
            (
                200,
                &[0xcf, 0xfa, 0xed, 0xfe, 0, 0],
                &["a Mach-O executable"],
            ),
        ];
        for (status, body, needles) in cases {
            let cache = tempfile::tempdir().unwrap();
            let fake = Fake::new(status, body);
            let text = crate::diag::Report(&get(cache.path(), "v3.5.1+abc", &fake).unwrap_err())
                .to_string();
            for n in needles {
                assert!(text.contains(n), "{n:?} not in: {text}");
            }
            assert_nothing_cached(cache.path(), "v3.5.1+abc");
        }
    }

    #[test]
    fn a_corrupt_cache_entry_is_downloaded_again() {
        let cache = tempfile::tempdir().unwrap();
        let path = cache_path(cache.path(), "v3.5.1");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"").unwrap();
        assert_eq!(cached(cache.path(), "v3.5.1", LINUX_AMD64), None);
        let fake = Fake::new(200, ELF);
        let got = get(cache.path(), "v3.5.1", &fake).unwrap();
        assert!(got.downloaded);
        assert_eq!(std::fs::read(&path).unwrap(), ELF);
    }

    #[test]
    fn a_bad_version_never_becomes_a_path() {
        let cache = tempfile::tempdir().unwrap();
        let fake = Fake::new(200, ELF);
        let e = get(cache.path(), "../../bin", &fake).unwrap_err();
        assert!(matches!(e, DownloadError::BadVersion(_)), "{e}");
        assert_eq!(fake.calls.get(), 0);
    }
}
