//! The bodies of the service's requests and answers, and the rules a request must follow.
//!
//! `POST /v1/recommend` takes
//! `{"user_id": "196", "k": 10, "exclude_seen": true, "exclude_items": ["50"], "candidates": 200}`
//! (only `user_id` is required; a numeric `user_id` is read as its decimal text) and answers
//! `{"user_id", "cold_start", "model_version", "items": [{"rank", "item_id", "title",
//! "retrieval_score", "ranking_score"}]}`. A field the service does not know is refused, so a
//! misspelt option is never silently ignored.

use crate::error::ApiError;
use cascade_serve::{Query, Recommendation};
use serde::{Deserialize, Deserializer, Serialize};

/// How large a request may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest `k`.
    pub max_k: usize,
    /// The largest `candidates`.
    pub max_candidates: usize,
    /// The most ids in `exclude_items`.
    pub max_exclusions: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_k: 1000,
            max_candidates: 10_000,
            max_exclusions: 10_000,
        }
    }
}

/// The body of `POST /v1/recommend`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecommendRequest {
    /// The user's raw id, as the dataset wrote it.
    #[serde(deserialize_with = "id_text")]
    pub user_id: String,
    /// Items to return (default 10).
    #[serde(default = "default_k")]
    pub k: i64,
    /// Leave out what the user already interacted with (default true).
    #[serde(default = "default_true")]
    pub exclude_seen: bool,
    /// Raw item ids never to return.
    #[serde(default)]
    pub exclude_items: Vec<String>,
    /// Candidates retrieved before ranking (default: the larger of `k` and 100).
    #[serde(default)]
    pub candidates: Option<i64>,
}

fn default_k() -> i64 {
    10
}

fn default_true() -> bool {
    true
}

/// Reads an id written as a JSON string or a JSON integer.
fn id_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(u64),
    }
    Ok(match Id::deserialize(deserializer)? {
        Id::Text(text) => text,
        Id::Number(number) => number.to_string(),
    })
}

/// Checks that `k` is a count between 1 and `max`, naming `field` when it is not.
pub fn check_count(field: &str, value: i64, max: usize) -> Result<usize, ApiError> {
    match usize::try_from(value) {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_request(format!(
            "{field} must be between 1 and {max}, got {value}"
        ))),
    }
}

impl RecommendRequest {
    /// Parses a request body, refusing malformed JSON (serde's message names the line and
    /// column), anything but an object (serde would read an array as the fields in order) and
    /// unknown fields.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let invalid =
            |e: serde_json::Error| ApiError::bad_request(format!("invalid request body: {e}"));
        let value: serde_json::Value = serde_json::from_slice(body).map_err(invalid)?;
        if !value.is_object() {
            return Err(ApiError::bad_request(
                "invalid request body: expected a JSON object such as {\"user_id\": \"42\", \"k\": 10}",
            ));
        }
        serde_json::from_value(value).map_err(invalid)
    }

    /// The funnel query this request asks for, checked against `limits`.
    pub fn query(&self, limits: &Limits) -> Result<Query, ApiError> {
        if self.user_id.is_empty() {
            return Err(ApiError::bad_request("user_id must not be empty"));
        }
        let k = check_count("k", self.k, limits.max_k)?;
        let candidates = match self.candidates {
            Some(c) => check_count("candidates", c, limits.max_candidates)?,
            None => k.max(100),
        };
        if self.exclude_items.len() > limits.max_exclusions {
            return Err(ApiError::bad_request(format!(
                "exclude_items holds {} ids; at most {} are accepted",
                self.exclude_items.len(),
                limits.max_exclusions
            )));
        }
        Ok(Query {
            k,
            candidates,
            exclude_seen: self.exclude_seen,
            exclude_items: self.exclude_items.clone(),
        })
    }
}

/// The answer of `POST /v1/recommend`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecommendResponse {
    /// The user asked about.
    pub user_id: String,
    /// The user is unknown: the items are the most popular ones.
    pub cold_start: bool,
    /// The model version that answered (it increases with every reload).
    pub model_version: u64,
    /// The items, best first.
    pub items: Vec<Recommendation>,
}

