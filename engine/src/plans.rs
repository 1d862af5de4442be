//! The policy side of the [`Engine`] facade: read, preview and save policies
//! and server plans, and apply those declared in `pgshelf.toml`.

use chrono::{DateTime, Utc};

use crate::catalog::Target;

use crate::catalog::{Catalog, StoredBody};
use crate::policy::{Policy, PolicyError, ServerPlan};
use crate::{prune, Engine, Error, PolicySource};

pub use model::schedule::{NextRun, PolicyPreview, RetainedBackup};

/// A policy declared in `pgshelf.toml`, by server name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredPolicy {
    pub server: String,
    /// `None`: the server's default policy.
    pub database: Option<String>,
    pub policy: Policy,
}

/// A server plan declared in `pgshelf.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredPlan {
    pub server: String,
    pub plan: ServerPlan,
}

impl Engine {
    /// The policy in force for a database (or a server's default when
    /// `database` is `None`) and where it comes from.
    pub async fn policy(
        &self,
        server_id: i64,
        database: Option<&str>,
    ) -> Result<(Policy, PolicySource), Error> {
        self.inner.catalog.server(server_id).await?;
        match database {
            Some(db) => effective_policy(&self.inner.catalog, server_id, db).await,
            None => match self.inner.catalog.policy(server_id, "").await? {
                Some(b) => Ok((
                    serde_json::from_str(&b.body).unwrap_or_default(),
                    PolicySource::Server {
                        declared: b.declared,
                    },
                )),
                None => Ok((Policy::default(), PolicySource::Default)),
            },
        }
    }

    async fn refuse_declared(&self, server_id: i64, database: &str) -> Result<(), Error> {
        if self
            .inner
            .catalog
            .policy(server_id, database)
            .await?
            .is_some_and(|b| b.declared)
        {
            return Err(Error::Conflict(
                "this policy is declared in pgshelf.toml; change it there (the file wins at every start)".into(),
            ));
        }
        Ok(())
    }

    /// Saves a policy after validating it. `None` database: the server default.
    pub async fn set_policy(
        &self,
        server_id: i64,
        database: Option<&str>,
        policy: &Policy,
    ) -> Result<PolicySource, Error> {
        self.inner.catalog.server(server_id).await?;
        policy.validate()?;
        let db = database.unwrap_or("");
        self.refuse_declared(server_id, db).await?;
        let body = serde_json::to_string(policy).expect("policy serializes");
        self.inner
            .catalog
            .put_policy(server_id, db, &body, false)
            .await?;
        Ok(match database {
            Some(_) => PolicySource::Database { declared: false },
            None => PolicySource::Server { declared: false },
        })
    }

    /// Removes a database's override, so it inherits the server default again.
    pub async fn clear_policy(&self, server_id: i64, database: &str) -> Result<(), Error> {
        self.refuse_declared(server_id, database).await?;
        Ok(self
            .inner
            .catalog
            .delete_policy(server_id, database)
            .await?)
    }

