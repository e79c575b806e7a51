//! The `pluto-server` command: `serve` runs the sync server; `token create|list|revoke` manage
//! the laptops' bearer tokens; `release publish|list` manage the desktop app's updates. Every
//! command takes the same storage and releases flags, so an operator points them all at the same
//! data (`--data FILE`, default `./pluto-server.sqlite3`, or `--database-url postgres://…`) and
//! the same releases folder (`--releases DIR`, default `./releases`).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use pluto_domain::{DeviceId, Timestamp};
use pluto_server::auth;
use pluto_server::config::{
    ServiceOptions, StorageConfig, DEFAULT_DAILY_PUSH_QUOTA, DEFAULT_LISTEN, DEFAULT_RELEASES_DIR,
};
use pluto_server::policy::Policy;
use pluto_server::releases::Releases;
use pluto_server::server;
use pluto_server::storage::postgres::PostgresStorage;
use pluto_server::storage::sqlite::SqliteStorage;
use pluto_server::storage::{DeviceRecord, Role, Storage, TokenRecord};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// Pluto Tracker's central sync server.
#[derive(Debug, Parser)]
#[command(name = "pluto-server", version, about)]
struct Cli {
    #[command(flatten)]
    storage: StorageArgs,
    /// The folder of the desktop app's releases (`release publish` adds to it; `serve` serves it)
    #[arg(long, global = true, value_name = "DIR", default_value = DEFAULT_RELEASES_DIR, env = "PLUTO_SERVER_RELEASES")]
    releases: PathBuf,
    #[command(subcommand)]
    command: Command,
}

/// Where the data is (the same flags for every command).
#[derive(Debug, Args)]
struct StorageArgs {
    /// The SQLite file (created if missing) [default: ./pluto-server.sqlite3]
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "PLUTO_SERVER_DATA",
        conflicts_with = "database_url"
    )]
    data: Option<PathBuf>,
    /// A PostgreSQL database instead of SQLite: postgres://user@host:5432/db
    #[arg(long, global = true, value_name = "URL", env = "PLUTO_SERVER_DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the sync server until SIGTERM or Ctrl-C.
    Serve {
        /// Address and port to listen on (port 0 picks a free one; the first line printed is
        /// `listening on http://ADDR`).
        #[arg(long, value_name = "ADDR", default_value_t = DEFAULT_LISTEN, env = "PLUTO_SERVER_LISTEN")]
        listen: SocketAddr,
        /// Flag events whose createdAt lies this far ahead of the server's clock.
        #[arg(long, value_name = "SECONDS", default_value_t = 300)]
        max_clock_skew_seconds: u64,
        /// The site policy: a JSON file of site → event types it may record (default: the
        /// chain's division of work, see docs/security.md). Checked at start.
        #[arg(long, value_name = "FILE", env = "PLUTO_SERVER_POLICY")]
        policy: Option<PathBuf>,
        /// The address laptops reach this server at (https://pluto.example.com), for the
        /// update manifests' download links (default: http:// and the listen address; request
        /// headers are never trusted for it).
        #[arg(long, value_name = "URL", env = "PLUTO_SERVER_PUBLIC_URL", value_parser = parse_public_url)]
        public_url: Option<String>,
        /// The most mebibytes of events one token may push per day (UTC); 0: no limit. A push
        /// past it is answered 429 and nothing of it is stored; the laptop sends it again later.
        #[arg(long, value_name = "MIB", default_value_t = DEFAULT_DAILY_PUSH_QUOTA / (1024 * 1024), env = "PLUTO_SERVER_DAILY_PUSH_QUOTA_MB")]
        daily_push_quota_mb: u64,
        /// How long a response may wait for its client to read more before the connection is
        /// closed (a client that never reads cannot hold a connection).
        #[arg(long, value_name = "SECONDS", default_value_t = 30, env = "PLUTO_SERVER_WRITE_STALL_SECONDS")]
        write_stall_seconds: u64,
    },
    /// List what one token pushed, oldest first: to see what a lost or stolen token did.
    Events {
        /// The token's id (tok_…), as `token list` shows it.
        #[arg(long, value_name = "TOKEN_ID")]
        token: String,
        /// Only events received at or after this instant (RFC 3339, 2026-03-01T00:00:00Z).
        #[arg(long, value_name = "INSTANT", value_parser = parse_instant)]
        since: Option<Timestamp>,
    },
    /// List the devices the server knows: what it holds of each, what each laptop last said it
    /// holds, and how many entries the server misses (after a restore from a backup, say).
    Devices {
        /// Only the devices whose entries the server misses.
        #[arg(long)]
        behind: bool,
        /// As JSON, one object per device.
        #[arg(long)]
        json: bool,
    },
    /// Manage the laptops' bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage the desktop app's releases, which `serve` offers to the app's updater.
    #[command(subcommand)]
    Release(ReleaseCommand),
}

