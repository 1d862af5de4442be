//! The manual recipe: how a person restores an artifact with stock tools
//! (`sha256sum`, `age` for encrypted artifacts, `zstd`, `psql`,
//! `pg_restore`) and no pgshelf. Encrypted files are decrypted to files
//! (`age -d -i key.txt -o ...`) before zstd, never piped into pg_restore. Pure: built
//! from the manifest (and the globals backup that goes with it).

use crate::pipeline::Manifest;

impl crate::Engine {
    /// The manual recipe of a backup (roles first from the globals backup
    /// before it, for a database backup).
    pub async fn restore_recipe(&self, backup_id: i64) -> Result<Vec<String>, crate::Error> {
        let catalog = &self.inner.catalog;
        let backup = catalog.backup(backup_id).await?;
        let Some(m) = manifest_of(catalog, backup_id).await? else {
            return Ok(Vec::new());
        };
        let globals = match (backup.server_id, backup.target.is_globals()) {
            (Some(server_id), false) => {
                match catalog.globals_before(server_id, backup.taken_at()).await? {
                    Some(g) => manifest_of(catalog, g.id).await?,
                    None => None,
                }
            }
            _ => None,
        };
        Ok(recipe(&m, globals.as_ref()))
    }
}

/// A backup's manifest as the catalog holds it (none for a failed run).
async fn manifest_of(
    catalog: &crate::catalog::Catalog,
    id: i64,
) -> Result<Option<Manifest>, crate::Error> {
    Ok(catalog
        .manifest(id)
        .await?
        .and_then(|text| serde_json::from_str(&text).ok()))
}

/// The pg_restore major a dump needs: the pg_dump major that wrote it.
fn dump_major(m: &Manifest) -> String {
    m.pg_dump_version
        .split(['.', ' '])
        .next()
        .unwrap_or("?")
        .to_owned()
}

/// Shell lines (comments included) that restore the artifact of `m`, roles
/// first from `globals` when given. File names are as stored; the reader
/// downloads them into one directory first.
pub fn recipe(m: &Manifest, globals: Option<&Manifest>) -> Vec<String> {
    let mut out = Vec::new();
    let target = if m.database.is_empty() {
        "postgres".to_owned()
    } else {
        m.database.clone()
    };
    out.push(format!(
        "# Backup #{} of {} on {}, taken {}. Download its files into one directory and cd there.",
        m.backup_id,
        if m.database.is_empty() {
            "the globals".to_owned()
        } else {
            format!("database {}", m.database)
        },
        m.server,
        m.started_at.format("%Y-%m-%d %H:%M UTC")
    ));
    out.push("# 1. Check that every file is whole:".into());
    out.push("sha256sum -c <<'SUMS'".into());
    for f in &m.files {
        out.push(format!("{}  {}", f.sha256, f.path));
    }
    out.push("SUMS".into());
    if let Some(e) = &m.encryption {
        out.push(format!(
            "# The files are encrypted with age to {}: key.txt below is the identity file (AGE-SECRET-KEY-1...) of one of them.",
            e.recipients.join(", ")
        ));
    }
    if m.format == "sql" {
        out.push("# 2. Apply roles, memberships, tablespaces and grants (roles that exist already report an error and are kept):".into());
        for f in &m.files {
            match f.path.strip_suffix(crate::crypt::SUFFIX) {
                Some(_) => out.push(format!(
                    "age -d -i key.txt {} | zstd -dc | psql -X -v ON_ERROR_STOP=0 --dbname=postgres",
                    f.path
                )),
                None => out.push(format!(
                    "zstd -dc {} | psql -X -v ON_ERROR_STOP=0 --dbname=postgres",
                    f.path
                )),
            }
        }
        return out;
    }
    let major = dump_major(m);
    let mut step = 2;
    if let Some(g) = globals {
        out.push(format!(
            "# {step}. Roles first, from globals backup #{} (download its globals.sql.zst too):",
            g.backup_id
        ));
        out.push("zstd -dc globals.sql.zst | psql -X -v ON_ERROR_STOP=0 --dbname=postgres".into());
        step += 1;
    }
    match m.format.as_str() {
        "directory" => {
            if m.encryption.is_some() {
                out.push(format!(
                    "# {step}. Decrypt, then decompress, the directory archive into ./d (each file was compressed and encrypted on its own):"
                ));
                out.push("mkdir -p d && for f in dump/*.age; do n=$(basename \"$f\" .age); age -d -i key.txt -o \"d/$n\" \"$f\" || break; case $n in *.zst) zstd -dq --rm \"d/$n\" -o \"d/${n%.zst}\" || break;; esac; done".into());
            } else {
                out.push(format!(
                    "# {step}. Decompress the directory archive into ./d (each file was compressed on its own):"
                ));
                out.push("mkdir -p d && for f in dump/*; do n=$(basename \"$f\"); case $n in *.zst) zstd -dq \"$f\" -o \"d/${n%.zst}\";; *) cp \"$f\" d/;; esac; done".into());
            }
            step += 1;
            out.push(format!(
                "# {step}. Create the database and restore it (pg_restore {major} or newer; -j runs jobs in parallel):"
            ));
            out.push(format!("createdb -T template0 {}", shell_word(&target)));
            out.push(format!(
                "pg_restore -j 4 --dbname={} d",
                shell_word(&target)
            ));
        }
        _ => {
            let mut file = m
                .files
                .first()
                .map(|f| f.path.clone())
                .unwrap_or_else(|| "dump.zst".into());
            if let Some(plain) = file.strip_suffix(crate::crypt::SUFFIX).map(str::to_owned) {
                out.push(format!(
                    "# {step}. Decrypt to a file with the identity of one of the recipients:"
                ));
                out.push(format!("age -d -i key.txt -o {plain} {file}"));
                step += 1;
                file = plain;
            }
            let local = if let Some(stem) = file.strip_suffix(".zst") {
                out.push(format!(
                    "# {step}. Decompress to a file (a file, not a pipe: pg_restore then seeks, and -j works):"
                ));
                out.push(format!("zstd -d {file} -o {stem}.custom"));
                step += 1;
                format!("{stem}.custom")
            } else {
                file
            };
            out.push(format!(
                "# {step}. Create the database and restore it (pg_restore {major} or newer):"
            ));
            out.push(format!("createdb -T template0 {}", shell_word(&target)));
            out.push(format!(
                "pg_restore -j 4 --dbname={} {local}",
                shell_word(&target)
            ));
            out.push(format!(
                "# One table only: pg_restore -l {local} > list; keep the lines of that table (and its sequences, indexes, constraints); pg_restore -L list --dbname=... {local}"
            ));
        }
    }
    out
}

