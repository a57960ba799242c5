//! Training across ranks under Open MPI's `mpirun`, through the real binary (built with the
//! `mpi` feature; `scripts/test-mpi.sh` runs these tests):
//!
//! - equivalence: 1, 2 and 4 ranks give the same loss curve over 100 steps (relative
//!   difference below 1e-4) and the same AUC;
//! - resharding: a checkpoint written by 2 ranks continues on 4 ranks and on 1 process to the
//!   model the uninterrupted 2-rank run ends with;
//! - faults: a rank killed mid-run ends the job promptly, and `--resume` continues from the
//!   last checkpoint to the same final model; a rank that hangs makes the others end the job
//!   after the collective timeout, naming the collective.

#![cfg(feature = "mpi")]

mod common;

use common::{ok, path, text};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The launcher: `$MPIRUN`, else `mpirun` on the PATH.
fn mpirun() -> Command {
    let mut cmd = Command::new(std::env::var("MPIRUN").unwrap_or_else(|_| "mpirun".into()));
    cmd.args(["--allow-run-as-root", "--oversubscribe"])
        .env_remove("MLFLOW_TRACKING_URI");
    cmd
}

/// `mpirun -n RANKS cascade ARGS...`, not yet started.
fn launch(ranks: usize, args: &[&str]) -> Command {
    let mut cmd = mpirun();
    cmd.arg("-n")
        .arg(ranks.to_string())
        .arg(env!("CARGO_BIN_EXE_cascade"))
        .args(args);
    cmd
}

/// Runs `mpirun -n RANKS cascade ARGS...`, which must succeed within two minutes.
fn run_ranks(ranks: usize, args: &[&str]) -> Output {
    let child = launch(ranks, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpirun starts");
    let out = wait_with_limit(child, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "mpirun -n {ranks} cascade {args:?} failed: {}",
        text(&out.stderr)
    );
    out
}

/// `train CONFIG --data DATA --out RUN`.
fn train_args<'a>(config: &'a Path, data: &'a Path, run: &'a Path) -> Vec<&'a str> {
    vec![
        "train",
        path(config),
        "--data",
        path(data),
        "--out",
        path(run),
    ]
}

/// Runs `cascade ARGS` on `ranks` ranks (a plain process for one), which must succeed.
fn on_ranks(ranks: usize, args: &[&str]) -> Output {
    if ranks > 1 {
        return run_ranks(ranks, args);
    }
    let out = common::cascade(args);
    assert!(
        out.status.success(),
        "cascade {args:?}: {}",
        text(&out.stderr)
    );
    out
}

