//! One stream written to several destinations at once (the copies of one
//! backup), with bounded memory: each chunk goes to every live copy before
//! the next is taken. A copy whose destination fails is aborted (a
//! multipart upload cancelled, a partial file removed) and drops out; the
//! run goes on while at least one copy lives, and fails only when none
//! does.

use std::sync::Mutex;

use bytes::Bytes;

use super::{Destination, FileWriter, StorageError};

/// The destinations of one run and which of them have failed.
#[derive(Debug)]
pub struct CopySet {
    dests: Vec<Destination>,
    failed: Mutex<Vec<(String, String)>>,
}

impl CopySet {
    pub fn new(dests: Vec<Destination>) -> CopySet {
        CopySet {
            dests,
            failed: Mutex::new(Vec::new()),
        }
    }

    /// Every destination of the run, failed or not.
    pub fn all(&self) -> &[Destination] {
        &self.dests
    }

    /// Destinations whose copy has not failed.
    pub fn live(&self) -> Vec<Destination> {
        let failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        self.dests
            .iter()
            .filter(|d| !failed.iter().any(|(n, _)| n == &d.name))
            .cloned()
            .collect()
    }

    /// The first live destination: where verification reads back.
    pub fn primary(&self) -> Option<Destination> {
        self.live().into_iter().next()
    }

    /// Marks a copy failed, with its destination's words (first cause kept).
    pub fn fail(&self, dest: &Destination, e: &StorageError) {
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        if !failed.iter().any(|(n, _)| n == &dest.name) {
            tracing::warn!(destination = %dest.name, "copy failed: {e}");
            failed.push((dest.name.clone(), e.to_string()));
        }
    }

    /// `(destination, why)` of every failed copy.
    pub fn failures(&self) -> Vec<(String, String)> {
        self.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The error when no copy is left.
    fn none_left(&self) -> StorageError {
        let failures = self.failures();
        if failures.len() == 1 {
            return StorageError::AllCopiesFailed {
                detail: failures[0].1.clone(),
            };
        }
        StorageError::AllCopiesFailed {
            detail: failures
                .iter()
                .map(|(n, e)| format!("{n}: {e}"))
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

struct Out {
    dest: Destination,
    writer: FileWriter,
}

/// One file being written to every live copy.
pub struct FanOut<'a> {
    set: &'a CopySet,
    path: String,
    outs: Vec<Out>,
}

impl<'a> FanOut<'a> {
    /// Opens `path` on every live destination; one that cannot open fails
    /// its copy.
    pub async fn open(
        set: &'a CopySet,
        path: &str,
        expected: u64,
    ) -> Result<FanOut<'a>, StorageError> {
        let live = set.live();
        let opened = futures::future::join_all(live.iter().map(|d| d.writer(path, expected))).await;
        let mut outs = Vec::new();
        for (dest, w) in live.into_iter().zip(opened) {
            match w {
                Ok(writer) => outs.push(Out { dest, writer }),
                Err(e) => set.fail(&dest, &e),
            }
        }
        if outs.is_empty() {
            return Err(set.none_left());
        }
        Ok(FanOut {
            set,
            path: path.to_owned(),
            outs,
        })
    }

    /// Writes one chunk to every live copy.
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), StorageError> {
        let results =
            futures::future::join_all(self.outs.iter_mut().map(|o| o.writer.write(chunk.clone())))
                .await;
        self.drop_failed(results).await
    }

    async fn drop_failed(
        &mut self,
        results: Vec<Result<(), opendal::Error>>,
    ) -> Result<(), StorageError> {
        let mut keep = Vec::with_capacity(self.outs.len());
        for (mut o, r) in std::mem::take(&mut self.outs).into_iter().zip(results) {
            match r {
                Ok(()) => keep.push(o),
                Err(e) => {
                    self.set.fail(&o.dest, &o.dest.error(e));
                    let _ = o.writer.abort().await;
                }
            }
        }
        self.outs = keep;
        if self.outs.is_empty() {
            Err(self.set.none_left())
        } else {
            Ok(())
        }
    }

    /// Completes the file on every live copy and checks that each holds
    /// `written` bytes.
    pub async fn close(mut self, written: u64) -> Result<(), StorageError> {
        let results =
            futures::future::join_all(self.outs.iter_mut().map(|o| o.writer.close())).await;
        self.drop_failed(results).await?;
        let path = self.path.clone();
        let stats = futures::future::join_all(self.outs.iter().map(|o| {
            let path = path.clone();
            async move {
                let op = o.dest.operator()?;
                let meta = op.stat(&path).await.map_err(|e| o.dest.error(e))?;
                if meta.content_length() == written {
                    Ok(())
                } else {
                    Err(StorageError::Io {
                        dest: o.dest.describe.clone(),
                        detail: format!(
                            "{path} holds {} bytes but {written} were written",
                            meta.content_length()
                        ),
                    })
                }
            }
        }))
        .await;
        let mut any = false;
        for (o, r) in self.outs.iter().zip(stats) {
            match r {
                Ok(()) => any = true,
                Err(e) => self.set.fail(&o.dest, &e),
            }
        }
        // Closed: nothing for Drop to abort.
        self.outs.clear();
        if any {
            Ok(())
        } else {
            Err(self.set.none_left())
        }
    }

    /// Gives up on every copy of this file.
    pub async fn abort(mut self) {
        futures::future::join_all(self.outs.iter_mut().map(|o| o.writer.abort())).await;
        self.outs.clear();
    }
}

/// A file neither closed nor aborted — its run was stopped (cancelled,
/// stalled, timed out, pgshelf stopping) and the upload future dropped — is
/// aborted in the background: an S3 multipart upload would otherwise stay
/// on the server (unlisted, but stored and billed) and a WebDAV PUT open.
impl Drop for FanOut<'_> {
    fn drop(&mut self) {
        let outs = std::mem::take(&mut self.outs);
        if outs.is_empty() {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let path = self.path.clone();
        rt.spawn(async move {
            for mut o in outs {
                if let Err(e) = o.writer.abort().await {
                    tracing::warn!(destination = %o.dest.name, "cannot abort the upload of {path}: {e}");
                }
            }
        });
    }
}

/// Writes a small file (the manifest) to every live copy, whole or not at
/// all; a destination that cannot take it fails its copy.
pub async fn write_all(set: &CopySet, path: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
    let live = set.live();
    let results =
        futures::future::join_all(live.iter().map(|d| d.write_atomic(path, bytes.clone()))).await;
    for (d, r) in live.iter().zip(results) {
        if let Err(e) = r {
            set.fail(d, &e);
        }
    }
    if set.live().is_empty() {
        Err(set.none_left())
    } else {
        Ok(())
    }
}

/// Checks that every live destination can take a write before a run dumps
/// anything; one that cannot fails its copy.
pub async fn preflight(set: &CopySet) -> Result<(), StorageError> {
    let live = set.live();
    let results = futures::future::join_all(live.iter().map(|d| d.preflight())).await;
    for (d, r) in live.iter().zip(results) {
        if let Err(e) = r {
            set.fail(d, &e);
        }
    }
    if set.live().is_empty() {
        Err(set.none_left())
    } else {
        Ok(())
    }
}
