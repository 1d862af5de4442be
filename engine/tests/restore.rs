//! Restores through the engine against real PostgreSQL servers: tables into
//! scratch databases, whole backups into scratch, full restores with and
//! without confirmation, a server rebuild, and refusals.
//!
//! Runs once per major in `PGSHELF_TEST_PG` (default 15,18).

use engine::catalog::BackupStatus;
use engine::restore::{RestoreJobState, RestoreRequest, TableRestoreRequest};
use engine::Engine;
use testkit::PgServer;

mod common;
use common::*;

use testkit::AWKWARD_FIXTURE as FIXTURE;

/// An engine with a server `main` for `pg`, and a database holding
/// [`FIXTURE`] (plus `extra` SQL).
async fn setup(major: u32, pg: &PgServer, prefix: &str, extra: &str) -> (Env, i64, String) {
    let db = pg.fresh_database(prefix);
    pg.psql(&db, FIXTURE);
    if !extra.is_empty() {
        pg.psql(&db, extra);
    }
    let env = engine_for(&[major]).await;
    let s = env.engine.add_server(input("main", pg)).await.unwrap();
    (env, s.id, db)
}

async fn backup(engine: &Engine, server: i64, db: &str) -> i64 {
    let row = engine.backup_now(server, db, "test").await.unwrap();
    assert_eq!(row.status, BackupStatus::Verified, "{row:?}");
    row.id
}

/// [`setup`] with no extra SQL, then a verified backup of the database:
/// `(env, server, db, backup id)`.
async fn setup_backed_up(major: u32, pg: &PgServer, prefix: &str) -> (Env, i64, String, i64) {
    let (env, server, db) = setup(major, pg, prefix, "").await;
    let id = backup(&env.engine, server, &db).await;
    (env, server, db, id)
}

/// A table restore of `tables` from backup `id` onto the backup's own
/// server, into a new scratch database, without referenced tables.
fn tables_of(id: i64, tables: &[&str]) -> TableRestoreRequest {
    TableRestoreRequest {
        backup_id: id,
        tables: tables.iter().map(|t| (*t).to_owned()).collect(),
        server_id: None,
        into: None,
        with_referenced: false,
    }
}

/// Tables of backup `id` into the named scratch database `into`, by
/// `operator1`.
async fn tables_into(
    engine: &Engine,
    id: i64,
    tables: &[&str],
    into: &str,
) -> Result<engine::restore::TableRestoreResult, engine::Error> {
    let req = TableRestoreRequest {
        into: Some(into.to_owned()),
        ..tables_of(id, tables)
    };
    engine.restore_tables(&req, "operator1").await
}

/// A full restore of backup `id` into `into`, without cleaning or
/// confirmation.
fn full_of(id: i64, server_id: Option<i64>, into: &str, jobs: u32) -> RestoreRequest {
    RestoreRequest {
        backup_id: id,
        server_id,
        into: into.to_owned(),
        clean: false,
        confirm: None,
        jobs,
    }
}

/// Switches the server default policy to directory format.
async fn directory_format(engine: &Engine, server: i64) {
    let (mut p, _) = engine.policy(server, None).await.unwrap();
    p.format = engine::policy::Format::Directory { jobs: 2 };
    engine.set_policy(server, None, &p).await.unwrap();
}

/// Where a backup's artifact directory `dir` is for a `fetch::Source`: its
/// path under the local destination (ending in `/`), and that destination.
fn local_artifact(env: &Env, dir: &std::path::Path) -> (String, engine::storage::Destination) {
    (
        format!(
            "{}/",
            dir.strip_prefix(&env.backups).unwrap().to_str().unwrap()
        ),
        engine::storage::Destination::local(&env.backups),
    )
}

/// `schema.table=rows` of a database, as `common::counts` (plain tables).
fn rows(pg: &PgServer, db: &str) -> std::collections::BTreeMap<String, i64> {
    counts(pg, db)
}

