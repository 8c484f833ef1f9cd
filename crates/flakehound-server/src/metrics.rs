//! Prometheus metrics (`GET /metrics`): uploads, results, rejections, request latency.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

pub struct Metrics {
    registry: Registry,
    /// Uploads answered 200.
    pub uploads: Counter,
    /// Report files stored (duplicates excluded).
    pub reports: Counter,
    /// Test results stored.
    pub results: Counter,
    /// Requests refused or report files rejected, by reason.
    pub rejections: Family<ReasonLabels, Counter>,
    /// Requests by route and status.
    pub requests: Family<RouteLabels, Counter>,
    /// Request latency in seconds, by route.
    pub latency: Family<RouteLabels, Histogram>,
    /// Retention passes this replica ran (as the leader of the job).
    pub retention_passes: Counter,
    /// Runs pruned by retention on this replica.
    pub retention_runs: Counter,
    /// 1 while this replica leads the retention job, else 0.
    pub retention_leader: prometheus_client::metrics::gauge::Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("flakehound");
        let uploads = Counter::default();
        let reports = Counter::default();
        let results = Counter::default();
        let rejections = Family::<ReasonLabels, Counter>::default();
        let requests = Family::<RouteLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        registry.register("uploads", "Uploads stored", uploads.clone());
        registry.register(
            "reports",
            "Report files stored (duplicates excluded)",
            reports.clone(),
        );
        registry.register("results", "Test results stored", results.clone());
        registry.register(
            "rejections",
            "Requests refused and report files rejected, by reason",
            rejections.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route and status",
            latency.clone(),
        );
        let retention_passes = Counter::default();
        let retention_runs = Counter::default();
        let retention_leader = prometheus_client::metrics::gauge::Gauge::default();
        registry.register(
            "retention_passes",
            "Retention passes run by this replica",
            retention_passes.clone(),
        );
        registry.register(
            "retention_pruned_runs",
            "Runs pruned by retention on this replica",
            retention_runs.clone(),
        );
        registry.register(
            "retention_leader",
            "1 while this replica leads the retention job",
            retention_leader.clone(),
        );
        Metrics {
            registry,
            retention_passes,
            retention_runs,
            retention_leader,
            uploads,
            reports,
            results,
            rejections,
            requests,
            latency,
        }
    }
}

impl Metrics {
    pub fn reject(&self, reason: &str) {
        self.rejections
            .get_or_create(&ReasonLabels {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
