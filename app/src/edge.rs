//! Server side only (the `ssr` feature): the engine from the request's
//! context, engine errors mapped once to `ServerFnError` with their HTTP
//! status, and the few form fields parsed before an engine call.

use engine::secrets::Secret;
use engine::servers::ServerInput;
use engine::Engine;
use http::header::ACCEPT;
use http::request::Parts;
use http::StatusCode;
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

use crate::API_PREFIX;

/// The engine the server put into this request's context.
pub fn engine() -> Result<Engine, ServerFnError> {
    use_context::<Engine>().ok_or_else(|| {
        set_status(500);
        ServerFnError::new(
            "the backup engine is not available to this request. Fix: the server must provide it \
             with leptos_routes_with_context and handle_server_fns_with_context",
        )
    })
}

/// Maps an engine failure once: its message (which names cause and fix) for
/// the UI, its status for the HTTP response.
pub fn engine_error(e: engine::Error) -> ServerFnError {
    set_status(e.status());
    ServerFnError::new(e.to_string())
}

/// Maps a destinations failure (its message names the field, or the cause
/// and the fix) like every engine error.
pub fn destinations_error(e: engine::destinations::DestinationsError) -> ServerFnError {
    engine_error(e.into())
}

/// A bad form field, worded like the engine's own validation errors
/// (`field: message`) so the form shows it beside that field.
pub fn field_error(field: &str, message: impl std::fmt::Display) -> ServerFnError {
    set_status(422);
    ServerFnError::new(format!("{field}: {message}"))
}

/// Sets the response status, where that is right:
/// - a server function called with fetch: always;
/// - a plain HTML form post (no JavaScript): never, because the response must
///   stay the redirect back to the page that carries the error in its URL;
/// - a page being server-rendered: only 404, so a missing server is a 404 page
///   while a failing sub-part (an unreachable database) leaves the page 200.
fn set_status(code: u16) {
    let Some(response) = use_context::<ResponseOptions>() else {
        return;
    };
    let Ok(status) = StatusCode::from_u16(code) else {
        return;
    };
    let (is_server_fn_call, is_plain_form_post) = match use_context::<Parts>() {
        Some(parts) => (
            parts.uri.path().starts_with(&format!("{API_PREFIX}/")),
            parts
                .headers
                .get(ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("text/html")),
        ),
        None => (true, false),
    };
    let apply = if is_server_fn_call {
        !is_plain_form_post
    } else {
        status == StatusCode::NOT_FOUND
    };
    if apply {
        response.set_status(status);
    }
}

/// Sets the status of the page being server-rendered.
pub fn set_page_status(code: u16) {
    if let (Some(response), Ok(status)) =
        (use_context::<ResponseOptions>(), StatusCode::from_u16(code))
    {
        response.set_status(status);
    }
}

/// The port field's number (blank means 5432), or what is wrong with it.
fn port_number(port: &str) -> Result<u16, String> {
    let port = port.trim();
    if port.is_empty() {
        return Ok(5432);
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("{port:?} is not a port number. Fix: enter a number from 1 to 65535 (PostgreSQL's default is 5432)")),
    }
}

/// The server form as the engine takes it. `password` and `ssl_client_key`
/// are `None` to keep the stored one, `Some("")` to clear it; the
/// certificates likewise (the edit form shows them, so it sends them back).
#[allow(clippy::too_many_arguments)]
pub fn server_input(
    name: String,
    host: String,
    port: &str,
    user: String,
    password: Option<String>,
    sslmode: String,
    maintenance_db: String,
    tls: ServerTls,
) -> Result<ServerInput, ServerFnError> {
    let port = port_number(port);
    let input = ServerInput {
        name,
        host,
        port: *port.as_ref().unwrap_or(&5432),
        user,
        password: password.map(Secret::new),
        sslmode,
        maintenance_db,
        ssl_root_cert: tls.root_cert,
        ssl_client_cert: tls.client_cert,
        ssl_client_key: tls.client_key.map(Secret::new),
    };
    match port {
        Ok(_) => Ok(input),
        // A bad port, and every other field's problem with it (one line
        // each), so the form shows them all at once.
        Err(port) => {
            let mut message = port;
            if let Err(e) = input.validated() {
                message.push('\n');
                message.push_str(&e.to_string());
            }
            Err(field_error("port", message))
        }
    }
}

/// The certificate fields of the server form.
#[derive(Debug, Default)]
pub struct ServerTls {
    pub root_cert: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
}

/// Who is calling, as the server's guard found it (a session or an API
/// token), refused unless its role allows `needed`.
pub fn require(needed: model::user::Role) -> Result<engine::auth::Caller, ServerFnError> {
    let caller = use_context::<Parts>()
        .and_then(|p| p.extensions.get::<engine::auth::Caller>().cloned())
        .ok_or(engine::auth::AuthError::NotSignedIn)
        .map_err(|e| engine_error(e.into()))?;
    caller.require(needed).map_err(|e| engine_error(e.into()))?;
    Ok(caller)
}

/// The client's address, for throttling sign-ins.
pub fn client_addr() -> String {
    use_context::<Parts>()
        .and_then(|p| p.extensions.get::<engine::auth::ClientAddr>().cloned())
        .map(|a| a.0)
        .unwrap_or_else(|| "unknown".into())
}

/// The value of cookie `name` in request headers (the server's guard reads
/// the session cookie with this too).
pub fn cookie_value<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The session token from the request's cookie.
pub fn session_token() -> Option<String> {
    let parts = use_context::<Parts>()?;
    cookie_value(&parts.headers, crate::SESSION_COOKIE).map(str::to_owned)
}

/// Whether the browser reached pgshelf over HTTPS (directly or through a
/// proxy that says so): the session cookie is then `Secure`.
fn over_https() -> bool {
    use_context::<Parts>().is_some_and(|p| {
        p.uri.scheme_str() == Some("https")
            || p.headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("https"))
    })
}

fn set_cookie(value: String) {
    if let (Some(response), Ok(v)) = (
        use_context::<ResponseOptions>(),
        http::HeaderValue::from_str(&value),
    ) {
        response.append_header(http::header::SET_COOKIE, v);
    }
}

/// Sets the session cookie: `HttpOnly` (no script reads it), `SameSite=Strict`
/// (no other site sends it), `Secure` over HTTPS.
pub fn set_session_cookie(token: &str) {
    let secure = if over_https() { "; Secure" } else { "" };
    set_cookie(format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        crate::SESSION_COOKIE,
        engine::auth::SESSION_TTL.num_seconds()
    ));
}

/// Clears the session cookie.
pub fn clear_session_cookie() {
    set_cookie(format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
        crate::SESSION_COOKIE
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ports() {
        assert_eq!(port_number("").unwrap(), 5432);
        assert_eq!(port_number(" 6543 ").unwrap(), 6543);
        for bad in ["0", "65536", "abc", "-1"] {
            let msg = port_number(bad).unwrap_err();
            assert!(msg.contains("Fix:"), "{msg}");
        }
        // A bad port brings every other field's problem with it.
        let tls = ServerTls::default();
        let e = server_input(
            "a b".into(),
            "".into(),
            "99999",
            "u".into(),
            None,
            "prefer".into(),
            String::new(),
            tls,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("port: \"99999\" is not a port number"), "{e}");
        assert!(e.contains("\nname: ") && e.contains("\nhost: "), "{e}");
    }
}
