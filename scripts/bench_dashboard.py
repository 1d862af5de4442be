#!/usr/bin/env python3
"""Dashboard latency under load, and the size of the wasm bundle.

    python3 scripts/bench_dashboard.py --bin target/release/pgshelf \
        --site target/site --out dashboard.json

What it does, in a private temporary directory (removed at the end unless
--keep):

1. creates the catalog by running the binary once (`pgshelf list --json`
   runs the migrations), then seeds it with SQL (python's sqlite3): 200
   servers, 5 databases each, 100 backups per database spread over a year
   (100,000 backups: mostly verified, some failed and suspect, the older
   ones pruned), a full manifest per good backup (so `backup_tables` is
   filled by its triggers) and a complete `local` copy per held backup.
   The SQL has the shape of engine/tests/overview.rs and history.rs;
   schedule and test-restore slots are marked as taken, so the scheduler
   queues nothing while the load runs;
2. starts `pgshelf serve` on a free loopback port, creates the first admin
   through the setup link it prints (as a user does: POST /api/auth/setup)
   and keeps the session cookie;
3. loads three server-rendered pages with `autocannon` (npm, installed
   into ~/.cache/pgshelf/bench-npm when missing), 20 connections each:
   the overview `/`, a database page and a backup page; a short warm-up
   first, then --duration seconds measured; every response must be 200;
4. measures the wasm bundle under SITE/pkg (raw, gzip -9) and its JS glue;
5. writes --out (JSON) and prints a table. The server is stopped at the
   end, on errors and on Ctrl-C.

Python 3.11 standard library only (plus node/npm for autocannon).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

AUTOCANNON_VERSION = "8.0.0"
SERVERS = 200
DATABASES_PER_SERVER = 5
BACKUPS_PER_DATABASE = 100
# 100 backups 88 hours apart: a little over a year of history.
HOURS_BETWEEN_BACKUPS = 88
ADMIN_USER = "bench"
ADMIN_PASSWORD = "bench admin password"


def log(msg: str) -> None:
    print(f"[bench_dashboard] {msg}", file=sys.stderr, flush=True)


def die(msg: str) -> None:
    raise SystemExit(f"bench_dashboard: {msg}")


# ---------------------------------------------------------------- autocannon


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pgshelf" / "bench-npm"


def ensure_autocannon(explicit: str | None) -> str:
    """The autocannon binary: --autocannon, else the pinned one in the cache
    (installed with npm when missing)."""
    if explicit:
        return explicit
    prefix = cache_dir()
    binary = prefix / "node_modules" / ".bin" / "autocannon"
    pkg = prefix / "node_modules" / "autocannon" / "package.json"
    if binary.exists() and pkg.exists():
        if json.loads(pkg.read_text()).get("version") == AUTOCANNON_VERSION:
            return str(binary)
    if shutil.which("npm") is None:
        die("npm is not installed (Debian: apt-get install nodejs npm); autocannon comes from npm")
    prefix.mkdir(parents=True, exist_ok=True)
    log(f"installing autocannon@{AUTOCANNON_VERSION} into {prefix}")
    subprocess.run(
        ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
         "--loglevel=error", f"autocannon@{AUTOCANNON_VERSION}"],
        check=True,
    )
    if not binary.exists():
        die(f"npm install left no {binary}")
    return str(binary)


# ---------------------------------------------------------------- the catalog


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def seed(db_path: Path, now: dt.datetime) -> dict:
    """Seeds the catalog; returns the ids the pages are loaded with."""
    started = time.monotonic()
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("PRAGMA journal_mode = WAL")
    cur = con.cursor()
    n_before = cur.execute("SELECT COUNT(*) FROM backups").fetchone()[0]
    if n_before:
        die(f"the catalog at {db_path} already holds {n_before} backups")
    created = iso(now - dt.timedelta(days=400))
    ts = "strftime('%Y-%m-%dT%H:%M:%S+00:00', :now, '-' || (n * :gap) || ' hours', '-' || (d * 7) || ' minutes')"
    fin = (
        "strftime('%Y-%m-%dT%H:%M:%S+00:00', :now, '-' || (n * :gap) || ' hours', "
        "'-' || (d * 7) || ' minutes', '+' || (dur_ms / 1000) || ' seconds')"
    )
    params = {"now": iso(now), "gap": HOURS_BETWEEN_BACKUPS, "created": created,
              "servers": SERVERS, "dbs": DATABASES_PER_SERVER,
              "per_db": BACKUPS_PER_DATABASE - 1,
              # Nothing is due while the load runs (see the module docs).
              "slot": iso(now + dt.timedelta(days=2))}
    with con:
        # Port 1 on loopback refuses at once: discovery at start fails fast
        # and no page rendered on the server connects to PostgreSQL.
        cur.execute(
            """WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :servers)
               INSERT INTO servers (id, name, host, port, username, created_at, updated_at)
               SELECT i, 'srv' || i, '127.0.0.1', 1, 'pgshelf', :created, :created FROM s""",
            params,
        )
        cur.execute(
            """WITH RECURSIVE d(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM d WHERE j < :dbs)
               INSERT INTO known_databases (server_id, name, size_bytes, first_seen, last_seen)
               SELECT s.id, 'db' || j, ((s.id * 7 + j * 13) % 50 + 1) * 40000000, :created, :now
                 FROM servers s, d""",
            params,
        )
        cur.execute(
            """INSERT INTO schedule_state (server_id, database, last_slot)
               SELECT server_id, name, :slot FROM known_databases
               UNION ALL SELECT id, '', :slot FROM servers""",
            params,
        )
        cur.execute(
            """INSERT INTO test_restore_state (server_id, database, last_slot)
               SELECT server_id, name, :slot FROM known_databases""",
            params,
        )
        # One row per (backup number n, database): n = 0 is the newest.
        # ids grow with time, as a real catalog's do. Sizes differ per
        # database (base) and grow towards today; every 37th run failed,
        # every 53rd is suspect; backups older than 60 runs are pruned.
        cur.execute(
            f"""WITH RECURSIVE b(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM b WHERE n < :per_db),
               k AS (SELECT server_id, name, CAST(substr(name, 3) AS INTEGER) AS d,
                            ((server_id * 7 + CAST(substr(name, 3) AS INTEGER) * 13) % 50 + 1) * 2000000 AS base
                       FROM known_databases),
               r AS (SELECT k.server_id AS sid, k.name AS db, k.d AS d, b.n AS n,
                            CASE WHEN (n + k.server_id + k.d) % 37 = 0 THEN 'failed'
                                 WHEN (n + k.server_id + k.d) % 53 = 0 THEN 'suspect'
                                 ELSE 'verified' END AS status,
                            k.base * (400 - n) / 400 + ((n * 7919 + k.server_id * 104729) % 1000) * 1000 AS stored,
                            20000 + ((n * 31 + k.server_id * 17 + k.d) % 600) * 1000 AS dur_ms,
                            ROW_NUMBER() OVER (ORDER BY n DESC, k.server_id, k.d) AS id
                       FROM b, k)
               INSERT INTO backups (id, server_id, server_name, database, kind, status, trigger, queued_at,
                                    started_at, finished_at, duration_ms, raw_bytes, stored_bytes, format,
                                    destination, location, pg_dump_version, server_version, compression,
                                    cause, stderr_tail, verification, tiers, pruned_at, manifest)
               SELECT id, sid, 'srv' || sid, db, 'database', status, 'schedule', {ts}, {ts}, {fin}, dur_ms,
                      CASE WHEN status = 'failed' THEN 0 ELSE stored * 3 END,
                      CASE WHEN status = 'failed' THEN 0 ELSE stored END,
                      'custom', 'local',
                      CASE WHEN status = 'failed' THEN NULL
                           ELSE 'srv' || sid || '/' || db || '/' || strftime('%Y%m%dT%H%M%SZ', {ts}) || '-' || id || '/' END,
                      '16.4', '16.4', 'zstd:3',
                      CASE WHEN status = 'failed' THEN
                          'pg_dump exited with status 1: connection to server at "127.0.0.1", port 5432 failed: '
                          || 'Connection refused. Fix: check that PostgreSQL is running and accepts TCP connections.' END,
                      CASE WHEN status = 'failed' THEN
                          'pg_dump: error: connection to server at "127.0.0.1", port 5432 failed: Connection refused' END,
                      CASE WHEN status = 'suspect' THEN 'stored size is 2.6x the median of the previous 5 backups' END,
                      CASE WHEN status = 'failed' OR n >= 60 THEN NULL
                           WHEN n < 20 THEN 'daily' WHEN n < 45 THEN 'daily,weekly' ELSE 'monthly' END,
                      CASE WHEN n >= 60 THEN strftime('%Y-%m-%dT%H:%M:%S+00:00', :now, '-' || ((n - 60) * :gap) || ' hours') END,
                      CASE WHEN status = 'failed' THEN NULL ELSE json_object(
                          'pgshelf_manifest', 1, 'backup_id', id, 'kind', 'database',
                          'server', 'srv' || sid, 'database', db, 'source', '127.0.0.1:5432',
                          'started_at', {ts}, 'finished_at', {fin},
                          'format', 'custom', 'compression', 'zstd:3',
                          'server_version', '16.4', 'pg_dump_version', '16.4',
                          'snapshot', '00000003-0000001B-1',
                          'files', json_array(json_object('path', 'dump.zst', 'size', stored,
                              'sha256', printf('%064x', id * 2654435761), 'raw_size', stored * 3)),
                          'tables', json_array(
                              json_object('schema', 'public', 'name', 'orders', 'kind', 'table',
                                          'bytes', stored * 2 / 3, 'rows', stored / 120, 'rows_from', 'dump'),
                              json_object('schema', 'public', 'name', 'order_lines', 'kind', 'table',
                                          'bytes', stored * 5 / 4, 'rows', stored / 60, 'rows_from', 'dump'),
                              json_object('schema', 'public', 'name', 'customers', 'kind', 'table',
                                          'bytes', stored / 4, 'rows', stored / 400, 'rows_from', 'dump'),
                              json_object('schema', 'public', 'name', 'events', 'kind', 'partitioned',
                                          'bytes', stored / 2 + (n % 5) * 100000, 'rows', stored / 90, 'rows_from', 'dump'),
                              json_object('schema', 'audit', 'name', 'log', 'kind', 'table',
                                          'bytes', 3000000 + n * 1000, 'rows', 20000 + n * 10, 'rows_from', 'dump'),
                              json_object('schema', 'public', 'name', 'settings', 'kind', 'table',
                                          'bytes', 16384, 'rows', 42, 'rows_from', 'dump')),
                          'large_objects', 0, 'warnings', json_array(), 'policy', NULL,
                          'restore', 'zstd -d dump.zst -o ' || db || '.dump && pg_restore --no-owner -d ' || db || ' ' || db || '.dump')
                      END
                 FROM r""",
            params,
        )
        cur.execute(
            """INSERT INTO backup_copies (backup_id, destination, status, dir, bytes, attempts, updated_at)
               SELECT id, 'local', 'complete', location, stored_bytes, 1, finished_at
                 FROM backups WHERE status <> 'failed' AND pruned_at IS NULL"""
        )
        cur.execute(
            """INSERT INTO backup_copies (backup_id, destination, status, dir, bytes, attempts, updated_at)
               SELECT id, 'local', 'pruned', location, stored_bytes, 1, pruned_at
                 FROM backups WHERE status <> 'failed' AND pruned_at IS NOT NULL"""
        )
    con.execute("ANALYZE")
    counts = {
        "backups": cur.execute("SELECT COUNT(*) FROM backups").fetchone()[0],
        "servers": cur.execute("SELECT COUNT(*) FROM servers").fetchone()[0],
        "backup_tables": cur.execute("SELECT COUNT(*) FROM backup_tables").fetchone()[0],
    }
    # The pages: server 1's first database, and its newest good backup.
    server_id, database = cur.execute(
        "SELECT server_id, name FROM known_databases ORDER BY server_id, name LIMIT 1"
    ).fetchone()
    backup_id = cur.execute(
        "SELECT MAX(id) FROM backups WHERE server_id = ? AND database = ? AND status = 'verified'",
        (server_id, database),
    ).fetchone()[0]
    con.close()
    log(
        f"seeded {counts['backups']:,} backups on {counts['servers']} servers "
        f"({counts['backup_tables']:,} backup_tables rows) in {time.monotonic() - started:.1f} s"
    )
    return {"counts": counts, "server_id": server_id, "database": database, "backup_id": backup_id}


# ---------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        return None


def http(url: str, *, data: bytes | None = None, headers: dict | None = None, timeout: float = 30):
    """(status, headers, body) without following redirects."""
    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class Server:
    """`pgshelf serve` in the bench's temporary directory."""

    def __init__(self, binary: Path, env: dict, workdir: Path, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = workdir / "pgshelf.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(binary), "serve"], cwd=workdir, env=env,
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                die(f"pgshelf serve exited ({self.proc.returncode}) before /healthz answered:\n{self.logs()[-4000:]}")
            try:
                status, _, _ = http(self.base + "/healthz", timeout=2)
                if status == 200:
                    return
                last = f"HTTP {status}"
            except OSError as e:
                last = str(e)
            time.sleep(0.1)
        die(f"/healthz did not answer 200 in {timeout:.0f} s (last: {last}):\n{self.logs()[-4000:]}")

    def sign_in(self) -> str:
        """Creates the first admin through the printed setup link; returns
        the `pgshelf_session=...` cookie."""
        m = None
        for _ in range(50):
            m = re.search(r"/setup\?token=([0-9a-f]+)", self.logs())
            if m:
                break
            time.sleep(0.1)
        if not m:
            die(f"pgshelf printed no setup link:\n{self.logs()[-4000:]}")
        body = urllib.parse.urlencode(
            {"token": m.group(1), "username": ADMIN_USER, "password": ADMIN_PASSWORD}
        ).encode()
        status, headers, text = http(
            self.base + "/api/auth/setup", data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": self.base},
        )
        for c in headers.get_all("Set-Cookie") or []:
            first = c.split(";", 1)[0]
            if first.startswith("pgshelf_session=") and len(first) > len("pgshelf_session="):
                return first
        die(f"setup gave no session (HTTP {status}): {text[:500]!r}")
        return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


# ---------------------------------------------------------------- the load


def autocannon(binary: str, url: str, cookie: str, clients: int, seconds: int, timeout: int) -> dict:
    cmd = [binary, "-j", "-c", str(clients), "-d", str(seconds), "-t", str(timeout),
           "-H", f"Cookie={cookie}", url]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + timeout + 120)
    if r.returncode != 0:
        die(f"autocannon failed ({r.returncode}): {r.stderr[-2000:]}")
    try:
        return json.loads(r.stdout)
    except json.JSONDecodeError:
        die(f"autocannon printed no JSON: {r.stdout[-2000:]} {r.stderr[-2000:]}")
    return {}


