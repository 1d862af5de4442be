//! Destinations against real storage servers on loopback (testkit::storage):
//! one conformance cycle per kind (add, test, back up to it and to `local`
//! at once, list copies, restore a table from it, download, delete), the
//! catalog rebuilt from a bucket by a fresh pgshelf, and the faults: a
//! server stopped in the middle of an upload, wrong credentials, a missing
//! bucket, a changed SFTP host key, a stored file that no longer matches
//! its manifest.

mod common;

use chrono::Utc;
use common::*;
use engine::catalog::BackupStatus;
use engine::policy::Policy;
use engine::Engine;
use model::destination::{CopyStatus, DestinationInput, DestinationSettings};
use model::restore::TableRestoreRequest;
use testkit::storage::{AzuriteServer, GcsServer, S3Server, SftpServer, WebDavServer};
use testkit::PgServer;

const ROWS: i64 = 500;

fn major() -> u32 {
    *testkit::majors_under_test()
        .last()
        .expect("a major under test")
}

fn fixture(pg: &PgServer, prefix: &str) -> String {
    let db = pg.fresh_database(prefix);
    pg.psql(
        &db,
        &format!(
            "CREATE TABLE orders (id int PRIMARY KEY, note text);
             INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, {ROWS}) g;
             CREATE TABLE audit (id bigserial PRIMARY KEY, at timestamptz DEFAULT now());
             INSERT INTO audit DEFAULT VALUES;"
        ),
    );
    db
}

fn s3_settings(s3: &S3Server, bucket: &str) -> DestinationSettings {
    DestinationSettings::S3 {
        endpoint: s3.endpoint.clone(),
        region: s3.region.clone(),
        bucket: bucket.into(),
        path_style: true,
        access_key_id: s3.access_key_id.clone(),
        storage_class: String::new(),
    }
}

fn dest(name: &str, settings: DestinationSettings, secret: &str, root: &str) -> DestinationInput {
    DestinationInput {
        name: name.into(),
        settings,
        root: root.into(),
        concurrency: 4,
        secret: Some(secret.into()),
    }
}

/// A test's PostgreSQL database (the fixture) and an engine with a server
/// `main` for it.
struct Bed {
    pg: &'static PgServer,
    db: String,
    env: Env,
    server: engine::servers::Server,
}

async fn bed(prefix: &str) -> Bed {
    let major = major();
    let pg = testkit::server(major);
    let db = fixture(pg, prefix);
    let env = engine_for(&[major]).await;
    let server = env.engine.add_server(input("main", pg)).await.unwrap();
    Bed {
        pg,
        db,
        env,
        server,
    }
}

/// A policy writing to `names`, every backup kept.
fn policy_to(names: &[&str]) -> Policy {
    Policy {
        destinations: names.iter().map(|n| (*n).to_owned()).collect(),
        ..Policy::default()
    }
}

async fn restore_orders(engine: &Engine, id: i64) -> i64 {
    restore_orders_with(engine, id, None).await
}

async fn restore_orders_with(
    engine: &Engine,
    id: i64,
    identity: Option<engine::crypt::Identity>,
) -> i64 {
    let r = engine
        .restore_tables_with(
            &TableRestoreRequest {
                backup_id: id,
                tables: vec!["public.orders".into()],
                server_id: None,
                into: None,
                with_referenced: false,
            },
            "tester",
            identity,
        )
        .await
        .expect("table restore");
    let t = r.tables.first().expect("one table restored");
    engine.drop_scratch(&r.scratch.name, None).await.ok();
    t.rows_restored
}

