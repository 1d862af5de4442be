//! The web server on port 0: pages, sign-in and roles, cross-site refusal,
//! and a clean stop by its shutdown future.

use std::net::SocketAddr;
use std::time::Duration;

use engine::secrets::Secret;
use model::user::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP/1.1 exchange: (status, head, body).
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method != "GET" {
        let json = body.starts_with('{');
        req.push_str(if json {
            "Content-Type: application/json\r\n"
        } else {
            "Content-Type: application/x-www-form-urlencoded\r\n"
        });
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head[9..12].parse().unwrap();
    (status, head.to_owned(), body.to_owned())
}

struct Server {
    addr: SocketAddr,
    engine: engine::Engine,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = engine::EngineConfig::new(dir.path().join("data"));
    cfg.scheduler_interval = None;
    let engine = engine::Engine::open(cfg).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let site = dir.path().join("site");
    let served = engine.clone();
    let task = tokio::spawn(async move {
        pgshelf::web::serve(listener, served, &site, async {
            let _ = stopped.await;
        })
        .await
    });
    Server {
        addr,
        engine,
        stop,
        task,
        _dir: dir,
    }
}

/// `pgshelf_session=...` from a response head.
fn session_cookie(head: &str) -> String {
    head.lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .and_then(|c| c.split(';').next())
        .filter(|c| c.starts_with("pgshelf_session=") && c.len() > "pgshelf_session=".len())
        .unwrap_or_else(|| panic!("no session cookie in {head}"))
        .to_owned()
}

async fn signed_in(s: &Server, role: Role) -> String {
    let name = format!("{}-user", role.as_str());
    s.engine
        .create_user(&name, &Secret::new("a long password"), role)
        .await
        .unwrap();
    let origin = format!("http://{}", s.addr);
    let (status, head, body) = http(
        s.addr,
        "POST",
        "/api/auth/login",
        &[("Origin", &origin)],
        &format!("username={name}&password=a+long+password"),
    )
    .await;
    assert!(status < 400, "{status} {body}");
    session_cookie(&head)
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_pages_and_stops_on_shutdown() {
    let s = start().await;
    let addr = s.addr;

    let (status, _, body) = http(addr, "GET", "/healthz", &[], "").await;
    assert_eq!(status, 200, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "ok", "{body}");
    // No user yet: every page leads to the setup page.
    let (status, head, _) = http(addr, "GET", "/", &[], "").await;
    assert_eq!(status, 303, "{head}");
    assert!(head.to_lowercase().contains("location: /setup"), "{head}");
    let (status, _, body) = http(addr, "GET", "/setup", &[], "").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("setup link"),
        "the setup page says where the link is"
    );

    // The first admin, with the one-time token.
    let token = s.engine.setup_token().await.unwrap().unwrap();
    let origin = format!("http://{addr}");
    let (status, _, body) = http(
        addr,
        "POST",
        "/api/auth/setup",
        &[("Origin", &origin)],
        "token=wrong&username=root&password=a+long+password",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, head, body) = http(
        addr,
        "POST",
        "/api/auth/setup",
        &[("Origin", &origin)],
        &format!("token={token}&username=root&password=a+long+password"),
    )
    .await;
    assert!(status < 400, "{status} {body}");
    let cookie = session_cookie(&head);
    assert!(
        head.contains("HttpOnly") && head.contains("SameSite=Strict"),
        "{head}"
    );
    assert!(s.engine.setup_token().await.unwrap().is_none(), "used once");

    let (status, _, home) = http(addr, "GET", "/", &[("Cookie", &cookie)], "").await;
    assert_eq!(status, 200, "{}", &home[..200.min(home.len())]);
    assert!(home.contains("<title>Servers · pgshelf</title>"));
    assert!(
        home.contains("/pkg/pgshelf.js"),
        "hydration script points at the built site"
    );
    let (status, _, _) = http(addr, "GET", "/no/such/page", &[("Cookie", &cookie)], "").await;
    assert_eq!(status, 404);
    // Anonymous now goes to the sign-in page, keeping where it was going.
    let (status, head, _) = http(addr, "GET", "/servers/1", &[], "").await;
    assert_eq!(status, 303);
    assert!(head.contains("/login?next=%2Fservers%2F1"), "{head}");

    s.stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), s.task)
        .await
        .expect("stops after the shutdown future resolves")
        .unwrap()
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

