//! The policy and server-plan forms hold what the user typed (numbers as
//! text, pattern lists one per line) so a half-typed value can sit in its
//! input with an error beside it; that is why these shapes exist beside
//! `model::policy`. Here, in the browser and on the server alike, they turn
//! into a [`Policy`] / [`ServerPlan`] (or every field error, one line each,
//! worded like the engine's: `field: message. Fix: ...`) and back.

use model::policy::{
    looks_like_age_recipient, Compression, Coverage, EncryptionPolicy, Format, GlobalsPolicy,
    PgDumpAlgorithm, Policy, Selection, ServerPlan, Standby, TestRestorePolicy,
};
use model::retention::Tiers;
use serde::{Deserialize, Serialize};

/// The retention tiers, finest first (as the engine names them).
pub const TIER_NAMES: [&str; 5] = ["hourly", "daily", "weekly", "monthly", "yearly"];

/// A bad form field as `field: message`, the shape field errors are shown in.
fn field_error(field: &str, message: impl std::fmt::Display) -> String {
    format!("{field}: {message}")
}

/// Retention tier counts as typed (blank means 0).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TiersForm {
    pub hourly: String,
    pub daily: String,
    pub weekly: String,
    pub monthly: String,
    pub yearly: String,
}

impl TiersForm {
    /// The count typed for a tier, by name (see [`TIER_NAMES`]).
    pub fn get(&self, tier: &str) -> &str {
        match tier {
            "hourly" => &self.hourly,
            "daily" => &self.daily,
            "weekly" => &self.weekly,
            "monthly" => &self.monthly,
            _ => &self.yearly,
        }
    }

    /// Sets the count of a tier, by name.
    pub fn set(&mut self, tier: &str, value: String) {
        match tier {
            "hourly" => self.hourly = value,
            "daily" => self.daily = value,
            "weekly" => self.weekly = value,
            "monthly" => self.monthly = value,
            _ => self.yearly = value,
        }
    }
}

/// A backup policy as the form edits it : numbers as typed, pattern lists one per line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PolicyForm {
    pub enabled: bool,
    /// Cron expression or preset such as `@daily`.
    pub schedule: String,
    pub timezone: String,
    /// `custom` or `directory`.
    pub format: String,
    /// Parallel jobs for directory format.
    pub jobs: String,
    /// `pgshelf` (zstd in pgshelf), `gzip`, `lz4`, `zstd` (pg_dump's own) or `none`.
    pub compression: String,
    /// Compression level; blank for the method's default.
    pub level: String,
    pub include_schemas: String,
    pub exclude_schemas: String,
    pub include_tables: String,
    pub exclude_tables: String,
    pub exclude_table_data: String,
    pub serializable_deferrable: bool,
    /// Seconds; blank to wait.
    pub lock_wait_timeout_secs: String,
    /// Seconds; blank for no limit.
    pub run_timeout_secs: String,
    /// Seconds without a byte moving before the run fails as stalled.
    pub stall_timeout_secs: String,
    pub retention: TiersForm,
    /// Scheduled test-restores on or off.
    pub test_restore_enabled: bool,
    /// The test-restore schedule (cron or preset).
    pub test_restore_cron: String,
    /// Server name to test-restore on; blank: the backup's own server.
    pub test_restore_server: String,
    pub test_restore_globals: bool,
    /// Destination names, in the order the form lists them; empty: `local`.
    pub destinations: Vec<String>,
    /// age recipients (`age1...`), one per line; blank: not encrypted.
    pub recipients: String,
}

/// A server plan as the form edits it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServerPlanForm {
    /// `all` or `only`.
    pub coverage: String,
    /// For `only`: one database per line.
    pub databases: String,
    /// For `all`: databases left out, one per line.
    pub exclude: String,
    pub globals_enabled: bool,
    pub globals_schedule: String,
    pub globals_timezone: String,
    pub no_role_passwords: bool,
    pub globals_retention: TiersForm,
    /// Blank: no standby.
    pub standby_host: String,
    pub standby_port: String,
    /// Where globals backups go (names); empty: `local`.
    pub globals_destinations: Vec<String>,
}

fn join_lines(list: &[String]) -> String {
    list.join("\n")
}

fn split_lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn opt_num(n: Option<u32>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

/// A whole number from a form field; blank gives `blank`.
fn parse_u32(field: &str, s: &str, blank: Option<u32>) -> Result<Option<u32>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(blank);
    }
    s.parse::<u32>().map(Some).map_err(|_| {
        field_error(
            field,
            format!("{s:?} is not a whole number. Fix: enter digits only, e.g. 7"),
        )
    })
}

