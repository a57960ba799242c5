//! The JSON form of a decoded sample, as Python's `json.dumps` shows a sample read with
//! `mosaicml-streaming` after turning numpy values into lists: integers and floats as numbers,
//! arrays as nested lists by shape, `bytes` as a list of byte values, `json` values as they are.
//! Golden `expected.jsonl` files use this form; so do `cascade data inspect` and the interop
//! checks.

use crate::{DType, NdArray, Value};
use serde_json::Value as Json;

impl Value {
    /// This value in the JSON form described in the module docs. A non-finite float (which
    /// JSON cannot hold) becomes `null`.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Int(i) => Json::from(*i),
            Value::UInt(u) => Json::from(*u),
            Value::Float(f) => float(*f),
            Value::Str(s) => Json::String(s.clone()),
            Value::Bytes(b) => Json::Array(b.iter().map(|&x| Json::from(x)).collect()),
            Value::Json(j) => j.clone(),
            Value::Array(a) => a.to_json(),
        }
    }
}

impl NdArray {
    /// The array as nested JSON lists, one level per dimension.
    pub fn to_json(&self) -> Json {
        let view = self.numeric();
        let element = |i: usize| -> Json {
            match self.dtype {
                d if d.is_float() => float(view.get_f64(i)),
                DType::U64 => {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&self.data[i * 8..i * 8 + 8]);
                    Json::from(u64::from_le_bytes(b))
                }
                _ => view.get_i64(i).map_or(Json::Null, Json::from),
            }
        };
        let count = self.data.len() / self.dtype.size();
        let mut level: Vec<Json> = (0..count).map(element).collect();
        // Group the flat elements from the innermost dimension outwards.
        for &dim in self.shape.iter().skip(1).rev() {
            let dim = dim.max(1);
            let mut grouped = Vec::with_capacity(level.len() / dim);
            let mut items = level.into_iter();
            loop {
                let chunk: Vec<Json> = items.by_ref().take(dim).collect();
                if chunk.is_empty() {
                    break;
                }
                grouped.push(Json::Array(chunk));
            }
            level = grouped;
        }
        Json::Array(level)
    }
}

/// A float as a JSON number, `null` when not finite.
fn float(f: f64) -> Json {
    serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_nest_by_shape() {
        let a = NdArray {
            dtype: DType::I16,
            shape: vec![2, 3],
            data: (0..6i16).flat_map(|v| (v - 2).to_le_bytes()).collect(),
        };
        assert_eq!(a.to_json().to_string(), "[[-2,-1,0],[1,2,3]]");
        let f = NdArray::from_f32(&[0.5, -1.25]);
        assert_eq!(Value::Array(f).to_json().to_string(), "[0.5,-1.25]");
        assert_eq!(Value::Bytes(vec![0, 255]).to_json().to_string(), "[0,255]");
        assert_eq!(Value::Float(f64::NAN).to_json(), Json::Null);
        assert_eq!(
            Value::UInt(u64::MAX).to_json().to_string(),
            u64::MAX.to_string()
        );
    }
}