/// A valid body for each server function that changes something, so that a
/// refusal can only come from the role check.
fn state_changing_calls() -> Vec<(&'static str, String)> {
    use model::backup::BackupKind;
    let qs = |v: &app::backups::api::StartBackup| serde_qs::to_string(v).unwrap();
    let json = |v: serde_json::Value| v.to_string();
    let server = "name=x&host=db.example&port=&user=u&password=secret-pw&sslmode=prefer&maintenance_db=postgres";
    let destination = serde_json::json!({
        "name": "offsite",
        "settings": {"kind": "webdav", "url": "https://cloud.example.com/remote.php/dav/files/alice/", "username": "alice"},
        "root": "pgshelf",
        "concurrency": 4,
        "secret": "dav-secret-pw",
    });
    vec![
        ("/api/servers/add", server.to_owned()),
        (
            "/api/destinations/add",
            json(serde_json::json!({ "input": destination })),
        ),
        (
            "/api/destinations/update",
            json(serde_json::json!({ "name": "offsite", "input": destination })),
        ),
        ("/api/destinations/remove", "name=offsite".into()),
        ("/api/destinations/test", "name=offsite".into()),
        ("/api/destinations/import", "name=offsite".into()),
        ("/api/destinations/host-key/scan", "name=offsite".into()),
        (
            "/api/destinations/host-key/trust",
            "name=offsite&key=ssh-ed25519+AAAA".into(),
        ),
        (
            "/api/identities/store",
            "identity=AGE-SECRET-KEY-1XXXX&risk_accepted=yes".into(),
        ),
        ("/api/identities/forget", "recipient=age1xxxx".into()),
        ("/api/servers/update", format!("id=1&{server}")),
        ("/api/servers/delete", "id=1".into()),
        (
            "/api/backups/start",
            qs(&app::backups::api::StartBackup {
                server_id: 1,
                kind: BackupKind::Database,
                database: Some("app".into()),
            }),
        ),
        ("/api/backups/delete", "id=1".into()),
        ("/api/backups/cancel", "id=1".into()),
        (
            "/api/schedules/plan/save",
            json(serde_json::json!({
                "server_id": 1,
                "plan": model::policy::ServerPlan::default(),
            })),
        ),
        (
            "/api/policies/save",
            json(serde_json::json!({
                "server_id": 1,
                "database": null,
                "policy": model::policy::Policy::default(),
            })),
        ),
        ("/api/policies/clear", "server_id=1&database=app".into()),
        ("/api/proof/test-restore", "server_id=1&database=app".into()),
        (
            "/api/users/add",
            "username=eve&password=a+long+password&role=admin".into(),
        ),
        ("/api/users/role", "id=1&role=viewer".into()),
        ("/api/users/delete", "id=1".into()),
        ("/api/users/token", "name=ci&role=admin".into()),
        (
            "/api/restores/tables",
            json(serde_json::json!({
                "request": model::restore::TableRestoreRequest {
                    backup_id: 1,
                    tables: vec!["public.t".into()],
                    server_id: None,
                    into: None,
                    with_referenced: false,
                },
            })),
        ),
        ("/api/restores/job", "id=1".into()),
        (
            "/api/restores/full",
            json(serde_json::json!({
                "request": model::restore::RestoreRequest {
                    backup_id: 1,
                    server_id: None,
                    into: "app".into(),
                    clean: true,
                    confirm: Some("app".into()),
                    jobs: 1,
                },
            })),
        ),
        ("/api/scratch/drop", "name=scratch_app_20260101_0000".into()),
        (
            "/api/alerts/add",
            json(serde_json::json!({"input": model::alert::NewChannel {
                name: "hook".into(),
                settings: model::alert::ChannelSettings::Webhook { url: "http://127.0.0.1:1/hook".into() },
                secret: "0123456789abcdef0123".into(),
                events: vec![],
                servers: vec![],
            }})),
        ),
        ("/api/alerts/test", "name=hook".into()),
        ("/api/alerts/remove", "name=hook".into()),
        (
            "/api/restores/rebuild-plan",
            json(
                serde_json::json!({"source_server_id": 1, "target_server_id": 1, "databases": []}),
            ),
        ),
        (
            "/api/restores/rebuild",
            json(serde_json::json!({
                "plan": model::restore::RebuildPlan {
                    source_server_id: 1,
                    source_server: "a".into(),
                    target_server_id: 1,
                    target_server: "a".into(),
                    steps: vec![],
                    missing: vec![],
                },
                "confirm": "a",
            })),
        ),
        (
            "/api/compare/table",
            "scratch=scratch_app_20260101_0000&table=public.t".into(),
        ),
        (
            "/api/compare/apply",
            json(serde_json::json!({
                "scratch": "scratch_app_20260101_0000",
                "table": "public.t",
                "put_back": model::compare::PutBack { deleted: true, changed: true, keys: vec![] },
                "confirm": "public.t",
            })),
        ),
    ]
}

