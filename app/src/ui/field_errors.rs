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

/// Whether `msg` is about `field`: the same name, or under it when `field`
/// ends with `*` (`retention*` matches `retention` and `retention.daily`).
pub fn is_about(msg: &str, field: &str) -> bool {
    let Some(f) = field_of(msg) else {
        return false;
    };
    match field.strip_suffix('*') {
        Some(prefix) => f == prefix || f.starts_with(&format!("{prefix}.")),
        None => f == field,
    }
}

/// The error message if it is about `field` (see [`is_about`]).
pub fn error_for(
    error: Signal<Option<String>>,
    field: &'static str,
) -> impl Fn() -> Option<String> + Copy {
    move || error.get().filter(|m| is_about(m, field))
}

/// The message beside a field, when the last error is about it.
#[component]
pub fn FieldError(
    #[prop(into)] error: Signal<Option<String>>,
    field: &'static str,
) -> impl IntoView {
    let msg = error_for(error, field);
    move || {
        msg().map(|m| view! { <span class="field-error" data-testid="form-error" role="alert">{m}</span> })
    }
}

/// The message below the form when it is about none of `fields`.
pub fn general_error(
    error: Signal<Option<String>>,
    fields: &'static [&'static str],
) -> impl Fn() -> Option<String> + Copy {
    move || {
        error
            .get()
            .filter(|m| !fields.iter().any(|f| is_about(m, f)))
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
    }
}
