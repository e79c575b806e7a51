//! Floods, bounded in count and time, against the real `pluto-server` binary with the common
//! limit of 1,024 open files (`ulimit -n 1024`): idle connections, a token's long-polls, large
//! pushes and downloads that are never read must not keep real laptops out or run the server
//! out of memory.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pluto_domain::EventType;
use pluto_protocol::PushOutcome;

use crate::util::push_body;

use crate::util::Laptop;

const BIN: &str = env!("CARGO_BIN_EXE_pluto-server");

/// A `serve` process limited to 1,024 open files, killed when dropped.
struct Limited {
    child: Child,
    base: String,
    data: String,
}

impl Limited {
    fn start(dir: &Path) -> Limited {
        Self::start_with(dir, &[])
    }

    /// Starts `serve` with more of its flags.
    fn start_with(dir: &Path, flags: &[&str]) -> Limited {
        let data = dir.join("server.sqlite3").to_str().unwrap().to_owned();
        let releases = dir.join("releases").to_str().unwrap().to_owned();
        let mut child = Command::new("sh")
            .args(["-c", "ulimit -n 1024 && exec \"$0\" \"$@\""])
            .args([BIN, "--data", &data, "--releases", &releases, "serve", "--listen", "127.0.0.1:0"])
            .args(flags)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn serve under ulimit -n 1024");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("{line:?}")).to_owned();
        let limit = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
        assert!(limit.lines().any(|l| l.starts_with("Max open files") && l.contains(" 1024 ")), "{limit}");
        Limited { child, base, data }
    }

    fn token(&self, laptop: &Laptop, role: &str) -> String {
        let out = Command::new(BIN)
            .args(["--data", &self.data, "token", "create", "--device", laptop.device.as_str()])
            .args(["--site", "MBA", "--role", role])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim().to_owned()
    }

    /// The server's peak resident memory so far, in MB.
    fn peak_mb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
    }
}

impl Drop for Limited {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lets this test process hold the attackers' connections, whatever its own soft limit.
fn raise_own_file_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let wanted = limit.maximum.map_or(16_384, |max| max.min(16_384));
    setrlimit(Resource::Nofile, Rlimit { current: Some(wanted), maximum: limit.maximum }).unwrap();
    assert!(wanted >= 4_096, "this test needs 4,096 open files; the hard limit is {wanted}");
}

/// 1,100 idle connections (no token needed to open one): a real request still answers within
/// 15 s, because the server holds at most 512 connections and closes one that sends nothing
/// within 5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_cannot_keep_a_laptop_out() {
    raise_own_file_limit();
    let dir = tempfile::tempdir().unwrap();
    let server = Limited::start(dir.path());
    let address = server.base.trim_start_matches("http://").to_owned();
    let idle: Vec<TcpStream> = (0..1_100).map(|_| TcpStream::connect(&address).expect("connect")).collect();
    let started = Instant::now();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let response = client.get(format!("{}/v1/health", server.base)).send().await.unwrap();
    let waited = started.elapsed();
    assert_eq!(response.status(), 200);
    assert!(
        waited < Duration::from_secs(15),
        "a real request waited {waited:?} behind 1,100 idle connections"
    );
    println!("health answered {} ms after 1,100 idle connections were opened", waited.as_millis());
    drop(idle);
}

