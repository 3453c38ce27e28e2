//! Wiring: the gateway (`serve`), `simulate` and `import`.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use shoppulse_core::{Config, Engine};
use tracing::{error, info};
use tracing_subscriber::EnvFilter;

use crate::cli::{LogFormat, OnlineRetailArgs, ServeArgs, SimArgs, SimulateArgs};
use crate::hub::{now_ms, Hub, HubLimits, StreamInfo};
use crate::import::{import_online_retail, ImportOptions};
use crate::prng::{fnv1a64, splitmix64};
use crate::security::tls::Incoming;
use crate::security::Security;
use crate::server::{router, App};
use crate::sim::{SimConfig, Simulator};
use crate::sources::{run_replay, run_simulator, Speed};
use crate::webhooks::{Secrets, Webhooks};
use crate::ws::WsConfig;

/// Simulator settings with the start time resolved.
pub fn sim_config(a: &SimArgs) -> SimConfig {
    SimConfig {
        seed: a.seed,
        start_ms: a.sim_start.unwrap_or_else(now_ms),
        rate: a.rate,
        failure_rate: a.failure_rate,
    }
}

/// Epoch of a simulated stream: fixed by everything that fixes its events.
pub fn sim_epoch(c: &SimConfig) -> String {
    let h = fnv1a64(&[
        b"shoppulse-sim-v1",
        &c.seed.to_le_bytes(),
        &c.start_ms.to_le_bytes(),
        &c.rate.to_bits().to_le_bytes(),
        &c.failure_rate.to_bits().to_le_bytes(),
    ]);
    format!("sim-{h:016x}")
}

/// Epoch of a replayed file: its absolute path, size and modification time,
/// so restarting the same replay keeps the numbering.
pub fn replay_epoch(path: &Path) -> io::Result<String> {
    let abs = std::fs::canonicalize(path)?;
    let meta = std::fs::metadata(&abs)?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let h = fnv1a64(&[
        b"shoppulse-replay-v1",
        abs.to_string_lossy().as_bytes(),
        &meta.len().to_le_bytes(),
        &mtime.to_le_bytes(),
    ]);
    Ok(format!("replay-{h:016x}"))
}

fn random_epoch(prefix: &str) -> String {
    let mut s = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
            & u128::from(u64::MAX),
    )
    .unwrap_or(0)
        ^ (u64::from(std::process::id()) << 32);
    format!("{prefix}-{:016x}", splitmix64(&mut s))
}

pub(crate) fn init_logs(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Checks the sources and derives the stream's identity.
fn stream_info(args: &ServeArgs, sim: Option<&SimConfig>) -> Result<StreamInfo, String> {
    if let Some(d) = &args.dist {
        if !d.join("index.html").is_file() {
            return Err(format!(
                "--dist {}: no index.html there (build the dashboard first)",
                d.display()
            ));
        }
    }
    let mut parts = Vec::new();
    if let Some(c) = sim {
        parts.push(c.describe());
    }
    if let Some(p) = &args.replay {
        if !p.is_file() {
            return Err(format!("--replay {}: no such file", p.display()));
        }
        parts.push(match args.speed {
            Speed::Max => format!("replay {} at max speed", p.display()),
            Speed::Factor(f) => format!("replay {} at {f}x", p.display()),
        });
    }
    parts.push("ingest".into());
    let epoch = match (&args.epoch, sim, &args.replay) {
        (Some(e), _, _) => e.clone(),
        (None, Some(c), None) => sim_epoch(c),
        (None, None, Some(p)) => replay_epoch(p).map_err(|e| format!("--replay: {e}"))?,
        (None, Some(_), Some(_)) => random_epoch("mixed"),
        (None, None, None) => random_epoch("ingest"),
    };
    Ok(StreamInfo {
        epoch,
        source: parts.join("; "),
        replay_speed: args.replay.as_ref().map(|_| args.speed.as_hello()),
    })
}

/// The hub's bounds from the flags (shared by the local and NATS gateways).
pub(crate) fn hub_limits(args: &ServeArgs) -> HubLimits {
    HubLimits {
        history: args.history.max(1),
        batch_events: args.batch.clamp(1, 100_000),
        queue_frames: args.client_queue.max(1),
        queue_bytes: args.client_queue_bytes.max(1),
        flush_interval: Duration::from_millis(args.flush_ms),
        ..HubLimits::default()
    }
}

/// Connection timing and the security controls (shared by the local and
/// NATS gateways).
pub(crate) fn ws_config(args: &ServeArgs, security: &Arc<Security>) -> WsConfig {
    WsConfig {
        heartbeat: Duration::from_millis(args.heartbeat_ms.max(10)),
        client_timeout: Duration::from_millis(args.client_timeout_ms.max(10)),
        close_grace: Duration::from_secs(2),
        security: Arc::clone(security),
        resume_pace: args.resume_pace.clone().map(Arc::new),
    }
}

/// The security controls the flags ask for (checked before anything
/// starts), with their warnings logged.
pub(crate) fn security_from_args(args: &ServeArgs) -> Result<Arc<Security>, String> {
    let (security, warnings) =
        Security::from_args(&args.security, args.listen, args.dist.as_deref(), |k| {
            std::env::var(k).ok()
        })?;
    security.log_summary(&warnings);
    Ok(Arc::new(security))
}

/// Binds `--listen` (plain or TLS) and prints `listening on SCHEME://ADDR`,
/// the line scripts and tests wait for.
pub(crate) async fn listen(
    args: &ServeArgs,
    security: &Security,
    hub: &Arc<Hub>,
) -> Result<(Incoming, SocketAddr), String> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("no local address: {e}"))?;
    let listener = Incoming::new(listener, security.tls.clone(), hub.clone())
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let scheme = listener.scheme();
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "listening on {scheme}://{addr}");
    let _ = out.flush();
    Ok((listener, addr))
}

