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