/// The whole cycle on one destination kind.
async fn conformance(name: &str, settings: DestinationSettings, secret: &str, root: &str) {
    let major = major();
    let pg = testkit::server(major);
    let db = fixture(pg, &format!("dest_{name}"));
    let env = engine_for(&[major]).await;
    let e = &env.engine;
    let server = e.add_server(input("main", pg)).await.unwrap();

    let added = e
        .add_destination(dest(name, settings.clone(), secret, root))
        .await
        .unwrap();
    assert!(added.has_secret || !settings.needs_secret());
    if let DestinationSettings::Sftp { host, port, .. } = &settings {
        // First use: the key is shown, then trusted.
        let unconfirmed = e.test_destination(name).await.unwrap();
        assert!(!unconfirmed.ok(), "{unconfirmed:?}");
        assert!(
            unconfirmed
                .summary()
                .contains("host key has not been confirmed"),
            "{}",
            unconfirmed.summary()
        );
        let key = e.scan_host_key(host, *port).await.unwrap();
        assert!(key.fingerprint.starts_with("SHA256:"), "{key:?}");
        e.trust_host_key(name, &key.key).await.unwrap();
    }
    let report = e.test_destination(name).await.unwrap();
    assert!(report.ok(), "{name}: {}", report.summary());
    assert_eq!(
        report
            .steps
            .iter()
            .map(|s| s.step.as_str())
            .collect::<Vec<_>>(),
        ["write", "read back", "list", "delete"]
    );

    // Two destinations at once.
    e.set_policy(server.id, Some(&db), &policy_to(&[name, "local"]))
        .await
        .unwrap();
    let row = e.backup_now(server.id, &db, "test").await.unwrap();
    assert_eq!(row.status, BackupStatus::Verified, "{row:?}");
    let copies = e.backup_copies(row.id).await.unwrap();
    assert_eq!(copies.len(), 2, "{copies:?}");
    assert!(copies
        .iter()
        .all(|c| c.status == CopyStatus::Complete && c.bytes > 0));
    assert_eq!(copies[0].destination, name);
    assert_eq!(copies[0].dir, copies[1].dir);
    let listed = e.destination_named(name).await.unwrap();
    assert_eq!(listed.copies, 1);
    assert_eq!(listed.stored_bytes, copies[0].bytes);

    // Read from the first complete copy: this destination.
    assert_eq!(restore_orders(e, row.id).await, ROWS);
    let (size, stream) = e.open_artifact(row.id, "manifest.json").await.unwrap();
    let body = collect(stream).await;
    assert_eq!(body.len() as u64, size);
    assert!(String::from_utf8_lossy(&body).contains("\"backup_id\""));
    e.check_artifact(row.id).await.unwrap();

    // Deleting removes every copy; nothing is left to import.
    e.delete_backup(row.id).await.unwrap();
    let left = e.import_catalog(name).await.unwrap();
    assert_eq!(left.manifests, 0, "{left:?}");
    assert!(
        env.backups
            .read_dir()
            .map(|mut d| d.next().is_none())
            .unwrap_or(true)
            || common::files_under(&env.backups)
                .iter()
                .all(|p| !p.ends_with("manifest.json"))
    );
    pg.drop_database(&db);
}

async fn collect(
    mut s: impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Unpin,
) -> Vec<u8> {
    use futures::StreamExt;
    let mut out = Vec::new();
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c.unwrap());
    }
    out
}

#[tokio::test]
async fn s3_cycle() {
    let s3 = S3Server::start();
    conformance(
        "s3",
        s3_settings(&s3, &s3.bucket),
        &s3.secret_access_key,
        "pgshelf/prod",
    )
    .await;
}

#[tokio::test]
async fn webdav_cycle() {
    let dav = WebDavServer::start();
    conformance(
        "dav",
        DestinationSettings::WebDav {
            url: format!("{}/", dav.url),
            username: dav.user.clone(),
        },
        &dav.password,
        "Backups/pg shelf",
    )
    .await;
}

#[tokio::test]
async fn sftp_cycle() {
    let sftp = SftpServer::start();
    conformance(
        "sftp",
        DestinationSettings::Sftp {
            host: sftp.host.clone(),
            port: sftp.port,
            username: sftp.user.clone(),
            host_key: String::new(),
        },
        &sftp.private_key,
        &sftp.root,
    )
    .await;
}

#[tokio::test]
async fn azure_cycle() {
    let az = AzuriteServer::start();
    conformance(
        "azure",
        DestinationSettings::Azblob {
            account: az.account.clone(),
            container: az.container.clone(),
            endpoint: az.endpoint.clone(),
            sas: false,
        },
        &az.account_key,
        "pgshelf",
    )
    .await;
}

#[tokio::test]
async fn gcs_cycle() {
    let gcs = GcsServer::start();
    conformance(
        "gcs",
        DestinationSettings::Gcs {
            bucket: gcs.bucket.clone(),
            endpoint: gcs.endpoint.clone(),
        },
        // The emulator checks no signature.
        "anonymous",
        "pgshelf",
    )
    .await;
}

