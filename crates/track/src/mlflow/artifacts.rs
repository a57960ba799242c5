//! Artifact upload and download through the tracking server's artifact proxy. A run whose
//! artifact URI is `mlflow-artifacts:/<path>` keeps its files under the server's artifact
//! destination; each file is PUT to (or fetched with GET from)
//! `<tracking URI>/api/2.0/mlflow-artifacts/artifacts/<path>/<artifact path>`, and a folder is
//! listed with `GET <tracking URI>/api/2.0/mlflow-artifacts/artifacts?path=<path>/<folder>`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method;
use reqwest::blocking::Body;
use serde::Deserialize;

use super::client::MlflowClient;
use crate::error::{Result, TrackError};

/// How long one file upload may take (checkpoints can be large).
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(1800);
/// How long one file download may take.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(1800);
/// The proxy's path under the tracking URI.
const PROXY_PREFIX: &str = "api/2.0/mlflow-artifacts/artifacts/";
/// The proxy's listing endpoint under the tracking URI.
const PROXY_LIST: &str = "api/2.0/mlflow-artifacts/artifacts";

/// One entry of an artifact folder, as the artifact proxy lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactEntry {
    /// Its path relative to the run's artifact root, with `/` separators (e.g.
    /// `checkpoint/model/model.json`).
    pub path: String,
    /// Whether it is a folder.
    pub is_dir: bool,
    /// Its size in bytes (files only).
    pub size: Option<u64>,
}

/// The proxy's listing answer: entries named by their base name.
#[derive(Deserialize)]
struct Listing {
    #[serde(default)]
    files: Vec<ListedFile>,
}

#[derive(Deserialize)]
struct ListedFile {
    path: String,
    #[serde(default)]
    is_dir: bool,
    /// An int64, which protobuf's JSON may write as a string.
    #[serde(default)]
    file_size: Option<serde_json::Value>,
}

impl ListedFile {
    fn size(&self) -> Option<u64> {
        match &self.file_size {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.parse().ok(),
            _ => None,
        }
    }
}

/// The path of a run's artifact root on the proxy, from its artifact URI.
fn proxy_root(artifact_uri: &str) -> Result<&str> {
    let rest = artifact_uri.strip_prefix("mlflow-artifacts:").ok_or_else(|| {
        TrackError::Invalid(format!(
            "the run's artifact store `{artifact_uri}` is not served through the tracking server; \
             start the server with its artifact proxy (`mlflow server --artifacts-destination …`)"
        ))
    })?;
    if let Some(authority) = rest.strip_prefix("//")
        && !authority.starts_with('/')
    {
        return Err(TrackError::Invalid(format!(
            "the run's artifact URI `{artifact_uri}` names another server; Cascade uploads through the tracking server only"
        )));
    }
    Ok(rest.trim_start_matches('/').trim_end_matches('/'))
}

/// Splits an artifact path into its segments, refusing ones that would escape the run.
fn segments(artifact_path: &str) -> Result<Vec<&str>> {
    let parts: Vec<&str> = artifact_path
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(TrackError::Invalid(format!(
            "artifact path `{artifact_path}` may not contain `..`"
        )));
    }
    Ok(parts)
}

impl MlflowClient {
    /// The proxy URL of the artifact `artifact_path` of the run whose artifacts are at
    /// `artifact_uri`.
    fn proxy_url(&self, artifact_uri: &str, artifact_path: &str) -> Result<reqwest::Url> {
        let root = proxy_root(artifact_uri)?;
        let mut parts: Vec<&str> = root.split('/').filter(|s| !s.is_empty()).collect();
        parts.extend(segments(artifact_path)?);
        self.url_with_segments(PROXY_PREFIX, parts)
    }

    /// Uploads one file as the artifact `artifact_path` (e.g. `checkpoints/last.ckpt`).
    pub fn upload_artifact_file(
        &self,
        artifact_uri: &str,
        local: &Path,
        artifact_path: &str,
    ) -> Result<()> {
        let url = self.proxy_url(artifact_uri, artifact_path)?;
        let file = fs::File::open(local)
            .map_err(TrackError::io(format!("opening {}", local.display())))?;
        let len = file
            .metadata()
            .map_err(TrackError::io(format!("reading {}", local.display())))?
            .len();
        let request = self
            .request(Method::PUT, url)
            .timeout(UPLOAD_TIMEOUT)
            .header(reqwest::header::CONTENT_LENGTH, len)
            .body(Body::sized(file, len));
        self.send_ok("mlflow-artifacts/artifacts", request)?;
        Ok(())
    }

    /// Uploads a file, or every file under a folder (keeping its layout), under
    /// `artifact_path`. Returns how many files were uploaded.
    pub fn upload_artifacts(
        &self,
        artifact_uri: &str,
        local: &Path,
        artifact_path: &str,
    ) -> Result<usize> {
        let meta =
            fs::metadata(local).map_err(TrackError::io(format!("reading {}", local.display())))?;
        if meta.is_file() {
            self.upload_artifact_file(artifact_uri, local, artifact_path)?;
            return Ok(1);
        }
        let mut files = Vec::new();
        collect_files(local, PathBuf::new(), &mut files)?;
        for relative in &files {
            let mut path = artifact_path.trim_end_matches('/').to_string();
            for part in relative.components() {
                if !path.is_empty() {
                    path.push('/');
                }
                path.push_str(&part.as_os_str().to_string_lossy());
            }
            self.upload_artifact_file(artifact_uri, &local.join(relative), &path)?;
        }
        Ok(files.len())
    }
}

