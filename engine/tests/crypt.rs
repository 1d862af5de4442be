//! age encryption end to end against real PostgreSQL: a policy with
//! recipients stores every file compressed then encrypted (custom and
//! directory format); the manifest lists the recipients; the stored bytes
//! are not zstd; a table restores into scratch with the right identity and
//! fails clearly with a wrong one or none; the manual recipe, followed
//! literally with the stock `age`, `zstd` and `pg_restore`, restores it.
//!
//! Runs once per major in `PGSHELF_TEST_PG` (default 15,18).


use std::process::Command;

use engine::catalog::BackupStatus;
use engine::crypt::Identity;
use engine::restore::TableRestoreRequest;


mod common;
use common::*;

use testkit::AWKWARD_FIXTURE as FIXTURE;

/// `age-keygen -o dir/key.txt`: the key file and its parsed identity.
fn items(id: i64) -> TableRestoreRequest {
    TableRestoreRequest {
        backup_id: id,
        tables: vec!["shop.items".into()],
        server_id: None,
        into: None,
        with_referenced: false,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn encrypted_backups_restore_only_with_their_identity() {
    for major in testkit::majors_under_test() {
        let pg = testkit::server(major);
        for directory in [false, true] {
            let label = format!(
                "PostgreSQL {major}, {}",
                if directory { "directory" } else { "custom" }
            );
            let db = pg.fresh_database(if directory { "encd" } else { "encc" });
            pg.psql(&db, FIXTURE);
            let want = counts(pg, &db);
            let env = engine_for(&[major]).await;
            let s = env.engine.add_server(input("main", pg)).await.unwrap();
            let keys = tempfile::tempdir().unwrap();
            let (key, id) = keygen(keys.path());
            let (mut p, _) = env.engine.policy(s.id, None).await.unwrap();
            p.encryption.recipients = id.recipients();
            if directory {
                p.format = engine::policy::Format::Directory { jobs: 2 };
            }
            env.engine.set_policy(s.id, None, &p).await.unwrap();

            // Verified without an identity: size and sha256 only, said so.
            let row = env.engine.backup_now(s.id, &db, "test").await.unwrap();
            assert_eq!(row.status, BackupStatus::Verified, "{label}: {row:?}");
            let notes = row.verification.join("\n");
            assert!(
                notes.contains("pg_restore --list were not run")
                    && notes.contains(&id.recipients()[0]),
                "{label}: {notes}"
            );

            // The manifest lists the recipients; every file is .age and
            // is not a zstd stream as stored.
            let dir = artifact_dir(&env, &row);
            let m: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
            assert_eq!(m["encryption"]["method"], "age", "{label}");
            assert_eq!(
                m["encryption"]["recipients"],
                serde_json::json!(id.recipients()),
                "{label}"
            );
            let files = m["files"].as_array().unwrap();
            assert!(!files.is_empty());
            for f in files {
                let path = f["path"].as_str().unwrap();
                assert!(path.ends_with(".zst.age"), "{label}: {path}");
                let stored = dir.join(path);
                let t = Command::new("zstd")
                    .args(["-t", "-q", "--"])
                    .arg(&stored)
                    .output()
                    .unwrap();
                assert!(
                    !t.status.success(),
                    "{label}: {path} is a valid zstd stream as stored"
                );
                assert!(zstd::decode_all(&std::fs::read(&stored).unwrap()[..]).is_err());
            }
            if !directory {
                assert!(dir.join("dump.zst.age").exists(), "{label}");
                // A download decrypted with the identity is the zstd file.
                use futures::StreamExt;
                let mut stream = env
                    .engine
                    .open_artifact_decrypted(row.id, "dump.zst.age", id.clone())
                    .await
                    .unwrap();
                let mut zst = Vec::new();
                while let Some(chunk) = stream.next().await {
                    zst.extend_from_slice(&chunk.unwrap());
                }
                let raw = zstd::decode_all(&zst[..]).unwrap();
                assert_eq!(raw.len() as u64, files[0]["raw_size"].as_u64().unwrap());
                let e = env
                    .engine
                    .open_artifact_decrypted(row.id, "dump.zst.age", Identity::generate())
                    .await
                    .err()
                    .unwrap();
                assert!(e.to_string().contains("encrypted to other keys"), "{e}");
                // The file list says it is served encrypted.
                let listed = env.engine.artifact_files(row.id).await.unwrap();
                assert!(listed
                    .iter()
                    .any(|f| f.path == "dump.zst.age" && f.encrypted));
            }

            // The right identity restores the table into scratch.
            let r = env
                .engine
                .restore_tables_with(&items(row.id), "operator1", Some(id.clone()))
                .await
                .unwrap();
            assert_eq!(r.tables.len(), 1, "{label}: {r:?}");
            assert_eq!(r.tables[0].rows_restored, 40, "{label}");
            env.engine
                .drop_scratch(&r.scratch.name, None)
                .await
                .unwrap();

            // A wrong identity fails before any work, naming the recipients.
            let scratch_before = env.engine.scratch_databases(false).await.unwrap().len();
            let e = env
                .engine
                .restore_tables_with(&items(row.id), "operator1", Some(Identity::generate()))
                .await
                .unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains("encrypted to other keys")
                    && msg.contains(&id.recipients()[0])
                    && msg.contains("Fix:"),
                "{label}: {msg}"
            );
            assert!(!msg.contains("AGE-SECRET-KEY"), "{label}: {msg}");
            // None at all.
            let e = env
                .engine
                .restore_tables(&items(row.id), "operator1")
                .await
                .unwrap_err();
            assert!(
                e.to_string()
                    .contains("Fix: give the identity (file or paste)"),
                "{label}: {e}"
            );
            let e = env
                .engine
                .start_table_restore(items(row.id), "operator1")
                .await
                .unwrap_err();
            assert!(e.to_string().contains("encrypted (age"), "{label}: {e}");
            assert_eq!(
                env.engine.scratch_databases(false).await.unwrap().len(),
                scratch_before,
                "{label}: a refused restore made a scratch database"
            );
            // A whole-backup test restore decrypts too.
            let whole = env
                .engine
                .restore_into_scratch_with(row.id, s.id, "test", false, "tester", Some(id.clone()))
                .await
                .unwrap();
            assert!(whole.errors.is_empty(), "{label}: {:?}", whole.errors);
            env.engine
                .drop_scratch(&whole.scratch.name, None)
                .await
                .unwrap();

            // The recipe, followed literally with stock tools, after the
            // database is gone: files downloaded into one directory.
            let recipe = env.engine.restore_recipe(row.id).await.unwrap();
            let text = recipe.join("\n");
            assert!(text.contains("age -d -i key.txt"), "{label}: {text}");
            assert!(!text.contains("| pg_restore"), "{label}: {text}");
            let work = tempfile::tempdir().unwrap();
            for f in files {
                let path = f["path"].as_str().unwrap();
                let to = work.path().join(path);
                std::fs::create_dir_all(to.parent().unwrap()).unwrap();
                std::fs::copy(dir.join(path), &to).unwrap();
            }
            std::fs::copy(&key, work.path().join("key.txt")).unwrap();
            pg.psql("postgres", &format!("DROP DATABASE \"{db}\""));
            follow_recipe(pg, work.path(), &recipe);
            assert_eq!(counts(pg, &db), want, "{label}: restored by the recipe");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn test_restores_use_a_given_or_stored_identity() {
    use engine::proof::{TestRestoreStatus, TestRestoreTarget, TestRestoreTrigger};
    for major in testkit::majors_under_test() {
        let pg = testkit::server(major);
        let db = pg.fresh_database("encp");
        pg.psql(&db, FIXTURE);
        let env = engine_for(&[major]).await;
        let s = env.engine.add_server(input("main", pg)).await.unwrap();
        let keys = tempfile::tempdir().unwrap();
        let (_, id) = keygen(keys.path());
        let (mut p, _) = env.engine.policy(s.id, None).await.unwrap();
        p.encryption.recipients = id.recipients();
        env.engine.set_policy(s.id, None, &p).await.unwrap();
        let row = env.engine.backup_now(s.id, &db, "test").await.unwrap();
        assert_eq!(row.status, BackupStatus::Verified, "{row:?}");
        let prove = |identity: Option<Identity>, backup: i64| {
            let engine = env.engine.clone();
            async move {
                engine
                    .test_restore_with(
                        TestRestoreTarget::Backup(backup),
                        None,
                        TestRestoreTrigger::Manual,
                        "test",
                        identity,
                    )
                    .await
                    .unwrap()
            }
        };

        // No identity, none stored: recorded as failed, with the fix.
        let t = prove(None, row.id).await;
        assert_eq!(
            t.status,
            TestRestoreStatus::Failed,
            "PostgreSQL {major}: {t:?}"
        );
        let cause = t.cause().unwrap_or_default();
        assert!(
            cause.contains("encrypted (age") && cause.contains("identity store"),
            "PostgreSQL {major}: {cause}"
        );
        // Given for this test only.
        let t = prove(Some(id.clone()), row.id).await;
        assert_eq!(
            t.status,
            TestRestoreStatus::Passed,
            "PostgreSQL {major}: {t:?}"
        );

        // Stored (opt-in, sealed): listed by recipient only; the next
        // backup is verified in full through the decryptor, and a
        // test-restore without an identity passes.
        let stored = env.engine.store_identity(&id, "admin").await.unwrap();
        assert_eq!(stored, id.recipients());
        let list = env.engine.stored_identities().await.unwrap();
        assert_eq!(list.len(), 1);
        assert!(!format!("{list:?}").contains("AGE-SECRET-KEY"));
        let row2 = env.engine.backup_now(s.id, &db, "test").await.unwrap();
        assert_eq!(row2.status, BackupStatus::Verified, "{row2:?}");
        assert!(
            row2.verification.is_empty(),
            "PostgreSQL {major}: checked in full: {:?}",
            row2.verification
        );
        assert!(
            env.engine.backup_toc(row2.id).await.unwrap().is_some(),
            "PostgreSQL {major}: pg_restore --list ran through the decryptor"
        );
        let t = prove(None, row2.id).await;
        assert_eq!(
            t.status,
            TestRestoreStatus::Passed,
            "PostgreSQL {major}: {t:?}"
        );
        assert!(env
            .engine
            .forget_identity(&id.recipients()[0])
            .await
            .unwrap());
        let t = prove(None, row2.id).await;
        assert_eq!(
            t.status,
            TestRestoreStatus::Failed,
            "PostgreSQL {major}: {t:?}"
        );
    }
}
