#!/usr/bin/env python3
"""The work behind `scripts/bench` (run that: it installs and builds first).

Loads TPC-H (tpchgen-cli) and a JSON-heavy app-like dataset into a private
PostgreSQL 18, then times pgshelf against the stock tools, contender by
contender in round-robin order (run 1 of each, then run 2 of each, ...), and
writes BENCHMARKS.md. Python 3.11, standard library only.

Every figure is measured the same way: wall time by this script around the
command (or the whole pipe), user+sys CPU and peak resident set by GNU time
(`/usr/bin/time -f '%e %U %S %M'`, which counts the children a process
waits for, e.g. pgshelf's pg_dump and pg_restore's workers; the peak is the
largest single process of the tree, not a sum). The PostgreSQL server's own
CPU is counted for no contender.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import fcntl
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MAJOR = 18
SERVER_USER = "pgshelf-test"  # the unprivileged user testkit also runs postgres as under root
PASSWORD = "pgshelf-bench-pw"
LOADER_VERSION = 1  # bump when a loader changes: kept databases of another version are loaded again
TPCH_TABLES = ["region", "nation", "part", "supplier", "partsupp", "customer", "orders", "lineitem"]
T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"bench [{time.monotonic() - T0:6.0f}s] {msg}", flush=True)


def die(msg: str) -> None:
    raise SystemExit(f"bench: ERROR {msg}")


# --------------------------------------------------------------------------
# Cleanup: servers stopped and temp dirs removed on exit, errors and Ctrl-C
# --------------------------------------------------------------------------

class Cleanup:
    def __init__(self) -> None:
        self.steps: list[tuple[str, object]] = []
        self.done = False

    def add(self, what: str, fn) -> None:
        self.steps.append((what, fn))

    def run(self) -> None:
        if self.done:
            return
        self.done = True
        try:  # a second Ctrl-C must not cut the cleanup short
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:  # not the main thread
            pass
        for what, fn in reversed(self.steps):
            try:
                fn()
            except BaseException as e:  # keep going: every step gets its chance
                try:
                    print(f"bench: cleanup: {what} failed: {e!r}", file=sys.stderr)
                except BaseException:  # e.g. stderr is a closed pipe
                    pass


CLEANUP = Cleanup()


def on_signal(signum, _frame):
    raise SystemExit(128 + signum)


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------

def tools_dir() -> Path:
    t = os.environ.get("PGSHELF_TOOLS")
    return Path(t) if t else Path.home() / ".cache" / "pgshelf"


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment without PG* and PGSHELF_* settings (so neither
    pg_dump nor pgshelf picks up the caller's), plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("PG") or k.startswith("PGSHELF_") or k.startswith("LEPTOS_"))}
    env.update(extra or {})
    return env


def run(argv, *, env=None, input=None, cwd=None, check=True, quiet=False) -> subprocess.CompletedProcess:
    p = subprocess.run([str(a) for a in argv], env=env, input=input, cwd=cwd,
                       capture_output=True, text=True)
    if check and p.returncode != 0:
        die(f"{' '.join(shlex.quote(str(a)) for a in argv)} exited {p.returncode}\n{p.stderr.strip()}\n{p.stdout.strip()[-2000:]}")
    return p


def fmt_sf(sf: float) -> str:
    return f"{sf:g}"


def db_suffix(sf: float) -> str:
    return "s" + fmt_sf(sf).replace(".", "_")


def du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            total += os.lstat(os.path.join(root, f)).st_size
    return total


def mib(n: float | None) -> str:
    """A byte count in binary units: B under 1 KiB, KiB under 1 MiB, else MiB."""
    if n is None:
        return "n/a"
    if n < 1024:
        return f"{n:.0f} B"
    if n < 2**20:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 2**20:,.1f} MiB" if n < 100 * 2**20 else f"{n / 2**20:,.0f} MiB"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def cell(text: str) -> str:
    """Text for a Markdown table cell (a literal | would end the cell)."""
    return text.replace("|", "\\|")


def secs(s: float | None) -> str:
    if s is None:
        return "n/a"
    return f"{s:.2f} s" if s < 10 else f"{s:.1f} s"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reachable_by_others(path: Path) -> bool:
    """Whether another (unprivileged) user can reach `path`: o+x on every directory above it."""
    p = path.resolve()
    for d in [p, *p.parents]:
        try:
            if not d.stat().st_mode & 0o001:
                return False
        except FileNotFoundError:
            continue
    return True


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------

class Timed:
    """One run of a contender: wall, CPU (user+sys), peak RSS of the measured
    process tree, size of what it wrote, and extras."""

    def __init__(self, wall, cpu, rss_kb, size=None, **extra):
        self.wall, self.cpu, self.rss_kb, self.size = wall, cpu, rss_kb, size
        self.extra = extra


def read_time_file(path: Path) -> tuple[float, int]:
    """(user+sys seconds, peak RSS KiB) from GNU time's -f '%e %U %S %M' output."""
    # GNU time writes "Command exited with non-zero status N" first on failure.
    last = [ln for ln in path.read_text().splitlines() if ln.strip()][-1]
    _e, u, s, m = last.split()
    return float(u) + float(s), int(m)