impl MlflowClient {
    /// Lists the artifact folder `artifact_path` of the run whose artifacts are at
    /// `artifact_uri` (`""` for the root); a folder that does not exist lists empty.
    pub fn list_artifacts(
        &self,
        artifact_uri: &str,
        artifact_path: &str,
    ) -> Result<Vec<ArtifactEntry>> {
        let root = proxy_root(artifact_uri)?;
        let inner = segments(artifact_path)?;
        let mut full: Vec<&str> = root.split('/').filter(|s| !s.is_empty()).collect();
        full.extend(inner.iter().copied());
        let url = self.url(PROXY_LIST)?;
        let listing: Listing = self.call(
            "mlflow-artifacts/artifacts",
            self.request(Method::GET, url)
                .query(&[("path", full.join("/"))]),
        )?;
        let mut entries: Vec<ArtifactEntry> = listing
            .files
            .iter()
            .map(|f| {
                let name = f.path.rsplit('/').next().unwrap_or(&f.path);
                let mut path = inner.join("/");
                if !path.is_empty() {
                    path.push('/');
                }
                path.push_str(name);
                ArtifactEntry {
                    path,
                    is_dir: f.is_dir,
                    size: f.size(),
                }
            })
            .collect();
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }

    /// Every file under the artifact folder `artifact_path` (recursively), sorted by path;
    /// the paths stay relative to the run's artifact root.
    pub fn list_artifact_files(
        &self,
        artifact_uri: &str,
        artifact_path: &str,
    ) -> Result<Vec<ArtifactEntry>> {
        let mut out = Vec::new();
        let mut pending = vec![artifact_path.to_string()];
        while let Some(folder) = pending.pop() {
            for entry in self.list_artifacts(artifact_uri, &folder)? {
                if entry.is_dir {
                    pending.push(entry.path);
                } else {
                    out.push(entry);
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Downloads the artifact file `artifact_path` into the local file `dest` (created or
    /// replaced; its folder must exist). Returns the bytes written.
    pub fn download_artifact_file(
        &self,
        artifact_uri: &str,
        artifact_path: &str,
        dest: &Path,
    ) -> Result<u64> {
        let url = self.proxy_url(artifact_uri, artifact_path)?;
        let request = self.request(Method::GET, url).timeout(DOWNLOAD_TIMEOUT);
        let mut response = self.send_ok("mlflow-artifacts/artifacts", request)?;
        let mut file = fs::File::create(dest)
            .map_err(TrackError::io(format!("creating {}", dest.display())))?;
        let written = response
            .copy_to(&mut file)
            .map_err(|e| TrackError::Unreachable {
                uri: self.uri().to_string(),
                message: format!("downloading artifact `{artifact_path}`: {e}"),
            })?;
        file.sync_all()
            .map_err(TrackError::io(format!("writing {}", dest.display())))?;
        Ok(written)
    }
}

/// Every regular file under `dir`, as paths relative to the folder first given, sorted.
fn collect_files(dir: &Path, relative: PathBuf, out: &mut Vec<PathBuf>) -> Result<()> {
    let here = dir.join(&relative);
    let mut entries: Vec<_> = fs::read_dir(&here)
        .map_err(TrackError::io(format!("listing {}", here.display())))?
        .collect::<std::io::Result<_>>()
        .map_err(TrackError::io(format!("listing {}", here.display())))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let kind = entry.file_type().map_err(TrackError::io(format!(
            "reading {}",
            entry.path().display()
        )))?;
        let child = relative.join(entry.file_name());
        if kind.is_dir() {
            collect_files(dir, child, out)?;
        } else if kind.is_file() {
            out.push(child);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_root_follows_the_artifact_uri() {
        assert_eq!(
            proxy_root("mlflow-artifacts:/1/abc/artifacts").unwrap(),
            "1/abc/artifacts"
        );
        assert_eq!(
            proxy_root("mlflow-artifacts:///1/abc/artifacts/").unwrap(),
            "1/abc/artifacts"
        );
        assert!(proxy_root("mlflow-artifacts://other:5000/1/abc").is_err());
        assert!(proxy_root("s3://bucket/1/abc/artifacts").is_err());
    }

    #[test]
    fn artifact_paths_stay_inside_the_run() {
        assert_eq!(segments("a//b/./c").unwrap(), vec!["a", "b", "c"]);
        assert!(segments("../x").is_err());
    }

    #[test]
    fn folders_are_listed_recursively() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("b/c")).unwrap();
        fs::write(dir.path().join("a.txt"), "a").unwrap();
        fs::write(dir.path().join("b/c/d.bin"), "d").unwrap();
        let mut files = Vec::new();
        collect_files(dir.path(), PathBuf::new(), &mut files).unwrap();
        assert_eq!(
            files,
            vec![PathBuf::from("a.txt"), PathBuf::from("b/c/d.bin")]
        );
    }
}
