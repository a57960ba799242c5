//! The service's Prometheus metrics, in the text exposition format at `GET /metrics`:
//! requests by route and status, request latency by route, requests refused (saturated or timed
//! out), requests in flight, reloads by outcome, and the model version with the runs and
//! checkpoint steps it came from.

use cascade_serve::ModelVersion;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    version: String,
    retrieval_run: String,
    retrieval_step: String,
    ranking_run: String,
    ranking_step: String,
    retrieval_model: String,
    ranking_model: String,
}

/// A registered model as a label value: `models:/NAME@ALIAS version N`, or empty.
fn model_label(model: Option<&cascade_serve::RegisteredModel>) -> String {
    model.map_or(String::new(), |m| {
        format!("{} version {}", m.uri, m.version)
    })
}

type Histograms = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Latency buckets from 0.1 ms to about 3.3 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// The registry and the handles the service updates.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Histograms,
    in_flight: Gauge,
    reloads: Family<OutcomeLabels, Counter>,
    model_version: Gauge,
    model_info: Family<ModelLabels, Gauge>,
    /// The labels of the model now set to 1 in `model_info`.
    model_labels: Mutex<Option<ModelLabels>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric, all at zero.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: Histograms = Family::new_with_constructor(latency_histogram);
        let in_flight = Gauge::default();
        let reloads = Family::<OutcomeLabels, Counter>::default();
        let model_version = Gauge::default();
        let model_info = Family::<ModelLabels, Gauge>::default();
        registry.register(
            "cascade_http_requests",
            "HTTP requests answered, by route and status",
            requests.clone(),
        );
        registry.register(
            "cascade_http_request_duration_seconds",
            "Time to answer an HTTP request, by route",
            latency.clone(),
        );
        registry.register(
            "cascade_http_requests_in_flight",
            "HTTP requests being answered",
            in_flight.clone(),
        );
        registry.register(
            "cascade_model_reloads",
            "Model reloads, by outcome (ok, failed)",
            reloads.clone(),
        );
        registry.register(
            "cascade_model_version",
            "The version number of the model answering (1 at start, +1 per reload)",
            model_version.clone(),
        );
        registry.register(
            "cascade_model_info",
            "The runs and checkpoint steps of the model answering (value 1)",
            model_info.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            in_flight,
            reloads,
            model_version,
            model_info,
            model_labels: Mutex::new(None),
        }
    }

    /// A request entered the service.
    pub fn started(&self) {
        self.in_flight.inc();
    }

    /// A request to `route` ended with `status` after `elapsed`.
    pub fn finished(&self, route: &str, status: u16, elapsed: Duration) {
        self.in_flight.dec();
        let route = route.to_string();
        self.requests
            .get_or_create(&RequestLabels {
                route: route.clone(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels { route })
            .observe(elapsed.as_secs_f64());
    }

    /// A reload ended, well (`ok`) or not.
    pub fn reloaded(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "failed" }.to_string();
        self.reloads.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// Version `number`, loaded from `version`, now answers.
    pub fn set_model(&self, number: u64, version: &ModelVersion) {
        let labels = ModelLabels {
            version: number.to_string(),
            retrieval_run: version.retrieval_run.clone(),
            retrieval_step: version.retrieval_step.to_string(),
            ranking_run: version.ranking_run.clone().unwrap_or_default(),
            ranking_step: version
                .ranking_step
                .map_or(String::new(), |s| s.to_string()),
            retrieval_model: model_label(version.retrieval_model.as_ref()),
            ranking_model: model_label(version.ranking_model.as_ref()),
        };
        let mut current = self
            .model_labels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(old) = current.take() {
            self.model_info.remove(&old);
        }
        self.model_info.get_or_create(&labels).set(1);
        *current = Some(labels);
        self.model_version
            .set(i64::try_from(number).unwrap_or(i64::MAX));
    }

    /// The exposition text of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_requests_latency_and_the_one_current_model() {
        let metrics = Metrics::new();
        let version = |step| ModelVersion {
            retrieval_run: "runs/tt".into(),
            retrieval_step: step,
            ranking_run: None,
            ranking_step: None,
            retrieval_model: (step == 20).then(|| cascade_serve::RegisteredModel {
                uri: "models:/tt@live".into(),
                version: "2".into(),
                run_id: "abc".into(),
            }),
            ranking_model: None,
        };
        metrics.set_model(1, &version(10));
        metrics.started();
        metrics.finished("/v1/recommend", 200, Duration::from_millis(3));
        metrics.set_model(2, &version(20));
        metrics.reloaded(true);
        let text = metrics.render();
        assert!(
            text.contains(r#"cascade_http_requests_total{route="/v1/recommend",status="200"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("cascade_http_request_duration_seconds_bucket"),
            "{text}"
        );
        assert!(text.contains("cascade_http_requests_in_flight 0"), "{text}");
        assert!(text.contains("cascade_model_version 2"), "{text}");
        assert!(text.contains(r#"retrieval_step="20""#), "{text}");
        assert!(
            text.contains(r#"retrieval_model="models:/tt@live version 2""#),
            "{text}"
        );
        assert!(
            !text.contains(r#"retrieval_step="10""#),
            "the old version is gone: {text}"
        );
        assert!(
            text.contains(r#"cascade_model_reloads_total{outcome="ok"} 1"#),
            "{text}"
        );
    }
}