/// Collects every field that does not parse, so the form reports them all
/// at once; a field that does not parse reads as its default meanwhile.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    /// The value, or `fallback` with the error kept.
    fn take<T>(&mut self, r: Result<T, String>, fallback: T) -> T {
        r.unwrap_or_else(|e| {
            self.0.push(e);
            fallback
        })
    }

    /// Whether a kept error is about `field` (or a field under it).
    fn about(&self, field: &str) -> bool {
        self.0.iter().any(|e| {
            e.split_once(": ")
                .is_some_and(|(f, _)| f == field || f.starts_with(&format!("{field}.")))
        })
    }

    /// `Ok(value)` when nothing failed; otherwise every error, one line
    /// each, then the problems `more` finds in the rest (fields that parsed).
    fn finish<T>(
        self,
        value: T,
        more: impl FnOnce(&T) -> Vec<(String, String)>,
    ) -> Result<T, String> {
        if self.0.is_empty() {
            return Ok(value);
        }
        let mut lines = self.0.clone();
        for (field, message) in more(&value) {
            if !self.about(&field) && !self.about(field.split('[').next().unwrap_or(&field)) {
                lines.push(field_error(&field, message));
            }
        }
        Err(lines.join("\n"))
    }
}

/// A policy's tiers as the form shows them.
pub fn tiers_form(t: &Tiers) -> TiersForm {
    TiersForm {
        hourly: t.hourly.to_string(),
        daily: t.daily.to_string(),
        weekly: t.weekly.to_string(),
        monthly: t.monthly.to_string(),
        yearly: t.yearly.to_string(),
    }
}

fn tiers_from(prefix: &str, f: &TiersForm, errs: &mut Problems) -> Tiers {
    let mut n = |tier: &str, s: &str| -> u32 {
        let r = parse_u32(&format!("{prefix}.{tier}"), s, Some(0));
        errs.take(r, None).unwrap_or(0)
    };
    Tiers {
        hourly: n("hourly", &f.hourly),
        daily: n("daily", &f.daily),
        weekly: n("weekly", &f.weekly),
        monthly: n("monthly", &f.monthly),
        yearly: n("yearly", &f.yearly),
    }
}

/// A policy as the form shows it.
pub fn policy_form(p: &Policy) -> PolicyForm {
    let (format, jobs) = match p.format {
        Format::Custom => ("custom", String::new()),
        Format::Directory { jobs } => ("directory", jobs.to_string()),
    };
    let (compression, level) = match p.compression {
        Compression::Pgshelf { level } => ("pgshelf", level.to_string()),
        Compression::PgDump { algorithm, level } => (algorithm.as_str(), level.to_string()),
        Compression::None => ("none", String::new()),
    };
    let s = &p.selection;
    PolicyForm {
        enabled: p.enabled,
        schedule: p.schedule.clone(),
        timezone: p.timezone.clone(),
        format: format.into(),
        jobs,
        compression: compression.into(),
        level,
        include_schemas: join_lines(&s.include_schemas),
        exclude_schemas: join_lines(&s.exclude_schemas),
        include_tables: join_lines(&s.include_tables),
        exclude_tables: join_lines(&s.exclude_tables),
        exclude_table_data: join_lines(&s.exclude_table_data),
        serializable_deferrable: p.serializable_deferrable,
        lock_wait_timeout_secs: opt_num(p.lock_wait_timeout_secs),
        run_timeout_secs: opt_num(p.run_timeout_secs),
        stall_timeout_secs: p.stall_timeout_secs.to_string(),
        retention: tiers_form(&p.retention),
        test_restore_enabled: p.test_restore.enabled,
        test_restore_cron: p.test_restore.cron.clone(),
        test_restore_server: p.test_restore.restore_server.clone().unwrap_or_default(),
        test_restore_globals: p.test_restore.with_globals,
        destinations: p.destinations.clone(),
        recipients: join_lines(&p.encryption.recipients),
    }
}

/// The recipients typed, one per line, each checked to look like an age
/// public key (the engine parses them fully on save).
pub fn recipients_from(text: &str) -> Result<Vec<String>, String> {
    let list = split_lines(text);
    for (i, r) in list.iter().enumerate() {
        if !looks_like_age_recipient(r) {
            let shown = if r.starts_with("AGE-SECRET-KEY") {
                "a secret key (never paste it here)".to_owned()
            } else {
                format!("{r:?}")
            };
            return Err(field_error(
                "encryption.recipients",
                format!("line {}: {shown} is not an age public key. Fix: paste the line that starts with age1 (from `age-keygen -y key.txt`), one per line", i + 1),
            ));
        }
    }
    Ok(list)
}