    /// Next runs and the retention plan a policy would give, without saving it.
    pub async fn preview_policy(
        &self,
        server_id: i64,
        database: Option<&str>,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<PolicyPreview, Error> {
        policy.validate()?;
        let (schedule, tz) = policy.schedule()?;
        let mut keep = Vec::new();
        let mut prune_list = Vec::new();
        let mut held = Vec::new();
        let databases: Vec<String> = match database {
            Some(d) => vec![d.to_owned()],
            // A server default applies to every database without an override.
            None => {
                let overrides: Vec<String> = self
                    .inner
                    .catalog
                    .policy_overrides(server_id)
                    .await?
                    .into_iter()
                    .map(|(d, _)| d)
                    .collect();
                self.inner
                    .catalog
                    .known_databases(server_id)
                    .await?
                    .into_iter()
                    .map(|k| k.name)
                    .filter(|n| !overrides.contains(n))
                    .collect()
            }
        };
        for db in databases {
            let target = Target::Database(db);
            let (plan, rows) = prune::plan_for(
                &self.inner.ctx,
                server_id,
                &target,
                &policy.retention,
                tz,
                now,
            )
            .await?;
            if let Some(why) = plan.held {
                held.push(format!("{target}: {why}"));
            }
            for d in plan.decisions {
                let row = RetainedBackup {
                    id: d.id,
                    target: target.clone(),
                    taken_at: rows.iter().find(|r| r.id == d.id).map(|r| r.taken_at()),
                    tiers: if d.keep { d.tiers } else { Vec::new() },
                    reason: d.reason,
                };
                if d.keep {
                    keep.push(row);
                } else {
                    prune_list.push(row);
                }
            }
        }
        Ok(PolicyPreview {
            describe: schedule.describe(),
            timezone: policy.timezone.clone(),
            next_runs: schedule
                .upcoming(now, tz, 5)
                .into_iter()
                .map(|utc| NextRun {
                    utc,
                    local: utc
                        .with_timezone(&tz)
                        .format("%Y-%m-%d %H:%M %Z")
                        .to_string(),
                })
                .collect(),
            keep,
            prune: prune_list,
            held,
        })
    }

    /// The server-wide plan and whether it is declared in the file.
    pub async fn server_plan(&self, server_id: i64) -> Result<(ServerPlan, bool), Error> {
        self.inner.catalog.server(server_id).await?;
        let declared = self
            .inner
            .catalog
            .plan(server_id)
            .await?
            .is_some_and(|b| b.declared);
        Ok((server_plan(&self.inner.catalog, server_id).await?, declared))
    }

    /// Saves a server plan. A new standby target is read with the server's
    /// stored password, so it needs that password again (`password`): a
    /// changed standby must not send the stored password to a new host
    /// unasked.
    pub async fn set_server_plan(
        &self,
        server_id: i64,
        plan: &ServerPlan,
        password: Option<&crate::secrets::Secret>,
    ) -> Result<(), Error> {
        let server = self.inner.catalog.server(server_id).await?;
        plan.validate()?;
        let (old, _) = self.server_plan(server_id).await?;
        let new_target = plan.standby.is_some() && plan.standby != old.standby;
        if let (true, Some(sealed)) = (new_target, &server.password_enc) {
            let stored = self.inner.key.open(sealed)?;
            let confirmed = password.is_some_and(|p| p.expose() == stored.expose());
            if !confirmed {
                return Err(crate::servers::InvalidInput::new(
                    "standby_password",
                    "is needed: dumps read from the standby with the server's stored password, and the standby changed. Fix: enter the server's password to confirm the new standby",
                )
                .into());
            }
        }
        if self
            .inner
            .catalog
            .plan(server_id)
            .await?
            .is_some_and(|b| b.declared)
        {
            return Err(Error::Conflict(
                "this server's plan is declared in pgshelf.toml; change it there".into(),
            ));
        }
        let body = serde_json::to_string(plan).expect("plan serializes");
        Ok(self.inner.catalog.put_plan(server_id, &body, false).await?)
    }

    /// Writes the policies and plans declared in `pgshelf.toml` into the
    /// catalog (marked declared: read-only in the UI). Returns warnings, e.g.
    /// for a server name that does not exist.
    pub async fn apply_declared(
        &self,
        policies: &[DeclaredPolicy],
        plans: &[DeclaredPlan],
    ) -> Result<Vec<String>, Error> {
        let mut warnings = Vec::new();
        for d in policies {
            let Ok(server) = self.inner.catalog.server_by_name(&d.server).await else {
                warnings.push(format!(
                    "pgshelf.toml declares a policy for server {:?}, which does not exist: add the server, then restart",
                    d.server
                ));
                continue;
            };
            d.policy.validate().map_err(|e| {
                Error::Policy(PolicyError {
                    field: format!(
                        "pgshelf.toml, server {:?}{}: {}",
                        d.server,
                        d.database
                            .as_deref()
                            .map(|x| format!(" database {x:?}"))
                            .unwrap_or_default(),
                        e.field
                    ),
                    message: e.message,
                })
            })?;
            let body = serde_json::to_string(&d.policy).expect("policy serializes");
            self.inner
                .catalog
                .put_policy(server.id, d.database.as_deref().unwrap_or(""), &body, true)
                .await?;
        }
        for d in plans {
            let Ok(server) = self.inner.catalog.server_by_name(&d.server).await else {
                warnings.push(format!(
                    "pgshelf.toml declares a plan for server {:?}, which does not exist",
                    d.server
                ));
                continue;
            };
            d.plan.validate()?;
            let body = serde_json::to_string(&d.plan).expect("plan serializes");
            self.inner.catalog.put_plan(server.id, &body, true).await?;
        }
        Ok(warnings)
    }

    /// Plans and prunes one database's backups now, under its policy in force.
    pub async fn prune_now(
        &self,
        server_id: i64,
        database: &str,
        now: DateTime<Utc>,
    ) -> Result<prune::PruneReport, Error> {
        let (policy, _) = effective_policy(&self.inner.catalog, server_id, database).await?;
        let (_, tz) = policy.schedule()?;
        prune::prune(
            &self.inner.ctx,
            server_id,
            &Target::Database(database.to_owned()),
            &policy.retention,
            tz,
            now,
        )
        .await
    }

    /// The pg_dump that would be used for a server and what it can compress
    /// with (probed by running it), so the UI offers only what works.
    pub async fn dump_capabilities(
        &self,
        server_id: i64,
    ) -> Result<(crate::pg::PgTools, crate::policy::DumpCapabilities), Error> {
        let (_, tools) = self.probe_tools(server_id).await?;
        let tools = tools.map_err(Error::Conflict)?;
        let caps = crate::pg::tools::probe_capabilities(&tools).await;
        Ok((tools, caps))
    }

    /// Queues a globals backup of a server now.
    pub async fn enqueue_globals(
        &self,
        server_id: i64,
        trigger: &str,
    ) -> Result<crate::catalog::Backup, Error> {
        self.enqueue_kind(server_id, &Target::Globals, trigger, None, false, None)
            .await
    }

    /// The globals backup nearest before a database backup started.
    pub async fn globals_for(
        &self,
        backup_id: i64,
    ) -> Result<Option<crate::catalog::Backup>, Error> {
        let b = self.inner.catalog.backup(backup_id).await?;
        let Some(server_id) = b.server_id else {
            return Ok(None);
        };
        Ok(self
            .inner
            .catalog
            .globals_before(server_id, b.started_at.unwrap_or(b.queued_at))
            .await?)
    }
}

/// The policy that applies to a database, and where it comes from.
pub async fn effective_policy(
    catalog: &Catalog,
    server_id: i64,
    database: &str,
) -> Result<(Policy, PolicySource), Error> {
    let own = catalog.policy(server_id, database).await?;
    let server = match own {
        Some(_) => None,
        None => catalog.policy(server_id, "").await?,
    };
    policy_of(own.as_ref(), server.as_ref())
}

/// The policy in force from the stored bodies: the database's own, else
/// the server default, else the built-in default (pure; see [`effective_policy`]).
pub fn policy_of(
    own: Option<&StoredBody>,
    server: Option<&StoredBody>,
) -> Result<(Policy, PolicySource), Error> {
    if let Some(b) = own {
        return Ok((
            parse_body(&b.body)?,
            PolicySource::Database {
                declared: b.declared,
            },
        ));
    }
    if let Some(b) = server {
        return Ok((
            parse_body(&b.body)?,
            PolicySource::Server {
                declared: b.declared,
            },
        ));
    }
    Ok((Policy::default(), PolicySource::Default))
}

/// The server-wide plan (coverage, globals, standby), or the default.
pub async fn server_plan(catalog: &Catalog, server_id: i64) -> Result<ServerPlan, Error> {
    plan_of(catalog.plan(server_id).await?.as_ref())
}

/// The server plan from its stored body, or the default (pure).
pub fn plan_of(stored: Option<&StoredBody>) -> Result<ServerPlan, Error> {
    match stored {
        Some(b) => parse_body(&b.body),
        None => Ok(ServerPlan::default()),
    }
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, Error> {
    serde_json::from_str(body).map_err(|e| {
        Error::Policy(PolicyError {
            field: "stored policy".into(),
            message: format!("cannot be read ({e}). Fix: save the policy again"),
        })
    })
}