/// The query string of `GET /v1/similar-items/{item_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimilarParams {
    /// Items to return (default 10).
    pub k: Option<i64>,
}

/// The answer of `GET /v1/similar-items/{item_id}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimilarResponse {
    /// The item asked about.
    pub item_id: String,
    /// The model version that answered.
    pub model_version: u64,
    /// The most similar items, best first (`retrieval_score` is the similarity).
    pub items: Vec<Recommendation>,
}

/// The body of `POST /v1/admin/reload`: runs to switch to; absent fields keep the current
/// ones, and an empty body reloads the same runs (their latest checkpoints, or the versions
/// their MLflow aliases point at now).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReloadRequest {
    /// A new retrieval run: a run folder or a `models:/NAME@ALIAS` URI.
    pub retrieval: Option<crate::source::RunSource>,
    /// A new ranking run: a run folder or a `models:/NAME@ALIAS` URI.
    pub ranking: Option<crate::source::RunSource>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn refused(body: &str) -> String {
        let error = RecommendRequest::parse(body.as_bytes())
            .and_then(|r| r.query(&Limits::default()))
            .expect_err(body);
        assert_eq!(error.status, StatusCode::BAD_REQUEST, "{body}");
        error.message
    }

    #[test]
    fn a_minimal_request_takes_the_defaults_and_numeric_ids() {
        let request = RecommendRequest::parse(br#"{"user_id": 196}"#).expect("valid");
        assert_eq!(request.user_id, "196");
        let query = request.query(&Limits::default()).expect("valid");
        assert_eq!(
            (query.k, query.candidates, query.exclude_seen),
            (10, 100, true)
        );
        let query = RecommendRequest::parse(br#"{"user_id":"a","k":300,"exclude_seen":false}"#)
            .and_then(|r| r.query(&Limits::default()))
            .expect("valid");
        assert_eq!(
            (query.k, query.candidates, query.exclude_seen),
            (300, 300, false)
        );
    }

    #[test]
    fn malformed_bodies_and_bad_values_name_what_is_wrong() {
        assert!(refused(r#"{"user_id": "1""#).contains("EOF"));
        assert!(refused(r#"{"user_id": "1", "kk": 3}"#).contains("unknown field `kk`"));
        assert!(refused(r#"{"k": 3}"#).contains("missing field `user_id`"));
        assert!(
            refused(r#"{"user_id": "1", "k": -1}"#)
                .contains("k must be between 1 and 1000, got -1")
        );
        assert!(refused(r#"{"user_id": "1", "k": 0}"#).contains("got 0"));
        assert!(refused(r#"{"user_id": "1", "k": 1000000}"#).contains("got 1000000"));
        assert!(refused(r#"{"user_id": "1", "k": 1e99}"#).contains("invalid type"));
        assert!(refused(r#"{"user_id": "1", "candidates": 100001}"#).contains("candidates"));
        assert!(refused(r#"{"user_id": ""}"#).contains("empty"));
        assert!(refused(r#"{"user_id": "1", "exclude_items": "5"}"#).contains("invalid type"));
        assert!(refused(r#"["1", 2]"#).contains("expected a JSON object"));
    }

    #[test]
    fn a_reload_names_run_folders_or_registered_models() {
        use crate::source::RunSource;
        let request: ReloadRequest =
            serde_json::from_str(r#"{"retrieval": "models:/tt@live", "ranking": "runs/rank"}"#)
                .unwrap();
        assert_eq!(
            request.retrieval,
            Some(RunSource::Registry("models:/tt@live".parse().unwrap()))
        );
        assert_eq!(request.ranking, Some(RunSource::Local("runs/rank".into())));
        let error = serde_json::from_str::<ReloadRequest>(r#"{"retrieval": "models:/tt"}"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("models:/NAME@ALIAS"), "{error}");
    }
}
