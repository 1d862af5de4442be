//! Argument vectors and connection strings for PostgreSQL's programs.
//!
//! Pure functions: every program gets an argument vector, never a shell
//! string, and the password never appears in either (it goes in a private
//! passfile, [`super::passfile`]). [`child_env`] is the one place that
//! decides a child's environment.

use std::ffi::OsString;

use super::tls::TlsPaths;
use super::ConnSpec;

/// Quotes a value for a libpq keyword/value connection string.
pub fn conninfo_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 2);
    out.push('\'');
    for c in v.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// A libpq connection string for `dbname` on this server, without the
/// password. With `tls` (the files of [`super::tls::TlsFiles`]), libpq reads
/// the root certificate, client certificate and key from there, and never
/// from `~/.postgresql/` (a setting left empty points at a missing file;
/// the CRL too, since pgshelf's own connection checks none).
pub fn conninfo(spec: &ConnSpec, dbname: &str, tls: Option<&TlsPaths>) -> String {
    let port = spec.port.to_string();
    let mut pairs: Vec<(&str, &str)> = vec![
        ("host", spec.host.as_str()),
        ("port", &port),
        ("user", spec.user.as_str()),
        ("dbname", dbname),
        ("sslmode", spec.sslmode.as_str()),
    ];
    let paths;
    if let Some(t) = tls {
        paths = [
            t.root_cert.to_string_lossy(),
            t.client_cert.to_string_lossy(),
            t.client_key.to_string_lossy(),
            t.crl.to_string_lossy(),
        ];
        pairs.extend([
            ("sslrootcert", &*paths[0]),
            ("sslcert", &*paths[1]),
            ("sslkey", &*paths[2]),
            ("sslcrl", &*paths[3]),
        ]);
    }
    pairs.extend([("application_name", "pgshelf"), ("connect_timeout", "10")]);
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", conninfo_value(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Options of one `pg_dump` run in custom format to standard output.
#[derive(Debug, Clone, Default)]
pub struct DumpArgs {
    /// `pg_export_snapshot()` id to dump exactly.
    pub snapshot: Option<String>,
}

/// `pg_dump` arguments: custom format, uncompressed (pgshelf compresses), to stdout.
pub fn pg_dump_custom(conninfo: &str, opts: &DumpArgs) -> Vec<OsString> {
    let mut v: Vec<OsString> = vec![
        "--format=custom".into(),
        "--compress=0".into(),
        "--no-password".into(),
    ];
    if let Some(s) = &opts.snapshot {
        v.push(format!("--snapshot={s}").into());
    }
    v.push(format!("--dbname={conninfo}").into());
    v
}

/// `pg_dumpall --globals-only` arguments: roles, memberships, tablespaces,
/// and database-level grants and settings, as SQL to standard output.
pub fn pg_dumpall_globals(conninfo: &str, no_role_passwords: bool) -> Vec<OsString> {
    let mut v: Vec<OsString> = vec!["--globals-only".into(), "--no-password".into()];
    if no_role_passwords {
        v.push("--no-role-passwords".into());
    }
    v.push(format!("--dbname={conninfo}").into());
    v
}

/// The environment of every child program: cleared, then only these of
/// pgshelf's own variables (so that the caller's shell cannot redirect a
/// run to another server or credentials, nor leak anything into it), plus
/// `LC_MESSAGES=C` (messages pgshelf can read) and `PGPASSFILE`.
pub fn child_env(
    parent: impl IntoIterator<Item = (OsString, OsString)>,
    passfile: Option<&std::path::Path>,
) -> Vec<(OsString, OsString)> {
    let allowed = |k: &str| {
        matches!(k, "PATH" | "LANG" | "TZ" | "HOME" | "TMPDIR")
            || (k.starts_with("LC_") && k != "LC_MESSAGES")
        // No PGSSL*: the sslmode and every TLS file are in the connection
        // string (`pg::tls`), and nothing from pgshelf's own environment
        // may loosen or redirect them.
    };
    let mut env: Vec<(OsString, OsString)> = parent
        .into_iter()
        .filter(|(k, _)| k.to_str().is_some_and(allowed))
        .collect();
    env.push(("LC_MESSAGES".into(), "C".into()));
    if let Some(p) = passfile {
        env.push(("PGPASSFILE".into(), p.as_os_str().to_owned()));
    }
    env
}

/// Quotes an SQL identifier (`my "table"` -> `"my ""table"""`).
pub use model::names::quote_ident;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::Secret;

    fn spec() -> ConnSpec {
        ConnSpec::new(
            "db.example",
            5433,
            "o'brien",
            Some(Secret::new("s3cret")),
            "require",
        )
    }

    #[test]
    fn conninfo_quotes_and_omits_password() {
        let c = conninfo(&spec(), "my db\\x", None);
        assert_eq!(
            c,
            "host='db.example' port='5433' user='o\\'brien' dbname='my db\\\\x' sslmode='require' application_name='pgshelf' connect_timeout='10'"
        );
        assert!(!c.contains("s3cret"));
    }

    #[test]
    fn conninfo_names_the_certificate_files() {
        let mut s = spec();
        s.ssl_client_key = Some(Secret::new("-----BEGIN PRIVATE KEY-----\nSECRETKEY\n"));
        let paths = TlsPaths::in_dir(std::path::Path::new("/data/spool/tls-1-x"));
        let c = conninfo(&s, "db", Some(&paths));
        assert_eq!(
            c,
            "host='db.example' port='5433' user='o\\'brien' dbname='db' sslmode='require' \
             sslrootcert='/data/spool/tls-1-x/root.crt' sslcert='/data/spool/tls-1-x/client.crt' \
             sslkey='/data/spool/tls-1-x/client.key' sslcrl='/data/spool/tls-1-x/none.crl' \
             application_name='pgshelf' connect_timeout='10'"
        );
        assert!(!c.contains("SECRETKEY") && !c.contains("s3cret"));
    }

    #[test]
    fn dump_args_are_one_vector() {
        let a = pg_dump_custom(
            "host='h'",
            &DumpArgs {
                snapshot: Some("00000003-00000002-1".into()),
            },
        );
        let a: Vec<String> = a.into_iter().map(|s| s.into_string().unwrap()).collect();
        assert_eq!(
            a,
            [
                "--format=custom",
                "--compress=0",
                "--no-password",
                "--snapshot=00000003-00000002-1",
                "--dbname=host='h'"
            ]
        );
        let plain = pg_dump_custom("x", &DumpArgs::default());
        assert_eq!(plain.len(), 4);
    }

    #[test]
    fn globals_args() {
        let a: Vec<String> = pg_dumpall_globals("c", true)
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect();
        assert_eq!(
            a,
            [
                "--globals-only",
                "--no-password",
                "--no-role-passwords",
                "--dbname=c"
            ]
        );
        assert_eq!(pg_dumpall_globals("c", false).len(), 3);
    }

    #[test]
    fn children_get_an_allow_listed_environment() {
        let parent = [
            ("PATH", "/usr/bin"),
            ("LANG", "C.UTF-8"),
            ("LC_ALL", "C.UTF-8"),
            ("LC_MESSAGES", "de_DE"),
            ("TZ", "UTC"),
            ("PGHOST", "evil"),
            ("PGPASSWORD", "leak"),
            ("PGPASSFILE", "/home/x/.pgpass"),
            ("PGSSLMODE", "disable"),
            ("PGSSLROOTCERT", "/etc/ca.pem"),
            ("PGSHELF_SECRET", "no"),
            ("AWS_SECRET_ACCESS_KEY", "no"),
        ]
        .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let env: Vec<(String, String)> =
            child_env(parent, Some(std::path::Path::new("/run/p/pgpass")))
                .into_iter()
                .map(|(k, v)| (k.into_string().unwrap(), v.into_string().unwrap()))
                .collect();
        let keys: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["PATH", "LANG", "LC_ALL", "TZ", "LC_MESSAGES", "PGPASSFILE"]
        );
        assert!(env.contains(&("LC_MESSAGES".into(), "C".into())));
        assert!(env.contains(&("PGPASSFILE".into(), "/run/p/pgpass".into())));
        assert!(child_env(Vec::new(), None)
            .iter()
            .all(|(k, _)| k != "PGPASSFILE"));
    }

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quote_ident("Mixed Case \"q\""), "\"Mixed Case \"\"q\"\"\"");
        assert_eq!(quote_ident("plain"), "\"plain\"");
    }
}