/// The form as an engine policy; the engine validates the rest on save.
/// When a field does not parse, the error lists every field that does not,
/// and every problem [`Policy::problems`] finds in the others, one
/// `field: message` line each.
pub fn policy_from_form(f: &PolicyForm) -> Result<Policy, String> {
    let mut errs = Problems::default();
    let format = match f.format.as_str() {
        "custom" | "" => Format::Custom,
        "directory" => Format::Directory {
            jobs: errs
                .take(parse_u32("format.jobs", &f.jobs, Some(2)), None)
                .unwrap_or(2),
        },
        other => {
            errs.0.push(field_error(
                "format",
                format!("{other:?} is not a format. Fix: choose custom or directory"),
            ));
            Format::Custom
        }
    };
    let mut level = |default: u32| {
        errs.take(
            parse_u32("compression.level", &f.level, Some(default)),
            None,
        )
        .unwrap_or(default)
    };
    let compression = match f.compression.as_str() {
        "pgshelf" | "" => Compression::Pgshelf {
            level: level(3).min(i32::MAX as u32) as i32,
        },
        "gzip" => Compression::PgDump {
            algorithm: PgDumpAlgorithm::Gzip,
            level: level(6),
        },
        "lz4" => Compression::PgDump {
            algorithm: PgDumpAlgorithm::Lz4,
            level: level(1),
        },
        "zstd" => Compression::PgDump {
            algorithm: PgDumpAlgorithm::Zstd,
            level: level(3),
        },
        "none" => Compression::None,
        other => {
            errs.0.push(field_error(
                "compression",
                format!("{other:?} is not a compression method. Fix: choose one from the list"),
            ));
            Compression::Pgshelf { level: 3 }
        }
    };
    let lock_wait_timeout_secs = errs.take(
        parse_u32("lock_wait_timeout_secs", &f.lock_wait_timeout_secs, None),
        None,
    );
    let run_timeout_secs = errs.take(
        parse_u32("run_timeout_secs", &f.run_timeout_secs, None),
        None,
    );
    let stall_timeout_secs = errs
        .take(
            parse_u32("stall_timeout_secs", &f.stall_timeout_secs, Some(900)),
            None,
        )
        .unwrap_or(900);
    let retention = tiers_from("retention", &f.retention, &mut errs);
    let recipients = errs.take(recipients_from(&f.recipients), Vec::new());
    let policy = Policy {
        enabled: f.enabled,
        schedule: f.schedule.trim().to_owned(),
        timezone: f.timezone.trim().to_owned(),
        format,
        compression,
        selection: Selection {
            include_schemas: split_lines(&f.include_schemas),
            exclude_schemas: split_lines(&f.exclude_schemas),
            include_tables: split_lines(&f.include_tables),
            exclude_tables: split_lines(&f.exclude_tables),
            exclude_table_data: split_lines(&f.exclude_table_data),
        },
        serializable_deferrable: f.serializable_deferrable,
        lock_wait_timeout_secs,
        run_timeout_secs,
        stall_timeout_secs,
        retention,
        test_restore: TestRestorePolicy {
            enabled: f.test_restore_enabled,
            cron: f.test_restore_cron.trim().to_owned(),
            restore_server: Some(f.test_restore_server.trim())
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
            with_globals: f.test_restore_globals,
        },
        destinations: f.destinations.clone(),
        encryption: EncryptionPolicy { recipients },
    };
    errs.finish(policy, |p| {
        p.problems()
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    })
}

/// A server plan as the form shows it.
pub fn plan_form(p: &ServerPlan) -> ServerPlanForm {
    let (coverage, databases) = match &p.coverage {
        Coverage::All => ("all", String::new()),
        Coverage::Only { databases } => ("only", join_lines(databases)),
    };
    let g = &p.globals;
    ServerPlanForm {
        coverage: coverage.into(),
        databases,
        exclude: join_lines(&p.exclude),
        globals_enabled: g.enabled,
        globals_schedule: g.schedule.clone(),
        globals_timezone: g.timezone.clone(),
        no_role_passwords: g.no_role_passwords,
        globals_retention: tiers_form(&g.retention),
        standby_host: p
            .standby
            .as_ref()
            .map(|s| s.host.clone())
            .unwrap_or_default(),
        standby_port: p
            .standby
            .as_ref()
            .map(|s| s.port.to_string())
            .unwrap_or_default(),
        globals_destinations: p.globals.destinations.clone(),
    }
}

