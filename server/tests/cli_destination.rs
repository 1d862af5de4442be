//! `pgshelf destination ...` and `[[destination]]` in pgshelf.toml, driving
//! the built binary against real S3, WebDAV and SFTP servers on loopback.
//! No secret may ever appear in what pgshelf prints.

mod common;
use common::{backup_of, data_with_main, pgshelf, text};
use std::path::Path;
use std::process::Output;
use testkit::storage::{S3Server, SftpServer, WebDavServer};

/// Runs pgshelf and checks that none of `secrets` is in its stdout or stderr.
fn run(data: &Path, args: &[&str], env: &[(&str, &str)], secrets: &[&str]) -> Output {
    let o = pgshelf(data, args, env, None);
    let all = text(&o);
    for s in secrets {
        assert!(
            !all.contains(s.trim()),
            "a secret in the output of {args:?}: {all}"
        );
    }
    o
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", text(o));
    text(o)
}

fn failed(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(1), "{}", text(o));
    text(o)
}

#[test]
fn s3_and_webdav_added_listed_tested_edited_and_guarded() {
    let s3 = S3Server::start();
    let dav = WebDavServer::start();
    let pg = testkit::server(testkit::majors_under_test()[0]);
    let (dir, data) = data_with_main(pg);
    let secrets = [
        s3.secret_access_key.as_str(),
        dav.password.as_str(),
        "wrong-secret-never-shown",
    ];
    let s3_secret = dir.path().join("s3.secret");
    std::fs::write(&s3_secret, format!("{}\n", s3.secret_access_key)).unwrap();

    // The secret is never a flag's value, and --help says so.
    let o = run(&data, &["destination", "add", "--help"], &[], &secrets);
    let help = ok(&o);
    assert!(
        help.contains("--secret-file") && help.contains("shell history"),
        "{help}"
    );

    let o = run(
        &data,
        &[
            "destination",
            "add",
            "offsite",
            "--kind",
            "s3",
            "--endpoint",
            &s3.endpoint,
            "--region",
            &s3.region,
            "--bucket",
            &s3.bucket,
            "--access-key-id",
            &s3.access_key_id,
            "--root",
            "pgshelf/prod",
            "--concurrency",
            "2",
            "--secret-file",
            s3_secret.to_str().unwrap(),
        ],
        &[],
        &secrets,
    );
    assert!(ok(&o).contains("stored encrypted"), "{}", text(&o));

    // WebDAV: the password from the environment variable.
    let o = run(
        &data,
        &[
            "destination",
            "add",
            "dav",
            "--kind",
            "webdav",
            "--url",
            &dav.url,
            "--username",
            &dav.user,
        ],
        &[("PGSHELF_DESTINATION_SECRET", &dav.password)],
        &secrets,
    );
    ok(&o);

    // A flag of another kind is refused, naming the kinds it applies to.
    let o = run(
        &data,
        &[
            "destination",
            "add",
            "x",
            "--kind",
            "s3",
            "--url",
            "http://h",
        ],
        &[],
        &secrets,
    );
    assert!(failed(&o).contains("webdav"), "{}", text(&o));
    // Adding without the secret is refused.
    let o = run(
        &data,
        &[
            "destination",
            "add",
            "nokey",
            "--kind",
            "webdav",
            "--url",
            &dav.url,
            "--username",
            "u",
        ],
        &[],
        &secrets,
    );
    let out = failed(&o);
    assert!(
        out.contains("no password given") && out.contains("--secret-file"),
        "{out}"
    );

    for name in ["offsite", "dav"] {
        let o = run(&data, &["destination", "test", name], &[], &secrets);
        let out = ok(&o);
        for step in ["write", "read back", "list", "delete"] {
            assert!(out.contains(step), "{out}");
        }
        assert!(out.contains(" ms"), "{out}");
    }

    let o = run(&data, &["destination", "list"], &[], &secrets);
    let out = ok(&o);
    assert!(out.contains("local"), "{out}");
    assert!(
        out.contains(&format!(
            "s3://{}/pgshelf/prod ({})",
            s3.bucket, s3.endpoint
        )),
        "{out}"
    );
    assert!(out.contains(&dav.url), "{out}");
    assert!(
        out.lines().filter(|l| l.ends_with(" ok")).count() >= 2,
        "{out}"
    );
    let o = run(&data, &["destination", "list", "--json"], &[], &secrets);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let offsite = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "offsite")
        .unwrap();
    assert_eq!(offsite["has_secret"], true);
    assert_eq!(offsite["concurrency"], 2);
    assert_eq!(offsite["from_config"], false);

    // A wrong secret: the test fails naming the step and S3's own words.
    let wrong = dir.path().join("wrong.secret");
    std::fs::write(&wrong, "wrong-secret-never-shown").unwrap();
    let o = run(
        &data,
        &[
            "destination",
            "edit",
            "offsite",
            "--secret-file",
            wrong.to_str().unwrap(),
        ],
        &[],
        &secrets,
    );
    ok(&o);
    let o = run(&data, &["destination", "test", "offsite"], &[], &secrets);
    let out = failed(&o);
    assert!(out.contains("write") && out.contains("FAILED"), "{out}");
    assert!(out.contains("failed its test: write failed"), "{out}");
    assert!(
        out.contains("SignatureDoesNotMatch") || out.contains("PermissionDenied"),
        "the destination's own words: {out}"
    );
    let o = run(&data, &["destination", "list"], &[], &secrets);
    assert!(ok(&o).contains("write failed"), "{}", text(&o));

    // Moving the endpoint without the secret again is refused; with it, saved.
    let o = run(
        &data,
        &[
            "destination",
            "edit",
            "offsite",
            "--endpoint",
            "http://127.0.0.1:1",
        ],
        &[],
        &secrets,
    );
    let out = failed(&o);
    assert!(out.contains("secret access key again"), "{out}");
    let o = run(
        &data,
        &[
            "destination",
            "edit",
            "offsite",
            "--secret-file",
            s3_secret.to_str().unwrap(),
        ],
        &[],
        &secrets,
    );
    ok(&o);
    let o = run(&data, &["destination", "test", "offsite"], &[], &secrets);
    ok(&o);
    // Unspecified fields kept their values.
    let o = run(&data, &["destination", "list", "--json"], &[], &secrets);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let offsite = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "offsite")
        .unwrap();
    assert_eq!(offsite["root"], "pgshelf/prod");
    assert_eq!(offsite["settings"]["bucket"], s3.bucket.as_str());

    // Remove is refused while a policy names the destination.
    let o = run(
        &data,
        &[
            "policy",
            "set",
            "--server",
            "main",
            "--destination",
            "offsite",
            "--destination",
            "dav",
        ],
        &[],
        &secrets,
    );
    assert!(
        ok(&o).contains("destinations: offsite, dav"),
        "{}",
        text(&o)
    );

    // A backup goes to both; a fresh pgshelf pointed at the bucket imports it.
    let db = pg.fresh_database("destcli");
    pg.psql(&db, "CREATE TABLE t AS SELECT generate_series(1, 50) AS id");
    backup_of(&data, &db);
    let o = run(&data, &["destination", "list", "--json"], &[], &secrets);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for d in list.as_array().unwrap() {
        if d["name"] == "offsite" || d["name"] == "dav" {
            assert_eq!(d["copies"], 1, "{d}");
        }
    }
    let fresh = dir.path().join("fresh");
    let add_again = [
        "destination",
        "add",
        "offsite",
        "--kind",
        "s3",
        "--endpoint",
        &s3.endpoint,
        "--region",
        &s3.region,
        "--bucket",
        &s3.bucket,
        "--access-key-id",
        &s3.access_key_id,
        "--root",
        "pgshelf/prod",
    ];
    let o = run(
        &fresh,
        &add_again,
        &[("PGSHELF_DESTINATION_SECRET", &s3.secret_access_key)],
        &secrets,
    );
    ok(&o);
    let o = run(
        &fresh,
        &["catalog", "import", "--destination", "offsite"],
        &[],
        &secrets,
    );
    let out = ok(&o);
    assert!(
        out.contains("1 manifest(s) read, 1 backup(s) imported, 0 already known"),
        "{out}"
    );
    let o = run(&fresh, &["list", "--json"], &[], &secrets);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["database"], db.as_str(), "{rows:?}");
    let o = run(
        &fresh,
        &["catalog", "import", "--destination", "offsite", "--json"],
        &[],
        &secrets,
    );
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (r["imported"].as_u64(), r["known"].as_u64()),
        (Some(0), Some(1)),
        "{r}"
    );
    let o = run(&data, &["destination", "remove", "offsite"], &[], &secrets);
    let out = failed(&o);
    assert!(
        out.contains("main (default policy)") && out.contains("Fix:"),
        "{out}"
    );
    let o = run(
        &data,
        &["policy", "set", "--server", "main", "--destination", "dav"],
        &[],
        &secrets,
    );
    ok(&o);
    let o = run(&data, &["destination", "remove", "offsite"], &[], &secrets);
    assert!(
        ok(&o).contains("removed destination offsite"),
        "{}",
        text(&o)
    );
    let o = run(&data, &["destination", "test", "offsite"], &[], &secrets);
    assert!(failed(&o).contains("no destination named"), "{}", text(&o));
    let o = run(&data, &["destination", "remove", "local"], &[], &secrets);
    assert!(failed(&o).contains("built-in"), "{}", text(&o));
}

