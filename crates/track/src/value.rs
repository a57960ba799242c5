//! JSON encoding of metric values that keeps NaN and infinities: a diverging loss must reach the
//! log and the server as what it is. Finite values are JSON numbers; the others are the strings
//! `"NaN"`, `"Infinity"` and `"-Infinity"`, as protobuf's JSON mapping (and so MLflow) reads them.

use serde::{Deserialize, Deserializer, Serializer};

/// Serialises an `f64`, non-finite values as strings.
pub fn serialize<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
    if value.is_finite() {
        s.serialize_f64(*value)
    } else if value.is_nan() {
        s.serialize_str("NaN")
    } else if *value > 0.0 {
        s.serialize_str("Infinity")
    } else {
        s.serialize_str("-Infinity")
    }
}

/// Reads what [`serialize`] writes.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Number(f64),
        Text(String),
    }
    match Repr::deserialize(d)? {
        Repr::Number(v) => Ok(v),
        Repr::Text(t) => match t.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            other => Err(serde::de::Error::custom(format!(
                "`{other}` is not a metric value"
            ))),
        },
    }
}
