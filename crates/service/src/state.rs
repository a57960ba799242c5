//! The state every request shares: the current model version (swapped whole on reload), where
//! it came from, the work bound, the request limits and the metrics.

use crate::api::Limits;
use crate::gate::Gate;
use crate::metrics::Metrics;
use crate::source::ModelSource;
use arc_swap::ArcSwap;
use cascade_serve::Recommender;
use std::sync::Arc;

/// One loaded model version.
pub struct Loaded {
    /// The funnel that answers.
    pub recommender: Recommender,
    /// Its version number: 1 for the first load, one more for each reload.
    pub number: u64,
}

/// What the handlers share.
pub struct AppState {
    current: ArcSwap<Loaded>,
    /// Where the current version came from; held while a reload runs, so reloads never overlap.
    pub source: tokio::sync::Mutex<ModelSource>,
    /// The bound on model work in flight.
    pub gate: Gate,
    /// The bounds of a request.
    pub limits: Limits,
    /// The service's counters and histograms.
    pub metrics: Metrics,
}

impl AppState {
    /// Serves `recommender`, loaded from `source`, as version 1.
    pub fn new(recommender: Recommender, source: ModelSource, gate: Gate, limits: Limits) -> Self {
        let metrics = Metrics::new();
        metrics.set_model(1, recommender.version());
        Self {
            current: ArcSwap::from_pointee(Loaded {
                recommender,
                number: 1,
            }),
            source: tokio::sync::Mutex::new(source),
            gate,
            limits,
            metrics,
        }
    }

    /// The version that answers now; a request keeps it until it ends, whatever reloads.
    pub fn current(&self) -> Arc<Loaded> {
        self.current.load_full()
    }

    /// Makes `recommender` the answering version; returns its number.
    pub fn install(&self, recommender: Recommender) -> u64 {
        let number = self.current.load().number + 1;
        self.metrics.set_model(number, recommender.version());
        self.current.store(Arc::new(Loaded {
            recommender,
            number,
        }));
        number
    }
}