/// Waits for `child`, killing it (and failing) past `limit`.
fn wait_with_limit(mut child: Child, limit: Duration) -> Output {
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!("still running after {limit:?}: {}", text(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A DLRM-shaped dataset whose four tables become row-wise, table-wise and replicated under
/// the test configuration's 1 MiB budget.
fn dataset(dir: &Path, rows: u64) -> PathBuf {
    let out = dir.join("data");
    ok(&[
        "data",
        "synth",
        "--kind",
        "dlrm",
        "--rows",
        &rows.to_string(),
        "--tables",
        "4",
        "--cardinality",
        "50000,2000,300,20",
        "--multi-hot",
        "1-3",
        "--out",
        path(&out),
    ]);
    out
}

/// The training configuration of these tests (written into `dir`).
fn config(dir: &Path, extra: &str) -> PathBuf {
    let file = dir.join("dlrm.toml");
    let text = format!(
        r#"
[data]
batch_size = 256
[model]
kind = "dlrm"
embedding_dim = 8
bottom_mlp = [16, 8]
top_mlp = [16, 1]
[embeddings]
optimizer = "rowwise_adagrad"
learning_rate = 0.05
[optimizer]
kind = "adam"
learning_rate = 0.001
[train]
threads = 1
log_every = 5
keep_checkpoints = 20
{extra}
[distributed]
memory_per_rank = "1MiB"
replicate_max = "1KiB"
collective_timeout_s = 3
"#
    );
    std::fs::write(&file, text).expect("config written");
    file
}

/// `(step, loss)` of every `train/logloss` line of a run's metrics log.
fn losses(run: &Path) -> Vec<(u64, f64)> {
    let log = std::fs::read_to_string(run.join("metrics.jsonl")).expect("metrics log");
    let mut out: Vec<(u64, f64)> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["name"] == "train/logloss")
        .map(|v| (v["step"].as_u64().unwrap(), v["value"].as_f64().unwrap()))
        .collect();
    out.dedup_by_key(|(step, _)| *step);
    out
}

/// The final evaluation of a run, from its summary.
fn final_eval(run: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run.join("summary.json")).expect("summary");
    let summary: serde_json::Value = serde_json::from_str(&text).expect("summary JSON");
    summary["result"]["eval"].clone()
}

/// Asserts that two evaluations agree within `tolerance` on AUC and log loss.
fn same_eval(a: &serde_json::Value, b: &serde_json::Value, tolerance: f64, what: &str) {
    for key in ["auc", "logloss"] {
        let (x, y) = (a[key].as_f64().unwrap(), b[key].as_f64().unwrap());
        assert!(
            (x - y).abs() <= tolerance,
            "{what}: {key} {x} vs {y} (tolerance {tolerance})"
        );
    }
}

#[test]
fn one_two_and_four_ranks_train_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path(), 20_000);
    let config = config(dir.path(), "epochs = 2\nmax_steps = 100");
    let mut curves = Vec::new();
    for ranks in [1, 2, 4] {
        let run = dir.path().join(format!("run-{ranks}"));
        let out = on_ranks(ranks, &train_args(&config, &data, &run));
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("summary");
        assert_eq!(summary["ranks"], ranks);
        assert_eq!(summary["steps"], 100);
        if ranks > 1 {
            assert!(
                summary["communication"]["bytes_sent_per_step"]
                    .as_f64()
                    .unwrap()
                    > 0.0
            );
        }
        curves.push((ranks, losses(&run), final_eval(&run)));
    }
    let (_, single, single_eval) = &curves[0];
    assert_eq!(single.len(), 20, "a loss every 5 steps");
    assert!(single_eval["auc"].as_f64().unwrap() > 0.55, "{single_eval}");
    for (ranks, curve, eval) in &curves[1..] {
        assert_eq!(curve.len(), single.len());
        for ((step, a), (_, b)) in single.iter().zip(curve) {
            let relative = (a - b).abs() / a.abs();
            assert!(
                relative < 1e-4,
                "{ranks} ranks, step {step}: loss {b} vs {a} on one process"
            );
        }
        same_eval(single_eval, eval, 1e-4, &format!("{ranks} ranks"));
    }
}

#[test]
fn dcn_with_f16_tables_trains_the_same_on_two_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path(), 12_000);
    let config = config(dir.path(), "max_steps = 30");
    let mut evals = Vec::new();
    for ranks in [1, 2] {
        let run = dir.path().join(format!("run-{ranks}"));
        let mut args = train_args(&config, &data, &run);
        args.extend([
            "--set",
            "model.kind=dcn",
            "--set",
            "model.cross_layers=2",
            "--set",
            "embeddings.storage=f16",
        ]);
        on_ranks(ranks, &args);
        evals.push((losses(&run), final_eval(&run)));
    }
    for ((step, a), (_, b)) in evals[0].0.iter().zip(&evals[1].0) {
        assert!((a - b).abs() / a.abs() < 1e-4, "step {step}: {b} vs {a}");
    }
    same_eval(&evals[0].1, &evals[1].1, 1e-4, "dcn on 2 ranks");
}

/// Points the run's `latest` at step `step`, as if it had stopped right after writing that
/// checkpoint, and drops the later ones.
fn rewind(run: &Path, step: u64) {
    let checkpoints = run.join("checkpoints");
    let name = format!("step-{step:010}");
    assert!(checkpoints.join(&name).is_dir(), "no checkpoint {name}");
    for entry in std::fs::read_dir(&checkpoints).unwrap() {
        let entry = entry.unwrap();
        let file = entry.file_name().into_string().unwrap();
        if file.starts_with("step-") && file > name {
            std::fs::remove_dir_all(entry.path()).unwrap();
        }
    }
    std::fs::write(checkpoints.join("latest"), &name).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_checkpoint_of_two_ranks_resumes_on_four_and_on_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path(), 12_000);
    let config = config(dir.path(), "checkpoint_every = 10");
    let full = dir.path().join("full");
    run_ranks(2, &train_args(&config, &data, &full));
    let want = final_eval(&full);
    // The checkpoint holds each rank's shards, not whole tables.
    let model = full.join("checkpoints/step-0000000020/model");
    assert!(model.join("embeddings.rank-00001.bin").is_file());
    assert!(!model.join("embeddings.bin").exists());
    for ranks in [4, 1] {
        let run = dir.path().join(format!("resumed-{ranks}"));
        copy_dir(&full, &run);
        rewind(&run, 20);
        on_ranks(ranks, &["train", "--resume", path(&run)]);
        same_eval(
            &want,
            &final_eval(&run),
            1e-4,
            &format!("resumed on {ranks}"),
        );
    }
    // A single process evaluates the sharded checkpoint of the run as a whole model.
    let eval: serde_json::Value = serde_json::from_str(&ok(&[
        "eval",
        path(&full),
        "--data",
        path(&data),
        "--split",
        "val",
        "--json",
    ]))
    .expect("eval JSON");
    same_eval(&want, &eval, 1e-4, "cascade eval of the 2-rank run");
}

