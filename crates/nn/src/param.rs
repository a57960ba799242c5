//! Trainable parameters as (value, gradient) slice pairs, visited in a fixed order.
//!
//! Optimizers, gradient clipping, checkpoints and gradient all-reduce all need to walk every
//! dense parameter of a model. A visitor keeps each layer the owner of its buffers while
//! giving those consumers one stable order; the `gather_*`/`scatter_*` helpers turn that
//! order into one flat buffer (what an all-reduce sends) and back.

use crate::error::NnError;

/// One parameter tensor, flattened: its values and the gradient accumulated for them.
#[derive(Debug)]
pub struct ParamMut<'a> {
    /// The parameter values, in the owning layer's layout.
    pub value: &'a mut [f32],
    /// The accumulated gradient, the same length as `value`.
    pub grad: &'a mut [f32],
}

/// Something that owns trainable parameters: a layer, or a model made of layers.
///
/// The visiting order is fixed for a given structure; optimizers rely on it to pair their
/// state with parameters, and distributed training relies on it to agree on a flat layout.
pub trait Parameters {
    /// Calls `f` once for every parameter tensor, always in the same order. The default
    /// visits nothing, for layers without parameters.
    fn visit_parameters(&mut self, f: &mut dyn FnMut(ParamMut<'_>)) {
        let _ = f;
    }
}

/// Total number of scalar parameters.
pub fn parameter_count(params: &mut dyn Parameters) -> usize {
    let mut n = 0;
    params.visit_parameters(&mut |p| n += p.value.len());
    n
}

/// Sets every gradient to zero, as before accumulating a new step's gradients.
pub fn zero_grad(params: &mut dyn Parameters) {
    params.visit_parameters(&mut |p| p.grad.fill(0.0));
}

/// Copies every gradient, in visiting order, into the flat buffer `out`.
pub fn gather_grads(params: &mut dyn Parameters, out: &mut [f32]) -> Result<(), NnError> {
    copy_out(params, out, |p| &*p.grad)
}

/// Copies the flat buffer `src` back into the gradients, in visiting order.
pub fn scatter_grads(params: &mut dyn Parameters, src: &[f32]) -> Result<(), NnError> {
    copy_in(params, src, |p| p.grad)
}

/// Copies every parameter value, in visiting order, into the flat buffer `out`.
pub fn gather_values(params: &mut dyn Parameters, out: &mut [f32]) -> Result<(), NnError> {
    copy_out(params, out, |p| &*p.value)
}

/// Copies the flat buffer `src` back into the parameter values, in visiting order.
pub fn scatter_values(params: &mut dyn Parameters, src: &[f32]) -> Result<(), NnError> {
    copy_in(params, src, |p| p.value)
}

fn flat_len_error(want: usize, got: usize) -> NnError {
    NnError::Shape(format!(
        "flat parameter buffer: model has {want} values, buffer has {got}"
    ))
}

fn copy_out(
    params: &mut dyn Parameters,
    out: &mut [f32],
    pick: for<'a, 'b> fn(&'a ParamMut<'b>) -> &'a [f32],
) -> Result<(), NnError> {
    let want = parameter_count(params);
    if want != out.len() {
        return Err(flat_len_error(want, out.len()));
    }
    let mut at = 0;
    params.visit_parameters(&mut |p| {
        let src = pick(&p);
        out[at..at + src.len()].copy_from_slice(src);
        at += src.len();
    });
    Ok(())
}

fn copy_in(
    params: &mut dyn Parameters,
    src: &[f32],
    pick: for<'a> fn(ParamMut<'a>) -> &'a mut [f32],
) -> Result<(), NnError> {
    let want = parameter_count(params);
    if want != src.len() {
        return Err(flat_len_error(want, src.len()));
    }
    let mut at = 0;
    params.visit_parameters(&mut |p| {
        let dst = pick(p);
        let n = dst.len();
        dst.copy_from_slice(&src[at..at + n]);
        at += n;
    });
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Two parameter tensors of lengths 3 and 2, for optimizer and helper tests.
    pub(crate) struct Toy {
        pub(crate) values: [Vec<f32>; 2],
        pub(crate) grads: [Vec<f32>; 2],
    }

    impl Toy {
        pub(crate) fn new(values: [Vec<f32>; 2], grads: [Vec<f32>; 2]) -> Self {
            Self { values, grads }
        }
    }

    impl Parameters for Toy {
        fn visit_parameters(&mut self, f: &mut dyn FnMut(ParamMut<'_>)) {
            for (value, grad) in self.values.iter_mut().zip(self.grads.iter_mut()) {
                f(ParamMut { value, grad });
            }
        }
    }

    #[test]
    fn flat_round_trip_in_visiting_order() {
        let mut toy = Toy::new(
            [vec![1.0, 2.0, 3.0], vec![4.0, 5.0]],
            [vec![0.1, 0.2, 0.3], vec![0.4, 0.5]],
        );
        assert_eq!(parameter_count(&mut toy), 5);
        let mut flat = vec![0.0; 5];
        gather_grads(&mut toy, &mut flat).unwrap();
        assert_eq!(flat, [0.1, 0.2, 0.3, 0.4, 0.5]);
        scatter_grads(&mut toy, &[9.0, 8.0, 7.0, 6.0, 5.0]).unwrap();
        assert_eq!(toy.grads[1], [6.0, 5.0]);
        gather_values(&mut toy, &mut flat).unwrap();
        assert_eq!(flat, [1.0, 2.0, 3.0, 4.0, 5.0]);
        scatter_values(&mut toy, &[0.0, 0.0, 0.0, 1.0, 1.0]).unwrap();
        assert_eq!(toy.values[0], [0.0, 0.0, 0.0]);
        assert!(gather_grads(&mut toy, &mut [0.0; 4]).is_err());
        assert!(scatter_values(&mut toy, &[0.0; 6]).is_err());
        zero_grad(&mut toy);
        assert!(toy.grads.iter().flatten().all(|&g| g == 0.0));
    }
}
