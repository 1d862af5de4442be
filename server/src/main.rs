use clap::Parser;
use pgshelf::{cli, config, remote, web};
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    // Server-side rendering of a large page nests deeply in debug builds;
    // 8 MiB per worker (tokio's default is 2 MiB) keeps it off the edge.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 << 20)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pgshelf: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pgshelf: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let args = cli::Cli::parse();
    if let (Some(url), Some(token_file)) = (&args.remote, &args.token_file) {
        let remote = remote::Remote::new(url, token_file)?;
        let command = args.command.ok_or_else(|| {
            anyhow::anyhow!("--remote needs a command, e.g. `list --server NAME`")
        })?;
        return tokio::task::spawn_blocking(move || remote::run(&remote, command)).await?;
    }
    let env: Vec<(String, String)> = std::env::vars().collect();
    let loaded = config::load(args.config.as_deref(), &env)?;
    let cfg = loaded.config;
    let filter = EnvFilter::try_new(&cfg.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cfg.log_format {
        config::LogFormat::Text => logs.init(),
        config::LogFormat::Json => logs.json().with_current_span(false).init(),
    }
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    let command = args.command.unwrap_or(cli::Command::Serve);
    let mut engine_cfg = cfg.engine();
    if !matches!(command, cli::Command::Serve) {
        // Only the dashboard process runs schedules and discovery; a CLI
        // command is short-lived.
        engine_cfg.scheduler_interval = None;
        engine_cfg.discovery_interval = None;
        engine_cfg.notify_interval = None;
    }
    let engine = engine::Engine::open(engine_cfg).await?;
    // Destinations first: declared policies may name them.
    pgshelf::cli_destination::declare(&engine, &cfg.declared_destinations).await?;
    for w in engine
        .apply_declared(&cfg.declared_policies, &cfg.declared_plans)
        .await?
    {
        tracing::warn!("{w}");
    }
    match command {
        cli::Command::Serve => {
            let listener = tokio::net::TcpListener::bind(cfg.listen).await.map_err(|e| {
                anyhow::anyhow!(
                    "cannot listen on {}: {e}. Fix: stop whatever uses that port, or set PGSHELF_LISTEN",
                    cfg.listen
                )
            })?;
            tracing::info!(
                "pgshelf dashboard on http://{} (data in {}, backups to {})",
                listener.local_addr()?,
                cfg.data_dir.display(),
                engine.destination()
            );
            if let Some(token) = engine.setup_token().await? {
                // The one place this one-time token is shown: whoever can read
                // pgshelf's log can create the first admin, and only once.
                tracing::warn!(
                    "no users yet: open http://{}/setup?token={token} to create the first admin",
                    listener.local_addr()?
                );
            }
            if !cfg.site_root.join("pkg").exists() {
                tracing::warn!(
                    "no built site at {}: pages render but will not hydrate. Fix: build with `cargo leptos build` or run scripts/run",
                    cfg.site_root.display()
                );
            }
            // On SIGTERM/SIGINT the dashboard stops taking requests while,
            // at the same time, the engine stops its runs in order (grace
            // period, then stopped and recorded failed).
            let stop = std::sync::Arc::new(tokio::sync::Notify::new());
            let web_stop = stop.clone();
            let settings = web::WebSettings {
                metrics_token: cfg.metrics_token.clone(),
            };
            let serve = web::serve_with(
                listener,
                engine.clone(),
                &cfg.site_root,
                settings,
                async move { web_stop.notified().await },
            );
            tokio::pin!(serve);
            tokio::select! {
                r = &mut serve => r?,
                _ = shutdown_signal() => {
                    tracing::info!(
                        "stopping: running backups get {}s to finish (stop_grace_secs)",
                        cfg.stop_grace_secs
                    );
                    stop.notify_one();
                    let grace = std::time::Duration::from_secs(cfg.stop_grace_secs);
                    let (served, stopped) = tokio::join!(&mut serve, engine.shutdown(grace));
                    served?;
                    tracing::info!("pgshelf stopped ({} backup run(s) stopped)", stopped?);
                }
            }
        }
        cmd => {
            // SIGTERM/SIGINT during a command (a backup): stop in order, as
            // the dashboard does, so the run is recorded and its pg_dump
            // stopped rather than left to the lease.
            let work = cli::run(&engine, cmd);
            tokio::pin!(work);
            tokio::select! {
                r = &mut work => r?,
                _ = shutdown_signal() => {
                    let grace = std::time::Duration::from_secs(cfg.stop_grace_secs);
                    let (stopped, _) = tokio::join!(engine.shutdown(grace), &mut work);
                    stopped?;
                    anyhow::bail!("stopped by a signal; the backup was recorded as failed");
                }
            }
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
