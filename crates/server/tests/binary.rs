//! The real `pluto-server` binary: issuing tokens on the command line, serving with them,
//! its default SQLite file, the PostgreSQL flag, and a graceful stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::Duration;

use pluto_protocol::Health;

use pluto_protocol::PushOutcome;

use pluto_protocol::PushResponse;

use crate::pg::PgSchema;
use crate::util::{push_body, Laptop};

const BIN: &str = env!("CARGO_BIN_EXE_pluto-server");

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(dir)
        .env_remove("PLUTO_SERVER_DATA")
        .env_remove("PLUTO_SERVER_DATABASE_URL")
        .env_remove("PLUTO_SERVER_LISTEN")
        .env("RUST_LOG", "warn");
    command
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let output = command(dir, args).output().expect("run pluto-server");
    assert!(output.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    output
}

/// A `serve` process, killed if the test ends without stopping it.
struct Serving {
    child: Child,
    base: String,
    _stdout: BufReader<ChildStdout>,
}

impl Serving {
    /// Starts `serve` on a free port and reads the address from its first line.
    async fn start(dir: &Path, args: &[&str]) -> Self {
        Self::start_with(dir, args, &[]).await
    }

    /// [`Serving::start`] with `serve_args` after `serve`.
    async fn start_with(dir: &Path, args: &[&str], serve_args: &[&str]) -> Self {
        let mut args = args.to_vec();
        args.extend(["serve", "--listen", "127.0.0.1:0"]);
        args.extend(serve_args);
        let mut child = command(dir, &args).stdout(Stdio::piped()).spawn().expect("spawn serve");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let read = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            stdout.read_line(&mut line).map(|_| (line, stdout))
        });
        let (line, stdout) = match tokio::time::timeout(Duration::from_secs(30), read).await {
            Ok(Ok(Ok(read))) => read,
            other => {
                let _ = child.kill();
                panic!("serve printed no address: {other:?}");
            }
        };
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line: {line:?}"))
            .to_owned();
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        Self { child, base, _stdout: stdout }
    }

    /// Sends SIGTERM and expects a clean exit. Windows has no SIGTERM: there the process is
    /// ended as a service manager ends it (TerminateProcess), and what it committed must stay.
    async fn terminate(mut self) {
        if !stop(&mut self.child) {
            return;
        }
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                assert!(status.success(), "serve exited with {status}");
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("serve did not stop within 10 s of SIGTERM");
    }
}