#[tokio::test(flavor = "multi_thread")]
async fn whole_backup_into_scratch_then_dropped() {
    for major in testkit::majors_under_test() {
        let pg = testkit::server(major);
        let (env, server, db, id) = setup_backed_up(major, pg, "whole").await;
        let want = rows(pg, &db);

        let r = env
            .engine
            .restore_into_scratch(id, server, "test", false, "tester")
            .await
            .unwrap();
        assert!(r.errors.is_empty(), "PostgreSQL {major}: {:?}", r.errors);
        assert!(
            r.scratch.name.starts_with("scratch_whole_"),
            "{}",
            r.scratch.name
        );
        assert_eq!(r.scratch.purpose, "test");
        assert_eq!(r.scratch.backup_id, id);
        assert_eq!(r.scratch.database, db);
        assert!(r
            .scratch
            .connection
            .starts_with("postgres://postgres@127.0.0.1:"));
        assert!(!r.scratch.connection.contains(testkit::PASSWORD));
        assert_eq!(rows(pg, &r.scratch.name), want, "PostgreSQL {major}");
        let events = r
            .tables
            .iter()
            .find(|(t, _)| t.schema == "shop" && t.name == "events")
            .unwrap();
        assert_eq!(events.1, 300, "a partitioned parent counts its partitions");
        let odd = r
            .tables
            .iter()
            .find(|(t, _)| t.name == "Tàble \"Q\". With Dots")
            .unwrap();
        assert_eq!(odd.1, 23);

        // Recorded; the compare helper finds it by name.
        let listed = env.engine.scratch_databases(false).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].name, r.scratch.name);
        assert_eq!(listed[0].server_name, "main");

        // Only recorded scratch databases are dropped.
        let err = env.engine.drop_scratch(&db, None).await.unwrap_err();
        assert_eq!(err.status(), 404, "{err}");
        assert!(err.to_string().contains("Fix:"), "{err}");
        assert_eq!(pg.psql(&db, "SELECT count(*) FROM shop.orders"), "60");

        let dropped = env
            .engine
            .drop_scratch(&r.scratch.name, None)
            .await
            .unwrap();
        assert!(dropped.dropped_at.is_some());
        assert_eq!(
            pg.psql(
                "postgres",
                &format!(
                    "SELECT count(*) FROM pg_database WHERE datname = '{}'",
                    r.scratch.name
                )
            ),
            "0"
        );
        assert!(env
            .engine
            .scratch_databases(false)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(env.engine.scratch_databases(true).await.unwrap().len(), 1);
        let again = env
            .engine
            .drop_scratch(&r.scratch.name, None)
            .await
            .unwrap_err();
        assert_eq!(again.status(), 404);

        let runs = env.engine.restore_runs(10).await.unwrap();
        assert_eq!(runs[0].kind, "test");
        assert_eq!(runs[0].status, "succeeded", "{:?}", runs[0]);
        assert_eq!(runs[0].who, "tester");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn whole_backup_into_scratch_reports_damage() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let (env, server, _, id) = setup_backed_up(major, pg, "damaged").await;
    let row = env.engine.backup(id).await.unwrap();
    let dump = artifact_dir(&env, &row).join("dump.zst");
    let bytes = std::fs::read(&dump).unwrap();
    std::fs::write(&dump, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let r = env
        .engine
        .restore_into_scratch(id, server, "test", false, "tester")
        .await
        .unwrap();
    assert!(!r.errors.is_empty(), "a truncated artifact is reported");
    assert!(
        r.errors.iter().any(|e| e.contains("dump.zst")),
        "{:?}",
        r.errors
    );
    let runs = env.engine.restore_runs(1).await.unwrap();
    assert_eq!(runs[0].status, "failed");
    env.engine
        .drop_scratch(&r.scratch.name, None)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn full_restore_needs_confirmation_then_matches() {
    for major in testkit::majors_under_test() {
        let pg = testkit::server(major);
        let (env, server, db, id) = setup_backed_up(major, pg, "full").await;
        let want = rows(pg, &db);

        // Into a new database, in parallel from the local custom file.
        let fresh = format!("{db}_copy");
        let r = env
            .engine
            .restore(&full_of(id, None, &fresh, 2), "admin")
            .await
            .unwrap();
        assert_eq!(r.database, fresh);
        assert_eq!(rows(pg, &fresh), want, "PostgreSQL {major}");
        assert!(r
            .tables
            .iter()
            .any(|(s, t, n)| s == "shop" && t == "events" && *n == 300));

        // Over an existing database: refused without the typed name.
        pg.psql(
            &db,
            "DELETE FROM shop.orders WHERE id > 10; CREATE TABLE shop.extra (x int)",
        );
        let mut req = full_of(id, Some(server), &db, 1);
        let e = env.engine.restore(&req, "admin").await.unwrap_err();
        assert_eq!(e.status(), 409);
        assert!(
            e.to_string().contains(&format!("--clean --confirm {db}")),
            "{e}"
        );
        req.clean = true;
        req.confirm = Some(db.to_uppercase());
        let e = env.engine.restore(&req, "admin").await.unwrap_err();
        assert!(e.to_string().contains("type the name"), "{e}");
        assert_eq!(pg.psql(&db, "SELECT count(*) FROM shop.orders"), "10");

        req.confirm = Some(db.clone());
        req.jobs = 2;
        env.engine.restore(&req, "admin").await.unwrap();
        let mut after = rows(pg, &db);
        assert_eq!(
            after.remove("shop.extra"),
            Some(0),
            "objects not in the backup stay"
        );
        assert_eq!(after, want, "PostgreSQL {major}: matches the source again");
        assert_eq!(pg.psql(&db, "SELECT last_value FROM shop.ticket_no"), "516");

        let runs = env.engine.restore_runs(10).await.unwrap();
        let kinds: Vec<(&str, &str)> = runs
            .iter()
            .map(|r| (r.kind.as_str(), r.status.as_str()))
            .collect();
        // Refused attempts are recorded too, with why.
        assert_eq!(
            kinds,
            [
                ("full", "succeeded"),
                ("full", "failed"),
                ("full", "failed"),
                ("full", "succeeded")
            ]
        );
        assert!(runs[1].error.as_deref().unwrap().contains("type the name"));
        pg.drop_database(&fresh);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_onto_an_older_major_is_refused() {
    let majors = testkit::majors_under_test();
    let (Some(&old), Some(&new)) = (majors.iter().min(), majors.iter().max()) else {
        return;
    };
    if old == new {
        eprintln!("one major under test: nothing older to refuse");
        return;
    }
    let newer = testkit::server(new);
    let older = testkit::server(old);
    let db = newer.fresh_database("newer");
    newer.psql(&db, "CREATE TABLE t AS SELECT generate_series(1, 5) AS id");
    let env = engine_for(&[old, new]).await;
    let s_new = env.engine.add_server(input("new", newer)).await.unwrap();
    let s_old = env.engine.add_server(input("old", older)).await.unwrap();
    let id = backup(&env.engine, s_new.id, &db).await;
    let e = env
        .engine
        .restore(&full_of(id, Some(s_old.id), "never_created", 1), "admin")
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert_eq!(e.status(), 409, "{msg}");
    assert!(
        msg.contains(&format!(
            "restore onto a server of PostgreSQL {new} or newer"
        )),
        "{msg}"
    );
    let e = env
        .engine
        .restore_into_scratch(id, s_old.id, "test", false, "t")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("older"), "{e}");
    let e = env
        .engine
        .restore_tables(
            &TableRestoreRequest {
                server_id: Some(s_old.id),
                ..tables_of(id, &["public.t"])
            },
            "t",
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("older"), "{e}");
    assert_eq!(
        older.psql(
            "postgres",
            "SELECT count(*) FROM pg_database WHERE datname LIKE 'scratch_newer%' OR datname = 'never_created'"
        ),
        "0",
        "nothing was created on the older server"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rebuild_restores_roles_before_databases() {
    for major in testkit::majors_under_test() {
        let pg = testkit::server(major);
        pg.psql(
            "postgres",
            "DO $$ BEGIN CREATE ROLE rebuild_owner LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;",
        );
        let (env, server, db) = setup(
            major,
            pg,
            "rebuilt",
            "ALTER TABLE shop.orders OWNER TO rebuild_owner; GRANT SELECT ON shop.customers TO rebuild_owner;",
        )
        .await;
        let g = env.engine.enqueue_globals(server, "test").await.unwrap();
        assert_eq!(
            finished(&env.engine, g.id).await.status,
            BackupStatus::Verified
        );
        let id = backup(&env.engine, server, &db).await;
        let want = rows(pg, &db);

        let fresh = testkit::start(major);
        let target = env.engine.add_server(input("fresh", &fresh)).await.unwrap();
        let plan = env
            .engine
            .rebuild_plan(server, target.id, std::slice::from_ref(&db))
            .await
            .unwrap();
        let kinds: Vec<(&str, i64)> = plan
            .steps
            .iter()
            .map(|s| (s.kind.as_str(), s.backup_id))
            .collect();
        assert_eq!(kinds, [("globals", g.id), ("database", id)]);
        assert!(plan.missing.is_empty(), "{:?}", plan.missing);

        let r = env
            .engine
            .rebuild(&plan, &plan.target_server, "admin")
            .await
            .unwrap();
        assert!(r.ok(), "PostgreSQL {major}: {r:?}");
        assert!(r.steps[0].expected_errors >= 0);
        assert!(
            r.steps[0]
                .warnings
                .iter()
                .any(|w| w.contains("kept") && w.contains("postgres")),
            "the connecting superuser is left as it is: {:?}",
            r.steps[0].warnings
        );
        assert_eq!(
            fresh.psql(
                &db,
                "SELECT tableowner FROM pg_tables WHERE schemaname = 'shop' AND tablename = 'orders'"
            ),
            "rebuild_owner",
            "the role existed before the database was restored"
        );
        assert_eq!(rows(&fresh, &db), want, "PostgreSQL {major}");
        let runs = env.engine.restore_runs(10).await.unwrap();
        assert_eq!(runs.len(), 2);
        assert!(runs
            .iter()
            .all(|r| r.kind == "rebuild-step" && r.status == "succeeded"));
        assert_eq!(runs[1].database, "(globals)", "globals ran first");
    }
}

const ODD: &str = r#""Ünï ""Odd"" Schema v1.0"."Tàble ""Q"". With Dots""#;

/// Index names of a table (and its partitions' when partitioned), sorted.
fn indexes(pg: &PgServer, db: &str, schema: &str, table_like: &str) -> String {
    pg.psql(
        db,
        &format!(
            "SELECT string_agg(tablename || ':' || indexname, ',' ORDER BY tablename, indexname)
               FROM pg_indexes WHERE schemaname = '{schema}' AND tablename LIKE '{table_like}'"
        ),
    )
}

/// Constraint names of the tables of a schema, sorted.
fn constraints(pg: &PgServer, db: &str, schema: &str) -> Vec<String> {
    let s = pg.psql(
        db,
        &format!(
            "SELECT string_agg(c.conrelid::regclass::text || ':' || c.conname || ':' || c.contype::text, ',')
               FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
              WHERE n.nspname = '{schema}' AND c.conrelid <> 0"
        ),
    );
    let mut v: Vec<String> = s
        .split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn tables_restore_whole_into_scratch() {
    for major in testkit::majors_under_test() {
        let pg = testkit::server(major);
        let (env, server, db, id) = setup_backed_up(major, pg, "tables").await;
        let req = tables_of(
            id,
            &[
                ODD,
                "shop.items",
                "shop.tickets",
                "shop.events",
                "shop.orders",
            ],
        );
        let r = env.engine.restore_tables(&req, "operator1").await.unwrap();
        let s = &r.scratch.name;
        assert!(s.starts_with("scratch_tables_"), "{s}");
        assert_eq!(r.scratch.created_by, "operator1");
        assert_eq!(r.scratch.purpose, "table");

        // Exactly their rows, with the recorded counts beside them.
        let src = rows(pg, &db);
        let got = rows(pg, s);
        for t in [
            "Ünï \"Odd\" Schema v1.0.Tàble \"Q\". With Dots",
            "shop.items",
            "shop.tickets",
            "shop.events_2024",
            "shop.events_2025",
            "shop.events_2026",
            "shop.orders",
        ] {
            assert_eq!(got.get(t), src.get(t), "PostgreSQL {major}: {t}");
        }
        assert!(!got.contains_key("shop.customers"), "not chosen: {got:?}");
        for t in &r.tables {
            assert_eq!(
                Some(t.rows_restored),
                t.rows_recorded,
                "{}.{}",
                t.schema,
                t.name
            );
            assert!(!t.recorded_estimate);
        }
        let events = r.tables.iter().find(|t| t.name == "events").unwrap();
        assert_eq!(events.rows_restored, 300);
        let odd = r
            .tables
            .iter()
            .find(|t| t.name == "Tàble \"Q\". With Dots")
            .unwrap();
        assert_eq!(odd.columns, ["id", "Val ue"]);
        assert_eq!(odd.sample.len(), 20);
        assert!(
            odd.sample.iter().any(|row| row[1].is_none()),
            "NULL kept as None"
        );
        assert!(odd
            .sample
            .iter()
            .any(|row| row[1].as_deref() == Some("line\nbreak")));
        assert_eq!(odd.sample[0][0].as_deref(), Some("1"));

        // Keys and indexes, the domain and enum columns, the trigger, the
        // comment, the unowned sequence with its value, the partitions.
        assert_eq!(
            indexes(pg, s, "shop", "%"),
            indexes(pg, &db, "shop", "%")
                .split(',')
                .filter(|i| !i.starts_with("customers:"))
                .collect::<Vec<_>>()
                .join(","),
        );
        assert_eq!(
            indexes(pg, s, "Ünï \"Odd\" Schema v1.0", "%"),
            indexes(pg, &db, "Ünï \"Odd\" Schema v1.0", "%")
        );
        let mut want_cons: Vec<String> = constraints(pg, &db, "shop")
            .into_iter()
            .filter(|c| !c.starts_with("shop.customers:") && !c.contains("customer_fkey"))
            .collect();
        want_cons.sort();
        assert_eq!(constraints(pg, s, "shop"), want_cons, "PostgreSQL {major}");
        assert_eq!(
            pg.psql(
                s,
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
                  WHERE attrelid = 'shop.items'::regclass AND attname IN ('price', 'mood') ORDER BY attname"
            ),
            "shop.mood\nshop.positive"
        );
        assert_eq!(
            pg.psql(s, "SELECT tgname FROM pg_trigger WHERE tgrelid = 'shop.items'::regclass AND NOT tgisinternal"),
            "items_touch"
        );
        assert_eq!(
            pg.psql(
                s,
                "SELECT obj_description('shop.items'::regclass, 'pg_class')"
            ),
            "things for sale"
        );
        assert!(
            pg.try_psql(s, "INSERT INTO shop.items (id, price) VALUES (1000, -1)")
                .is_err(),
            "the domain's check came along"
        );
        assert_eq!(
            pg.psql(s, "SELECT last_value FROM shop.ticket_no"),
            pg.psql(&db, "SELECT last_value FROM shop.ticket_no")
        );
        assert_eq!(
            pg.psql(
                s,
                "INSERT INTO shop.tickets (what) VALUES ('new') RETURNING no"
            ),
            "517"
        );
        assert_eq!(
            pg.psql(
                s,
                "SELECT count(*) FROM pg_inherits WHERE inhparent = 'shop.events'::regclass"
            ),
            "3"
        );
        assert!(
            pg.try_psql(
                s,
                "INSERT INTO shop.events VALUES (1, DATE '2024-03-04', 'dup')"
            )
            .is_err(),
            "the partitioned key is valid"
        );

        // The foreign key to the unchosen table is reported, not silently lost.
        assert!(
            r.skipped
                .iter()
                .any(|k| k.what.contains("orders_customer_fkey") && !k.reason.is_empty()),
            "{:?}",
            r.skipped
        );
        // The grant to a role the server has arrived without errors.
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let listed = env.engine.scratch_databases(false).await.unwrap();
        assert_eq!(listed[0].name, *s);
        env.engine.drop_scratch(s, Some(server)).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_referenced_and_into_and_jobs() {
    for major in testkit::majors_under_test() {
        let pg = testkit::server(major);
        let (env, server, db, id) = setup_backed_up(major, pg, "refs").await;
        let into = format!("scratch_{db}_mine");
        let job = env
            .engine
            .start_table_restore(
                TableRestoreRequest {
                    server_id: Some(server),
                    into: Some(into.clone()),
                    with_referenced: true,
                    ..tables_of(id, &["shop.orders"])
                },
                "operator1",
            )
            .await
            .unwrap();
        let done = loop {
            let j = env.engine.restore_job(job).unwrap();
            match j.state {
                RestoreJobState::Running => {
                    assert!(env.engine.workers().iter().any(|w| w.name == "restorer"));
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await
                }
                RestoreJobState::Done(r) => break r,
                RestoreJobState::Failed(e) => panic!("PostgreSQL {major}: {e}"),
            }
        };
        assert_eq!(done.scratch.name, into);
        assert!(done.skipped.is_empty(), "{:?}", done.skipped);
        let names: Vec<&str> = done.tables.iter().map(|t| t.name.as_str()).collect();
        assert!(
            names.contains(&"customers") && names.contains(&"orders"),
            "{names:?}"
        );
        assert_eq!(
            pg.psql(
                &into,
                "SELECT conname FROM pg_constraint WHERE contype = 'f'"
            ),
            "orders_customer_fkey"
        );
        let restorer = env
            .engine
            .workers()
            .into_iter()
            .find(|w| w.name == "restorer")
            .unwrap();
        assert!(!restorer.busy(), "{restorer:?}");

        // More tables into the same recorded scratch database.
        let more = tables_into(&env.engine, id, &["shop.tickets"], &into)
            .await
            .unwrap();
        assert_eq!(more.scratch.name, into);
        assert_eq!(pg.psql(&into, "SELECT count(*) FROM shop.tickets"), "17");

        // A database that is not a recorded scratch database is never written.
        let e = tables_into(&env.engine, id, &["shop.tickets"], &db)
            .await
            .unwrap_err();
        assert_eq!(e.status(), 409, "{e}");
        assert!(e.to_string().contains("not a scratch database"), "{e}");
        env.engine.drop_scratch(&into, None).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_not_in_the_backup_is_refused_with_closest_matches() {
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let (env, _, _, id) = setup_backed_up(major, pg, "missing").await;
    let e = env
        .engine
        .restore_tables(&tables_of(id, &["shop.item"]), "operator1")
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert_eq!(e.status(), 404, "{msg}");
    assert!(msg.contains("shop.items"), "{msg}");
    assert!(msg.contains("Fix:"), "{msg}");
    assert!(env.engine.scratch_databases(true).await.unwrap().is_empty());
    let e = env
        .engine
        .restore_tables(&tables_of(id, &["no_schema"]), "operator1")
        .await
        .unwrap_err();
    assert_eq!(e.status(), 400, "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn directory_format_reads_only_the_needed_files() {
    use engine::restore::fetch::{self, Source, WorkDir};
    for major in testkit::majors_under_test() {
        let pg = testkit::server(major);
        let (env, server, db) = setup(major, pg, "dirfmt", "").await;
        directory_format(&env.engine, server).await;
        let id = backup(&env.engine, server, &db).await;
        let row = env.engine.backup(id).await.unwrap();
        let dir = artifact_dir(&env, &row);
        let manifest: engine::restore::RestoreManifest =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest.format, "directory");

        // What the fetch reads, recorded by the fetch itself.
        let (rel, dest) = local_artifact(&env, &dir);
        let src = Source {
            destination: &dest,
            dir: &rel,
            manifest: &manifest,
            identity: None,
        };
        let spool = env._dir.path().join("spool-test");
        let work = WorkDir::new(&spool, id).unwrap();
        let (archive, mut fetched) = fetch::fetch_toc(src, work.path()).await.unwrap();
        let sel = engine::toc::select_tables(
            &archive,
            &[engine::toc::TableRef::new("shop", "items")],
            false,
        )
        .unwrap();
        assert_eq!(sel.data_files.len(), 1, "{:?}", sel.data_files);
        fetch::fetch_data_files(src, &sel.data_files, &mut fetched)
            .await
            .unwrap();
        assert_eq!(
            fetched.read,
            [
                "dump/toc.dat.zst".to_owned(),
                format!("dump/{}.zst", sel.data_files[0])
            ]
        );
        drop(work);

        // Through the engine: every other data file removed from storage,
        // and the restore still succeeds, so it read none of them.
        let keep = format!("{}.zst", sel.data_files[0]);
        let mut removed = 0;
        for f in std::fs::read_dir(dir.join("dump")).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name != "toc.dat.zst" && name != keep {
                std::fs::remove_file(f.path()).unwrap();
                removed += 1;
            }
        }
        assert!(removed >= 5, "{removed}");
        let r = env
            .engine
            .restore_tables(&tables_of(id, &["shop.items"]), "operator1")
            .await
            .unwrap();
        assert_eq!(r.tables.len(), 1);
        assert_eq!(r.tables[0].rows_restored, 40);
        assert_eq!(r.tables[0].rows_recorded, Some(40));
        assert_eq!(
            pg.psql(
                &r.scratch.name,
                "SELECT count(*) FROM shop.items WHERE mood = 'happy'"
            ),
            "20"
        );
        assert!(
            std::fs::read_dir(env._dir.path().join("data/spool"))
                .map(|rd| rd.flatten().count())
                .unwrap_or(0)
                == 0,
            "the work directory is removed"
        );
        env.engine
            .drop_scratch(&r.scratch.name, None)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_format_reads_only_the_needed_blocks() {
    use engine::restore::fetch::{self, Source, WorkDir};
    for major in testkit::majors_under_test() {
        let pg = testkit::server(major);
        // A table much larger than the one restored, so reading it whole
        // would show in the bytes read.
        let (env, server, db) = setup(
            major,
            pg,
            "seek",
            "CREATE TABLE shop.bulk AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS v
             FROM generate_series(1, 100000) g;",
        )
        .await;
        let id = backup(&env.engine, server, &db).await;
        let row = env.engine.backup(id).await.unwrap();
        let dir = artifact_dir(&env, &row);
        let manifest: engine::restore::RestoreManifest =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest.format, "custom");
        let file = &manifest.files[0];
        let index = file.index.as_ref().expect("a seekable custom archive");
        index.check().unwrap();
        let stored = std::fs::read(dir.join(&file.path)).unwrap();
        assert!(stored.ends_with(&index.seek_table()));

        // Stock zstd still reads it (the seek table is a skippable frame),
        // and pg_restore reads what it decompresses to.
        let plain = zstd::stream::decode_all(&stored[..]).unwrap();
        assert_eq!(plain.len() as u64, file.raw_size);
        let listed = engine::toc::read_archive(&plain).unwrap();
        for b in &index.blocks {
            let e = listed.entry(b[0] as i32).unwrap();
            assert!(e.had_dumper || e.desc == "BLOBS", "{e:?}");
        }

        // What the fetch reads: the header and TOC, then one block by range.
        let (rel, dest) = local_artifact(&env, &dir);
        let src = Source {
            destination: &dest,
            dir: &rel,
            manifest: &manifest,
            identity: None,
        };
        let spool = env._dir.path().join("spool-test");
        let work = WorkDir::new(&spool, id).unwrap();
        let (archive, mut fetched) = fetch::fetch_toc(src, work.path()).await.unwrap();
        assert_eq!(archive.entries.len(), listed.entries.len());
        let sel = engine::toc::select_tables(
            &archive,
            &[engine::toc::TableRef::new("shop", "items")],
            false,
        )
        .unwrap();
        fetch::fetch_table_data(src, &sel, &mut fetched)
            .await
            .unwrap();
        assert_eq!(fetched.read.len(), 2, "{:?}", fetched.read);
        assert!(
            fetched.bytes_read * 100 < file.size,
            "{} of {} bytes read",
            fetched.bytes_read,
            file.size
        );
        drop(work);

        // Through the engine, into scratch: the same few bytes, and the rows.
        let r = env
            .engine
            .restore_tables(&tables_of(id, &["shop.items"]), "operator1")
            .await
            .unwrap();
        assert_eq!(r.tables[0].rows_restored, 40);
        assert!(r.bytes_read * 100 < file.size, "{}", r.bytes_read);
        env.engine
            .drop_scratch(&r.scratch.name, None)
            .await
            .unwrap();

        // A whole restore with two jobs reads it all and seeks in the
        // local copy (its TOC now has the offsets).
        let into = format!("{db}_full");
        let full = env
            .engine
            .restore(&full_of(id, None, &into, 2), "admin")
            .await
            .unwrap();
        assert_eq!(full.bytes_read, file.size);
        assert_eq!(rows(pg, &into), rows(pg, &db), "PostgreSQL {major}");
        pg.psql("postgres", &format!("DROP DATABASE \"{into}\""));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn artifact_files_stream_and_unknown_paths_are_refused() {
    use futures::StreamExt;
    let major = testkit::majors_under_test()[0];
    let pg = testkit::server(major);
    let (env, _, _, id) = setup_backed_up(major, pg, "download").await;
    let files = env.engine.artifact_files(id).await.unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["dump.zst", "manifest.json"]);
    let dir = artifact_dir(&env, &env.engine.backup(id).await.unwrap());
    let (size, mut stream) = env.engine.open_artifact(id, "dump.zst").await.unwrap();
    let mut got = Vec::new();
    while let Some(chunk) = stream.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    let want = std::fs::read(dir.join("dump.zst")).unwrap();
    assert_eq!((size, got.len()), (want.len() as u64, want.len()));
    assert_eq!(got, want);
    for bad in [
        "../manifest.json",
        "dump.zst/../../x",
        "manifest.json.partial",
        "",
    ] {
        let e = env.engine.open_artifact(id, bad).await.err().unwrap();
        assert_eq!(e.status(), 404, "{bad}: {e}");
    }
}
