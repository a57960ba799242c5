//! The local cache of shards downloaded from remote storage: a folder with a size limit, least
//! recently used shards evicted first, and shards that a reader holds (pinned) never evicted.
//!
//! Downloads are written to a temporary file in the cache folder and renamed into place, so a
//! crash never leaves a partial shard under a real name. A cache folder found on start is adopted
//! (oldest modification time first in line for eviction). One reader process should own a cache
//! folder at a time; the bookkeeping lives in that process.

use crate::error::{DataError, Result};
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

/// Where shards are cached and how much space they may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// Cache folder (created if missing).
    pub dir: PathBuf,
    /// Most bytes of shards kept on disk.
    pub limit_bytes: u64,
}

#[derive(Debug)]
struct Entry {
    bytes: u64,
    last_used: u64,
    pins: u32,
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<String, Entry>,
    total: u64,
    clock: u64,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    limit: u64,
    state: Mutex<State>,
}

/// A shard cache shared by the loader threads of a reader.
#[derive(Debug, Clone)]
pub struct ShardCache {
    inner: Arc<Inner>,
}

/// Holds a cached shard in place: while any pin is alive the shard is not evicted.
#[derive(Debug)]
pub struct CachePin {
    inner: Arc<Inner>,
    key: String,
}

impl Drop for CachePin {
    fn drop(&mut self) {
        let mut state = lock(&self.inner.state);
        if let Some(entry) = state.entries.get_mut(&self.key) {
            entry.pins = entry.pins.saturating_sub(1);
        }
    }
}

