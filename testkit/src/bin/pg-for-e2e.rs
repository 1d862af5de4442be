//! Starts a throwaway PostgreSQL server for the browser tests, seeds a
//! database `shop` (`orders`, and `"Sales Dept"."Order Lines"` for names that need quoting), prints one JSON line with how to reach it (and its psql), and keeps the
//! server until standard input closes (the Playwright fixture holds it open).
//!
//! `pg-for-e2e [MAJOR] [--rows N]` (major default: the first of
//! `PGSHELF_TEST_PG`). `--rows N` adds a table `big` of N rows of about
//! 1 KiB each (for scripts/bench).

use std::io::Read;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let major: u32 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| testkit::majors_under_test()[0]);
    let rows: u64 = args
        .iter()
        .position(|a| a == "--rows")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let pg = testkit::start(major);
    pg.create_database("shop");
    pg.psql(
        "shop",
        "CREATE TABLE orders (id serial PRIMARY KEY, total numeric NOT NULL, note text);
         INSERT INTO orders (total, note) SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g;
         CREATE SCHEMA \"Sales Dept\";
         CREATE TABLE \"Sales Dept\".\"Order Lines\" (id int PRIMARY KEY, \"Qty\" int NOT NULL, label text);
         INSERT INTO \"Sales Dept\".\"Order Lines\" SELECT g, g % 7, 'line ' || g FROM generate_series(1, 42) g;",
    );
    if rows > 0 {
        // Text that compresses about as well as real rows do: hex digests.
        pg.psql(
            "shop",
            &format!(
                "CREATE TABLE big AS SELECT g AS id, now() AS at,
                        (SELECT string_agg(md5((g * 31 + k)::text), ' ') FROM generate_series(1, 30) k) AS payload
                   FROM generate_series(1, {rows}) g"
            ),
        );
    }
    println!(
        "{{\"host\":\"{}\",\"port\":{},\"user\":\"{}\",\"password\":\"{}\",\"database\":\"shop\",\"major\":{},\"psql\":{:?}}}",
        pg.host(),
        pg.port,
        testkit::SUPERUSER,
        testkit::PASSWORD,
        major,
        pg.tool("psql").display().to_string()
    );
    // Hold the server until the fixture closes our stdin (or dies).
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(pg);
}
