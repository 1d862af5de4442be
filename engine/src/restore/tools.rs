//! Which `pg_restore`/`psql` a restore uses, whether the target may take
//! the dump at all, and running them.
//!
//! pg_restore must be at least as new as the pg_dump that wrote the archive
//! (an older one cannot read a newer archive version): the lowest installed
//! major that is at least the dump's pg_dump major is chosen. A dump cannot
//! go onto a server older than the one it came from (its SQL uses what the
//! newer server has), so that is refused before anything is fetched.
//!
//! The programs run like pg_dump does (`pipeline::stream::spawn`): an
//! argument vector, a cleared environment plus an allow-list, the password
//! in a private passfile, certificate files for libpq, their own process
//! group, killed with pgshelf. Their stderr is read whole, line by line:
//! every error line is kept (up to a limit), so a restore can say what
//! failed.

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};

use super::{RestoreError, RestoreManifest};
use crate::pg::passfile::PassFile;
use crate::pg::tls::TlsFiles;
use crate::pg::{args, ConnSpec, PgTools, ServerInfo, ToolFinder};
use crate::pipeline::stream::{self, Program};

/// Error lines kept per run.
const MAX_ERRORS: usize = 200;

/// The tools to read this backup's archive: the lowest installed major at
/// least the dump's pg_dump major.
pub async fn for_archive(
    finder: &ToolFinder,
    m: &RestoreManifest,
) -> Result<PgTools, RestoreError> {
    let found = finder.find_all().await;
    let needed = m.pg_dump_major().max(m.source_major());
    found
        .iter()
        .filter(|t| t.major >= needed)
        .min_by_key(|t| t.major)
        .cloned()
        .ok_or_else(|| RestoreError::NoPgRestore {
            needed,
            pg_dump: m.pg_dump_version.clone(),
            found: crate::pg::tools::describe_found(&found),
        })
}

/// Refuses a target server older than the dump's source server.
pub fn check_target(
    target_name: &str,
    target: &ServerInfo,
    m: &RestoreManifest,
) -> Result<(), RestoreError> {
    let source_major = m.source_major();
    if target.major < source_major {
        return Err(RestoreError::OlderTarget {
            target: target_name.to_owned(),
            target_version: target.version.clone(),
            source_version: m.server_version.clone(),
            source_major,
        });
    }
    Ok(())
}

/// A connection for a client tool: the conninfo, and the passfile and
/// certificate files it needs (keep both until the program has exited).
pub struct ToolConn {
    pub conninfo: String,
    pub pass: Option<PassFile>,
    _tls: Option<TlsFiles>,
}

impl ToolConn {
    /// Writes the passfile and certificate files for `spec` under `work`.
    pub fn new(spec: &ConnSpec, dbname: &str, work: &Path) -> Result<ToolConn, RestoreError> {
        let local = |e: std::io::Error| RestoreError::Local {
            path: work.display().to_string(),
            detail: e.to_string(),
        };
        let tls = TlsFiles::write(work, spec).map_err(local)?;
        let pass = PassFile::for_spec(spec, work).map_err(local)?;
        Ok(ToolConn {
            conninfo: args::conninfo(spec, dbname, tls.as_ref().map(|t| t.paths())),
            pass,
            _tls: tls,
        })
    }
}

/// How a program run ended.
#[derive(Debug, Clone, Default)]
pub struct RunOutcome {
    /// Exited with status 0.
    pub success: bool,
    /// The status in words, when not a success.
    pub status: String,
    /// Error lines, the program's prefix taken off (at most [`MAX_ERRORS`]).
    pub errors: Vec<String>,
    /// How many error lines there were in all.
    pub error_count: usize,
    /// The last few KiB of stderr.
    pub tail: String,
}

impl RunOutcome {
    /// The errors as one cause, for a failure message.
    pub fn cause(&self) -> String {
        if self.errors.is_empty() {
            if self.tail.is_empty() {
                format!("it exited with {} and said nothing", self.status)
            } else {
                stream::dump_cause(&self.tail)
            }
        } else {
            self.errors
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(" | ")
        }
    }
}

/// Runs a program to its end (stdout discarded), with `extra_env` added to
/// the child's allow-listed environment, collecting its error lines.
pub async fn run(
    program: &Program,
    pass: Option<&PassFile>,
    extra_env: &[(OsString, OsString)],
) -> Result<RunOutcome, RestoreError> {
    let mut child = spawn(program, pass, extra_env)?;
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut out = RunOutcome::default();
    let mut tail = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(e) = error_of(&line) {
            out.error_count += 1;
            if out.errors.len() < MAX_ERRORS {
                out.errors.push(e);
            }
        } else if let Some(cmd) = line.strip_prefix("Command was:") {
            // pg_restore follows a failed statement with it: keep its start.
            if let Some(last) = out.errors.last_mut() {
                if out.error_count <= MAX_ERRORS && !last.contains(" (command: ") {
                    let cmd: String = cmd.trim().chars().take(160).collect();
                    last.push_str(&format!(" (command: {cmd})"));
                }
            }
        }
        tail.extend_from_slice(line.as_bytes());
        tail.push(b'\n');
        if tail.len() > 4 * stream::STDERR_TAIL {
            tail.drain(..tail.len() - stream::STDERR_TAIL);
        }
    }
    let status = child.wait().await.map_err(|e| RestoreError::Spawn {
        program: program.label.clone(),
        detail: e.to_string(),
    })?;
    out.success = status.success();
    out.status = status.to_string();
    out.tail = stream::tail(&tail);
    Ok(out)
}