#[test]
fn sftp_host_key_confirmed_then_changed() {
    let mut sftp = SftpServer::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = sftp.private_key.clone();
    let secrets = [key.lines().nth(1).unwrap()];
    let port = sftp.port.to_string();
    let o = run(
        &data,
        &[
            "destination",
            "add",
            "box",
            "--kind",
            "sftp",
            "--host",
            &sftp.host,
            "--port",
            &port,
            "--username",
            &sftp.user,
            "--root",
            &sftp.root,
            "--secret-file",
            sftp.private_key_path.to_str().unwrap(),
        ],
        &[],
        &secrets,
    );
    assert!(ok(&o).contains("host-key box"), "{}", text(&o));

    // Not confirmed yet: the test says to confirm it.
    let o = run(&data, &["destination", "test", "box"], &[], &secrets);
    let out = failed(&o);
    assert!(out.contains("not been confirmed"), "{out}");
    assert!(out.contains("destination host-key box"), "{out}");

    let o = run(&data, &["destination", "host-key", "box"], &[], &secrets);
    let out = ok(&o);
    assert!(out.contains(&sftp.host_fingerprint), "{out}");
    assert!(out.contains("trusted now: none"), "{out}");
    // A fingerprint other than the server's: nothing trusted.
    let o = run(
        &data,
        &[
            "destination",
            "host-key",
            "box",
            "--trust",
            "--fingerprint",
            "SHA256:not-the-one",
        ],
        &[],
        &secrets,
    );
    assert!(failed(&o).contains("nothing trusted"), "{}", text(&o));
    let o = run(
        &data,
        &[
            "destination",
            "host-key",
            "box",
            "--trust",
            "--fingerprint",
            &sftp.host_fingerprint,
        ],
        &[],
        &secrets,
    );
    assert!(
        ok(&o).contains(&format!("trusted {}", sftp.host_fingerprint)),
        "{}",
        text(&o)
    );
    let o = run(&data, &["destination", "test", "box"], &[], &secrets);
    ok(&o);

    // The server's key changes: refused, saying so.
    let old = sftp.host_fingerprint.clone();
    sftp.rotate_host_key();
    let o = run(&data, &["destination", "test", "box"], &[], &secrets);
    let out = failed(&o);
    assert!(out.contains("host key") && out.contains("changed"), "{out}");
    assert!(
        out.contains(&old) && out.contains(&sftp.host_fingerprint),
        "{out}"
    );
    let o = run(&data, &["destination", "host-key", "box"], &[], &secrets);
    assert!(ok(&o).contains("ANOTHER key"), "{}", text(&o));

    // A key given out of band (the server's .pub file) is trusted as is.
    let o = run(
        &data,
        &[
            "destination",
            "host-key",
            "box",
            "--trust-key",
            &sftp.host_public_key,
        ],
        &[],
        &secrets,
    );
    assert!(ok(&o).contains(&sftp.host_fingerprint), "{}", text(&o));
    let o = run(&data, &["destination", "test", "box"], &[], &secrets);
    ok(&o);
    let o = run(
        &data,
        &["destination", "host-key", "box", "--trust-key", "not a key"],
        &[],
        &secrets,
    );
    failed(&o);
}

