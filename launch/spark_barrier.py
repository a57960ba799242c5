#!/usr/bin/env python3
"""Runs `cascade train` as an MPI job inside a Spark barrier stage.

    spark-submit launch/spark_barrier.py --ranks 8 --cascade /opt/cascade/bin/cascade -- \\
        /shared/configs/dlrm.toml --data /shared/data/criteo --out /shared/runs/dlrm

This is the pattern of Horovod on Spark and TorchDistributor: Spark only reserves the
machines. One barrier stage runs one task per rank, all at the same time. The tasks exchange
their hosts' names (`BarrierTaskContext.allGather`); task 0 writes an Open MPI hostfile with
one slot per task on each host and runs

    mpirun --hostfile HOSTFILE -n RANKS CASCADE train TRAIN_ARGS...

which starts the ranks on those hosts over ssh, while the other tasks wait at a barrier so
that their executors (and cores) stay reserved until training ends. Task 0 returns mpirun's
exit status to the driver, which exits non-zero, with the end of mpirun's output, when it is
not 0. Every rank's output also goes to task 0's executor log.

Requirements (see docs/distributed.md):

- Passwordless ssh from every executor host to every other, as the user the executors run as,
  without prompts: mpirun on task 0's host starts the remote ranks with ssh. Check it from one
  executor host with `ssh -o BatchMode=yes OTHER_HOST true` for each other host; task 0 runs
  that check itself before mpirun (skip it with --skip-ssh-check) and reports the hosts that
  fail.
- Open MPI (mpirun) and the cascade binary, built with `--features mpi`, at the same paths on
  every executor host.
- The configuration, the dataset and RUN_DIR at the same paths on every host; RUN_DIR on a
  filesystem they all share, since every rank writes its table shards into each checkpoint.
- Spark 3.0 or later (`BarrierTaskContext.allGather`).
- Enough free executor slots for all RANKS tasks at once (a barrier stage does not start
  otherwise), dynamic allocation off (barrier stages refuse it), and `spark.task.cpus` equal to
  the cores each rank computes on, i.e. `train.threads`, so that Spark puts no other work on
  those cores.

Only the standard library is needed for --help; pyspark is imported when the job runs.
"""

import argparse
import collections
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile

# Lines of mpirun's output kept to show in the driver's error message.
TAIL_LINES = 40


def split_train_args(argv):
    """Splits argv at the first `--`: (launcher args, cascade train args)."""
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1 :]
    return argv, []


def parse_args(argv):
    ours, train_args = split_train_args(argv)
    parser = argparse.ArgumentParser(
        prog="spark_barrier.py",
        description=(
            "Run `cascade train` on RANKS MPI ranks placed on Spark executors "
            "(one barrier task per rank; task 0 runs mpirun)."
        ),
        usage=(
            "spark-submit %(prog)s --ranks N [--cascade PATH] [options] "
            "-- CONFIG --data DIR --out RUN_DIR [more train args]"
        ),
        epilog=(
            "Everything after `--` is passed to `cascade train`; "
            "`-- --resume RUN_DIR` continues a run."
        ),
    )
    parser.add_argument(
        "--ranks", type=int, required=True, help="ranks = barrier tasks to run"
    )
    parser.add_argument(
        "--cascade",
        default="cascade",
        help="the cascade binary, at the same path on every executor host "
        "(default: cascade on the executors' PATH)",
    )
    parser.add_argument(
        "--mpirun",
        default="mpirun",
        help="Open MPI's mpirun on task 0's host (default: mpirun on PATH)",
    )
    parser.add_argument(
        "--host-name",
        choices=("hostname", "fqdn", "spark"),
        default="hostname",
        help="how each task names its host in the hostfile: socket.gethostname() "
        "(default), socket.getfqdn(), or the executor address Spark knows",
    )
    parser.add_argument(
        "--skip-ssh-check",
        action="store_true",
        help="do not check from task 0 that every other host answers ssh without a prompt",
    )
    parser.add_argument(
        "--mpirun-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for mpirun, e.g. --mpirun-arg=--mca "
        "--mpirun-arg=btl_tcp_if_include --mpirun-arg=eth0 (repeatable)",
    )
    args = parser.parse_args(ours)
    if args.ranks < 1:
        parser.error(f"--ranks must be at least 1, got {args.ranks}")
    if not train_args:
        parser.error(
            "no training arguments: put `-- CONFIG --data DIR --out RUN_DIR` "
            "(or `-- --resume RUN_DIR`) after the options"
        )
    if "--resume" not in train_args and not any(
        a == "--out" or a.startswith("--out=") for a in train_args
    ):
        parser.error(
            "give `--out RUN_DIR` (on a filesystem every host shares) after `--`: "
            "without it every rank would choose a run folder of its own"
        )
    args.train_args = train_args
    return args


def hostfile_text(hosts):
    """Open MPI hostfile: each host once, with one slot per task it runs, in first-seen
    order (so rank 0 lands on the first task's host)."""
    slots = collections.OrderedDict()
    for host in hosts:
        slots[host] = slots.get(host, 0) + 1
    return "".join(f"{host} slots={count}\n" for host, count in slots.items())


