//! What a backup policy means for `pg_dump`. The policy types and their
//! validation are `model::policy` (re-exported here); this module adds the
//! pure parts only the engine needs: the `pg_dump` argument vector a policy
//! implies, and pg_dump's name patterns checked against a table list.

use std::ffi::OsString;

pub use model::policy::*;

/// Where pg_dump writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpOutput {
    Stdout,
    Directory(std::path::PathBuf),
}

/// The full `pg_dump` argument vector for a policy. The caller checked
/// `caps.supports(..)`; an unsupported method is refused here too.
pub fn pg_dump_args(
    policy: &Policy,
    caps: &DumpCapabilities,
    conninfo: &str,
    snapshot: Option<&str>,
    output: &DumpOutput,
) -> Result<Vec<OsString>, PolicyError> {
    let mut v: Vec<OsString> = Vec::new();
    match (&policy.format, output) {
        (Format::Custom, DumpOutput::Stdout) => v.push("--format=custom".into()),
        (Format::Directory { jobs }, DumpOutput::Directory(dir)) => {
            v.push("--format=directory".into());
            v.push(format!("--jobs={jobs}").into());
            let mut f = OsString::from("--file=");
            f.push(dir.as_os_str());
            v.push(f);
            // The spool is scratch: no fsync pass at the end, which would
            // reopen (for writing) every file pgshelf already uploaded
            // and removed.
            v.push("--no-sync".into());
        }
        _ => {
            return Err(PolicyError::new(
                "format",
                "output does not match the format",
            ))
        }
    }
    match policy.compression {
        Compression::Pgshelf { .. } | Compression::None => v.push("--compress=0".into()),
        Compression::PgDump { algorithm, level } => {
            if !caps.supports(algorithm) {
                return Err(PolicyError::new(
                    "compression",
                    format!(
                        "this pg_dump cannot compress with {}. Fix: choose pgshelf's zstd, or {}",
                        algorithm.as_str(),
                        if caps.gzip { "gzip" } else { "none" }
                    ),
                ));
            }
            if caps.method_syntax {
                v.push(format!("--compress={}:{level}", algorithm.as_str()).into());
            } else {
                v.push(format!("--compress={level}").into());
            }
        }
    }
    v.push("--no-password".into());
    // The stderr tail of a stalled, timed-out or failed run then names the
    // table pg_dump was on.
    v.push("--verbose".into());
    let s = &policy.selection;
    for (flag, list) in [
        ("--schema", &s.include_schemas),
        ("--exclude-schema", &s.exclude_schemas),
        ("--table", &s.include_tables),
        ("--exclude-table", &s.exclude_tables),
        ("--exclude-table-data", &s.exclude_table_data),
    ] {
        for p in list {
            v.push(format!("{flag}={p}").into());
        }
    }
    if let Some(secs) = policy.lock_wait_timeout_secs {
        v.push(format!("--lock-wait-timeout={}", u64::from(secs) * 1000).into());
    }
    if let Some(id) = snapshot {
        v.push(format!("--snapshot={id}").into());
    }
    v.push(format!("--dbname={conninfo}").into());
    Ok(v)
}

/// One pg_dump name pattern split into matchers for schema and name, as
/// psql/pg_dump read them: unquoted letters fold to lower case, `*` and `?`
/// are wildcards, `.` separates schema from name, `"..."` is literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern {
    schema: Option<Vec<Tok>>,
    name: Vec<Tok>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    Any,
    One,
}

impl NamePattern {
    pub fn parse(p: &str) -> NamePattern {
        let mut parts: Vec<Vec<Tok>> = vec![Vec::new()];
        let mut quoted = false;
        let mut chars = p.chars().peekable();
        while let Some(c) = chars.next() {
            let cur = parts.last_mut().expect("one part");
            match c {
                '"' if quoted && chars.peek() == Some(&'"') => {
                    chars.next();
                    cur.push(Tok::Lit('"'));
                }
                '"' => quoted = !quoted,
                _ if quoted => cur.push(Tok::Lit(c)),
                '*' => cur.push(Tok::Any),
                '?' => cur.push(Tok::One),
                '.' => parts.push(Vec::new()),
                _ => cur.extend(c.to_lowercase().map(Tok::Lit)),
            }
        }
        let name = parts.pop().unwrap_or_default();
        // database.schema.table: the database part is ignored here.
        let schema = parts.pop();
        NamePattern { schema, name }
    }