/// 1,000 long-polls from one token: four wait, the rest get 429 and their connections back at
/// once, and another laptop pushes and pulls within 5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tokens_long_polls_cannot_keep_other_laptops_out() {
    raise_own_file_limit();
    let dir = tempfile::tempdir().unwrap();
    let server = Limited::start(dir.path());
    let flooder = Laptop::new(1);
    let flood_token = server.token(&flooder, "site");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(90)).build().unwrap();
    let url = format!("{}/v1/events?after=0&waitSeconds=30", server.base);
    let polls: Vec<_> = (0..1_000)
        .map(|_| {
            let request = client.get(&url).bearer_auth(&flood_token).send();
            tokio::spawn(async move { request.await.map(|r| r.status().as_u16()) })
        })
        .collect();
    // The flood is in place once every poll beyond the token's four has been told to back off.
    let deadline = Instant::now() + Duration::from_secs(60);
    while polls.iter().filter(|p| p.is_finished()).count() < 996 {
        assert!(Instant::now() < deadline, "the server did not answer the flood's extra polls within 60 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let laptop = Laptop::new(2);
    let token = server.token(&laptop, "admin");
    let other = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let started = Instant::now();
    let pushed = other
        .post(format!("{}/v1/events", server.base))
        .bearer_auth(&token)
        .json(&push_body(&[laptop.event_at(1, EventType::CampaignCreated, pluto_domain::Timestamp::now())]))
        .send()
        .await
        .unwrap();
    let body: pluto_protocol::PushResponse = pushed.json().await.unwrap();
    assert_eq!(body.results[0].outcome, PushOutcome::Stored);
    let pulled =
        other.get(format!("{}/v1/events?after=0", server.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(pulled.status(), 200);
    let synced = started.elapsed();
    assert!(synced < Duration::from_secs(5), "another laptop's sync took {synced:?} during the flood");

    let mut statuses = std::collections::BTreeMap::new();
    for poll in polls {
        let status = poll.await.unwrap().map_or(0, |s| s);
        *statuses.entry(status).or_insert(0) += 1;
    }
    // The waiting four returned with the pushed event; every other one was told to back off.
    assert_eq!(statuses.get(&429), Some(&996), "{statuses:?}");
    assert_eq!(statuses.get(&200), Some(&4), "{statuses:?}");
    println!("another laptop synced in {} ms during 1,000 long-polls of one token", synced.as_millis());
}

/// Eight concurrent pushes of 8 MiB each (tiny values, which expand most when parsed): the
/// server's peak memory stays under 150 MB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_pushes_stay_within_their_memory() {
    let dir = tempfile::tempdir().unwrap();
    let server = Limited::start(dir.path());
    let laptop = Laptop::new(1);
    let token = server.token(&laptop, "site");
    let mut body = String::from("{\"events\": [");
    while body.len() < 8 * 1024 * 1024 - 64 {
        body.push_str("0,");
    }
    body.push_str("0]}");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(120)).build().unwrap();
    let pushes: Vec<_> = (0..8)
        .map(|_| {
            let request = client
                .post(format!("{}/v1/events", server.base))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body.clone())
                .send();
            tokio::spawn(async move { request.await.map(|r| r.status().as_u16()) })
        })
        .collect();
    for push in pushes {
        assert_eq!(push.await.unwrap().unwrap(), 413, "over 1,000 events is refused");
    }
    let peak = server.peak_mb();
    assert!(peak < 150, "the server peaked at {peak} MB");
    println!("8 concurrent 8 MiB pushes: server peak {peak} MB");
}

