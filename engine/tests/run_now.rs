//! "Back up now" against real PostgreSQL: two requests at the same moment
//! make one run (the other refused, naming it); another is taken once it
//! ended; runs by hand of other targets and scheduled-style enqueues are not
//! held up. A deleted server's failure leaves the runner's last error.

use engine::catalog::{BackupStatus, Target};

mod common;
use common::*;

fn major() -> u32 {
    *testkit::majors_under_test()
        .last()
        .expect("a major under test")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_double_click_makes_one_run() {
    let major = major();
    let pg = testkit::server(major);
    let db = pg.fresh_database("twice");
    let env = engine_for(&[major]).await;
    let e = &env.engine;
    let s = e.add_server(input("main", pg)).await.unwrap();
    let target = Target::Database(db.clone());

    let (a, b) = tokio::join!(
        e.run_now(s.id, &target, "dashboard"),
        e.run_now(s.id, &target, "dashboard")
    );
    let (ok, refused) = match (a, b) {
        (Ok(row), Err(err)) | (Err(err), Ok(row)) => (row, err),
        other => panic!("one run and one refusal, got {other:?}"),
    };
    assert_eq!(refused.status(), 409);
    let msg = refused.to_string();
    assert!(msg.contains(&format!("#{}", ok.id)), "{msg}");
    assert!(msg.contains("Fix:"), "{msg}");
    // Globals of the same server are another target: not held up.
    let globals = e
        .run_now(s.id, &Target::Globals, "dashboard")
        .await
        .unwrap();

    let done = finished(e, ok.id).await;
    assert!(done.status.is_good(), "{done:?}");
    finished(e, globals.id).await;
    let rows = e
        .backups(&engine::catalog::BackupFilter {
            server_id: Some(s.id),
            target: Some(target.clone()),
            limit: None,
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");

    // Once it ended, the next click queues again; a queue from elsewhere
    // (the scheduler's path) is never refused by this rule.
    let again = e.run_now(s.id, &target, "dashboard").await.unwrap();
    let scheduled = e.enqueue_backup(s.id, &db, "test").await.unwrap();
    assert_ne!(again.id, scheduled.id);
    for id in [again.id, scheduled.id] {
        let done = finished(e, id).await;
        assert!(done.status.is_good(), "{done:?}");
    }
    assert!(e
        .run_now(s.id, &Target::Database(" ".into()), "x")
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_servers_last_error_is_forgotten() {
    let major = major();
    let pg = testkit::server(major);
    let env = engine_for(&[major]).await;
    let e = &env.engine;
    let s = e
        .add_server(input_with_password("doomed", pg, "not-the-password"))
        .await
        .unwrap();
    let row = e
        .run_now(s.id, &Target::Globals, "dashboard")
        .await
        .unwrap();
    assert_eq!(finished(e, row.id).await.status, BackupStatus::Failed);
    let runner_error = || {
        e.workers()
            .into_iter()
            .find(|w| w.name == "backup-runner")
            .and_then(|w| w.last_error)
    };
    let before = runner_error().expect("the failed run is the runner's last error");
    assert!(before.contains("doomed/"), "{before}");
    e.delete_server(s.id).await.unwrap();
    assert_eq!(runner_error(), None);
    // Its backups stay listed.
    assert_eq!(e.backup(row.id).await.unwrap().status, BackupStatus::Failed);
}