def timed(argv, *, env, tmp: Path, stdout=None, cwd=None, what="") -> tuple[Timed, str, str]:
    """Runs argv under GNU time; stdout to the given file object or captured."""
    tfile = tmp / "time.txt"
    full = ["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(tfile), *[str(a) for a in argv]]
    t = time.monotonic()
    p = subprocess.run(full, env=env, cwd=cwd, stdout=stdout if stdout is not None else subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t
    if p.returncode != 0:
        die(f"{what or argv[0]}: {' '.join(shlex.quote(str(a)) for a in argv)} exited {p.returncode}\n"
            f"{(p.stderr or '').strip()[-3000:]}")
    cpu, rss = read_time_file(tfile)
    return Timed(wall, cpu, rss), (p.stdout or "") if stdout is None else "", p.stderr or ""


def timed_pipe(argv1, argv2, *, env, tmp: Path, out_path: Path, what="") -> Timed:
    """argv1 | argv2 > out_path, built from two processes (no shell), each under GNU time."""
    t1, t2 = tmp / "time1.txt", tmp / "time2.txt"
    with open(out_path, "wb") as out:
        t = time.monotonic()
        p1 = subprocess.Popen(["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(t1), *map(str, argv1)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p2 = subprocess.Popen(["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(t2), *map(str, argv2)],
                              env=env, stdin=p1.stdout, stdout=out, stderr=subprocess.PIPE)
        p1.stdout.close()  # p2 holds the only read end: p1 sees EPIPE if p2 dies
        err2 = p2.stderr.read()
        err1 = p1.stderr.read()
        rc2, rc1 = p2.wait(), p1.wait()
        wall = time.monotonic() - t
    if rc1 or rc2:
        die(f"{what}: pipe exited {rc1}|{rc2}\n{err1.decode(errors='replace')[-2000:]}\n{err2.decode(errors='replace')[-2000:]}")
    c1, m1 = read_time_file(t1)
    c2, m2 = read_time_file(t2)
    return Timed(wall, c1 + c2, max(m1, m2))


# --------------------------------------------------------------------------
# PostgreSQL 18: where it lives, and a private server
# --------------------------------------------------------------------------

def pg_bin_dir() -> Path:
    """As testkit::bin_dir: $PGSHELF_TEST_PG_18_BIN, /usr/lib/postgresql/18/bin,
    ${PGSHELF_TOOLS:-~/.cache/pgshelf}/pg/18/*/bin (newest first)."""
    env = os.environ.get(f"PGSHELF_TEST_PG_{MAJOR}_BIN")
    if env:
        return Path(env)
    cands = [Path(f"/usr/lib/postgresql/{MAJOR}/bin")]
    root = tools_dir() / "pg" / str(MAJOR)
    if root.is_dir():
        cands += sorted((p / "bin" for p in root.iterdir()), reverse=True)
    for d in cands:
        if (d / "postgres").is_file() and (d / "pg_dump").is_file():
            return d
    die(f"PostgreSQL {MAJOR} not found (looked at {', '.join(map(str, cands))}); "
        f"install it with `scripts/setup --pg {MAJOR}`")


class Server:
    """A PostgreSQL server in `run_dir` (data/, sock/, postgres.log), started
    with pg_ctl as the unprivileged SERVER_USER when we are root."""

    def __init__(self, bin_dir: Path, base: Path):
        self.bin_dir = bin_dir  # client tools: pg_dump, pg_restore, psql (run as us)
        self.base = base
        self.run_as = None
        if os.geteuid() == 0:
            self.run_as = self._server_user()
        self.server_bin = self._reachable_bin(bin_dir)
        self.run_dir = base / "run"
        self.data = self.run_dir / "data"
        self.sock = self.run_dir / "sock"
        self.log_path = self.run_dir / "postgres.log"
        self.port = 0
        self.started = False

    # -- the user and the binaries ----------------------------------------

    @staticmethod
    def _server_user():
        try:
            return pwd.getpwnam(SERVER_USER)
        except KeyError:
            run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER], check=False)
            return pwd.getpwnam(SERVER_USER)

    def _reachable_bin(self, bin_dir: Path) -> Path:
        if self.run_as is None or reachable_by_others(bin_dir / "postgres"):
            return bin_dir
        # Mirror the installation with hard links where SERVER_USER can reach it (as testkit does).
        real = bin_dir.resolve()
        dest = self.base / "pgbin" / real.parent.name
        if not (dest / real.name / "postgres").is_file():
            tmp = self.base / "pgbin" / f".build-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp.parent, 0o755)
            if subprocess.run(["cp", "-al", str(real.parent), str(tmp)], stderr=subprocess.DEVNULL).returncode != 0:
                shutil.rmtree(tmp, ignore_errors=True)
                run(["cp", "-a", real.parent, tmp])
            os.chmod(tmp, 0o755)
            try:
                os.rename(tmp, dest)
            except OSError:
                shutil.rmtree(tmp, ignore_errors=True)
        return dest / real.name

    def _env(self) -> dict[str, str]:
        env = clean_env()
        lib = self.server_bin.parent / "lib"
        if (lib / "libpq.so.5").exists():
            env["LD_LIBRARY_PATH"] = str(lib) + (":" + os.environ["LD_LIBRARY_PATH"] if os.environ.get("LD_LIBRARY_PATH") else "")
        return env

    def _as_server(self, argv) -> list[str]:
        argv = [str(a) for a in argv]
        if self.run_as is None:
            return argv
        runuser = next((p for p in ("/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser") if Path(p).is_file()), "runuser")
        return [runuser, "-u", SERVER_USER, "--", *argv]

    def _chown(self, path: Path) -> None:
        if self.run_as is not None:
            os.chown(path, self.run_as.pw_uid, self.run_as.pw_gid)

    # -- lifecycle ----------------------------------------------------------

    def sweep(self) -> None:
        """Stops a server a killed bench left in run_dir, and removes run_dir."""
        if not self.run_dir.exists():
            return
        pidfile = self.data / "postmaster.pid"
        if pidfile.exists():
            log(f"a previous bench left a server in {self.run_dir}: stopping it")
            run(self._as_server([self.server_bin / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"]),
                env=self._env(), check=False)
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def prepare_run_dir(self) -> None:
        self.run_dir.mkdir(parents=True)
        os.chmod(self.run_dir, 0o711)
        self.sock.mkdir()
        os.chmod(self.sock, 0o700)
        self._chown(self.sock)

    def initdb(self) -> None:
        pwfile = self.run_dir / "pw"
        pwfile.write_text(PASSWORD + "\n")
        os.chmod(pwfile, 0o644)
        self.data.mkdir()
        os.chmod(self.data, 0o700)
        self._chown(self.data)
        run(self._as_server([self.server_bin / "initdb", "-D", self.data, "-U", "postgres",
                             "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                             "--no-locale", "-N", f"--pwfile={pwfile}"]), env=self._env())
        pwfile.unlink()

    def start(self) -> None:
        logf = self.log_path
        logf.touch()
        self._chown(logf)
        last = ""
        for _attempt in range(5):
            self.port = free_port()
            opts = " ".join([
                f"-k {self.sock}", f"-p {self.port}", "-c listen_addresses=127.0.0.1",
                "-c fsync=off", "-c full_page_writes=off", "-c synchronous_commit=off",
                # wal_level=minimal: COPY into a table truncated in the same transaction skips WAL.
                "-c wal_level=minimal", "-c max_wal_senders=0", "-c max_wal_size=8GB",
                "-c checkpoint_timeout=30min", "-c shared_buffers=512MB", "-c max_connections=40",
            ])
            # pg_ctl starts postgres in its own session: Ctrl-C on the bench does not reach it;
            # the bench stops it on its way out.
            p = run(self._as_server([self.server_bin / "pg_ctl", "-D", self.data, "-l", logf, "-w", "-t", "120",
                                     "-o", opts, "start"]), env=self._env(), check=False)
            if p.returncode == 0:
                self.started = True
                return
            last = logf.read_text()[-3000:]
            if "could not bind" not in last and "already in use" not in last:
                break
        die(f"PostgreSQL {MAJOR} did not start:\n{last}")

    def stop(self) -> None:
        if not self.started:
            return
        run(self._as_server([self.server_bin / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "60", "stop"]),
            env=self._env(), check=False)
        self.started = False

    # -- clients ------------------------------------------------------------

    def client_env(self) -> dict[str, str]:
        return clean_env({"PGPASSWORD": PASSWORD})

    def conn(self, db: str) -> str:
        """What pgshelf uses too: TCP on loopback with the password, no TLS."""
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={db} sslmode=disable"

    def url(self, db: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}?sslmode=disable"

    def psql(self, db: str, sql: str | None = None, *, script: str | None = None, check=True) -> str:
        argv = [self.bin_dir / "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-h", self.sock, "-p", str(self.port), "-U", "postgres", "-d", db]
        if sql is not None:
            argv += ["-c", sql]
        else:
            argv += ["-f", "-"]
        p = run(argv, env=clean_env(), input=script, check=check)
        return p.stdout.strip()

    def psql_popen(self, db: str, script: str) -> subprocess.Popen:
        argv = [str(self.bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                "-h", str(self.sock), "-p", str(self.port), "-U", "postgres", "-d", db, "-f", "-"]
        p = subprocess.Popen(argv, env=clean_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        p.stdin.write(script)
        p.stdin.close()
        return p

    def databases(self) -> set[str]:
        return set(self.psql("postgres", "SELECT datname FROM pg_database").split())

    def drop_db(self, name: str) -> None:
        self.psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def create_db(self, name: str) -> None:
        self.drop_db(name)
        self.psql("postgres", f'CREATE DATABASE "{name}"')

    def db_size(self, name: str) -> int:
        return int(self.psql("postgres", f"SELECT pg_database_size('{name}')"))


def run_parallel(server: Server, db: str, scripts: list[tuple[str, str]], workers: int = 2) -> None:
    """Runs (label, psql script) pairs, `workers` sessions at a time, in the order given."""
    queue = list(scripts)
    running: list[tuple[str, subprocess.Popen]] = []
    while queue or running:
        while queue and len(running) < workers:
            label, script = queue.pop(0)
            running.append((label, server.psql_popen(db, script)))
        time.sleep(0.05)
        for item in list(running):
            label, p = item
            if p.poll() is not None:
                running.remove(item)
                err = p.stderr.read()
                if p.returncode != 0:
                    for _l, q in running:
                        q.kill()
                    die(f"loading {db}: {label} failed:\n{err.strip()}")


# --------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------

TPCH_DDL = """
CREATE TABLE region (r_regionkey integer NOT NULL, r_name char(25) NOT NULL, r_comment varchar(152));
CREATE TABLE nation (n_nationkey integer NOT NULL, n_name char(25) NOT NULL, n_regionkey integer NOT NULL,
  n_comment varchar(152));
CREATE TABLE part (p_partkey integer NOT NULL, p_name varchar(55) NOT NULL, p_mfgr char(25) NOT NULL,
  p_brand char(10) NOT NULL, p_type varchar(25) NOT NULL, p_size integer NOT NULL, p_container char(10) NOT NULL,
  p_retailprice numeric(15,2) NOT NULL, p_comment varchar(23) NOT NULL);
CREATE TABLE supplier (s_suppkey integer NOT NULL, s_name char(25) NOT NULL, s_address varchar(40) NOT NULL,
  s_nationkey integer NOT NULL, s_phone char(15) NOT NULL, s_acctbal numeric(15,2) NOT NULL,
  s_comment varchar(101) NOT NULL);
CREATE TABLE partsupp (ps_partkey integer NOT NULL, ps_suppkey integer NOT NULL, ps_availqty integer NOT NULL,
  ps_supplycost numeric(15,2) NOT NULL, ps_comment varchar(199) NOT NULL);
CREATE TABLE customer (c_custkey integer NOT NULL, c_name varchar(25) NOT NULL, c_address varchar(40) NOT NULL,
  c_nationkey integer NOT NULL, c_phone char(15) NOT NULL, c_acctbal numeric(15,2) NOT NULL,
  c_mktsegment char(10) NOT NULL, c_comment varchar(117) NOT NULL);
CREATE TABLE orders (o_orderkey bigint NOT NULL, o_custkey integer NOT NULL, o_orderstatus char(1) NOT NULL,
  o_totalprice numeric(15,2) NOT NULL, o_orderdate date NOT NULL, o_orderpriority char(15) NOT NULL,
  o_clerk char(15) NOT NULL, o_shippriority integer NOT NULL, o_comment varchar(79) NOT NULL);
CREATE TABLE lineitem (l_orderkey bigint NOT NULL, l_partkey integer NOT NULL, l_suppkey integer NOT NULL,
  l_linenumber integer NOT NULL, l_quantity numeric(15,2) NOT NULL, l_extendedprice numeric(15,2) NOT NULL,
  l_discount numeric(15,2) NOT NULL, l_tax numeric(15,2) NOT NULL, l_returnflag char(1) NOT NULL,
  l_linestatus char(1) NOT NULL, l_shipdate date NOT NULL, l_commitdate date NOT NULL, l_receiptdate date NOT NULL,
  l_shipinstruct char(25) NOT NULL, l_shipmode char(10) NOT NULL, l_comment varchar(44) NOT NULL);
"""

TPCH_PKEYS = [
    ("lineitem", "ALTER TABLE lineitem ADD PRIMARY KEY (l_orderkey, l_linenumber);"),
    ("orders", "ALTER TABLE orders ADD PRIMARY KEY (o_orderkey);"),
    ("partsupp", "ALTER TABLE partsupp ADD PRIMARY KEY (ps_partkey, ps_suppkey);"),
    ("small", """ALTER TABLE part ADD PRIMARY KEY (p_partkey);
ALTER TABLE customer ADD PRIMARY KEY (c_custkey);
ALTER TABLE supplier ADD PRIMARY KEY (s_suppkey);
ALTER TABLE nation ADD PRIMARY KEY (n_nationkey);
ALTER TABLE region ADD PRIMARY KEY (r_regionkey);"""),
]

TPCH_AFTER = [
    ("lineitem fks", """ALTER TABLE lineitem ADD FOREIGN KEY (l_orderkey) REFERENCES orders;
ALTER TABLE lineitem ADD FOREIGN KEY (l_partkey, l_suppkey) REFERENCES partsupp;"""),
    ("index lineitem", "CREATE INDEX lineitem_l_orderkey_idx ON lineitem (l_orderkey);"),
    ("other fks", """ALTER TABLE orders ADD FOREIGN KEY (o_custkey) REFERENCES customer;
ALTER TABLE partsupp ADD FOREIGN KEY (ps_partkey) REFERENCES part;
ALTER TABLE partsupp ADD FOREIGN KEY (ps_suppkey) REFERENCES supplier;
ALTER TABLE customer ADD FOREIGN KEY (c_nationkey) REFERENCES nation;
ALTER TABLE supplier ADD FOREIGN KEY (s_nationkey) REFERENCES nation;
ALTER TABLE nation ADD FOREIGN KEY (n_regionkey) REFERENCES region;"""),
    ("index orders", "CREATE INDEX orders_o_custkey_idx ON orders (o_custkey);"),
]


def load_tpch(server: Server, db: str, sf: float, tpchgen: Path, tmp: Path) -> None:
    gen = tmp / f"tpch-{db}"
    shutil.rmtree(gen, ignore_errors=True)
    t = time.monotonic()
    run([tpchgen, "csv", "-s", fmt_sf(sf), f"--output-dir={gen}", "--quiet"])
    raw = du(gen)
    log(f"  tpchgen-cli csv -s {fmt_sf(sf)}: {mib(raw)} of CSV in {time.monotonic() - t:.1f} s")
    server.create_db(db)
    server.psql(db, script=TPCH_DDL)
    t = time.monotonic()
    tables = sorted(TPCH_TABLES, key=lambda n: -(gen / f"{n}.csv").stat().st_size)
    # TRUNCATE in the loading transaction lets COPY skip WAL (wal_level=minimal).
    # tpchgen's CSV: comma-delimited, a header line, fields quoted where needed.
    run_parallel(server, db, [
        (f"COPY {n}", f"BEGIN;\nTRUNCATE {n};\n\\copy {n} FROM '{gen / (n + '.csv')}' WITH (FORMAT csv, HEADER true)\nCOMMIT;\n")
        for n in tables])
    log(f"  COPY of 8 tables: {time.monotonic() - t:.1f} s")
    shutil.rmtree(gen, ignore_errors=True)
    t = time.monotonic()
    mwm = "SET maintenance_work_mem = '1GB';\n"
    run_parallel(server, db, [(l, mwm + s) for l, s in TPCH_PKEYS])
    run_parallel(server, db, [(l, mwm + s) for l, s in TPCH_AFTER])
    log(f"  primary keys, foreign keys, 2 indexes: {time.monotonic() - t:.1f} s")


# Rows per unit of scale factor, chosen so the JSON database's raw dump is
# about the size of TPC-H's at the same scale factor.
JSON_ROWS = {"events": 1_000_000, "orders_doc": 250_000, "logs": 2_500_000}

JSON_SQL = """
SELECT setseed(0.42);
CREATE TABLE events (id bigint PRIMARY KEY, occurred_at timestamptz NOT NULL, kind text NOT NULL, payload jsonb NOT NULL);
CREATE TABLE orders_doc (id bigint PRIMARY KEY, customer_id integer NOT NULL, created_at timestamptz NOT NULL, doc jsonb NOT NULL);
CREATE TABLE logs (id bigint PRIMARY KEY, logged_at timestamptz NOT NULL, level text NOT NULL, line text NOT NULL);
BEGIN;
TRUNCATE events;
INSERT INTO events
SELECT g, at, kind, jsonb_build_object(
    'event', kind,
    'user_id', (r1 * 50000)::int,
    'session_id', md5((g / 20)::text),
    'occurred_at', to_char(at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
    'properties', jsonb_build_object(
        'path', (ARRAY['/products/', '/cart/', '/checkout/', '/account/', '/search?q='])[1 + (r2 * 4)::int] || (r3 * 5000)::int,
        'referrer', (ARRAY['https://www.google.com/', 'https://news.ycombinator.com/', '', 'https://t.co/', 'https://www.bing.com/'])[1 + (r4 * 4)::int],
        'duration_ms', (r5 * 3000)::int,
        'viewport', jsonb_build_object('width', (ARRAY[1280, 1440, 1920, 390, 414])[1 + (r6 * 4)::int], 'height', (ARRAY[720, 900, 1080, 844, 896])[1 + (r6 * 4)::int])),
    'device', jsonb_build_object(
        'os', (ARRAY['iOS', 'Android', 'Windows', 'macOS', 'Linux'])[1 + (r6 * 4)::int],
        'browser', (ARRAY['Safari', 'Chrome', 'Firefox', 'Edge'])[1 + (r7 * 3)::int],
        'version', (100 + r7 * 30)::int || '.0.' || (r8 * 6000)::int),
    'user_agent', (ARRAY['Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
                         'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
                         'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
                         'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
                         'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0'])[1 + (r6 * 4)::int],
    'ip', '10.' || (r8 * 255)::int || '.' || (r1 * 255)::int || '.' || (r3 * 255)::int,
    'tags', CASE WHEN r2 < 0.5 THEN '["organic"]'::jsonb ELSE '["campaign", "spring-sale"]'::jsonb END)
FROM (SELECT g, timestamptz '2024-01-01 00:00:00+00' + g * interval '3 seconds' AS at,
             (ARRAY['page_view', 'click', 'add_to_cart', 'search', 'login', 'purchase'])[1 + (random() * 5)::int] AS kind,
             random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5, random() AS r6,
             random() AS r7, random() AS r8
        FROM generate_series(1, __EVENTS__) g) s;
COMMIT;
BEGIN;
TRUNCATE orders_doc;
INSERT INTO orders_doc
SELECT g, cust, at, jsonb_build_object(
    'order_id', 'ORD-' || lpad(g::text, 10, '0'),
    'status', (ARRAY['pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded'])[1 + (r1 * 5)::int],
    'currency', (ARRAY['EUR', 'USD', 'GBP'])[1 + (r2 * 2)::int],
    'customer', jsonb_build_object('id', cust, 'email', 'customer' || cust || '@example.com',
                                   'name', (ARRAY['Ana', 'Ben', 'Chloe', 'Dmitri', 'Emma', 'Farid', 'Grace'])[1 + (r3 * 6)::int] || ' ' ||
                                           (ARRAY['Smith', 'Müller', 'García', 'Rossi', 'Dubois', 'Nowak'])[1 + (r4 * 5)::int],
                                   'vip', r5 < 0.1),
    'items', (SELECT jsonb_agg(jsonb_build_object(
                  'sku', 'SKU-' || lpad(((random() * 20000)::int)::text, 6, '0'),
                  'name', (ARRAY['Widget', 'Gadget', 'Gizmo', 'Doohickey', 'Sprocket'])[1 + (random() * 4)::int] || ' ' ||
                          (ARRAY['Pro', 'Mini', 'Max', 'Classic'])[1 + (random() * 3)::int],
                  'quantity', 1 + (random() * 4)::int,
                  'unit_price', round((5 + random() * 195)::numeric, 2)))
                FROM generate_series(1, 1 + (r6 * 5)::int + 0 * g)),
    'shipping', jsonb_build_object(
        'method', (ARRAY['standard', 'express', 'pickup'])[1 + (r2 * 2)::int],
        'address', jsonb_build_object('street', (r7 * 200)::int || ' ' || (ARRAY['Main Street', 'Station Road', 'Hauptstraße', 'Rue de la Paix', 'Via Roma'])[1 + (r3 * 4)::int],
                                      'city', (ARRAY['Berlin', 'Paris', 'London', 'Madrid', 'Rome', 'Warsaw', 'Boston'])[1 + (r4 * 6)::int],
                                      'postal_code', lpad(((r7 * 99999)::int)::text, 5, '0'),
                                      'country', (ARRAY['DE', 'FR', 'GB', 'ES', 'IT', 'PL', 'US'])[1 + (r4 * 6)::int])),
    'notes', CASE WHEN r5 < 0.2 THEN 'Please leave the parcel at the door.' ELSE NULL END,
    'created_at', to_char(at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
FROM (SELECT g, 1 + (random() * 49999)::int AS cust, timestamptz '2023-01-01 00:00:00+00' + g * interval '11 seconds' AS at,
             random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5, random() AS r6, random() AS r7
        FROM generate_series(1, __ORDERS_DOC__) g) s;
COMMIT;
BEGIN;
TRUNCATE logs;
INSERT INTO logs
SELECT g, at, level,
       to_char(at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || ' ' || level || ' [worker-' || (r1 * 7)::int || '] '
       || 'request_id=' || md5(g::text) || ' method=' || (ARRAY['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'])[1 + (r2 * 5)::int]
       || ' path=' || (ARRAY['/api/orders', '/api/products', '/api/cart', '/api/session', '/healthz'])[1 + (r3 * 4)::int] || '/' || (r4 * 10000)::int
       || ' status=' || (ARRAY[200, 200, 200, 201, 204, 304, 404, 500])[1 + (r5 * 7)::int]
       || ' duration_ms=' || round((r6 * r6 * 900)::numeric, 1) || ' user_id=' || (r1 * 50000)::int
       || ' bytes=' || (r4 * 40000)::int
  FROM (SELECT g, timestamptz '2024-03-01 00:00:00+00' + g * interval '250 milliseconds' AS at,
               (ARRAY['INFO', 'INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'])[1 + (random() * 6)::int] AS level,
               random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5, random() AS r6
          FROM generate_series(1, __LOGS__) g) s;
COMMIT;
"""

JSON_AFTER = [
    ("index events", "CREATE INDEX events_occurred_at_idx ON events (occurred_at);"),
    ("index orders_doc", "CREATE INDEX orders_doc_customer_idx ON orders_doc (customer_id);"),
]


def load_json(server: Server, db: str, sf: float) -> None:
    server.create_db(db)
    t = time.monotonic()
    rows = {k: max(1, round(v * sf)) for k, v in JSON_ROWS.items()}
    script = JSON_SQL
    for k, v in rows.items():
        script = script.replace(f"__{k.upper()}__", str(v))
    server.psql(db, script=script)
    log(f"  generated {', '.join(f'{k} {v:,}' for k, v in rows.items())} rows: {time.monotonic() - t:.1f} s")
    run_parallel(server, db, [(l, "SET maintenance_work_mem = '1GB';\n" + s) for l, s in JSON_AFTER])


def finish_db(server: Server, db: str) -> None:
    t = time.monotonic()
    # Frozen and analysed: no contender pays for setting hint bits on its first read.
    server.psql(db, "VACUUM (FREEZE, ANALYZE)")
    log(f"  VACUUM (FREEZE, ANALYZE): {time.monotonic() - t:.1f} s")


# --------------------------------------------------------------------------
# The kept server: ~/.cache/pgshelf/bench/kept holds data/ and bench.json
# --------------------------------------------------------------------------

class Place:
    """Where the server runs and where a kept one waits.

    The server runs in `base/run`. `base` is ~/.cache/pgshelf/bench when the
    unprivileged server user can reach it; under root, whose home is closed,
    it is /var/tmp/pgshelf-bench-<uid>. A kept data directory lives in
    ~/.cache/pgshelf/bench/kept/data and is moved (renamed: same filesystem,
    else copied) into the run directory and back."""

    def __init__(self):
        self.cache = tools_dir() / "bench"
        self.cache.mkdir(parents=True, exist_ok=True)
        self.kept = self.cache / "kept"
        if os.geteuid() != 0 or reachable_by_others(self.cache):
            self.base = self.cache
        else:
            self.base = Path(f"/var/tmp/pgshelf-bench-{os.geteuid()}")
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o711)
        self.lock_fd = os.open(self.cache / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            die(f"another scripts/bench is running (lock {self.cache / '.lock'})")

    def kept_marker(self) -> dict:
        try:
            return json.loads((self.kept / "bench.json").read_text())
        except (OSError, ValueError):
            return {}


def move(src: Path, dst: Path) -> None:
    if dst.exists():
        shutil.rmtree(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.stat().st_dev != dst.parent.stat().st_dev:
        log(f"  copying {src} to {dst} (another filesystem)")
    shutil.move(str(src), str(dst))


# --------------------------------------------------------------------------
# pgshelf
# --------------------------------------------------------------------------

class Pgshelf:
    def __init__(self, bin_path: Path, work: Path, pg: Server):
        self.bin = bin_path.resolve()
        self.work = work
        self.env = clean_env({
            "PGSHELF_DATA": str(work / "data"),
            "PGSHELF_LOG": "warn",
            "PGSHELF_PG_BIN_DIRS": str(pg.bin_dir),
            # Every backup kept: retention must not prune the ones the restores read.
            "PGSHELF_MIN_BACKUPS_KEPT": "1000000",
        })
        help_text = run([self.bin, "restore", "--help"], env=self.env, cwd=work).stdout
        self.restore_has_json = "--json" in help_text

    def __call__(self, *args, input=None, check=True) -> subprocess.CompletedProcess:
        return run([self.bin, *args], env=self.env, cwd=self.work, input=input, check=check)

    def backups(self) -> list[dict]:
        return json.loads(self("list", "--json").stdout)

    def backup_record(self, backup_id: int) -> dict:
        for b in self.backups():
            if int(b["id"]) == backup_id:
                return b
        die(f"backup {backup_id} is not in `pgshelf list --json`")


def last_int(text: str) -> int:
    nums = re.findall(r"^\s*(\d+)\s*$", text, re.M)
    if not nums:
        die(f"no backup id in pgshelf's output: {text!r}")
    return int(nums[-1])


# --------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------

class Figures:
    def __init__(self):
        self.runs: dict[tuple[str, str], list[Timed]] = {}
        self.order: list[tuple[str, str]] = []

    def add(self, key: tuple[str, str], t: Timed) -> None:
        if key not in self.runs:
            self.runs[key] = []
            self.order.append(key)
        self.runs[key].append(t)

    def get(self, key) -> list[Timed]:
        return self.runs.get(key, [])

    def med(self, key, attr="wall"):
        vals = [v for v in (getattr(t, attr) if attr in ("wall", "cpu", "rss_kb", "size") else t.extra.get(attr)
                            for t in self.get(key)) if v is not None]
        return statistics.median(vals) if vals else None

    def span(self, key, attr="wall"):
        vals = [v for v in (getattr(t, attr) if attr in ("wall", "cpu", "rss_kb", "size") else t.extra.get(attr)
                            for t in self.get(key)) if v is not None]
        return (min(vals), max(vals)) if vals else None


def fig(f: Figures, key, attr, fmt) -> str:
    m = f.med(key, attr)
    if m is None:
        return "n/a"
    lo, hi = f.span(key, attr)
    if fmt(lo) == fmt(hi):
        return fmt(m)
    return f"{fmt(m)} ({fmt(lo)}–{fmt(hi)})"


def ratio(a, b) -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}×"


def rss_mib(kb) -> str:
    return "n/a" if kb is None else f"{kb / 1024:.0f} MiB"


def main() -> int:
    ap = argparse.ArgumentParser(prog="scripts/bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="the pgshelf binary")
    ap.add_argument("--profile", default="?", help="its build profile (for the report)")
    ap.add_argument("--testkit-bin", required=True, help="directory of testkit's storage-for-e2e")
    ap.add_argument("--tpchgen", required=True, help="the tpchgen-cli executable")
    ap.add_argument("--sf", type=float, default=1.0, help="scale factor (default 1)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each backup contender (default 3)")
    ap.add_argument("--restore-runs", type=int, default=2, help="runs of each restore contender (default 2)")
    ap.add_argument("--mem-sf", type=float, default=0.1,
                    help="second, small scale factor for pgshelf's peak memory (default 0.1; 0 skips)")
    ap.add_argument("--keep", action="store_true", help="keep the loaded server in ~/.cache/pgshelf/bench/kept")
    ap.add_argument("--reuse", action="store_true",
                    help="start from the kept server; databases of another scale factor are loaded (implies --keep)")
    ap.add_argument("--skip-dashboard", action="store_true", help="leave out the dashboard section")
    ap.add_argument("--out", default="BENCHMARKS.md")
    ap.add_argument("--notes", default="scripts/bench-notes.md", help="appended verbatim to the report, if present")
    args = ap.parse_args()
    if args.runs < 1 or args.restore_runs < 1:
        die("--runs and --restore-runs must be at least 1")
    keep = args.keep or args.reuse

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    atexit.register(CLEANUP.run)
    try:
        return bench(args, keep)
    finally:
        CLEANUP.run()


def bench(args, keep: bool) -> int:
    phases: list[tuple[str, float]] = []
    phase_t = [time.monotonic()]

    def phase_done(name: str) -> None:
        now = time.monotonic()
        phases.append((name, now - phase_t[0]))
        phase_t[0] = now

    repo = Path.cwd()
    bin_path = Path(args.bin).resolve()
    if not bin_path.is_file():
        die(f"{bin_path} does not exist (build it: cargo build -p pgshelf)")
    storage_bin = Path(args.testkit_bin).resolve() / "storage-for-e2e"
    if not storage_bin.is_file():
        die(f"{storage_bin} does not exist (cargo build -p testkit --bins)")
    pg_bin = pg_bin_dir()
    place = Place()
    tmp = Path(tempfile.mkdtemp(prefix="pgshelf-bench-"))
    CLEANUP.add(f"remove {tmp}", lambda: shutil.rmtree(tmp, ignore_errors=True))

    server = Server(pg_bin, place.base)
    server.sweep()
    server.prepare_run_dir()

    # ---- the server: kept or new ------------------------------------------
    marker: dict = {"major": MAJOR, "loader": LOADER_VERSION, "databases": {}}

    def put_back() -> None:
        server.stop()
        if keep and (server.data / "PG_VERSION").is_file():
            move(server.data, place.kept / "data")
            (place.kept / "bench.json").write_text(json.dumps(marker, indent=1))
        shutil.rmtree(server.run_dir, ignore_errors=True)
        if keep:
            print(f"bench: kept the server's data in {place.kept / 'data'} (scripts/bench --reuse starts from it)")

    CLEANUP.add("stop PostgreSQL", put_back)
    kept = place.kept_marker()
    if args.reuse and kept.get("major") == MAJOR and kept.get("loader") == LOADER_VERSION \
            and (place.kept / "data" / "PG_VERSION").is_file():
        log(f"reusing the kept server in {place.kept} ({', '.join(sorted(kept.get('databases', {}))) or 'no databases'})")
        move(place.kept / "data", server.data)
        marker = kept
    else:
        if args.reuse:
            log("--reuse: no kept server of this PostgreSQL major and loader version: loading afresh")
        log(f"initdb (PostgreSQL {MAJOR} from {pg_bin})")
        server.initdb()

    server.start()
    log(f"PostgreSQL {server.psql('postgres', 'SHOW server_version')} on port {server.port} "
        f"(data {server.data}, fsync off)")

    # ---- datasets ------------------------------------------------------------
    wanted = [("tpch", args.sf), ("json", args.sf)]
    if args.mem_sf and args.mem_sf != args.sf:
        wanted.append(("tpch", args.mem_sf))
    existing = server.databases()
    # Only what the marker lists as finished counts; anything else is loaded again.
    marker["databases"] = {k: v for k, v in marker.get("databases", {}).items() if k in existing}
    wanted_dbs = {f"{kind}_{db_suffix(sf)}" for kind, sf in wanted}
    for db in sorted(existing - {"postgres", "template0", "template1"} - wanted_dbs):
        log(f"{db}: kept, but not of this scale factor: dropped")
        server.drop_db(db)
        marker["databases"].pop(db, None)
    names = {}
    for kind, sf in wanted:
        db = f"{kind}_{db_suffix(sf)}"
        names[(kind, sf)] = db
        if db in marker["databases"] and db in existing:
            log(f"{db}: kept, {mib(server.db_size(db))}")
            continue
        log(f"loading {db} ({'TPC-H' if kind == 'tpch' else 'JSON documents and log lines'}, scale factor {fmt_sf(sf)})")
        t = time.monotonic()
        if kind == "tpch":
            load_tpch(server, db, sf, Path(args.tpchgen), tmp)
        else:
            load_json(server, db, sf)
        finish_db(server, db)
        marker["databases"][db] = {"kind": kind, "sf": sf, "loaded": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                                   "load_secs": round(time.monotonic() - t, 1)}
        log(f"{db}: {mib(server.db_size(db))} loaded in {time.monotonic() - t:.1f} s")
    tpch, jsondb = names[("tpch", args.sf)], names[("json", args.sf)]
    # Warm the page cache the same for every contender: each table read once.
    for db in (tpch, jsondb):
        tables = server.psql(db, "SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace").split()
        server.psql(db, script="".join(f"SELECT count(*) FROM {t};\n" for t in tables))
    phase_done("load (or reuse) and warm up")

    # ---- storage and pgshelf ---------------------------------------------------
    log("starting the S3 test server (storage-for-e2e)")
    st = subprocess.Popen([str(storage_bin)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, start_new_session=True, cwd=tmp)

    def stop_storage() -> None:
        if st.poll() is None:
            try:
                st.stdin.close()
                st.wait(timeout=20)
            except (subprocess.TimeoutExpired, OSError):
                st.kill()
                st.wait()

    CLEANUP.add("stop storage-for-e2e", stop_storage)
    line = st.stdout.readline()
    if not line:
        die(f"storage-for-e2e ended without its JSON line:\n{st.stderr.read()[-3000:]}")
    storage = json.loads(line)
    s3 = storage["s3"]

    work = tmp / "pgshelf"
    work.mkdir()
    shelf = Pgshelf(bin_path, work, server)
    pgenv = dict(shelf.env, PGPASSWORD=PASSWORD)
    for name in ("bench_local", "bench_s3", "bench_dir"):
        run([shelf.bin, "server", "add", name, "--url", server.url()], env=pgenv, cwd=work)
    (work / "s3.secret").write_text(s3["secret_access_key"])
    shelf("destination", "add", "s3", "--kind", "s3", "--endpoint", s3["endpoint"], "--region", s3["region"],
          "--bucket", s3["bucket"], "--access-key-id", s3["access_key_id"], "--secret-file", str(work / "s3.secret"))
    shelf("policy", "set", "--server", "bench_s3", "--destination", "s3")
    shelf("policy", "set", "--server", "bench_dir", "--format", "directory", "--jobs", "2")
    pgshelf_version = shelf("--version").stdout.strip()
    phase_done("start S3 server, set up pgshelf")

    pg_dump = pg_bin / "pg_dump"
    pg_restore = pg_bin / "pg_restore"
    cenv = server.client_env()
    F = Figures()
    dumps = tmp / "dumps"
    dumps.mkdir()
    keep_ids: dict[str, int] = {}
    fd_dir = dumps / "fd-restore-source"

    def c_floor(db):
        def go(i):
            with open(os.devnull, "wb") as null:
                t, _, _ = timed([pg_dump, "-Fc", "-Z0", "-d", server.conn(db)], env=cenv, tmp=tmp, stdout=null,
                                what="pg_dump -Fc -Z0")
            return t
        return go

    def c_fc(db):
        def go(i):
            out = dumps / f"{db}.fc"
            t, _, _ = timed([pg_dump, "-Fc", "-f", out, "-d", server.conn(db)], env=cenv, tmp=tmp, what="pg_dump -Fc")
            t.size = out.stat().st_size
            out.unlink()
            return t
        return go

    def c_zstd(db):
        def go(i):
            out = dumps / f"{db}.fc.zst"
            t = timed_pipe([pg_dump, "-Fc", "-Z0", "-d", server.conn(db)], ["zstd", "-T0", "-3", "-q", "-c"],
                           env=cenv, tmp=tmp, out_path=out, what="pg_dump -Fc -Z0 | zstd")
            t.size = out.stat().st_size
            out.unlink()
            return t
        return go

    def c_shelf(db, srv, tag):
        def go(i):
            t, out, _ = timed([shelf.bin, "backup", "--server", srv, "--database", db], env=shelf.env, tmp=tmp,
                              cwd=work, what=f"pgshelf backup ({srv})")
            bid = last_int(out)
            rec = shelf.backup_record(bid)
            if rec.get("status") not in ("verified", "succeeded", "suspect"):
                die(f"pgshelf backup {bid} ended {rec.get('status')}: {rec}")
            t.size = int(rec["stored_bytes"])
            t.extra["raw"] = int(rec.get("raw_bytes") or 0) or None
            prev = keep_ids.get(f"{tag}:{db}")
            if prev is not None:
                shelf("delete", str(prev))  # only the newest of each is kept, for the restores
            keep_ids[f"{tag}:{db}"] = bid
            return t
        return go

    def c_fd(db):
        def go(i):
            out = dumps / f"{db}.fd"
            shutil.rmtree(out, ignore_errors=True)
            t, _, _ = timed([pg_dump, "-Fd", "-j", "2", "-Z0", "-f", out, "-d", server.conn(db)], env=cenv, tmp=tmp,
                            what="pg_dump -Fd -j 2 -Z0")
            t.size = du(out)
            shutil.rmtree(fd_dir, ignore_errors=True)
            out.rename(fd_dir)  # the newest is the restores' pg_restore source
            return t
        return go

    FLOOR, FC, ZSTD, SHELF, SHELF_S3, SHELF_DIR, FD = (
        "floor: pg_dump -Fc -Z0 > /dev/null", "pg_dump -Fc (default compression)", "pg_dump -Fc -Z0 | zstd -T0 -3",
        "pgshelf custom → local", "pgshelf custom → S3", "pgshelf directory -j 2 → local", "pg_dump -Fd -j 2 -Z0")
    contenders = []
    for label, db in (("TPC-H", tpch), ("JSON", jsondb)):
        contenders += [((label, FLOOR), c_floor(db)), ((label, FC), c_fc(db)), ((label, ZSTD), c_zstd(db)),
                       ((label, SHELF), c_shelf(db, "bench_local", "local")),
                       ((label, SHELF_S3), c_shelf(db, "bench_s3", "s3"))]
        if label == "TPC-H":
            contenders += [((label, SHELF_DIR), c_shelf(db, "bench_dir", "dir")), ((label, FD), c_fd(db))]

    def show(key, t: Timed, i, n):
        extra = f", {mib(t.size)}" if t.size is not None else ""
        if "bytes_read" in t.extra:
            br = t.extra["bytes_read"]
            extra += f", read {mib(br) if br is not None else 'n/a'}"
        log(f"run {i + 1}/{n} {key[0]:5} {key[1]:38} {secs(t.wall):>9}  cpu {secs(t.cpu)}, rss {rss_mib(t.rss_kb)}{extra}")

    log(f"backups: {len(contenders)} contenders × {args.runs} runs, round-robin")
    for i in range(args.runs):
        for key, go in contenders:
            t = go(i)
            F.add(key, t)
            show(key, t, i, args.runs)
    phase_done(f"backups ({plural(args.runs, 'run')})")

    # ---- restores (TPC-H) --------------------------------------------------------
    custom_id, dir_id = keep_ids[f"local:{tpch}"], keep_ids[f"dir:{tpch}"]
    custom_stored = int(shelf.backup_record(custom_id)["stored_bytes"])
    dir_stored = int(shelf.backup_record(dir_id)["stored_bytes"])
    restore_env = dict(cenv, PGOPTIONS="-c maintenance_work_mem=1GB")

    def after_restore(db):
        server.drop_db(db)
        server.psql("postgres", "CHECKPOINT")

    def r_shelf(backup_id, target):
        def go(i):
            server.drop_db(target)
            argv = [shelf.bin, "restore", "--backup", str(backup_id), "--into", target, "--jobs", "2"]
            if shelf.restore_has_json:
                argv.append("--json")
            t, out, _ = timed(argv, env=shelf.env, tmp=tmp, cwd=work, what="pgshelf restore")
            t.extra["bytes_read"] = None
            if shelf.restore_has_json:
                try:
                    t.extra["bytes_read"] = json.loads(out).get("bytes_read")
                except ValueError:
                    pass
            t.extra["tables"] = server.psql(target, "SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace")
            after_restore(target)
            return t
        return go

    def r_pg_restore(target):
        def go(i):
            server.create_db(target)
            t, _, _ = timed([pg_restore, "-j", "2", "-d", server.conn(target), fd_dir], env=restore_env, tmp=tmp,
                            what="pg_restore -j 2")
            t.extra["bytes_read"] = du(fd_dir)
            after_restore(target)
            return t
        return go

    def r_table(backup_id, table):
        def go(i):
            t, out, _ = timed([shelf.bin, "restore-table", "--backup", str(backup_id), "--table", table, "--json"],
                              env=shelf.env, tmp=tmp, cwd=work, what=f"pgshelf restore-table {table}")
            res = json.loads(out)
            t.extra["bytes_read"] = res.get("bytes_read")
            rows = sum(int(x.get("rows_restored") or 0) for x in res.get("tables", []))
            t.extra["rows"] = rows
            if rows == 0 and table != "public.region":
                die(f"restore-table {table} restored no rows: {out}")
            shelf("scratch", "drop", res["database"])
            server.psql("postgres", "CHECKPOINT")
            return t
        return go

    FULL_SHELF, FULL_PG = "pgshelf restore --jobs 2 (custom backup)", "pg_restore -j 2 (-Fd -Z0 dump)"
    restores = [
        (("TPC-H", FULL_SHELF), r_shelf(custom_id, "bench_restore_pgshelf")),
        (("TPC-H", FULL_PG), r_pg_restore("bench_restore_pg")),
        (("TPC-H", "restore-table public.nation (custom)"), r_table(custom_id, "public.nation")),
        (("TPC-H", "restore-table public.nation (directory)"), r_table(dir_id, "public.nation")),
        (("TPC-H", "restore-table public.orders (custom)"), r_table(custom_id, "public.orders")),
        (("TPC-H", "restore-table public.orders (directory)"), r_table(dir_id, "public.orders")),
    ]
    log(f"restores: {len(restores)} contenders × {args.restore_runs} runs, round-robin"
        f"{'' if shelf.restore_has_json else ' (pgshelf restore has no --json yet: bytes read n/a)'}")
    for i in range(args.restore_runs):
        for key, go in restores:
            t = go(i)
            F.add(key, t)
            show(key, t, i, args.restore_runs)
    shutil.rmtree(fd_dir, ignore_errors=True)
    phase_done(f"restores ({plural(args.restore_runs, 'run')})")

    # ---- peak memory at a second scale factor -------------------------------------
    mem_rows = []
    if args.mem_sf:
        if args.mem_sf == args.sf:
            mem_rows.append((args.sf, F.med(("TPC-H", SHELF), "rss_kb"), F.med(("TPC-H", FULL_SHELF), "rss_kb")))
        else:
            small = names[("tpch", args.mem_sf)]
            b = c_shelf(small, "bench_local", "local")(0)
            r = r_shelf(keep_ids[f"local:{small}"], "bench_restore_small")(0)
            log(f"memory at SF {fmt_sf(args.mem_sf)}: backup rss {rss_mib(b.rss_kb)} ({mib(b.extra.get('raw'))} raw), "
                f"restore rss {rss_mib(r.rss_kb)}")
            mem_rows.append((args.mem_sf, b.rss_kb, r.rss_kb, b.extra.get("raw")))
            mem_rows.append((args.sf, F.med(("TPC-H", SHELF), "rss_kb"), F.med(("TPC-H", FULL_SHELF), "rss_kb"),
                             F.med(("TPC-H", SHELF), "raw")))
        phase_done(f"peak memory at SF {fmt_sf(args.mem_sf)}")

    stop_storage()

    # ---- dashboard -------------------------------------------------------------------
    dash = None
    dash_note = ""
    dash_script = repo / "scripts" / "bench_dashboard.py"
    if args.skip_dashboard:
        dash_note = "skipped (--skip-dashboard)"
    elif not dash_script.is_file():
        dash_note = "skipped: scripts/bench_dashboard.py does not exist yet"
        log(f"dashboard: {dash_note}")
    else:
        log("dashboard: python3 scripts/bench_dashboard.py")
        out = tmp / "dashboard.json"
        p = subprocess.run([sys.executable, str(dash_script), "--bin", str(bin_path), "--out", str(out)], cwd=repo)
        if p.returncode != 0 or not out.is_file():
            dash_note = f"scripts/bench_dashboard.py failed (exit {p.returncode}); see its output above"
            log(f"dashboard: {dash_note}")
        else:
            dash = json.loads(out.read_text())
        phase_done("dashboard")

    # ---- report ------------------------------------------------------------------------
    sizes = {db: server.db_size(db) for db in (tpch, jsondb)}
    info = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "ram": ram_total(),
        "server": server.psql("postgres", "SHOW server_version"),
        "pg_dump": run([pg_dump, "--version"]).stdout.strip(),
        "zstd": "zstd " + (re.search(r"v[0-9.]+", run(["zstd", "--version"]).stdout) or re.search("", "")).group(0),
        "pgshelf": pgshelf_version,
        "commit": git_commit(repo),
        "profile": args.profile,
    }
    total = time.monotonic() - T0
    phases.append(("total", total))
    report = render(args, info, F, sizes, (tpch, jsondb), mem_rows, dash, dash_note, phases,
                    custom_stored, dir_stored, shelf.restore_has_json,
                    (FLOOR, FC, ZSTD, SHELF, SHELF_S3, SHELF_DIR, FD, FULL_SHELF, FULL_PG))
    notes = repo / args.notes
    if notes.is_file():
        report += "\n" + notes.read_text()
    (repo / args.out).write_text(report)
    print()
    print(report)
    log(f"wrote {args.out} ({total / 60:.1f} min in all)")
    return 0


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def ram_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def git_commit(repo: Path) -> str:
    p = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    if p.returncode != 0:
        return "unknown"
    dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return p.stdout.strip() + (" (with uncommitted changes)" if dirty else "")


def render(args, info, F: Figures, sizes, dbs, mem_rows, dash, dash_note, phases, custom_stored, dir_stored,
           restore_has_json, labels) -> str:
    FLOOR, FC, ZSTD, SHELF, SHELF_S3, SHELF_DIR, FD, FULL_SHELF, FULL_PG = labels
    tpch, jsondb = dbs
    L: list[str] = []
    w = L.append
    w("# Benchmarks")
    w("")
    w(f"Written by `scripts/bench` ({'release' if info['profile'] == 'release' else info['profile']} build) on {info['date']}.")
    w(f"The figures below are meant to come from a release build (`scripts/bench`, the default); "
      f"`scripts/bench --debug` is for trying the script out.")
    w("")
    w(f"- machine: {info['nproc']} cores ({info['cpu']}), {info['ram']} RAM")
    w(f"- PostgreSQL server {info['server']} (fsync off, on the same machine, loopback TCP); {info['pg_dump']}; {info['zstd']}")
    w(f"- {info['pgshelf']}, commit {info['commit']}, {info['profile']} build; zstd level 3 (pgshelf's default)")
    w(f"- scale factor {fmt_sf(args.sf)}: `{tpch}` {mib(sizes[tpch])} and `{jsondb}` {mib(sizes[jsondb])} (pg_database_size); "
      f"raw dump (pgshelf's raw bytes) {mib(F.med(('TPC-H', SHELF), 'raw'))} and {mib(F.med(('JSON', SHELF), 'raw'))}")
    w(f"- {plural(args.runs, 'run')} of each backup contender, {plural(args.restore_runs, 'run')} of each restore "
      f"contender, alternated run by run (run 1 of every contender, then run 2, ...)")
    w("")
    w("Each figure is the median, with the lowest and highest run in brackets. Wall time is measured around the")
    w("command (or the whole pipe); CPU is user+sys of the process tree (GNU time: pgshelf with its pg_dump,")
    w("pg_dump with its workers, both sides of a pipe); peak RSS is the largest single process of that tree.")
    w("The PostgreSQL server's own CPU is not counted for anyone. pgshelf's backup time includes its")
    w("verification (the stored artifact re-read and checked).")
    w("")
    for label, db in (("TPC-H", tpch), ("JSON", jsondb)):
        floor_w, fc_w, fc_s = F.med((label, FLOOR)), F.med((label, FC)), F.med((label, FC), "size")
        w(f"## Backups: {label} (`{db}`)")
        w("")
        w("| contender | wall | CPU | peak RSS | size | wall ÷ floor | wall ÷ pg_dump -Fc | size ÷ pg_dump -Fc |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name in (FLOOR, FC, ZSTD, SHELF, SHELF_S3, SHELF_DIR, FD):
            key = (label, name)
            if not F.get(key):
                continue
            size = fig(F, key, "size", mib) if name != FLOOR else "(to /dev/null)"
            w(f"| {cell(name)} | {fig(F, key, 'wall', secs)} | {fig(F, key, 'cpu', secs)} | {fig(F, key, 'rss_kb', rss_mib)} | "
              f"{size} | {ratio(F.med(key), floor_w)} | {ratio(F.med(key), fc_w)} | "
              f"{ratio(F.med(key, 'size'), fc_s) if name != FLOOR else '—'} |")
        w("")
    if F.get(("TPC-H", SHELF_DIR)):
        w(f"Directory format: pgshelf -j 2 takes {ratio(F.med(('TPC-H', SHELF_DIR)), F.med(('TPC-H', FD)))} "
          f"the wall time of `pg_dump -Fd -j 2 -Z0` (which writes uncompressed).")
        w("")
    w("## Restores: TPC-H")
    w("")
    w(f"Full restores into a new database ({plural(args.restore_runs, 'run')}; the target is dropped between runs,")
    w("outside the timing). pgshelf restores its custom-format backup from the local destination; `pg_restore -j 2`")
    w("reads a local `pg_dump -Fd -Z0` directory into a database created just before (outside the timing), with the same")
    w("`maintenance_work_mem` (1GB, via PGOPTIONS) that pgshelf sets for its restore sessions, so the tools are")
    w("compared, not a setting. Single tables go into a new scratch database (dropped between runs).")
    w("")
    w("| restore | wall | CPU | peak RSS | bytes read from storage | wall ÷ pg_restore -j 2 |")
    w("|---|---:|---:|---:|---:|---:|")
    pg_full = F.med(("TPC-H", FULL_PG))
    for key in [k for k in F.order if k[0] == "TPC-H" and (k[1] in (FULL_SHELF, FULL_PG) or k[1].startswith("restore-table"))]:
        br = fig(F, key, "bytes_read", mib) if F.med(key, "bytes_read") is not None else "n/a"
        w(f"| {cell(key[1])} | {fig(F, key, 'wall', secs)} | {fig(F, key, 'cpu', secs)} | {fig(F, key, 'rss_kb', rss_mib)} | "
          f"{br} | {ratio(F.med(key), pg_full)} |")
    w("")
    w(f"Artifacts read: the custom backup stores {mib(custom_stored)}, the directory backup {mib(dir_stored)}."
      + ("" if restore_has_json else " `pgshelf restore` has no `--json` yet, so its bytes read are n/a.")
      + (" `n/a` for restore-table means its `--json` has no `bytes_read` yet."
         if any(F.med(k, "bytes_read") is None for k in F.order if k[1].startswith("restore-table")) else ""))
    w("")
    if mem_rows:
        w("## pgshelf's peak memory across sizes")
        w("")
        w("| TPC-H scale factor | raw dump | `pgshelf backup` peak RSS | `pgshelf restore --jobs 2` peak RSS |")
        w("|---:|---:|---:|---:|")
        for row in mem_rows:
            sf, b, r = row[0], row[1], row[2]
            raw = row[3] if len(row) > 3 else F.med(("TPC-H", SHELF), "raw")
            w(f"| {fmt_sf(sf)} | {mib(raw)} | {rss_mib(b)} | {rss_mib(r)} |")
        w("")
    w("## Dashboard")
    w("")
    if dash:
        w(f"{dash.get('backups', '?'):,} backups, {dash.get('servers', '?')} servers, {dash.get('clients', '?')} concurrent clients"
          if isinstance(dash.get("backups"), int) else f"{dash.get('backups')} backups, {dash.get('servers')} servers, {dash.get('clients')} clients")
        w("")
        w("| page | p50 | p99 | requests/s |")
        w("|---|---:|---:|---:|")
        for pg in dash.get("pages", []):
            w(f"| {pg.get('name')} | {pg.get('p50_ms')} ms | {pg.get('p99_ms')} ms | {pg.get('rps')} |")
        wasm = dash.get("wasm") or {}
        w("")
        w(f"WebAssembly: {wasm.get('raw_bytes', 'n/a'):,} bytes, {wasm.get('gzip_bytes', 'n/a'):,} gzipped."
          if isinstance(wasm.get("raw_bytes"), int) and isinstance(wasm.get("gzip_bytes"), int) else "WebAssembly: n/a")
    else:
        w(dash_note or "not measured")
    w("")

    # ---- targets ----
    w("## Targets (issue 12)")
    w("")
    w("| target | figure | |")
    w("|---|---|---|")

    def target(desc, value, limit, cmp, shown):
        if value is None:
            w(f"| {desc} | n/a | not measured |")
        else:
            ok = value <= limit if cmp == "<=" else value < limit if cmp == "<" else value >= limit
            w(f"| {desc} | {shown} | {'met' if ok else '**missed**'} |")

    for label in ("TPC-H", "JSON"):
        s, fl, fc = F.med((label, SHELF)), F.med((label, FLOOR)), F.med((label, FC))
        target(f"{label}: pgshelf custom wall ≤ 1.15× floor", s / fl if s and fl else None, 1.15, "<=",
               f"{s / fl:.3f}× ({secs(s)} vs {secs(fl)})" if s and fl else "")
        # The issue sets this one on TPC-H: on the JSON data pg_dump -Fc
        # itself is under 5× the floor, so no contender could meet it there.
        if label == "TPC-H":
            target(f"{label}: pgshelf custom ≥ 5× faster than pg_dump -Fc", fc / s if s and fc else None, 5, ">=",
                   f"{fc / s:.2f}× faster ({secs(s)} vs {secs(fc)})" if s and fc else "")
    for label, lim in (("TPC-H", 1.10), ("JSON", 0.75)):
        s, fc = F.med((label, SHELF), "size"), F.med((label, FC), "size")
        target(f"{label}: pgshelf custom size ≤ {lim:.2f}× pg_dump -Fc", s / fc if s and fc else None, lim, "<=",
               f"{s / fc:.3f}× ({mib(s)} vs {mib(fc)})" if s and fc else "")
    d, fd = F.med(("TPC-H", SHELF_DIR)), F.med(("TPC-H", FD))
    target("TPC-H: pgshelf directory -j 2 wall ≤ 1.25× pg_dump -Fd -j 2 -Z0", d / fd if d and fd else None, 1.25, "<=",
           f"{d / fd:.3f}× ({secs(d)} vs {secs(fd)})" if d and fd else "")
    rss = [t.rss_kb for k, ts in F.runs.items() if "pgshelf" in k[1] or k[1].startswith("restore-table") for t in ts]
    rss += [x for row in mem_rows for x in row[1:3] if x is not None]
    peak = max(rss) if rss else None
    target("pgshelf peak RSS < 150 MB (any backup or restore above)", peak * 1024 / 1e6 if peak else None, 150, "<",
           f"{peak * 1024 / 1e6:.0f} MB ({peak / 1024:.0f} MiB)" if peak else "")
    nat_key = ("TPC-H", "restore-table public.nation (custom)")
    br = F.med(nat_key, "bytes_read")
    target("restore nation from custom reads < 1% of the artifact", 100 * br / custom_stored if br is not None else None,
           1, "<", f"{100 * br / custom_stored:.3f}% ({mib(br)} of {mib(custom_stored)})" if br is not None else "")
    nw, fw = F.med(nat_key), F.med(("TPC-H", FULL_SHELF))
    target("restore nation from custom < 5% of the full restore's time", 100 * nw / fw if nw and fw else None, 5, "<",
           f"{100 * nw / fw:.1f}% ({secs(nw)} vs {secs(fw)})" if nw and fw else "")
    target("full restore ≤ 1.05× pg_restore -j 2 from -Fd", fw / pg_full if fw and pg_full else None, 1.05, "<=",
           f"{fw / pg_full:.3f}× ({secs(fw)} vs {secs(pg_full)})" if fw and pg_full else "")
    if dash:
        p99 = max((pg.get("p99_ms") for pg in dash.get("pages", []) if pg.get("p99_ms") is not None), default=None)
        target("dashboard p99 < 100 ms (slowest page)", p99, 100, "<", f"{p99} ms" if p99 is not None else "")
        gz = (dash.get("wasm") or {}).get("gzip_bytes")
        target("wasm < 600 KB gzipped", gz / 1000 if gz else None, 600, "<", f"{gz / 1000:.0f} KB" if gz else "")
    else:
        w("| dashboard p99 < 100 ms | n/a | not measured |")
        w("| wasm < 600 KB gzipped | n/a | not measured |")
    w("")
    w("## Time taken")
    w("")
    w("| phase | time |")
    w("|---|---:|")
    for name, s in phases:
        w(f"| {name} | {s / 60:.1f} min |" if s >= 60 else f"| {name} | {s:.0f} s |")
    w("")
    w(f"Command: `scripts/bench --sf {fmt_sf(args.sf)} --runs {args.runs} --restore-runs {args.restore_runs}"
      f" --mem-sf {fmt_sf(args.mem_sf)}{' --debug' if info['profile'] == 'debug' else ''}`")
    w("")
    return "\n".join(L)


if __name__ == "__main__":
    sys.exit(main())