def load_page(binary: str, base: str, name: str, path: str, cookie: str, clients: int,
              seconds: int, warmup: int, timeout: int) -> dict:
    url = base + path
    status, _, body = http(url, headers={"Cookie": cookie}, timeout=60)
    if status != 200:
        die(f"GET {path} answered {status}, not 200: {body[:500]!r}")
    if b'data-hydrated' not in body:
        die(f"GET {path} is not the dashboard's page: {body[:500]!r}")
    # One client alone, for comparison: the median of 5 requests in a row.
    solo = []
    for _ in range(5):
        t = time.monotonic()
        status, _, _ = http(url, headers={"Cookie": cookie}, timeout=60)
        solo.append((time.monotonic() - t) * 1000)
        if status != 200:
            die(f"GET {path} answered {status}, not 200")
    solo_ms = round(sorted(solo)[2], 1)
    if warmup > 0:
        autocannon(binary, url, cookie, clients, warmup, timeout)
    res = autocannon(binary, url, cookie, clients, seconds, timeout)
    if res["requests"]["total"] == 0:
        die(f"no request to {path} completed in {seconds} s: give it longer (--duration)")
    lat = res["latency"]
    row = {
        "name": name,
        "path": path,
        "p50_ms": lat["p50"],
        "p99_ms": lat["p99"],
        "mean_ms": round(lat["average"], 2),
        "max_ms": lat["max"],
        "rps": round(res["requests"]["average"], 1),
        "requests": res["requests"]["total"],
        "non2xx": res.get("non2xx", 0),
        "errors": res.get("errors", 0),
        "timeouts": res.get("timeouts", 0),
        "html_bytes": len(body),
        "solo_ms": solo_ms,
    }
    log(
        f"{name:9} {path}: alone {solo_ms} ms; under load p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, "
        f"{row['rps']} req/s, non-2xx {row['non2xx']}, errors {row['errors']}"
    )
    return row