#[derive(Debug, Subcommand)]
enum ReleaseCommand {
    /// Publish one platform's update artifact of a version (signed where the app is built).
    Publish {
        /// The version (semver, 1.4.0).
        #[arg(long)]
        version: String,
        /// What changed, shown to the coordinator before installing.
        #[arg(long)]
        notes: String,
        /// linux-x86_64, windows-x86_64, darwin-aarch64, darwin-x86_64, …
        #[arg(long)]
        platform: String,
        /// The update artifact (the bundle `tauri build` makes with createUpdaterArtifacts).
        #[arg(long, value_name = "FILE")]
        artifact: PathBuf,
        /// The artifact's signature file (`.sig`, from `tauri signer sign` or the build).
        #[arg(long, value_name = "FILE")]
        signature: PathBuf,
    },
    /// List the published releases and their platforms.
    List,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Issue a token for a laptop's device id (`pluto device` prints it); the token is printed
    /// once, alone on the last line, and only its hash is kept.
    Create {
        /// The laptop's device id (dev_…).
        #[arg(long, value_name = "DEVICE_ID")]
        device: DeviceId,
        /// The laptop's site (MBA, ECHA, RGE, LEGO, …): the site policy says what it may record.
        #[arg(long)]
        site: String,
        /// `site` (records what the site policy allows its site) or `admin` (records anything).
        #[arg(long, default_value = "site", value_parser = parse_role)]
        role: Role,
        /// A note to recognise the token by (whose laptop).
        #[arg(long, value_name = "TEXT")]
        label: Option<String>,
    },
    /// List the tokens (never their secrets).
    List,
    /// Revoke a token: the laptop's requests are refused from now on.
    Revoke {
        /// The token's id (tok_…), as `token list` shows it.
        #[arg(value_name = "TOKEN_ID")]
        id: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("pluto-server: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    // Releases live in a folder of their own: no database needed.
    if let Command::Release(command) = cli.command {
        return release(&Releases::new(cli.releases), command);
    }
    let releases = cli.releases;
    let config = StorageConfig::from_flags(cli.storage.data, cli.storage.database_url);
    let where_ = config.describe();
    match &config {
        StorageConfig::Sqlite(path) => {
            let storage =
                SqliteStorage::open(path).await.with_context(|| format!("cannot open the {where_}"))?;
            execute(cli.command, storage, &where_, releases).await
        }
        StorageConfig::Postgres(url) => {
            let storage =
                PostgresStorage::connect(url).await.with_context(|| format!("cannot open the {where_}"))?;
            execute(cli.command, storage, &where_, releases).await
        }
    }
}

fn release(releases: &Releases, command: ReleaseCommand) -> Result<()> {
    match command {
        ReleaseCommand::Publish { version, notes, platform, artifact, signature } => {
            let signature = std::fs::read_to_string(&signature)
                .with_context(|| format!("cannot read the signature file {}", signature.display()))?;
            let release = releases.publish(&version, &notes, &platform, &artifact, &signature)?;
            println!(
                "Published {} for {platform} in {} ({} platform(s)).",
                release.version,
                releases.dir().display(),
                release.platforms.len()
            );
        }
        ReleaseCommand::List => {
            for r in releases.list()? {
                let platforms: Vec<&str> = r.platforms.keys().map(String::as_str).collect();
                println!("{}  {}  {}  {}", r.version, r.pub_date, platforms.join(","), r.notes);
            }
        }
    }
    Ok(())
}

async fn execute<S: Storage>(command: Command, storage: S, where_: &str, releases: PathBuf) -> Result<()> {
    match command {
        Command::Serve {
            listen,
            max_clock_skew_seconds,
            policy,
            public_url,
            daily_push_quota_mb,
            write_stall_seconds,
        } => {
            let policy = match policy {
                Some(path) => Policy::from_file(&path)?,
                None => Policy::default(),
            };
            tracing::info!(policy = %policy.describe().replace('\n', "; "), "site policy");
            let options = ServiceOptions {
                max_clock_skew: Duration::from_secs(max_clock_skew_seconds),
                releases,
                policy,
                public_url,
                daily_push_quota: (daily_push_quota_mb > 0)
                    .then(|| daily_push_quota_mb.saturating_mul(1024 * 1024)),
                write_stall: Duration::from_secs(write_stall_seconds.max(1)),
                ..ServiceOptions::default()
            };
            serve(storage, listen, options, where_).await
        }
        Command::Events { token, since } => {
            if storage.token(&token).await?.is_none() {
                anyhow::bail!("no token {token}; `pluto-server token list` shows the ids");
            }
            print_pushed(&storage, &token, since).await
        }
        Command::Devices { behind, json } => {
            let mut devices = storage.devices().await?;
            devices.retain(|d| !behind || d.missing() > 0);
            if json {
                for device in &devices {
                    let mut line = serde_json::to_value(device)?;
                    line["missing"] = device.missing().into();
                    println!("{line}");
                }
                return Ok(());
            }
            println!("Log {} on the {where_}, {} entries.", storage.log_id(), storage.head().await?);
            print_devices(&devices, &storage.list_tokens().await?);
            Ok(())
        }
        Command::Token(TokenCommand::Create { device, site, role, label }) => {
            let issued = auth::issue(&storage, device, &site, role, label.as_deref()).await?;
            let token = &issued.record;
            println!(
                "Issued token {} for device {} at site {} (role {}).",
                token.id,
                token.device_id,
                token.site,
                token.role.as_str()
            );
            println!(
                "Give the line below to the laptop once: only its hash is kept, it cannot be shown again."
            );
            println!("{}", issued.secret);
            Ok(())
        }
        Command::Token(TokenCommand::List) => {
            print_tokens(&storage.list_tokens().await?);
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { id }) => {
            match storage.revoke_token(&id, Timestamp::now()).await? {
                Some(token) => {
                    let at = token.revoked_at.map(|t| t.to_string()).unwrap_or_default();
                    println!("Token {} of device {} is revoked (since {at}).", token.id, token.device_id);
                    Ok(())
                }
                None => anyhow::bail!("no token {id}; `pluto-server token list` shows the ids"),
            }
        }
        Command::Release(_) => unreachable!("release commands run before the storage is opened"),
    }
}

async fn serve<S: Storage>(
    storage: S,
    listen: SocketAddr,
    options: ServiceOptions,
    where_: &str,
) -> Result<()> {
    let backend = storage.backend();
    let listener = TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let running = server::start(listener, storage, options).await?;
    // The first line on stdout, which scripts and tests read the port from.
    println!("listening on http://{}", running.local_addr());
    tracing::info!(addr = %running.local_addr(), backend, data = where_, "pluto-server is serving");
    let stop = running.shutdown_handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing the requests in flight");
        stop.shutdown();
    });
    running.wait().await.context("the server stopped with an error")?;
    tracing::info!("stopped");
    Ok(())
}