#[test]
fn destinations_declared_in_the_config_file() {
    let dav = WebDavServer::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let secret = dir.path().join("dav.secret");
    std::fs::write(&secret, &dav.password).unwrap();
    let config = dir.path().join("pgshelf.toml");
    std::fs::write(
        &config,
        format!(
            "[[destination]]\nname = \"nas\"\nkind = \"webdav\"\nurl = \"{}\"\nusername = \"{}\"\nroot = \"pgshelf\"\nsecret_file = \"{}\"\n",
            dav.url,
            dav.user,
            secret.display()
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let secrets = [dav.password.as_str()];
    let o = run(
        &data,
        &["--config", cfg, "destination", "list"],
        &[],
        &secrets,
    );
    let out = ok(&o);
    assert!(out.contains("nas (config)"), "{out}");
    assert!(out.contains(&format!("{}/pgshelf", dav.url)), "{out}");
    let o = run(
        &data,
        &["--config", cfg, "destination", "test", "nas"],
        &[],
        &secrets,
    );
    ok(&o);
    // Declared ones are edited in the file, not by the CLI.
    let o = run(
        &data,
        &["--config", cfg, "destination", "remove", "nas"],
        &[],
        &secrets,
    );
    assert!(failed(&o).contains("pgshelf.toml"), "{}", text(&o));
    let o = run(
        &data,
        &["--config", cfg, "destination", "edit", "nas", "--root", "x"],
        &[],
        &secrets,
    );
    assert!(failed(&o).contains("pgshelf.toml"), "{}", text(&o));

    // An inline secret is refused, saying why and what to use instead.
    std::fs::write(
        &config,
        format!(
            "[[destination]]\nname = \"nas\"\nkind = \"webdav\"\nurl = \"{}\"\nusername = \"{}\"\nsecret = \"{}\"\n",
            dav.url, dav.user, dav.password
        ),
    )
    .unwrap();
    let o = run(
        &data,
        &["--config", cfg, "destination", "list"],
        &[],
        &secrets,
    );
    let out = failed(&o);
    assert!(
        out.contains("inline `secret` is refused")
            && out.contains("secret_file")
            && out.contains("secret_env"),
        "{out}"
    );
}
