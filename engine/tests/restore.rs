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

/// Awkward names, a domain, an enum and a trigger, an unowned sequence, a
/// partitioned table, a foreign key, grants to a role.
const FIXTURE: &str = r#"
DO $$ BEGIN CREATE ROLE restore_reader; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
CREATE SCHEMA "Ünï ""Odd"" Schema v1.0";
CREATE TABLE "Ünï ""Odd"" Schema v1.0"."Tàble ""Q"". With Dots" (id int PRIMARY KEY, "Val ue" text);
INSERT INTO "Ünï ""Odd"" Schema v1.0"."Tàble ""Q"". With Dots"
  SELECT g, CASE g % 5 WHEN 0 THEN E'line\nbreak' WHEN 1 THEN E'tab\there' WHEN 2 THEN E'back\\slash \\.'
                       WHEN 3 THEN '' ELSE NULL END
    FROM generate_series(1, 23) g;
CREATE INDEX "odd idx" ON "Ünï ""Odd"" Schema v1.0"."Tàble ""Q"". With Dots" ("Val ue");

CREATE SCHEMA shop;
CREATE DOMAIN shop.positive AS numeric CHECK (VALUE > 0);
CREATE TYPE shop.mood AS ENUM ('happy', 'sad');
CREATE FUNCTION shop.touch() RETURNS trigger LANGUAGE plpgsql
  AS $f$ BEGIN NEW.updated := now(); RETURN NEW; END $f$;
CREATE TABLE shop.items (id int PRIMARY KEY, price shop.positive NOT NULL, mood shop.mood, updated timestamptz);
CREATE TRIGGER items_touch BEFORE INSERT OR UPDATE ON shop.items FOR EACH ROW EXECUTE FUNCTION shop.touch();
CREATE INDEX items_mood ON shop.items (mood);
COMMENT ON TABLE shop.items IS 'things for sale';
GRANT SELECT ON shop.items TO restore_reader;
INSERT INTO shop.items (id, price, mood) SELECT g, g * 1.5, CASE WHEN g % 2 = 0 THEN 'happy' ELSE 'sad' END::shop.mood
  FROM generate_series(1, 40) g;

CREATE SEQUENCE shop.ticket_no START 500;
CREATE TABLE shop.tickets (no bigint PRIMARY KEY DEFAULT nextval('shop.ticket_no'), what text);
INSERT INTO shop.tickets (what) SELECT 't' || g FROM generate_series(1, 17) g;

CREATE TABLE shop.events (id bigint, at date NOT NULL, payload text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE shop.events_2024 PARTITION OF shop.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE shop.events_2025 PARTITION OF shop.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE shop.events_2026 PARTITION OF shop.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX events_payload ON shop.events (payload);
INSERT INTO shop.events SELECT g, DATE '2024-03-01' + (g * 3), 'p' || g FROM generate_series(1, 300) g;

CREATE TABLE shop.customers (id serial PRIMARY KEY, name text UNIQUE);
INSERT INTO shop.customers (name) SELECT 'c' || g FROM generate_series(1, 12) g;
CREATE TABLE shop.orders (id int PRIMARY KEY, customer int NOT NULL REFERENCES shop.customers (id), note text);
INSERT INTO shop.orders SELECT g, 1 + g % 12, 'o' || g FROM generate_series(1, 60) g;
CREATE VIEW shop.big_orders AS SELECT * FROM shop.orders WHERE id > 30;
"#;

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
    assert_eq!(row.status, BackupStatus::Succeeded, "{row:?}");
    row.id
}

/// Switches the server default policy to directory format.
async fn directory_format(engine: &Engine, server: i64) {
    let (mut p, _) = engine.policy(server, None).await.unwrap();
    p.format = engine::policy::Format::Directory { jobs: 2 };
    engine.set_policy(server, None, &p).await.unwrap();
}

/// `schema.table=rows` of a database, as `common::counts` (plain tables).
fn rows(pg: &PgServer, db: &str) -> std::collections::BTreeMap<String, i64> {
    counts(pg, db)
}

#[tokio::test(flavor = "multi_thread")]
async fn whole_backup_into_scratch_then_dropped() {
    for major in testkit::majors_under_test() {
        let pg = testkit::server(major);
        let (env, server, db) = setup(major, pg, "whole", "").await;
        let id = backup(&env.engine, server, &db).await;
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
    let (env, server, db) = setup(major, pg, "damaged", "").await;
    let id = backup(&env.engine, server, &db).await;
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
        let (env, server, db) = setup(major, pg, "full", "").await;
        let id = backup(&env.engine, server, &db).await;
        let want = rows(pg, &db);

        // Into a new database, in parallel from the local custom file.
        let fresh = format!("{db}_copy");
        let r = env
            .engine
            .restore(
                &RestoreRequest {
                    backup_id: id,
                    server_id: None,
                    into: fresh.clone(),
                    clean: false,
                    confirm: None,
                    jobs: 2,
                },
                "admin",
            )
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
        let mut req = RestoreRequest {
            backup_id: id,
            server_id: Some(server),
            into: db.clone(),
            clean: false,
            confirm: None,
            jobs: 1,
        };
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
        .restore(
            &RestoreRequest {
                backup_id: id,
                server_id: Some(s_old.id),
                into: "never_created".into(),
                clean: false,
                confirm: None,
                jobs: 1,
            },
            "admin",
        )
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
                backup_id: id,
                tables: vec!["public.t".into()],
                server_id: Some(s_old.id),
                into: None,
                with_referenced: false,
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
            "DO $$ BEGIN CREATE ROLE rebuild_owner LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;",
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
            BackupStatus::Succeeded
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

        let r = env.engine.rebuild(&plan, "admin").await.unwrap();
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

#[allow(dead_code)]
fn unused(_: RestoreJobState) {}
