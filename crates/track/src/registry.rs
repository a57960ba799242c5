//! Serving a registered model: resolving MLflow's model URIs (`models:/NAME@ALIAS`,
//! `models:/NAME/VERSION`) to a model version and the run that produced it, and materialising
//! that run as a local run folder that `cascade_train::load_run` opens:
//!
//! ```text
//! CACHE/<run id>/config.toml                        the run's `config.toml` artifact
//! CACHE/<run id>/checkpoints/step-NNNNNNNNNN/       the version's files (the `checkpoint/`
//!                                                   artifact: `model/`, `trainer.json`)
//! CACHE/<run id>/checkpoints/latest                 that step's folder name
//! CACHE/<run id>/registered-model.json              what was downloaded, from where
//! ```
//!
//! A copy is downloaded into a temporary folder beside the cache entry and renamed into place
//! when complete, so a cache entry is never half-written; an entry whose recorded source and
//! file sizes match the server's is reused without downloading again.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrackError};
use crate::mlflow::{ArtifactEntry, MlflowClient, ModelVersion};

/// The scheme of MLflow's model URIs.
pub const MODEL_URI_SCHEME: &str = "models:/";
/// The run's configuration artifact, which `cascade train` uploads.
const CONFIG_ARTIFACT: &str = "config.toml";
/// The trainer state inside a checkpoint, which names its step.
const TRAINER_FILE: &str = "trainer.json";
/// What a cache entry records about its origin.
const ORIGIN_FILE: &str = "registered-model.json";

/// How a model URI picks a version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ModelRef {
    /// `models:/NAME@ALIAS`: the version the alias points at when resolved.
    Alias(String),
    /// `models:/NAME/VERSION`: a fixed version number.
    Version(String),
}

/// An MLflow model URI naming a registered model version: `models:/NAME@ALIAS` or
/// `models:/NAME/VERSION`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelUri {
    /// The registered model's name.
    pub name: String,
    /// The alias or version.
    pub reference: ModelRef,
}

impl ModelUri {
    /// Whether `text` is meant as a model URI (it starts with `models:/`).
    pub fn is_model_uri(text: &str) -> bool {
        text.starts_with(MODEL_URI_SCHEME)
    }
}

impl FromStr for ModelUri {
    type Err = TrackError;

    /// Parses `models:/NAME@ALIAS` or `models:/NAME/VERSION`.
    fn from_str(text: &str) -> Result<Self> {
        let bad = |why: &str| {
            TrackError::Invalid(format!(
                "`{text}` is not a model URI: {why} (expected models:/NAME@ALIAS or models:/NAME/VERSION)"
            ))
        };
        let rest = text
            .strip_prefix(MODEL_URI_SCHEME)
            .ok_or_else(|| bad("it does not start with models:/"))?;
        if let Some((name, alias)) = rest.rsplit_once('@') {
            if name.is_empty() || name.contains('/') {
                return Err(bad("the model name is empty or holds a `/`"));
            }
            if alias.is_empty() || alias.contains('/') {
                return Err(bad("the alias is empty or holds a `/`"));
            }
            return Ok(Self {
                name: name.to_string(),
                reference: ModelRef::Alias(alias.to_string()),
            });
        }
        match rest.split_once('/') {
            Some((name, version))
                if !name.is_empty()
                    && !version.is_empty()
                    && version.bytes().all(|b| b.is_ascii_digit()) =>
            {
                Ok(Self {
                    name: name.to_string(),
                    reference: ModelRef::Version(version.to_string()),
                })
            }
            _ => Err(bad("it names no alias and no version number")),
        }
    }
}

impl fmt::Display for ModelUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reference {
            ModelRef::Alias(alias) => write!(f, "{MODEL_URI_SCHEME}{}@{alias}", self.name),
            ModelRef::Version(version) => write!(f, "{MODEL_URI_SCHEME}{}/{version}", self.name),
        }
    }
}

/// A registered model version materialised as a local run folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredRun {
    /// The run folder in the cache: `config.toml` and the version's checkpoint.
    pub dir: PathBuf,
    /// The URI it was resolved from.
    pub uri: ModelUri,
    /// The model version the URI resolved to (name, version number, source, run id).
    pub version: ModelVersion,
    /// The training step of the checkpoint.
    pub step: u64,
    /// Whether a complete cached copy was reused rather than downloaded.
    pub cached: bool,
}

