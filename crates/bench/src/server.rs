//! The real `pluto-server` binary in a child process: issuing tokens with `token create`,
//! creating a database with the server's own migrations, serving on a free loopback port, and
//! reading the serving process's memory from the kernel.
//!
//! The benchmarks run the shipped binary rather than the server's library in-process, so that
//! they measure what an operator runs (its runtime, its logging, its own process) and so that
//! the server's memory is its own, not mixed with the simulated laptops'.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use pluto_domain::DeviceId;

use crate::pg::Schema;

/// A storage backend of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One SQLite file (`--data FILE`).
    Sqlite,
    /// PostgreSQL (`--database-url URL`).
    Postgres,
}

impl Backend {
    /// Both, in the order the benchmarks run them.
    pub const BOTH: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

    /// `SQLite` or `PostgreSQL`, for the results table.
    pub fn title(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }

    fn file_stem(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// One database the server (or a bare baseline) uses: a new SQLite file, or a new PostgreSQL
/// schema that is dropped with this value.
pub enum Data {
    /// A file that did not exist before.
    Sqlite(PathBuf),
    /// A schema of its own.
    Postgres(Schema),
}

/// The site of the benchmark's laptops, allowed every step by the policy `serve` is given.
pub const BENCH_SITE: &str = "Bench";

impl Data {
    /// A new database named after `label`: a file in `dir`, or a schema on the server
    /// `database_url` names.
    pub fn create(backend: Backend, label: &str, dir: &Path, database_url: &str) -> Result<Data> {
        Ok(match backend {
            Backend::Sqlite => Data::Sqlite(dir.join(format!("{label}-{}.sqlite3", backend.file_stem()))),
            Backend::Postgres => Data::Postgres(Schema::create(database_url, label)?),
        })
    }

    fn flags(&self) -> [OsString; 2] {
        match self {
            Data::Sqlite(path) => ["--data".into(), path.into()],
            Data::Postgres(schema) => ["--database-url".into(), (&schema.url).into()],
        }
    }
}

/// The `pluto-server` executable.
#[derive(Debug, Clone)]
pub struct ServerBin {
    path: PathBuf,
}

impl ServerBin {
    /// The executable at `path`, which must exist; `build` is the command that makes it.
    pub fn new(path: &Path, build: &str) -> Result<ServerBin> {
        if !path.is_file() {
            bail!(
                "the sync server's benchmarks run the real server binary, and there is none at {}: \
                 build it with `{build}` (or pass --server-bin PATH)",
                path.display()
            );
        }
        Ok(ServerBin { path: path.to_owned() })
    }

    /// The binary with `data`'s flags, `args`, and an environment that cannot redirect it.
    fn command(&self, data: &Data, args: &[&str]) -> Command {
        let mut command = Command::new(&self.path);
        command
            .args(data.flags())
            .args(args)
            .env_remove("PLUTO_SERVER_DATA")
            .env_remove("PLUTO_SERVER_DATABASE_URL")
            .env_remove("PLUTO_SERVER_LISTEN")
            // The server's default: one line per push, as in production; no per-request lines.
            .env("RUST_LOG", "info");
        command
    }

    /// Runs a command to completion and returns its stdout.
    fn output(&self, data: &Data, args: &[&str]) -> Result<String> {
        let output = self
            .command(data, args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run {}", self.path.display()))?;
        if !output.status.success() {
            bail!(
                "`pluto-server {}` failed ({}): {}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8(output.stdout)?)
    }

    /// Creates the server's tables in `data` with the server's own migrations (any command
    /// migrates first; `token list` changes nothing else), for a bare baseline to write into.
    pub fn migrate(&self, data: &Data) -> Result<()> {
        self.output(data, &["token", "list"]).map(drop)
    }

    /// Issues a token for `device` at the site [`BENCH_SITE`]; returns the secret (the last
    /// line `token create` prints).
    pub fn token(&self, data: &Data, device: &DeviceId) -> Result<String> {
        let out =
            self.output(data, &["token", "create", "--device", device.as_str(), "--site", BENCH_SITE])?;
        let token = out.lines().last().unwrap_or_default().trim();
        if !token.starts_with("plt_") {
            bail!("`pluto-server token create` printed no token: {out:?}");
        }
        Ok(token.to_owned())
    }

    /// Starts `serve` on a free loopback port with a site policy that lets [`BENCH_SITE`]
    /// record every step (so that every pushed event goes through the policy check, as a site
    /// token's do); its log goes to `log`.
    pub fn serve(&self, data: &Data, log: &Path) -> Result<Serving> {
        let log_file = File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let policy = log.with_extension("policy.json");
        let steps: Vec<&str> = pluto_domain::EventType::STEPS.iter().map(|t| t.as_str()).collect();
        std::fs::write(&policy, serde_json::json!({ BENCH_SITE: steps }).to_string())
            .with_context(|| format!("cannot write {}", policy.display()))?;
        let policy = policy.to_str().context("a policy path in UTF-8")?;
        let mut child = self
            .command(data, &["serve", "--listen", "127.0.0.1:0", "--policy", policy])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("cannot run {}", self.path.display()))?;
        let stdout = child.stdout.take().context("the server's stdout")?;
        // The first line may never come (a server stuck at start): read it on a thread, so that
        // waiting can time out.
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let read = reader.read_line(&mut line).map(|_| (line, reader));
            let _ = sender.send(read);
        });
        let mut serving = Serving { child, base: String::new(), _stdout: None };
        let (line, stdout) = match receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(read)) => read,
            other => bail!("the server printed no address ({other:?}); see its log {}", log.display()),
        };
        serving.base = match line.trim().strip_prefix("listening on ") {
            Some(base) => base.to_owned(),
            None => bail!("the server's first line is {line:?}; see its log {}", log.display()),
        };
        serving._stdout = Some(stdout);
        Ok(serving)
    }
}