/// `s` as one shell word: bare when safe, else single-quoted.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::ManifestFile;
    use model::backup::BackupKind;

    fn manifest(format: &str, files: &[&str]) -> Manifest {
        Manifest {
            pgshelf_manifest: 1,
            backup_id: 7,
            kind: BackupKind::Database,
            server: "prod".into(),
            database: "my app".into(),
            source: "db:5432".into(),
            started_at: chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            finished_at: chrono::DateTime::from_timestamp(1_700_000_060, 0).unwrap(),
            format: format.into(),
            compression: "zstd:3 (pgshelf)".into(),
            encryption: None,
            server_version: "18.1".into(),
            pg_dump_version: "18.1".into(),
            snapshot: None,
            files: files
                .iter()
                .map(|p| ManifestFile {
                    path: (*p).into(),
                    size: 1,
                    sha256: "ab".repeat(32),
                    raw_size: 2,
                    index: None,
                })
                .collect(),
            tables: Vec::new(),
            large_objects: 0,
            warnings: Vec::new(),
            policy: None,
            restore: String::new(),
        }
    }

    #[test]
    fn custom_decompresses_to_a_file_and_quotes_the_name() {
        let r = recipe(&manifest("custom", &["dump.zst"]), None).join("\n");
        assert!(r.contains("zstd -d dump.zst -o dump.custom"), "{r}");
        assert!(
            r.contains("pg_restore -j 4 --dbname='my app' dump.custom"),
            "{r}"
        );
        assert!(r.contains("pg_restore 18 or newer"), "{r}");
        assert!(r.contains(&format!("{}  dump.zst", "ab".repeat(32))), "{r}");
        assert!(!r.contains("| pg_restore"), "never a pipe: {r}");
    }

    #[test]
    fn encrypted_artifacts_are_decrypted_to_files_first() {
        let mut m = manifest("custom", &["dump.zst.age"]);
        m.encryption = Some(crate::pipeline::ManifestEncryption {
            method: "age".into(),
            recipients: vec!["age1example".into()],
        });
        let r = recipe(&m, None).join("\n");
        assert!(r.contains("age1example"), "{r}");
        let dec = r
            .find("age -d -i key.txt -o dump.zst dump.zst.age")
            .expect(&r);
        let unz = r.find("zstd -d dump.zst -o dump.custom").expect(&r);
        assert!(dec < unz, "{r}");
        assert!(!r.contains("| pg_restore"), "never a pipe: {r}");
        m.format = "directory".into();
        m.files[0].path = "dump/toc.dat.zst.age".into();
        let r = recipe(&m, None).join("\n");
        assert!(
            r.contains("for f in dump/*.age") && r.contains("age -d -i key.txt"),
            "{r}"
        );
    }

    #[test]
    fn roles_come_first_when_globals_are_given() {
        let mut g = manifest("sql", &["globals.sql.zst"]);
        g.backup_id = 5;
        let r = recipe(&manifest("custom", &["dump.zst"]), Some(&g)).join("\n");
        let roles = r.find("globals backup #5").expect("globals step");
        assert!(roles < r.find("createdb").unwrap(), "{r}");
    }

    #[test]
    fn directory_and_globals_recipes() {
        let r = recipe(
            &manifest("directory", &["dump/toc.dat.zst", "dump/3.dat.zst"]),
            None,
        )
        .join("\n");
        assert!(r.contains("pg_restore -j 4 --dbname='my app' d"), "{r}");
        let mut g = manifest("sql", &["globals.sql.zst"]);
        g.database = String::new();
        let r = recipe(&g, None).join("\n");
        assert!(
            r.contains("psql -X -v ON_ERROR_STOP=0 --dbname=postgres"),
            "{r}"
        );
        assert!(!r.contains("pg_restore"), "{r}");
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("app_1"), "app_1");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }
}
