//! How a failed server function reads on the page: the engine's message as
//! is (it already names the cause and the fix), beside the thing that failed.

use leptos::prelude::*;

/// Fields of the server form that an error message can be about.
pub const FORM_FIELDS: &[&str] = &[
    "name",
    "host",
    "port",
    "user",
    "password",
    "sslmode",
    "maintenance_db",
    "ssl_root_cert",
    "ssl_client_cert",
    "ssl_client_key",
    "standby_password",
];

/// The text to show for a failed server function.
pub fn error_text(e: &ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(msg) => msg.clone(),
        ServerFnError::Request(detail) => format!(
            "pgshelf did not answer ({detail}). Fix: check that pgshelf is still running, then reload the page"
        ),
        other => other.to_string(),
    }
}

/// Splits `field: message` (how the engine words invalid input) into the
/// form field and the message, when the field is one of [`FORM_FIELDS`].
pub fn split_field_error(msg: &str) -> Option<(&'static str, &str)> {
    let (field, rest) = msg.split_once(": ")?;
    FORM_FIELDS
        .iter()
        .find(|f| **f == field)
        .map(|f| (*f, rest))
}

/// An error message in a form or beside a button.
#[component]
pub fn ErrorMessage(#[prop(into)] message: String) -> impl IntoView {
    view! {
        <p class="error" data-testid="form-error" role="alert">
            {message}
        </p>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_field() {
        assert_eq!(
            split_field_error("host: is empty. Fix: x"),
            Some(("host", "is empty. Fix: x"))
        );
        assert_eq!(
            split_field_error("a server named \"x\" already exists"),
            None
        );
        assert_eq!(split_field_error("url: nope"), None);
    }

    #[test]
    fn shows_server_messages_as_they_are() {
        assert_eq!(
            error_text(&ServerFnError::new("no backup with id 3")),
            "no backup with id 3"
        );
    }
}
