//! Users, sessions and stored credentials through the engine's facade (no
//! PostgreSQL needed): the first admin, sign-in, roles, the last admin, and
//! a stored password that cannot be sent to another host.

use engine::auth::Role;
use engine::secrets::Secret;
use engine::servers::ServerInput;
use engine::{Engine, EngineConfig};

async fn open() -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = EngineConfig::new(dir.path().join("data"));
    cfg.scheduler_interval = None;
    let engine = Engine::open(cfg).await.unwrap();
    (dir, engine)
}

fn pw(s: &str) -> Secret {
    Secret::new(s)
}

#[tokio::test]
async fn first_admin_sign_in_and_sessions() {
    let (_dir, e) = open().await;
    let token = e.setup_token().await.unwrap().expect("no user yet");
    let err = e
        .create_first_admin("nope", "root", &pw("a long password"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), 403);
    let first = e
        .create_first_admin(&token, "root", &pw("a long password"))
        .await
        .unwrap();
    assert_eq!(first.user.role, Role::Admin);
    assert!(e.setup_token().await.unwrap().is_none());
    let again = e
        .create_first_admin(&token, "root2", &pw("a long password"))
        .await
        .unwrap_err();
    assert_eq!(again.status(), 409, "the link works once");

    let caller = e.session(first.token.expose()).await.unwrap().unwrap();
    assert_eq!(caller.role, Role::Admin);
    assert_eq!(caller.csrf.as_deref(), Some(first.csrf.as_str()));
    assert!(e.session("forged").await.unwrap().is_none());

    let bad = e
        .sign_in("root", &pw("wrong password"), "10.0.0.1")
        .await
        .unwrap_err();
    assert_eq!(bad.status(), 401);
    let unknown = e
        .sign_in("nobody", &pw("a long password"), "10.0.0.1")
        .await
        .unwrap_err();
    assert_eq!(
        unknown.to_string(),
        bad.to_string(),
        "no hint which was wrong"
    );
    let s = e
        .sign_in("root", &pw("a long password"), "10.0.0.1")
        .await
        .unwrap();
    e.sign_out(s.token.expose()).await.unwrap();
    assert!(e.session(s.token.expose()).await.unwrap().is_none());

    // A new password ends the user's sessions.
    let s = e
        .sign_in("root", &pw("a long password"), "10.0.0.1")
        .await
        .unwrap();
    e.set_password(s.user.id, &pw("another long password"))
        .await
        .unwrap();
    assert!(e.session(s.token.expose()).await.unwrap().is_none());
}

#[tokio::test]
async fn roles_and_the_last_admin() {
    let (_dir, e) = open().await;
    let admin = e
        .create_user("root", &pw("a long password"), Role::Admin)
        .await
        .unwrap();
    let viewer = e
        .create_user("vera", &pw("a long password"), Role::Viewer)
        .await
        .unwrap();
    let dup = e
        .create_user("vera", &pw("a long password"), Role::Viewer)
        .await
        .unwrap_err();
    assert_eq!(dup.status(), 409);
    let short = e
        .create_user("sam", &pw("short"), Role::Viewer)
        .await
        .unwrap_err();
    assert!(short.to_string().starts_with("password: "), "{short}");
    assert_eq!(
        e.set_role(admin.id, Role::Viewer)
            .await
            .unwrap_err()
            .status(),
        409
    );
    assert_eq!(e.delete_user(admin.id).await.unwrap_err().status(), 409);
    e.set_role(viewer.id, Role::Admin).await.unwrap();
    e.set_role(admin.id, Role::Operator).await.unwrap();
    e.delete_user(admin.id).await.unwrap();
    let names: Vec<String> = e
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["vera"]);

    let (_, token) = e
        .create_api_token("ci", Role::Operator, None)
        .await
        .unwrap();
    assert!(token.expose().starts_with("pgs_"));
    let caller = e.api_token(token.expose()).await.unwrap().unwrap();
    assert_eq!(
        (caller.role, caller.name.as_str()),
        (Role::Operator, "token:ci")
    );
    assert!(caller.require(Role::Admin).is_err());
    assert!(e.api_token("pgs_forged").await.unwrap().is_none());
}

#[tokio::test]
async fn a_stored_password_is_not_sent_to_another_host() {
    let (_dir, e) = open().await;
    let input = ServerInput {
        name: "main".into(),
        host: "db.internal".into(),
        port: 5432,
        user: "backup".into(),
        password: Some(pw("s3cret")),
        sslmode: "prefer".into(),
        maintenance_db: "postgres".into(),
        ..Default::default()
    };
    let s = e.add_server(input.clone()).await.unwrap();
    // Same target, password left blank: kept.
    let kept = e
        .update_server(
            s.id,
            ServerInput {
                name: "main-renamed".into(),
                password: None,
                ..input.clone()
            },
        )
        .await
        .unwrap();
    assert!(kept.has_password);
    // Another host, port or user with the password left blank: refused.
    for moved in [
        ServerInput {
            host: "attacker.example".into(),
            password: None,
            ..input.clone()
        },
        ServerInput {
            port: 6543,
            password: None,
            ..input.clone()
        },
        ServerInput {
            user: "postgres".into(),
            password: None,
            ..input.clone()
        },
    ] {
        let err = e.update_server(s.id, moved).await.unwrap_err();
        assert_eq!(err.status(), 422);
        assert!(err.to_string().starts_with("password: "), "{err}");
        assert!(!err.to_string().contains("s3cret"));
    }
    assert_eq!(e.server(s.id).await.unwrap().host, "db.internal");
    // With the password entered again, it moves.
    let moved = e
        .update_server(
            s.id,
            ServerInput {
                host: "db2.internal".into(),
                password: Some(pw("s3cret")),
                ..input
            },
        )
        .await
        .unwrap();
    assert_eq!(moved.host, "db2.internal");
}

#[tokio::test]
async fn a_new_standby_needs_the_servers_password() {
    use engine::policy::{ServerPlan, Standby};
    let (_dir, e) = open().await;
    let s = e
        .add_server(ServerInput {
            name: "main".into(),
            host: "db.internal".into(),
            port: 5432,
            user: "backup".into(),
            password: Some(pw("s3cret")),
            sslmode: "prefer".into(),
            maintenance_db: "postgres".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let plan = ServerPlan {
        standby: Some(Standby {
            host: "replica.internal".into(),
            port: 5432,
        }),
        ..Default::default()
    };
    for wrong in [None, Some(pw("guess"))] {
        let err = e
            .set_server_plan(s.id, &plan, wrong.as_ref())
            .await
            .unwrap_err();
        assert_eq!(err.status(), 422);
        assert!(err.to_string().starts_with("standby_password: "), "{err}");
    }
    e.set_server_plan(s.id, &plan, Some(&pw("s3cret")))
        .await
        .unwrap();
    // The same standby again, or none, needs nothing.
    e.set_server_plan(s.id, &plan, None).await.unwrap();
    e.set_server_plan(s.id, &ServerPlan::default(), None)
        .await
        .unwrap();
}
