//! The web server on port 0, stopped cleanly by its shutdown future.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_pages_and_stops_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = engine::EngineConfig::new(dir.path().join("data"));
    cfg.scheduler_interval = None;
    let engine = engine::Engine::open(cfg).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let site = dir.path().join("site");
    let server = tokio::spawn(async move {
        pgshelf::web::serve(listener, engine, &site, async {
            let _ = stopped.await;
        })
        .await
    });

    let health = get(addr, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with("ok"));
    let home = get(addr, "/").await;
    assert!(
        home.starts_with("HTTP/1.1 200"),
        "{}",
        &home[..200.min(home.len())]
    );
    assert!(home.contains("<title>Servers · pgshelf</title>"));
    assert!(
        home.contains("/pkg/pgshelf.js"),
        "hydration script points at the built site"
    );
    let missing = get(addr, "/no/such/page").await;
    assert!(
        missing.starts_with("HTTP/1.1 404"),
        "{}",
        &missing[..100.min(missing.len())]
    );

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("stops after the shutdown future resolves")
        .unwrap()
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}
