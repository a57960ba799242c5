#!/usr/bin/env bash
# Launches `cascade train` on N ranks across machines with Open MPI's mpirun and a hostfile.
#
#   launch/mpirun-hostfile.sh --hostfile FILE -n N [options] -- CONFIG --data DIR --out RUN_DIR [more train args]
#   launch/mpirun-hostfile.sh --hostfile FILE -n N [options] -- --resume RUN_DIR [--set key=value]...
#
# Everything after `--` is passed to `cascade train` unchanged. See docs/distributed.md.
#
# Options:
#   --hostfile FILE    Open MPI hostfile: one `HOST slots=K` line per machine (launch/hostfile.example)
#   -n, --ranks N      ranks (processes) to start; at most the sum of the hostfile's slots
#   --cascade PATH     the cascade binary, at the same path on every host (default: `cascade` on PATH)
#   --bind MODE        none (default): ranks are not pinned, each uses the cores its
#                      train.threads asks for; socket: one rank per CPU socket, pinned to it
#                      (give each host `slots=` its number of sockets, and set train.threads to
#                      the cores of one socket)
#   --no-binary-check  skip the check that the binary links Open MPI
#   --dry-run          print the mpirun command and exit
#   -h, --help         this text
#
# What every host needs:
#   - Open MPI of the same version as here (scripts/mpi-setup.sh installs Debian's), and
#     passwordless ssh from this machine (check: `ssh -o BatchMode=yes HOST true` for every host);
#   - the cascade binary built with `--features mpi`, at the same path;
#   - the configuration, the dataset and RUN_DIR at the same paths; RUN_DIR on a filesystem
#     every host shares (NFS, Lustre, ...), since every rank writes its shards of each checkpoint
#     there. Relative paths are resolved on each host against the directory mpirun starts the
#     rank in (this directory when it exists there, else the home directory): prefer absolute ones.
#
# Environment passed to every rank (mpirun -x, only those set here): PATH, LD_LIBRARY_PATH,
# RAYON_NUM_THREADS, RUST_BACKTRACE, RUST_LOG, MLFLOW_TRACKING_URI, MLFLOW_TRACKING_TOKEN,
# MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD, MLFLOW_EXPERIMENT_NAME. Training's compute
# threads per rank are `train.threads` of the configuration (`--set train.threads=N`).
# Open MPI's own settings travel as OMPI_MCA_* variables, e.g.
# OMPI_MCA_btl_tcp_if_include=eth0 to choose the network interface between machines.
#
# mpirun refuses to run as root unless told; --allow-run-as-root is passed only when this
# script runs as root (as in containers).
set -euo pipefail

program=$(basename "$0")

usage() {
  sed -n '2,/^set -euo pipefail$/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

die() {
  echo "$program: error: $*" >&2
  echo "run '$program --help' for usage" >&2
  exit 2
}

hostfile=""
ranks=""
cascade="cascade"
bind="none"
binary_check=1
dry_run=0
train_args=()
saw_separator=0

while [ $# -gt 0 ]; do
  case "$1" in
    --hostfile)
      [ $# -ge 2 ] || die "--hostfile needs a file"
      hostfile=$2
      shift 2
      ;;
    --hostfile=*)
      hostfile=${1#*=}
      shift
      ;;
    -n | --ranks | -np)
      [ $# -ge 2 ] || die "$1 needs a number of ranks"
      ranks=$2
      shift 2
      ;;
    --ranks=*)
      ranks=${1#*=}
      shift
      ;;
    --cascade)
      [ $# -ge 2 ] || die "--cascade needs the path of the cascade binary"
      cascade=$2
      shift 2
      ;;
    --cascade=*)
      cascade=${1#*=}
      shift
      ;;
    --bind)
      [ $# -ge 2 ] || die "--bind needs 'none' or 'socket'"
      bind=$2
      shift 2
      ;;
    --bind=*)
      bind=${1#*=}
      shift
      ;;
    --no-binary-check)
      binary_check=0
      shift
      ;;
    --dry-run)
      dry_run=1
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    --)
      saw_separator=1
      shift
      train_args=("$@")
      break
      ;;
    *)
      die "unknown option '$1' (arguments for cascade train go after '--')"
      ;;
  esac
done

# --- the launcher's own arguments ---------------------------------------------------------
[ -n "$hostfile" ] || die "--hostfile FILE is required"
[ -n "$ranks" ] || die "-n/--ranks N is required"
case "$ranks" in
  '' | *[!0-9]*) die "-n/--ranks must be a positive integer, got '$ranks'" ;;
esac
ranks=$((10#$ranks))
[ "$ranks" -ge 1 ] || die "-n/--ranks must be at least 1, got $ranks"
case "$bind" in
  none | socket) ;;
  *) die "--bind must be 'none' or 'socket', got '$bind'" ;;
esac
[ -f "$hostfile" ] || die "hostfile '$hostfile' does not exist or is not a file"
[ -r "$hostfile" ] || die "hostfile '$hostfile' is not readable"