/// State-changing calls an operator may make (everything else on the list
/// above needs an admin).
const OPERATOR_CALLS: &[&str] = &[
    "/api/backups/start",
    "/api/backups/cancel",
    "/api/restores/tables",
    "/api/restores/job",
    "/api/proof/test-restore",
    "/api/scratch/drop",
    "/api/restores/rebuild-plan",
    "/api/compare/table",
];

#[tokio::test(flavor = "multi_thread")]
async fn nothing_is_reachable_without_a_session_or_the_right_role() {
    let s = start().await;
    let addr = s.addr;
    let origin = format!("http://{addr}");
    let admin = signed_in(&s, Role::Admin).await;
    let viewer = signed_in(&s, Role::Viewer).await;
    let operator = signed_in(&s, Role::Operator).await;

    // Anonymous: every server function but sign-in and setup is refused, and
    // every page redirects to the sign-in page.
    let paths: Vec<&str> = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p)
        .collect();
    assert!(paths.len() >= 25, "{paths:?}");
    for path in &paths {
        let (status, _, body) = http(addr, "POST", path, &[("Origin", &origin)], "").await;
        if *path == "/api/auth/login" || *path == "/api/auth/setup" {
            assert_ne!(status, 401, "{path} is how one signs in");
        } else {
            assert_eq!(status, 401, "{path} anonymously: {body}");
            assert!(body.contains("Fix:"), "{body}");
        }
    }
    // The live event stream is an `/api/` path: refused, not redirected.
    let (status, _, body) = http(addr, "GET", "/api/events", &[], "").await;
    assert_eq!(status, 401, "/api/events anonymously: {body}");
    assert!(body.contains("Fix:"), "{body}");
    for page in [
        "/",
        "/servers",
        "/servers/1",
        "/servers/1/policy",
        "/servers/1/databases/app",
        "/users",
        "/backups/1",
        "/destinations",
        "/scratch",
        "/alerts",
        "/scratch/x/compare?table=public.t",
        "/backups/1/files/dump.zst",
        "/scratch/x/put-back.sql?table=public.t",
    ] {
        let (status, head, _) = http(addr, "GET", page, &[], "").await;
        assert_eq!(status, 303, "{page}: {head}");
        assert!(
            head.contains("location: /login") || head.contains("Location: /login"),
            "{head}"
        );
    }

    // A viewer reads but changes nothing; an operator runs backups but
    // changes no settings.
    let calls = state_changing_calls();
    assert_eq!(
        paths
            .iter()
            .filter(|p| calls.iter().any(|(c, _)| c == *p))
            .count(),
        calls.len(),
        "every listed call exists"
    );
    for (path, body) in &calls {
        let (status, _, text) = http(
            addr,
            "POST",
            path,
            &[("Origin", &origin), ("Cookie", &viewer)],
            body,
        )
        .await;
        assert_eq!(status, 403, "{path} as a viewer: {text}");
        assert!(text.contains("needs the"), "{text}");
        if !OPERATOR_CALLS.contains(path) {
            let (status, _, text) = http(
                addr,
                "POST",
                path,
                &[("Origin", &origin), ("Cookie", &operator)],
                body,
            )
            .await;
            assert_eq!(status, 403, "{path} as an operator: {text}");
        }
    }
    let (status, _, text) = http(
        addr,
        "POST",
        "/api/servers/list",
        &[("Origin", &origin), ("Cookie", &viewer)],
        "",
    )
    .await;
    assert_eq!(status, 200, "a viewer lists servers: {text}");
    let (status, _, text) = http(
        addr,
        "POST",
        "/api/overview",
        &[("Origin", &origin), ("Cookie", &viewer)],
        "",
    )
    .await;
    assert_eq!(status, 200, "a viewer reads the overview: {text}");

    // Cross-site: a form another site posts with the admin's cookie is refused
    // before it reaches anything.
    let evil = [("Origin", "http://127.0.0.1:1"), ("Cookie", admin.as_str())];
    for (path, body) in &calls {
        let (status, _, text) = http(addr, "POST", path, &evil, body).await;
        assert_eq!(status, 403, "{path} cross-site: {text}");
        assert!(text.contains("cross-site"), "{text}");
    }
    let fetch_site = [("Sec-Fetch-Site", "cross-site"), ("Cookie", admin.as_str())];
    let (status, _, _) = http(addr, "POST", "/api/servers/add", &fetch_site, &calls[0].1).await;
    assert_eq!(status, 403);
    // Neither header nor the CSRF token: refused too.
    let (status, _, _) = http(
        addr,
        "POST",
        "/api/servers/delete",
        &[("Cookie", &admin)],
        "id=1",
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        s.engine.servers().await.unwrap().is_empty(),
        "nothing was added"
    );

    // The admin can; the stored password never comes back.
    let (status, _, text) = http(
        addr,
        "POST",
        "/api/servers/add",
        &[("Origin", &origin), ("Cookie", &admin)],
        &calls[0].1,
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(!text.contains("secret-pw"), "{text}");
    for path in ["/api/servers/list", "/api/servers/get"] {
        let (_, _, text) = http(
            addr,
            "POST",
            path,
            &[("Origin", &origin), ("Cookie", &viewer)],
            "id=1",
        )
        .await;
        assert!(!text.contains("secret-pw"), "{path}: {text}");
    }
    for page in ["/", "/servers/1"] {
        let (status, _, text) = http(addr, "GET", page, &[("Cookie", &viewer)], "").await;
        assert_eq!(status, 200, "{page}");
        assert!(!text.contains("secret-pw"), "{page}");
    }
    // A dump is the database's data: viewers read tables of contents, but
    // downloading an artifact or a put-back script takes an operator.
    for download in [
        "/backups/1/files/dump.zst",
        "/scratch/x/put-back.sql?table=public.t",
    ] {
        let (status, _, text) = http(addr, "GET", download, &[("Cookie", &viewer)], "").await;
        assert_eq!(status, 403, "{download} as a viewer: {text}");
    }

    // An API token acts with its role and needs no CSRF headers.
    let (_, token) = s
        .engine
        .create_api_token("ci", Role::Viewer, None)
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token.expose());
    let (status, _, _) = http(
        addr,
        "POST",
        "/api/servers/list",
        &[("Authorization", &bearer)],
        "",
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = http(
        addr,
        "POST",
        "/api/servers/delete",
        &[("Authorization", &bearer)],
        "id=1",
    )
    .await;
    assert_eq!(status, 403);
    let (status, _, _) = http(
        addr,
        "POST",
        "/api/servers/list",
        &[("Authorization", "Bearer nope")],
        "",
    )
    .await;
    assert_eq!(status, 401);

    // Signing out ends the session.
    let (status, _, _) = http(
        addr,
        "POST",
        "/api/auth/logout",
        &[("Origin", &origin), ("Cookie", &viewer)],
        "",
    )
    .await;
    assert!(status < 400);
    let (status, _, _) = http(
        addr,
        "POST",
        "/api/servers/list",
        &[("Origin", &origin), ("Cookie", &viewer)],
        "",
    )
    .await;
    assert_eq!(status, 401);
}

