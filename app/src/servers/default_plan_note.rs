//! What a new server gets without anyone choosing: said where the server is
//! added, so nothing is scheduled silently.

use leptos::prelude::*;

use model::cron::Schedule;
use model::policy::{Policy, ServerPlan};

/// The built-in defaults in words, e.g. `every database except postgres
/// and the templates (new ones picked up): every day at 03:30 UTC; roles and
/// tablespaces (globals): every day at 03:15 UTC`. Read from the same
/// defaults the engine uses, so it cannot drift from them.
pub fn default_plan_words() -> (String, String) {
    let policy = Policy::default();
    let plan = ServerPlan::default();
    let when = |expr: &str, tz: &str| {
        let words = Schedule::parse(expr)
            .map(|s| s.describe())
            .unwrap_or_else(|_| expr.to_owned());
        format!("{words} {tz}")
    };
    let databases = format!(
        "{}: {}",
        plan.coverage_words(),
        when(&policy.schedule, &policy.timezone)
    );
    let globals = if plan.globals.enabled {
        format!(
            "roles and tablespaces (globals): {}",
            when(&plan.globals.schedule, &plan.globals.timezone)
        )
    } else {
        "roles and tablespaces (globals): not on schedule".into()
    };
    (databases, globals)
}

/// The paragraph under "Add a server".
#[component]
pub fn DefaultPlanNote() -> impl IntoView {
    let (databases, globals) = default_plan_words();
    view! {
        <div class="note" data-testid="default-plan">
            <p>"Once added, pgshelf backs up on schedule:"</p>
            <ul>
                <li data-testid="default-plan-databases">{databases}</li>
                <li data-testid="default-plan-globals">{globals}</li>
            </ul>
            <p class="hint">
                "Change what is covered and when on the server's page (its server plan and default policy), before the first run or any time after."
            </p>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_what_a_new_server_gets() {
        let (databases, globals) = default_plan_words();
        assert_eq!(
            databases,
            "every database except postgres and the templates (new ones picked up): every day at 03:30 UTC"
        );
        assert_eq!(
            globals,
            "roles and tablespaces (globals): every day at 03:15 UTC"
        );
    }
}
