//! `/metrics` (Prometheus text format 0.0.4) and `/healthz` (JSON): both
//! answer without a session. `/metrics` asks for `Authorization: Bearer
//! <metrics_token>` when that setting is set (compared in constant time);
//! the guard lets it through untouched, so its token is never mistaken for
//! an API token.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use engine::secrets::Secret;
use engine::Engine;

/// What the two handlers need.
#[derive(Clone)]
struct Monitor {
    engine: Engine,
    token: Option<Secret>,
}

/// The `/metrics` and `/healthz` routes.
pub fn routes(engine: Engine, token: Option<Secret>) -> Router<leptos::config::LeptosOptions> {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(Monitor { engine, token })
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn metrics(State(m): State<Monitor>, headers: HeaderMap) -> Response {
    if let Some(want) = &m.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let ok = given.is_some_and(|g| engine::metrics::token_matches(g, want.expose()));
        if !ok {
            return (
                StatusCode::UNAUTHORIZED,
                [
                    (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                    (header::WWW_AUTHENTICATE, "Bearer realm=\"pgshelf metrics\""),
                ],
                "/metrics needs the metrics token. Fix: send `Authorization: Bearer <token>` with the token of metrics_token_file or PGSHELF_METRICS_TOKEN (in Prometheus: `authorization: { credentials_file: ... }`)",
            )
                .into_response();
        }
    }
    match m.engine.metrics_text().await {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, engine::metrics::CONTENT_TYPE)],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::warn!("/metrics: {e}");
            text(
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                e.to_string(),
            )
        }
    }
}

/// 200 with `"status": "ok"` when the catalog answers, 503 with
/// `"degraded"` when it does not; the workers' status either way.
async fn healthz(State(m): State<Monitor>) -> Response {
    let h = m.engine.health().await;
    let status = if h.ok() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        serde_json::to_string(&h).unwrap_or_else(|_| "{\"status\":\"degraded\"}".into()),
    )
        .into_response()
}