/// Ctrl-C, or SIGTERM (what service managers and container runtimes send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

/// `--public-url`: an absolute http(s) URL, kept without a trailing slash.
fn parse_public_url(s: &str) -> Result<String, String> {
    let url = s.trim().trim_end_matches('/');
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(url.to_owned()),
        _ => Err(format!("expected an address like https://pluto.example.com, got {s:?}")),
    }
}

/// `--role`: `site` or `admin`.
fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("expected site or admin, got {s:?}"))
}

/// `--since`: an RFC 3339 instant.
fn parse_instant(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s).map_err(|e| format!("expected an instant like 2026-03-01T00:00:00Z: {e}"))
}

/// Prints every event `token` pushed (received at or after `since`), one line each, a page at
/// a time.
async fn print_pushed<S: Storage>(storage: &S, token: &str, since: Option<Timestamp>) -> Result<()> {
    let mut after = 0;
    let mut count = 0;
    println!("POSITION  RECEIVED                  SITE  EVENT                            TYPE                          CAMPAIGN");
    loop {
        let page = storage.pushed_by(token, since, after, 1_000).await?;
        for stored in &page.events {
            let logged = stored.decode()?;
            let e = &logged.event;
            println!(
                "{:<8}  {:<24}  {:<4}  {}  {:<28}  {}",
                logged.position,
                logged.received_at,
                logged.site.as_deref().unwrap_or("-"),
                e.id,
                e.event_type,
                e.stream_id
            );
            after = logged.position;
            count += 1;
        }
        if !page.has_more {
            break;
        }
    }
    println!("{count} event(s) pushed with token {token}.");
    Ok(())
}

