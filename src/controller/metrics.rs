//! The controller's `/metrics` (Prometheus text format) and `/healthz`,
//! with prometheus-client and axum: passes by result, actions by kind,
//! operation and outcome, drift corrections, errors, manifest errors,
//! pending triggers, the last converged pass per host, observe latency.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PassLabels {
    /// `converged`, `not_converged` or `not_run` (no good manifests).
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    pub kind: String,
    pub operation: String,
    /// `done`, `failed` or `skipped`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HostLabels {
    pub host: String,
}

pub struct Metrics {
    registry: Registry,
    pub passes: Family<PassLabels, Counter>,
    pub actions: Family<ActionLabels, Counter>,
    /// Actions done by passes no manifest change asked for: drift repaired.
    pub drift_corrections: Counter,
    /// Failed actions and passes that could not run.
    pub errors: Counter,
    pub manifest_errors: Gauge,
    /// Triggers waiting for the next pass.
    pub queue_depth: Gauge,
    pub last_converged: Family<HostLabels, Gauge<f64, AtomicU64>>,
    pub observe_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("virtsync");
        let m = Metrics {
            passes: Family::default(),
            actions: Family::default(),
            drift_corrections: Counter::default(),
            errors: Counter::default(),
            manifest_errors: Gauge::default(),
            queue_depth: Gauge::default(),
            last_converged: Family::default(),
            observe_seconds: Histogram::new(exponential_buckets(0.005, 2.0, 12)),
            registry: Registry::default(),
        };
        registry.register("reconciles", "Reconcile passes by result", m.passes.clone());
        registry.register(
            "actions",
            "Actions by kind, operation and outcome",
            m.actions.clone(),
        );
        registry.register(
            "drift_corrections",
            "Actions done by passes that no manifest change started",
            m.drift_corrections.clone(),
        );
        registry.register(
            "errors",
            "Failed actions and passes that failed",
            m.errors.clone(),
        );
        registry.register(
            "manifest_errors",
            "Errors in the manifests as last read",
            m.manifest_errors.clone(),
        );
        registry.register(
            "queue_depth",
            "Triggers waiting for the next pass",
            m.queue_depth.clone(),
        );
        registry.register(
            "last_converged_timestamp_seconds",
            "When a pass last converged, per host (Unix time)",
            m.last_converged.clone(),
        );
        registry.register(
            "observe_seconds",
            "Time to observe and plan, per pass",
            m.observe_seconds.clone(),
        );
        Metrics { registry, ..m }
    }
}

impl Metrics {
    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String");
        out
    }
}

/// Serve `/metrics` and `/healthz` on `addr` until the runtime ends.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<()> {
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = metrics.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        m.encode(),
                    )
                }
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "serving /metrics and /healthz");
    axum::serve(listener, app).await
}
