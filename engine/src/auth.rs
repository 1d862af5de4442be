//! Who may use the dashboard: users with roles, passwords hashed with
//! argon2id, sessions and API tokens stored only as sha256 of the token,
//! a one-time setup link for the first admin, and a limit on failed
//! sign-ins. The web edge asks [`crate::Engine::session`] or
//! [`crate::Engine::api_token`] who is calling and checks the [`Role`]
//! an action needs; nothing here knows about HTTP.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::OsRng;
use chrono::Utc;
use sha2::{Digest, Sha256};

pub use model::user::{Role, User};

use crate::catalog::{Catalog, CatalogError};
use crate::secrets::Secret;
use crate::{Engine, Error};

/// How long a session lasts after sign-in.
pub const SESSION_TTL: chrono::Duration = chrono::Duration::hours(12);
/// Failed sign-ins of one user name (or from one address) within
/// [`FAILURE_WINDOW`] before further attempts are refused.
pub const MAX_FAILURES: usize = 5;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 10;

/// What can go wrong signing in or managing users.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("wrong user name or password. Fix: check both; an admin can reset a password on the Users page")]
    BadCredentials,
    #[error("too many failed sign-ins for this user or address. Fix: wait {minutes} minute(s) and try again")]
    RateLimited { minutes: u64 },
    #[error("not signed in. Fix: sign in at /login")]
    NotSignedIn,
    #[error("this needs the {needed} role; you are signed in as {role}. Fix: ask an admin")]
    Forbidden { needed: Role, role: Role },
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("a user named {0:?} already exists. Fix: pick another name")]
    Duplicate(String),
    #[error("no user with id {0}")]
    NoSuchUser(i64),
    #[error("the first admin exists already. Fix: sign in at /login")]
    SetupDone,
    #[error("this setup link is not valid. Fix: use the link pgshelf printed to its log at start")]
    BadSetupToken,
    #[error("that would leave no admin. Fix: make another user admin first")]
    LastAdmin,
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

impl AuthError {
    /// HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::BadCredentials | AuthError::NotSignedIn => 401,
            AuthError::RateLimited { .. } => 429,
            AuthError::Forbidden { .. } | AuthError::BadSetupToken => 403,
            AuthError::Invalid { .. } => 422,
            AuthError::Duplicate(_) | AuthError::SetupDone | AuthError::LastAdmin => 409,
            AuthError::NoSuchUser(_) => 404,
            AuthError::Catalog(e) => e.status(),
        }
    }
}

/// A session just created: the token goes into the cookie, the CSRF token
/// into pages; neither is stored in clear.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub user: User,
    pub token: Secret,
    pub csrf: String,
}

/// Who is calling, as the web edge learns it from a cookie or a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: Option<User>,
    /// The role that applies: the user's, or the API token's.
    pub role: Role,
    /// The session's CSRF token (none for API tokens).
    pub csrf: Option<String>,
    /// For logs and audit: `alice` or `token:ci`.
    pub name: String,
}

impl Caller {
    /// Refuses unless the caller's role allows `needed`.
    pub fn require(&self, needed: Role) -> Result<(), AuthError> {
        if self.role.allows(needed) {
            Ok(())
        } else {
            Err(AuthError::Forbidden {
                needed,
                role: self.role,
            })
        }
    }
}

/// The client's address as the web edge saw it (for throttling sign-ins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddr(pub String);

/// Failed sign-ins by user name and by address, in memory.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

impl Throttle {
    fn blocked(&self, keys: &[String], now: Instant) -> Option<Duration> {
        let map = self.failures.lock().expect("throttle");
        keys.iter()
            .filter_map(|k| {
                let recent: Vec<&Instant> = map
                    .get(k)?
                    .iter()
                    .filter(|t| now.duration_since(**t) < FAILURE_WINDOW)
                    .collect();
                (recent.len() >= MAX_FAILURES)
                    .then(|| FAILURE_WINDOW - now.duration_since(*recent[0]))
            })
            .max()
    }

    fn fail(&self, keys: &[String], now: Instant) {
        let mut map = self.failures.lock().expect("throttle");
        // Forget what is out of the window, so names an attacker makes up
        // do not pile up in memory.
        map.retain(|_, v| {
            v.retain(|t| now.duration_since(*t) < FAILURE_WINDOW);
            !v.is_empty()
        });
        for k in keys {
            map.entry(k.clone()).or_default().push(now);
        }
    }

    fn clear(&self, key: &str) {
        self.failures.lock().expect("throttle").remove(key);
    }
}