/// Runs the gateway until Ctrl-C / SIGTERM.
pub fn serve(args: &ServeArgs) -> Result<(), String> {
    if args.nats.nats.is_some() {
        return crate::nats::serve(args);
    }
    init_logs(&args.log, args.log_format);
    let sim = args.simulate.then(|| sim_config(&args.sim));
    let info = stream_info(args, sim.as_ref())?;
    let limits = hub_limits(args);
    let security = security_from_args(args)?;
    let hub = Arc::new(Hub::new(info, limits, Engine::new(Config::default())));
    let ws = ws_config(args, &security);
    let secrets = Secrets::from_args(&args.webhooks)?;
    if !secrets.enabled().is_empty() {
        info!(sources = ?secrets.enabled(), "webhooks enabled");
    }
    let hooks = Webhooks::new(
        hub.clone(),
        secrets,
        args.webhooks.webhook_dedupe,
        args.max_body,
    );
    let app = App::new(hub.clone(), ws, args.max_body)
        .with_webhooks(Arc::new(hooks))
        .with_security(Arc::clone(&security));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("feed-rt")
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async move {
        let (listener, addr) = listen(args, &security, &hub).await?;
        info!(%addr, epoch = %hub.info.epoch, source = %hub.info.source, "gateway up");
        tokio::spawn(hub.clone().broadcast());
        let mut threads = Vec::new();
        if let Some(cfg) = sim {
            let hub = hub.clone();
            let max = args.sim_events;
            threads.push(
                std::thread::Builder::new()
                    .name("simulator".into())
                    .spawn(move || run_simulator(cfg, max, &hub))
                    .map_err(|e| e.to_string())?,
            );
        }
        if let Some(path) = args.replay.clone() {
            let hub = hub.clone();
            let speed = args.speed;
            threads.push(
                std::thread::Builder::new()
                    .name("replay".into())
                    .spawn(move || run_replay(&path, speed, &hub))
                    .map_err(|e| e.to_string())?,
            );
        }
        let service =
            router(app, args.dist.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let stopper = hub.clone();
        let served = axum::serve(listener.tap_io(|_| {}), service)
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                info!("stopping");
                stopper.shutdown();
            })
            .await;
        // Give connections a moment to deliver their close frames.
        tokio::time::sleep(Duration::from_millis(300)).await;
        hub.shutdown();
        for t in threads {
            let _ = t.join();
        }
        served.map_err(|e| format!("server error: {e}"))
    })
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// `simulate`: print events as NDJSON.
pub fn simulate(args: &SimulateArgs) -> Result<(), String> {
    let cfg = sim_config(&args.sim);
    let out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?),
        None => Box::new(io::stdout().lock()),
    };
    let mut w = BufWriter::with_capacity(1 << 20, out);
    let started = std::time::Instant::now();
    let mut sim = Simulator::new(cfg);
    for _ in 0..args.events {
        let ev = sim.next_event();
        let res = w
            .write_all(ev.to_json().as_bytes())
            .and_then(|()| w.write_all(b"\n"));
        if let Err(e) = res {
            if e.kind() == io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            return Err(e.to_string());
        }
    }
    w.flush().map_err(|e| e.to_string())?;
    let secs = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // reason: event counts far below 2^52
    let rate = args.events as f64 / secs.max(1e-9);
    eprintln!(
        "simulate: {} events in {secs:.2} s ({rate:.0} events/s)",
        args.events
    );
    Ok(())
}

/// `import online-retail`.
pub fn import(args: &OnlineRetailArgs) -> Result<(), String> {
    let opts = ImportOptions {
        input: args.input.clone(),
        output: args.output.clone(),
        with_behavior: args.with_behavior,
        progress: !args.no_progress,
    };
    match import_online_retail(&opts) {
        Ok(summary) => {
            eprint!("{}", summary.report());
            Ok(())
        }
        Err(e) => {
            error!(error = %e, "import failed");
            Err(format!("{}: {e}", args.input.display()))
        }
    }
}
