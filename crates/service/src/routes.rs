//! The routes, and the layers every request passes: metrics outermost (so every answer is
//! counted, failures included), then the panic guard (a panic becomes a `500` with a JSON body,
//! never a dropped connection), then the body size limit.

use crate::api::{
    RecommendRequest, RecommendResponse, ReloadRequest, SimilarParams, SimilarResponse, check_count,
};
use crate::error::ApiError;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tower_http::catch_panic::CatchPanicLayer;

/// The service's routes over `state`, with request bodies of at most `max_body_bytes`.
pub fn router(state: Arc<AppState>, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/v1/recommend", post(recommend))
        .route("/v1/similar-items/{item_id}", get(similar_items))
        .route("/v1/admin/reload", post(reload))
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), track))
        .with_state(state)
}

/// Counts and times every request by its route pattern.
async fn track(
    State(state): State<Arc<AppState>>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let route = matched.map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    state.metrics.started();
    let started = Instant::now();
    let response = next.run(request).await;
    state
        .metrics
        .finished(&route, response.status().as_u16(), started.elapsed());
    response
}

fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown cause");
    ApiError::internal(format!("the service failed on this request: {detail}")).into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such route; the service answers POST /v1/recommend, GET /v1/similar-items/{item_id}, \
         GET /healthz, GET /metrics and POST /v1/admin/reload",
    )
}

/// A body that could not be read: too large (413) or cut short.
fn body_error(rejection: BytesRejection) -> ApiError {
    ApiError::new(rejection.status(), rejection.body_text())
}

async fn recommend(
    State(state): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<RecommendResponse>, ApiError> {
    let request = RecommendRequest::parse(&body.map_err(body_error)?)?;
    let query = request.query(&state.limits)?;
    let loaded = state.current();
    state
        .gate
        .run(move || {
            let answer = loaded.recommender.answer_user(&request.user_id, &query)?;
            Ok(Json(RecommendResponse {
                user_id: request.user_id,
                cold_start: answer.cold_start,
                model_version: loaded.number,
                items: answer.items,
            }))
        })
        .await
}

async fn similar_items(
    State(state): State<Arc<AppState>>,
    Path(item_id): Path<String>,
    params: Result<Query<SimilarParams>, QueryRejection>,
) -> Result<Json<SimilarResponse>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let k = check_count("k", params.k.unwrap_or(10), state.limits.max_k)?;
    let loaded = state.current();
    state
        .gate
        .run(move || {
            let items = loaded.recommender.similar_items(&item_id, k)?;
            Ok(Json(SimilarResponse {
                item_id,
                model_version: loaded.number,
                items,
            }))
        })
        .await
}

async fn health(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let loaded = state.current();
    Json(serde_json::json!({
        "status": "ok",
        "model_version": loaded.number,
        "model": loaded.recommender.version(),
        "items": loaded.recommender.corpus_len(),
    }))
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// Loads the runs again (or the ones the body names) and swaps the new version in. Only a
/// client on the same machine may ask.
async fn reload(
    State(state): State<Arc<AppState>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let local = peer.is_some_and(|Extension(ConnectInfo(addr))| addr.ip().is_loopback());
    if !local {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "reloads are accepted from the service's own machine only",
        ));
    }
    let body = body.map_err(body_error)?;
    let request: ReloadRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ReloadRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("invalid reload body: {e}")))?
    };
    let number = reload_from(&state, request).await?;
    let loaded = state.current();
    Ok(Json(serde_json::json!({
        "model_version": number,
        "model": loaded.recommender.version(),
    })))
}

/// Loads a new version from the current source changed by `request`, off the async threads,
/// and installs it; the current version answers until then, and stays when loading fails.
pub(crate) async fn reload_from(state: &AppState, request: ReloadRequest) -> Result<u64, ApiError> {
    let mut source = state.source.try_lock().map_err(|_| {
        ApiError::new(
            StatusCode::CONFLICT,
            "a reload is already under way; try again when it ends",
        )
    })?;
    let mut next = source.clone();
    if let Some(run) = request.retrieval {
        next.retrieval = run;
    }
    if let Some(run) = request.ranking {
        next.ranking = Some(run);
    }
    let candidate = next.clone();
    let loaded = tokio::task::spawn_blocking(move || candidate.load())
        .await
        .map_err(|e| ApiError::internal(format!("the reload failed: {e}")))?;
    match loaded {
        Ok(recommender) => {
            let number = state.install(recommender);
            *source = next;
            state.metrics.reloaded(true);
            tracing::info!(version = number, "model reloaded");
            Ok(number)
        }
        Err(error) => {
            state.metrics.reloaded(false);
            tracing::warn!(%error, "reload failed; the current model keeps answering");
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("the reload failed and the current model keeps answering: {error}"),
            ))
        }
    }
}
