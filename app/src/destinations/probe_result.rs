//! The result of testing a destination: each step with its time, and the
//! destination's own words where a step failed.

use leptos::prelude::*;

use model::destination::ProbeReport;

/// Write / read back / list / delete, each `ok` or `failed` with its time;
/// the failed step's detail beneath it. `data-ok` says the whole outcome.
#[component]
pub fn ProbeResult(report: ProbeReport) -> impl IntoView {
    let ok = report.ok();
    let steps = report
        .steps
        .iter()
        .map(|s| {
            let class = if s.ok { "ok" } else { "error" };
            view! {
                <li data-testid="probe-step" data-step=s.step.clone() data-ok=s.ok.to_string()>
                    <span class=class>{if s.ok { "✓ " } else { "✗ " }} {s.step.clone()}</span>
                    " " <span class="muted small">{s.millis} " ms"</span>
                    {s.detail.clone().map(|d| view! { <p class="cause small" data-testid="probe-detail">{d}</p> })}
                </li>
            }
        })
        .collect_view();
    view! {
        <div class=if ok { "result ok" } else { "result error" } data-testid="probe-result"
            data-ok=ok.to_string() role="status">
            <p>
                {if ok { "Test passed" } else { "Test failed" }}
                " (" {report.at.clone()} "): " {report.summary()}
            </p>
            <ol class="probe-steps">{steps}</ol>
        </div>
    }
}
