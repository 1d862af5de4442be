//! Finding PostgreSQL client tools by major version and choosing one.
//!
//! pg_dump refuses servers newer than itself, and a much newer pg_dump writes
//! archives that older pg_restore cannot read, so the choice is: the lowest
//! installed major that is at least the server's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::PgError;

/// One installation of the client tools of a major version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTools {
    pub major: u32,
    /// The version as `pg_dump --version` prints it, e.g. `15.18`.
    pub version: String,
    pub bin_dir: PathBuf,
}

impl PgTools {
    pub fn pg_dump(&self) -> PathBuf {
        self.bin_dir.join("pg_dump")
    }
    pub fn pg_dumpall(&self) -> PathBuf {
        self.bin_dir.join("pg_dumpall")
    }
    pub fn pg_restore(&self) -> PathBuf {
        self.bin_dir.join("pg_restore")
    }
    pub fn psql(&self) -> PathBuf {
        self.bin_dir.join("psql")
    }
}

/// Where to look for client tools.
#[derive(Debug, Clone)]
pub struct ToolFinder {
    /// Directories from configuration, searched first.
    pub dirs: Vec<PathBuf>,
    /// Also search Debian's `/usr/lib/postgresql/*/bin` and `$PATH`.
    pub search_system: bool,
}

impl Default for ToolFinder {
    fn default() -> Self {
        ToolFinder {
            dirs: Vec::new(),
            search_system: true,
        }
    }
}

impl ToolFinder {
    /// Only the given directories.
    pub fn only(dirs: Vec<PathBuf>) -> Self {
        ToolFinder {
            dirs,
            search_system: false,
        }
    }

    fn candidate_dirs(&self) -> Vec<PathBuf> {
        let mut out = self.dirs.clone();
        if self.search_system {
            if let Ok(rd) = std::fs::read_dir("/usr/lib/postgresql") {
                let mut debian: Vec<PathBuf> = rd.flatten().map(|e| e.path().join("bin")).collect();
                debian.sort();
                out.extend(debian);
            }
            if let Some(path) = std::env::var_os("PATH") {
                out.extend(std::env::split_paths(&path));
            }
        }
        out
    }

    /// Every distinct installation found, one per major (first found wins), lowest major first.
    pub async fn find_all(&self) -> Vec<PgTools> {
        let mut by_major: BTreeMap<u32, PgTools> = BTreeMap::new();
        let mut seen = std::collections::HashSet::new();
        for dir in self.candidate_dirs() {
            let exe = dir.join("pg_dump");
            let Ok(real) = std::fs::canonicalize(&exe) else {
                continue;
            };
            if !seen.insert(real.clone()) {
                continue;
            }
            // Debian's /usr/bin/pg_dump is a wrapper script; use the real bin dir.
            let bin_dir = real.parent().map(Path::to_path_buf).unwrap_or(dir.clone());
            let Some(version) = tool_version(&real).await else {
                continue;
            };
            let Some(major) = major_of(&version) else {
                continue;
            };
            by_major.entry(major).or_insert(PgTools {
                major,
                version,
                bin_dir,
            });
        }
        by_major.into_values().collect()
    }

    /// The tools to use against a server of this version.
    pub async fn for_server(
        &self,
        server_version: &str,
        server_major: u32,
    ) -> Result<PgTools, PgError> {
        choose(&self.find_all().await, server_version, server_major)
    }
}

/// What this pg_dump can compress with, found by running it: each method is
/// tried against a socket that does not exist; one that reaches the
/// connection attempt was accepted. (Not inferred from the version: builds
/// differ, and pg_dump before 16 reads `--compress=zstd` as level 0.)
pub async fn probe_capabilities(tools: &PgTools) -> crate::policy::DumpCapabilities {
    async fn accepted(exe: &Path, compress: &str) -> bool {
        let out = tokio::process::Command::new(exe)
            .args(["--schema-only", "--no-password"])
            .arg(format!("--compress={compress}"))
            .arg("--dbname=host=/nonexistent/pgshelf-probe dbname=probe")
            .env("LC_MESSAGES", "C")
            .env_remove("PGSERVICE")
            .kill_on_drop(true)
            .output();
        let Ok(Ok(out)) = tokio::time::timeout(std::time::Duration::from_secs(10), out).await
        else {
            return false;
        };
        let err = String::from_utf8_lossy(&out.stderr);
        probe_accepted(&err)
    }
    let exe = tools.pg_dump();
    let method_syntax = accepted(&exe, "gzip:1").await;
    let gzip = if method_syntax {
        true
    } else {
        accepted(&exe, "5").await
    };
    crate::policy::DumpCapabilities {
        method_syntax,
        gzip,
        lz4: method_syntax && accepted(&exe, "lz4:1").await,
        zstd: method_syntax && accepted(&exe, "zstd:1").await,
    }
}

