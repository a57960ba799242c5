//! The one matrix product every layer uses, with transposition expressed as strides.
//!
//! A transposed operand is never materialised; its row and column strides are swapped
//! instead, and the product packs it into its micro-kernel layout as it would a plain one.
//! Large products on AVX-512 CPUs run on this crate's own blocked kernel (`packed`, which
//! says why); the rest run on `gemm`. Both run on the current Rayon pool.

use crate::activation::Activation;
use crate::error::NnError;
use crate::narrow::Epilogue;
use crate::packed::{self, Product, Strided};
use crate::tensor::{MatMut, MatRef};
use gemm::Parallelism;
use serde::{Deserialize, Serialize};

/// Precision in which a product multiplies its operands; sums are `f32` either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// `f32` operands.
    #[default]
    F32,
    /// Operands rounded to bf16 (8 bits of mantissa), which AVX-512 BF16 multiplies at twice
    /// the `f32` rate; products the bf16 kernel does not serve run in `f32`.
    Bf16,
}

/// Whether an operand of [`matmul`] enters the product as stored or transposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// The operand as stored.
    N,
    /// The transpose of the stored operand.
    T,
}

/// The gemm parallelism matching the current Rayon pool.
fn parallelism() -> Parallelism {
    match rayon::current_num_threads() {
        0 | 1 => Parallelism::None,
        n => Parallelism::Rayon(n),
    }
}

/// Shape `(rows, cols)` and strides `(row_stride, col_stride)` of `op(a)`.
fn operand(a: &MatRef<'_>, op: Op) -> ((usize, usize), (isize, isize)) {
    let (r, c) = a.dims();
    match op {
        Op::N => ((r, c), (c as isize, 1)),
        Op::T => ((c, r), (1, c as isize)),
    }
}

/// The strided view [`packed`] takes of an operand whose strides `operand` computed.
fn strided(data: &[f32], row_stride: isize, col_stride: isize) -> Strided<'_> {
    Strided {
        data,
        row_stride: row_stride.unsigned_abs(),
        col_stride: col_stride.unsigned_abs(),
    }
}

/// `dst = op_a(a) · op_b(b)`, or `dst += op_a(a) · op_b(b)` when `accumulate` is set.
///
/// Fails, without touching `dst`, when the shapes do not chain.
pub fn matmul(
    dst: MatMut<'_>,
    a: MatRef<'_>,
    op_a: Op,
    b: MatRef<'_>,
    op_b: Op,
    accumulate: bool,
) -> Result<(), NnError> {
    matmul_in(Precision::F32, dst, (a, op_a), (b, op_b), accumulate)
}

