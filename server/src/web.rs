//! The HTTP side: Leptos pages and server functions, `/healthz` and
//! `/metrics` ([`crate::metrics`]), the live event stream
//! ([`crate::events`]), static files, all behind
//! [`crate::guard`] (sign-in, roles, CSRF). Takes its listener and a
//! shutdown future, so tests run it on port 0 and stop it cleanly.

use std::future::Future;
use std::path::Path;

use axum::Router;
use leptos::config::{Env, LeptosOptions};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

/// Leptos settings for a built site at `site_root`.
pub fn leptos_options(site_root: &Path, addr: std::net::SocketAddr) -> LeptosOptions {
    let env = match std::env::var("LEPTOS_ENV").as_deref() {
        Ok("DEV") | Ok("dev") => Env::DEV,
        _ => Env::PROD,
    };
    LeptosOptions::builder()
        .output_name("pgshelf")
        .site_root(site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .env(env)
        .site_addr(addr)
        .build()
}

/// Settings of the web side beyond the engine's.
#[derive(Debug, Clone, Default)]
pub struct WebSettings {
    /// `/metrics` requires `Authorization: Bearer <token>` when set.
    pub metrics_token: Option<engine::secrets::Secret>,
}

/// The whole router with default [`WebSettings`].
pub fn router(engine: engine::Engine, options: LeptosOptions) -> Router {
    router_with(engine, options, WebSettings::default())
}

/// The whole router: pages, server functions (with the engine in context),
/// `/healthz`, `/metrics`, and the site's static files.
pub fn router_with(engine: engine::Engine, options: LeptosOptions, web: WebSettings) -> Router {
    router_stopping(engine, options, web, None)
}

/// [`router_with`] whose live event streams end when `stop` turns true
/// (what [`serve_with`] does on shutdown, so open tabs do not hold up a
/// graceful stop).
pub fn router_stopping(
    engine: engine::Engine,
    options: LeptosOptions,
    web: WebSettings,
    stop: Option<tokio::sync::watch::Receiver<bool>>,
) -> Router {
    let routes = generate_route_list(app::App);
    let ctx_engine = engine.clone();
    let fallback_engine = engine.clone();
    let shell_opts = options.clone();
    let guard_engine = engine.clone();
    Router::new()
        .merge(crate::metrics::routes(engine.clone(), web.metrics_token))
        .merge(crate::downloads::routes(engine.clone()))
        .merge(crate::events::routes(engine.clone(), stop))
        .leptos_routes_with_context(
            &options,
            routes,
            move || provide_context(ctx_engine.clone()),
            move || app::shell(shell_opts.clone()),
        )
        // The 404 page renders the whole app (header and all), so its server
        // calls need the engine in context like every other page.
        .fallback(leptos_axum::file_and_error_handler_with_context(
            move || provide_context(fallback_engine.clone()),
            app::shell,
        ))
        .layer(axum::middleware::from_fn_with_state(
            guard_engine,
            crate::guard::guard,
        ))
        .layer(axum::middleware::from_fn(client_addr))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(options)
}

/// Records the client's address for the sign-in throttle.
async fn client_addr(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let addr = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into());
    req.extensions_mut().insert(engine::auth::ClientAddr(addr));
    next.run(req).await
}

/// Serves until `shutdown` resolves, with default [`WebSettings`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    engine: engine::Engine,
    site_root: &Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(
        listener,
        engine,
        site_root,
        WebSettings::default(),
        shutdown,
    )
    .await
}

/// Serves with `web` settings until `shutdown` resolves.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    engine: engine::Engine,
    site_root: &Path,
    web: WebSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    let options = leptos_options(site_root, addr);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let app = router_stopping(engine, options, web, Some(stopped));
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        // End the live event streams, or their connections would keep
        // the graceful stop waiting forever.
        let _ = stop.send(true);
    })
    .await
}