/// The default model cache: `$XDG_CACHE_HOME/cascade/mlflow`, else `~/.cache/cascade/mlflow`,
/// else `cascade-mlflow` in the system's temporary folder.
pub fn default_model_cache() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(cache) = var("XDG_CACHE_HOME") {
        return PathBuf::from(cache).join("cascade/mlflow");
    }
    if let Some(home) = var("HOME") {
        return PathBuf::from(home).join(".cache/cascade/mlflow");
    }
    std::env::temp_dir().join("cascade-mlflow")
}

/// What a cache entry was downloaded from; an entry is reused only when this matches what the
/// server lists now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Origin {
    tracking_uri: String,
    name: String,
    version: String,
    run_id: String,
    source: String,
    /// The checkpoint's files (relative to the checkpoint) with their sizes, and the
    /// configuration's size.
    files: Vec<(String, Option<u64>)>,
    config_size: Option<u64>,
    step: u64,
}

/// Resolves `uri` on `client`'s server to a model version and its run, and returns a local run
/// folder under `cache_dir` holding the run's `config.toml` and the version's checkpoint as its
/// latest one. A complete cached copy of the same files is reused; otherwise the files are
/// downloaded into a temporary folder and renamed into place. Errors name the server, the model
/// and the alias or version.
pub fn fetch_registered_run(
    client: &MlflowClient,
    uri: &ModelUri,
    cache_dir: &Path,
) -> Result<RegisteredRun> {
    fetch(client, uri, cache_dir).map_err(|e| match e {
        e @ TrackError::Registry { .. } => e,
        other => TrackError::Registry {
            model: uri.to_string(),
            server: client.uri().to_string(),
            cause: Box::new(other),
        },
    })
}

fn fetch(client: &MlflowClient, uri: &ModelUri, cache_dir: &Path) -> Result<RegisteredRun> {
    let version = match &uri.reference {
        ModelRef::Alias(alias) => client.get_model_version_by_alias(&uri.name, alias)?,
        ModelRef::Version(number) => client.get_model_version(&uri.name, number)?,
    };
    if version.run_id.is_empty() {
        return Err(TrackError::Invalid(format!(
            "version {} has no run; Cascade serves versions registered by `cascade train \
             --register-model`",
            version.version
        )));
    }
    let run = client.get_run(&version.run_id)?.info;
    let (checkpoint_uri, checkpoint_path) = checkpoint_location(&version, &run.artifact_uri)?;
    let listed = client.list_artifact_files(&checkpoint_uri, &checkpoint_path)?;
    let prefix = if checkpoint_path.is_empty() {
        String::new()
    } else {
        format!("{}/", checkpoint_path.trim_end_matches('/'))
    };
    let mut files = Vec::new();
    for ArtifactEntry { path, size, .. } in &listed {
        let relative = path.strip_prefix(&prefix).unwrap_or(path);
        check_relative(relative)?;
        files.push((relative.to_string(), *size));
    }
    if !files.iter().any(|(p, _)| p == TRAINER_FILE) {
        return Err(TrackError::Invalid(format!(
            "version {}'s files at {} hold no {TRAINER_FILE}: it is not a Cascade checkpoint",
            version.version, version.source
        )));
    }
    let config_size = client
        .list_artifacts(&run.artifact_uri, "")?
        .into_iter()
        .find(|e| e.path == CONFIG_ARTIFACT && !e.is_dir)
        .ok_or_else(|| {
            TrackError::Invalid(format!(
                "run {} has no {CONFIG_ARTIFACT} artifact",
                version.run_id
            ))
        })?
        .size;
    let target = cache_dir.join(safe_name(&version.run_id));
    let mut origin = Origin {
        tracking_uri: client.uri().to_string(),
        name: version.name.clone(),
        version: version.version.clone(),
        run_id: version.run_id.clone(),
        source: version.source.clone(),
        files,
        config_size,
        step: 0,
    };
    if let Some(step) = cached_step(&target, &origin) {
        return Ok(RegisteredRun {
            dir: target,
            uri: uri.clone(),
            version,
            step,
            cached: true,
        });
    }
    fs::create_dir_all(cache_dir)
        .map_err(TrackError::io(format!("creating {}", cache_dir.display())))?;
    let tmp = temp_dir(cache_dir, &version.run_id);
    let built = download(
        client,
        &run.artifact_uri,
        &checkpoint_uri,
        &prefix,
        &tmp,
        &mut origin,
    )
    .and_then(|()| install(&tmp, &target, &origin));
    if tmp.exists() {
        let _ = fs::remove_dir_all(&tmp);
    }
    built?;
    Ok(RegisteredRun {
        dir: target,
        uri: uri.clone(),
        version,
        step: origin.step,
        cached: false,
    })
}