/// [`matmul`] multiplying in `precision`.
pub fn matmul_in(
    precision: Precision,
    dst: MatMut<'_>,
    (a, op_a): (MatRef<'_>, Op),
    (b, op_b): (MatRef<'_>, Op),
    accumulate: bool,
) -> Result<(), NnError> {
    let how = How {
        accumulate,
        precision,
        ..How::default()
    };
    multiply(dst, (a, op_a), (b, op_b), how)
}

/// [`matmul`] with the product scaled by `scale` (a temperature, say) inside the kernel.
pub(crate) fn matmul_scaled(
    dst: MatMut<'_>,
    a: MatRef<'_>,
    op_a: Op,
    b: MatRef<'_>,
    op_b: Op,
    scale: f32,
    accumulate: bool,
) -> Result<(), NnError> {
    let how = How {
        scale,
        accumulate,
        ..How::default()
    };
    multiply(dst, (a, op_a), (b, op_b), how)
}

/// A linear layer's forward product: `dst = op_a(a) · op_b(b) + bias`, clamped at zero when
/// `relu` is set, in `precision`. The blocked kernel adds the bias and clamps as it stores
/// each block, saving a pass over the output; `gemm`'s products get that pass after.
pub(crate) fn matmul_bias(
    precision: Precision,
    dst: MatMut<'_>,
    a: (MatRef<'_>, Op),
    b: (MatRef<'_>, Op),
    bias: &[f32],
    relu: bool,
) -> Result<(), NnError> {
    let how = How {
        precision,
        epilogue: Epilogue {
            bias: Some(bias),
            relu,
        },
        ..How::default()
    };
    multiply(dst, a, b, how)
}

/// How a product is formed and combined with its destination.
#[derive(Debug, Clone, Copy)]
struct How<'a> {
    /// Factor on the product.
    scale: f32,
    /// Add to the destination instead of overwriting it.
    accumulate: bool,
    /// Precision of the multiplications.
    precision: Precision,
    /// Bias and ReLU on the result (after the scale and the accumulation); ReLU only comes
    /// with a bias ([`matmul_bias`]).
    epilogue: Epilogue<'a>,
}

impl Default for How<'_> {
    fn default() -> Self {
        How {
            scale: 1.0,
            accumulate: false,
            precision: Precision::F32,
            epilogue: Epilogue::default(),
        }
    }
}

/// `dst = how.scale · op_a(a) · op_b(b)` (`+ dst` when `how.accumulate`).
fn multiply(
    mut dst: MatMut<'_>,
    (a, op_a): (MatRef<'_>, Op),
    (b, op_b): (MatRef<'_>, Op),
    how: How<'_>,
) -> Result<(), NnError> {
    let How {
        scale,
        accumulate,
        precision,
        epilogue,
    } = how;
    let ((m, k), (a_rs, a_cs)) = operand(&a, op_a);
    let ((k2, n), (b_rs, b_cs)) = operand(&b, op_b);
    if k != k2 || dst.dims() != (m, n) {
        return Err(NnError::Shape(format!(
            "matmul: {m}x{k} times {k2}x{n} into {}x{}",
            dst.rows(),
            dst.cols()
        )));
    }
    if let Some(bias) = epilogue.bias.filter(|b| b.len() != n) {
        return Err(NnError::Shape(format!(
            "matmul: a bias of {} values for {n} columns",
            bias.len()
        )));
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        let out = dst.as_mut_slice();
        if !accumulate {
            out.fill(0.0);
        }
        finish(epilogue, out);
        return Ok(());
    }
    let product = Product {
        m,
        n,
        k,
        a: strided(a.as_slice(), a_rs, a_cs),
        b: strided(b.as_slice(), b_rs, b_cs),
        scale,
        accumulate,
        precision,
        epilogue,
    };
    let out = dst.as_mut_slice();
    if packed::product(&product, out) {
        return Ok(());
    }
    // SAFETY: the shape check above guarantees that every index gemm forms, `i * rs + j * cs`
    // for `i < rows` and `j < cols` of each operand, lies inside the borrowed slice, and the
    // destination is borrowed mutably so it cannot alias the operands.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_slice().as_ptr(),
            a_cs,
            a_rs,
            b.as_slice().as_ptr(),
            b_cs,
            b_rs,
            1.0,
            scale,
            false,
            false,
            false,
            parallelism(),
        );
    }
    finish(epilogue, out);
    Ok(())
}

/// Applies `epilogue` to a product computed without it.
fn finish(epilogue: Epilogue<'_>, out: &mut [f32]) {
    if let Some(bias) = epilogue.bias {
        let act = if epilogue.relu {
            Activation::Relu
        } else {
            Activation::Identity
        };
        act.add_bias_apply(out, bias);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Matrix;

    fn naive(a: &Matrix, op_a: Op, b: &Matrix, op_b: Op) -> Vec<f32> {
        let at = |i: usize, j: usize| match op_a {
            Op::N => a.view().row(i)[j],
            Op::T => a.view().row(j)[i],
        };
        let bt = |i: usize, j: usize| match op_b {
            Op::N => b.view().row(i)[j],
            Op::T => b.view().row(j)[i],
        };
        let (m, k) = if op_a == Op::N {
            (a.rows(), a.cols())
        } else {
            (a.cols(), a.rows())
        };
        let n = if op_b == Op::N { b.cols() } else { b.rows() };
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| at(i, p) * bt(p, j)).sum();
            }
        }
        out
    }

    fn seq(rows: usize, cols: usize, start: f32) -> Matrix {
        let v = (0..rows * cols)
            .map(|i| ((i as f32 + start) * 0.37).sin())
            .collect();
        Matrix::from_vec(rows, cols, v).unwrap()
    }

    #[test]
    fn all_transpositions_match_naive_product() {
        for (op_a, op_b) in [
            (Op::N, Op::N),
            (Op::T, Op::N),
            (Op::N, Op::T),
            (Op::T, Op::T),
        ] {
            let a = if op_a == Op::N {
                seq(5, 7, 0.0)
            } else {
                seq(7, 5, 0.0)
            };
            let b = if op_b == Op::N {
                seq(7, 3, 1.0)
            } else {
                seq(3, 7, 1.0)
            };
            let mut dst = Matrix::zeros(5, 3);
            matmul(dst.view_mut(), a.view(), op_a, b.view(), op_b, false).unwrap();
            let want = naive(&a, op_a, &b, op_b);
            for (g, w) in dst.as_slice().iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "{op_a:?}{op_b:?}: {g} vs {w}");
            }
            matmul(dst.view_mut(), a.view(), op_a, b.view(), op_b, true).unwrap();
            for (g, w) in dst.as_slice().iter().zip(&want) {
                assert!((g - 2.0 * w).abs() < 1e-5, "accumulate: {g} vs {w}");
            }
        }
    }

    #[test]
    fn scaled_product_scales() {
        let a = seq(3, 4, 0.0);
        let b = seq(4, 2, 2.0);
        let mut plain = Matrix::zeros(3, 2);
        let mut scaled = Matrix::zeros(3, 2);
        matmul(plain.view_mut(), a.view(), Op::N, b.view(), Op::N, false).unwrap();
        matmul_scaled(
            scaled.view_mut(),
            a.view(),
            Op::N,
            b.view(),
            Op::N,
            -0.5,
            false,
        )
        .unwrap();
        for (p, s) in plain.as_slice().iter().zip(scaled.as_slice()) {
            assert!((s + 0.5 * p).abs() < 1e-6);
        }
    }

    #[test]
    fn mismatched_shapes_are_errors() {
        let a = seq(2, 3, 0.0);
        let b = seq(4, 2, 0.0);
        let mut dst = Matrix::zeros(2, 2);
        assert!(matmul(dst.view_mut(), a.view(), Op::N, b.view(), Op::N, false).is_err());
        let mut wrong = Matrix::zeros(4, 3);
        assert!(matmul(wrong.view_mut(), a.view(), Op::T, b.view(), Op::T, false).is_err());
    }
}