/// Whether a probe's stderr shows pg_dump got as far as connecting.
pub fn probe_accepted(stderr: &str) -> bool {
    let refused = stderr.contains("invalid value")
        || stderr.contains("invalid compression")
        || stderr.contains("not support")
        || stderr.contains("not available");
    !refused && (stderr.contains("connection to server") || stderr.contains("could not connect"))
}

/// Runs `<exe> --version` and returns the version number it prints.
pub async fn tool_version(exe: &Path) -> Option<String> {
    let out = tokio::process::Command::new(exe)
        .arg("--version")
        .env("LC_MESSAGES", "C")
        .kill_on_drop(true)
        .output()
        .await
        .ok()?;
    if !out.status.success() {
        return None;
    }
    parse_version_output(&String::from_utf8_lossy(&out.stdout))
}

/// `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` -> `15.18`.
pub fn parse_version_output(s: &str) -> Option<String> {
    let rest = s.split(')').nth(1)?.trim();
    let v = rest.split_whitespace().next()?;
    major_of(v)?;
    Some(v.to_owned())
}

/// Major version of `15.18`, `18.0`, `18beta1`, `9.6.24` (9.6 -> 9).
pub fn major_of(version: &str) -> Option<u32> {
    let digits: String = version.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// Major version from `server_version_num` (150018 -> 15, 90624 -> 9).
pub fn major_of_num(num: u32) -> u32 {
    num / 10_000
}

/// The lowest installed major that is at least the server's.
pub fn choose(
    found: &[PgTools],
    server_version: &str,
    server_major: u32,
) -> Result<PgTools, PgError> {
    found
        .iter()
        .filter(|t| t.major >= server_major)
        .min_by_key(|t| t.major)
        .cloned()
        .ok_or_else(|| PgError::NoSuitableDump {
            server_version: server_version.to_owned(),
            server_major,
            found: describe_found(found),
        })
}

/// The installed client tools as an error message lists them
/// (`15.18 in /usr/lib/postgresql/15/bin, ...`, or `none`).
pub fn describe_found(found: &[PgTools]) -> String {
    if found.is_empty() {
        return "none".to_owned();
    }
    found
        .iter()
        .map(|t| format!("{} in {}", t.version, t.bin_dir.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(major: u32) -> PgTools {
        PgTools {
            major,
            version: format!("{major}.1"),
            bin_dir: PathBuf::from(format!("/opt/pg{major}/bin")),
        }
    }

    #[test]
    fn parses_versions() {
        assert_eq!(
            parse_version_output("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n")
                .as_deref(),
            Some("15.18")
        );
        assert_eq!(
            parse_version_output("pg_dump (PostgreSQL) 18.0\n").as_deref(),
            Some("18.0")
        );
        assert_eq!(
            parse_version_output("pg_dump (PostgreSQL) 19devel").as_deref(),
            Some("19devel")
        );
        assert_eq!(parse_version_output("garbage"), None);
        assert_eq!(major_of("9.6.24"), Some(9));
        assert_eq!(major_of("18beta1"), Some(18));
        assert_eq!(major_of_num(150018), 15);
        assert_eq!(major_of_num(180000), 18);
        assert_eq!(major_of_num(90624), 9);
    }

    #[test]
    fn probe_reading() {
        assert!(probe_accepted(
            "pg_dump: error: connection to server on socket \"/x/.s.PGSQL.5432\" failed"
        ));
        assert!(!probe_accepted(
            "pg_dump: error: invalid value \"zstd\" for option -Z/--compress"
        ));
        assert!(!probe_accepted("pg_dump: error: invalid compression specification: this build does not support compression with lz4"));
        assert!(!probe_accepted("pg_dump: WARNING: requested compression not available in this installation -- archive will be uncompressed\npg_dump: error: connection to server failed"));
        assert!(!probe_accepted(""));
    }

    #[test]
    fn chooses_lowest_major_not_older_than_server() {
        let found = vec![t(14), t(15), t(17), t(18)];
        assert_eq!(choose(&found, "15.4", 15).unwrap().major, 15);
        assert_eq!(choose(&found, "16.2", 16).unwrap().major, 17);
        assert_eq!(choose(&found, "13.1", 13).unwrap().major, 14);
        assert_eq!(choose(&found, "18.0", 18).unwrap().major, 18);
    }

    #[test]
    fn no_suitable_dump_names_versions_and_fix() {
        let err = choose(&[t(15)], "18.1", 18).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("PostgreSQL 18.1"), "{msg}");
        assert!(msg.contains("15.1 in /opt/pg15/bin"), "{msg}");
        assert!(msg.contains("postgresql-client-18"), "{msg}");
        assert!(msg.contains("pg_bin_dirs"), "{msg}");
        let none = choose(&[], "16.0", 16).unwrap_err().to_string();
        assert!(none.contains("found: none"), "{none}");
    }
}
