//! Runs every collective of `MpiGroup` with rank-dependent data and checks each result
//! against what it must be; exits non-zero on the first mismatch. Run it under an MPI
//! launcher (see scripts/test-mpi.sh):
//!
//! ```sh
//! cargo build -p cascade-dist --features mpi --example collectives --profile ci
//! mpirun -n 4 target/ci/examples/collectives
//! ```
//!
//! Started without a launcher it runs as a world of one (Open MPI's singleton mode).

use cascade_dist::{MpiGroup, ProcessGroup, Received, from_environment, launcher_world_size};
use std::process::ExitCode;

mod support;

fn main() -> ExitCode {
    support::run_checks("collectives", "all checks passed", check_all)
}

/// What rank `from` sends rank `to` in the all-to-all checks: `from + 1` values when `to` is
/// even, none when `to` is odd (so empty blocks are exercised), each naming both ranks.
fn ids_for(from: usize, to: usize) -> Vec<u64> {
    let n = if to.is_multiple_of(2) { from + 1 } else { 0 };
    (0..n)
        .map(|k| (from * 1_000_000 + to * 1_000 + k) as u64)
        .collect()
}

fn check_all(g: &dyn ProcessGroup) -> Vec<String> {
    let (rank, size) = (g.rank(), g.world_size());
    let mut failures = Vec::new();
    let mut check = |name: &str, ok: bool, detail: String| {
        if !ok {
            failures.push(format!("{name}: {detail}"));
        }
    };

    // The launcher and MPI agree on the world size.
    if let Some((announced, variable)) = launcher_world_size() {
        check(
            "world size",
            announced == size,
            format!("{variable} says {announced}, MPI says {size}"),
        );
    }

    // All-reduce: rank r contributes (r + 1) · (i + 1); the sum is (i + 1) · n(n+1)/2.
    let tri = (size * (size + 1) / 2) as f64;
    let mut f32s: Vec<f32> = (0..1000).map(|i| ((rank + 1) * (i + 1)) as f32).collect();
    let result = g.all_reduce_sum_f32(&mut f32s);
    let expected: Vec<f32> = (0..1000).map(|i| (i + 1) as f32 * tri as f32).collect();
    check(
        "all_reduce_sum_f32",
        result.is_ok() && f32s == expected,
        format!("{result:?}, first values {:?}", &f32s[..3]),
    );
    let mut f64s = vec![rank as f64 + 0.5, 1e15 * (rank + 1) as f64];
    let result = g.all_reduce_sum_f64(&mut f64s);
    let want = [tri - size as f64 / 2.0, 1e15 * tri];
    check(
        "all_reduce_sum_f64",
        result.is_ok() && f64s == want,
        format!("{result:?}, got {f64s:?}, want {want:?}"),
    );
    let mut empty: [f32; 0] = [];
    check(
        "all_reduce_sum_f32 (empty)",
        g.all_reduce_sum_f32(&mut empty).is_ok(),
        "failed".into(),
    );

    // All-to-all of ids: each block names its source and destination.
    let blocks: Vec<Vec<u64>> = (0..size).map(|to| ids_for(rank, to)).collect();
    let counts: Vec<usize> = blocks.iter().map(Vec::len).collect();
    let send: Vec<u64> = blocks.concat();
    let want_ids = Received {
        values: (0..size).flat_map(|from| ids_for(from, rank)).collect(),
        counts: (0..size).map(|from| ids_for(from, rank).len()).collect(),
    };
    match g.all_to_all_v_u64(&send, &counts) {
        Ok(got) => check(
            "all_to_all_v_u64",
            got == want_ids,
            format!("got {got:?}, want {want_ids:?}"),
        ),
        Err(err) => check("all_to_all_v_u64", false, err.to_string()),
    }

    // All-to-all of f32 "embeddings": the reply direction, rank r sends `dim` values per id
    // it received, derived from the id.
    let dim = 3;
    let reply: Vec<f32> = want_ids
        .values
        .iter()
        .flat_map(|&id| (0..dim).map(move |j| (id % 65_536) as f32 + j as f32 / 4.0))
        .collect();
    let reply_counts: Vec<usize> = want_ids.counts.iter().map(|c| c * dim).collect();
    match g.all_to_all_v_f32(&reply, &reply_counts) {
        Ok(got) => {
            let want: Vec<f32> = send
                .iter()
                .flat_map(|&id| (0..dim).map(move |j| (id % 65_536) as f32 + j as f32 / 4.0))
                .collect();
            let want_counts: Vec<usize> = counts.iter().map(|c| c * dim).collect();
            check(
                "all_to_all_v_f32",
                got.values == want && got.counts == want_counts,
                format!("got {got:?}, want {want:?} / {want_counts:?}"),
            );
        }
        Err(err) => check("all_to_all_v_f32", false, err.to_string()),
    }

    // A bad count is refused before anything is sent (on every rank alike).
    check(
        "all_to_all_v_u64 (bad counts)",
        g.all_to_all_v_u64(&[1, 2, 3], &vec![0; size]).is_err(),
        "accepted counts that do not add up".into(),
    );

    // All-gather: rank r sends r values r·10 + k (rank 0 sends none).
    let mine: Vec<u64> = (0..rank as u64).map(|k| rank as u64 * 10 + k).collect();
    let want_gather: Vec<u64> = (0..size as u64)
        .flat_map(|r| (0..r).map(move |k| r * 10 + k))
        .collect();
    match g.all_gather_v_u64(&mine) {
        Ok(got) => check(
            "all_gather_v_u64",
            got.values == want_gather && got.counts == (0..size).collect::<Vec<_>>(),
            format!("got {got:?}"),
        ),
        Err(err) => check("all_gather_v_u64", false, err.to_string()),
    }
    let mine_f: Vec<f32> = vec![rank as f32 * -1.5; size - rank];
    match g.all_gather_v_f32(&mine_f) {
        Ok(got) => {
            let ok = (0..size).all(|r| got.from_rank(r) == vec![r as f32 * -1.5; size - r]);
            check("all_gather_v_f32", ok, format!("got {got:?}"));
        }
        Err(err) => check("all_gather_v_f32", false, err.to_string()),
    }

    // Broadcast from every root in turn: non-roots start with other bytes of another length.
    for root in 0..size {
        let payload: Vec<u8> = format!("checkpoint metadata from rank {root}").into_bytes();
        let mut bytes = if rank == root {
            payload.clone()
        } else {
            vec![0xAB; 3 + rank]
        };
        let result = g.broadcast_bytes(&mut bytes, root);
        check(
            "broadcast_bytes",
            result.is_ok() && bytes == payload,
            format!(
                "root {root}: {result:?}, got {:?}",
                String::from_utf8_lossy(&bytes)
            ),
        );
    }
    let mut bytes = Vec::new();
    check(
        "broadcast_bytes (bad root)",
        g.broadcast_bytes(&mut bytes, size).is_err(),
        "accepted a root outside the group".into(),
    );

    check("barrier", g.barrier().is_ok(), "failed".into());

    // A second MPI initialisation in the same process is refused, and from_environment,
    // which would initialise again under a launcher, says so rather than crashing.
    check(
        "group kind",
        format!("{g:?}").starts_with("MpiGroup"),
        format!("{g:?} is not the MPI group"),
    );
    check(
        "second init",
        MpiGroup::init().is_err(),
        "MPI initialised twice".into(),
    );
    if launcher_world_size().is_some() {
        check(
            "from_environment (already initialised)",
            from_environment().is_err(),
            "initialised twice".into(),
        );
    }
    failures
}
