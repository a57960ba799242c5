//! Where a dataset's files come from: a local folder, or remote object storage (`s3://`, `gs://`,
//! `az://`, `http(s)://`) read through `object_store`, with shards kept in a local
//! [`ShardCache`]. `file://` URLs and plain paths are local.

use crate::cache::{CacheConfig, CachePin, ShardCache, check_relative};
use crate::error::{DataError, Result};
use cascade_mds::{Shard, ShardMeta};
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use std::path::PathBuf;

/// How to open a dataset: the shard cache for remote locations and storage settings.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Cache for shards of remote datasets; without one, remote shards are downloaded into
    /// memory each time they are read.
    pub cache: Option<CacheConfig>,
    /// Settings passed to the object store (e.g. `aws_region`, `google_service_account`);
    /// `AWS_*`, `GOOGLE_*` and `AZURE_*` variables of the process environment are added.
    pub storage: Vec<(String, String)>,
}

/// A remote dataset location.
#[derive(Debug)]
pub(crate) struct Remote {
    url: String,
    store: Box<dyn ObjectStore>,
    prefix: ObjectPath,
    runtime: tokio::runtime::Runtime,
    cache: Option<ShardCache>,
}

/// A dataset's location, local or remote.
#[derive(Debug)]
pub(crate) enum Source {
    Local(PathBuf),
    Remote(Box<Remote>),
}

/// A shard loaded into memory, with what keeps its cached file in place.
#[derive(Debug)]
pub(crate) struct LoadedShard {
    pub(crate) shard: Shard,
    /// The shard's stored file, for errors and pick sites.
    pub(crate) name: String,
    _pin: Option<CachePin>,
}

/// Joins a relative path (a split folder) to a location, local or URL.
pub fn join_location(root: &str, rel: &str) -> String {
    if root.contains("://") {
        format!(
            "{}/{}",
            root.trim_end_matches('/'),
            rel.trim_start_matches('/')
        )
    } else {
        PathBuf::from(root).join(rel).to_string_lossy().into_owned()
    }
}

impl Source {
    /// Resolves `location` (a path or URL).
    pub(crate) fn open(location: &str, options: &OpenOptions) -> Result<Source> {
        if !location.contains("://") {
            return Ok(Source::Local(PathBuf::from(location)));
        }
        let bad = |message: String| DataError::Remote {
            location: location.to_string(),
            message,
        };
        let url = url::Url::parse(location).map_err(|e| bad(e.to_string()))?;
        if url.scheme() == "file" {
            let path = url
                .to_file_path()
                .map_err(|()| bad("not a local file path".into()))?;
            return Ok(Source::Local(path));
        }
        let mut settings: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| {
                ["AWS_", "GOOGLE_", "AZURE_"]
                    .iter()
                    .any(|p| k.starts_with(p))
            })
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        if url.scheme() == "http" {
            settings.push(("allow_http".into(), "true".into()));
        }
        settings.extend(options.storage.iter().cloned());
        let (store, prefix) =
            object_store::parse_url_opts(&url, settings).map_err(|e| bad(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("cascade-download")
            .enable_all()
            .build()
            .map_err(|e| bad(format!("cannot start the download runtime: {e}")))?;
        Ok(Source::Remote(Box::new(Remote {
            url: location.trim_end_matches('/').to_string(),
            store,
            prefix,
            runtime,
            cache: options.cache.as_ref().map(ShardCache::open).transpose()?,
        })))
    }

    /// How errors name the file `rel` of this location.
    pub(crate) fn name_of(&self, rel: &str) -> String {
        match self {
            Source::Local(dir) => dir.join(rel).display().to_string(),
            Source::Remote(r) => format!("{}/{rel}", r.url),
        }
    }

    /// Reads a small file (`index.json`, `cascade.json`) whole, uncached.
    pub(crate) fn read(&self, rel: &str) -> Result<Vec<u8>> {
        match self {
            Source::Local(dir) => {
                let path = dir.join(rel);
                std::fs::read(&path).map_err(|source| DataError::Io { path, source })
            }
            Source::Remote(r) => r.download(rel),
        }
    }

    /// Loads shard `meta`: its stored file (compressed if the shard is), verified and decoded.
    pub(crate) fn load_shard(&self, meta: &ShardMeta) -> Result<LoadedShard> {
        let file = meta.zip_data.as_ref().unwrap_or(&meta.raw_data);
        let name = self.name_of(&file.basename);
        match self {
            Source::Local(dir) => Ok(LoadedShard {
                shard: Shard::open(dir, meta)?,
                name,
                _pin: None,
            }),
            Source::Remote(r) => {
                let download = || {
                    let bytes = r.download(&file.basename)?;
                    if bytes.len() as u64 != file.bytes {
                        return Err(DataError::Remote {
                            location: name.clone(),
                            message: format!(
                                "downloaded {} bytes, the index says {}",
                                bytes.len(),
                                file.bytes
                            ),
                        });
                    }
                    Ok(bytes)
                };
                let (pin, bytes) = match &r.cache {
                    Some(cache) => {
                        let (pin, bytes) =
                            cache.get_or_fetch(&file.basename, file.bytes, download)?;
                        (Some(pin), bytes)
                    }
                    None => (None, download()?),
                };
                let shard = Shard::from_stored_bytes(&PathBuf::from(&name), meta, bytes)?;
                Ok(LoadedShard {
                    shard,
                    name,
                    _pin: pin,
                })
            }
        }
    }

    /// The shard cache, for remote locations.
    pub(crate) fn cache(&self) -> Option<&ShardCache> {
        match self {
            Source::Local(_) => None,
            Source::Remote(r) => r.cache.as_ref(),
        }
    }
}

impl Remote {
    /// Downloads object `rel` below the location.
    fn download(&self, rel: &str) -> Result<Vec<u8>> {
        let location = format!("{}/{rel}", self.url);
        let fail = |message: String| DataError::Remote {
            location: location.clone(),
            message,
        };
        check_relative(rel).map_err(fail)?;
        let path = if self.prefix.as_ref().is_empty() {
            ObjectPath::parse(rel)
        } else {
            ObjectPath::parse(format!("{}/{rel}", self.prefix))
        }
        .map_err(|e| fail(e.to_string()))?;
        let bytes = self
            .runtime
            .block_on(async { self.store.get(&path).await?.bytes().await })
            .map_err(|e| fail(e.to_string()))?;
        Ok(bytes.to_vec())
    }
}
