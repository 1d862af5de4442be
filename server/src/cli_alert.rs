//! Alert channel commands: `alert add|list|test|remove|deliveries`.
//!
//! ```text
//! pgshelf alert add ops --kind slack --secret-file slack-webhook-url.txt
//! pgshelf alert add hook --kind webhook --url https://hooks.example/pgshelf --secret-file hmac.txt
//! pgshelf alert add mail --kind email --smtp-host smtp.example.com --smtp-port 587 --tls starttls \
//!     --smtp-user pgshelf --secret-stdin --from pgshelf@example.com --to oncall@example.com
//! pgshelf alert add ... --events backup_failed,backup_overdue --servers prod,staging
//! pgshelf alert list [--json]
//! pgshelf alert test NAME          # exit 1 when the channel refused it
//! pgshelf alert remove NAME
//! pgshelf alert deliveries [--limit N] [--json]
//! ```
//!
//! The secret (Slack's webhook URL, the webhook's HMAC secret, the SMTP
//! password) is never a flag's value: it comes from `--secret-file` or
//! `--secret-stdin`, is stored sealed and is never printed.

use clap::{Args, Subcommand};
use engine::notify::ChannelInput;
use engine::secrets::Secret;
use engine::Engine;
use model::alert::{AlertKind, ChannelKind, ChannelSettings, DeliveryStatus};

const SECRET_HELP: &str = "The secret (slack: the incoming webhook URL; webhook: the HMAC signing secret, at least 16 characters; email: the SMTP password) is never a flag's value, which shell history and `ps` would show: give --secret-file PATH or --secret-stdin. It is stored encrypted with the instance key and never printed.";

