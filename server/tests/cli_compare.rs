//! `pgshelf compare` against real PostgreSQL servers: counts and samples,
//! `--json`, `--emit-sql` applied with stock psql, `--apply --confirm`.

mod common;
use common::{data_with_main, pgshelf, text};
use std::process::Command;

const FIXTURE: &str = r#"
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema".items (
    id int PRIMARY KEY,
    name text NOT NULL,
    price numeric(8,2),
    tags jsonb
);
INSERT INTO "Odd Schema".items
SELECT g, 'item ' || g, g * 0.5, jsonb_build_array(g) FROM generate_series(1, 100) g;
"#;

const DAMAGE: &str = r#"
DELETE FROM "Odd Schema".items WHERE id IN (3, 30);
UPDATE "Odd Schema".items SET price = NULL WHERE id = 7;
UPDATE "Odd Schema".items SET name = E'new\nname' WHERE id = 70;
INSERT INTO "Odd Schema".items VALUES (101, 'added', 1, NULL);
"#;

const T: &str = r#""Odd Schema".items"#;

#[test]
fn compare_prints_counts_emits_sql_and_applies() {
    for major in testkit::majors_under_test() {
        let pg = testkit::server(major);
        let live = pg.fresh_database("clicmp");
        pg.psql(&live, FIXTURE);
        let scratch = format!("{live}_copy");
        pg.psql(
            "postgres",
            &format!("CREATE DATABASE {scratch} TEMPLATE {live}"),
        );
        pg.psql(&live, DAMAGE);
        let live2 = format!("{live}_two");
        pg.psql(
            "postgres",
            &format!("CREATE DATABASE {live2} TEMPLATE {live}"),
        );

        let (dir, data) = data_with_main(pg);

        // Text: counts and the changed columns.
        let base = [
            "compare",
            "--scratch",
            &scratch,
            "--table",
            T,
            "--server",
            "main",
        ];
        let mut args = base.to_vec();
        args.extend(["--database", &live]);
        let o = pgshelf(&data, &args, &[], None);
        assert!(o.status.success(), "{}", text(&o));
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            out.contains("rows: 100 in the copy, 99 live; 96 unchanged"),
            "{out}"
        );
        assert!(out.contains("deleted since the backup: 2"), "{out}");
        assert!(out.contains("(\"3\")") && out.contains("(\"30\")"), "{out}");
        assert!(out.contains("price: \"3.50\" -> NULL"), "{out}");
        assert!(out.contains("name: \"item 70\" -> \"new\\nname\""), "{out}");
        assert!(
            out.contains("added since the backup (a put-back leaves these alone): 1"),
            "{out}"
        );

        // --json and --emit-sql; the script applied with psql puts the rows back.
        let sql = dir.path().join("put-back.sql");
        let mut args = base.to_vec();
        args.extend([
            "--database",
            &live,
            "--json",
            "--emit-sql",
            sql.to_str().unwrap(),
        ]);
        let o = pgshelf(&data, &args, &[], None);
        assert!(o.status.success(), "{}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["comparison"]["deleted"]["count"], 2);
        assert_eq!(v["comparison"]["changed"]["count"], 2);
        assert_eq!(v["comparison"]["added"]["count"], 1);
        assert_eq!(v["comparison"]["key"], serde_json::json!(["id"]));
        assert_eq!(
            v["comparison"]["changed"]["sample"][0]["changed_columns"],
            serde_json::json!(["price"])
        );
        assert_eq!(v["script"]["deleted"], 2);
        assert_eq!(v["script"]["changed"], 2);
        let psql = Command::new(pg.tool("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(pg.socket_dir())
            .args([
                "-p",
                &pg.port.to_string(),
                "-U",
                "postgres",
                "-d",
                &live,
                "-f",
            ])
            .arg(&sql)
            .output()
            .unwrap();
        assert!(
            psql.status.success(),
            "{}",
            String::from_utf8_lossy(&psql.stderr)
        );
        let rows = |db: &str| {
            pg.psql(
                db,
                "SELECT i::text FROM \"Odd Schema\".items i WHERE id <> 101 ORDER BY id",
            )
        };
        assert_eq!(rows(&live), rows(&scratch));

        // --deleted only; then --apply needs the exact name.
        let mut args = base.to_vec();
        args.extend([
            "--database",
            &live2,
            "--deleted",
            "--apply",
            "--confirm",
            "items",
        ]);
        let o = pgshelf(&data, &args, &[], None);
        assert!(!o.status.success());
        assert!(
            text(&o).contains("Fix: type \"Odd Schema\".items exactly"),
            "{}",
            text(&o)
        );
        let mut args = base.to_vec();
        args.extend(["--database", &live2, "--deleted", "--apply", "--confirm", T]);
        let o = pgshelf(&data, &args, &[], None);
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            text(&o).contains("2 row(s) inserted, 0 updated"),
            "{}",
            text(&o)
        );
        assert_eq!(
            pg.psql(
                &live2,
                "SELECT count(*) FROM \"Odd Schema\".items WHERE price IS NULL"
            ),
            "1",
            "changed rows stay as they are with --deleted"
        );

        // A scratch database pgshelf does not know, without --database.
        let o = pgshelf(
            &data,
            &["compare", "--scratch", &scratch, "--table", T],
            &[],
            None,
        );
        assert!(!o.status.success());
        assert!(
            text(&o).contains("--server NAME --database DB"),
            "{}",
            text(&o)
        );
    }
}