/// Asks `child` to stop: SIGTERM on Unix (`true`: it should now exit by itself, cleanly); on
/// Windows it is ended at once (`false`).
fn stop(child: &mut std::process::Child) -> bool {
    if cfg!(unix) {
        let pid = child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
        true
    } else {
        child.kill().expect("end the server");
        false
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[tokio::test]
async fn a_token_from_the_command_line_is_accepted_by_serve_until_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data/server.sqlite3");
    let data = data.to_str().unwrap();
    let laptop = Laptop::new(1);
    let device = laptop.device.to_string();

    let output = run(
        dir.path(),
        &[
            "--data",
            data,
            "token",
            "create",
            "--device",
            &device,
            "--site",
            "MBA",
            "--role",
            "admin",
            "--label",
            "Alex's laptop",
        ],
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let token = stdout.lines().last().expect("a last line").to_owned();
    assert!(token.starts_with("plt_") && token.len() == 68, "{stdout}");

    let listed = String::from_utf8(run(dir.path(), &["token", "list", "--data", data]).stdout).unwrap();
    for expected in [device.as_str(), "MBA", "admin", "Alex's laptop", "ID", "REVOKED"] {
        assert!(listed.contains(expected), "{expected} missing from:\n{listed}");
    }
    assert!(!listed.contains(&token[4..]), "the secret is never shown again");
    let token_id = listed.lines().nth(1).and_then(|l| l.split_whitespace().next()).unwrap().to_owned();
    assert!(token_id.starts_with("tok_"), "{listed}");

    let serving = Serving::start(dir.path(), &["--data", data]).await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/events", serving.base);
    let push = || client.post(&url).bearer_auth(&token).json(&push_body(&[laptop.event(1)])).send();
    let response = push().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: PushResponse = response.json().await.unwrap();
    assert_eq!(body.results[0].outcome, PushOutcome::Stored);
    // What the token pushed, for an operator looking at a lost laptop's token.
    let pushed =
        String::from_utf8(run(dir.path(), &["--data", data, "events", "--token", &token_id]).stdout).unwrap();
    assert!(pushed.contains(laptop_event_id(&body)) && pushed.contains("MBA"), "{pushed}");
    assert!(pushed.contains("1 event(s) pushed with token"), "{pushed}");

    let revoked =
        String::from_utf8(run(dir.path(), &["--data", data, "token", "revoke", &token_id]).stdout).unwrap();
    assert!(revoked.contains("revoked"), "{revoked}");
    assert_eq!(push().await.unwrap().status(), 401);
    serving.terminate().await;

    let unknown = command(dir.path(), &["--data", data, "token", "revoke", "tok_nope"]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no token tok_nope"));
}

/// An operator's script issuing tokens for a whole site at once, on a new file and while a
/// server has it open: every process gets its token, none fails on a busy database.
#[tokio::test]
async fn tokens_issued_by_many_processes_at_once_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..3u32 {
        let data = dir.path().join(format!("round-{round}.sqlite3"));
        let data = data.to_str().unwrap();
        let devices: Vec<String> = (0..8).map(|n| Laptop::new(100 * round + n).device.to_string()).collect();
        let children: Vec<_> = devices
            .iter()
            .map(|device| {
                command(dir.path(), &["--data", data, "token", "create", "--device", device, "--site", "MBA"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn token create")
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        }
        let listed = String::from_utf8(run(dir.path(), &["token", "list", "--data", data]).stdout).unwrap();
        for device in &devices {
            assert!(listed.contains(device.as_str()), "{device} missing from:\n{listed}");
        }
    }
}

#[tokio::test]
async fn serve_without_flags_keeps_its_data_in_a_local_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let serving = Serving::start(dir.path(), &[]).await;
    assert!(dir.path().join("pluto-server.sqlite3").exists());
    let health: Health =
        reqwest::get(format!("{}/v1/health", serving.base)).await.unwrap().json().await.unwrap();
    assert_eq!((health.backend.as_str(), health.head), ("sqlite", 0));
    serving.terminate().await;
}

#[tokio::test]
async fn serve_uses_postgres_when_given_a_database_url() {
    let dir = tempfile::tempdir().unwrap();
    let schema = PgSchema::create().await;
    let serving = Serving::start(dir.path(), &["--database-url", &schema.url]).await;
    let health: Health =
        reqwest::get(format!("{}/v1/health", serving.base)).await.unwrap().json().await.unwrap();
    assert_eq!(health.backend, "postgres");
    serving.terminate().await;
    assert!(!dir.path().join("pluto-server.sqlite3").exists());
}

#[tokio::test]
async fn a_database_of_a_newer_server_or_another_program_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let newer = dir.path().join("newer.sqlite3");
    run(dir.path(), &["--data", newer.to_str().unwrap(), "token", "list"]);
    rusqlite::Connection::open(&newer).unwrap().pragma_update(None, "user_version", 7).unwrap();
    let output = command(dir.path(), &["--data", newer.to_str().unwrap(), "token", "list"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("schema version 7") && stderr.contains("pluto-server"), "{stderr}");

    let other = dir.path().join("laptop.sqlite3");
    rusqlite::Connection::open(&other).unwrap().execute_batch("CREATE TABLE events (seq INTEGER)").unwrap();
    let output = command(dir.path(), &["--data", other.to_str().unwrap(), "serve"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a pluto-server database"), "{stderr}");
}

/// A pushed event's text is quoted in the log, never written raw: a line break in it cannot
/// start a forged line of the server's log.
#[tokio::test]
async fn client_text_cannot_forge_a_line_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server.sqlite3");
    let data = data.to_str().unwrap();
    let laptop = Laptop::new(1);
    let output = run(
        dir.path(),
        &["--data", data, "token", "create", "--device", laptop.device.as_str(), "--site", "MBA"],
    );
    let token = String::from_utf8(output.stdout).unwrap().lines().last().unwrap().to_owned();
    let mut child = command(dir.path(), &["--data", data, "serve", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("listening on ").unwrap().to_owned();

    let forged = "2026-12-02T00:00:00.000000Z  INFO pluto_server: token revoked by the operator";
    let mut event = crate::util::to_json(&laptop.event(1));
    event["eventType"] = serde_json::json!(format!("Nope\n{forged}"));
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/events"))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "events": [event] }))
        .send()
        .await
        .unwrap();
    let answer: PushResponse = response.json().await.unwrap();
    assert_eq!(answer.results[0].outcome, PushOutcome::Refused);

    stop(&mut child);
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("refused a pushed event"), "{log}");
    assert!(log.lines().all(|l| !l.starts_with(forged)), "a forged line in:\n{log}");
    assert!(
        log.contains(r#"unknown event type \"Nope\\n2026-12-02"#),
        "the reason is quoted, its line break escaped:\n{log}"
    );
}

/// The id of the first event a push answered for.
fn laptop_event_id(body: &PushResponse) -> &str {
    body.results[0].id.as_ref().map(|id| id.as_str()).expect("an id")
}

/// An operator's policy file is checked when `serve` starts: a mistake stops it with the site
/// and entry named; a good file replaces the default.
#[tokio::test]
async fn serve_checks_its_policy_file_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad-policy.json");
    std::fs::write(&bad, r#"{"MBA": ["GranulationCompleted", "Granulation"]}"#).unwrap();
    let output =
        command(dir.path(), &["serve", "--listen", "127.0.0.1:0", "--policy", bad.to_str().unwrap()])
            .output()
            .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("bad-policy.json is not valid: site \"MBA\": unknown event type \"Granulation\""),
        "{stderr}"
    );

    let good = dir.path().join("policy.json");
    std::fs::write(&good, r#"{"MBA": ["CampaignCreated"]}"#).unwrap();
    let serving =
        Serving::start_with(dir.path(), &["--data", "server.sqlite3"], &["--policy", good.to_str().unwrap()])
            .await;
    let laptop = Laptop::new(1);
    let token = run(
        dir.path(),
        &["--data", "server.sqlite3", "token", "create", "--device", laptop.device.as_str(), "--site", "MBA"],
    );
    let token = String::from_utf8(token.stdout).unwrap().lines().last().unwrap().to_owned();
    let client = reqwest::Client::new();
    let event = laptop.event_at(
        1,
        pluto_domain::EventType::CampaignCreated,
        pluto_domain::Timestamp::from_millis(1_772_000_000_000),
    );
    let response = client
        .post(format!("{}/v1/events", serving.base))
        .bearer_auth(&token)
        .json(&push_body(&[event]))
        .send();
    let body: PushResponse = response.await.unwrap().json().await.unwrap();
    assert_eq!(body.results[0].outcome, PushOutcome::Stored, "{body:?}");
    serving.terminate().await;
}
