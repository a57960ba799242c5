//! Gradient clipping, by global norm and by value, as PyTorch's `clip_grad_norm_` and
//! `clip_grad_value_` do it.
//!
//! Clipping by global norm looks at all dense gradients together, so it must run after any
//! gradient all-reduce and before the optimizer step.

use crate::error::NnError;
use crate::kernels::dot;
use crate::param::Parameters;

/// Scales all gradients so their joint Euclidean norm is at most `max_norm`, and returns the
/// norm before clipping. A non-finite norm is returned without touching the gradients, so
/// the caller can skip the step.
pub fn clip_grad_norm(params: &mut dyn Parameters, max_norm: f32) -> Result<f32, NnError> {
    if !(max_norm.is_finite() && max_norm > 0.0) {
        return Err(NnError::Config(format!(
            "max_norm must be positive, got {max_norm}"
        )));
    }
    let mut sum_sq = 0.0f64;
    params.visit_parameters(&mut |p| sum_sq += dot(p.grad, p.grad) as f64);
    let total = sum_sq.sqrt() as f32;
    if !total.is_finite() {
        return Ok(total);
    }
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 {
        params.visit_parameters(&mut |p| p.grad.iter_mut().for_each(|g| *g *= coef));
    }
    Ok(total)
}

/// Clamps every gradient value into `[-clip, clip]`.
pub fn clip_grad_value(params: &mut dyn Parameters, clip: f32) -> Result<(), NnError> {
    if !(clip.is_finite() && clip >= 0.0) {
        return Err(NnError::Config(format!(
            "clip value must be non-negative, got {clip}"
        )));
    }
    params.visit_parameters(&mut |p| p.grad.iter_mut().for_each(|g| *g = g.clamp(-clip, clip)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::param::tests::Toy;

    fn toy() -> Toy {
        // Gradient norm sqrt(9 + 16 + 0 + 144 + 0) = 13.
        Toy::new(
            [vec![0.0; 3], vec![0.0; 2]],
            [vec![3.0, 4.0, 0.0], vec![12.0, 0.0]],
        )
    }

    #[test]
    fn norm_clipping_scales_to_the_limit() {
        let mut t = toy();
        let norm = clip_grad_norm(&mut t, 6.5).unwrap();
        assert_eq!(norm, 13.0);
        let c = 6.5 / (13.0 + 1e-6);
        assert_eq!(t.grads[0], [3.0 * c, 4.0 * c, 0.0]);
        assert_eq!(t.grads[1], [12.0 * c, 0.0]);
        // Under the limit nothing changes.
        let mut t = toy();
        clip_grad_norm(&mut t, 20.0).unwrap();
        assert_eq!(t.grads[1], [12.0, 0.0]);
        assert!(clip_grad_norm(&mut t, 0.0).is_err());
    }

    #[test]
    fn value_clipping_clamps() {
        let mut t = toy();
        clip_grad_value(&mut t, 3.5).unwrap();
        assert_eq!(t.grads[0], [3.0, 3.5, 0.0]);
        assert_eq!(t.grads[1], [3.5, 0.0]);
        assert!(clip_grad_value(&mut t, -1.0).is_err());
    }
}
