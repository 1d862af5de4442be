//! Server functions for signing in and out, the first admin, users and API
//! tokens. Sign-in and setup are the only server functions anyone may call;
//! every other one checks the caller's role first (`edge::require`).

use leptos::prelude::*;
use model::user::{Role, User};

/// Signs in and sets the session cookie, then goes to `next` (a path on
/// this site; anything else goes to `/`).
#[server(prefix = "/api", endpoint = "auth/login")]
pub async fn login(
    username: String,
    password: String,
    next: Option<String>,
) -> Result<(), ServerFnError> {
    use crate::edge::{client_addr, engine, engine_error, set_session_cookie};
    let session = engine()?
        .sign_in(
            &username,
            &engine::secrets::Secret::new(password),
            &client_addr(),
        )
        .await
        .map_err(engine_error)?;
    set_session_cookie(session.token.expose());
    leptos_axum::redirect(&safe_next(next.as_deref()));
    Ok(())
}

/// Creates the first admin with the setup link's token, signs them in.
#[server(prefix = "/api", endpoint = "auth/setup")]
pub async fn setup_admin(
    token: String,
    username: String,
    password: String,
) -> Result<(), ServerFnError> {
    use crate::edge::{engine, engine_error, set_session_cookie};
    let session = engine()?
        .create_first_admin(&token, &username, &engine::secrets::Secret::new(password))
        .await
        .map_err(engine_error)?;
    set_session_cookie(session.token.expose());
    leptos_axum::redirect("/");
    Ok(())
}

/// Ends the session and clears the cookie.
#[server(prefix = "/api", endpoint = "auth/logout")]
pub async fn logout() -> Result<(), ServerFnError> {
    use crate::edge::{clear_session_cookie, engine, engine_error, session_token};
    if let Some(token) = session_token() {
        engine()?.sign_out(&token).await.map_err(engine_error)?;
    }
    clear_session_cookie();
    leptos_axum::redirect("/login");
    Ok(())
}

/// The signed-in user (`None` for an API token).
#[server(prefix = "/api", endpoint = "auth/me")]
pub async fn current_user() -> Result<Option<User>, ServerFnError> {
    use crate::edge::require;
    Ok(require(Role::Viewer)?.user)
}

/// Every user (admins only).
#[server(prefix = "/api", endpoint = "users/list")]
pub async fn list_users() -> Result<Vec<User>, ServerFnError> {
    use crate::edge::{engine, engine_error, require};
    require(Role::Admin)?;
    engine()?.users().await.map_err(engine_error)
}

/// Adds a user (admins only).
#[server(prefix = "/api", endpoint = "users/add")]
pub async fn add_user(
    username: String,
    password: String,
    role: Role,
) -> Result<User, ServerFnError> {
    use crate::edge::{engine, engine_error, require};
    require(Role::Admin)?;
    engine()?
        .create_user(&username, &engine::secrets::Secret::new(password), role)
        .await
        .map_err(engine_error)
}

/// Changes a user's role (admins only; the last admin stays admin).
#[server(prefix = "/api", endpoint = "users/role")]
pub async fn set_user_role(id: i64, role: Role) -> Result<User, ServerFnError> {
    use crate::edge::{engine, engine_error, require};
    require(Role::Admin)?;
    engine()?.set_role(id, role).await.map_err(engine_error)
}

/// Removes a user (admins only; the last admin stays).
#[server(prefix = "/api", endpoint = "users/delete")]
pub async fn delete_user(id: i64) -> Result<(), ServerFnError> {
    use crate::edge::{engine, engine_error, require};
    require(Role::Admin)?;
    engine()?.delete_user(id).await.map_err(engine_error)
}

/// Creates an API token with a role (admins only); the token is shown once.
#[server(prefix = "/api", endpoint = "users/token")]
pub async fn create_api_token(name: String, role: Role) -> Result<String, ServerFnError> {
    use crate::edge::{engine, engine_error, require};
    let caller = require(Role::Admin)?;
    let (_, token) = engine()?
        .create_api_token(&name, role, caller.user.map(|u| u.id))
        .await
        .map_err(engine_error)?;
    Ok(token.expose().to_owned())
}

/// A path on this site to go to after signing in; anything else (another
/// site, `//host`) is `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/servers/1")), "/servers/1");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
