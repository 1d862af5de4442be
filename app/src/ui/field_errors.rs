//! Errors of the policy and server-plan forms: the engine words a bad field
//! as `field: message. Fix: ...` (e.g. `retention: hourly retention of 9000
//! is above ...`); the form shows the whole message beside that field, and
//! any other message below the form.

use leptos::prelude::*;

/// The field a message is about, when it starts with `field: `.
pub fn field_of(msg: &str) -> Option<&str> {
    let (field, _) = msg.split_once(": ")?;
    field
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.[]".contains(c))
        .then_some(field)
}

/// Whether the one-line message `line` is about `field`: the same name, or
/// under it when `field` ends with `*` (`retention*` matches `retention` and
/// `retention.daily`).
fn line_is_about(line: &str, field: &str) -> bool {
    let Some(f) = field_of(line) else {
        return false;
    };
    match field.strip_suffix('*') {
        Some(prefix) => f == prefix || f.starts_with(&format!("{prefix}.")),
        None => f == field,
    }
}

/// Whether `msg` is about `field`. A message may hold several problems, one
/// `field: message` line each (every error of a form at once): then
/// whether any line is.
pub fn is_about(msg: &str, field: &str) -> bool {
    msg.lines().any(|l| line_is_about(l, field))
}

/// The lines of `msg` about `field`, if any (see [`is_about`]).
pub fn lines_about(msg: &str, field: &str) -> Option<String> {
    let lines: Vec<&str> = msg.lines().filter(|l| line_is_about(l, field)).collect();
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// The error's lines about `field` (see [`is_about`]).
pub fn error_for(
    error: Signal<Option<String>>,
    field: &'static str,
) -> impl Fn() -> Option<String> + Copy {
    move || error.with(|e| e.as_deref().and_then(|m| lines_about(m, field)))
}

/// The message beside a field: each line of the last error about it.
#[component]
pub fn FieldError(
    #[prop(into)] error: Signal<Option<String>>,
    field: &'static str,
) -> impl IntoView {
    let msg = error_for(error, field);
    move || {
        msg().map(|m| {
            m.lines()
                .map(|l| view! { <span class="field-error" data-testid="form-error" role="alert">{l.to_owned()}</span> })
                .collect_view()
        })
    }
}

/// The lines of the error below the form: those about none of `fields`.
pub fn general_error(
    error: Signal<Option<String>>,
    fields: &'static [&'static str],
) -> impl Fn() -> Option<String> + Copy {
    move || {
        error.with(|e| {
            let e = e.as_deref()?;
            let rest: Vec<&str> = e
                .lines()
                .filter(|l| !fields.iter().any(|f| line_is_about(l, f)))
                .collect();
            (!rest.is_empty()).then(|| rest.join("\n"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_fields() {
        assert!(is_about("schedule: bad. Fix: x", "schedule"));
        assert!(is_about("retention.daily: \"x\" is not", "retention*"));
        assert!(is_about(
            "retention: hourly retention of 9000",
            "retention*"
        ));
        assert!(!is_about("format.jobs: 0", "format"));
        assert!(!is_about(
            "this policy is declared in pgshelf.toml; x",
            "schedule"
        ));
        assert_eq!(field_of("Server error: x"), None);
        assert!(is_about(
            "encryption.recipients[1]: \"x\" is not an age public key",
            "encryption*"
        ));
        // Several problems, one line each.
        let many = "schedule: bad. Fix: a\ntimezone: bad. Fix: b\nretention.daily: bad. Fix: c";
        assert!(is_about(many, "timezone") && is_about(many, "retention*"));
        assert_eq!(
            lines_about(many, "timezone").as_deref(),
            Some("timezone: bad. Fix: b")
        );
        assert_eq!(lines_about(many, "format"), None);
    }
}
