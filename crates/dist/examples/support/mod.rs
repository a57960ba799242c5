//! What the MPI check programs share: joining the group (through `from_environment` under a
//! launcher, as `cascade train` does; as a singleton world of one without), and agreeing on
//! the verdict — every rank reports its failures, rank 0 prints the total.

use cascade_dist::{MpiGroup, ProcessGroup, from_environment, launcher_world_size};
use std::process::ExitCode;

/// Runs `checks` on this rank of the job and returns the job's verdict: success only when no
/// rank found a failure. `name` and `passed` make rank 0's closing line.
pub fn run_checks(
    name: &str,
    passed: &str,
    checks: impl FnOnce(&dyn ProcessGroup) -> Vec<String>,
) -> ExitCode {
    let group: Result<Box<dyn ProcessGroup>, _> = if launcher_world_size().is_some() {
        from_environment()
    } else {
        MpiGroup::init().map(|g| Box::new(g) as Box<dyn ProcessGroup>)
    };
    let group = match group {
        Ok(group) => group,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    let failures = checks(group.as_ref());
    let mut count = [failures.len() as f64];
    let total = match group.all_reduce_sum_f64(&mut count) {
        Ok(()) => count[0] as usize,
        Err(_) => failures.len().max(1),
    };
    for failure in failures.iter().take(10) {
        eprintln!("rank {}: {failure}", group.rank());
    }
    if group.rank() == 0 {
        if total == 0 {
            println!("{name}: {passed} on {} rank(s)", group.world_size());
        } else {
            eprintln!("{name}: {total} check(s) failed");
        }
    }
    if total == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
