//! Downloads that stream, never read into memory: an artifact's files
//! (`GET /backups/{id}/files/{*path}`, operators: a dump is the database's
//! data; an age-encrypted file as stored, or decrypted with a POST of the
//! form field `identity`, used for that download only) and the script that puts rows back from a scratch copy
//! (`GET /scratch/{name}/put-back.sql?table=..&deleted=..&changed=..&keys=..`,
//! operators: it is built from scratch and live data). Both sit behind
//! [`crate::guard`], which has put the caller into the request.

use axum::body::Body;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use engine::auth::Caller;
use engine::Engine;
use model::user::Role;
use serde::Deserialize;

/// The download routes, to merge into the main router (state: the engine).
pub fn routes(engine: Engine) -> Router<leptos::config::LeptosOptions> {
    Router::new()
        .route(
            "/backups/{id}/files/{*path}",
            get(artifact_file).post(decrypted_artifact_file),
        )
        .route("/scratch/{name}/put-back.sql", get(put_back_script))
        .with_state(engine)
}

/// The caller the guard found, with at least `role`; else the refusal.
fn caller(req: &Request, role: Role) -> Result<Caller, (StatusCode, String)> {
    let caller = req
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| (StatusCode::UNAUTHORIZED, "sign in first".to_owned()))?;
    caller
        .require(role)
        .map_err(|e| (StatusCode::FORBIDDEN, e.to_string()))?;
    Ok(caller)
}

fn failure(e: engine::Error) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, e.to_string()).into_response()
}

/// `attachment; filename="..."` with only safe characters in the name.
fn attachment(name: &str) -> HeaderValue {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    HeaderValue::from_str(&format!("attachment; filename=\"{safe}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

async fn artifact_file(
    State(engine): State<Engine>,
    Path((id, path)): Path<(i64, String)>,
    req: Request,
) -> Response {
    if let Err(refused) = caller(&req, Role::Operator) {
        return refused.into_response();
    }
    let (size, stream) = match engine.open_artifact(id, &path).await {
        Ok(v) => v,
        Err(e) => return failure(e),
    };
    let file_name = format!("backup-{id}-{}", path.replace('/', "-"));
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_DISPOSITION, attachment(&file_name));
    if let Ok(v) = HeaderValue::from_str(&size.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    resp
}

/// The form of a decrypted download: the identity text (never logged).
#[derive(Deserialize)]
struct IdentityForm {
    identity: String,
}

/// An encrypted file decrypted with the posted identity: served without
/// its `.age` suffix (still zstd-compressed), with no length known ahead.
async fn decrypted_artifact_file(
    State(engine): State<Engine>,
    Path((id, path)): Path<(i64, String)>,
    req: Request,
) -> Response {
    if let Err(refused) = caller(&req, Role::Operator) {
        return refused.into_response();
    }
    let form = match axum::extract::Form::<IdentityForm>::from_request(req, &()).await {
        Ok(axum::extract::Form(f)) => f,
        Err(_) => {
            return (
                StatusCode::BAD_REQUEST,
                "the form needs the field identity. Fix: paste the identity (AGE-SECRET-KEY-1...) into the form".to_owned(),
            )
                .into_response()
        }
    };
    let identity = match engine::crypt::Identity::parse(&form.identity) {
        Ok(i) => i,
        Err(e) => return failure(e.into()),
    };
    let stream = match engine.open_artifact_decrypted(id, &path, identity).await {
        Ok(s) => s,
        Err(e) => return failure(e),
    };
    let served = path.strip_suffix(".age").unwrap_or(&path);
    let file_name = format!("backup-{id}-{}", served.replace('/', "-"));
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_DISPOSITION, attachment(&file_name));
    resp
}

#[derive(Debug, Deserialize)]
struct PutBackQuery {
    table: String,
    #[serde(default)]
    deleted: bool,
    #[serde(default)]
    changed: bool,
    /// JSON list of keys (each a list of key column values as text).
    #[serde(default)]
    keys: Option<String>,
}

async fn put_back_script(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Query(q): Query<PutBackQuery>,
    req: Request,
) -> Response {
    if let Err(refused) = caller(&req, Role::Operator) {
        return refused.into_response();
    }
    let keys: Vec<Vec<String>> = match q.keys.as_deref().filter(|k| !k.is_empty()) {
        None => Vec::new(),
        Some(k) => match serde_json::from_str(k) {
            Ok(v) => v,
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    format!(
                        "keys: not a JSON list of keys ({e}). Fix: use the page's download link"
                    ),
                )
                    .into_response()
            }
        },
    };
    let put_back = model::compare::PutBack {
        deleted: q.deleted,
        changed: q.changed,
        keys,
    };
    if put_back.is_empty() {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            "nothing picked to put back. Fix: tick deleted rows, changed rows, or single rows on the compare page",
        )
            .into_response();
    }
    // The comparison first: a missing scratch database, a table without a
    // key or columns that differ fail here, as an HTTP error, before a byte
    // of script is sent; the script's header then reuses it.
    let seen = match engine.compare(&name, &q.table).await {
        Ok(c) => c,
        Err(e) => return failure(e),
    };
    let file_name = format!("put-back-{}-{}.sql", name, q.table);
    let (mut writer, reader) = tokio::io::duplex(64 * 1024);
    let table = q.table.clone();
    // Lives as long as the response body: a client that goes away closes
    // the pipe and the next write ends it.
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        if let Err(e) = engine
            .put_back_script(&name, &table, &put_back, Some(&seen), &mut writer)
            .await
        {
            tracing::warn!("put-back script for {name} {table} stopped: {e}");
            // Never a script that looks whole: the transaction is rolled back.
            let trailer = format!(
                "\n-- pgshelf could not finish this script: {}\nROLLBACK;\n",
                e.to_string().replace('\n', " ")
            );
            let _ = writer.write_all(trailer.as_bytes()).await;
        }
        let _ = writer.shutdown().await;
    });
    let stream = futures::stream::unfold(reader, |mut r| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 64 * 1024];
        match r.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), r))
            }
            Err(e) => Some((Err(e), r)),
        }
    });
    // Fused: the compression layer may poll once more after the end.
    let stream = futures::StreamExt::fuse(stream);
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/sql; charset=utf-8"),
    );
    h.insert(header::CONTENT_DISPOSITION, attachment(&file_name));
    resp
}
