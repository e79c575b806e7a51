//! The Windows installer (`scripts/windows/installer.nsi`) under Wine, as a coordinator and the
//! app's updater run it: a silent install puts the program, `pluto.exe` and a Start-menu entry in
//! place; the installed `pluto.exe` keeps its records in `%APPDATA%` and syncs with a Linux
//! server on loopback; a newer version installed over it, with the arguments the updater passes,
//! keeps every record; uninstalling removes the program and keeps the records unless asked. The
//! sync server offers the installer to a Windows app as its update.
//!
//! `scripts/dev test` builds both installers (this version and 99.0.0) and names them in
//! `PLUTO_WINDOWS_SETUP_CURRENT` and `PLUTO_WINDOWS_SETUP_NEXT`, with `WINEPREFIX` its own Wine
//! prefix. Without them these tests fail. Every Wine command has a deadline, so a program waiting
//! for a click fails the test instead of hanging it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use pluto_domain::DeviceId;
use pluto_server::config::ServiceOptions;
use pluto_server::releases::Releases;
use pluto_server::storage::sqlite::SqliteStorage;
use pluto_server::storage::Role;
use pluto_server::{auth, server};

/// The Wine prefix is one Windows user account: one test at a time.
static PREFIX: Mutex<()> = Mutex::new(());

const INSTALL_DEADLINE: Duration = Duration::from_secs(180);
const COMMAND_DEADLINE: Duration = Duration::from_secs(60);

/// A Windows user account in the Wine prefix of `scripts/dev test`.
struct Wine {
    prefix: PathBuf,
    /// `C:\users\<name>` on the Linux side.
    home: PathBuf,
}

impl Wine {
    fn from_env() -> Wine {
        let prefix = PathBuf::from(std::env::var_os("WINEPREFIX").expect(
            "WINEPREFIX is not set: run these tests through `scripts/dev test`, which makes the Wine prefix",
        ));
        let users = prefix.join("drive_c/users");
        let home = std::fs::read_dir(&users)
            .unwrap_or_else(|e| {
                panic!("no Wine prefix at {} ({e}): run `scripts/dev test`", prefix.display())
            })
            .map(|entry| entry.unwrap().path())
            .find(|p| p.file_name().is_some_and(|n| n != "Public"))
            .expect("a user folder in the Wine prefix");
        let wine = Wine { prefix, home };
        // A program left over from an earlier run would hold files open.
        wine.run_unbounded(Command::new("wineserver").arg("-k"));
        wine
    }

    /// Where the installer puts the program.
    fn program_dir(&self) -> PathBuf {
        self.home.join("AppData/Local/Programs/Pluto Tracker")
    }

    /// Where the app and `pluto.exe` keep the records (`%APPDATA%\com.pluto.tracker`).
    fn records_dir(&self) -> PathBuf {
        self.home.join("AppData/Roaming/com.pluto.tracker")
    }

    fn start_menu_entry(&self) -> PathBuf {
        self.home.join("AppData/Roaming/Microsoft/Windows/Start Menu/Programs/Pluto Tracker.lnk")
    }

    /// Runs `program ARGS…` under Wine; fails the test when it has not ended by `deadline`.
    fn run(&self, program: &Path, args: &[&str], deadline: Duration) -> Output {
        self.run_with(Command::new("wine"), program, args, deadline)
    }

    /// [`Wine::run`] with a screen (a virtual one), for a program that shows a window.
    fn run_on_screen(&self, program: &Path, args: &[&str], deadline: Duration) -> Output {
        let mut xvfb = Command::new("xvfb-run");
        xvfb.args(["-a", "wine"]);
        self.run_with(xvfb, program, args, deadline)
    }

    fn run_with(&self, mut command: Command, program: &Path, args: &[&str], deadline: Duration) -> Output {
        command.arg(program).args(args).env("WINEPREFIX", &self.prefix).env("WINEDEBUG", "-all");
        command.env_remove("PLUTO_DB").env_remove("PLUTO_SERVER").env_remove("PLUTO_TOKEN");
        self.bounded(command, deadline)
    }