/// A 64 MiB release artifact published as version 9.0.0 in `dir`'s releases folder.
fn publish_large_artifact(dir: &Path) {
    use std::io::Write;
    let artifact = dir.join("pluto-tracker_9.0.0_amd64.deb");
    let mut file = std::fs::File::create(&artifact).unwrap();
    let block = vec![7u8; 1024 * 1024];
    for _ in 0..64 {
        file.write_all(&block).unwrap();
    }
    drop(file);
    let signature = dir.join("artifact.sig");
    std::fs::write(&signature, "c2lnbmF0dXJl").unwrap();
    let releases = dir.join("releases");
    let published = Command::new(BIN)
        .args(["--releases", releases.to_str().unwrap(), "release", "publish", "--version", "9.0.0"])
        .args(["--notes", "big", "--platform", "linux-x86_64-deb"])
        .args(["--artifact", artifact.to_str().unwrap(), "--signature", signature.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(published.status.success(), "{}", String::from_utf8_lossy(&published.stderr));
}

const ARTIFACT_PATH: &str = "/v1/releases/9.0.0/pluto-tracker_9.0.0_amd64.deb";

/// A download from the loopback address `from` (127.x.y.z: each is a client of its own) that
/// never reads its response.
async fn stalled_download(address: &str, from: [u8; 4]) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((std::net::Ipv4Addr::from(from), 0).into()).unwrap();
    let mut stream = socket.connect(address.parse().unwrap()).await.unwrap();
    let request = format!("GET {ARTIFACT_PATH} HTTP/1.1\r\nHost: {address}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

/// Eight downloads of a 64 MB release artifact that never read their response (no token
/// needed), each from its own address: the artifact is streamed from its file, so the server
/// stays under 100 MB, and another client still downloads it whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_downloads_do_not_hold_the_artifact_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    publish_large_artifact(dir.path());
    let server = Limited::start(dir.path());
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut stalled = Vec::new();
    for i in 0..8 {
        stalled.push(stalled_download(&address, [127, 0, 1, i + 1]).await);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let peak = server.peak_mb();
    assert!(peak < 100, "the server peaked at {peak} MB with 8 stalled downloads");
    // A download that reads gets the whole artifact.
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let response = client.get(format!("{}{ARTIFACT_PATH}", server.base)).send();
    let bytes = response.await.unwrap().bytes().await.unwrap();
    assert_eq!(bytes.len(), 64 * 1024 * 1024);
    println!("8 stalled downloads of a 64 MB artifact: server peak {peak} MB");
    drop(stalled);
}

/// issue 26: 512 downloads that are never read, from 128 addresses, no token needed. Each
/// address gets four at most and the server 64 (the rest are told to come back later), a
/// download nobody reads ends its connection once it has stalled for the write-stall limit
/// (2 s here), and a laptop syncs meanwhile as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_that_are_never_read_cannot_hold_the_server() {
    use tokio::io::AsyncReadExt;
    raise_own_file_limit();
    let dir = tempfile::tempdir().unwrap();
    publish_large_artifact(dir.path());
    let server = Limited::start_with(dir.path(), &["--write-stall-seconds", "2"]);
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut stalled = Vec::new();
    for i in 0..512u32 {
        stalled.push(stalled_download(&address, [127, 0, 2, (i / 4) as u8 + 1]).await);
    }

    let laptop = Laptop::new(3);
    let token = server.token(&laptop, "admin");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    let started = Instant::now();
    let pushed = client
        .post(format!("{}/v1/events", server.base))
        .bearer_auth(&token)
        .json(&push_body(&[laptop.event_at(1, EventType::CampaignCreated, pluto_domain::Timestamp::now())]))
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), 200);
    let pulled =
        client.get(format!("{}/v1/events?after=0", server.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(pulled.status(), 200);
    let synced = started.elapsed();
    assert!(synced < Duration::from_secs(5), "a laptop's sync took {synced:?} beside 512 stalled downloads");

    // What each stalled client finally reads, once the stall limit has passed: a refusal (busy),
    // or the start of the artifact until the server ended the connection. None is held open.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (mut refused, mut cut) = (0, 0);
    for mut stream in stalled {
        let mut received = Vec::new();
        let ended = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut received)).await;
        assert!(ended.is_ok(), "a stalled download was still held open after 20 s");
        let head = String::from_utf8_lossy(&received[..received.len().min(64)]).into_owned();
        if head.starts_with("HTTP/1.1 429") {
            refused += 1;
        } else {
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            assert!(received.len() < 64 * 1024 * 1024, "a stalled download got the whole artifact");
            cut += 1;
        }
    }
    // 64 at once: more are served only once the first are cut, 2 s after they stall.
    assert!(cut >= 64 && refused >= 256, "{cut} served and cut, {refused} refused");
    println!(
        "512 downloads never read: {cut} served and cut after the stall limit, {refused} told to come back; a laptop synced in {} ms",
        synced.as_millis()
    );
}
