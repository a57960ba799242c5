//! `cascade serve` over real HTTP: the funnel's answers match `cascade recommend`, every error
//! path answers with its status and a JSON message, reloads (HTTP and SIGHUP) swap the model
//! under concurrent load without failing a request, saturation answers 503 with Retry-After, a
//! too-slow request 504, and bad start-up settings stop with a clear message.

mod common;

use common::service::{Service, http};
use common::{cascade, fails, ok, path, text};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The quickstart's runs, trained once for every test of this file. They live in cargo's
/// scratch folder for integration tests (`target/tmp`, replaced by the next run and removed by
/// `cargo clean`): a static is never dropped, so a temporary folder would outlive the tests.
fn runs() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-quickstart");
        let _ = std::fs::remove_dir_all(&dir);
        ok(&["quickstart", "--out", path(&dir)]);
        dir
    })
}

/// `cascade serve` on the quickstart's retrieval and ranking runs, with `extra` flags.
fn funnel(extra: &[&str]) -> Service {
    let runs = runs();
    let (retrieval, ranking) = (runs.join("retrieval"), runs.join("ranking"));
    let mut args = vec!["--retrieval", path(&retrieval), "--ranking", path(&ranking)];
    args.extend_from_slice(extra);
    Service::start(&args)
}

fn post(service: &Service, target: &str, body: &Value) -> (u16, Value) {
    let (status, _, body) = http(
        &service.address,
        "POST",
        target,
        body.to_string().as_bytes(),
    );
    (
        status,
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("JSON body: {body}")),
    )
}

fn get(service: &Service, target: &str) -> (u16, String) {
    let (status, _, body) = http(&service.address, "GET", target, b"");
    (status, body)
}

fn error_of(status_and_body: (u16, Value), status: u16) -> String {
    assert_eq!(status_and_body.0, status, "{}", status_and_body.1);
    status_and_body.1["error"]
        .as_str()
        .expect("an error message")
        .to_string()
}