    /// Runs `pluto.exe ARGS…` from the install folder and expects success; returns stdout.
    fn pluto(&self, args: &[&str]) -> String {
        let out = self.run(&self.program_dir().join("pluto.exe"), args, COMMAND_DEADLINE);
        assert!(out.status.success(), "pluto.exe {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Waits for every program in the prefix to end and the registry to be written to disk.
    fn settle(&self) {
        let out = self.bounded(
            {
                let mut c = Command::new("wineserver");
                c.arg("-w").env("WINEPREFIX", &self.prefix);
                c
            },
            COMMAND_DEADLINE,
        );
        assert!(out.status.success(), "wineserver -w: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// A value of the app's uninstall entry, read from the prefix's registry file.
    fn uninstall_value(&self, name: &str) -> Option<String> {
        self.settle();
        let registry = std::fs::read_to_string(self.prefix.join("user.reg")).unwrap();
        let key = r"[Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\Pluto Tracker]";
        let section = &registry[registry.find(key)? + key.len()..];
        let section = &section[..section.find("\n[").unwrap_or(section.len())];
        let prefix = format!("\"{name}\"=");
        section.lines().find_map(|l| l.strip_prefix(&prefix)).map(|v| v.trim_matches('"').to_owned())
    }

    fn bounded(&self, mut command: Command, deadline: Duration) -> Output {
        let described = format!("{command:?}");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {described} ({e}): scripts/dev test installs Wine"));
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut buf = Vec::new();
            stdout.read_to_end(&mut buf).map(|_| buf)
        });
        let err = std::thread::spawn(move || {
            let mut buf = Vec::new();
            stderr.read_to_end(&mut buf).map(|_| buf)
        });
        let end = Instant::now() + deadline;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > end {
                let _ = child.kill();
                self.run_unbounded(Command::new("wineserver").arg("-k"));
                panic!("{described} did not end within {deadline:?} (waiting for a click?)");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        Output {
            status,
            stdout: out.join().unwrap().unwrap_or_default(),
            stderr: err.join().unwrap().unwrap_or_default(),
        }
    }

    fn run_unbounded(&self, command: &mut Command) {
        let _ = command.env("WINEPREFIX", &self.prefix).stdout(Stdio::null()).stderr(Stdio::null()).status();
    }

    /// Installs with `setup ARGS…` and expects success.
    fn install(&self, setup: &Path, args: &[&str]) {
        let out = self.run(setup, args, INSTALL_DEADLINE);
        assert!(out.status.success(), "{} {args:?}: {:?}", setup.display(), out.status);
        self.settle();
    }

    /// Runs the installed uninstaller with `ARGS…` and waits until it is done (it runs a copy
    /// of itself from the temporary folder, so that it can delete its own file).
    fn uninstall(&self, args: &[&str]) {
        let out = self.run(&self.program_dir().join("uninstall.exe"), args, INSTALL_DEADLINE);
        assert!(out.status.success(), "uninstall.exe {args:?}: {:?}", out.status);
        self.settle();
    }

    /// Removes what an earlier run left: the program (by its own uninstaller) and the records.
    fn start_clean(&self) {
        if self.program_dir().join("uninstall.exe").is_file() {
            self.uninstall(&["/S", "/DELETEDATA"]);
        }
        let _ = std::fs::remove_dir_all(self.program_dir());
        let _ = std::fs::remove_dir_all(self.records_dir());
    }
}

fn setup(var: &str) -> PathBuf {
    let path = PathBuf::from(std::env::var_os(var).unwrap_or_else(|| {
        panic!("{var} is not set: `scripts/dev test` builds the Windows installers and sets it")
    }));
    assert!(path.is_file(), "{var}: no installer at {}", path.display());
    path
}

/// A sync server on loopback (this process, a real SQLite file) that also serves releases.
struct Server {
    url: String,
    storage: SqliteStorage,
    runtime: tokio::runtime::Runtime,
    running: Option<server::RunningServer>,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let options = ServiceOptions { releases: dir.join("releases"), ..ServiceOptions::default() };
        let (storage, running) = runtime.block_on(async {
            let storage = SqliteStorage::open(&dir.join("server.sqlite3")).await.unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let running = server::start(listener, storage.clone(), options).await.unwrap();
            (storage, running)
        });
        let url = format!("http://{}", running.local_addr());
        Server { url, storage, runtime, running: Some(running) }
    }

    fn token(&self, device: &str, site: &str) -> String {
        let device = DeviceId::parse(device).unwrap();
        self.runtime.block_on(auth::issue(&self.storage, device, site, Role::Site, None)).unwrap().secret
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            self.runtime.block_on(running.shutdown()).unwrap();
        }
    }
}

#[test]
fn the_installer_installs_updates_and_uninstalls_keeping_the_records() {
    let _one = PREFIX.lock().unwrap_or_else(|e| e.into_inner());
    let (current, next) = (setup("PLUTO_WINDOWS_SETUP_CURRENT"), setup("PLUTO_WINDOWS_SETUP_NEXT"));
    let wine = Wine::from_env();
    wine.start_clean();

    // A silent install, as an administrator deploys it.
    wine.install(&current, &["/S"]);
    for file in ["pluto-tracker.exe", "WebView2Loader.dll", "pluto.exe", "uninstall.exe"] {
        assert!(wine.program_dir().join(file).is_file(), "{file} is not installed");
    }
    assert!(wine.start_menu_entry().is_file(), "no Start-menu entry");
    // The app tells its updater it was installed by NSIS, so that it asks for the
    // `windows-x86_64-nsis` update (Tauri's bundler marks its own builds the same way).
    let app = std::fs::read(wine.program_dir().join("pluto-tracker.exe")).unwrap();
    assert!(
        app.windows(27).any(|w| w == b"__TAURI_BUNDLE_TYPE_VAR_NSS"),
        "the app is not marked as an NSIS install"
    );
    assert_eq!(wine.uninstall_value("DisplayVersion").as_deref(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(wine.uninstall_value("DisplayName").as_deref(), Some("Pluto Tracker"));
    let uninstall = wine.uninstall_value("UninstallString").expect("an uninstall command");
    assert!(uninstall.contains(r"\\AppData\\Local\\Programs\\Pluto Tracker\\uninstall.exe"), "{uninstall}");

    // The installed pluto.exe keeps its records in %APPDATA% (dirs' app-data folder on Windows).
    wine.pluto(&["init"]);
    assert!(
        wine.records_dir().join("pluto.sqlite3").is_file(),
        "no database in %APPDATA%\\com.pluto.tracker"
    );
    let id =
        wine.pluto(&["campaign", "create", "--code", "LEGO-WIN-1", "--material", "PI"]).trim().to_owned();
    assert!(id.starts_with("cmp_"), "{id}");

    // …and syncs with a Linux server: the campaign reaches it, and a Linux laptop gets it.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let device = wine.pluto(&["device"]).trim().to_owned();
    let token_file = wine.records_dir().join("server.token");
    std::fs::write(&token_file, format!("\u{feff}{}\r\n", server.token(&device, "LEGO"))).unwrap();
    let out =
        wine.pluto(&["sync", "--server", &server.url, "--token-file", &windows_path(&wine, &token_file)]);
    assert!(out.contains("Pushed 1 events (0 refused by the server)"), "{out}");
    let linux = tempfile::tempdir().unwrap();
    let linux_db = linux.path().join("pluto.sqlite3");
    let linux_pluto = |args: &[&str]| {
        let out =
            Command::new(env!("CARGO_BIN_EXE_pluto")).arg("--db").arg(&linux_db).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    linux_pluto(&["init"]);
    let linux_device = linux_pluto(&["device"]).trim().to_owned();
    linux_pluto(&["sync", "--server", &server.url, "--token", &server.token(&linux_device, "MBA")]);
    assert!(linux_pluto(&["list"]).contains("LEGO-WIN-1"), "the Windows laptop's campaign reached Linux");
    let before = wine.pluto(&["export", "-"]);

    // The newer version over it, as the app's updater runs it in its default (passive) mode:
    // a progress bar, nothing to click.
    let out = wine.run_on_screen(&next, &["/P", "/UPDATE", "/ARGS", "--from-updater"], INSTALL_DEADLINE);
    assert!(
        out.status.success(),
        "the passive update: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    wine.settle();
    assert_eq!(wine.uninstall_value("DisplayVersion").as_deref(), Some("99.0.0"));
    assert_eq!(wine.pluto(&["export", "-"]), before, "every record is kept by the update");
    assert!(wine.pluto(&["verify"]).starts_with("OK: "), "the database is consistent after the update");

    // Uninstalling removes the program and the Start-menu entry, and keeps the records.
    wine.uninstall(&["/S"]);
    assert!(!wine.program_dir().exists(), "the program folder is left behind");
    assert!(!wine.start_menu_entry().exists(), "the Start-menu entry is left behind");
    assert_eq!(wine.uninstall_value("DisplayName"), None, "the uninstall entry is left behind");
    assert!(wine.records_dir().join("pluto.sqlite3").is_file(), "uninstall deleted the records");

    // Installed again, the records are there; uninstalled with /DELETEDATA, they are gone.
    wine.install(&current, &["/S"]);
    assert_eq!(wine.pluto(&["export", "-"]), before);
    wine.uninstall(&["/S", "/DELETEDATA"]);
    assert!(!wine.records_dir().exists(), "/DELETEDATA kept the records");
}

/// Signs `file` with a new updater key as a release is signed (`tauri signer`); returns the
/// public key and the signature, each base64 as the app and the server hold them.
fn sign(dir: &Path, file: &Path) -> (String, String) {
    let tauri = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/node_modules/.bin/tauri");
    assert!(
        tauri.is_file(),
        "{} is missing: run `npm ci --prefix ui` (scripts/dev test does)",
        tauri.display()
    );
    let key = dir.join("updater.key");
    let signer = |args: &[&str], path: &Path| {
        let out = Command::new(&tauri)
            .arg("signer")
            .args(args)
            .arg(path)
            .env("TAURI_SIGNING_PRIVATE_KEY_PASSWORD", "")
            .output()
            .unwrap();
        assert!(out.status.success(), "tauri signer {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    signer(&["generate", "--ci", "-p", "", "-w"], &key);
    let copy = dir.join(file.file_name().unwrap());
    std::fs::copy(file, &copy).unwrap();
    signer(&["sign", "-p", "", "-f", key.to_str().unwrap()], &copy);
    let read = |path: PathBuf| std::fs::read_to_string(path).unwrap().trim().to_owned();
    (read(dir.join("updater.key.pub")), read(PathBuf::from(format!("{}.sig", copy.display()))))
}

/// `C:\…` for a file inside the Wine prefix's drive C.
fn windows_path(wine: &Wine, path: &Path) -> String {
    let inside = path.strip_prefix(wine.prefix.join("drive_c")).expect("a file on drive C");
    format!(r"C:\{}", inside.to_str().unwrap().replace('/', r"\"))
}

#[test]
fn the_sync_server_offers_the_windows_installer_to_a_windows_app() {
    let next = setup("PLUTO_WINDOWS_SETUP_NEXT");
    let dir = tempfile::tempdir().unwrap();

    let (public_key, signature) = sign(dir.path(), &next);
    let server = Server::start(dir.path());
    let releases = Releases::new(dir.path().join("releases"));
    releases.publish("99.0.0", "Windows installer", "windows-x86_64-nsis", &next, &signature).unwrap();
    let answer: serde_json::Value =
        ureq::get(format!("{}/v1/updates/windows/x86_64/0.1.0?bundle_type=nsis", server.url))
            .call()
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap();
    assert_eq!(answer["version"], "99.0.0", "{answer}");
    assert_eq!(answer["signature"], signature.as_str(), "{answer}");
    let url = answer["url"].as_str().unwrap();
    assert!(url.ends_with("-setup.exe"), "{url}");
    let download =
        ureq::get(url).call().unwrap().body_mut().with_config().limit(u64::MAX).read_to_vec().unwrap();
    assert_eq!(download, std::fs::read(&next).unwrap(), "the installer is served unchanged");
    // What the app's updater checks before it runs the download.
    let decode = |b64: &str| {
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b64).unwrap()).unwrap()
    };
    let public_key = minisign_verify::PublicKey::decode(&decode(&public_key)).unwrap();
    let signature = minisign_verify::Signature::decode(&decode(&signature)).unwrap();
    public_key.verify(&download, &signature, true).expect("the download verifies against the updater key");
    // An app installed another way (an MSI) is not offered it.
    let other =
        ureq::get(format!("{}/v1/updates/windows/x86_64/0.1.0?bundle_type=msi", server.url)).call().unwrap();
    assert_eq!(other.status(), 204);
}
