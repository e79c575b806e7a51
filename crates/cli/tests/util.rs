//! The helper every test here uses: one laptop's database file and the real `pluto` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A database file and the `pluto` command run against it as `usr_alex`.
pub struct Pluto {
    /// The temporary folder, when this helper owns one: removed when the helper is dropped.
    _dir: Option<tempfile::TempDir>,
    /// The database file.
    pub db: PathBuf,
}

impl Pluto {
    /// An initialized database in a temporary folder of its own.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("pluto.sqlite3");
        Self::init(Pluto { _dir: Some(dir), db })
    }

    /// An initialized database `NAME.sqlite3` in `dir` (several laptops side by side).
    pub fn at(dir: &Path, name: &str) -> Self {
        Self::init(Pluto { _dir: None, db: dir.join(format!("{name}.sqlite3")) })
    }

    fn init(p: Pluto) -> Self {
        assert!(p.run(&["init"]).status.success());
        p
    }

    /// Runs `pluto --db DB --user usr_alex ARGS…`, isolated from the caller's environment.
    pub fn run(&self, args: &[&str]) -> Output {
        // Wine now and then fails to start a program with Windows error 1359 ("Internal error"),
        // before the program runs at all: start it again then.
        let mut tries = 0;
        loop {
            match self.command(args).output() {
                Err(e) if e.raw_os_error() == Some(1359) && tries < 3 => tries += 1,
                other => return other.unwrap(),
            }
        }
    }

    /// The command [`Pluto::run`] runs, for a test that sets up its input or output itself.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pluto"));
        command
            .arg("--db")
            .arg(&self.db)
            .args(["--user", "usr_alex"])
            .args(args)
            .env_remove("PLUTO_DB")
            .env_remove("PLUTO_USER")
            .env_remove("PLUTO_SERVER")
            .env_remove("PLUTO_TOKEN");
        command
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Records on `campaign` the entry of type `event_type` that sample campaign `sample` holds
    /// (`SampleCampaign::numbered`), and expects success; returns stdout.
    pub fn record_sample(&self, campaign: &str, sample: u32, event_type: pluto_domain::EventType) -> String {
        let data =
            pluto_domain::samples::SampleCampaign::numbered(sample).payload(event_type).unwrap().to_string();
        self.ok(&["record", campaign, event_type.as_str(), "--data", &data])
    }

    /// Runs with `--json` and expects success.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// Runs and expects exit code `code`; returns stderr.
    pub fn fails(&self, code: i32, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stderr).unwrap()
    }

    /// A path beside the database.
    pub fn file(&self, name: &str) -> PathBuf {
        self.db.with_file_name(name)
    }

    /// The whole event log as JSON Lines.
    pub fn export(&self) -> String {
        self.ok(&["export", "-"])
    }

    /// This database's device id.
    pub fn device(&self) -> String {
        self.ok(&["device"]).trim().to_owned()
    }
}
