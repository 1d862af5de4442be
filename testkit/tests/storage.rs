//! Smoke test of the storage test servers (`testkit::storage`): each one is
//! started, an opendal 0.59 operator is built exactly as a client would build
//! it, and a small and a ~20 MiB chunked object are written, read back,
//! listed and deleted; the server is restarted and still holds its data.
//! Also: wrong S3 credentials and a missing bucket fail, and an SFTP host
//! key that is unknown or changed fails under `strict` checking.
//!
//! A server that is not installed fails its test with the install command
//! (`scripts/setup --test`); nothing is skipped.

use futures::TryStreamExt;
use opendal::{services, ErrorKind, Operator};
use testkit::storage::{ssh_client, AzuriteServer, GcsServer, S3Server, SftpServer, WebDavServer};

/// Installs opendal's process-wide HTTP transport (reqwest, plain HTTP):
/// with opendal's default features off nothing else does. The ring
/// provider first: in a workspace build reqwest has TLS without one.
fn http() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        opendal_http_transport_reqwest::install_default();
    });
}

const BIG: usize = 20 << 20;
const CHUNK: usize = 8 << 20;

/// Deterministic bytes that do not compress or repeat per chunk.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Big {
    /// `writer_with(path).chunk(8 MiB)`, fed 1 MiB at a time.
    Chunked,
    /// The same, plus `if_not_exists(true)` (GCS: the resumable upload).
    ChunkedIfNotExists,
    /// One `write` of the whole buffer (WebDAV: opendal's writer is one-shot).
    OneShot,
}

/// Write, read back, list and delete a small and a big object under `dir`.
async fn roundtrip(op: &Operator, dir: &str, big: Big) {
    let small_path = format!("{dir}/small.txt");
    let big_path = format!("{dir}/sub/big.bin");
    let small = b"hello from pgshelf\n".to_vec();
    op.write(&small_path, small.clone())
        .await
        .unwrap_or_else(|e| panic!("write {small_path}: {e}"));
    let back = op.read(&small_path).await.expect("read small").to_vec();
    assert_eq!(back, small);

    let data = pattern(BIG, 7);
    match big {
        Big::Chunked | Big::ChunkedIfNotExists => {
            let mut w = op
                .writer_with(&big_path)
                .chunk(CHUNK)
                .if_not_exists(big == Big::ChunkedIfNotExists)
                .await
                .unwrap_or_else(|e| panic!("writer {big_path}: {e}"));
            for part in data.chunks(1 << 20) {
                w.write(part.to_vec())
                    .await
                    .unwrap_or_else(|e| panic!("write part of {big_path}: {e}"));
            }
            w.close()
                .await
                .unwrap_or_else(|e| panic!("close {big_path}: {e}"));
        }
        Big::OneShot => op
            .write(&big_path, data.clone())
            .await
            .map(|_| ())
            .unwrap_or_else(|e| panic!("write {big_path}: {e}")),
    }
    let meta = op.stat(&big_path).await.expect("stat big");
    assert_eq!(meta.content_length(), BIG as u64);
    let back = op.read(&big_path).await.expect("read big").to_vec();
    assert!(back == data, "{big_path}: read back differs");

    let mut names: Vec<String> = op
        .lister_with(&format!("{dir}/"))
        .recursive(true)
        .await
        .expect("list")
        .try_collect::<Vec<_>>()
        .await
        .expect("list entries")
        .into_iter()
        .filter(|e| !e.metadata().is_dir())
        .map(|e| e.path().to_string())
        .collect();
    names.sort();
    let mut want = vec![big_path.clone(), small_path.clone()];
    want.sort();
    assert_eq!(names, want);

    op.delete(&small_path).await.expect("delete small");
    op.delete(&big_path).await.expect("delete big");
    for p in [&small_path, &big_path] {
        let err = op.stat(p).await.expect_err("deleted object still there");
        assert_eq!(err.kind(), ErrorKind::NotFound, "{p}: {err}");
    }
}

/// Writes `path`, restarts the server with `restart`, reads it back.
async fn survives_restart(op: &Operator, path: &str, restart: impl FnOnce()) {
    op.write(path, b"kept".to_vec())
        .await
        .expect("write before restart");
    restart();
    let back = op.read(path).await.expect("read after restart").to_vec();
    assert_eq!(back, b"kept");
    op.delete(path).await.expect("delete after restart");
}