# ---------------------------------------------------------------- the bundle


def bundle_sizes(site: Path) -> dict:
    pkg = site / "pkg"
    wasm = sorted(pkg.glob("*.wasm"))
    if not wasm:
        die(f"no .wasm under {pkg}: build the site first (cargo leptos build)")
    data = wasm[0].read_bytes()
    out = {
        "file": str(wasm[0]),
        "raw_bytes": len(data),
        "gzip_bytes": len(gzip.compress(data, compresslevel=9)),
    }
    js = sorted(p for p in pkg.glob("*.js"))
    if js:
        jsdata = js[0].read_bytes()
        out["js_raw_bytes"] = len(jsdata)
        out["js_gzip_bytes"] = len(gzip.compress(jsdata, compresslevel=9))
    return out


# ---------------------------------------------------------------- main


def interrupted(_signum, _frame) -> None:
    """SIGTERM ends the bench like Ctrl-C: the server is stopped first."""
    raise KeyboardInterrupt


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="target/release/pgshelf", help="the pgshelf binary")
    ap.add_argument("--site", default="target/site", help="the built site (its pkg/ holds the wasm)")
    ap.add_argument("--out", required=True, help="where to write the JSON results")
    ap.add_argument("--clients", type=int, default=20, help="concurrent connections (20)")
    ap.add_argument("--duration", type=int, default=10, help="measured seconds per page (10)")
    ap.add_argument("--warmup", type=int, default=3, help="warm-up seconds per page (3)")
    ap.add_argument("--timeout", type=int, default=30,
                    help="seconds before a request counts as timed out (30; a debug build is slow)")
    ap.add_argument("--autocannon", help="an autocannon binary (default: the pinned one, installed when missing)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (catalog and log)")
    args = ap.parse_args()

    binary = Path(args.bin).resolve()
    site = Path(args.site).resolve()
    if not binary.exists():
        die(f"{binary} does not exist: build it first (cargo leptos build [--release])")
    bundle = bundle_sizes(site)
    cannon = ensure_autocannon(args.autocannon)

    work = Path(tempfile.mkdtemp(prefix="pgshelf-bench-"))
    data = work / "data"
    port = free_port()
    addr = f"127.0.0.1:{port}"
    # A fresh configuration: no PGSHELF_* from the caller's environment.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGSHELF_")}
    env.update({
        "PGSHELF_DATA": str(data),
        "PGSHELF_LISTEN": addr,
        "LEPTOS_SITE_ADDR": addr,
        "LEPTOS_SITE_ROOT": str(site),
        "PGSHELF_LOG": "info",
        # Discovery runs once at start (every server refuses at once);
        # not again during the load.
        "PGSHELF_DISCOVERY_INTERVAL_SECS": "86400",
    })
    server: Server | None = None
    previous_term = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, interrupted)
    try:
        log(f"working in {work}")
        r = subprocess.run([str(binary), "list", "--json"], cwd=work, env=env,
                           capture_output=True, text=True, timeout=120)
        db_path = data / "pgshelf.db"
        if r.returncode != 0 or not db_path.exists():
            die(f"`pgshelf list --json` did not create {db_path} (exit {r.returncode}): {r.stderr[-2000:]}")
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        seeded = seed(db_path, now)

        server = Server(binary, env, work, port)
        server.wait_ready()
        cookie = server.sign_in()
        # Let the start-up work (discovery of 200 unreachable servers, the
        # first scheduler and notifier ticks) settle before measuring.
        time.sleep(2)

        pages = [
            ("overview", "/"),
            ("database", f"/servers/{seeded['server_id']}/databases/{seeded['database']}"),
            ("backup", f"/backups/{seeded['backup_id']}"),
        ]
        rows = [
            load_page(cannon, server.base, name, path, cookie, args.clients, args.duration,
                      args.warmup, args.timeout)
            for name, path in pages
        ]
        if server.proc.poll() is not None:
            die(f"pgshelf serve exited during the load:\n{server.logs()[-4000:]}")
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        if server is not None:
            server.stop()
        signal.signal(signal.SIGTERM, previous_term)
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    result = {
        "backups": seeded["counts"]["backups"],
        "servers": seeded["counts"]["servers"],
        "clients": args.clients,
        "duration_s": args.duration,
        "binary": str(binary),
        "pages": rows,
        "wasm": bundle,
        "taken_at": now.isoformat(),
        "load_tool": f"autocannon {AUTOCANNON_VERSION}" if not args.autocannon else args.autocannon,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")

    print(f"\n{result['backups']:,} backups on {result['servers']} servers, "
          f"{args.clients} connections, {args.duration} s per page ({binary})\n")
    print("| page     | path                          | alone ms |  p50 ms |  p99 ms |   req/s | non-2xx | HTML KiB |")
    print("|----------|-------------------------------|---------:|--------:|--------:|--------:|--------:|---------:|")
    for p in rows:
        print(f"| {p['name']:<8} | {p['path']:<29} | {p['solo_ms']:>8} | {p['p50_ms']:>7} | {p['p99_ms']:>7} | "
              f"{p['rps']:>7} | {p['non2xx']:>7} | {p['html_bytes'] / 1024:>8.0f} |")
    w = bundle
    print(f"\nwasm {Path(w['file']).name}: {w['raw_bytes'] / 1024:,.0f} KiB raw, "
          f"{w['gzip_bytes'] / 1024:,.0f} KiB gzip -9; JS glue {w.get('js_raw_bytes', 0) / 1024:,.0f} KiB raw, "
          f"{w.get('js_gzip_bytes', 0) / 1024:,.0f} KiB gzip")
    print(f"results in {args.out}")
    bad = [p["name"] for p in rows if p["non2xx"] or p["errors"] or p["timeouts"]]
    if bad:
        log(f"pages with non-2xx answers, errors or timeouts: {', '.join(bad)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