/// Where a version's files are: an artifact root and a folder inside it.
fn checkpoint_location(version: &ModelVersion, run_artifacts: &str) -> Result<(String, String)> {
    let source = version.source.trim_end_matches('/');
    let root = run_artifacts.trim_end_matches('/');
    if let Some(rest) = source.strip_prefix(root)
        && (rest.is_empty() || rest.starts_with('/'))
    {
        return Ok((root.to_string(), rest.trim_start_matches('/').to_string()));
    }
    if let Some(rest) = source.strip_prefix("runs:/") {
        let path = rest.split_once('/').map_or("", |(_, p)| p);
        return Ok((root.to_string(), path.to_string()));
    }
    if source.starts_with("mlflow-artifacts:") {
        return Ok((source.to_string(), String::new()));
    }
    Err(TrackError::Invalid(format!(
        "version {}'s source `{}` is not served through the tracking server's artifact proxy",
        version.version, version.source
    )))
}

/// Refuses artifact paths that would leave the cache entry.
fn check_relative(path: &str) -> Result<()> {
    if path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return Err(TrackError::Invalid(format!(
            "the server lists an artifact path `{path}` that Cascade will not write"
        )));
    }
    Ok(())
}

/// A run id as a folder name (MLflow's are hex; anything else is replaced).
fn safe_name(run_id: &str) -> String {
    run_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A fresh temporary folder name beside the cache entries.
fn temp_dir(cache_dir: &Path, run_id: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    cache_dir.join(format!(
        ".tmp-{}-{}-{nanos}-{n}",
        safe_name(run_id),
        std::process::id()
    ))
}

/// The step of a complete cache entry downloaded from the same files, if there is one.
fn cached_step(target: &Path, origin: &Origin) -> Option<u64> {
    let text = fs::read(target.join(ORIGIN_FILE)).ok()?;
    let cached: Origin = serde_json::from_slice(&text).ok()?;
    let same = Origin {
        step: cached.step,
        ..origin.clone()
    };
    let step_dir = target
        .join("checkpoints")
        .join(format!("step-{:010}", cached.step));
    (cached == same && target.join(CONFIG_ARTIFACT).is_file() && step_dir.is_dir())
        .then_some(cached.step)
}

/// Downloads the configuration and the checkpoint into `tmp` laid out as a run folder, and
/// records the checkpoint's step in `origin`.
fn download(
    client: &MlflowClient,
    run_artifacts: &str,
    checkpoint_uri: &str,
    prefix: &str,
    tmp: &Path,
    origin: &mut Origin,
) -> Result<()> {
    let incoming = tmp.join("checkpoints").join(".incoming");
    fs::create_dir_all(&incoming)
        .map_err(TrackError::io(format!("creating {}", incoming.display())))?;
    fetch_file(
        client,
        run_artifacts,
        CONFIG_ARTIFACT,
        &tmp.join(CONFIG_ARTIFACT),
        origin.config_size,
    )?;
    for (relative, size) in &origin.files {
        let dest = incoming.join(relative);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)
                .map_err(TrackError::io(format!("creating {}", parent.display())))?;
        }
        fetch_file(
            client,
            checkpoint_uri,
            &format!("{prefix}{relative}"),
            &dest,
            *size,
        )?;
    }
    let trainer = incoming.join(TRAINER_FILE);
    let text =
        fs::read(&trainer).map_err(TrackError::io(format!("reading {}", trainer.display())))?;
    let state: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| TrackError::Corrupt {
            path: trainer.clone(),
            message: e.to_string(),
        })?;
    let step = state["step"].as_u64().ok_or_else(|| TrackError::Corrupt {
        path: trainer.clone(),
        message: "no training step".to_string(),
    })?;
    let name = format!("step-{step:010}");
    let step_dir = tmp.join("checkpoints").join(&name);
    fs::rename(&incoming, &step_dir).map_err(TrackError::io(format!(
        "renaming to {}",
        step_dir.display()
    )))?;
    let latest = tmp.join("checkpoints").join("latest");
    fs::write(&latest, &name).map_err(TrackError::io(format!("writing {}", latest.display())))?;
    origin.step = step;
    let text = serde_json::to_vec_pretty(origin)
        .map_err(|e| TrackError::Invalid(format!("recording the model's origin: {e}")))?;
    let path = tmp.join(ORIGIN_FILE);
    fs::write(&path, text).map_err(TrackError::io(format!("writing {}", path.display())))?;
    Ok(())
}

