//! Crash safety: a child process records events in a loop and is killed with SIGKILL at a random
//! moment; the reopened database must pass `PRAGMA integrity_check` and `verify`, and hold every
//! event the child reported as recorded. Runs without libtest's harness because the same binary
//! is also the child (selected by an environment variable).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pluto_domain::samples::SampleCampaign;
use pluto_domain::{EventId, EventType, UserId};
use pluto_store::{Draft, Store};

const CHILD_ENV: &str = "PLUTO_CRASH_CHILD_DB";

/// The child: records whole campaigns forever, printing each event id once it is committed.
fn child(db: &Path) -> ! {
    let mut store = Store::open(db).expect("open");
    let user = UserId::parse("usr_crash").unwrap();
    let mut out = std::io::stdout().lock();
    for n in (std::process::id() % 1000) * 10_000.. {
        let sample = SampleCampaign::numbered(n);
        let mut campaign = None;
        for t in EventType::STEPS {
            let recorded = store
                .record(Draft::new(campaign.clone(), t, sample.payload(t).unwrap(), user.clone()))
                .expect("record");
            campaign = Some(recorded.state.id);
            writeln!(out, "{}", recorded.event.id).unwrap();
            out.flush().unwrap();
        }
    }
    unreachable!()
}

fn main() {
    if let Ok(db) = std::env::var(CHILD_ENV) {
        child(Path::new(&db));
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.sqlite3");
    let mut reported: Vec<EventId> = Vec::new();
    for (round, kill_after) in [37usize, 150, 401, 88, 263].into_iter().enumerate() {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(CHILD_ENV, &db)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for _ in 0..kill_after {
            let line = lines.next().expect("child alive").unwrap();
            reported.push(EventId::parse(&line).unwrap());
        }
        // Let it get into its next transactions, then cut the power.
        std::thread::sleep(Duration::from_millis(3 + round as u64 * 7));
        child.kill().unwrap();
        reported.extend(lines.map_while(Result::ok).map(|l| EventId::parse(&l).unwrap()));
        child.wait().unwrap();

        let store = Store::open_existing(&db).unwrap();
        let integrity: String =
            store.connection().query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(integrity, "ok", "round {round}");
        let drift = store.verify().unwrap();
        assert!(drift.is_empty(), "round {round}: {drift:?}");
        let mut stmt = store.connection().prepare("SELECT 1 FROM events WHERE id = ?1").unwrap();
        for id in &reported {
            assert!(stmt.exists([id.as_str()]).unwrap(), "round {round}: reported {id} is missing");
        }
        let (count, max_seq): (i64, i64) = store
            .connection()
            .query_row("SELECT COUNT(*), MAX(device_seq) FROM events", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!(count, max_seq, "round {round}: the device sequence has no gap");
        assert!(count as usize >= reported.len());
    }
    println!("test crash_safety_under_sigkill ... ok ({} events reported before the kills)", reported.len());
    println!(
        "\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in {:.2}s\n",
        started.elapsed().as_secs_f64()
    );
}