/// The form as a server plan; the engine validates the rest on save. Like
/// [`policy_from_form`], a field that does not parse brings every other
/// problem with it.
pub fn plan_from_form(f: &ServerPlanForm) -> Result<ServerPlan, String> {
    let mut errs = Problems::default();
    let coverage = match f.coverage.as_str() {
        "all" | "" => Coverage::All,
        "only" => Coverage::Only {
            databases: split_lines(&f.databases),
        },
        other => {
            errs.0.push(field_error(
                "coverage",
                format!("{other:?} is not a coverage. Fix: choose all or only"),
            ));
            Coverage::All
        }
    };
    let host = f.standby_host.trim();
    let standby = if host.is_empty() && f.standby_port.trim().is_empty() {
        None
    } else {
        let port = match f.standby_port.trim() {
            "" => 5432,
            p => {
                let parsed = p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                    field_error(
                        "standby",
                        format!(
                            "port {p:?} is not a port number. Fix: enter a number from 1 to 65535"
                        ),
                    )
                });
                errs.take(parsed, 5432)
            }
        };
        Some(Standby {
            host: host.to_owned(),
            port,
        })
    };
    let retention = tiers_from("globals.retention", &f.globals_retention, &mut errs);
    let plan = ServerPlan {
        coverage,
        exclude: split_lines(&f.exclude),
        globals: GlobalsPolicy {
            enabled: f.globals_enabled,
            schedule: f.globals_schedule.trim().to_owned(),
            timezone: f.globals_timezone.trim().to_owned(),
            no_role_passwords: f.no_role_passwords,
            retention,
            destinations: f.globals_destinations.clone(),
        },
        standby,
    };
    errs.finish(plan, |p| match p.validate() {
        Ok(()) => Vec::new(),
        Err(e) => e
            .to_string()
            .lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(f, m)| (f.to_owned(), m.to_owned()))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECIPIENT: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

    #[test]
    fn a_saved_policy_keeps_its_destinations_and_recipients() {
        let p = Policy {
            destinations: vec!["offsite-s3".into(), "nextcloud".into()],
            encryption: EncryptionPolicy {
                recipients: vec![RECIPIENT.into()],
            },
            ..Policy::default()
        };
        assert_eq!(policy_from_form(&policy_form(&p)).unwrap(), p);
        let mut plan = ServerPlan::default();
        plan.globals.destinations = vec!["offsite-s3".into()];
        assert_eq!(plan_from_form(&plan_form(&plan)).unwrap(), plan);
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let mut f = policy_form(&Policy::default());
        f.stall_timeout_secs = "soon".into();
        f.retention.daily = "x".into();
        f.schedule = "61 * * * *".into();
        f.timezone = "Mars/Base".into();
        let e = policy_from_form(&f).unwrap_err();
        let fields: Vec<&str> = e.lines().map(|l| l.split_once(": ").unwrap().0).collect();
        // The fields that do not parse first, then what the policy's own
        // checks find in the rest.
        assert_eq!(
            fields,
            [
                "stall_timeout_secs",
                "retention.daily",
                "schedule",
                "timezone"
            ],
            "{e}"
        );
        assert!(e.lines().all(|l| l.contains("Fix:")), "{e}");

        let mut plan = plan_form(&ServerPlan::default());
        plan.standby_host = "replica".into();
        plan.standby_port = "99999".into();
        plan.globals_retention.weekly = "-1".into();
        plan.globals_schedule = "bad".into();
        let e = plan_from_form(&plan).unwrap_err();
        let fields: Vec<&str> = e.lines().map(|l| l.split_once(": ").unwrap().0).collect();
        assert_eq!(
            fields,
            ["standby", "globals.retention.weekly", "globals.schedule"],
            "{e}"
        );
        // Nothing wrong: the policy as typed.
        assert!(policy_from_form(&policy_form(&Policy::default())).is_ok());
    }

    #[test]
    fn recipients_are_checked_one_per_line() {
        let text = format!("\n {RECIPIENT} \n\n");
        assert_eq!(recipients_from(&text).unwrap(), vec![RECIPIENT.to_owned()]);
        let e = recipients_from(&format!("{RECIPIENT}\nage1typo")).unwrap_err();
        assert!(e.starts_with("encryption.recipients: line 2: "), "{e}");
        let e = recipients_from("AGE-SECRET-KEY-1QQQ").unwrap_err();
        assert!(
            !e.contains("AGE-SECRET-KEY-1QQQ"),
            "a secret is never echoed: {e}"
        );
    }
}
