//! Reading over HTTP from a static file server on the loopback interface, started inside the
//! test: every sample arrives once, the shard cache stays under its size limit by evicting the
//! least recently used shards, a second reader reuses cached shards, and a limit too small for
//! the shards in use is a clear error.

mod common;

use cascade_data::{CacheConfig, OpenOptions, ReaderConfig, ShuffleConfig, StreamingDataset};
use common::{manifest, write_dataset};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Requests served, by path.
type Log = Arc<Mutex<HashMap<String, usize>>>;

/// Serves the files under `root` over HTTP/1.1 on 127.0.0.1; returns the base URL and the log.
fn serve(root: PathBuf) -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let served = log.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            if reader.read_line(&mut request).is_err() {
                continue;
            }
            loop {
                let mut header = String::new();
                match reader.read_line(&mut header) {
                    Ok(n) if n > 2 => continue,
                    _ => break,
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            *served.lock().unwrap().entry(path.clone()).or_default() += 1;
            let file = root.join(path.trim_start_matches('/'));
            let response = match std::fs::read(&file) {
                Ok(body) => {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Sat, 28 Nov 2026 12:00:00 GMT\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    [head.into_bytes(), body].concat()
                }
                Err(_) => {
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_vec()
                }
            };
            let _ = stream.write_all(&response);
        }
    });
    (url, log)
}

fn shard_requests(log: &Log) -> usize {
    log.lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p.contains("shard."))
        .map(|(_, n)| n)
        .sum()
}

fn files_under(dir: &Path) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            out.extend(files_under(&entry.path()));
        } else {
            out.push((
                entry.file_name().to_string_lossy().into_owned(),
                entry.metadata().unwrap().len(),
            ));
        }
    }
    out
}

#[test]
fn http_dataset_reads_through_a_bounded_lru_cache() {
    let served = tempfile::tempdir().unwrap();
    write_dataset(&served.path().join("train"), 400, 2048, true);
    manifest(400).save(served.path()).unwrap();
    let (url, log) = serve(served.path().to_path_buf());

    let cache_dir = tempfile::tempdir().unwrap();
    let local = StreamingDataset::open(
        served.path().join("train").to_str().unwrap(),
        &OpenOptions::default(),
    )
    .unwrap();
    let shard_sizes: Vec<u64> = local
        .index()
        .shards
        .iter()
        .map(|s| s.zip_data.as_ref().unwrap().bytes)
        .collect();
    let total: u64 = shard_sizes.iter().sum();
    let largest = *shard_sizes.iter().max().unwrap();
    let limit = largest * 6;
    assert!(
        shard_sizes.len() >= 8 && limit < total,
        "want more shards than the cache holds"
    );
    let options = OpenOptions {
        cache: Some(CacheConfig {
            dir: cache_dir.path().to_path_buf(),
            limit_bytes: limit,
        }),
        storage: Vec::new(),
    };

    let (m, ds) = StreamingDataset::open_split(&url, "train", &options).unwrap();
    let spec = ds.batch_spec(&m).unwrap();
    let config = ReaderConfig {
        batch_size: 10,
        workers: 2,
        ..ReaderConfig::default()
    };
    let shuffle = ShuffleConfig {
        shuffle: true,
        seed: 4,
        window: 40,
    };
    let mut seen = Vec::new();
    for batch in ds
        .batches(&spec, &config, &ds.start_state(shuffle, 0))
        .unwrap()
    {
        let batch = batch.unwrap();
        for (i, &g) in batch.indices.iter().enumerate() {
            assert_eq!(batch.dense_row(i), [g as f32, -(g as f32)]);
        }
        seen.extend(batch.indices);
        let cache = ds.cache().unwrap();
        assert!(
            cache.used_bytes() <= limit,
            "cache holds {} > {limit}",
            cache.used_bytes()
        );
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..400).collect::<Vec<_>>());
    assert_eq!(
        shard_requests(&log),
        shard_sizes.len(),
        "each shard downloaded once per epoch"
    );
    let files = files_under(cache_dir.path());
    assert!(
        files.iter().all(|(name, _)| !name.starts_with(".tmp")),
        "partial download left: {files:?}"
    );
    let on_disk: u64 = files.iter().map(|(_, n)| n).sum();
    assert!(
        on_disk <= limit && files.len() < shard_sizes.len(),
        "nothing evicted: {files:?}"
    );
    assert_eq!(on_disk, ds.cache().unwrap().used_bytes());
    let kept = ds.cache().unwrap().cached();
    drop(ds);

    // A new reader over the same cache folder reuses what is cached, without downloading it.
    let before = shard_requests(&log);
    let (_, again) = StreamingDataset::open_split(&url, "train", &options).unwrap();
    assert_eq!(again.cache().unwrap().cached().len(), kept.len());
    let samples: usize = again
        .samples(
            // One loader thread: how many shards two threads pin at once depends on timing,
            // and this cache limit leaves room for the shards of one.
            &ReaderConfig {
                batch_size: 64,
                workers: 1,
                ..config
            },
            &again.start_state(shuffle, 1),
        )
        .unwrap()
        .map(|b| b.unwrap().len())
        .sum();
    assert_eq!(samples, 400);
    let downloads = shard_requests(&log) - before;
    assert!(
        downloads < shard_sizes.len(),
        "cached shards downloaded again ({downloads})"
    );
    assert!(again.cache().unwrap().used_bytes() <= limit);
}

#[test]
fn cache_smaller_than_the_shards_in_use_is_an_error() {
    let served = tempfile::tempdir().unwrap();
    write_dataset(served.path(), 200, 2048, true);
    let (url, _log) = serve(served.path().to_path_buf());
    let cache_dir = tempfile::tempdir().unwrap();
    let options = OpenOptions {
        cache: Some(CacheConfig {
            dir: cache_dir.path().to_path_buf(),
            limit_bytes: 100,
        }),
        storage: Vec::new(),
    };
    let ds = StreamingDataset::open(&url, &options).unwrap();
    let spec = ds.batch_spec(&manifest(200)).unwrap();
    let err = ds
        .batches(
            &spec,
            &ReaderConfig::default(),
            &ds.start_state(ShuffleConfig::default(), 0),
        )
        .unwrap()
        .find_map(|r| r.err())
        .expect("a 100-byte cache accepted a shard");
    let text = err.to_string();
    assert!(
        text.contains(&cache_dir.path().display().to_string())
            && text.contains("limit of 100 bytes"),
        "{text}"
    );
}

#[test]
fn missing_remote_dataset_names_the_url() {
    let served = tempfile::tempdir().unwrap();
    let (url, _log) = serve(served.path().to_path_buf());
    let err =
        StreamingDataset::open(&format!("{url}/nothing"), &OpenOptions::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("{url}/nothing/index.json")),
        "{err}"
    );
}
