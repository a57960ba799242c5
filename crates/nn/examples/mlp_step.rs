//! Micro-benchmark of DLRM's dense training step: the bottom MLP 13-512-256-64 and the top
//! MLP 415-512-256-1, forward + binary cross-entropy + backward + SGD update, at batch 2048.
//! It also times the dot interaction (26 sparse features, dimension 64) that sits between
//! them, forward and backward, on its own.
//!
//! Usage: `mlp_step [threads] [steps]` (defaults 2 and 50). Prints the median and minimum
//! milliseconds per step after a warm-up.

use cascade_nn::{
    Activation, BceWithLogits, DotInteraction, Layer, Matrix, Mlp, NnError, Optimizer, Rng, Sgd,
    zero_grad,
};
use std::time::Instant;

const BATCH: usize = 2048;
const WARMUP: usize = 10;

fn random(rows: usize, cols: usize, rng: &mut Rng) -> Matrix {
    let mut m = Matrix::zeros(rows, cols);
    rng.fill_uniform(m.as_mut_slice(), 1.0);
    m
}

/// Median and minimum of `times` in milliseconds.
fn summarize(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[0])
}

fn time_steps(
    steps: usize,
    mut step: impl FnMut() -> Result<(), NnError>,
) -> Result<(f64, f64), NnError> {
    for _ in 0..WARMUP {
        step()?;
    }
    let mut times = Vec::with_capacity(steps);
    for _ in 0..steps {
        let start = Instant::now();
        step()?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    Ok(summarize(times))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2);
    let steps: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(50)
        .max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;

    let mut rng = Rng::seed(0);
    let mut bottom = Mlp::new(&[13, 512, 256, 64], Activation::Relu, &mut rng)?;
    let mut top = Mlp::new(&[415, 512, 256, 1], Activation::Identity, &mut rng)?;
    let dense = random(BATCH, 13, &mut rng);
    let top_input = random(BATCH, 415, &mut rng);
    let labels: Vec<f32> = (0..BATCH).map(|_| (rng.next_u64() & 1) as f32).collect();
    let mut loss = BceWithLogits::new();
    let mut sgd = Sgd::new(0.01);
    let mut grad_bottom = Matrix::zeros(BATCH, 64);

    let (median, min) = pool.install(|| {
        time_steps(steps, || {
            zero_grad(&mut bottom);
            zero_grad(&mut top);
            bottom.forward(dense.view())?;
            let logits = top.forward(top_input.view())?;
            loss.forward(logits, &labels)?;
            let grad_top_input = top.backward(top_input.view(), loss.grad())?;
            // The bottom MLP's output gradient is the dense slice of the interaction's input
            // gradient; the first 64 columns of the top input's gradient stand in for it.
            for (dst, src) in grad_bottom
                .as_mut_slice()
                .chunks_exact_mut(64)
                .zip(grad_top_input.as_slice().chunks_exact(415))
            {
                dst.copy_from_slice(&src[..64]);
            }
            bottom.backward_params_only(dense.view(), grad_bottom.view())?;
            sgd.step(&mut bottom)?;
            sgd.step(&mut top)
        })
    })?;
    println!(
        "DLRM MLPs (13-512-256-64, 415-512-256-1), batch {BATCH}, {threads} threads: \
         median {median:.2} ms/step, min {min:.2} ms ({:.0} samples/s)",
        BATCH as f64 / median * 1e3
    );

    let mut interaction = DotInteraction::new(26, 64, false)?;
    let embeddings = random(BATCH, 27 * 64, &mut rng);
    let grad_out = random(BATCH, interaction.out_cols(), &mut rng);
    let (median, min) = pool.install(|| {
        time_steps(steps, || {
            interaction.forward(embeddings.view())?;
            interaction.backward(embeddings.view(), grad_out.view())?;
            Ok(())
        })
    })?;
    println!(
        "dot interaction (27 x 64 -> 415), batch {BATCH}, {threads} threads: \
         median {median:.2} ms/step, min {min:.2} ms"
    );
    Ok(())
}
