//! The password reaches `pg_dump` and friends through a passfile, never the
//! environment (`PGPASSWORD` is readable in `/proc/<pid>/environ` by the
//! same user and inherited by anything the child starts): a `0600` file in a
//! private (`0700`, randomly named) directory, named by `PGPASSFILE`, removed
//! when the run ends.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::ConnSpec;

/// A private passfile; the directory and file go when it is dropped.
#[derive(Debug)]
pub struct PassFile {
    dir: PathBuf,
    file: PathBuf,
}

impl PassFile {
    /// Writes the password of `spec` (if any) into a new private passfile
    /// under `base`. `None` when there is no password to pass.
    pub fn for_spec(spec: &ConnSpec, base: &Path) -> std::io::Result<Option<PassFile>> {
        let Some(password) = &spec.password else {
            return Ok(None);
        };
        std::fs::create_dir_all(base)?;
        let dir = base.join(format!(".pass-{}", crate::secrets::random_id()));
        let mut b = std::fs::DirBuilder::new();
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(&dir)?;
        let pass = PassFile {
            file: dir.join("pgpass"),
            dir,
        };
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&pass.file)?;
        // The connection string fixes host, port, database and user; the
        // file holds this one password for any of them.
        f.write_all(line(password.expose()).as_bytes())?;
        f.sync_all()?;
        Ok(Some(pass))
    }

    /// The value of `PGPASSFILE`.
    pub fn path(&self) -> &Path {
        &self.file
    }
}

impl Drop for PassFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One `.pgpass` line matching every host, port, database and user, with
/// `\` and `:` escaped as libpq requires.
fn line(password: &str) -> String {
    let mut out = String::from("*:*:*:*:");
    for c in password.chars() {
        if c == '\\' || c == ':' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::Secret;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_file_escaped_and_removed() {
        let base = tempfile::tempdir().unwrap();
        let spec = ConnSpec {
            host: "h".into(),
            port: 5432,
            user: "u".into(),
            password: Some(Secret::new("a:b\\c")),
            sslmode: "disable".into(),
            ssl_root_cert: None,
            ssl_client_cert: None,
            ssl_client_key: None,
        };
        let p = PassFile::for_spec(&spec, base.path()).unwrap().unwrap();
        assert_eq!(
            std::fs::read_to_string(p.path()).unwrap(),
            "*:*:*:*:a\\:b\\\\c\n"
        );
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(p.path()), 0o600);
        assert_eq!(mode(p.path().parent().unwrap()), 0o700);
        let dir = p.path().parent().unwrap().to_owned();
        drop(p);
        assert!(!dir.exists());
        let none = ConnSpec {
            password: None,
            ..spec
        };
        assert!(PassFile::for_spec(&none, base.path()).unwrap().is_none());
    }
}
