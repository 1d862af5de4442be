//! Test helper for engine/tests/crash.rs: opens an engine on a data
//! directory, runs one scheduler tick at a given time (which starts the
//! scheduled backups due then) and waits forever, so that the test can
//! `kill -9` it in the middle of a dump.
//!
//! Usage: crash_runner DATA_DIR PG_BIN_DIR LEASE_MS TICK_AT_RFC3339

use std::time::Duration;

use engine::{Engine, EngineConfig};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, data, bin, lease_ms, tick_at] = &args[..] else {
        eprintln!("usage: crash_runner DATA_DIR PG_BIN_DIR LEASE_MS TICK_AT_RFC3339");
        std::process::exit(2);
    };
    let mut cfg = EngineConfig::new(data);
    cfg.pg_bin_dirs = vec![bin.into()];
    cfg.search_system_tools = false;
    cfg.scheduler_interval = None;
    cfg.discovery_interval = None;
    cfg.lease = Duration::from_millis(lease_ms.parse().expect("LEASE_MS"));
    cfg.lease_renew = cfg.lease / 4;
    let engine = Engine::open(cfg).await.expect("engine opens");
    let at = chrono::DateTime::parse_from_rfc3339(tick_at)
        .expect("TICK_AT")
        .to_utc();
    let report = engine.tick_schedules(at).await.expect("tick");
    for (id, ..) in &report.started {
        println!("started {id}");
    }
    println!("pid {}", std::process::id());
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
