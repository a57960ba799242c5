//! The MLflow REST endpoints Cascade uses, typed: experiments, runs, batched logging, status
//! updates and the model registry. Batches are split to the server's per-call limits.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::client::MlflowClient;
use crate::error::{Result, TrackError};

/// Most metrics one `runs/log-batch` call may carry.
pub const MAX_BATCH_METRICS: usize = 1000;
/// Most params one `runs/log-batch` call may carry.
pub const MAX_BATCH_PARAMS: usize = 100;
/// Most tags one `runs/log-batch` call may carry.
pub const MAX_BATCH_TAGS: usize = 100;

/// An MLflow experiment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Experiment {
    /// Its id.
    pub experiment_id: String,
    /// Its name.
    pub name: String,
}

/// The identity and state of an MLflow run.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RunInfo {
    /// The run id.
    pub run_id: String,
    /// The experiment it belongs to.
    pub experiment_id: String,
    /// Where its artifacts live, e.g. `mlflow-artifacts:/1/<run id>/artifacts`.
    pub artifact_uri: String,
    /// `RUNNING`, `FINISHED`, `FAILED` or `KILLED`.
    #[serde(default)]
    pub status: String,
}

/// A run as `runs/get` returns it: its info and its params and tags.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// The run's identity and state.
    pub info: RunInfo,
    /// Its params.
    pub params: BTreeMap<String, String>,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
}

/// A registered model version.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ModelVersion {
    /// The registered model's name.
    pub name: String,
    /// The version number (MLflow sends it as a string).
    pub version: String,
    /// Where the model's files are.
    #[serde(default)]
    pub source: String,
    /// The run that produced it.
    #[serde(default)]
    pub run_id: String,
}

/// One metric value as MLflow logs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlflowMetric {
    /// Metric name.
    pub key: String,
    /// Value (NaN and infinities as protobuf's JSON strings).
    #[serde(with = "crate::value")]
    pub value: f64,
    /// Unix milliseconds.
    pub timestamp: i64,
    /// Step.
    pub step: u64,
}

#[derive(Deserialize)]
struct KeyValue {
    key: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
struct RunData {
    #[serde(default)]
    params: Vec<KeyValue>,
    #[serde(default)]
    tags: Vec<KeyValue>,
}

#[derive(Deserialize)]
struct RunBody {
    info: RunInfo,
    #[serde(default)]
    data: Option<RunData>,
}

#[derive(Deserialize)]
struct RunEnvelope {
    run: RunBody,
}

fn key_values(map: &BTreeMap<String, String>) -> Vec<serde_json::Value> {
    map.iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect()
}

impl MlflowClient {
    /// Finds an experiment by name, or creates it (coping with another process creating it
    /// at the same moment).
    pub fn get_or_create_experiment(&self, name: &str) -> Result<Experiment> {
        #[derive(Deserialize)]
        struct Got {
            experiment: Experiment,
        }
        #[derive(Deserialize)]
        struct Created {
            experiment_id: String,
        }
        match self.get::<Got>("experiments/get-by-name", &[("experiment_name", name)]) {
            Ok(got) => return Ok(got.experiment),
            Err(TrackError::Api { error_code, .. }) if error_code == "RESOURCE_DOES_NOT_EXIST" => {}
            Err(e) => return Err(e),
        }
        match self.post::<_, Created>("experiments/create", &json!({"name": name})) {
            Ok(created) => Ok(Experiment {
                experiment_id: created.experiment_id,
                name: name.to_string(),
            }),
            Err(TrackError::Api { error_code, .. }) if error_code == "RESOURCE_ALREADY_EXISTS" => {
                Ok(self
                    .get::<Got>("experiments/get-by-name", &[("experiment_name", name)])?
                    .experiment)
            }
            Err(e) => Err(e),
        }
    }

    /// Creates a run in an experiment with a name, start time (unix ms) and tags.
    pub fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        start_time_ms: i64,
        tags: &BTreeMap<String, String>,
    ) -> Result<RunInfo> {
        let body = json!({
            "experiment_id": experiment_id,
            "run_name": run_name,
            "start_time": start_time_ms,
            "tags": key_values(tags),
        });
        Ok(self.post::<_, RunEnvelope>("runs/create", &body)?.run.info)
    }

    /// Reads a run with its params and tags.
    pub fn get_run(&self, run_id: &str) -> Result<RunRecord> {
        let run = self
            .get::<RunEnvelope>("runs/get", &[("run_id", run_id)])?
            .run;
        let data = run.data.unwrap_or(RunData {
            params: Vec::new(),
            tags: Vec::new(),
        });
        Ok(RunRecord {
            info: run.info,
            params: data
                .params
                .into_iter()
                .map(|kv| (kv.key, kv.value))
                .collect(),
            tags: data.tags.into_iter().map(|kv| (kv.key, kv.value)).collect(),
        })
    }

    /// Logs params in as many `runs/log-batch` calls as the per-call limit needs.
    pub fn log_params(&self, run_id: &str, params: &BTreeMap<String, String>) -> Result<()> {
        let all = key_values(params);
        for chunk in all.chunks(MAX_BATCH_PARAMS) {
            self.post::<_, serde_json::Value>(
                "runs/log-batch",
                &json!({"run_id": run_id, "params": chunk}),
            )?;
        }
        Ok(())
    }