/// `n` random bytes as hex.
pub(crate) fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password")
        .to_string()
}

fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so a wrong name
/// takes as long as a wrong password.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not a password of anyone"))
}

/// Checks a new user's name and password.
pub fn check_new_user(username: &str, password: &str) -> Result<(), AuthError> {
    let valid_name = !username.is_empty()
        && username.len() <= 64
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c));
    if !valid_name {
        return Err(AuthError::Invalid {
            field: "username",
            message: "use 1 to 64 letters, digits, - _ . or @".into(),
        });
    }
    if password.chars().count() < MIN_PASSWORD {
        return Err(AuthError::Invalid {
            field: "password",
            message: format!(
                "is shorter than {MIN_PASSWORD} characters. Fix: use a longer one (a passphrase works well)"
            ),
        });
    }
    Ok(())
}

impl Engine {
    /// The one-time setup token, while no user exists (the server prints
    /// `/setup?token=...` to its log at start).
    pub async fn setup_token(&self) -> Result<Option<String>, Error> {
        if self.inner.catalog.user_count().await? > 0 {
            return Ok(None);
        }
        Ok(Some(self.inner.setup_token.clone()))
    }

    /// Creates the first admin with the setup token and signs them in.
    pub async fn create_first_admin(
        &self,
        token: &str,
        username: &str,
        password: &Secret,
    ) -> Result<NewSession, Error> {
        if self.inner.catalog.user_count().await? > 0 {
            return Err(AuthError::SetupDone.into());
        }
        if !constant_time_eq(token.as_bytes(), self.inner.setup_token.as_bytes()) {
            return Err(AuthError::BadSetupToken.into());
        }
        let user = self.create_user(username, password, Role::Admin).await?;
        tracing::info!(user = %user.username, "first admin created");
        self.new_session(user).await
    }

