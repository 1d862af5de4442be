//! Configuration: defaults, then `pgshelf.toml`, then `PGSHELF_*` variables.
//!
//! Unknown keys and variables are warned about, never silently ignored.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use engine::plans::{DeclaredPlan, DeclaredPolicy};
use engine::policy::{Policy, ServerPlan};
use engine::secrets::Secret;
use model::destination::{DestinationInput, DestinationSettings};
use serde::Deserialize;

/// Every setting, after all layers are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Address the dashboard listens on.
    pub listen: SocketAddr,
    /// Catalog, instance key, and (by default) local backups.
    pub data_dir: PathBuf,
    /// Root of the local destination (default `<data>/backups`).
    pub backup_dir: PathBuf,
    /// The built site (`pkg/` with the wasm and CSS).
    pub site_root: PathBuf,
    /// Extra directories with PostgreSQL client tools, searched first.
    pub pg_bin_dirs: Vec<PathBuf>,
    /// Also look in `/usr/lib/postgresql/*/bin` and `$PATH`.
    pub search_system_tools: bool,
    pub zstd_level: i32,
    pub zstd_threads: Option<u32>,
    pub runs_per_server: usize,
    pub max_runs: usize,
    /// The newest N successful backups of each database are never pruned,
    /// whatever the retention tiers say.
    pub min_backups_kept: u32,
    /// Where row counts are taken by SQL (pg_dump compresses itself), tables
    /// with more data than this get a `reltuples` estimate, shown as one.
    pub exact_count_max_bytes: u64,
    /// A backup whose stored size is outside `1/r..r` times the median of
    /// the previous ones of its database and policy is marked suspect.
    pub suspect_size_ratio: f64,
    /// Where people reach pgshelf (e.g. `https://pgshelf.example`): alert
    /// messages link to pages under it. Empty: no links.
    pub base_url: String,
    /// An open incident alerts again after this many hours.
    pub alert_repeat_hours: u32,
    /// Seconds between scheduler ticks.
    pub scheduler_interval_secs: u64,
    /// Seconds between refreshes of each server's database list.
    pub discovery_interval_secs: u64,
    /// On SIGTERM/SIGINT, seconds running backups get to finish before
    /// they are stopped and recorded failed.
    pub stop_grace_secs: u64,
    /// `maintenance_work_mem` of a full restore's sessions (PostgreSQL's
    /// advice for large restores), e.g. `1GB`.
    pub restore_maintenance_work_mem: String,
    /// Log filter, e.g. `info` or `pgshelf=debug`.
    pub log: String,
    /// How log lines are written to stderr: readable text, or one JSON
    /// object per line for a log shipper.
    pub log_format: LogFormat,
    /// Policies declared under `[servers.NAME.policy]` and
    /// `[servers.NAME.databases.DB.policy]`: read-only in the dashboard.
    pub declared_policies: Vec<DeclaredPolicy>,
    /// Plans declared under `[servers.NAME.plan]`.
    pub declared_plans: Vec<DeclaredPlan>,
    /// Destinations declared as `[[destination]]` tables: read-only in the
    /// dashboard, handed to the engine at every start.
    pub declared_destinations: Vec<DeclaredDestination>,
    /// When set, `/metrics` answers only requests with
    /// `Authorization: Bearer <token>`. From `metrics_token_file` (a file
    /// only pgshelf's user can read) or `PGSHELF_METRICS_TOKEN`, never inline
    /// in pgshelf.toml; redacted in `Debug`.
    pub metrics_token: Option<Secret>,
}