/// A serving `pluto-server` process, killed if it is dropped before [`Serving::stop`].
pub struct Serving {
    child: Child,
    base: String,
    /// Kept open so that the server never writes to a closed pipe.
    _stdout: Option<BufReader<ChildStdout>>,
}

/// The server process's resident memory, from `/proc/PID/status`.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// Resident now (`VmRSS`), in bytes.
    pub rss: u64,
    /// The peak since the process started (`VmHWM`), in bytes.
    pub peak: u64,
}

impl Serving {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The server process's memory now.
    pub fn memory(&self) -> Result<Memory> {
        let status = format!("/proc/{}/status", self.child.id());
        Ok(Memory { rss: status_bytes(&status, "VmRSS")?, peak: status_bytes(&status, "VmHWM")? })
    }

    /// CPU time the server process has used so far, all its threads together.
    pub fn cpu(&self) -> Result<Duration> {
        cpu_time(&format!("/proc/{}/stat", self.child.id()))
    }

    /// Stops the server as an operator would (SIGTERM) and expects a clean exit.
    pub fn stop(mut self) -> Result<()> {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().context("cannot run kill")?;
        if !sent.success() {
            bail!("kill -TERM {pid} failed");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    bail!("the server exited with {status} after SIGTERM");
                }
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("the server did not stop within 30 s of SIGTERM")
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// User and system CPU time from a `/proc/…/stat` file (the process's threads together, live
/// or ended), counted in the kernel's fixed 100 ticks per second.
pub fn cpu_time(path: &str) -> Result<Duration> {
    let stat = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    // Fields 14 and 15; the command name (field 2) may hold spaces, so count after its ')'.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => Ok(Duration::from_millis((user + system) * 10)),
        _ => bail!("no CPU times in {path} (Linux only)"),
    }
}

/// A `kB` field of a `/proc/…/status` file, in bytes.
pub fn status_bytes(path: &str, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().strip_suffix("kB"))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .with_context(|| format!("no {field} in {path} (Linux only)"))?;
    Ok(kib * 1024)
}