    /// Signs in; `from` (the client's address) is throttled like the name.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &Secret,
        from: &str,
    ) -> Result<NewSession, Error> {
        let username = username.trim();
        let keys = [format!("user:{username}"), format!("addr:{from}")];
        let now = Instant::now();
        if let Some(wait) = self.inner.throttle.blocked(&keys, now) {
            return Err(AuthError::RateLimited {
                minutes: wait.as_secs().div_ceil(60).max(1),
            }
            .into());
        }
        let found = self.inner.catalog.user_with_hash(username).await?;
        let ok = match &found {
            Some((_, hash)) => password_matches(password.expose(), hash),
            None => {
                password_matches(password.expose(), dummy_hash());
                false
            }
        };
        match (ok, found) {
            (true, Some((user, _))) => {
                self.inner.throttle.clear(&keys[0]);
                tracing::info!(user = %user.username, from, "signed in");
                self.new_session(user).await
            }
            _ => {
                self.inner.throttle.fail(&keys, now);
                tracing::warn!(from, "failed sign-in for {username:?}");
                Err(AuthError::BadCredentials.into())
            }
        }
    }

    async fn new_session(&self, user: User) -> Result<NewSession, Error> {
        let token = random_hex(32);
        let csrf = random_hex(16);
        self.inner
            .catalog
            .insert_session(
                &token_hash(&token),
                user.id,
                &csrf,
                Utc::now() + SESSION_TTL,
            )
            .await?;
        Ok(NewSession {
            user,
            token: Secret::new(token),
            csrf,
        })
    }

    /// Who holds this session token, if it is valid.
    pub async fn session(&self, token: &str) -> Result<Option<Caller>, Error> {
        let found = self
            .inner
            .catalog
            .session(&token_hash(token), Utc::now())
            .await?;
        Ok(found.map(|(user, csrf)| Caller {
            role: user.role,
            name: user.username.clone(),
            user: Some(user),
            csrf: Some(csrf),
        }))
    }

    /// Ends a session.
    pub async fn sign_out(&self, token: &str) -> Result<(), Error> {
        Ok(self
            .inner
            .catalog
            .delete_session(&token_hash(token))
            .await?)
    }

    /// Who holds this API token, if it is valid.
    pub async fn api_token(&self, token: &str) -> Result<Option<Caller>, Error> {
        let found = self.inner.catalog.api_token(&token_hash(token)).await?;
        Ok(found.map(|(name, role)| Caller {
            user: None,
            role,
            csrf: None,
            name: format!("token:{name}"),
        }))
    }

    /// Creates an API token with a role; the token is returned once.
    pub async fn create_api_token(
        &self,
        name: &str,
        role: Role,
        created_by: Option<i64>,
    ) -> Result<(i64, Secret), Error> {
        let name = name.trim();
        if name.is_empty() || name.len() > 64 {
            return Err(AuthError::Invalid {
                field: "name",
                message: "give the token a short name, e.g. ci or laptop".into(),
            }
            .into());
        }
        let token = format!("pgs_{}", random_hex(24));
        let id = self
            .inner
            .catalog
            .insert_api_token(name, &token_hash(&token), role, created_by)
            .await?;
        Ok((id, Secret::new(token)))
    }

    /// Every user, by name.
    pub async fn users(&self) -> Result<Vec<User>, Error> {
        Ok(self.inner.catalog.users().await?)
    }

    /// Adds a user.
    pub async fn create_user(
        &self,
        username: &str,
        password: &Secret,
        role: Role,
    ) -> Result<User, Error> {
        let username = username.trim();
        check_new_user(username, password.expose())?;
        let hash = hash_password(password.expose());
        match self.inner.catalog.insert_user(username, &hash, role).await {
            Err(CatalogError::Query(sqlx::Error::Database(d))) if d.is_unique_violation() => {
                Err(AuthError::Duplicate(username.to_owned()).into())
            }
            other => Ok(other?),
        }
    }

    /// Changes a user's role; the last admin stays admin.
    pub async fn set_role(&self, id: i64, role: Role) -> Result<User, Error> {
        let user = self.user(id).await?;
        if user.role == Role::Admin && role != Role::Admin && self.admins().await? <= 1 {
            return Err(AuthError::LastAdmin.into());
        }
        self.inner.catalog.set_user_role(id, role).await?;
        self.user(id).await
    }

    /// Sets a user's password and ends their sessions.
    pub async fn set_password(&self, id: i64, password: &Secret) -> Result<(), Error> {
        let user = self.user(id).await?;
        check_new_user(&user.username, password.expose())?;
        self.inner
            .catalog
            .set_user_password(id, &hash_password(password.expose()))
            .await?;
        Ok(())
    }

    /// Removes a user (and their sessions); the last admin stays.
    pub async fn delete_user(&self, id: i64) -> Result<(), Error> {
        let user = self.user(id).await?;
        if user.role == Role::Admin && self.admins().await? <= 1 {
            return Err(AuthError::LastAdmin.into());
        }
        Ok(self.inner.catalog.delete_user(id).await?)
    }

    async fn user(&self, id: i64) -> Result<User, Error> {
        self.inner
            .catalog
            .users()
            .await?
            .into_iter()
            .find(|u| u.id == id)
            .ok_or_else(|| AuthError::NoSuchUser(id).into())
    }

    async fn admins(&self) -> Result<usize, Error> {
        Ok(self
            .inner
            .catalog
            .users()
            .await?
            .iter()
            .filter(|u| u.role == Role::Admin)
            .count())
    }
}