/// A destination's secret goes in once and never comes back: not in the
/// add or edit answer, not in the list (as JSON or on the page), not on the
/// policy page that lists destinations; viewers see the table, not the
/// buttons.
#[tokio::test(flavor = "multi_thread")]
async fn destination_secrets_never_come_back() {
    let s = start().await;
    let addr = s.addr;
    let admin = signed_in(&s, Role::Admin).await;
    let viewer = signed_in(&s, Role::Viewer).await;
    const SECRET: &str = "s3-secret-never-shown-42";
    let input = |secret: Option<&str>| {
        serde_json::json!({
            "name": "offsite-s3",
            "settings": {
                "kind": "s3", "endpoint": "http://127.0.0.1:9", "region": "us-east-1",
                "bucket": "b", "path_style": true, "access_key_id": "AKID", "storage_class": ""
            },
            "root": "prod",
            "concurrency": 4,
            "secret": secret,
        })
    };
    let post = |path: &'static str, cookie: String, body: String| async move {
        http(
            addr,
            "POST",
            path,
            &[("Origin", &format!("http://{addr}")), ("Cookie", &cookie)],
            &body,
        )
        .await
    };
    let (status, _, text) = post(
        "/api/destinations/add",
        admin.clone(),
        serde_json::json!({ "input": input(Some(SECRET)) }).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(!text.contains(SECRET), "add: {text}");
    assert!(text.contains("\"has_secret\":true"), "{text}");

    // Editing without the secret keeps it (same endpoint).
    let (status, _, text) = post(
        "/api/destinations/update",
        admin.clone(),
        serde_json::json!({ "name": "offsite-s3", "input": input(None) }).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(!text.contains(SECRET), "update: {text}");
    // A field error names its field.
    let mut bad = input(None);
    bad["settings"]["endpoint"] = "127.0.0.1:9".into();
    let (status, _, text) = post(
        "/api/destinations/update",
        admin.clone(),
        serde_json::json!({ "name": "offsite-s3", "input": bad }).to_string(),
    )
    .await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("endpoint: "), "{text}");

    for cookie in [&admin, &viewer] {
        let (status, _, text) = post("/api/destinations/list", cookie.clone(), String::new()).await;
        assert_eq!(status, 200, "{text}");
        assert!(text.contains("offsite-s3"), "{text}");
        assert!(!text.contains(SECRET), "list: {text}");
        for page in ["/destinations", "/servers/1/policy"] {
            let (_, _, text) = http(addr, "GET", page, &[("Cookie", cookie)], "").await;
            assert!(!text.contains(SECRET), "{page}: {text}");
        }
        let (status, _, text) = http(addr, "GET", "/destinations", &[("Cookie", cookie)], "").await;
        assert_eq!(status, 200);
        assert!(text.contains("s3://b/prod (http://127.0.0.1:9)"), "{text}");
        assert_eq!(
            text.contains("data-testid=\"dest-edit\""),
            cookie == &admin,
            "only admins get the buttons"
        );
    }
    // The policy page lists destinations to tick, by name, without secrets.
    let server = s
        .engine
        .add_server(engine::servers::ServerInput {
            name: "db".into(),
            host: "127.0.0.1".into(),
            port: 9,
            user: "u".into(),
            password: None,
            sslmode: "disable".into(),
            maintenance_db: "postgres".into(),
            ssl_root_cert: None,
            ssl_client_cert: None,
            ssl_client_key: None,
        })
        .await
        .unwrap();
    let (status, _, text) = http(
        addr,
        "GET",
        &format!("/servers/{}/policy", server.id),
        &[("Cookie", &admin)],
        "",
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("data-name=\"offsite-s3\""), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    // An SFTP destination without a trusted host key says so.
    let sftp = serde_json::json!({
        "name": "box",
        "settings": {"kind": "sftp", "host": "127.0.0.1", "port": 9, "username": "u", "host_key": ""},
        "root": "",
        "concurrency": 2,
        "secret": "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----",
    });
    let (status, _, text) = post(
        "/api/destinations/add",
        admin.clone(),
        serde_json::json!({ "input": sftp }).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(!text.contains("not-a-real-key"), "{text}");
    let (_, _, text) = http(addr, "GET", "/destinations", &[("Cookie", &admin)], "").await;
    assert!(text.contains("dest-host-key-unconfirmed"), "{text}");
    assert!(text.contains("host-key-scan"), "{text}");
    assert!(!text.contains("not-a-real-key"), "{text}");
    let stored = s.engine.destinations().await.unwrap();
    assert!(stored
        .iter()
        .any(|d| d.name == "offsite-s3" && d.has_secret));

    // An age identity for scheduled test-restores: refused until the risk
    // is confirmed; then only its public key ever comes back.
    let id = engine::crypt::Identity::generate();
    let key_text = id.to_file_text();
    let secret_line = key_text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap()
        .to_owned();
    let form = |risk: bool| {
        let mut f = format!(
            "identity={}",
            key_text
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        );
        if risk {
            f.push_str("&risk_accepted=yes");
        }
        f
    };
    let (status, _, text) = post("/api/identities/store", admin.clone(), form(false)).await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("risk_accepted"), "{text}");
    let (status, _, text) = post("/api/identities/store", admin.clone(), form(true)).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(&id.recipients()[0]), "{text}");
    assert!(!text.contains(&secret_line), "{text}");
    for cookie in [&admin, &viewer] {
        let (status, _, text) = post("/api/identities/list", cookie.clone(), String::new()).await;
        assert_eq!(status, 200, "{text}");
        assert!(text.contains(&id.recipients()[0]), "{text}");
        assert!(!text.contains(&secret_line), "{text}");
        let (_, _, page) = http(addr, "GET", "/destinations", &[("Cookie", cookie)], "").await;
        assert!(!page.contains(&secret_line));
        assert_eq!(
            page.contains("identity-form"),
            cookie == &admin,
            "only admins store"
        );
    }
    let _ = s.stop.send(());
    let _ = s.task.await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_is_throttled() {
    let s = start().await;
    let origin = format!("http://{}", s.addr);
    s.engine
        .create_user("alice", &Secret::new("a long password"), Role::Viewer)
        .await
        .unwrap();
    for _ in 0..engine::auth::MAX_FAILURES {
        let (status, _, _) = http(
            s.addr,
            "POST",
            "/api/auth/login",
            &[("Origin", &origin)],
            "username=alice&password=wrong",
        )
        .await;
        assert_eq!(status, 401);
    }
    let (status, _, text) = http(
        s.addr,
        "POST",
        "/api/auth/login",
        &[("Origin", &origin)],
        "username=alice&password=a+long+password",
    )
    .await;
    assert_eq!(status, 429, "even the right password waits: {text}");
    assert!(text.contains("Fix: wait"), "{text}");
}

/// The CLI drives this pgshelf from elsewhere with an API token: servers,
/// a backup run to its end, the list; a viewer's token cannot run one.
#[tokio::test(flavor = "multi_thread")]
async fn the_cli_drives_a_remote_pgshelf_with_a_token() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let db = pg.fresh_database("remote");
    pg.psql(&db, "CREATE TABLE t AS SELECT generate_series(1, 50) AS id");

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = engine::EngineConfig::new(dir.path().join("data"));
    cfg.scheduler_interval = None;
    cfg.pg_bin_dirs = testkit::bin_dir(major).into_iter().collect();
    let engine = engine::Engine::open(cfg).await.unwrap();
    engine
        .add_server(engine::servers::ServerInput {
            name: "main".into(),
            host: pg.host().into(),
            port: pg.port,
            user: testkit::SUPERUSER.into(),
            password: Some(Secret::new(testkit::PASSWORD)),
            sslmode: "disable".into(),
            maintenance_db: "postgres".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let site = dir.path().join("site");
    let served = engine.clone();
    tokio::spawn(async move {
        pgshelf::web::serve(listener, served, &site, std::future::pending()).await
    });

    let token_file = |role: Role| {
        let e = engine.clone();
        let path = dir.path().join(role.as_str());
        async move {
            let (_, t) = e.create_api_token("cli", role, None).await.unwrap();
            std::fs::write(&path, format!("{}\n", t.expose())).unwrap();
            path
        }
    };
    let operator = token_file(Role::Operator).await;
    let viewer = token_file(Role::Viewer).await;
    let url = format!("http://{addr}");
    let cli = |token: std::path::PathBuf, args: Vec<String>| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_pgshelf"))
                .arg("--remote")
                .arg(&url)
                .arg("--token-file")
                .arg(&token)
                .args(&args)
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .output()
                .unwrap()
        })
    };
    let words = |s: &[&str]| s.iter().map(|w| w.to_string()).collect::<Vec<_>>();

    let o = cli(viewer.clone(), words(&["server", "list"]))
        .await
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("main"));

    let o = cli(
        viewer.clone(),
        words(&["backup", "--server", "main", "--database", &db]),
    )
    .await
    .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("needs the operator role"), "{err}");

    let o = cli(
        operator.clone(),
        words(&["backup", "--server", "main", "--database", &db]),
    )
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let id: i64 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
    assert!(err.contains("verified"), "{err}");

    let o = cli(viewer, words(&["list", "--server", "main", "--json"]))
        .await
        .unwrap();
    assert!(o.status.success());
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap();
    assert_eq!(row["status"], "verified");
    assert_eq!(row["database"], db.as_str());

    // A wrong token: refused, saying so.
    let bad = dir.path().join("bad");
    std::fs::write(&bad, "pgs_nope\n").unwrap();
    let o = cli(bad, words(&["server", "list"])).await.unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not valid"));
}

