//! Starts a throwaway PostgreSQL server for the browser tests, seeds a
//! database `shop`, prints one JSON line with how to reach it, and keeps the
//! server until standard input closes (the Playwright fixture holds it open).
//!
//! `pg-for-e2e [MAJOR]` (default: the first of `PGSHELF_TEST_PG`, else 15).

use std::io::Read;

fn main() {
    let major: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| testkit::majors_under_test()[0]);
    let pg = testkit::start(major);
    pg.create_database("shop");
    pg.psql(
        "shop",
        "CREATE TABLE orders (id serial PRIMARY KEY, total numeric NOT NULL, note text);
         INSERT INTO orders (total, note) SELECT g, repeat('x', 200) FROM generate_series(1, 5000) g;",
    );
    println!(
        "{{\"host\":\"{}\",\"port\":{},\"user\":\"{}\",\"password\":\"{}\",\"database\":\"shop\",\"major\":{}}}",
        pg.host(),
        pg.port,
        testkit::SUPERUSER,
        testkit::PASSWORD,
        major
    );
    // Hold the server until the fixture closes our stdin (or dies).
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(pg);
}
