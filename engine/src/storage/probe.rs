//! "Test" a destination: a probe object written, read back, listed and
//! deleted; the first step that fails ends the test and is reported in the
//! destination's own words.

use std::time::Instant;

use model::destination::{ProbeReport, ProbeStep};

use super::Destination;

/// The folder probes are written to, under the destination's root.
pub const PROBE_DIR: &str = ".pgshelf-probe/";

pub async fn probe(dest: &Destination) -> ProbeReport {
    let mut steps = Vec::new();
    let name = format!("{PROBE_DIR}{}", crate::secrets::random_id());
    let body: Vec<u8> = format!("pgshelf probe {name}\n").into_bytes();
    let mut step = |label: &str, t: Instant, r: Result<(), String>| -> bool {
        let ok = r.is_ok();
        steps.push(ProbeStep {
            step: label.into(),
            ok,
            millis: t.elapsed().as_millis() as u64,
            detail: r.err(),
        });
        ok
    };
    let report = |steps| ProbeReport {
        destination: dest.name.clone(),
        steps,
        at: chrono::Utc::now().to_rfc3339(),
    };
    let t = Instant::now();
    let op = match dest.operator() {
        Ok(op) => op,
        Err(e) => {
            step("connect", t, Err(e.to_string()));
            return report(steps);
        }
    };
    // The write goes through the same writer as an artifact (streamed
    // PUT on WebDAV, multipart-capable elsewhere).
    let t = Instant::now();
    let written = async {
        let mut w = dest.writer(&name, 0).await.map_err(|e| e.to_string())?;
        if let Err(e) = w.write(bytes::Bytes::from(body.clone())).await {
            let _ = w.abort().await;
            return Err(dest.error(e).to_string());
        }
        w.close().await.map_err(|e| dest.error(e).to_string())
    }
    .await;
    if !step("write", t, written) {
        return report(steps);
    }
    let t = Instant::now();
    let read = match op.read(&name).await {
        Ok(buf) if buf.to_vec() == body => Ok(()),
        Ok(buf) => Err(format!(
            "read back {} bytes that differ from the {} written",
            buf.len(),
            body.len()
        )),
        Err(e) => Err(dest.error(e).to_string()),
    };
    if !step("read back", t, read) {
        let _ = op.delete(&name).await;
        return report(steps);
    }
    let t = Instant::now();
    let listed = match op.list(PROBE_DIR).await {
        Ok(entries) if entries.iter().any(|e| name.ends_with(e.name())) => Ok(()),
        Ok(entries) => Err(format!(
            "listing {PROBE_DIR} did not show the probe ({} entries)",
            entries.len()
        )),
        Err(e) => Err(dest.error(e).to_string()),
    };
    if !step("list", t, listed) {
        let _ = op.delete(&name).await;
        return report(steps);
    }
    let t = Instant::now();
    let deleted = async {
        op.delete(&name)
            .await
            .map_err(|e| dest.error(e).to_string())?;
        match op.exists(&name).await {
            Ok(false) => Ok(()),
            Ok(true) => Err("the probe is still there after DELETE".to_owned()),
            Err(e) => Err(dest.error(e).to_string()),
        }
    }
    .await;
    step("delete", t, deleted);
    // An empty probe folder may remain on services with real folders.
    let _ = op.delete(PROBE_DIR).await;
    report(steps)
}
