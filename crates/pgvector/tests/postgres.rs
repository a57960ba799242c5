//! Exports item embeddings to a real PostgreSQL with pgvector (started by
//! scripts/postgres-server.sh) and checks the searches against the exact in-memory index.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use cascade_pgvector::{PgVectorError, PgVectorIndex, PgVectorStore};
use cascade_retrieve::{ExactIndex, Exclusions, ItemEmbeddings, Metric, TopKIndex};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const DIM: usize = 32;
const ITEMS: usize = 2000;
const QUERIES: usize = 50;
const K: usize = 10;

/// A server for this test binary, stopped when dropped (also when a test fails).
struct Server {
    dir: tempfile::TempDir,
    url: String,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/postgres-server.sh")
}

impl Server {
    fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("cascade-pg")
            .tempdir()
            .expect("create a directory for the server");
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(dir.path())
            .output()
            .expect("run scripts/postgres-server.sh");
        // Built before checking, so that a failed start still stops whatever it started.
        let server = Self {
            url: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            dir,
        };
        assert!(
            out.status.success() && server.url.starts_with("postgres://"),
            "scripts/postgres-server.sh start failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

fn uniform(rows: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..rows * dim)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect()
}

fn ids(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("item-{i}")).collect()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Checks every hit's score against the true inner product and returns recall against `exact`.
fn compare(
    pg: &PgVectorIndex,
    exact: &ExactIndex,
    items: &[f32],
    queries: &[f32],
    k: usize,
    exclusions: Option<&Exclusions>,
) -> f64 {
    let got = pg.search(queries, k, exclusions).expect("pgvector search");
    let want = exact.search(queries, k, exclusions).expect("exact search");
    let mut found = 0;
    let mut total = 0;
    for q in 0..queries.len() / DIM {
        let query = &queries[q * DIM..(q + 1) * DIM];
        assert_eq!(
            got.hits(q).len(),
            want.hits(q).len(),
            "query {q}: hit count"
        );
        for hit in got.hits(q) {
            let item = hit.item as usize;
            let truth = dot(query, &items[item * DIM..(item + 1) * DIM]);
            assert!(
                (hit.score - truth).abs() <= 1e-4,
                "query {q} item {item}: score {} but the inner product is {truth}",
                hit.score
            );
            if let Some(ex) = exclusions {
                assert!(
                    !ex.excludes(q, hit.item),
                    "query {q}: excluded item {item} returned"
                );
            }
        }
        let want_items = want.items(q);
        found += got
            .items(q)
            .iter()
            .filter(|item| want_items.contains(item))
            .count();
        total += want_items.len();
    }
    found as f64 / total as f64
}

#[test]
fn pgvector_index_against_a_real_server() {
    let server = Server::start();
    let values = uniform(ITEMS, DIM, 7);
    let embeddings = ItemEmbeddings::new(DIM, values.clone()).expect("embeddings");
    let exact = ExactIndex::new(embeddings.clone(), Metric::InnerProduct).expect("exact index");
    let queries = uniform(QUERIES, DIM, 8);

    let mut store = PgVectorStore::connect(&server.url).expect("connect");
    let started = std::time::Instant::now();
    let summary = store
        .export("items", &embeddings, &ids(ITEMS))
        .expect("export");
    eprintln!("exported {ITEMS} x {DIM} in {:?}", started.elapsed());
    assert_eq!((summary.dim, summary.items), (DIM, ITEMS));
    assert_eq!(summary.fingerprint, embeddings.fingerprint());

    let index = PgVectorIndex::open(&server.url, "items").expect("open");
    assert_eq!((index.dim(), index.len()), (DIM, ITEMS));
    assert_eq!(index.fingerprint(), embeddings.fingerprint());
    index
        .check_fingerprint(embeddings.fingerprint())
        .expect("same fingerprint");
    let name = index.source_name();
    assert!(
        name.starts_with("postgres://127.0.0.1:") && name.ends_with("/postgres table items"),
        "{name}"
    );

    // Plain top-10: recall against the exact ranking, scores equal to the inner products.
    let recall = compare(&index, &exact, &values, &queries, K, None);
    assert!(recall >= 0.95, "recall@10 {recall}");

    // Exclusions: each query excludes its own exact top 5, and 100 items are withdrawn.
    let plain = exact.search(&queries, 5, None).expect("exact search");
    let mut offsets = vec![0];
    let mut seen = Vec::new();
    for q in 0..QUERIES {
        seen.extend(plain.items(q));
        offsets.push(seen.len());
    }
    let withdrawn: Vec<u32> = (0..100).map(|i| i * 20).collect();
    let exclusions = Exclusions::new(ITEMS)
        .exclude_everywhere(&withdrawn)
        .and_then(|ex| ex.with_seen(offsets, seen))
        .expect("exclusions");
    let recall = compare(&index, &exact, &values, &queries, K, Some(&exclusions));
    assert!(recall >= 0.95, "recall@10 with exclusions {recall}");
    let got = index
        .search(&queries, K, Some(&exclusions))
        .expect("search");
    assert!((0..QUERIES).all(|q| got.hits(q).len() == K));

    // K plus exclusions beyond ef_search's cap: an exact scan, so exactly the exact answer.
    let few = &queries[..3 * DIM];
    let few_ex = Exclusions::new(ITEMS)
        .exclude_everywhere(&withdrawn)
        .expect("exclusions");
    let got = index.search(few, 950, Some(&few_ex)).expect("wide search");
    let want = exact.search(few, 950, Some(&few_ex)).expect("exact search");
    for q in 0..3 {
        assert_eq!(got.hits(q).len(), 950);
        assert_eq!(got.items(q), want.items(q), "query {q}");
    }
    // K above the corpus is clamped like the in-memory indexes do.
    let got = index
        .search(&queries[..DIM], ITEMS + 5, None)
        .expect("clamped");
    assert_eq!(got.hits(0).len(), ITEMS);
    assert!(got.clamped().is_some());

    // Concurrent callers, from plain threads and from tokio's blocking pool.
    let index = Arc::new(index);
    std::thread::scope(|scope| {
        for t in 0..6 {
            let index = &index;
            let queries = &queries;
            scope.spawn(move || {
                for _ in 0..5 {
                    let q = &queries[t * DIM..(t + 1) * DIM];
                    let got = index.search(q, K, None).expect("threaded search");
                    assert_eq!(got.hits(0).len(), K);
                }
            });
        }
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for t in 0..8 {
            let index = Arc::clone(&index);
            let q = queries[t * DIM..(t + 1) * DIM].to_vec();
            tasks.push(tokio::task::spawn_blocking(move || {
                index.search(&q, K, None).map(|top| top.hits(0).len())
            }));
        }
        for task in tasks {
            assert_eq!(task.await.expect("join").expect("search"), K);
        }
        // Opened on a blocking thread, dropped inside an async task: must not panic.
        let url = server.url.clone();
        let other = tokio::task::spawn_blocking(move || PgVectorIndex::open(&url, "items"))
            .await
            .expect("join")
            .expect("open");
        drop(other);
    });
    drop(runtime);

    // Re-export with fewer items replaces the table; the open index notices, a new one sees it.
    let smaller = ItemEmbeddings::new(DIM, uniform(1500, DIM, 9)).expect("embeddings");
    let summary = store
        .export("items", &smaller, &ids(1500))
        .expect("re-export");
    assert_eq!(summary.items, 1500);
    let err = index.search(&queries, K, None).unwrap_err().to_string();
    assert!(
        err.contains("re-exported") && err.contains("table items"),
        "{err}"
    );
    let reopened = PgVectorIndex::open(&server.url, "items").expect("reopen");
    assert_eq!(reopened.len(), 1500);
    assert_eq!(reopened.fingerprint(), smaller.fingerprint());
    assert!(
        reopened
            .check_fingerprint(embeddings.fingerprint())
            .is_err()
    );
    let got = reopened.search(&queries, K, None).expect("search");
    assert!((0..QUERIES).all(|q| got.items(q).iter().all(|&i| i < 1500)));

    // Clear errors: bad and unknown table names, a table no export wrote, mismatched ids.
    let err = store
        .export("items; drop", &embeddings, &ids(ITEMS))
        .unwrap_err();
    assert!(matches!(err, PgVectorError::BadTableName { .. }), "{err}");
    assert!(err.to_string().contains("items; drop"), "{err}");
    let err = PgVectorIndex::open(&server.url, "no_such_table")
        .err()
        .expect("unknown table refused")
        .to_string();
    assert!(
        err.contains("no_such_table") && err.contains("postgres://127.0.0.1:"),
        "{err}"
    );
    let mut client = postgres::Client::connect(&server.url, postgres::NoTls).expect("connect");
    client
        .batch_execute("CREATE TABLE someone_elses (x integer)")
        .expect("create a foreign table");
    let err = store
        .export("someone_elses", &embeddings, &ids(ITEMS))
        .unwrap_err()
        .to_string();
    assert!(err.contains("refusing to replace"), "{err}");
    let err = store
        .export("other", &embeddings, &ids(3))
        .unwrap_err()
        .to_string();
    assert!(err.contains("3 ids for 2000"), "{err}");
}

#[test]
fn unreachable_servers_and_bad_urls_are_named() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let err = PgVectorStore::connect("postgres://alice:s3cret@127.0.0.1:1/catalog")
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("postgres://127.0.0.1:1/catalog") && !err.contains("s3cret"),
        "{err}"
    );
    let err = PgVectorIndex::open("postgres://alice:s3cret@127.0.0.1:1/catalog", "items")
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("127.0.0.1:1") && !err.contains("s3cret"),
        "{err}"
    );
    let err = PgVectorStore::connect("postgres://alice:s3cret@host:port/db")
        .err()
        .expect("bad url")
        .to_string();
    assert!(
        err.contains("not a valid PostgreSQL URL") && !err.contains("s3cret"),
        "{err}"
    );
    let err = PgVectorIndex::open("postgres://127.0.0.1:1/db", "bad-name")
        .err()
        .expect("bad name")
        .to_string();
    assert!(err.contains("bad-name"), "{err}");
}