/// The pid of rank `rank` among the processes `mpirun` (pid `launcher`) started.
fn rank_pid(launcher: u32, rank: usize) -> Option<u32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The parent pid is the 4th field, after the parenthesised command name.
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if parent != Some(launcher) {
            continue;
        }
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let wanted = format!("OMPI_COMM_WORLD_RANK={rank}");
        if environ.split(|&b| b == 0).any(|v| v == wanted.as_bytes()) {
            return Some(pid);
        }
    }
    None
}

/// Waits until the run's `latest` checkpoint is at least `step`.
fn wait_for_checkpoint(run: &Path, step: u64, limit: Duration) {
    let started = Instant::now();
    let latest = run.join("checkpoints/latest");
    while started.elapsed() < limit {
        let at = std::fs::read_to_string(&latest)
            .ok()
            .and_then(|n| n.trim().strip_prefix("step-")?.parse::<u64>().ok());
        if at.is_some_and(|s| s >= step) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("no checkpoint at step {step} after {limit:?}");
}

fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {signal} {pid}");
}

/// What happened to a 2-rank job disturbed mid-run.
struct Disturbed {
    /// mpirun's exit status and output.
    out: Output,
    /// Seconds from the signal to the end of the job.
    ended_after: Duration,
    /// The rank that got the signal.
    victim: u32,
}

/// Trains `config` on `data` into `run` on 2 ranks and sends rank 1 `sig` once the checkpoint
/// of step `after` exists; returns when the job has ended.
fn disturb(config: &Path, data: &Path, run: &Path, after: u64, sig: &str) -> Disturbed {
    let child = launch(2, &train_args(config, data, run))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpirun starts");
    let launcher = child.id();
    wait_for_checkpoint(run, after, Duration::from_secs(60));
    let victim = rank_pid(launcher, 1).expect("rank 1 is running");
    signal(victim, sig);
    let sent = Instant::now();
    let out = wait_with_limit(child, Duration::from_secs(60));
    Disturbed {
        out,
        ended_after: sent.elapsed(),
        victim,
    }
}

#[test]
fn a_killed_rank_ends_the_job_and_resume_finishes_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path(), 60_000);
    let config = config(dir.path(), "checkpoint_every = 10");
    let full = dir.path().join("full");
    run_ranks(2, &train_args(&config, &data, &full));
    let want = final_eval(&full);

    let run = dir.path().join("killed");
    let killed = disturb(&config, &data, &run, 20, "-KILL");
    assert!(
        !killed.out.status.success(),
        "the job must fail when a rank dies"
    );
    assert!(
        killed.ended_after < Duration::from_secs(30),
        "the other rank took {:?} to end",
        killed.ended_after
    );
    let latest = |run: &Path| std::fs::read_to_string(run.join("checkpoints/latest")).unwrap();
    assert!(
        latest(&run) < latest(&full),
        "the run ended before the kill ({} of {})",
        latest(&run),
        latest(&full)
    );

    run_ranks(2, &["train", "--resume", path(&run)]);
    same_eval(
        &want,
        &final_eval(&run),
        1e-6,
        "resumed after a killed rank",
    );
}

#[test]
fn a_hung_rank_makes_the_others_end_the_job_after_the_collective_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path(), 60_000);
    let config = config(dir.path(), "checkpoint_every = 10");
    let hung = disturb(&config, &data, &dir.path().join("hung"), 10, "-STOP");
    // The stopped rank may outlive the job; end it.
    let _ = Command::new("kill")
        .args(["-KILL", &hung.victim.to_string()])
        .status();
    assert!(!hung.out.status.success());
    let stderr = text(&hung.out.stderr);
    assert!(
        stderr.contains("rank 0 of 2 waited 3 s in"),
        "the timeout names the rank and the collective: {stderr}"
    );
    assert!(
        hung.ended_after < Duration::from_secs(30),
        "ended after {:?}",
        hung.ended_after
    );
}