#[derive(Debug, Subcommand)]
pub enum AlertCommand {
    /// Add an alert channel: Slack incoming webhook, signed generic webhook,
    /// or email over SMTP. Then `pgshelf alert test NAME`.
    #[command(after_help = SECRET_HELP)]
    Add(Box<AddArgs>),
    /// List channels: kind, where, events and servers (never a secret).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Send a test message now; exits 1 when the channel refused it, with
    /// its answer.
    Test { name: String },
    /// Remove a channel (its deliveries stay listed).
    Remove { name: String },
    /// The newest deliveries: sent, pending (a retry due) or failed, with
    /// the channel's answer.
    Deliveries {
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    pub name: String,
    /// slack, webhook or email.
    #[arg(long)]
    pub kind: String,
    /// webhook: where the signed JSON is POSTed (https://).
    #[arg(long)]
    pub url: Option<String>,
    /// email: the SMTP server.
    #[arg(long)]
    pub smtp_host: Option<String>,
    /// email: 587 with starttls, 465 with tls.
    #[arg(long)]
    pub smtp_port: Option<u16>,
    /// email: starttls (default), tls (implicit), or none (loopback relays only).
    #[arg(long, default_value = "starttls")]
    pub tls: String,
    /// email: the SMTP user name (its password from --secret-file/--secret-stdin).
    #[arg(long, default_value = "")]
    pub smtp_user: String,
    /// email: the sender address.
    #[arg(long)]
    pub from: Option<String>,
    /// email: a recipient (repeat or comma-separate for several).
    #[arg(long, value_delimiter = ',')]
    pub to: Vec<String>,
    /// Only these events (comma-separated): backup_failed, backup_suspect,
    /// backup_overdue, test_restore_failed, destination_unreachable.
    /// Default: all. "Recovered" messages follow their event.
    #[arg(long, value_delimiter = ',')]
    pub events: Vec<String>,
    /// Only these servers (comma-separated names). Default: all.
    #[arg(long, value_delimiter = ',')]
    pub servers: Vec<String>,
    #[command(flatten)]
    pub secret: crate::cli_destination::SecretArgs,
}

fn read_secret(a: &AddArgs, label: &str) -> anyhow::Result<Option<Secret>> {
    Ok(a.secret.read(None, label)?.map(|s| Secret::new(s.trim())))
}

/// The channel input `alert add` describes (the secret read, never echoed).
pub fn input(a: &AddArgs) -> anyhow::Result<ChannelInput> {
    let kind: ChannelKind = a.kind.parse().map_err(anyhow::Error::msg)?;
    let need = |v: &Option<String>, flag: &str, eg: &str| -> anyhow::Result<String> {
        v.clone().filter(|s| !s.trim().is_empty()).ok_or_else(|| {
            anyhow::anyhow!(
                "--kind {} needs {flag}. Fix: add {flag} {eg}",
                kind.as_str()
            )
        })
    };
    let settings = match kind {
        ChannelKind::Slack => ChannelSettings::Slack {},
        ChannelKind::Webhook => ChannelSettings::Webhook {
            url: need(&a.url, "--url", "https://hooks.example/pgshelf")?,
        },
        ChannelKind::Email => ChannelSettings::Email {
            host: need(&a.smtp_host, "--smtp-host", "smtp.example.com")?,
            port: a.smtp_port.unwrap_or(match a.tls.as_str() {
                "tls" => 465,
                "none" => 25,
                _ => 587,
            }),
            tls: a.tls.clone(),
            username: a.smtp_user.clone(),
            from: need(&a.from, "--from", "pgshelf@example.com")?,
            to: a.to.clone(),
        },
    };
    let events = a
        .events
        .iter()
        .filter(|e| !e.trim().is_empty())
        .map(|e| e.trim().parse::<AlertKind>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(anyhow::Error::msg)?;
    let secret = read_secret(a, kind.secret_name())?;
    Ok(ChannelInput {
        name: a.name.clone(),
        settings,
        secret,
        events,
        servers: a
            .servers
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
    })
}

fn list_or_all<T: AsRef<str>>(v: &[T]) -> String {
    if v.is_empty() {
        "all".into()
    } else {
        v.iter().map(|s| s.as_ref()).collect::<Vec<_>>().join(",")
    }
}

pub async fn run(engine: &Engine, cmd: AlertCommand) -> anyhow::Result<()> {
    match cmd {
        AlertCommand::Add(a) => {
            let c = match engine.add_channel(input(&a)?).await {
                // The rule is worded for the dashboard too: say how the
                // command line takes a secret.
                Err(engine::notify::NotifyError::Invalid { field, detail })
                    if field == "secret" =>
                {
                    anyhow::bail!("alert channel secret: {detail} (on the command line: --secret-file PATH or --secret-stdin)")
                }
                r => r?,
            };
            println!(
                "added alert channel {} ({}{})",
                c.name,
                c.describe,
                if c.has_secret {
                    ", secret stored encrypted"
                } else {
                    ""
                }
            );
            println!("next: pgshelf alert test {}", c.name);
        }
        AlertCommand::List { json } => {
            let channels = engine.channels().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&channels)?);
            } else if channels.is_empty() {
                println!("no alert channels. Add one: pgshelf alert add NAME --kind slack|webhook|email ...");
            } else {
                println!(
                    "{:<16} {:<8} {:<24} {:<12} WHERE",
                    "NAME", "KIND", "EVENTS", "SERVERS"
                );
                for c in channels {
                    let events: Vec<&str> = c.events.iter().map(|e| e.as_str()).collect();
                    println!(
                        "{:<16} {:<8} {:<24} {:<12} {}",
                        c.name,
                        c.settings.kind().as_str(),
                        list_or_all(&events),
                        list_or_all(&c.servers),
                        c.describe
                    );
                }
            }
        }
        AlertCommand::Test { name } => {
            let d = engine.test_channel(&name).await?;
            let answer = d.answer.as_deref().unwrap_or("");
            if d.status == DeliveryStatus::Sent {
                println!("test message sent to {name}: {answer}");
            } else {
                anyhow::bail!("the test message to {name} failed: {answer}. Fix: check the channel's settings (`pgshelf alert list`) and that the receiver is reachable, then remove and add it again if they are wrong");
            }
        }
        AlertCommand::Remove { name } => {
            engine.remove_channel(&name).await?;
            println!("removed alert channel {name}");
        }
        AlertCommand::Deliveries { limit, json } => {
            let ds = engine.deliveries(limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&ds)?);
            } else if ds.is_empty() {
                println!("no deliveries yet");
            } else {
                for d in ds {
                    println!(
                        "#{} {} {:<10} {:<8} {:<9} attempts {} {} — {}",
                        d.id,
                        d.updated_at.format("%Y-%m-%d %H:%M:%S"),
                        d.channel,
                        d.status.as_str(),
                        d.state.as_str(),
                        d.attempts,
                        d.title,
                        d.answer.as_deref().unwrap_or("-")
                    );
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: AlertCommand,
    }

    fn add(args: &[&str]) -> AddArgs {
        let mut v = vec!["x", "add"];
        v.extend_from_slice(args);
        match Cli::try_parse_from(v).unwrap().cmd {
            AlertCommand::Add(a) => *a,
            _ => unreachable!(),
        }
    }

    #[test]
    fn add_reads_the_secret_from_a_file_only() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("s");
        std::fs::write(&f, "a-webhook-secret-of-32-characters\n").unwrap();
        let a = add(&[
            "hook",
            "--kind",
            "webhook",
            "--url",
            "https://hooks.example/x",
            "--events",
            "backup_failed,backup_overdue",
            "--secret-file",
            f.to_str().unwrap(),
        ]);
        let i = input(&a).unwrap();
        assert_eq!(
            i.secret.unwrap().expose(),
            "a-webhook-secret-of-32-characters"
        );
        assert_eq!(
            i.events,
            vec![AlertKind::BackupFailed, AlertKind::BackupOverdue]
        );
        // No flag takes a secret.
        assert!(
            Cli::try_parse_from(["x", "add", "h", "--kind", "slack", "--secret", "s"]).is_err()
        );
        let e = input(&add(&["m", "--kind", "email", "--from", "a@b.c"])).unwrap_err();
        assert!(e.to_string().contains("--smtp-host"), "{e}");
        let e = input(&add(&["h", "--kind", "pager"])).unwrap_err();
        assert!(e.to_string().contains("Fix:"), "{e}");
        let e = input(&add(&["h", "--kind", "slack", "--events", "bogus"])).unwrap_err();
        assert!(e.to_string().contains("backup_failed"), "{e}");
    }
}
