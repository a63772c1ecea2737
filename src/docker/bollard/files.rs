//! Files in and out of containers, through the archive API (tar both ways).

use ::bollard::Docker;
use ::bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use super::error::failed;
use crate::docker::EngineError;

pub(super) async fn read(docker: &Docker, name: &str, path: &str) -> Result<Vec<u8>, EngineError> {
    let opts = DownloadFromContainerOptionsBuilder::default()
        .path(path)
        .build();
    let what = format!("read {path} from {name}");
    let bytes: Vec<u8> = docker
        .download_from_container(name, Some(opts))
        .map_ok(|b| b.to_vec())
        .try_concat()
        .await
        .map_err(|e| failed(what.clone(), e))?;
    // The archive API answers with a tar stream; read it as one, not by skipping headers.
    let mut archive = tar::Archive::new(bytes.as_slice());
    let entries = archive.entries().map_err(|e| failed(what.clone(), e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| failed(what.clone(), e))?;
        if entry.header().entry_type().is_file() {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut out)
                .map_err(|e| failed(what.clone(), e))?;
            return Ok(out);
        }
    }
    Err(failed(what, "the archive holds no regular file"))
}

pub(super) async fn write(
    docker: &Docker,
    name: &str,
    path: &str,
    content: &[u8],
    mode: u32,
) -> Result<(), EngineError> {
    let what = format!("write {path} into {name}");
    // One entry, relative to `/`: the engine creates missing parent directories.
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(mode);
    header.set_mtime(unix_now());
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_data(&mut header, path.trim_start_matches('/'), content)
        .map_err(|e| failed(what.clone(), e))?;
    let tar = tar.into_inner().map_err(|e| failed(what.clone(), e))?;
    let opts = UploadToContainerOptionsBuilder::default().path("/").build();
    docker
        .upload_to_container(name, Some(opts), ::bollard::body_full(Bytes::from(tar)))
        .await
        .map_err(|e| failed(what, e))
}

pub(super) async fn upload(
    docker: &Docker,
    name: &str,
    source: &std::path::Path,
    dir: &str,
    file_name: &str,
) -> Result<(), EngineError> {
    let what = format!("copy {} into {name}:{dir}", source.display());
    let io = |e: std::io::Error| failed(what.clone(), e);
    let file = tokio::fs::File::open(source).await.map_err(io)?;
    let size = file.metadata().await.map_err(io)?.len();
    // A tar of one entry, built around the file as it streams: header, content, padding
    // to a 512-byte block, then the two empty blocks that end an archive.
    let mut header = tar::Header::new_gnu();
    header.set_path(file_name).map_err(io)?;
    header.set_size(size);
    header.set_mode(0o600);
    header.set_mtime(unix_now());
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    let head = Bytes::copy_from_slice(header.as_bytes());
    let pad = ((512 - size % 512) % 512) as usize;
    let tail = Bytes::from(vec![0u8; pad + 1024]);
    let content = futures::stream::try_unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 1 << 20];
        let n = tokio::io::AsyncReadExt::read(&mut file, &mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), file)))
    });
    let body = futures::stream::once(async move { Ok(head) })
        .chain(content)
        .chain(futures::stream::once(async move { Ok(tail) }));
    let opts = UploadToContainerOptionsBuilder::default().path(dir).build();
    docker
        .upload_to_container(name, Some(opts), ::bollard::body_try_stream(body))
        .await
        .map_err(|e| failed(what.clone(), e))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
