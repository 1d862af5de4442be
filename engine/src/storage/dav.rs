//! WebDAV uploads as one streamed PUT.
//!
//! opendal's WebDAV writer takes a single write (it would hold a whole
//! artifact in memory). A WebDAV PUT can instead carry its body with
//! `Transfer-Encoding: chunked`: the chunks go out as they come, through a
//! channel of a few chunks, so memory stays bounded whatever the size.
//! wsgidav, rclone, Apache mod_dav and Nextcloud/ownCloud (sabre/dav behind
//! nginx or Apache) accept it. Reading, listing and deleting stay opendal's.
//! A failed or aborted upload is followed by a DELETE of whatever the
//! server kept.

use bytes::Bytes;
use opendal::{Error, ErrorKind};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::secrets::Secret;

/// Percent-encodes a path as opendal's WebDAV service does: keeps
/// `A-Za-z0-9-._~/`, encodes every other byte.
pub(crate) fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

type Body = Result<Bytes, std::io::Error>;

/// A PUT in flight.
pub struct DavWriter {
    client: reqwest::Client,
    url: String,
    user: String,
    password: Secret,
    tx: Option<mpsc::Sender<Body>>,
    task: Option<JoinHandle<Result<reqwest::Response, reqwest::Error>>>,
}

impl DavWriter {
    pub(crate) fn start(
        client: reqwest::Client,
        url: String,
        user: String,
        password: Secret,
    ) -> DavWriter {
        let (tx, rx) = mpsc::channel::<Body>(4);
        let body = reqwest::Body::wrap_stream(futures::stream::unfold(rx, |mut rx| async {
            rx.recv().await.map(|item| (item, rx))
        }));
        let request = client
            .put(&url)
            .basic_auth(&user, Some(password.expose()))
            .header("Content-Type", "application/octet-stream")
            .body(body);
        let task = tokio::spawn(request.send());
        DavWriter {
            client,
            url,
            user,
            password,
            tx: Some(tx),
            task: Some(task),
        }
    }

    /// Sends one chunk; fails when the server has ended the request.
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), Error> {
        let Some(tx) = &self.tx else {
            return Err(Error::new(ErrorKind::Unexpected, "the upload was closed"));
        };
        if tx.send(Ok(chunk)).await.is_err() {
            // The request ended early: its response says why.
            self.tx = None;
            return Err(self.finish().await.err().unwrap_or_else(|| {
                Error::new(
                    ErrorKind::Unexpected,
                    "the WebDAV server ended the upload before its end",
                )
            }));
        }
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), Error> {
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        let response = task
            .await
            .map_err(|e| Error::new(ErrorKind::Unexpected, format!("upload task: {e}")))?
            .map_err(|e| {
                Error::new(
                    ErrorKind::Unexpected,
                    format!("PUT {}: {}", self.url, error_chain(&e)),
                )
                .set_temporary()
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        let kind = match status.as_u16() {
            401 | 403 => ErrorKind::PermissionDenied,
            404 | 409 => ErrorKind::NotFound,
            _ => ErrorKind::Unexpected,
        };
        Err(Error::new(
            kind,
            format!(
                "PUT {} answered {status}: {}",
                self.url,
                text.trim().chars().take(300).collect::<String>()
            ),
        ))
    }

    /// Ends the body and waits for the server's answer.
    pub async fn close(&mut self) -> Result<(), Error> {
        self.tx = None;
        let r = self.finish().await;
        if r.is_err() {
            self.remove().await;
        }
        r
    }

    /// Breaks the body off (the server sees an incomplete request) and
    /// removes whatever it kept.
    pub async fn abort(&mut self) -> Result<(), Error> {
        if let Some(tx) = self.tx.take() {
            let _ = tx
                .send(Err(std::io::Error::other("upload aborted by pgshelf")))
                .await;
        }
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        self.remove().await;
        Ok(())
    }

    async fn remove(&self) {
        let _ = self
            .client
            .delete(&self.url)
            .basic_auth(&self.user, Some(self.password.expose()))
            .send()
            .await;
    }
}

impl Drop for DavWriter {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_are_encoded_like_opendal() {
        assert_eq!(
            super::encode_path("/root/prod/my%20db/20261130T030000Z-1/dump.zst"),
            "/root/prod/my%2520db/20261130T030000Z-1/dump.zst"
        );
        assert_eq!(super::encode_path("/a b"), "/a%20b");
    }
}