/// A fresh pgshelf pointed at the bucket lists the old (encrypted) backups
/// and restores a table from them with the identity.
#[tokio::test]
async fn catalog_import_rebuilds_from_a_bucket() {
    let major = major();
    let pg = testkit::server(major);
    let db = fixture(pg, "dest_import");
    let s3 = S3Server::start();
    let settings = s3_settings(&s3, &s3.bucket);
    // Encrypted: the fresh pgshelf has only the bucket and the identity.
    let keys = tempfile::tempdir().unwrap();
    let (_, id) = keygen(keys.path());
    let mut encrypted = policy_to(&["offsite"]);
    encrypted.encryption.recipients = id.recipients();
    let old = engine_for(&[major]).await;
    let server = old.engine.add_server(input("main", pg)).await.unwrap();
    old.engine
        .add_destination(dest(
            "offsite",
            settings.clone(),
            &s3.secret_access_key,
            "shelf",
        ))
        .await
        .unwrap();
    old.engine
        .set_policy(server.id, Some(&db), &encrypted)
        .await
        .unwrap();
    let first = old.engine.backup_now(server.id, &db, "test").await.unwrap();
    assert!(first.status.is_good(), "{first:?}");
    pg.psql(&db, "INSERT INTO orders VALUES (100000, 'late');");
    let second = old.engine.backup_now(server.id, &db, "test").await.unwrap();
    assert!(second.status.is_good(), "{second:?}");
    let globals = old.engine.enqueue_globals(server.id, "test").await.unwrap();
    let globals = finished(&old.engine, globals.id).await;
    drop(old);

    // The old pgshelf's disk is gone: a new one knows only the bucket.
    let fresh = engine_for(&[major]).await;
    let e = &fresh.engine;
    let server2 = e.add_server(input("main", pg)).await.unwrap();
    e.add_destination(dest("offsite", settings, &s3.secret_access_key, "shelf"))
        .await
        .unwrap();
    let report = e.import_catalog("offsite").await.unwrap();
    // The globals backup went to local (the plan names no destination).
    assert_eq!(report.manifests, 2, "{report:?} (globals: {globals:?})");
    assert_eq!(report.imported, 2, "{report:?}");
    assert!(report.skipped.is_empty(), "{report:?}");
    let again = e.import_catalog("offsite").await.unwrap();
    assert_eq!((again.imported, again.known), (0, 2), "{again:?}");

    let rows = e
        .backups(&engine::catalog::BackupFilter {
            server_id: Some(server2.id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows
        .iter()
        .all(|b| b.status.is_good() && b.database() == Some(db.as_str())));
    let newest = rows.iter().max_by_key(|b| b.started_at).unwrap();
    let contents = e.archive_contents(newest.id).await.unwrap();
    assert_eq!(
        contents.recipients,
        id.recipients(),
        "known to be encrypted"
    );
    assert_eq!(restore_orders_with(e, newest.id, Some(id)).await, ROWS + 1);
    pg.drop_database(&db);
}

/// The S3 server goes away in the middle of an upload: that copy fails
/// and is cleaned, the local copy keeps the backup good, and the copier
/// completes the copy once the server is back; the next run writes both.
#[tokio::test]
async fn a_server_stopped_mid_upload_fails_only_its_copy() {
    let major = major();
    let pg = testkit::server(major);
    let db = pg.fresh_database("dest_stop");
    // ~60 MB of barely compressible rows: long enough to stop the server
    // while its copy is being written.
    pg.psql(
        &db,
        "CREATE TABLE blob (id int PRIMARY KEY, b text);
         INSERT INTO blob SELECT g, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) FROM generate_series(1, 600000) g;",
    );
    let mut s3 = S3Server::start();
    let env = engine_for(&[major]).await;
    let e = &env.engine;
    let server = e.add_server(input("main", pg)).await.unwrap();
    e.add_destination(dest(
        "s3",
        s3_settings(&s3, &s3.bucket),
        &s3.secret_access_key,
        "",
    ))
    .await
    .unwrap();
    e.set_policy(server.id, Some(&db), &policy_to(&["s3", "local"]))
        .await
        .unwrap();
    let queued = e.enqueue_backup(server.id, &db, "test").await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some((_, stored)) = e.progress(queued.id) {
            if stored > 4 << 20 {
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the upload never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    s3.stop();
    let row = finished(e, queued.id).await;
    assert!(
        row.status.is_good(),
        "the local copy keeps it good: {row:?}"
    );
    let copies = e.backup_copies(row.id).await.unwrap();
    let s3_copy = copies.iter().find(|c| c.destination == "s3").unwrap();
    assert_eq!(s3_copy.status, CopyStatus::Failed, "{copies:?}");
    assert!(s3_copy.error.as_deref().is_some_and(|e| !e.is_empty()));
    let local = copies.iter().find(|c| c.destination == "local").unwrap();
    assert_eq!(local.status, CopyStatus::Complete);

    s3.restart();
    // Nothing partial is visible on the bucket.
    let seen = e.import_catalog("s3").await.unwrap();
    assert_eq!(seen.manifests, 0, "{seen:?}");
    // Not due yet; due after the backoff.
    assert_eq!(e.retry_copies(Utc::now()).await.unwrap(), 0);
    let later = Utc::now() + chrono::Duration::minutes(3);
    assert_eq!(e.retry_copies(later).await.unwrap(), 1);
    let copies = e.backup_copies(row.id).await.unwrap();
    let s3_copy = copies.iter().find(|c| c.destination == "s3").unwrap();
    assert_eq!(s3_copy.status, CopyStatus::Complete, "{copies:?}");
    assert_eq!(s3_copy.attempts, 2);
    assert_eq!(s3_copy.bytes, local.bytes);
    // The copy is whole: importing sees it as the known backup.
    let seen = e.import_catalog("s3").await.unwrap();
    assert_eq!((seen.manifests, seen.known), (1, 1), "{seen:?}");

    let next = e.backup_now(server.id, &db, "test").await.unwrap();
    assert!(next.status.is_good());
    let copies = e.backup_copies(next.id).await.unwrap();
    assert!(
        copies.iter().all(|c| c.status == CopyStatus::Complete),
        "{copies:?}"
    );
    pg.drop_database(&db);
}

/// Wrong credentials and a missing bucket: the test names the step and
/// the server's words, and a backup to that destination alone fails with
/// them and lists nothing good.
#[tokio::test]
async fn wrong_credentials_and_a_missing_bucket() {
    let s3 = S3Server::start();
    let Bed {
        pg,
        db,
        env,
        server,
    } = bed("dest_wrong").await;
    let e = &env.engine;
    e.add_destination(dest(
        "badkey",
        s3_settings(&s3, &s3.bucket),
        &s3.wrong_secret(),
        "",
    ))
    .await
    .unwrap();
    e.add_destination(dest(
        "nobucket",
        s3_settings(&s3, S3Server::MISSING_BUCKET),
        &s3.secret_access_key,
        "",
    ))
    .await
    .unwrap();
    let bad = e.test_destination("badkey").await.unwrap();
    assert!(!bad.ok());
    assert_eq!(bad.steps.last().unwrap().step, "write", "{bad:?}");
    let words = bad.summary();
    assert!(
        words.contains("SignatureDoesNotMatch")
            || words.contains("403")
            || words.contains("denied"),
        "{words}"
    );
    assert!(words.contains("check its credentials"), "{words}");
    assert!(!words.contains(&s3.wrong_secret()), "no secret in messages");
    let missing = e.test_destination("nobucket").await.unwrap();
    assert!(!missing.ok());
    assert!(
        missing.summary().contains("NoSuchBucket"),
        "{}",
        missing.summary()
    );
    let kept = e.destination_named("badkey").await.unwrap();
    assert_eq!(kept.last_test.as_ref().map(|t| t.ok()), Some(false));

    e.set_policy(server.id, Some(&db), &policy_to(&["badkey"]))
        .await
        .unwrap();
    let r = e.backup_now(server.id, &db, "test").await;
    let row = assert_failed_clean(&env, r, "every destination failed").await;
    let copies = e.backup_copies(row.id).await.unwrap();
    assert!(
        copies.iter().all(|c| c.status != CopyStatus::Complete),
        "{copies:?}"
    );
    pg.drop_database(&db);
}

/// An SFTP server whose host key changed is refused, and the test says so
/// with both fingerprints.
#[tokio::test]
async fn a_changed_sftp_host_key_is_refused() {
    let mut sftp = SftpServer::start();
    let env = engine_for(&[major()]).await;
    let e = &env.engine;
    let settings = DestinationSettings::Sftp {
        host: sftp.host.clone(),
        port: sftp.port,
        username: sftp.user.clone(),
        host_key: String::new(),
    };
    e.add_destination(dest("box", settings, &sftp.private_key, &sftp.root))
        .await
        .unwrap();
    let key = e.scan_host_key(&sftp.host, sftp.port).await.unwrap();
    assert_eq!(key.fingerprint, sftp.host_fingerprint);
    e.trust_host_key("box", &key.key).await.unwrap();
    assert!(e.test_destination("box").await.unwrap().ok());

    sftp.rotate_host_key();
    let r = e.test_destination("box").await.unwrap();
    assert!(!r.ok());
    let words = r.summary();
    assert!(words.contains("host key of"), "{words}");
    assert!(words.contains(&key.fingerprint), "{words}");
    assert!(words.contains(&sftp.host_fingerprint), "{words}");
}

/// A stored file changed after the backup: the check names it.
#[tokio::test]
async fn a_stored_file_that_no_longer_matches_its_manifest() {
    let s3 = S3Server::start();
    let Bed {
        pg,
        db,
        env,
        server,
    } = bed("dest_tamper").await;
    let e = &env.engine;
    e.add_destination(dest(
        "s3",
        s3_settings(&s3, &s3.bucket),
        &s3.secret_access_key,
        "t",
    ))
    .await
    .unwrap();
    e.set_policy(server.id, Some(&db), &policy_to(&["s3"]))
        .await
        .unwrap();
    let row = e.backup_now(server.id, &db, "test").await.unwrap();
    assert_eq!(row.status, BackupStatus::Verified);
    // rclone serves the bucket from a directory: change one byte there.
    let dump = common::files_under(&s3.data_dir())
        .into_iter()
        .find(|p| p.file_name().is_some_and(|n| n == "dump.zst"))
        .expect("the stored dump");
    let mut bytes = std::fs::read(&dump).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&dump, bytes).unwrap();
    let err = e.check_artifact(row.id).await.unwrap_err().to_string();
    assert!(err.contains("does not match its manifest"), "{err}");
    pg.drop_database(&db);
}

/// Retention prunes a backup from every destination that holds a copy.
#[tokio::test]
async fn retention_prunes_every_copy() {
    use chrono::TimeZone;
    let major = major();
    let pg = testkit::server(major);
    let db = fixture(pg, "dest_prune");
    let s3 = S3Server::start();
    let env = engine_with(&[major], |c| c.min_backups_kept = 1).await;
    let e = &env.engine;
    let server = e.add_server(input("main", pg)).await.unwrap();
    e.add_destination(dest(
        "s3",
        s3_settings(&s3, &s3.bucket),
        &s3.secret_access_key,
        "r",
    ))
    .await
    .unwrap();
    let mut policy = policy_to(&["s3", "local"]);
    policy.retention = model::retention::Tiers {
        hourly: 0,
        daily: 1,
        weekly: 0,
        monthly: 0,
        yearly: 0,
    };
    e.set_policy(server.id, Some(&db), &policy).await.unwrap();
    let old = e.backup_now(server.id, &db, "test").await.unwrap();
    let pool = catalog_pool(&env).await;
    backdate(
        &pool,
        old.id,
        Utc.with_ymd_and_hms(2026, 1, 1, 3, 0, 0).unwrap(),
    )
    .await;
    pool.close().await;
    let new = e.backup_now(server.id, &db, "test").await.unwrap();
    assert!(new.status.is_good());
    let old = e.backup(old.id).await.unwrap();
    assert!(old.pruned_at.is_some(), "{old:?}");
    let copies = e.backup_copies(old.id).await.unwrap();
    assert_eq!(copies.len(), 2);
    assert!(
        copies.iter().all(|c| c.status == CopyStatus::Pruned),
        "{copies:?}"
    );
    // Only the new backup is left on the bucket and on disk.
    let seen = e.import_catalog("s3").await.unwrap();
    assert_eq!((seen.manifests, seen.known), (1, 1), "{seen:?}");
    let manifests = files_under(&env.backups)
        .into_iter()
        .filter(|p| p.ends_with("manifest.json"))
        .count();
    assert_eq!(manifests, 1);
    pg.drop_database(&db);
}

/// README's "Restoring without pgshelf", followed literally for an
/// encrypted backup whose only copy is on S3: its files fetched from the
/// bucket with stock curl (SigV4), decrypted with the age CLI, restored
/// with pg_restore.
#[tokio::test]
async fn the_manual_recipe_restores_an_encrypted_backup_fetched_from_s3() {
    let s3 = S3Server::start();
    let Bed {
        pg,
        db,
        env,
        server,
    } = bed("dest_recipe").await;
    let e = &env.engine;
    e.add_destination(dest(
        "s3",
        s3_settings(&s3, &s3.bucket),
        &s3.secret_access_key,
        "shelf",
    ))
    .await
    .unwrap();
    let keys = tempfile::tempdir().unwrap();
    let (key, id) = keygen(keys.path());
    let mut policy = policy_to(&["s3"]);
    policy.encryption.recipients = id.recipients();
    e.set_policy(server.id, Some(&db), &policy).await.unwrap();
    let row = e.backup_now(server.id, &db, "test").await.unwrap();
    assert!(row.status.is_good(), "{row:?}");
    let copies = e.backup_copies(row.id).await.unwrap();
    assert_eq!(copies.len(), 1);
    let dir = &copies[0].dir;

    // Download: manifest first, then every file it lists.
    let work = tempfile::tempdir().unwrap();
    let fetch = |name: &str| {
        let url = format!("{}/{}/shelf/{dir}{name}", s3.endpoint, s3.bucket);
        let to = work.path().join(name);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let out = std::process::Command::new("curl")
            .args([
                "-sSf",
                "--aws-sigv4",
                &format!("aws:amz:{}:s3", s3.region),
                "--user",
            ])
            .arg(format!("{}:{}", s3.access_key_id, s3.secret_access_key))
            .arg("-o")
            .arg(&to)
            .arg(&url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "curl {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    fetch("manifest.json");
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.path().join("manifest.json")).unwrap()).unwrap();
    for f in m["files"].as_array().unwrap() {
        let path = f["path"].as_str().unwrap();
        assert!(path.ends_with(".age"), "{path}");
        fetch(path);
    }
    std::fs::copy(&key, work.path().join("key.txt")).unwrap();

    let want = counts(pg, &db);
    let recipe = e.restore_recipe(row.id).await.unwrap();
    assert!(recipe.join("\n").contains("age -d -i key.txt"));
    pg.psql("postgres", &format!("DROP DATABASE \"{db}\""));
    follow_recipe(pg, work.path(), &recipe);
    assert_eq!(counts(pg, &db), want, "restored by the recipe from S3");
    pg.drop_database(&db);
}

/// A destination taken out of pgshelf.toml stays (backups may depend on
/// it) but becomes editable and removable; one still declared is not.
#[tokio::test]
async fn destinations_from_the_config_are_released_when_taken_out() {
    let env = engine_for(&[major()]).await;
    let e = &env.engine;
    let dir = tempfile::tempdir().unwrap();
    let declared = |name: &str| DestinationInput {
        name: name.into(),
        settings: DestinationSettings::Local {
            path: dir.path().display().to_string(),
        },
        root: name.into(),
        concurrency: 1,
        secret: None,
    };
    e.declare_destinations(vec![declared("a"), declared("b")])
        .await
        .unwrap();
    let err = e.remove_destination("a").await.unwrap_err().to_string();
    assert!(err.contains("declared in pgshelf.toml"), "{err}");
    e.declare_destinations(vec![declared("b")]).await.unwrap();
    assert!(!e.destination_named("a").await.unwrap().from_config);
    assert!(e.destination_named("b").await.unwrap().from_config);
    e.remove_destination("a").await.unwrap();
    assert!(e.remove_destination("b").await.is_err());
    assert!(e.test_destination("b").await.unwrap().ok());
}
