//! The matrix products of the reference DLRM's training step, timed with Cascade's product
//! (`cascade_nn::matmul`, which runs these on its own blocked AVX-512 kernel) and with the
//! `gemm` crate called directly, side by side in one run: the figure behind the choice of
//! kernel that `cascade-nn`'s `packed` module documents.
//!
//! The products are the six layers' forward products (`x · Wᵀ`), their input gradients
//! (`dz · W`, all but the first layer's, which DLRM never needs) and weight gradients
//! (`dzᵀ · x`), at batch 2048: 17 in all. Each is timed in rounds of repeated calls on one
//! thread pool, two turns per side, alternating; a product's figure is its fastest round
//! (the one least disturbed by other load on the machine). Prints one JSON line:
//! each side's total milliseconds per step and the ratio (gemm's time over Cascade's).
//! `--precision bf16` times Cascade's products in bf16 (`gemm` stays `f32`).
//!   cargo run --release -p cascade-bench --bin dlrm_products -- --threads 2

use cascade_nn::{Matrix, Op, Precision, matmul_in};
use clap::Parser;
use std::time::Instant;

/// Command-line options.
#[derive(Parser)]
struct Args {
    /// Threads of the pool both sides run on.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Timed rounds per product and side.
    #[arg(long, default_value_t = 9)]
    rounds: usize,
    /// Precision of Cascade's products: `f32` or `bf16`.
    #[arg(long, default_value = "f32", value_parser = cascade_bench::parse_precision)]
    precision: Precision,
}

/// One product: `dst [m, n] = op_a(a) · op_b(b)`.
struct Shape {
    name: String,
    m: usize,
    k: usize,
    n: usize,
    op_a: Op,
    op_b: Op,
}

/// The 17 products of the reference DLRM's MLPs at `batch` rows.
fn products(batch: usize) -> Vec<Shape> {
    let layers = [
        (13, 512),
        (512, 256),
        (256, 64),
        (415, 512),
        (512, 256),
        (256, 1),
    ];
    let mut out = Vec::new();
    for (i, &(input, output)) in layers.iter().enumerate() {
        let shape = |name: &str, m, k, n, op_a, op_b| Shape {
            name: format!("{name} {input}->{output}"),
            m,
            k,
            n,
            op_a,
            op_b,
        };
        out.push(shape("forward", batch, input, output, Op::N, Op::T));
        if i != 0 {
            out.push(shape("input grad", batch, output, input, Op::N, Op::N));
        }
        out.push(shape("weight grad", output, batch, input, Op::T, Op::N));
    }
    out
}

/// An operand of `rows x cols` as the product sees it, stored as `op` says.
fn operand(rows: usize, cols: usize, op: Op, seed: usize) -> Matrix {
    let values = (0..rows * cols)
        .map(|i| (((i + seed) % 97) as f32 - 48.0) / 97.0)
        .collect();
    let (r, c) = match op {
        Op::N => (rows, cols),
        Op::T => (cols, rows),
    };
    Matrix::from_vec(r, c, values).expect("operand sizes match")
}

/// Seconds of the fastest of `rounds` rounds of `calls` calls of `f`.
fn fastest(rounds: usize, calls: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..calls {
                f();
            }
            start.elapsed().as_secs_f64() / calls as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// `dst = op_a(a) · op_b(b)` with Cascade's product in `precision`.
fn cascade_product(
    precision: Precision,
    dst: &mut Matrix,
    (a, op_a): (&Matrix, Op),
    (b, op_b): (&Matrix, Op),
) -> Result<(), cascade_nn::NnError> {
    matmul_in(
        precision,
        dst.view_mut(),
        (a.view(), op_a),
        (b.view(), op_b),
        false,
    )
}

/// `dst = op_a(a) · op_b(b)` with the `gemm` crate on `threads` threads, strides expressing
/// the transpositions as `cascade_nn::matmul` does.
fn gemm_product(dst: &mut Matrix, a: &Matrix, op_a: Op, b: &Matrix, op_b: Op, threads: usize) {
    let strides = |x: &Matrix, op: Op| match op {
        Op::N => (x.cols() as isize, 1),
        Op::T => (1, x.cols() as isize),
    };
    let ((a_rs, a_cs), (b_rs, b_cs)) = (strides(a, op_a), strides(b, op_b));
    let (m, n) = dst.dims();
    let k = match op_a {
        Op::N => a.cols(),
        Op::T => a.rows(),
    };
    let parallelism = match threads {
        0 | 1 => gemm::Parallelism::None,
        t => gemm::Parallelism::Rayon(t),
    };
    // SAFETY: the operands were built with the shapes these strides describe (`operand`), and
    // `dst` is `m x n`, borrowed mutably.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_slice().as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_slice().as_ptr(),
            a_cs,
            a_rs,
            b.as_slice().as_ptr(),
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()?;
    let mut rows = Vec::new();
    let (mut cascade_total, mut gemm_total) = (0.0, 0.0);
    for shape in products(2048) {
        let a = operand(shape.m, shape.k, shape.op_a, 1);
        let b = operand(shape.k, shape.n, shape.op_b, 2);
        let mut dst = Matrix::zeros(shape.m, shape.n);
        // About 0.2 s of work per round on this kind of machine.
        let calls = (2e8 / (shape.m * shape.k * shape.n) as f64).clamp(3.0, 200.0) as usize;
        let (cascade, gemm) = pool.install(|| -> anyhow::Result<(f64, f64)> {
            let (a, b) = ((&a, shape.op_a), (&b, shape.op_b));
            cascade_product(args.precision, &mut dst, a, b)?;
            let (mut cascade, mut gemm) = (f64::INFINITY, f64::INFINITY);
            // Two turns each, alternating, so that neither side always runs first.
            for _ in 0..2 {
                gemm = gemm.min(fastest(args.rounds, calls, || {
                    gemm_product(&mut dst, a.0, a.1, b.0, b.1, args.threads);
                }));
                cascade = cascade.min(fastest(args.rounds, calls, || {
                    cascade_product(args.precision, &mut dst, a, b)
                        .expect("shapes checked by the first call");
                }));
            }
            Ok((cascade, gemm))
        })?;
        cascade_total += cascade;
        gemm_total += gemm;
        rows.push(serde_json::json!({
            "product": shape.name,
            "m": shape.m, "k": shape.k, "n": shape.n,
            "cascade_ms": cascade * 1e3,
            "gemm_ms": gemm * 1e3,
        }));
    }
    cascade_bench::report(serde_json::json!({
        "tool": "dlrm_products",
        "threads": args.threads,
        "precision": args.precision,
        "products": rows,
        "cascade_ms": cascade_total * 1e3,
        "gemm_ms": gemm_total * 1e3,
        "ratio": gemm_total / cascade_total,
    }));
    Ok(())
}
