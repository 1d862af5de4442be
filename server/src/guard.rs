//! The door every request passes: who is calling (a session cookie or an
//! API token), refusing anonymous requests everywhere but the sign-in and
//! setup pages, `/healthz`, `/metrics` (which checks its own token) and the
//! site's static files, and refusing
//! state-changing requests that come from another site (CSRF).
//!
//! The caller is put into the request's extensions as an
//! [`engine::auth::Caller`]; server functions check the role an action needs
//! (`app::edge::require`).

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use engine::auth::Caller;
use engine::Engine;

/// Paths anyone may request: sign-in, first-admin setup, health, assets.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/login" | "/setup" | "/favicon.svg" | "/api/auth/login" | "/api/auth/setup"
    ) || path.starts_with("/pkg/")
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Whether a state-changing request from a browser comes from this site:
/// `Sec-Fetch-Site` (when sent) is `same-origin` or `none`, `Origin` (when
/// sent) names this host, and at least one of them, or the session's CSRF
/// token in `X-CSRF-Token`, is there.
fn same_site(headers: &HeaderMap, csrf: Option<&str>) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if let Some(site) = fetch_site {
        if site != "same-origin" && site != "none" {
            return false;
        }
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if let Some(origin) = origin {
        let origin_host = origin.split_once("://").map(|(_, h)| h);
        if origin_host.is_none() || origin_host != host {
            return false;
        }
    }
    let token_ok = match (
        csrf,
        headers.get("x-csrf-token").and_then(|v| v.to_str().ok()),
    ) {
        (Some(want), Some(got)) => want == got,
        _ => false,
    };
    fetch_site.is_some() || origin.is_some() || token_ok
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.to_owned(),
    )
        .into_response()
}

/// The middleware: see the module docs.
pub async fn guard(State(engine): State<Engine>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    // `/metrics` answers for itself (its own bearer token, read-only): its
    // token is not an API token, and a scraper has no session.
    if path == "/metrics" && matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let headers = req.headers();

    let caller: Option<Caller> = if let Some(token) = bearer(headers) {
        match engine.api_token(token).await {
            Ok(Some(c)) => Some(c),
            Ok(None) => {
                return refuse(
                    StatusCode::UNAUTHORIZED,
                    "this API token is not valid. Fix: create one on the Users page",
                )
            }
            Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        }
    } else if let Some(token) = app::cookie_value(headers, app::SESSION_COOKIE) {
        match engine.session(token).await {
            Ok(c) => c,
            Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        }
    } else {
        None
    };

    // Cookies ride along with cross-site requests; tokens do not.
    let via_cookie = caller.as_ref().is_some_and(|c| c.csrf.is_some());
    if changes_state && (via_cookie || is_public(&path)) {
        let csrf = caller.as_ref().and_then(|c| c.csrf.as_deref());
        if !same_site(req.headers(), csrf) {
            tracing::warn!(path, "refused a cross-site request");
            return refuse(
                StatusCode::FORBIDDEN,
                "refused: this request did not come from pgshelf's own pages (cross-site request). Fix: use the dashboard itself, or an API token for scripts",
            );
        }
    }

    match caller {
        Some(c) => {
            req.extensions_mut().insert(c);
            next.run(req).await
        }
        None if is_public(&path) => next.run(req).await,
        None if path.starts_with(&format!("{}/", app::API_PREFIX)) => refuse(
            StatusCode::UNAUTHORIZED,
            "not signed in. Fix: sign in at /login, or send an API token as `Authorization: Bearer ...`",
        ),
        None => {
            let next_path = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "/".into());
            let target = match engine.setup_token().await {
                // No user yet: the setup page says where its link is.
                Ok(Some(_)) => "/setup".to_owned(),
                _ => format!("/login?next={}", app::ui::format::encode_segment(&next_path)),
            };
            Redirect::to(&target).into_response()
        }
    }
}
