//! The channel form as typed (the port as text, every kind's fields at
//! once so switching the kind loses nothing), turned into a [`NewChannel`]
//! in the browser and checked there with the engine's own rule
//! ([`model::alert::channel_problems`]), every bad field at once.

use model::alert::{AlertKind, ChannelSettings, NewChannel};

/// The kinds a user can add, as (value, label).
pub const KINDS: &[(&str, &str)] = &[
    ("webhook", "Generic webhook (signed JSON)"),
    ("slack", "Slack incoming webhook"),
    ("email", "Email (SMTP)"),
];

/// SMTP transport security, as (value, label); `none` only to a relay on
/// this machine (the engine refuses it elsewhere).
pub const TLS_MODES: &[(&str, &str)] = &[
    ("starttls", "STARTTLS (port 587)"),
    ("tls", "Implicit TLS (port 465)"),
    ("none", "None: a relay on this machine only"),
];

/// Fields an error can be shown beside; anything else shows below the form.
pub const FIELDS: &[&str] = &[
    "kind", "name", "secret", "url", "host", "port", "tls", "username", "from", "to", "events",
    "servers",
];

/// The SMTP port when the field is blank.
pub fn default_port(tls: &str) -> u16 {
    match tls {
        "tls" => 465,
        "none" => 25,
        _ => 587,
    }
}

/// What the secret is called for `kind`.
pub fn secret_label(kind: &str) -> &'static str {
    match kind {
        "slack" => "Slack incoming-webhook URL",
        "webhook" => "Signing secret (HMAC-SHA256)",
        _ => "SMTP password",
    }
}

/// What the user typed into the channel form. No `Debug`: it holds the
/// secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ChannelDraft {
    pub kind: String,
    pub name: String,
    /// The Slack URL, the HMAC secret or the SMTP password.
    pub secret: String,
    pub url: String,
    pub host: String,
    pub port: String,
    pub tls: String,
    pub username: String,
    pub from: String,
    /// Addresses separated by commas, spaces or lines.
    pub to: String,
    /// Ticked events (all ticked: every event, also ones added later).
    pub events: Vec<AlertKind>,
    /// All servers, also ones added later; else only `servers`.
    pub all_servers: bool,
    pub servers: Vec<String>,
}

impl ChannelDraft {
    /// A new webhook channel's form: every event, every server.
    pub fn initial() -> Self {
        ChannelDraft {
            kind: "webhook".into(),
            name: String::new(),
            secret: String::new(),
            url: String::new(),
            host: String::new(),
            port: String::new(),
            tls: "starttls".into(),
            username: String::new(),
            from: String::new(),
            to: String::new(),
            events: AlertKind::ALL.to_vec(),
            all_servers: true,
            servers: Vec::new(),
        }
    }

    /// Ticks or unticks one event.
    pub fn set_event(&mut self, kind: AlertKind, on: bool) {
        self.events.retain(|k| *k != kind);
        if on {
            self.events.push(kind);
            self.events.sort();
        }
    }

    /// Chooses or drops one server.
    pub fn set_server(&mut self, name: &str, on: bool) {
        self.servers.retain(|s| s != name);
        if on {
            self.servers.push(name.to_owned());
            self.servers.sort();
        }
    }