    /// Sets tags in as many `runs/log-batch` calls as the per-call limit needs.
    pub fn set_tags(&self, run_id: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        let all = key_values(tags);
        for chunk in all.chunks(MAX_BATCH_TAGS) {
            self.post::<_, serde_json::Value>(
                "runs/log-batch",
                &json!({"run_id": run_id, "tags": chunk}),
            )?;
        }
        Ok(())
    }

    /// Logs metric values in as many `runs/log-batch` calls as the per-call limit needs, under
    /// names MLflow accepts (see [`mlflow_metric_key`]).
    pub fn log_metrics(&self, run_id: &str, metrics: &[MlflowMetric]) -> Result<()> {
        for chunk in metrics.chunks(MAX_BATCH_METRICS) {
            let chunk: Vec<MlflowMetric> = chunk
                .iter()
                .map(|m| MlflowMetric {
                    key: mlflow_metric_key(&m.key),
                    ..m.clone()
                })
                .collect();
            self.post::<_, serde_json::Value>(
                "runs/log-batch",
                &json!({"run_id": run_id, "metrics": chunk}),
            )?;
        }
        Ok(())
    }

    /// Sets a run's status, with its end time (unix ms) when it has ended.
    pub fn update_run(&self, run_id: &str, status: &str, end_time_ms: Option<i64>) -> Result<()> {
        let mut body = json!({"run_id": run_id, "status": status});
        if let Some(end) = end_time_ms {
            body["end_time"] = json!(end);
        }
        self.post::<_, serde_json::Value>("runs/update", &body)?;
        Ok(())
    }

    /// Creates a registered model unless one of that name exists.
    pub fn ensure_registered_model(&self, name: &str) -> Result<()> {
        match self.post::<_, serde_json::Value>("registered-models/create", &json!({"name": name}))
        {
            Ok(_) => Ok(()),
            Err(TrackError::Api { error_code, .. }) if error_code == "RESOURCE_ALREADY_EXISTS" => {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The versions of a registered model that a run produced.
    pub fn model_versions_of_run(&self, name: &str, run_id: &str) -> Result<Vec<ModelVersion>> {
        #[derive(Deserialize)]
        struct Found {
            #[serde(default)]
            model_versions: Vec<ModelVersion>,
        }
        let filter = format!(
            "name='{}' and run_id='{}'",
            name.replace('\'', "\\'"),
            run_id
        );
        let found: Found = self.get(
            "model-versions/search",
            &[("filter", &filter), ("max_results", "1000")],
        )?;
        Ok(found.model_versions)
    }

    /// Creates a model version from files at `source`, produced by `run_id`.
    pub fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: &str,
    ) -> Result<ModelVersion> {
        #[derive(Deserialize)]
        struct Created {
            model_version: ModelVersion,
        }
        let body = json!({"name": name, "source": source, "run_id": run_id});
        Ok(self
            .post::<_, Created>("model-versions/create", &body)?
            .model_version)
    }

    /// The version of registered model `name` that `alias` points at
    /// (`registered-models/alias`). An unknown model or alias is MLflow's
    /// `RESOURCE_DOES_NOT_EXIST`.
    pub fn get_model_version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        #[derive(Deserialize)]
        struct Got {
            model_version: ModelVersion,
        }
        Ok(self
            .get::<Got>(
                "registered-models/alias",
                &[("name", name), ("alias", alias)],
            )?
            .model_version)
    }

    /// Version `version` of registered model `name` (`model-versions/get`).
    pub fn get_model_version(&self, name: &str, version: &str) -> Result<ModelVersion> {
        #[derive(Deserialize)]
        struct Got {
            model_version: ModelVersion,
        }
        Ok(self
            .get::<Got>(
                "model-versions/get",
                &[("name", name), ("version", version)],
            )?
            .model_version)
    }

    /// Points an alias of a registered model at a version.
    pub fn set_model_alias(&self, name: &str, alias: &str, version: &str) -> Result<()> {
        let body = json!({"name": name, "alias": alias, "version": version});
        self.post::<_, serde_json::Value>("registered-models/alias", &body)?;
        Ok(())
    }
}

/// The name MLflow stores the metric `name` under. MLflow accepts only letters, digits,
/// underscores, dashes, periods, spaces and slashes in names, and refuses a whole batch
/// otherwise; Cascade's retrieval metrics are named like the papers' (`eval/recall@10`), so
/// `@` becomes `_at_` (`eval/recall_at_10`) and any other refused character `_`.
pub fn mlflow_metric_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        match c {
            '@' => key.push_str("_at_"),
            c if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ' | '/') => {
                key.push(c)
            }
            _ => key.push('_'),
        }
    }
    key
}

#[cfg(test)]
mod key_tests {
    use super::mlflow_metric_key;

    #[test]
    fn metric_names_become_names_mlflow_accepts() {
        assert_eq!(mlflow_metric_key("eval/recall@10"), "eval/recall_at_10");
        assert_eq!(mlflow_metric_key("train/loss"), "train/loss");
        assert_eq!(mlflow_metric_key("a b-c.d_e"), "a b-c.d_e");
        assert_eq!(mlflow_metric_key("p(click)"), "p_click_");
    }
}