def unreachable_by_ssh(hosts, local):
    """The hosts among `hosts` (other than `local`) that do not answer
    `ssh -o BatchMode=yes HOST true` within 20 s, each with the reason."""
    failures = []
    for host in sorted(set(hosts) - {local}):
        command = [
            "ssh",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
            host,
            "true",
        ]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=20, check=False
            )
            if done.returncode != 0:
                reason = done.stderr.strip().splitlines()
                failures.append(
                    (host, reason[-1] if reason else f"exit status {done.returncode}")
                )
        except FileNotFoundError:
            return [(host, "no ssh client on this host") for host in hosts]
        except subprocess.TimeoutExpired:
            failures.append((host, "no answer within 20 s"))
    return failures


def mpirun_command(args, hostfile):
    command = [args.mpirun, "--hostfile", hostfile, "-n", str(args.ranks)]
    if os.geteuid() == 0:
        # mpirun refuses root unless told; executors in containers often run as root.
        command.append("--allow-run-as-root")
    # The executors' cores are Spark's to share out: no pinning by Open MPI.
    command += ["--map-by", "slot", "--bind-to", "none"]
    for variable in (
        "PATH",
        "LD_LIBRARY_PATH",
        "RAYON_NUM_THREADS",
        "RUST_BACKTRACE",
        "RUST_LOG",
        "MLFLOW_TRACKING_URI",
        "MLFLOW_TRACKING_TOKEN",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
        "MLFLOW_EXPERIMENT_NAME",
    ):
        if variable in os.environ:
            command += ["-x", variable]
    command += args.mpirun_arg
    command += [args.cascade, "train"] + args.train_args
    return command


def run_mpirun(command):
    """Runs mpirun, copying its output to this task's stderr; (exit status, last lines)."""
    tail = collections.deque(maxlen=TAIL_LINES)
    try:
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as error:
        return 127, [f"cannot start {command[0]}: {error}"]
    for line in process.stdout:
        sys.stderr.write(line)
        tail.append(line.rstrip("\n"))
    return process.wait(), list(tail)


def make_task(args):
    """The function each barrier task runs over its (one-element) partition."""

    def task(_partition):
        from pyspark import BarrierTaskContext

        context = BarrierTaskContext.get()
        index = context.partitionId()
        if args.host_name == "fqdn":
            host = socket.getfqdn()
        elif args.host_name == "spark":
            host = context.getTaskInfos()[index].address.rsplit(":", 1)[0]
        else:
            host = socket.gethostname()
        # Every task learns every task's host, in partition order.
        hosts = [json.loads(m)["host"] for m in context.allGather(json.dumps({"host": host}))]

        result = {"partition": index, "host": host}
        if index == 0:
            try:
                result.update(lead(args, hosts, host))
            except Exception as error:  # reported to the driver, never retried by Spark
                result.update(status=1, tail=[f"task 0 failed: {error!r}"])
        # Everyone waits here until task 0 is done with mpirun; task 0 always gets here,
        # even when it failed, so no task is left waiting.
        context.barrier()
        yield result

    return task


def lead(args, hosts, local):
    """Task 0: hostfile, ssh check, mpirun. Returns status, tail and the command."""
    if not args.skip_ssh_check:
        failures = unreachable_by_ssh(hosts, local)
        if failures:
            lines = [f"  {host}: {reason}" for host, reason in failures]
            return {
                "status": 1,
                "tail": [
                    f"task 0 on {local} cannot ssh without a prompt to "
                    f"{len(failures)} host(s); mpirun needs it to start ranks there "
                    "(check with `ssh -o BatchMode=yes HOST true`):"
                ]
                + lines,
            }
    # The hostfile lives on task 0's local disk for as long as mpirun runs.
    with tempfile.TemporaryDirectory(prefix="cascade-mpi-") as directory:
        hostfile = os.path.join(directory, "hostfile")
        with open(hostfile, "w", encoding="utf-8") as f:
            f.write(hostfile_text(hosts))
        command = mpirun_command(args, hostfile)
        sys.stderr.write(
            f"spark_barrier: {args.ranks} ranks on {len(set(hosts))} host(s)\n"
            f"spark_barrier: {shlex.join(command)}\n"
        )
        status, tail = run_mpirun(command)
    return {"status": status, "tail": tail, "command": shlex.join(command)}


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)

    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("cascade-train").getOrCreate()
    sc = spark.sparkContext
    if sc.getConf().get("spark.dynamicAllocation.enabled", "false").lower() == "true":
        sys.exit(
            "spark_barrier: spark.dynamicAllocation.enabled is true, which barrier stages "
            "do not support; run with --conf spark.dynamicAllocation.enabled=false"
        )
    try:
        results = (
            sc.parallelize(range(args.ranks), args.ranks)
            .barrier()
            .mapPartitions(make_task(args))
            .collect()
        )
    finally:
        spark.stop()

    lead_result = next((r for r in results if r["partition"] == 0), None)
    if lead_result is None:
        sys.exit("spark_barrier: task 0 returned no result")
    hosts = sorted({r["host"] for r in results})
    status = lead_result.get("status", 1)
    if status != 0:
        sys.stderr.write(
            f"spark_barrier: training FAILED: mpirun exited with status {status} "
            f"(ranks on {', '.join(hosts)})\n"
        )
        if lead_result.get("command"):
            sys.stderr.write(f"spark_barrier: command: {lead_result['command']}\n")
        sys.stderr.write("spark_barrier: last lines of its output (all of it is in task 0's log):\n")
        for line in lead_result.get("tail", []):
            sys.stderr.write(f"  | {line}\n")
        sys.exit(status if 0 < status < 256 else 1)
    print(f"spark_barrier: training finished on {args.ranks} ranks ({', '.join(hosts)})")


if __name__ == "__main__":
    main()