# Hosts and slots: the first word of each non-comment line is the host; `slots=K` its slots.
# When every line gives slots, N must fit in their sum (mpirun would refuse it anyway, later
# and less clearly); a line without slots= leaves the count to Open MPI, so no check then.
hosts=0
total_slots=0
all_have_slots=1
while IFS= read -r line || [ -n "$line" ]; do
  line=${line%%#*}
  read -r -a words <<<"$line" || true
  [ ${#words[@]} -gt 0 ] || continue
  hosts=$((hosts + 1))
  slots=""
  for word in "${words[@]:1}"; do
    case "$word" in
      slots=*) slots=${word#slots=} ;;
    esac
  done
  if [ -z "$slots" ]; then
    all_have_slots=0
  else
    case "$slots" in
      '' | *[!0-9]*) die "hostfile '$hostfile': host ${words[0]} has slots='$slots', not a number" ;;
    esac
    total_slots=$((total_slots + 10#$slots))
  fi
done <"$hostfile"
[ "$hosts" -ge 1 ] || die "hostfile '$hostfile' names no host"
if [ "$all_have_slots" -eq 1 ] && [ "$ranks" -gt "$total_slots" ]; then
  die "$ranks ranks asked for but the hostfile's $hosts host(s) offer $total_slots slots; add hosts or slots= (oversubscribing slows every rank down)"
fi

# --- the arguments for cascade train ------------------------------------------------------
[ "$saw_separator" -eq 1 ] || die "no training arguments: put '-- CONFIG --data DIR --out RUN_DIR' (or '-- --resume RUN_DIR') after the launcher's options"
[ ${#train_args[@]} -gt 0 ] || die "nothing after '--': give CONFIG --data DIR --out RUN_DIR, or --resume RUN_DIR"

run_dir=""
resume=0
config=""
i=0
while [ $i -lt ${#train_args[@]} ]; do
  arg=${train_args[$i]}
  next=""
  if [ $((i + 1)) -lt ${#train_args[@]} ]; then
    next=${train_args[$((i + 1))]}
  fi
  case "$arg" in
    --out | --resume)
      [ -n "$next" ] || die "cascade train: $arg needs RUN_DIR"
      run_dir=$next
      [ "$arg" = --resume ] && resume=1
      i=$((i + 2))
      continue
      ;;
    --out=* | --resume=*)
      run_dir=${arg#*=}
      case "$arg" in --resume=*) resume=1 ;; esac
      ;;
    --data | --set | --tracking-uri | --experiment | --register-model | --model-alias)
      # options with a value: skip the value
      i=$((i + 2))
      continue
      ;;
    -*) ;;
    *)
      [ -z "$config" ] && config=$arg
      ;;
  esac
  i=$((i + 1))
done

if [ "$resume" -eq 0 ]; then
  [ -n "$config" ] || die "cascade train: no CONFIG given (or use --resume RUN_DIR)"
  [ -f "$config" ] || die "configuration '$config' does not exist here (it must exist at the same path on every host)"
  # Without --out every rank would choose its own runs/<config>-<unix time> folder.
  [ -n "$run_dir" ] || die "cascade train: give --out RUN_DIR (on a filesystem every host shares); without it each rank would pick a folder of its own"
fi
case "$run_dir" in
  /*) ;;
  *) echo "$program: warning: RUN_DIR '$run_dir' is relative; each rank resolves it in its own working directory" >&2 ;;
esac

# --- Open MPI and the binary --------------------------------------------------------------
mpirun=$(command -v mpirun || true)
[ -n "$mpirun" ] || die "mpirun not found on PATH; install Open MPI (scripts/mpi-setup.sh on Debian)"
mpi_version=$("$mpirun" --version 2>&1 | head -n 1 || true)
case "$mpi_version" in
  *"Open MPI"* | *"OpenRTE"* | *"Open RTE"*) ;;
  *) die "'$mpirun' is not Open MPI's mpirun ($mpi_version); this script passes Open MPI options" ;;
esac

binary=$(command -v "$cascade" || true)
[ -n "$binary" ] || die "cascade binary '$cascade' not found (build it with 'cargo build --release -p cascade --features mpi' and pass --cascade PATH)"
if [ "$binary_check" -eq 1 ] && [ "$ranks" -gt 1 ] && command -v ldd >/dev/null; then
  if ! ldd "$binary" 2>/dev/null | grep -q 'libmpi'; then
    die "'$binary' does not link Open MPI: it was built without MPI support and would refuse to run as one of $ranks ranks; rebuild with 'cargo build --release -p cascade --features mpi' (or pass --no-binary-check)"
  fi
fi

# --- the command --------------------------------------------------------------------------
command=("$mpirun" --hostfile "$hostfile" -n "$ranks")
if [ "$(id -u)" -eq 0 ]; then
  command+=(--allow-run-as-root)
fi
case "$bind" in
  # Ranks free to use any core: right when each host runs one rank, or when train.threads
  # times the ranks on a host does not exceed its cores.
  none) command+=(--map-by slot --bind-to none) ;;
  # One rank per socket, its threads kept on that socket's cores and memory.
  socket) command+=(--map-by socket --bind-to socket --report-bindings) ;;
esac
for variable in PATH LD_LIBRARY_PATH RAYON_NUM_THREADS RUST_BACKTRACE RUST_LOG \
  MLFLOW_TRACKING_URI MLFLOW_TRACKING_TOKEN MLFLOW_TRACKING_USERNAME \
  MLFLOW_TRACKING_PASSWORD MLFLOW_EXPERIMENT_NAME; do
  if [ -n "${!variable+set}" ]; then
    command+=(-x "$variable")
  fi
done
command+=("$binary" train "${train_args[@]}")

echo "$program: $ranks rank(s) on up to $hosts host(s) from $hostfile" >&2
printf '%q ' "${command[@]}" >&2
echo >&2
if [ "$dry_run" -eq 1 ]; then
  exit 0
fi
# mpirun exits non-zero when any rank does, and ends the other ranks when one dies.
exec "${command[@]}"