/// The shape of log lines on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One readable line per event (the default).
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields`
    /// (the message and each field, e.g. `backup`, `status`, `stored_bytes`).
    Json,
}

impl LogFormat {
    fn parse(v: &str, source_name: &str) -> Result<Self, ConfigError> {
        match v.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(ConfigError {
                source_name: source_name.into(),
                message: format!(
                    "{other:?} is not a log format. Fix: use \"text\" (readable lines) or \"json\" (one JSON object per line)"
                ),
            }),
        }
    }
}

/// A `[[destination]]` table of pgshelf.toml. Its secret was read from
/// `secret_file` or `secret_env` (never inline) and is redacted in `Debug`.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclaredDestination {
    pub name: String,
    pub settings: DestinationSettings,
    pub root: String,
    pub concurrency: u32,
    pub secret: Option<Secret>,
}

impl DeclaredDestination {
    /// What the engine declares.
    pub fn input(&self) -> DestinationInput {
        DestinationInput {
            name: self.name.clone(),
            settings: self.settings.clone(),
            root: self.root.clone(),
            concurrency: self.concurrency,
            secret: self.secret.as_ref().map(|s| s.expose().to_owned()),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:3000".parse().expect("valid default address"),
            data_dir: PathBuf::from("data"),
            backup_dir: PathBuf::from("data/backups"),
            site_root: PathBuf::from("target/site"),
            pg_bin_dirs: Vec::new(),
            search_system_tools: true,
            zstd_level: 3,
            zstd_threads: None,
            runs_per_server: 1,
            max_runs: 4,
            min_backups_kept: engine::retention::DEFAULT_MIN_KEEP,
            exact_count_max_bytes: engine::DEFAULT_EXACT_COUNT_MAX_BYTES,
            suspect_size_ratio: engine::verify::DEFAULT_SUSPECT_SIZE_RATIO,
            base_url: String::new(),
            alert_repeat_hours: engine::notify::DEFAULT_REPEAT_HOURS,
            scheduler_interval_secs: 30,
            discovery_interval_secs: 600,
            stop_grace_secs: 30,
            restore_maintenance_work_mem: engine::DEFAULT_RESTORE_MAINTENANCE_WORK_MEM.into(),
            log: "info".into(),
            log_format: LogFormat::Text,
            declared_policies: Vec::new(),
            declared_plans: Vec::new(),
            declared_destinations: Vec::new(),
            metrics_token: None,
        }
    }
}

/// The file layer: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLayer {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    backup_dir: Option<PathBuf>,
    site_root: Option<PathBuf>,
    pg_bin_dirs: Option<Vec<PathBuf>>,
    search_system_tools: Option<bool>,
    zstd_level: Option<i32>,
    zstd_threads: Option<u32>,
    runs_per_server: Option<usize>,
    max_runs: Option<usize>,
    min_backups_kept: Option<u32>,
    exact_count_max_bytes: Option<u64>,
    suspect_size_ratio: Option<f64>,
    base_url: Option<String>,
    alert_repeat_hours: Option<u32>,
    scheduler_interval_secs: Option<u64>,
    discovery_interval_secs: Option<u64>,
    stop_grace_secs: Option<u64>,
    restore_maintenance_work_mem: Option<String>,
    log: Option<String>,
    log_format: Option<String>,
    metrics_token_file: Option<PathBuf>,
    servers: Option<BTreeMap<String, ServerSection>>,
}

/// `[servers.NAME]`: what pgshelf.toml declares for one server.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerSection {
    policy: Option<Policy>,
    plan: Option<ServerPlan>,
    #[serde(default)]
    databases: BTreeMap<String, DatabaseSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabaseSection {
    policy: Policy,
}

const KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "backup_dir",
    "site_root",
    "pg_bin_dirs",
    "search_system_tools",
    "zstd_level",
    "zstd_threads",
    "runs_per_server",
    "max_runs",
    "min_backups_kept",
    "exact_count_max_bytes",
    "suspect_size_ratio",
    "base_url",
    "alert_repeat_hours",
    "scheduler_interval_secs",
    "discovery_interval_secs",
    "stop_grace_secs",
    "restore_maintenance_work_mem",
    "log",
    "log_format",
    "metrics_token_file",
    "servers",
    "destination",
];

/// Keys of a `[[destination]]` table besides its kind's own.
const DESTINATION_KEYS: &[&str] = &[
    "name",
    "kind",
    "root",
    "concurrency",
    "secret_file",
    "secret_env",
];

/// Each kind's own keys in a `[[destination]]` table (the CLI's flags,
/// with `_` for `-`).
fn kind_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "local" => &["path"],
        "s3" => &[
            "endpoint",
            "region",
            "bucket",
            "virtual_host",
            "access_key_id",
            "storage_class",
        ],
        "webdav" => &["url", "username"],
        "sftp" => &["host", "port", "username", "host_key"],
        "gcs" => &["bucket", "endpoint"],
        "azblob" => &["account", "container", "endpoint", "sas"],
        _ => &[],
    }
}

/// Parses the `[[destination]]` tables. `dir`: the config file's
/// directory (a relative `secret_file` is relative to it).
fn destinations(
    value: toml::Value,
    file: &str,
    dir: &Path,
    get: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<Vec<DeclaredDestination>, ConfigError> {
    let err = |what: &str, message: String| ConfigError {
        source_name: format!("{file}: {what}"),
        message,
    };
    let toml::Value::Array(tables) = value else {
        return Err(err(
            "destination",
            "is not a list of tables. Fix: write each one as a [[destination]] table".into(),
        ));
    };
    let mut out: Vec<DeclaredDestination> = Vec::new();
    for (i, t) in tables.into_iter().enumerate() {
        let toml::Value::Table(t) = t else {
            return Err(err(
                &format!("destination[{i}]"),
                "is not a table. Fix: write it as a [[destination]] table".into(),
            ));
        };
        let name = match t.get("name") {
            Some(toml::Value::String(n)) => n.clone(),
            _ => {
                return Err(err(
                    &format!("destination[{i}]"),
                    "has no name. Fix: add name = \"offsite-s3\" (letters, digits, '-', '_')"
                        .into(),
                ))
            }
        };
        let at = format!("[[destination]] {name}");
        if t.contains_key("secret") {
            return Err(err(
                &at,
                "an inline `secret` is refused: pgshelf.toml is read by more people and tools than a secret should be (version control, config backups, editors). Fix: put the secret in a file only pgshelf's user can read and write secret_file = \"/run/secrets/NAME\", or name an environment variable holding it with secret_env = \"VARIABLE\"".into(),
            ));
        }
        let kind = match t.get("kind") {
            Some(toml::Value::String(k)) if !kind_keys(k).is_empty() => k.clone(),
            other => {
                return Err(err(
                    &at,
                    format!(
                        "kind {} is not a destination kind. Fix: kind = \"local\", \"s3\", \"webdav\", \"sftp\", \"gcs\" or \"azblob\"",
                        other.map(|v| v.to_string()).unwrap_or_else(|| "(missing)".into())
                    ),
                ))
            }
        };
        let str_of = |key: &str| -> Result<Option<String>, ConfigError> {
            match t.get(key) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s.clone())),
                Some(v) => Err(err(
                    &at,
                    format!("{key} = {v} is not a string. Fix: quote it"),
                )),
            }
        };
        let bool_of = |key: &str| -> Result<Option<bool>, ConfigError> {
            match t.get(key) {
                None => Ok(None),
                Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
                Some(v) => Err(err(&at, format!("{key} = {v} is not true or false"))),
            }
        };
        let int_of = |key: &str, max: i64| -> Result<Option<i64>, ConfigError> {
            match t.get(key) {
                None => Ok(None),
                Some(toml::Value::Integer(n)) if (1..=max).contains(n) => Ok(Some(*n)),
                Some(v) => Err(err(
                    &at,
                    format!("{key} = {v} is not a whole number from 1 to {max}"),
                )),
            }
        };
        let own = kind_keys(&kind);
        for k in t.keys() {
            if !DESTINATION_KEYS.contains(&k.as_str()) && !own.contains(&k.as_str()) {
                warnings.push(format!(
                    "{file}: {at}: unknown key {k:?} ignored (a {kind} destination knows: {}, {})",
                    DESTINATION_KEYS.join(", "),
                    own.join(", ")
                ));
            }
        }
        let has = |k: &str| own.contains(&k);
        let pick = |k: &str| -> Result<Option<String>, ConfigError> {
            if has(k) {
                str_of(k)
            } else {
                Ok(None)
            }
        };
        let fields = crate::cli_destination::Fields {
            kind: Some(kind.clone()),
            endpoint: pick("endpoint")?,
            region: pick("region")?,
            bucket: pick("bucket")?,
            virtual_host: if has("virtual_host") {
                bool_of("virtual_host")?
            } else {
                None
            },
            access_key_id: pick("access_key_id")?,
            storage_class: pick("storage_class")?,
            url: pick("url")?,
            username: pick("username")?,
            host: pick("host")?,
            port: if has("port") {
                int_of("port", 65535)?.map(|p| p as u16)
            } else {
                None
            },
            account: pick("account")?,
            container: pick("container")?,
            sas: if has("sas") { bool_of("sas")? } else { None },
            path: pick("path")?,
            root: None,
            concurrency: None,
        };
        let mut settings = fields.apply(None).map_err(|e| err(&at, e.to_string()))?;
        if let (DestinationSettings::Sftp { host_key, .. }, Some(k)) =
            (&mut settings, pick("host_key")?)
        {
            *host_key = k;
        }
        let secret = match (str_of("secret_file")?, str_of("secret_env")?) {
            (Some(_), Some(_)) => {
                return Err(err(
                    &at,
                    "has both secret_file and secret_env. Fix: keep one".into(),
                ))
            }
            (Some(f), None) => {
                let path = dir.join(&f);
                let text = crate::cli_destination::read_secret_file("secret_file", &path)
                    .map_err(|e| err(&at, e.to_string()))?;
                Some(Secret::new(text))
            }
            (None, Some(var)) => match get(&var) {
                Some(v) if !v.trim().is_empty() => Some(Secret::new(v)),
                _ => {
                    return Err(err(
                        &at,
                        format!("secret_env names {var}, which is not set or empty. Fix: set {var} in pgshelf's environment, or use secret_file"),
                    ))
                }
            },
            (None, None) => None,
        };
        if out.iter().any(|d| d.name == name) {
            return Err(err(
                &at,
                "is declared twice. Fix: give each [[destination]] its own name".into(),
            ));
        }
        out.push(DeclaredDestination {
            name,
            settings,
            root: str_of("root")?.unwrap_or_default(),
            concurrency: int_of(
                "concurrency",
                i64::from(model::destination::MAX_CONCURRENCY),
            )?
            .map(|n| n as u32)
            .unwrap_or(crate::cli_destination::DEFAULT_CONCURRENCY),
            secret,
        });
    }
    Ok(out)
}

/// A setting that cannot be used, naming where it came from and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {message}")]
pub struct ConfigError {
    pub source_name: String,
    pub message: String,
}

/// What loading found besides the values: warnings to log once logging is up.
#[derive(Debug, Default)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
    pub file: Option<PathBuf>,
}

/// Loads the layers. `file` is `--config`; otherwise `PGSHELF_CONFIG`, then
/// `./pgshelf.toml` if it exists.
pub fn load(file: Option<&Path>, env: &[(String, String)]) -> Result<Loaded, ConfigError> {
    let mut out = Loaded::default();
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let explicit = file
        .map(Path::to_path_buf)
        .or_else(|| get("PGSHELF_CONFIG").map(PathBuf::from));
    let path = match explicit {
        Some(p) => Some(p),
        None => Some(PathBuf::from("pgshelf.toml")).filter(|p| p.exists()),
    };
    let c = &mut out.config;
    let mut backup_dir_set = false;
    // Variables a [[destination]] takes its secret from: not unknown.
    let mut secret_envs: Vec<String> = Vec::new();
    if let Some(path) = &path {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            source_name: name.clone(),
            message: format!(
                "cannot read: {e}. Fix: check the path given by --config or PGSHELF_CONFIG"
            ),
        })?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
            source_name: name.clone(),
            message: format!("not valid TOML: {e}"),
        })?;
        let mut known = toml::Table::new();
        for (k, v) in table {
            if k == "destination" {
                let dir = path.parent().unwrap_or(Path::new("."));
                c.declared_destinations =
                    destinations(v.clone(), &name, dir, &get, &mut out.warnings)?;
                if let toml::Value::Array(ts) = &v {
                    secret_envs.extend(
                        ts.iter()
                            .filter_map(|t| t.get("secret_env")?.as_str().map(str::to_owned)),
                    );
                }
            } else if k == "metrics_token" {
                return Err(ConfigError {
                    source_name: format!("{name}: metrics_token"),
                    message: "an inline token is refused: pgshelf.toml is read by more people and tools than a secret should be. Fix: put the token in a file only pgshelf's user can read and write metrics_token_file = \"/run/secrets/metrics-token\", or set PGSHELF_METRICS_TOKEN".into(),
                });
            } else if KEYS.contains(&k.as_str()) {
                known.insert(k, v);
            } else {
                out.warnings.push(format!(
                    "{name}: unknown key {k:?} ignored (known keys: {})",
                    KEYS.join(", ")
                ));
            }
        }
        let f: FileLayer = known.try_into().map_err(|e: toml::de::Error| ConfigError {
            source_name: name.clone(),
            message: e.to_string(),
        })?;
        if let Some(v) = f.listen {
            c.listen = v;
        }
        if let Some(v) = f.data_dir {
            c.data_dir = v;
        }
        if let Some(v) = f.backup_dir {
            c.backup_dir = v;
            backup_dir_set = true;
        }
        if let Some(v) = f.site_root {
            c.site_root = v;
        }
        if let Some(v) = f.pg_bin_dirs {
            c.pg_bin_dirs = v;
        }
        if let Some(v) = f.search_system_tools {
            c.search_system_tools = v;
        }
        if let Some(v) = f.zstd_level {
            c.zstd_level = v;
        }
        if f.zstd_threads.is_some() {
            c.zstd_threads = f.zstd_threads;
        }
        if let Some(v) = f.runs_per_server {
            c.runs_per_server = v;
        }
        if let Some(v) = f.max_runs {
            c.max_runs = v;
        }
        if let Some(v) = f.min_backups_kept {
            c.min_backups_kept = v;
        }
        if let Some(v) = f.exact_count_max_bytes {
            c.exact_count_max_bytes = v;
        }
        if let Some(v) = f.suspect_size_ratio {
            c.suspect_size_ratio = v;
        }
        if let Some(v) = f.base_url {
            c.base_url = v;
        }
        if let Some(v) = f.alert_repeat_hours {
            c.alert_repeat_hours = v;
        }
        if let Some(v) = f.scheduler_interval_secs {
            c.scheduler_interval_secs = v;
        }
        if let Some(v) = f.discovery_interval_secs {
            c.discovery_interval_secs = v;
        }
        if let Some(v) = f.restore_maintenance_work_mem {
            c.restore_maintenance_work_mem = v;
        }
        if let Some(v) = f.stop_grace_secs {
            c.stop_grace_secs = v;
        }
        if let Some(v) = f.log {
            c.log = v;
        }
        if let Some(v) = f.log_format {
            c.log_format = LogFormat::parse(&v, &format!("{name}: log_format"))?;
        }
        if let Some(file) = f.metrics_token_file {
            let file = path.parent().unwrap_or(Path::new(".")).join(file);
            let text = std::fs::read_to_string(&file).map_err(|e| ConfigError {
                source_name: format!("{name}: metrics_token_file"),
                message: format!(
                    "cannot read {}: {e}. Fix: create that file (readable by pgshelf's user only) holding the token, or remove metrics_token_file",
                    file.display()
                ),
            })?;
            c.metrics_token = Some(metrics_token(
                text.trim(),
                &format!("{name}: metrics_token_file"),
            )?);
        }
        for (server, section) in f.servers.unwrap_or_default() {
            if let Some(policy) = section.policy {
                c.declared_policies.push(DeclaredPolicy {
                    server: server.clone(),
                    database: None,
                    policy,
                });
            }
            for (database, d) in section.databases {
                c.declared_policies.push(DeclaredPolicy {
                    server: server.clone(),
                    database: Some(database),
                    policy: d.policy,
                });
            }
            if let Some(plan) = section.plan {
                c.declared_plans.push(DeclaredPlan {
                    server: server.clone(),
                    plan,
                });
            }
        }
        out.file = Some(path.clone());
    }

    for (k, v) in env {
        let Some(key) = k.strip_prefix("PGSHELF_") else {
            // LEPTOS_SITE_ROOT is what cargo-leptos sets; honour it.
            if k == "LEPTOS_SITE_ROOT" && !v.is_empty() {
                c.site_root = PathBuf::from(v);
            }
            continue;
        };
        let bad = |what: &str| ConfigError {
            source_name: k.clone(),
            message: format!("{v:?} is not {what}"),
        };
        match key {
            "CONFIG" => {}
            "LISTEN" => {
                c.listen = v
                    .parse()
                    .map_err(|_| bad("an address such as 127.0.0.1:3000"))?
            }
            "DATA" | "DATA_DIR" => c.data_dir = PathBuf::from(v),
            "BACKUP_DIR" => {
                c.backup_dir = PathBuf::from(v);
                backup_dir_set = true;
            }
            "SITE_ROOT" => c.site_root = PathBuf::from(v),
            "RESTORE_MAINTENANCE_WORK_MEM" => c.restore_maintenance_work_mem = v.to_owned(),
            "PG_BIN_DIRS" => c.pg_bin_dirs = std::env::split_paths(v).collect(),
            "SEARCH_SYSTEM_TOOLS" => {
                c.search_system_tools = parse_bool(v).ok_or_else(|| bad("true or false"))?
            }
            "ZSTD_LEVEL" => c.zstd_level = v.parse().map_err(|_| bad("a number from 1 to 19"))?,
            "ZSTD_THREADS" => c.zstd_threads = Some(v.parse().map_err(|_| bad("a whole number"))?),
            "RUNS_PER_SERVER" => {
                c.runs_per_server = v.parse().map_err(|_| bad("a whole number"))?
            }
            "MAX_RUNS" => c.max_runs = v.parse().map_err(|_| bad("a whole number"))?,
            "MIN_BACKUPS_KEPT" => {
                c.min_backups_kept = v.parse().map_err(|_| bad("a whole number"))?
            }
            "EXACT_COUNT_MAX_BYTES" => {
                c.exact_count_max_bytes = v.parse().map_err(|_| bad("a whole number of bytes"))?
            }
            "SUSPECT_SIZE_RATIO" => {
                c.suspect_size_ratio = v.parse().map_err(|_| bad("a number above 1, e.g. 2"))?
            }
            "BASE_URL" => c.base_url = v.clone(),
            "ALERT_REPEAT_HOURS" => {
                c.alert_repeat_hours = v.parse().map_err(|_| bad("a whole number of hours"))?
            }
            "SCHEDULER_INTERVAL_SECS" => {
                c.scheduler_interval_secs =
                    v.parse().map_err(|_| bad("a whole number of seconds"))?
            }
            "DISCOVERY_INTERVAL_SECS" => {
                c.discovery_interval_secs =
                    v.parse().map_err(|_| bad("a whole number of seconds"))?
            }
            "STOP_GRACE_SECS" => {
                c.stop_grace_secs = v.parse().map_err(|_| bad("a whole number of seconds"))?
            }
            "LOG" => c.log = v.clone(),
            "LOG_FORMAT" => c.log_format = LogFormat::parse(v, k)?,
            "METRICS_TOKEN" => c.metrics_token = Some(metrics_token(v.trim(), k)?),
            // Read by `destination add|edit` (a secret never is a flag).
            "DESTINATION_SECRET" => {}
            _ if secret_envs.contains(k) => {}
            _ => out
                .warnings
                .push(format!("environment: unknown variable {k} ignored")),
        }
    }
    if !backup_dir_set {
        c.backup_dir = c.data_dir.join("backups");
    }
    if !(1..=19).contains(&c.zstd_level) {
        return Err(ConfigError {
            source_name: "zstd_level".into(),
            message: format!(
                "{} is outside 1..=19. Fix: use 3 (fast) to 19 (smallest)",
                c.zstd_level
            ),
        });
    }
    if c.alert_repeat_hours == 0 {
        return Err(ConfigError {
            source_name: "alert_repeat_hours".into(),
            message: "0 would alert on every evaluation. Fix: use 24 (once a day while an incident lasts) or more than 0".into(),
        });
    }
    let base = c.base_url.trim();
    if !base.is_empty()
        && !["https://", "http://"]
            .iter()
            .any(|p| base.len() > p.len() && base.starts_with(p))
    {
        return Err(ConfigError {
            source_name: "base_url".into(),
            message: format!(
                "{base:?} is not an http(s) URL. Fix: give the address people open pgshelf at, e.g. https://pgshelf.example"
            ),
        });
    }
    if !(c.suspect_size_ratio > 1.0 && c.suspect_size_ratio.is_finite()) {
        return Err(ConfigError {
            source_name: "suspect_size_ratio".into(),
            message: format!(
                "{} is not above 1. Fix: use 2 (a backup half or twice the usual size is suspect) or more",
                c.suspect_size_ratio
            ),
        });
    }
    Ok(out)
}

/// A `/metrics` bearer token as read (never echoed back in an error).
fn metrics_token(token: &str, source_name: &str) -> Result<Secret, ConfigError> {
    if token.is_empty() {
        return Err(ConfigError {
            source_name: source_name.into(),
            message: "the metrics token is empty. Fix: put a long random token there (e.g. `openssl rand -hex 32`), or remove the setting to serve /metrics without one".into(),
        });
    }
    Ok(Secret::new(token))
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

impl Config {
    /// The engine's settings.
    pub fn engine(&self) -> engine::EngineConfig {
        let mut e = engine::EngineConfig::new(&self.data_dir);
        e.backup_dir = self.backup_dir.clone();
        e.pg_bin_dirs = self.pg_bin_dirs.clone();
        e.search_system_tools = self.search_system_tools;
        e.zstd.level = self.zstd_level;
        if let Some(t) = self.zstd_threads {
            e.zstd.threads = t.max(1);
        }
        e.spool_dir = self.data_dir.join("spool");
        e.scheduler_interval = Some(std::time::Duration::from_secs(
            self.scheduler_interval_secs.max(1),
        ));
        e.discovery_interval = Some(std::time::Duration::from_secs(
            self.discovery_interval_secs.max(1),
        ));
        e.runs_per_server = self.runs_per_server.max(1);
        e.max_runs = self.max_runs.max(1);
        e.min_backups_kept = self.min_backups_kept;
        e.restore_maintenance_work_mem = self.restore_maintenance_work_mem.clone();
        e.exact_count_max_bytes = self.exact_count_max_bytes;
        e.suspect_size_ratio = self.suspect_size_ratio;
        let base = self.base_url.trim();
        e.notify = engine::notify::NotifySettings {
            base_url: (!base.is_empty()).then(|| base.trim_end_matches('/').to_owned()),
            repeat: chrono::Duration::hours(self.alert_repeat_hours.max(1) as i64),
        };
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn defaults() {
        let l = load(Some(Path::new("/nonexistent/none.toml")), &[]);
        assert!(l.unwrap_err().message.contains("cannot read"));
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("e.toml");
        std::fs::write(&empty, "").unwrap();
        let l = load(Some(&empty), &[]).unwrap();
        assert_eq!(l.config, Config::default());
        assert!(l.warnings.is_empty());
    }

    #[test]
    fn log_format_from_file_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pgshelf.toml");
        std::fs::write(&f, "log_format = \"json\"\n").unwrap();
        let l = load(Some(&f), &[]).unwrap();
        assert_eq!(l.config.log_format, LogFormat::Json);
        let l = load(Some(&f), &env(&[("PGSHELF_LOG_FORMAT", "Text")])).unwrap();
        assert_eq!(l.config.log_format, LogFormat::Text, "env beats file");
        let e = load(Some(&f), &env(&[("PGSHELF_LOG_FORMAT", "yaml")])).unwrap_err();
        assert_eq!(e.source_name, "PGSHELF_LOG_FORMAT");
        assert!(e.message.contains("Fix: use \"text\""), "{}", e.message);
    }

    #[test]
    fn layers_apply_in_order_and_unknown_keys_warn() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pgshelf.toml");
        std::fs::write(
            &f,
            "listen = \"0.0.0.0:8080\"\ndata_dir = \"/srv/pgshelf\"\nzstd_level = 9\nretention = 3\n",
        )
        .unwrap();
        let l = load(
            Some(&f),
            &env(&[
                ("PGSHELF_ZSTD_LEVEL", "5"),
                ("PGSHELF_BOGUS", "1"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert_eq!(l.config.listen.to_string(), "0.0.0.0:8080");
        assert_eq!(l.config.data_dir, PathBuf::from("/srv/pgshelf"));
        assert_eq!(l.config.backup_dir, PathBuf::from("/srv/pgshelf/backups"));
        assert_eq!(l.config.zstd_level, 5, "env beats file");
        assert_eq!(l.warnings.len(), 2, "{:?}", l.warnings);
        assert!(l.warnings[0].contains("\"retention\""));
        assert!(l.warnings[1].contains("PGSHELF_BOGUS"));
    }

    #[test]
    fn policies_can_be_declared_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pgshelf.toml");
        std::fs::write(
            &f,
            r#"
[servers.prod.policy]
schedule = "@hourly"
timezone = "Europe/Berlin"
retention = { hourly = 24, daily = 7, weekly = 4, monthly = 12 }

[servers.prod.databases.app.policy]
format = { kind = "directory", jobs = 4 }

[servers.prod.plan]
coverage = { mode = "only", databases = ["app"] }
globals = { schedule = "@daily", no_role_passwords = true }
"#,
        )
        .unwrap();
        let c = load(Some(&f), &[]).unwrap().config;
        assert_eq!(c.declared_policies.len(), 2);
        let server = &c.declared_policies[0];
        assert_eq!(
            (server.server.as_str(), server.database.as_deref()),
            ("prod", None)
        );
        assert_eq!(server.policy.retention.hourly, 24);
        assert_eq!(server.policy.schedule, "@hourly");
        let app = &c.declared_policies[1];
        assert_eq!(app.database.as_deref(), Some("app"));
        assert_eq!(
            app.policy.format,
            engine::policy::Format::Directory { jobs: 4 }
        );
        assert!(c.declared_plans[0].plan.globals.no_role_passwords);
        assert!(!c.declared_plans[0].plan.covers("other"));

        std::fs::write(&f, "[servers.prod.policy]\nschedul = \"@hourly\"\n").unwrap();
        let e = load(Some(&f), &[]).unwrap_err();
        assert!(e.message.contains("schedul"), "{e}");
    }

    #[test]
    fn bad_values_name_their_source() {
        let e = load(None, &env(&[("PGSHELF_LISTEN", "nowhere")])).unwrap_err();
        assert_eq!(e.source_name, "PGSHELF_LISTEN");
        let e = load(None, &env(&[("PGSHELF_ZSTD_LEVEL", "40")])).unwrap_err();
        assert!(e.message.contains("1..=19"));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.toml");
        std::fs::write(&f, "max_runs = \"lots\"").unwrap();
        assert!(load(Some(&f), &[]).is_err());
        let e = load(None, &env(&[("PGSHELF_MIN_BACKUPS_KEPT", "-1")])).unwrap_err();
        assert_eq!(e.source_name, "PGSHELF_MIN_BACKUPS_KEPT");
        assert!(e.message.contains("whole number"), "{e}");
    }

    #[test]
    fn alert_settings() {
        let l = load(
            None,
            &env(&[
                ("PGSHELF_BASE_URL", "https://pgshelf.example/"),
                ("PGSHELF_ALERT_REPEAT_HOURS", "6"),
            ]),
        )
        .unwrap();
        let n = l.config.engine().notify;
        assert_eq!(n.base_url.as_deref(), Some("https://pgshelf.example"));
        assert_eq!(n.repeat, chrono::Duration::hours(6));
        let e = load(None, &env(&[("PGSHELF_BASE_URL", "pgshelf.example")])).unwrap_err();
        assert!(e.message.contains("Fix:"), "{e}");
        let e = load(None, &env(&[("PGSHELF_ALERT_REPEAT_HOURS", "0")])).unwrap_err();
        assert_eq!(e.source_name, "alert_repeat_hours");
    }

    #[test]
    fn stop_grace_and_discovery_settings() {
        let c = Config::default();
        assert_eq!((c.stop_grace_secs, c.discovery_interval_secs), (30, 600));
        assert_eq!(
            c.engine().discovery_interval,
            Some(std::time::Duration::from_secs(600))
        );
        let l = load(
            None,
            &env(&[
                ("PGSHELF_STOP_GRACE_SECS", "5"),
                ("PGSHELF_DISCOVERY_INTERVAL_SECS", "60"),
            ]),
        )
        .unwrap();
        assert_eq!(l.config.stop_grace_secs, 5);
        assert_eq!(
            l.config.engine().discovery_interval,
            Some(std::time::Duration::from_secs(60))
        );
        assert!(load(None, &env(&[("PGSHELF_STOP_GRACE_SECS", "soon")])).is_err());
    }

    #[test]
    fn min_backups_kept_defaults_to_3_and_reaches_the_engine() {
        assert_eq!(Config::default().min_backups_kept, 3);
        assert_eq!(Config::default().engine().min_backups_kept, 3);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pgshelf.toml");
        std::fs::write(&f, "min_backups_kept = 5\n").unwrap();
        let l = load(Some(&f), &[]).unwrap();
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        assert_eq!(l.config.min_backups_kept, 5);
        assert_eq!(l.config.engine().min_backups_kept, 5);
        let l = load(Some(&f), &env(&[("PGSHELF_MIN_BACKUPS_KEPT", "0")])).unwrap();
        assert_eq!(l.config.min_backups_kept, 0, "env beats file");
        assert_eq!(l.config.engine().min_backups_kept, 0);
    }

    #[test]
    fn verification_settings_reach_the_engine() {
        let c = Config::default();
        assert_eq!(c.engine().exact_count_max_bytes, 1 << 30);
        assert_eq!(c.engine().suspect_size_ratio, 2.0);
        assert_eq!(c.engine().notify.base_url, None);
        assert_eq!(c.engine().notify.repeat, chrono::Duration::hours(24));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pgshelf.toml");
        std::fs::write(
            &f,
            "exact_count_max_bytes = 1048576\nsuspect_size_ratio = 3.5\n",
        )
        .unwrap();
        let l = load(Some(&f), &[]).unwrap();
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        assert_eq!(l.config.engine().exact_count_max_bytes, 1 << 20);
        assert_eq!(l.config.engine().suspect_size_ratio, 3.5);
        let l = load(Some(&f), &env(&[("PGSHELF_EXACT_COUNT_MAX_BYTES", "0")])).unwrap();
        assert_eq!(l.config.exact_count_max_bytes, 0, "env beats file");
        let e = load(None, &env(&[("PGSHELF_SUSPECT_SIZE_RATIO", "0.5")])).unwrap_err();
        assert!(e.to_string().contains("Fix:"), "{e}");
    }

    #[test]
    fn destinations_are_declared_with_secrets_from_files_or_variables() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pgshelf.toml");
        std::fs::write(dir.path().join("s3.secret"), "TOPSECRET-S3\n").unwrap();
        std::fs::write(
            &f,
            r#"
[[destination]]
name = "offsite"
kind = "s3"
endpoint = "http://127.0.0.1:9000"
region = "us-east-1"
bucket = "b"
access_key_id = "AK"
root = "pgshelf/prod"
concurrency = 8
secret_file = "s3.secret"
colour = "blue"

[[destination]]
name = "box"
kind = "sftp"
host = "backup.example"
username = "pgshelf"
secret_env = "BOX_KEY"
"#,
        )
        .unwrap();
        let l = load(Some(&f), &env(&[("BOX_KEY", "TOPSECRET-SSH")])).unwrap();
        let d = &l.config.declared_destinations;
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].name, "offsite");
        assert_eq!((d[0].root.as_str(), d[0].concurrency), ("pgshelf/prod", 8));
        assert!(
            matches!(&d[0].settings, DestinationSettings::S3 { path_style: true, bucket, .. } if bucket == "b")
        );
        assert_eq!(d[0].input().secret.as_deref(), Some("TOPSECRET-S3\n"));
        assert!(matches!(
            &d[1].settings,
            DestinationSettings::Sftp { port: 22, .. }
        ));
        assert_eq!(d[1].input().secret.as_deref(), Some("TOPSECRET-SSH"));
        assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
        assert!(l.warnings[0].contains("\"colour\""), "{:?}", l.warnings);
        let debug = format!("{:?}", l.config);
        assert!(!debug.contains("TOPSECRET"), "{debug}");

        // A secret variable named by secret_env is not an unknown PGSHELF_ one.
        std::fs::write(
            &f,
            "[[destination]]\nname = \"d\"\nkind = \"webdav\"\nurl = \"https://h/dav\"\nusername = \"u\"\nsecret_env = \"PGSHELF_DAV_PW\"\n",
        )
        .unwrap();
        let l = load(
            Some(&f),
            &env(&[
                ("PGSHELF_DAV_PW", "pw"),
                ("PGSHELF_DESTINATION_SECRET", "x"),
            ]),
        )
        .unwrap();
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        let e = load(Some(&f), &[]).unwrap_err();
        assert!(
            e.message.contains("PGSHELF_DAV_PW") && e.message.contains("Fix:"),
            "{e}"
        );
    }

    #[test]
    fn the_metrics_token_comes_from_a_file_or_the_environment_never_inline() {
        assert_eq!(Config::default().metrics_token, None);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pgshelf.toml");
        std::fs::write(dir.path().join("metrics.token"), "TOKEN-FROM-FILE\n").unwrap();
        std::fs::write(&f, "metrics_token_file = \"metrics.token\"\n").unwrap();
        let l = load(Some(&f), &[]).unwrap();
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        let t = l.config.metrics_token.clone().unwrap();
        assert_eq!(t.expose(), "TOKEN-FROM-FILE");
        assert!(!format!("{:?}", l.config).contains("TOKEN-FROM-FILE"));
        let l = load(Some(&f), &env(&[("PGSHELF_METRICS_TOKEN", "TOKEN-ENV")])).unwrap();
        assert_eq!(
            l.config.metrics_token.unwrap().expose(),
            "TOKEN-ENV",
            "env beats file"
        );
        let e = load(None, &env(&[("PGSHELF_METRICS_TOKEN", " ")])).unwrap_err();
        assert!(e.message.contains("Fix:"), "{e}");

        std::fs::write(&f, "metrics_token = \"hunter2\"\n").unwrap();
        let e = load(Some(&f), &[]).unwrap_err().to_string();
        assert!(
            e.contains("metrics_token_file") && !e.contains("hunter2"),
            "{e}"
        );
        std::fs::write(&f, "metrics_token_file = \"missing.token\"\n").unwrap();
        let e = load(Some(&f), &[]).unwrap_err().to_string();
        assert!(e.contains("missing.token") && e.contains("Fix:"), "{e}");
    }

    #[test]
    fn an_inline_destination_secret_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pgshelf.toml");
        std::fs::write(
            &f,
            "[[destination]]\nname = \"d\"\nkind = \"webdav\"\nurl = \"https://h/dav\"\nusername = \"u\"\nsecret = \"hunter2\"\n",
        )
        .unwrap();
        let e = load(Some(&f), &[]).unwrap_err().to_string();
        assert!(e.contains("secret_file") && e.contains("secret_env"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        std::fs::write(&f, "[[destination]]\nname = \"d\"\nkind = \"ftp\"\n").unwrap();
        assert!(load(Some(&f), &[]).unwrap_err().message.contains("azblob"));
    }
}