    /// Whether `schema.name` matches.
    pub fn matches(&self, schema: &str, name: &str) -> bool {
        self.schema.as_ref().is_none_or(|s| glob(s, schema)) && glob(&self.name, name)
    }

    /// Whether a schema name matches (for `--schema` patterns).
    pub fn matches_schema(&self, schema: &str) -> bool {
        glob(&self.name, schema)
    }
}

fn glob(p: &[Tok], s: &str) -> bool {
    let s: Vec<char> = s.chars().collect();
    // Iterative wildcard matching with backtracking on the last `*`.
    let (mut pi, mut si) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while si < s.len() {
        match p.get(pi) {
            Some(Tok::Lit(c)) if *c == s[si] => {
                pi += 1;
                si += 1;
            }
            Some(Tok::One) => {
                pi += 1;
                si += 1;
            }
            Some(Tok::Any) => {
                star = Some(pi);
                mark = si;
                pi += 1;
            }
            _ => match star {
                Some(sp) => {
                    pi = sp + 1;
                    mark += 1;
                    si = mark;
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|t| *t == Tok::Any)
}

/// Patterns of a selection that match no table (or schema) of `tables`:
/// each becomes a warning on the run, never a silent no-op.
pub fn unmatched_patterns(
    sel: &Selection,
    schemas: &[String],
    tables: &[(String, String)],
) -> Vec<String> {
    let mut out = Vec::new();
    for (flag, list) in [
        ("include schema", &sel.include_schemas),
        ("exclude schema", &sel.exclude_schemas),
    ] {
        for p in list {
            let np = NamePattern::parse(p);
            if !schemas.iter().any(|s| np.matches_schema(s)) {
                out.push(format!("{flag} pattern {p:?} matches no schema"));
            }
        }
    }
    for (flag, list) in [
        ("include table", &sel.include_tables),
        ("exclude table", &sel.exclude_tables),
        ("exclude table data", &sel.exclude_table_data),
    ] {
        for p in list {
            let np = NamePattern::parse(p);
            if !tables.iter().any(|(s, n)| np.matches(s, n)) {
                out.push(format!("{flag} pattern {p:?} matches no table"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::Tiers;

    fn strs(v: Vec<OsString>) -> Vec<String> {
        v.into_iter().map(|s| s.into_string().unwrap()).collect()
    }

    const ALL: DumpCapabilities = DumpCapabilities {
        method_syntax: true,
        gzip: true,
        lz4: true,
        zstd: true,
    };

    #[test]
    fn default_policy_is_valid_and_custom_zstd() {
        let p = Policy::default();
        p.validate().unwrap();
        assert_eq!(p.custom_file_name(), "dump.zst");
        let a =
            strs(pg_dump_args(&p, &ALL, "host='h'", Some("snap"), &DumpOutput::Stdout).unwrap());
        assert_eq!(
            a,
            [
                "--format=custom",
                "--compress=0",
                "--no-password",
                "--verbose",
                "--snapshot=snap",
                "--dbname=host='h'"
            ]
        );
    }

    #[test]
    fn every_option_becomes_its_own_argument() {
        let p = Policy {
            format: Format::Directory { jobs: 3 },
            compression: Compression::PgDump {
                algorithm: PgDumpAlgorithm::Lz4,
                level: 5,
            },
            selection: Selection {
                include_schemas: vec!["sales".into()],
                exclude_schemas: vec!["tmp_*".into()],
                include_tables: vec!["sales.\"Order Lines\"".into()],
                exclude_tables: vec!["sales.big; DROP TABLE x".into()],
                exclude_table_data: vec!["audit.log".into()],
            },
            lock_wait_timeout_secs: Some(30),
            ..Policy::default()
        };
        p.validate().unwrap();
        let a = strs(
            pg_dump_args(
                &p,
                &ALL,
                "c",
                None,
                &DumpOutput::Directory("/spool/7".into()),
            )
            .unwrap(),
        );
        assert_eq!(
            a,
            [
                "--format=directory",
                "--jobs=3",
                "--file=/spool/7",
                "--no-sync",
                "--compress=lz4:5",
                "--no-password",
                "--verbose",
                "--schema=sales",
                "--exclude-schema=tmp_*",
                "--table=sales.\"Order Lines\"",
                "--exclude-table=sales.big; DROP TABLE x",
                "--exclude-table-data=audit.log",
                "--lock-wait-timeout=30000",
                "--dbname=c",
            ]
        );
    }

    #[test]
    fn compression_must_be_supported() {
        let p = Policy {
            compression: Compression::PgDump {
                algorithm: PgDumpAlgorithm::Zstd,
                level: 3,
            },
            ..Policy::default()
        };
        let old = DumpCapabilities {
            method_syntax: false,
            gzip: true,
            lz4: false,
            zstd: false,
        };
        let e = pg_dump_args(&p, &old, "c", None, &DumpOutput::Stdout).unwrap_err();
        assert!(e.message.contains("cannot compress with zstd"), "{e}");
        let gz = Policy {
            compression: Compression::PgDump {
                algorithm: PgDumpAlgorithm::Gzip,
                level: 6,
            },
            ..Policy::default()
        };
        let a = strs(pg_dump_args(&gz, &old, "c", None, &DumpOutput::Stdout).unwrap());
        assert_eq!(a[1], "--compress=6", "pre-16 syntax");
        assert_eq!(gz.custom_file_name(), "dump.custom");
        // lz4 advertised without the method syntax is not usable.
        assert!(!DumpCapabilities { lz4: true, ..old }.supports(PgDumpAlgorithm::Lz4));
    }

    #[test]
    fn format_and_output_must_agree() {
        let p = Policy::default();
        assert!(pg_dump_args(&p, &ALL, "c", None, &DumpOutput::Directory("/x".into())).is_err());
    }

    #[test]
    fn validation_names_field_and_fix() {
        let cases: Vec<(Policy, &str)> = vec![
            (
                Policy {
                    schedule: "61 * * * *".into(),
                    ..Policy::default()
                },
                "schedule",
            ),
            (
                Policy {
                    timezone: "Mars/Olympus".into(),
                    ..Policy::default()
                },
                "timezone",
            ),
            (
                Policy {
                    format: Format::Directory { jobs: 0 },
                    ..Policy::default()
                },
                "format.jobs",
            ),
            (
                Policy {
                    format: Format::Directory { jobs: 500 },
                    ..Policy::default()
                },
                "format.jobs",
            ),
            (
                Policy {
                    compression: Compression::Pgshelf { level: 30 },
                    ..Policy::default()
                },
                "compression.level",
            ),
            (
                Policy {
                    compression: Compression::PgDump {
                        algorithm: PgDumpAlgorithm::Gzip,
                        level: 10,
                    },
                    ..Policy::default()
                },
                "compression.level",
            ),
            (
                Policy {
                    selection: Selection {
                        exclude_tables: vec!["-x".into()],
                        ..Default::default()
                    },
                    ..Policy::default()
                },
                "selection.exclude_tables",
            ),
            (
                Policy {
                    selection: Selection {
                        include_tables: vec!["\"open".into()],
                        ..Default::default()
                    },
                    ..Policy::default()
                },
                "selection.include_tables",
            ),
            (
                Policy {
                    stall_timeout_secs: 1,
                    ..Policy::default()
                },
                "stall_timeout_secs",
            ),
            (
                Policy {
                    run_timeout_secs: Some(0),
                    ..Policy::default()
                },
                "run_timeout_secs",
            ),
            (
                Policy {
                    retention: Tiers {
                        hourly: 1_000_000,
                        ..Tiers::default()
                    },
                    ..Policy::default()
                },
                "retention",
            ),
        ];
        for (p, field) in cases {
            let e = p.validate().unwrap_err();
            assert_eq!(e.field, field, "{e}");
        }
    }

    #[test]
    fn policies_round_trip_as_toml_and_json_and_refuse_unknown_keys() {
        let p = Policy {
            format: Format::Directory { jobs: 2 },
            ..Policy::default()
        };
        let j = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<Policy>(&j).unwrap(), p);
        let partial: Policy = serde_json::from_str(r#"{"schedule":"@hourly"}"#).unwrap();
        assert_eq!(partial.schedule, "@hourly");
        assert_eq!(partial.format, Format::Custom);
        assert!(serde_json::from_str::<Policy>(r#"{"schedul":"@hourly"}"#).is_err());
    }

    #[test]
    fn patterns_follow_pg_dump_rules() {
        let p = NamePattern::parse("sales.order*");
        assert!(p.matches("sales", "orders"));
        assert!(!p.matches("public", "orders"));
        assert!(
            NamePattern::parse("Orders").matches("x", "orders"),
            "unquoted folds to lower case"
        );
        assert!(!NamePattern::parse("Orders").matches("x", "Orders"));
        let q = NamePattern::parse("\"Audit Log\".\"My \"\"Odd\"\" Table\"");
        assert!(q.matches("Audit Log", "My \"Odd\" Table"));
        assert!(NamePattern::parse("t?").matches("s", "t1"));
        assert!(!NamePattern::parse("t?").matches("s", "t12"));
        assert!(NamePattern::parse("*").matches("s", ""));
        assert!(NamePattern::parse("a*b*c").matches("s", "axxbyyc"));
        assert!(!NamePattern::parse("a*b*c").matches("s", "axxbyy"));
        assert!(NamePattern::parse("db.sales.t").matches("sales", "t"));
        assert!(NamePattern::parse("\"a.b\"").matches("s", "a.b"));
    }

    #[test]
    fn unmatched_patterns_are_reported() {
        let sel = Selection {
            include_schemas: vec!["sales".into(), "nosuch".into()],
            exclude_tables: vec!["sales.orders".into(), "sales.ghost".into()],
            exclude_table_data: vec!["*.log*".into()],
            ..Default::default()
        };
        let schemas = vec!["public".to_string(), "sales".to_string()];
        let tables = vec![("sales".to_string(), "orders".to_string())];
        let w = unmatched_patterns(&sel, &schemas, &tables);
        assert_eq!(
            w,
            [
                "include schema pattern \"nosuch\" matches no schema",
                "exclude table pattern \"sales.ghost\" matches no table",
                "exclude table data pattern \"*.log*\" matches no table",
            ]
        );
    }

    #[test]
    fn server_plan_coverage() {
        let mut plan = ServerPlan::default();
        plan.validate().unwrap();
        assert!(plan.covers("anything"));
        // Nobody chose the maintenance database or the templates.
        assert!(!plan.covers("postgres"));
        assert!(!plan.covers("template0") && !plan.covers("template1"));
        assert_eq!(
            plan.coverage_words(),
            "every database except postgres and the templates (new ones picked up)"
        );
        // Plans stored before `exclude` existed read with the default.
        let old: ServerPlan = serde_json::from_str(r#"{"coverage":{"mode":"all"}}"#).unwrap();
        assert!(!old.covers("postgres") && old.covers("app"));
        // Taken back in by emptying the list; the templates stay out.
        plan.exclude.clear();
        assert!(plan.covers("postgres") && !plan.covers("template1"));
        plan.exclude = vec!["a".into(), "b".into()];
        assert_eq!(
            plan.coverage_words(),
            "every database except a, b and the templates (new ones picked up)"
        );
        plan.exclude = vec![" ".into()];
        assert_eq!(plan.validate().unwrap_err().field, "exclude");
        plan.exclude.clear();
        // Only: exactly those listed, the maintenance database too.
        plan.coverage = Coverage::Only {
            databases: vec!["postgres".into()],
        };
        assert!(plan.covers("postgres") && !plan.covers("app"));
        assert_eq!(plan.coverage_words(), "only postgres");
        plan.coverage = Coverage::Only {
            databases: vec!["app".into()],
        };
        assert!(plan.covers("app") && !plan.covers("other"));
        plan.globals.schedule = "bad".into();
        assert_eq!(plan.validate().unwrap_err().field, "globals.schedule");
        let plan = ServerPlan {
            standby: Some(Standby {
                host: "".into(),
                port: 5432,
            }),
            ..ServerPlan::default()
        };
        assert_eq!(plan.validate().unwrap_err().field, "standby");
    }
}