    /// The input the engine takes, or every error at once, each worded
    /// `field: message. Fix: ...`.
    pub fn input(&self) -> Result<NewChannel, Vec<String>> {
        let mut errors = Vec::new();
        let t = |s: &str| s.trim().to_owned();
        let settings = match self.kind.as_str() {
            "slack" => Some(ChannelSettings::Slack {}),
            "webhook" => Some(ChannelSettings::Webhook { url: t(&self.url) }),
            "email" => {
                let port = match self.port.trim() {
                    "" => default_port(&self.tls),
                    p => match p.parse::<u16>() {
                        Ok(p) if p > 0 => p,
                        _ => {
                            errors.push(format!("port: {p:?} is not a port number. Fix: enter a number from 1 to 65535, or leave it blank for {}", default_port(&self.tls)));
                            default_port(&self.tls)
                        }
                    },
                };
                Some(ChannelSettings::Email {
                    host: t(&self.host),
                    port,
                    tls: self.tls.clone(),
                    username: t(&self.username),
                    from: t(&self.from),
                    to: self
                        .to
                        .split([',', ';', ' ', '\n', '\r', '\t'])
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                })
            }
            other => {
                errors.push(format!(
                    "kind: {other:?} is not a channel kind. Fix: choose one from the list"
                ));
                None
            }
        };
        if self.events.is_empty() {
            errors.push("events: none is ticked, so the channel would hear nothing. Fix: tick at least one event".into());
        }
        if !self.all_servers && self.servers.is_empty() {
            errors.push(
                "servers: none is chosen. Fix: tick at least one server, or choose all servers"
                    .into(),
            );
        }
        let Some(settings) = settings else {
            return Err(errors);
        };
        let all_events = AlertKind::ALL.iter().all(|k| self.events.contains(k));
        let input = NewChannel {
            name: t(&self.name),
            settings,
            secret: self.secret.trim().to_owned(),
            events: if all_events {
                Vec::new()
            } else {
                self.events.clone()
            },
            servers: if self.all_servers {
                Vec::new()
            } else {
                self.servers.clone()
            },
        };
        // The model's rule words a port it never sees as text; ours above
        // said it already.
        errors.extend(input.problems().iter().map(|p| p.to_string()));
        if errors.is_empty() {
            Ok(input)
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123";

    fn webhook() -> ChannelDraft {
        ChannelDraft {
            name: "hook".into(),
            url: "http://127.0.0.1:9999/hook".into(),
            secret: SECRET.into(),
            ..ChannelDraft::initial()
        }
    }

    fn fields(e: &[String]) -> Vec<&str> {
        e.iter()
            .map(|m| m.split_once(": ").unwrap().0)
            .collect::<Vec<_>>()
    }

    #[test]
    fn builds_a_webhook_with_every_event_and_server() {
        let i = webhook().input().unwrap();
        assert_eq!(
            i.settings,
            ChannelSettings::Webhook {
                url: "http://127.0.0.1:9999/hook".into()
            }
        );
        assert_eq!(i.secret, SECRET);
        assert!(i.events.is_empty(), "all ticked: every event");
        assert!(i.servers.is_empty(), "all servers");
    }

    #[test]
    fn chosen_events_and_servers_are_sent() {
        let mut d = webhook();
        d.set_event(AlertKind::BackupOverdue, false);
        d.all_servers = false;
        d.set_server("prod", true);
        d.set_server("a", true);
        d.set_server("a", true);
        let i = d.input().unwrap();
        assert_eq!(i.events.len(), 4);
        assert!(!i.events.contains(&AlertKind::BackupOverdue));
        assert_eq!(i.servers, ["a", "prod"]);
        d.set_server("a", false);
        assert_eq!(d.input().unwrap().servers, ["prod"]);
    }

    #[test]
    fn every_bad_field_at_once() {
        let mut d = webhook();
        d.name = "two words".into();
        d.url = "hooks.example".into();
        d.secret = "short".into();
        d.events.clear();
        d.all_servers = false;
        let e = d.input().unwrap_err();
        assert_eq!(fields(&e), ["events", "servers", "name", "secret", "url"]);
        assert!(e.iter().all(|m| m.contains("Fix:")), "{e:?}");
    }

    #[test]
    fn email_fields() {
        let mut d = ChannelDraft {
            kind: "email".into(),
            name: "mail".into(),
            host: "smtp.example.com".into(),
            from: "pgshelf@example.com".into(),
            to: "a@example.com, b@example.com\nc@example.com".into(),
            ..ChannelDraft::initial()
        };
        let i = d.input().unwrap();
        let ChannelSettings::Email { port, to, tls, .. } = &i.settings else {
            panic!("{:?}", i.settings)
        };
        assert_eq!((*port, tls.as_str()), (587, "starttls"));
        assert_eq!(to.len(), 3);
        d.tls = "tls".into();
        assert!(matches!(
            d.input().unwrap().settings,
            ChannelSettings::Email { port: 465, .. }
        ));
        d.port = "2525".into();
        assert!(matches!(
            d.input().unwrap().settings,
            ChannelSettings::Email { port: 2525, .. }
        ));
        d.port = "99999".into();
        d.tls = "none".into();
        d.username = "u".into();
        d.to.clear();
        let e = d.input().unwrap_err();
        assert_eq!(fields(&e), ["port", "tls", "secret", "to"]);
        d.host = "127.0.0.1".into();
        d.port.clear();
        d.secret = "pw".into();
        d.to = "x@example.com".into();
        assert!(matches!(
            d.input().unwrap().settings,
            ChannelSettings::Email { port: 25, .. }
        ));
    }

    #[test]
    fn slack_needs_its_url_and_never_quotes_it() {
        let mut d = ChannelDraft {
            kind: "slack".into(),
            name: "ops".into(),
            ..ChannelDraft::initial()
        };
        assert_eq!(fields(&d.input().unwrap_err()), ["secret"]);
        d.secret = "http://hooks.slack.com/services/T/B/sekrit".into();
        let e = d.input().unwrap_err();
        assert!(!e[0].contains("sekrit"), "{e:?}");
        d.secret = "https://hooks.slack.com/services/T/B/sekrit".into();
        assert_eq!(d.input().unwrap().settings, ChannelSettings::Slack {});
        d.kind = "pager".into();
        assert_eq!(fields(&d.input().unwrap_err()), ["kind"]);
    }
}