fn ids(answer: &Value) -> Vec<String> {
    answer["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["item_id"].as_str().expect("item_id").to_string())
        .collect()
}

#[test]
fn the_service_answers_the_funnel_and_names_every_bad_request() {
    let runs = runs();
    let service = funnel(&["--max-body-bytes", "2048"]);
    let (status, health) = get(&service, "/healthz");
    assert_eq!(status, 200, "{health}");
    assert!(health.contains(r#""model_version":1"#), "{health}");

    // The same answer as the command line's funnel: retrieve, exclude seen, re-rank.
    let (status, answer) = post(&service, "/v1/recommend", &json!({"user_id": "1", "k": 5}));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["cold_start"], false);
    let printed = ok(&[
        "recommend",
        path(&runs.join("retrieval")),
        "--user",
        "1",
        "--k",
        "5",
        "--candidates",
        "100",
        "--rank",
        path(&runs.join("ranking")),
        "--json",
    ]);
    let cli: Value = serde_json::from_str(&printed).expect("recommend --json");
    assert_eq!(ids(&answer), ids(&cli));
    let ranking: Vec<f64> = answer["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["ranking_score"].as_f64().expect("a ranking score"))
        .collect();
    assert!(ranking.windows(2).all(|w| w[0] >= w[1]), "{ranking:?}");
    assert!(
        answer["items"][0]["title"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );

    // Exclusions: a listed item never comes back; seen items come back only when asked.
    let first = ids(&answer)[0].clone();
    let (_, without) = post(
        &service,
        "/v1/recommend",
        &json!({"user_id": 1, "k": 5, "exclude_items": [first, "no-such-item"]}),
    );
    assert!(!ids(&without).contains(&first), "{without}");
    assert_eq!(ids(&without).len(), 5);
    let (_, with_seen) = post(
        &service,
        "/v1/recommend",
        &json!({"user_id": "1", "k": 50, "candidates": 50, "exclude_seen": false}),
    );
    let (_, unseen) = post(
        &service,
        "/v1/recommend",
        &json!({"user_id": "1", "k": 50, "candidates": 50}),
    );
    assert_ne!(
        ids(&with_seen),
        ids(&unseen),
        "user 1's seen items rank among the best"
    );

    // An unknown user gets the most popular items, flagged.
    let (status, cold) = post(
        &service,
        "/v1/recommend",
        &json!({"user_id": "stranger", "k": 3}),
    );
    assert_eq!(status, 200);
    assert_eq!(cold["cold_start"], true);
    assert_eq!(ids(&cold).len(), 3);

    // Similar items: never the item itself.
    let (status, similar) = get(&service, &format!("/v1/similar-items/{first}?k=4"));
    assert_eq!(status, 200, "{similar}");
    let similar: Value = serde_json::from_str(&similar).expect("JSON");
    assert_eq!(ids(&similar).len(), 4);
    assert!(!ids(&similar).contains(&first));

    // Every bad request: its status and a message naming the problem.
    let bad = |body: &str| {
        let (status, _, answer) = http(&service.address, "POST", "/v1/recommend", body.as_bytes());
        (
            status,
            serde_json::from_str::<Value>(&answer).expect("a JSON error"),
        )
    };
    assert!(error_of(bad(r#"{"user_id": "1""#), 400).contains("invalid request body"));
    assert!(error_of(bad(r#"{"user_id": "1", "top": 3}"#), 400).contains("unknown field `top`"));
    assert!(error_of(bad(r#"{"user_id": "1", "k": -1}"#), 400).contains("got -1"));
    assert!(error_of(bad(r#"{"user_id": "1", "k": 5000}"#), 400).contains("between 1 and 1000"));
    assert!(error_of(bad(r#"[1, 2]"#), 400).contains("expected a JSON object"));
    let huge = format!(
        r#"{{"user_id": "1", "exclude_items": ["{}"]}}"#,
        "x".repeat(4096)
    );
    assert_eq!(bad(&huge).0, 413);
    let (status, body) = get(&service, "/v1/similar-items/no-such-item");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("unknown item"), "{body}");
    assert_eq!(
        get(&service, &format!("/v1/similar-items/{first}?k=0")).0,
        400
    );
    assert_eq!(
        get(&service, &format!("/v1/similar-items/{first}?k=x")).0,
        400
    );
    assert_eq!(
        get(&service, &format!("/v1/similar-items/{first}?top=3")).0,
        400
    );
    assert_eq!(get(&service, "/v2/anything").0, 404);
    assert_eq!(get(&service, "/v1/recommend").0, 405);

    // The metrics saw all of it.
    let (status, metrics) = get(&service, "/metrics");
    assert_eq!(status, 200);
    for expected in [
        r#"cascade_http_requests_total{route="/v1/recommend",status="200"}"#,
        r#"cascade_http_requests_total{route="/v1/recommend",status="400"} 5"#,
        r#"cascade_http_requests_total{route="/v1/recommend",status="413"} 1"#,
        r#"cascade_http_request_duration_seconds_bucket{le="+Inf",route="/v1/recommend"}"#,
        "cascade_model_version 1",
        "cascade_model_info{version=\"1\"",
    ] {
        assert!(
            metrics.contains(expected),
            "{expected} missing from:\n{metrics}"
        );
    }
}

#[test]
fn reloads_swap_the_model_under_load_without_failing_a_request() {
    let runs = runs();
    let service = funnel(&[]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..6)
        .map(|c| {
            let (address, stop) = (service.address.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut versions = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let body = json!({"user_id": (c + 1).to_string(), "k": 10}).to_string();
                    let (status, _, answer) =
                        http(&address, "POST", "/v1/recommend", body.as_bytes());
                    assert_eq!(status, 200, "a request failed during a reload: {answer}");
                    let answer: Value = serde_json::from_str(&answer).expect("JSON");
                    versions.push(answer["model_version"].as_u64().expect("version"));
                }
                versions
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // Through the API, to the same runs (their latest checkpoints)...
    let (status, reloaded) = post(&service, "/v1/admin/reload", &json!({}));
    assert_eq!(status, 200, "{reloaded}");
    assert_eq!(reloaded["model_version"], 2);
    // ...a reload that cannot load keeps the current model and says why...
    let refused = post(
        &service,
        "/v1/admin/reload",
        &json!({"ranking": runs.join("retrieval")}),
    );
    assert!(error_of(refused, 422).contains("is not a ranking run"));
    std::thread::sleep(Duration::from_millis(300));
    // ...and by SIGHUP, as daemons do.
    service.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !get(&service, "/healthz").1.contains(r#""model_version":3"#) {
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut seen: Vec<u64> = clients
        .into_iter()
        .flat_map(|c| c.join().expect("no client failed"))
        .collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen, vec![1, 2, 3], "every version answered");
    let (_, metrics) = get(&service, "/metrics");
    assert!(
        metrics.contains(r#"cascade_model_reloads_total{outcome="ok"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"cascade_model_reloads_total{outcome="failed"} 1"#),
        "{metrics}"
    );
    // SIGTERM ends the service cleanly.
    let mut service = service;
    service.signal("TERM");
    let status = service.child.wait().expect("the service exits");
    assert!(status.success(), "{status}");
}

#[test]
fn saturation_answers_503_with_retry_after_and_slow_requests_504() {
    let saturated = funnel(&["--max-concurrency", "1"]);
    // Every candidate of the corpus re-ranked: long enough for requests to overlap.
    let body = json!({"user_id": "2", "k": 10, "candidates": 5000}).to_string();
    let answers: Vec<(u16, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                scope.spawn(|| {
                    (0..4)
                        .map(|_| {
                            let (status, head, _) =
                                http(&saturated.address, "POST", "/v1/recommend", body.as_bytes());
                            (status, head)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("client"))
            .collect()
    });
    assert!(
        answers.iter().all(|(s, _)| *s == 200 || *s == 503),
        "{answers:?}"
    );
    assert!(answers.iter().any(|(s, _)| *s == 200));
    let refused: Vec<_> = answers.iter().filter(|(s, _)| *s == 503).collect();
    assert!(
        !refused.is_empty(),
        "16 clients never overlapped on one slot"
    );
    assert!(
        refused
            .iter()
            .all(|(_, head)| head.contains("retry-after: 1")),
        "{refused:?}"
    );

    let hurried = funnel(&["--timeout-ms", "1"]);
    let statuses: Vec<u16> = (0..5)
        .map(|_| http(&hurried.address, "POST", "/v1/recommend", body.as_bytes()).0)
        .collect();
    assert!(statuses.contains(&504), "{statuses:?}");
}

#[test]
fn bad_start_up_settings_stop_with_a_clear_message() {
    let runs = runs();
    let retrieval = runs.join("retrieval");
    let ranking = runs.join("ranking");
    let missing = fails(&["serve", "--retrieval", "/no/such/run"]);
    assert!(missing.contains("/no/such/run does not exist"), "{missing}");
    let swapped = fails(&[
        "serve",
        "--retrieval",
        path(&ranking),
        "--bind",
        "127.0.0.1:0",
    ]);
    assert!(swapped.contains("is not a retrieval run"), "{swapped}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let address = taken.local_addr().expect("address").to_string();
    let busy = fails(&["serve", "--retrieval", path(&retrieval), "--bind", &address]);
    assert!(
        busy.contains(&format!("cannot listen on {address}")),
        "{busy}"
    );
    let zero = cascade(&[
        "serve",
        "--retrieval",
        path(&retrieval),
        "--max-concurrency",
        "0",
    ]);
    assert!(!zero.status.success());
    assert!(text(&zero.stderr).contains("--max-concurrency"));
}

/// A PostgreSQL with pgvector started by the project's script, stopped when dropped.
struct Postgres {
    dir: tempfile::TempDir,
    url: String,
}

impl Postgres {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("a server folder");
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/postgres-server.sh"
        );
        let out = Command::new(script)
            .args(["start", path(dir.path())])
            .output()
            .expect("scripts/postgres-server.sh runs");
        assert!(
            out.status.success(),
            "scripts/postgres-server.sh start failed: {}",
            text(&out.stderr)
        );
        let url = text(&out.stdout).trim().to_string();
        Self { dir, url }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/postgres-server.sh"
        );
        let _ = Command::new(script)
            .args(["stop", path(self.dir.path())])
            .output();
    }
}

#[test]
fn a_pgvector_table_serves_the_same_top_k_as_the_exact_index() {
    let runs = runs();
    let retrieval = runs.join("retrieval");
    let postgres = Postgres::start();
    let exported = ok(&["index", "export", path(&retrieval), "--to", &postgres.url]);
    assert!(
        exported.contains("exported 1667 item vectors"),
        "{exported}"
    );
    assert!(
        !exported.contains("postgres@"),
        "no user or password printed: {exported}"
    );

    let exact = funnel(&[]);
    let stored = funnel(&["--index", &postgres.url]);
    let mut overlap = 0;
    for user in 1..=30 {
        // candidates = k: the re-ranking only reorders the retrieved set.
        let query = json!({"user_id": user.to_string(), "k": 20, "candidates": 20});
        let (status, from_exact) = post(&exact, "/v1/recommend", &query);
        assert_eq!(status, 200, "{from_exact}");
        let (status, from_postgres) = post(&stored, "/v1/recommend", &query);
        assert_eq!(status, 200, "{from_postgres}");
        let want: std::collections::HashSet<String> = ids(&from_exact).into_iter().collect();
        let got = ids(&from_postgres);
        assert_eq!(got.len(), 20);
        overlap += got.iter().filter(|i| want.contains(*i)).count();
    }
    let recall = overlap as f64 / 600.0;
    assert!(
        recall >= 0.95,
        "pgvector recall@20 against exact search: {recall}"
    );

    // A table of other vectors is refused, naming the table.
    let missing = fails(&[
        "recommend",
        path(&retrieval),
        "--user",
        "1",
        "--index",
        &postgres.url,
        "--index-table",
        "other_items",
    ]);
    assert!(missing.contains("table other_items"), "{missing}");
    let bad = fails(&[
        "index",
        "export",
        path(&retrieval),
        "--to",
        &postgres.url,
        "--table",
        "x;y",
    ]);
    assert!(bad.contains("table name \"x;y\""), "{bad}");
}