/// Compares secrets without an early exit.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Catalog queries for users, sessions and tokens.
impl Catalog {
    pub async fn user_count(&self) -> Result<i64, CatalogError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(self.pool())
            .await?)
    }

    pub async fn users(&self) -> Result<Vec<User>, CatalogError> {
        let rows: Vec<(i64, String, String, chrono::DateTime<Utc>)> =
            sqlx::query_as("SELECT id, username, role, created_at FROM users ORDER BY username")
                .fetch_all(self.pool())
                .await?;
        rows.into_iter().map(user_of).collect()
    }

    async fn user_with_hash(&self, username: &str) -> Result<Option<(User, String)>, CatalogError> {
        let row: Option<(i64, String, String, chrono::DateTime<Utc>, String)> = sqlx::query_as(
            "SELECT id, username, role, created_at, password_hash FROM users WHERE username = ?",
        )
        .bind(username)
        .fetch_optional(self.pool())
        .await?;
        row.map(|(id, name, role, at, hash)| Ok((user_of((id, name, role, at))?, hash)))
            .transpose()
    }

    async fn insert_user(
        &self,
        username: &str,
        hash: &str,
        role: Role,
    ) -> Result<User, CatalogError> {
        let id = sqlx::query(
            "INSERT INTO users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(username)
        .bind(hash)
        .bind(role.as_str())
        .bind(Utc::now())
        .execute(self.pool())
        .await?
        .last_insert_rowid();
        Ok(self
            .users()
            .await?
            .into_iter()
            .find(|u| u.id == id)
            .expect("the user just inserted"))
    }

    async fn set_user_role(&self, id: i64, role: Role) -> Result<(), CatalogError> {
        sqlx::query("UPDATE users SET role = ? WHERE id = ?")
            .bind(role.as_str())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn set_user_password(&self, id: i64, hash: &str) -> Result<(), CatalogError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(hash)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_user(&self, id: i64) -> Result<(), CatalogError> {
        sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn insert_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        expires_at: chrono::DateTime<Utc>,
    ) -> Result<(), CatalogError> {
        sqlx::query("DELETE FROM sessions WHERE expires_at < ?")
            .bind(Utc::now())
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf)
        .bind(Utc::now())
        .bind(expires_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn session(
        &self,
        token_hash: &str,
        now: chrono::DateTime<Utc>,
    ) -> Result<Option<(User, String)>, CatalogError> {
        let row: Option<(i64, String, String, chrono::DateTime<Utc>, String)> = sqlx::query_as(
            "SELECT u.id, u.username, u.role, u.created_at, s.csrf
               FROM sessions s JOIN users u ON u.id = s.user_id
              WHERE s.token_hash = ? AND s.expires_at > ?",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        row.map(|(id, name, role, at, csrf)| Ok((user_of((id, name, role, at))?, csrf)))
            .transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), CatalogError> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn insert_api_token(
        &self,
        name: &str,
        token_hash: &str,
        role: Role,
        created_by: Option<i64>,
    ) -> Result<i64, CatalogError> {
        Ok(sqlx::query(
            "INSERT INTO api_tokens (name, token_hash, role, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(name)
        .bind(token_hash)
        .bind(role.as_str())
        .bind(created_by)
        .bind(Utc::now())
        .execute(self.pool())
        .await?
        .last_insert_rowid())
    }

    async fn api_token(&self, token_hash: &str) -> Result<Option<(String, Role)>, CatalogError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT name, role FROM api_tokens WHERE token_hash = ?")
                .bind(token_hash)
                .fetch_optional(self.pool())
                .await?;
        match row {
            None => Ok(None),
            Some((name, role)) => {
                sqlx::query("UPDATE api_tokens SET last_used = ? WHERE token_hash = ?")
                    .bind(Utc::now())
                    .bind(token_hash)
                    .execute(self.pool())
                    .await?;
                Ok(Some((name, parse_role(&role)?)))
            }
        }
    }
}

fn parse_role(s: &str) -> Result<Role, CatalogError> {
    s.parse()
        .map_err(|detail| CatalogError::Corrupt { id: 0, detail })
}

fn user_of(
    (id, username, role, created_at): (i64, String, String, chrono::DateTime<Utc>),
) -> Result<User, CatalogError> {
    Ok(User {
        id,
        role: parse_role(&role)?,
        username,
        created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(password_matches("correct horse battery", &h));
        assert!(!password_matches("correct horse batterx", &h));
        assert!(!password_matches("x", "not a hash"));
    }

    #[test]
    fn new_users_need_a_name_and_a_long_password() {
        assert!(check_new_user("alice", "long enough pw").is_ok());
        assert!(check_new_user("", "long enough pw").is_err());
        assert!(check_new_user("a b", "long enough pw").is_err());
        let e = check_new_user("alice", "short").unwrap_err().to_string();
        assert!(e.starts_with("password: ") && e.contains("Fix:"), "{e}");
    }

    #[test]
    fn throttle_blocks_after_repeated_failures_and_forgets_them() {
        let t = Throttle::default();
        let keys = ["user:a".to_string(), "addr:1".to_string()];
        let now = Instant::now();
        for _ in 0..MAX_FAILURES {
            assert!(t.blocked(&keys, now).is_none());
            t.fail(&keys, now);
        }
        assert!(t.blocked(&keys, now).is_some());
        // Another user from another address is not blocked.
        assert!(t
            .blocked(&["user:b".into(), "addr:2".into()], now)
            .is_none());
        // The window passes.
        assert!(t.blocked(&keys, now + FAILURE_WINDOW).is_none());
    }

    #[test]
    fn roles_are_checked() {
        let viewer = Caller {
            user: None,
            role: Role::Viewer,
            csrf: None,
            name: "v".into(),
        };
        assert!(viewer.require(Role::Viewer).is_ok());
        let e = viewer.require(Role::Operator).unwrap_err();
        assert_eq!(e.status(), 403);
        assert!(e.to_string().contains("operator"));
    }

    #[test]
    fn tokens_are_random_and_compared_in_constant_time() {
        assert_ne!(random_hex(16), random_hex(16));
        assert_eq!(random_hex(16).len(), 32);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