/// Locks the cache state, recovering it if a thread panicked while holding it (the state is
/// only ever updated in whole steps, so it stays consistent).
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Checks that `key` (a shard's `basename` from an index) is a plain relative path inside the
/// cache: no root, no `..`, no empty parts.
pub(crate) fn check_relative(key: &str) -> Result<(), String> {
    let path = Path::new(key);
    let plain = !key.is_empty()
        && !key.contains('\\')
        && path.components().all(|c| matches!(c, Component::Normal(_)));
    if plain {
        Ok(())
    } else {
        Err(format!(
            "shard file name {key:?} is not a plain relative path"
        ))
    }
}

impl ShardCache {
    /// Opens (creating if needed) the cache folder and adopts the shards already in it, evicting
    /// the oldest if they exceed the limit.
    pub fn open(config: &CacheConfig) -> Result<ShardCache> {
        let io = |path: &Path, source| DataError::Io {
            path: path.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(&config.dir).map_err(|e| io(&config.dir, e))?;
        let mut found = Vec::new();
        let mut stack = vec![config.dir.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).map_err(|e| io(&dir, e))? {
                let entry = entry.map_err(|e| io(&dir, e))?;
                let path = entry.path();
                let meta = entry.metadata().map_err(|e| io(&path, e))?;
                if meta.is_dir() {
                    stack.push(path);
                    continue;
                }
                let name = entry.file_name();
                if name.to_string_lossy().starts_with(".tmp") {
                    // A download interrupted before its rename.
                    std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
                    continue;
                }
                let Ok(rel) = path.strip_prefix(&config.dir) else {
                    continue;
                };
                let key = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                found.push((modified, key, meta.len()));
            }
        }
        found.sort();
        let mut state = State::default();
        for (_, key, bytes) in found {
            state.clock += 1;
            state.total += bytes;
            state.entries.insert(
                key,
                Entry {
                    bytes,
                    last_used: state.clock,
                    pins: 0,
                },
            );
        }
        let inner = Inner {
            dir: config.dir.clone(),
            limit: config.limit_bytes,
            state: Mutex::new(state),
        };
        let cache = ShardCache {
            inner: Arc::new(inner),
        };
        {
            let mut state = lock(&cache.inner.state);
            cache.make_room(&mut state, 0)?;
        }
        Ok(cache)
    }

    /// The cache folder.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Bytes of shards currently cached.
    pub fn used_bytes(&self) -> u64 {
        lock(&self.inner.state).total
    }

    /// Cached shard names (relative paths), least recently used first.
    pub fn cached(&self) -> Vec<String> {
        let state = lock(&self.inner.state);
        let mut keys: Vec<(&u64, &String)> = state
            .entries
            .iter()
            .map(|(k, e)| (&e.last_used, k))
            .collect();
        keys.sort();
        keys.into_iter().map(|(_, k)| k.clone()).collect()
    }

    /// The bytes of shard file `key` (`expected` bytes long), from the cache when present and
    /// whole, else from `download`, which is then stored. The returned pin keeps the file cached.
    pub fn get_or_fetch(
        &self,
        key: &str,
        expected: u64,
        download: impl FnOnce() -> Result<Vec<u8>>,
    ) -> Result<(CachePin, Vec<u8>)> {
        check_relative(key).map_err(|message| DataError::Cache {
            dir: self.inner.dir.clone(),
            message,
        })?;
        let path = self.inner.dir.join(key);
        let pin = || CachePin {
            inner: self.inner.clone(),
            key: key.to_string(),
        };
        if self.pin_if_cached(key, expected) {
            match std::fs::read(&path) {
                Ok(bytes) if bytes.len() as u64 == expected => return Ok((pin(), bytes)),
                // Changed or removed behind the cache's back: forget it and download again.
                _ => self.forget(key, &path),
            }
        }
        let bytes = download()?;
        let size = bytes.len() as u64;
        {
            let mut state = lock(&self.inner.state);
            if let Some(stale) = state.entries.remove(key) {
                state.total -= stale.bytes;
            }
            self.make_room(&mut state, size)?;
            state.clock += 1;
            let clock = state.clock;
            state.total += size;
            state.entries.insert(
                key.to_string(),
                Entry {
                    bytes: size,
                    last_used: clock,
                    pins: 1,
                },
            );
        }
        if let Err(e) = self.write_atomic(&path, &bytes) {
            self.forget(key, &path);
            return Err(e);
        }
        Ok((pin(), bytes))
    }

    /// Pins `key` and marks it used if it is cached with the expected size.
    fn pin_if_cached(&self, key: &str, expected: u64) -> bool {
        let mut state = lock(&self.inner.state);
        state.clock += 1;
        let clock = state.clock;
        match state.entries.get_mut(key) {
            Some(entry) if entry.bytes == expected => {
                entry.pins += 1;
                entry.last_used = clock;
                true
            }
            _ => false,
        }
    }

    /// Drops `key` from the bookkeeping and the folder.
    fn forget(&self, key: &str, path: &Path) {
        let mut state = lock(&self.inner.state);
        if let Some(entry) = state.entries.remove(key) {
            state.total -= entry.bytes;
        }
        // Best effort: a file that cannot be removed is overwritten by the next download.
        let _ = std::fs::remove_file(path);
    }

    /// Evicts unpinned shards, least recently used first, until `incoming` more bytes fit.
    fn make_room(&self, state: &mut State, incoming: u64) -> Result<()> {
        while state.total + incoming > self.inner.limit {
            let victim = state
                .entries
                .iter()
                .filter(|(_, e)| e.pins == 0)
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            let Some(key) = victim else {
                return Err(DataError::Cache {
                    dir: self.inner.dir.clone(),
                    message: format!(
                        "limit of {} bytes cannot hold another {incoming} bytes: {} bytes are \
                         held by shards in use; raise the cache limit",
                        self.inner.limit, state.total
                    ),
                });
            };
            let path = self.inner.dir.join(&key);
            std::fs::remove_file(&path)
                .or_else(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        Ok(())
                    } else {
                        Err(e)
                    }
                })
                .map_err(|source| DataError::Io { path, source })?;
            if let Some(entry) = state.entries.remove(&key) {
                state.total -= entry.bytes;
            }
        }
        Ok(())
    }

    /// Writes `bytes` to `path` through a temporary file in the same folder.
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        let io = |source| DataError::Io {
            path: path.to_path_buf(),
            source,
        };
        let dir = path.parent().unwrap_or(&self.inner.dir);
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp")
            .tempfile_in(dir)
            .map_err(io)?;
        std::io::Write::write_all(&mut tmp, bytes).map_err(io)?;
        tmp.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }
}