/// Downloads one artifact file, checking its size against the listing's.
fn fetch_file(
    client: &MlflowClient,
    artifact_uri: &str,
    artifact_path: &str,
    dest: &Path,
    size: Option<u64>,
) -> Result<()> {
    let written = client.download_artifact_file(artifact_uri, artifact_path, dest)?;
    if let Some(size) = size
        && size != written
    {
        return Err(TrackError::Invalid(format!(
            "artifact `{artifact_path}` is listed with {size} bytes but {written} arrived"
        )));
    }
    Ok(())
}

/// Moves the complete folder `tmp` to `target`, replacing an older entry there. Another
/// process that installed the same files first wins, and this copy is dropped.
fn install(tmp: &Path, target: &Path, origin: &Origin) -> Result<()> {
    if target.exists() {
        if cached_step(target, origin).is_some() {
            return Ok(());
        }
        let old = temp_dir(
            target.parent().unwrap_or(Path::new(".")),
            &format!("old-{}", origin.run_id),
        );
        fs::rename(target, &old)
            .map_err(TrackError::io(format!("moving aside {}", target.display())))?;
        let _ = fs::remove_dir_all(&old);
    }
    match fs::rename(tmp, target) {
        Ok(()) => Ok(()),
        Err(_) if cached_step(target, origin).is_some() => Ok(()),
        Err(e) => Err(TrackError::io(format!("moving into {}", target.display()))(
            e,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_uris_parse_and_print_back() {
        let uri: ModelUri = "models:/tt@live".parse().unwrap();
        assert_eq!(uri.name, "tt");
        assert_eq!(uri.reference, ModelRef::Alias("live".into()));
        assert_eq!(uri.to_string(), "models:/tt@live");
        let uri: ModelUri = "models:/my model/12".parse().unwrap();
        assert_eq!(uri.reference, ModelRef::Version("12".into()));
        assert_eq!(uri.to_string(), "models:/my model/12");
        for bad in [
            "runs:/abc/model",
            "models:/",
            "models:/tt",
            "models:/@live",
            "models:/tt@",
            "models:/tt/latest",
            "models:/a/b@c",
        ] {
            assert!(bad.parse::<ModelUri>().is_err(), "{bad}");
        }
        assert!(ModelUri::is_model_uri("models:/x@y"));
        assert!(!ModelUri::is_model_uri("runs/tt"));
    }

    #[test]
    fn the_checkpoint_is_found_from_the_source() {
        let version = |source: &str| ModelVersion {
            name: "tt".into(),
            version: "1".into(),
            source: source.into(),
            run_id: "abc".into(),
        };
        let root = "mlflow-artifacts:/1/abc/artifacts";
        assert_eq!(
            checkpoint_location(
                &version("mlflow-artifacts:/1/abc/artifacts/checkpoint"),
                root
            )
            .unwrap(),
            (root.to_string(), "checkpoint".to_string())
        );
        assert_eq!(
            checkpoint_location(&version("runs:/abc/checkpoint"), root).unwrap(),
            (root.to_string(), "checkpoint".to_string())
        );
        assert_eq!(
            checkpoint_location(&version("mlflow-artifacts:/2/other"), root).unwrap(),
            ("mlflow-artifacts:/2/other".to_string(), String::new())
        );
        assert!(checkpoint_location(&version("s3://bucket/x"), root).is_err());
    }

    #[test]
    fn artifact_paths_stay_inside_the_cache() {
        assert!(check_relative("model/dense.bin").is_ok());
        for bad in ["", "/etc/passwd", "../x", "a/../../b", "a//b", "a\\b"] {
            assert!(check_relative(bad).is_err(), "{bad}");
        }
        assert_eq!(safe_name("ab/../c"), "ab____c");
    }

    #[test]
    fn a_cache_entry_is_reused_only_for_the_same_files() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("abc");
        let origin = Origin {
            tracking_uri: "http://x".into(),
            name: "tt".into(),
            version: "1".into(),
            run_id: "abc".into(),
            source: "s".into(),
            files: vec![("trainer.json".into(), Some(3))],
            config_size: Some(5),
            step: 7,
        };
        fs::create_dir_all(target.join("checkpoints/step-0000000007")).unwrap();
        fs::write(target.join(CONFIG_ARTIFACT), "x").unwrap();
        assert_eq!(cached_step(&target, &origin), None);
        fs::write(
            target.join(ORIGIN_FILE),
            serde_json::to_vec(&origin).unwrap(),
        )
        .unwrap();
        let asked = Origin {
            step: 0,
            ..origin.clone()
        };
        assert_eq!(cached_step(&target, &asked), Some(7));
        let changed = Origin {
            files: vec![("trainer.json".into(), Some(4))],
            ..asked
        };
        assert_eq!(cached_step(&target, &changed), None);
    }
}