fn s3_operator(s: &S3Server, bucket: &str, secret: &str) -> Operator {
    let b = services::S3::default()
        .endpoint(&s.endpoint)
        .region(&s.region)
        .bucket(bucket)
        .access_key_id(&s.access_key_id)
        .secret_access_key(secret)
        .disable_config_load()
        .disable_ec2_metadata()
        .root("/backups");
    Operator::new(b).expect("build s3 operator")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_roundtrip_multipart_and_faults() {
    http();
    let mut s = S3Server::start();
    let op = s3_operator(&s, &s.bucket, &s.secret_access_key);
    roundtrip(&op, "probe", Big::Chunked).await;

    let wrong = s3_operator(&s, &s.bucket, &s.wrong_secret());
    let err = wrong
        .write("probe/x", b"x".to_vec())
        .await
        .expect_err("wrong secret must fail");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");

    let missing = s3_operator(&s, S3Server::MISSING_BUCKET, &s.secret_access_key);
    let err = missing
        .write("probe/x", b"x".to_vec())
        .await
        .expect_err("missing bucket must fail");
    // opendal maps S3's 404 NoSuchBucket to ConfigInvalid, not NotFound.
    assert_eq!(err.kind(), ErrorKind::ConfigInvalid, "{err}");
    assert!(err.to_string().contains("NoSuchBucket"), "{err}");

    survives_restart(&op, "probe/kept", || s.restart()).await;

    // The server disappears in the middle of a multipart upload, then returns.
    let mut w = op.writer_with("probe/cut.bin").chunk(CHUNK).await.unwrap();
    let data = pattern(BIG, 11);
    w.write(data[..CHUNK + (1 << 20)].to_vec())
        .await
        .expect("first part");
    s.stop();
    let failed = match w.write(data[CHUNK + (1 << 20)..].to_vec()).await {
        Err(e) => e,
        Ok(()) => w.close().await.expect_err("upload to a stopped server"),
    };
    assert!(
        failed.to_string().contains("127.0.0.1"),
        "the error names the endpoint: {failed}"
    );
    let _ = w.abort().await;
    s.restart();
    let err = op
        .stat("probe/cut.bin")
        .await
        .expect_err("no partial object");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    op.write("probe/after.bin", data.clone())
        .await
        .expect("write after restart");
    assert_eq!(op.read("probe/after.bin").await.unwrap().to_vec(), data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webdav_roundtrip_one_shot() {
    http();
    let mut s = WebDavServer::start();
    let b = services::Webdav::default()
        .endpoint(&s.url)
        .username(&s.user)
        .password(&s.password)
        .root("/backups");
    let op = Operator::new(b).expect("build webdav operator");
    roundtrip(&op, "probe", Big::OneShot).await;
    // The file sits under the Nextcloud-style share.
    op.write("probe/where.txt", b"here".to_vec()).await.unwrap();
    assert!(s.data_dir().join("backups/probe/where.txt").is_file());
    op.delete("probe/where.txt").await.unwrap();

    // opendal's WebDAV writer is one-shot: chunks given to one writer are
    // buffered whole and sent as one PUT, never streamed.
    let mut w = op
        .writer_with("probe/chunked.bin")
        .chunk(CHUNK)
        .await
        .unwrap();
    let mut refused = None;
    for part in pattern(BIG, 3).chunks(1 << 20) {
        if let Err(e) = w.write(part.to_vec()).await {
            refused = Some(e);
            break;
        }
    }
    let refused = match refused {
        Some(e) => Some(e),
        None => w.close().await.err(),
    };
    match refused {
        Some(e) => assert!(
            e.to_string()
                .contains("OneShotWriter doesn't support multiple write"),
            "{e}"
        ),
        None => panic!(
            "opendal's WebDAV writer now takes several chunks: update testkit::storage's docs"
        ),
    }

    let wrong = services::Webdav::default()
        .endpoint(&s.url)
        .username(&s.user)
        .password("wrong");
    let err = Operator::new(wrong)
        .unwrap()
        .write("x", b"x".to_vec())
        .await
        .expect_err("wrong password must fail");
    // opendal's WebDAV service reports a 401 as Unexpected, not PermissionDenied.
    assert_eq!(err.kind(), ErrorKind::Unexpected, "{err}");
    assert!(err.to_string().contains("status: 401"), "{err}");

    survives_restart(&op, "probe/kept", || s.restart()).await;
}

fn sftp_operator(s: &SftpServer) -> Operator {
    let b = services::Sftp::default()
        .endpoint(&format!("ssh://{}:{}", s.host, s.port))
        .user(&s.user)
        .key(&s.private_key_path.to_string_lossy())
        .root(&s.root)
        .known_hosts_strategy("strict");
    Operator::new(b).expect("build sftp operator")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sftp_roundtrip_and_host_keys() {
    let client = ssh_client();
    let mut s = SftpServer::start();
    assert!(s
        .private_key
        .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    assert!(s.host_public_key.starts_with("ssh-ed25519 "));
    assert!(s.host_fingerprint.starts_with("SHA256:"));
    // What a client sees on first contact is the key testkit reports.
    let scan = std::process::Command::new("ssh-keyscan")
        .args(["-p", &s.port.to_string(), "-t", "ed25519", &s.host])
        .output()
        .expect("run ssh-keyscan");
    let scanned = String::from_utf8_lossy(&scan.stdout);
    assert!(
        scanned.lines().any(|l| l.trim() == s.known_hosts_line()),
        "ssh-keyscan printed {scanned}"
    );

    // Unknown host: strict checking refuses.
    let err = sftp_operator(&s)
        .write("x", b"x".to_vec())
        .await
        .expect_err("an unknown host key must be refused");
    assert!(err.to_string().contains("connect"), "{err}");

    s.trust_host_key();
    let known = std::fs::read_to_string(&client.known_hosts).unwrap();
    assert!(known.contains(&s.known_hosts_line()));
    let op = sftp_operator(&s);
    roundtrip(&op, "probe", Big::Chunked).await;
    assert!(std::path::Path::new(&s.root).is_absolute());
    drop(op);

    let op = sftp_operator(&s);
    survives_restart(&op, "probe/kept", || s.restart()).await;
    // stop() cuts live sessions too (sshd's per-connection processes leave
    // its process group): the pooled connection of `op` is gone.
    op.write("probe/live", b"x".to_vec())
        .await
        .expect("connected");
    s.stop();
    let err = op
        .write("probe/live2", b"x".to_vec())
        .await
        .expect_err("a stopped SFTP server must not answer");
    drop(err);
    s.restart();
    drop(op);

    // Changed host key: refused until trusted again.
    let old = s.host_public_key.clone();
    s.rotate_host_key();
    assert_ne!(s.host_public_key, old);
    assert!(!known.contains(&s.host_public_key));
    let err = sftp_operator(&s)
        .read("probe/none")
        .await
        .expect_err("a changed host key must be refused");
    assert!(err.to_string().contains("connect"), "{err}");
    s.trust_host_key();
    let op = sftp_operator(&s);
    op.write("probe/after", b"ok".to_vec())
        .await
        .expect("trusted again");
    op.delete("probe/after").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_roundtrip_block_blobs() {
    http();
    let mut s = AzuriteServer::start();
    let b = services::Azblob::default()
        .endpoint(&s.endpoint)
        .container(&s.container)
        .account_name(&s.account)
        .account_key(&s.account_key)
        .root("/backups");
    let op = Operator::new(b).expect("build azblob operator");
    roundtrip(&op, "probe", Big::Chunked).await;

    s.create_container("second");
    let b = services::Azblob::default()
        .endpoint(&s.endpoint)
        .container("second")
        .account_name(&s.account)
        .account_key(&s.account_key);
    Operator::new(b)
        .unwrap()
        .write("x", b"x".to_vec())
        .await
        .expect("write to a second container");

    let wrong_key = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==";
    let b = services::Azblob::default()
        .endpoint(&s.endpoint)
        .container(&s.container)
        .account_name(&s.account)
        .account_key(wrong_key);
    let err = Operator::new(b)
        .unwrap()
        .write("x", b"x".to_vec())
        .await
        .expect_err("wrong key must fail");
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");

    survives_restart(&op, "probe/kept", || s.restart()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_roundtrip_resumable() {
    http();
    let mut s = GcsServer::start();
    let b = services::Gcs::default()
        .endpoint(&s.endpoint)
        .bucket(&s.bucket)
        .skip_signature()
        .disable_vm_metadata()
        .disable_config_load()
        .root("/backups");
    let op = Operator::new(b).expect("build gcs operator");
    roundtrip(&op, "probe", Big::ChunkedIfNotExists).await;

    // Without a condition opendal's chunked GCS writer uses the XML
    // multipart API (`POST ?uploads`), which the emulator does not have.
    let mut w = op.writer_with("probe/xml.bin").chunk(CHUNK).await.unwrap();
    let mut failed = None;
    for part in pattern(BIG, 5).chunks(1 << 20) {
        if let Err(e) = w.write(part.to_vec()).await {
            failed = Some(e);
            break;
        }
    }
    let failed = match failed {
        Some(e) => Some(e),
        None => w.close().await.err(),
    };
    assert!(
        failed.is_some(),
        "fake-gcs-server now takes XML multipart uploads: update testkit::storage's docs"
    );

    survives_restart(&op, "probe/kept", || s.restart()).await;
}
