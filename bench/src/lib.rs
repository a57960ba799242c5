//! Shared helpers of the benchmark drivers in `src/bin/`; each driver prints one JSON line of
//! figures that the `bench/*.sh` scripts compare with the peer tools' figures.

pub mod dlrm;
pub mod timing;
pub mod vectors;

/// Prints one JSON line of figures on standard output, the format every `bench/*.sh` script
/// parses.
pub fn report(figures: serde_json::Value) {
    println!("{figures}");
}

/// Parses a `--precision` value as the model configuration spells it (`f32` or `bf16`), for
/// the drivers that time Cascade's products in either.
pub fn parse_precision(s: &str) -> Result<cascade_nn::Precision, String> {
    serde_json::from_value(serde_json::Value::from(s))
        .map_err(|_| format!("expected f32 or bf16, found {s:?}"))
}
