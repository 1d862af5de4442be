//! Schema changes between backups, against real PostgreSQL 15 and 18: a
//! backup, then a migration (column added, column retyped, index, dropped
//! table, function, view), a backup again: the second backup's changes
//! against the first, exactly. The first backup says it is the first, a
//! backup with no changes says so (across archive formats), a globals
//! backup has no TOC, and deleting the earlier backup makes the later one
//! the first.

use engine::catalog::BackupStatus;
use engine::policy::{Format, Policy};
use model::schema_diff::{Basis, Column, Retyped, SchemaChange};

mod common;
use common::*;

const FIXTURE: &str = r#"
CREATE TABLE public.notes (id integer PRIMARY KEY, body text NOT NULL);
INSERT INTO public.notes SELECT g, 'n' || g FROM generate_series(1, 50) g;
CREATE TABLE public.old (x integer, "Odd, name" text[] DEFAULT '{a,b}');
CREATE TABLE public.kept (a numeric(10,2) DEFAULT round(1.5, 2));
"#;

const MIGRATION: &str = r#"
ALTER TABLE public.notes ADD COLUMN at date;
ALTER TABLE public.notes ALTER COLUMN body TYPE varchar(40);
CREATE INDEX notes_at ON public.notes (at);
DROP TABLE public.old;
CREATE FUNCTION public.add_one(a integer) RETURNS integer LANGUAGE sql AS 'SELECT a + 1';
CREATE VIEW public.recent AS SELECT id, at FROM public.notes;
"#;

fn col(name: &str, type_name: &str, definition: &str) -> Column {
    Column {
        name: name.into(),
        type_name: type_name.into(),
        definition: definition.into(),
    }
}

fn keys(list: &[SchemaChange]) -> Vec<String> {
    list.iter()
        .map(|c| format!("{} {}", c.kind, c.qualified_name()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_migration_between_two_backups_reads_exactly() {
    for major in testkit::majors_under_test() {
        let pg = testkit::server(major);
        let db = pg.fresh_database("schema");
        pg.psql(&db, FIXTURE);
        let env = engine_for(&[major]).await;
        let server = env.engine.add_server(input("main", pg)).await.unwrap().id;
        env.engine
            .set_policy(server, Some(&db), &Policy::default())
            .await
            .unwrap();

        let first = env.engine.backup_now(server, &db, "test").await.unwrap();
        assert!(first.status.is_good(), "{first:?}");
        let c = env.engine.schema_changes(first.id).await.unwrap();
        assert_eq!(c.basis, Basis::First, "PostgreSQL {major}");
        assert_eq!(c.against, None);

        pg.psql(&db, MIGRATION);
        let second = env.engine.backup_now(server, &db, "test").await.unwrap();
        assert!(second.status.is_good(), "{second:?}");
        let c = env.engine.schema_changes(second.id).await.unwrap();
        assert_eq!(c.basis, Basis::Previous);
        assert_eq!(c.against, Some(first.id));
        assert!(c.against_at.is_some());
        assert_eq!(c.pg_dump_changed, None);
        assert_eq!(
            keys(&c.added),
            vec![
                "VIEW public.recent",
                "INDEX public.notes_at",
                "FUNCTION public.add_one(integer)"
            ],
            "PostgreSQL {major}: {c:#?}"
        );
        assert!(c.added.iter().all(|a| a.old_defn.is_none()));
        assert!(c.added[2]
            .new_defn
            .as_deref()
            .unwrap()
            .contains("SELECT a + 1"));
        assert_eq!(keys(&c.dropped), vec!["TABLE public.old"], "{c:#?}");
        assert_eq!(
            c.dropped[0].columns.dropped,
            vec![
                col("x", "integer", "integer"),
                col("Odd, name", "text[]", "text[] DEFAULT '{a,b}'::text[]"),
            ]
        );
        assert_eq!(keys(&c.changed), vec!["TABLE public.notes"], "{c:#?}");
        let notes = &c.changed[0].columns;
        assert_eq!(notes.added, vec![col("at", "date", "date")]);
        assert_eq!(
            notes.retyped,
            vec![Retyped {
                name: "body".into(),
                old_type: "text".into(),
                new_type: "character varying(40)".into(),
            }]
        );
        assert!(
            notes.dropped.is_empty() && notes.altered.is_empty(),
            "{notes:?}"
        );
        assert_eq!(c.counts(), (3, 1, 1));

        // No change since, even in another archive format.
        env.engine
            .set_policy(
                server,
                Some(&db),
                &Policy {
                    format: Format::Directory { jobs: 2 },
                    ..Policy::default()
                },
            )
            .await
            .unwrap();
        let third = env.engine.backup_now(server, &db, "test").await.unwrap();
        let c = env.engine.schema_changes(third.id).await.unwrap();
        assert!(c.is_unchanged(), "PostgreSQL {major}: {c:#?}");
        assert_eq!(c.against, Some(second.id));

        // A globals backup keeps no TOC.
        let g = env.engine.enqueue_globals(server, "test").await.unwrap();
        let g = finished(&env.engine, g.id).await;
        assert_eq!(g.status, BackupStatus::Verified, "{g:?}");
        let c = env.engine.schema_changes(g.id).await.unwrap();
        assert_eq!(c.basis, Basis::NoToc);

        // The earlier backups gone: the second is the first of its series.
        env.engine.delete_backup(first.id).await.unwrap();
        env.engine.delete_backup(third.id).await.unwrap();
        let c = env.engine.schema_changes(second.id).await.unwrap();
        assert_eq!(c.basis, Basis::First);

        let missing = env.engine.schema_changes(999_999).await.unwrap_err();
        assert_eq!(missing.status(), 404);
    }
}