/// The devices as a table: what the server holds of each, what the laptop said it holds, how
/// many of its entries the server misses, and whose it is (its tokens' sites and labels).
fn print_devices(devices: &[DeviceRecord], tokens: &[TokenRecord]) {
    if devices.is_empty() {
        println!("No devices: none has pushed or asked for its status yet (or none is behind).");
        return;
    }
    let rows: Vec<[String; 7]> = devices
        .iter()
        .map(|d| {
            let whose: Vec<String> = tokens
                .iter()
                .filter(|t| t.device_id == d.status.device_id && t.revoked_at.is_none())
                .map(|t| t.label.as_ref().map_or_else(|| t.site.clone(), |l| format!("{} ({l})", t.site)))
                .collect();
            let said = match (d.reported_seq, d.reported_at) {
                (Some(seq), Some(at)) => format!("#{seq} ({at})"),
                _ => "-".into(),
            };
            [
                d.status.device_id.to_string(),
                if whose.is_empty() { "-".into() } else { whose.join(", ") },
                format!("#{}", d.status.contiguous_up_to),
                d.status.event_count.to_string(),
                said,
                d.missing().to_string(),
                d.status.last_received_at.map_or_else(|| "-".into(), |at| at.to_string()),
            ]
        })
        .collect();
    let header = ["DEVICE", "WHOSE", "UP TO", "HELD", "LAPTOP SAID IT HOLDS", "MISSING", "LAST RECEIVED"];
    print_table(header.map(String::from), &rows);
}

fn print_tokens(tokens: &[TokenRecord]) {
    if tokens.is_empty() {
        println!("No tokens yet: issue one with `pluto-server token create --device DEVICE_ID --site SITE`.");
        return;
    }
    let rows: Vec<[String; 7]> = tokens
        .iter()
        .map(|t| {
            [
                t.id.clone(),
                t.device_id.to_string(),
                t.site.clone(),
                t.role.as_str().to_owned(),
                t.label.clone().unwrap_or_else(|| "-".into()),
                t.created_at.to_string(),
                t.revoked_at.map_or_else(|| "-".into(), |at| at.to_string()),
            ]
        })
        .collect();
    let header = ["ID", "DEVICE", "SITE", "ROLE", "LABEL", "CREATED", "REVOKED"].map(String::from);
    print_table(header, &rows);
}

/// Columns padded to their widest cell, the header first.
fn print_table<const N: usize>(header: [String; N], rows: &[[String; N]]) {
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> =
            row.iter().zip(widths).map(|(cell, width)| format!("{cell:width$}")).collect();
        println!("{}", cells.join("  ").trim_end());
    }
}