fn spawn(
    program: &Program,
    pass: Option<&PassFile>,
    extra_env: &[(OsString, OsString)],
) -> Result<tokio::process::Child, RestoreError> {
    stream::spawn_with(program, pass, Stdio::null(), Stdio::null(), extra_env).map_err(|e| {
        RestoreError::Spawn {
            program: program.label.clone(),
            detail: e.to_string(),
        }
    })
}

/// The message of an error line of pg_restore or psql, if it is one.
pub fn error_of(line: &str) -> Option<String> {
    let l = line.trim_end();
    if let Some(rest) = l.strip_prefix("pg_restore: error: ") {
        return Some(
            rest.trim_start_matches("could not execute query: ")
                .to_owned(),
        );
    }
    // psql: "psql:/path/globals.sql:12: ERROR:  role \"x\" already exists"
    if l.starts_with("psql:") {
        if let Some(i) = l.find("ERROR:") {
            return Some(l[i..].to_owned());
        }
        if let Some(i) = l.find("FATAL:") {
            return Some(l[i..].to_owned());
        }
        if let Some(rest) = l.strip_prefix("psql: error: ") {
            return Some(rest.to_owned());
        }
    }
    if let Some(rest) = l.strip_prefix("psql: error: ") {
        return Some(rest.to_owned());
    }
    None
}

/// `pg_restore` arguments: `opts`, then the connection, then the archive.
pub fn pg_restore_args(opts: &[&str], conninfo: &str, archive: &Path) -> Vec<OsString> {
    let mut v: Vec<OsString> = opts.iter().map(OsString::from).collect();
    v.push("--no-password".into());
    v.push(format!("--dbname={conninfo}").into());
    v.push(archive.as_os_str().to_owned());
    v
}

/// `psql` arguments to run a script and go past errors (globals: an
/// existing role is an expected error).
pub fn psql_script_args(conninfo: &str, script: &Path) -> Vec<OsString> {
    vec![
        "-X".into(),
        "-q".into(),
        "-v".into(),
        "ON_ERROR_STOP=0".into(),
        "--no-password".into(),
        format!("--dbname={conninfo}").into(),
        "-f".into(),
        script.as_os_str().to_owned(),
    ]
}

/// The `PGOPTIONS` that raise `maintenance_work_mem` for a restore's
/// sessions (index builds, foreign key checks), from a setting like `1GB`.
pub fn maintenance_options(setting: &str) -> Result<(OsString, OsString), RestoreError> {
    let s = setting.trim();
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    let unit = s[digits..].trim();
    if digits == 0 || !matches!(unit, "" | "kB" | "MB" | "GB" | "TB") {
        return Err(RestoreError::Invalid {
            field: "restore_maintenance_work_mem",
            message: format!(
                "{setting:?} is not a memory size. Fix: write a number with kB, MB, GB or TB, e.g. 1GB"
            ),
        });
    }
    Ok((
        "PGOPTIONS".into(),
        format!("-c maintenance_work_mem={}{unit}", &s[..digits]).into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn m(server: &str, pg_dump: &str) -> RestoreManifest {
        RestoreManifest {
            backup_id: 1,
            kind: "database".into(),
            server: "s".into(),
            database: "d".into(),
            format: "custom".into(),
            compression: String::new(),
            encryption: None,
            server_version: server.into(),
            pg_dump_version: pg_dump.into(),
            files: Vec::new(),
            tables: Vec::new(),
        }
    }

    fn info(version: &str, major: u32) -> ServerInfo {
        ServerInfo {
            version: version.into(),
            version_num: major * 10000,
            major,
            in_recovery: false,
        }
    }

    #[test]
    fn older_targets_are_refused() {
        let dump = m("18.1", "18.1");
        let e = check_target("old", &info("15.8", 15), &dump).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("PostgreSQL 15.8") && msg.contains("PostgreSQL 18.1"),
            "{msg}"
        );
        assert!(
            msg.contains("Fix: restore onto a server of PostgreSQL 18 or newer"),
            "{msg}"
        );
        check_target("new", &info("18.0", 18), &dump).unwrap();
        check_target("newer", &info("19.0", 19), &m("15.2", "18.1")).unwrap();
    }

    #[test]
    fn error_lines() {
        assert_eq!(
            error_of(
                "pg_restore: error: could not execute query: ERROR:  role \"app\" does not exist"
            )
            .as_deref(),
            Some("ERROR:  role \"app\" does not exist")
        );
        assert_eq!(
            error_of("psql:/tmp/x/globals.sql:14: ERROR:  role \"postgres\" already exists")
                .as_deref(),
            Some("ERROR:  role \"postgres\" already exists")
        );
        assert_eq!(error_of("pg_restore: creating TABLE \"public.t\""), None);
        assert_eq!(
            error_of("pg_restore: warning: errors ignored on restore: 2"),
            None
        );
    }

    #[test]
    fn arguments() {
        let a = pg_restore_args(
            &["--no-owner", "--use-list=/w/l"],
            "host='h' dbname='scratch_x'",
            &PathBuf::from("/w/dump.custom"),
        );
        let a: Vec<String> = a.into_iter().map(|s| s.into_string().unwrap()).collect();
        assert_eq!(
            a,
            [
                "--no-owner",
                "--use-list=/w/l",
                "--no-password",
                "--dbname=host='h' dbname='scratch_x'",
                "/w/dump.custom"
            ]
        );
        let (k, v) = maintenance_options("1GB").unwrap();
        assert_eq!(
            (k.to_str().unwrap(), v.to_str().unwrap()),
            ("PGOPTIONS", "-c maintenance_work_mem=1GB")
        );
        assert!(maintenance_options("1GB -c x=1").is_err());
        assert!(maintenance_options("lots").is_err());
        assert!(maintenance_options("512 MB").is_ok());
    }
}