/// A GET whose response stays open: returns the stream after the head,
/// with the head.
async fn open_stream(
    addr: SocketAddr,
    path: &str,
    cookie: &str,
) -> (tokio::net::TcpStream, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nAccept: text/event-stream\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut byte))
            .await
            .expect("a response head")
            .unwrap();
        assert_eq!(n, 1, "the connection closed before the head ended");
        head.push(byte[0]);
    }
    (s, String::from_utf8_lossy(&head).into_owned())
}

/// Reads from `s` until `want` has arrived (or 10 s pass).
async fn read_until(s: &mut tokio::net::TcpStream, seen: &mut String, want: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    while !seen.contains(want) {
        let n = tokio::time::timeout_at(deadline, s.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("no {want:?} in {seen:?}"))
            .unwrap();
        assert!(n > 0, "the stream ended before {want:?}: {seen:?}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

/// A signed-in viewer gets `text/event-stream` with the live snapshot at
/// once, and a notice when a run is queued; a graceful stop ends the
/// stream, so the server stops with a tab still open.
#[tokio::test(flavor = "multi_thread")]
async fn the_event_stream_is_live_and_ends_on_shutdown() {
    let s = start().await;
    let viewer = signed_in(&s, Role::Viewer).await;
    let (mut stream, head) = open_stream(s.addr, "/api/events", &viewer).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_lowercase()
            .contains("content-type: text/event-stream"),
        "{head}"
    );
    assert!(
        !head.to_lowercase().contains("content-encoding"),
        "not compressed: {head}"
    );
    let mut seen = String::new();
    read_until(&mut stream, &mut seen, "event: progress").await;
    read_until(&mut stream, &mut seen, "\"runs\":[]").await;

    // A queued run (its server does not exist, so it fails at once): the
    // stream says it was queued and that it ended.
    let server = s
        .engine
        .add_server(engine::servers::ServerInput {
            name: "closed".into(),
            host: "127.0.0.1".into(),
            port: 9,
            user: "u".into(),
            password: None,
            sslmode: "disable".into(),
            maintenance_db: "postgres".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let run = s
        .engine
        .enqueue(
            server.id,
            &model::backup::Target::Database("app".into()),
            "test",
        )
        .await
        .unwrap();
    read_until(&mut stream, &mut seen, "event: changed").await;
    read_until(
        &mut stream,
        &mut seen,
        &format!("{{\"kind\":\"queued\",\"backup_id\":{}}}", run.id),
    )
    .await;
    read_until(
        &mut stream,
        &mut seen,
        &format!("{{\"kind\":\"finished\",\"backup_id\":{}}}", run.id),
    )
    .await;

    s.stop.send(()).unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest))
        .await
        .expect("the event stream ends when the server stops")
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), s.task)
        .await
        .expect("a graceful stop completes with an event stream open")
        .unwrap()
        .unwrap();
}
