//! End to end: the real app (built with its UI embedded) in a real window under Xvfb, driven
//! through WebDriver (tauri-driver with WebKitWebDriver), on a real database file. One
//! coordinator's day: first run, a new campaign, a step out of order, a bad weight, the whole
//! lifecycle to completed, a correction, "as of", the export, a restart, and training mode.
//!
//! The steps share one window and run in order; each is reported like a libtest test. Needs
//! `Xvfb`, `tauri-driver` and `WebKitWebDriver` (`scripts/dev test` installs them); a missing
//! one fails the run. Screenshots go to `$PLUTO_SCREENSHOTS` (default `target/screenshots`).

mod webdriver;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pluto_domain::samples::SampleCampaign;
use pluto_domain::EventType;
use rusqlite::OptionalExtension;
use serde_json::{json, Value};

use webdriver::{Result, Session, PATIENCE};

const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";
/// Ctrl+K: the Control key held for the next key, then released (WebDriver's NULL key).
const CTRL_K: &str = "\u{E009}k\u{E000}";
const CODE: &str = "LEGO-2026-E2E";

/// Xvfb, tauri-driver and a temporary data folder; stopped on drop.
struct Rig {
    xvfb: Child,
    /// The X display the window is on, for the native save dialog and keyboard typing.
    display: u32,
    driver: Child,
    url: String,
    app: String,
    dir: tempfile::TempDir,
    shots: PathBuf,
}

/// Checks that `path` is a saved `.xlsx` (a zip file).
fn workbook(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| format!("the workbook {}: {e}", path.display()))?;
    if !bytes.starts_with(b"PK") {
        return Err(format!("{} is not an .xlsx (zip) file", path.display()));
    }
    Ok(())
}

/// The text `pdftotext` reads from a PDF file, its lines joined by single spaces (a phrase may
/// wrap at the page's edge).
fn pdf_text(path: &Path) -> Result<String> {
    let out = Command::new("pdftotext")
        .arg(path)
        .arg("-")
        .output()
        .map_err(|e| format!("pdftotext (poppler-utils) reads the PDFs back: {e}"))?;
    if !out.status.success() {
        return Err(format!("pdftotext {}: {}", path.display(), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).split_whitespace().collect::<Vec<_>>().join(" "))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn find_program(name: &str, also: &[PathBuf]) -> std::result::Result<PathBuf, String> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(also.iter().cloned())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{name} is not installed (scripts/dev test installs it)"))
}

impl Rig {
    fn start() -> std::result::Result<Rig, String> {
        let cargo_bin = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
            .map(|d| d.join("bin"))
            .into_iter()
            .collect::<Vec<_>>();
        let xvfb_bin = find_program("Xvfb", &[])?;
        let driver_bin = find_program("tauri-driver", &cargo_bin)?;
        let native = find_program("WebKitWebDriver", &[PathBuf::from("/usr/bin")])?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let display = (90..200)
            .find(|n| !Path::new(&format!("/tmp/.X{n}-lock")).exists())
            .ok_or("no free X display number")?;
        let xvfb = Command::new(xvfb_bin)
            .args([
                format!(":{display}"),
                "-screen".into(),
                "0".into(),
                "1280x800x24".into(),
                "-nolisten".into(),
                "tcp".into(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start Xvfb: {e}"))?;
        let socket = PathBuf::from(format!("/tmp/.X11-unix/X{display}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            if Instant::now() > deadline {
                return Err("Xvfb did not start".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // The updater key of this run: the debug app trusts PLUTO_UPDATE_PUBKEY instead of the
        // project's key, so the test can sign real update artifacts.
        let keygen = Command::new(tauri_cli()?)
            .args(["signer", "generate", "--ci", "-p", "", "-w"])
            .arg(dir.path().join("updater.key"))
            .output()
            .map_err(|e| format!("cannot run the Tauri CLI: {e}"))?;
        let pubkey = std::fs::read_to_string(dir.path().join("updater.key.pub"))
            .map_err(|e| format!("no updater key ({e}): {}", String::from_utf8_lossy(&keygen.stderr)))?;
        let port = free_port();
        let native_port = free_port();
        let log = std::fs::File::create(dir.path().join("driver.log")).map_err(|e| e.to_string())?;
        let driver = Command::new(driver_bin)
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string(), "--native-driver"])
            .arg(native)
            .env("DISPLAY", format!(":{display}"))
            .env("PLUTO_DB", dir.path().join("data/pluto.sqlite3"))
            .env("PLUTO_EXPORT_DIR", dir.path().join("exports"))
            .env("XDG_DATA_HOME", dir.path().join("xdg-data"))
            .env("XDG_CACHE_HOME", dir.path().join("xdg-cache"))
            .env("XDG_CONFIG_HOME", dir.path().join("xdg-config"))
            .env("LANG", "en_US.UTF-8")
            .env("PLUTO_UPDATE_PUBKEY", pubkey.trim())
            // How the window paints is the app's choice, checked by the tests.
            .env_remove(pluto_tracker::CPU_PAINTING)
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start tauri-driver: {e}"))?;
        let url = format!("http://127.0.0.1:{port}");
        let shots = std::env::var_os("PLUTO_SCREENSHOTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots"));
        std::fs::create_dir_all(&shots).map_err(|e| e.to_string())?;
        // PLUTO_E2E_APP runs the same day on another build (a release build, for its timings).
        let app =
            std::env::var("PLUTO_E2E_APP").unwrap_or_else(|_| env!("CARGO_BIN_EXE_pluto-tracker").to_owned());
        let rig = Rig { xvfb, display, driver, url, app, dir, shots };
        let deadline = Instant::now() + Duration::from_secs(20);
        while ureq::get(&format!("{}/status", rig.url)).call().is_err() {
            if Instant::now() > deadline {
                return Err("tauri-driver did not answer".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(rig)
    }

    fn launch(&self) -> Result<Session> {
        let s = Session::start(&self.url, &self.app)?;
        s.wait("#app > *")?;
        Ok(s)
    }

    /// Accepts the native save dialog titled `title` as it opened (folder and name chosen by the
    /// app), pressing Enter as a coordinator would: through the X server, as WebDriver cannot
    /// reach a native window.
    fn accept_save_dialog(&self, title: &str) -> Result<()> {
        let xdotool = |args: &[&str]| xdotool(self.display, args);
        let deadline = Instant::now() + Duration::from_secs(15);
        let window = loop {
            match xdotool(&["search", "--onlyvisible", "--name", title]) {
                Ok(found) if !found.is_empty() => break found.lines().last().unwrap_or_default().to_owned(),
                _ if Instant::now() > deadline => return Err(format!("no save dialog titled {title:?}")),
                _ => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        // The dialog needs a moment to take keys after it is mapped.
        std::thread::sleep(Duration::from_millis(500));
        xdotool(&["windowfocus", "--sync", &window])?;
        xdotool(&["key", "--clearmodifiers", "Return"])?;
        Ok(())
    }

    /// Takes a screenshot of the screen as it is, and checks it with axe-core: a screen with a
    /// serious or critical accessibility violation (contrast, names, roles, labels) fails, and so
    /// does one that shows a coordinator an id, a type name, a field name or a stored code.
    fn shot(&self, s: &Session, name: &str) -> Result<()> {
        // Let the last frame settle: a screenshot right after a change can show the one before.
        std::thread::sleep(Duration::from_millis(300));
        std::fs::write(self.shots.join(format!("{name}.png")), s.screenshot()?).map_err(|e| e.to_string())?;
        if name.starts_with("failed-") {
            return Ok(());
        }
        // The sync settings show this laptop's device id on purpose: the administrator asks for it.
        if name != "sync-settings" {
            no_developer_words(s, name)?;
        }
        accessibility_check(s, name)
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        // SIGTERM lets tauri-driver stop WebKitWebDriver; SIGKILL would orphan it.
        let _ = Command::new("kill").args(["-TERM", &self.driver.id().to_string()]).status();
        let _ = self.driver.wait();
        let _ = self.xvfb.kill();
        let _ = self.xvfb.wait();
    }
}

/// Runs xdotool on the X display `display`: input that reaches the window as a person's does,
/// and native windows WebDriver cannot reach. Answers what it printed.
fn xdotool(display: u32, args: &[&str]) -> Result<String> {
    let out = Command::new("xdotool")
        .args(args)
        .env("DISPLAY", format!(":{display}"))
        .output()
        .map_err(|e| format!("xdotool (types on the X display): {e}"))?;
    if !out.status.success() {
        return Err(format!("xdotool {args:?}: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// axe-core, from the UI's npm packages.
fn axe_source() -> Result<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "axe-core is needed for the accessibility check ({}): {e}; run npm --prefix ui ci",
            path.display()
        )
    })
}

/// Runs axe-core on the window's page as it is now; the serious and critical violations are the
/// error, each with the rule, what it asks and where.
fn accessibility_check(s: &Session, screen: &str) -> Result<()> {
    if s.script("return typeof window.axe === 'object'", json!([]))? != json!(true) {
        // Sent as the script itself: the page's content security policy forbids eval.
        s.script(&format!("{}\n;return true;", axe_source()?), json!([]))?;
    }
    let found = s.script_async(
        "const done = arguments[arguments.length - 1];
         window.axe.run(document, { resultTypes: ['violations'] }).then(
           (r) => done(r.violations
             .filter((v) => v.impact === 'serious' || v.impact === 'critical')
             .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`)),
           (e) => done([`axe-core failed: ${e}`]));",
        json!([]),
    )?;
    let violations: Vec<String> =
        found.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_owned)).collect();
    if violations.is_empty() {
        Ok(())
    } else {
        Err(format!("accessibility on screen {screen:?}:\n    {}", violations.join("\n    ")))
    }
}

/// Fails when the page as shown (closed "Details" left out) holds words only a developer reads:
/// ids, event type names, field names, stored codes ([`pluto_domain::vocabulary::developer_words`]).
fn no_developer_words(s: &Session, screen: &str) -> Result<()> {
    let shown = s.script("return document.body.innerText", json!([]))?;
    let found = pluto_domain::vocabulary::developer_words(shown.as_str().unwrap_or_default());
    if found.is_empty() {
        Ok(())
    } else {
        Err(format!("screen {screen:?} shows a coordinator developer words: {found:?}"))
    }
}

/// The keyboard and mouse of the X display the app's window is on, its focus on that window.
#[derive(Debug)]
struct Keyboard {
    display: u32,
    window: String,
    /// The app's database, where a saved entry is noticed without asking the window.
    db: PathBuf,
}

impl Keyboard {
    /// Gives the app's window the keyboard focus, once: looking the window up again for each
    /// field would keep the X server busy while the page is measured.
    fn on(display: u32, db: &Path) -> Result<Keyboard> {
        let window = xdotool(display, &["search", "--onlyvisible", "--name", "^Pluto Tracker"])?;
        let window = window.lines().next().ok_or("no window titled Pluto Tracker on the display")?.to_owned();
        xdotool(display, &["windowfocus", "--sync", &window])?;
        Ok(Keyboard { display, window, db: db.to_owned() })
    }

    /// Types `text` into the field `css` with key presses, about as fast as a quick typist (40
    /// ms a key), and waits until the field holds it.
    fn type_into(&self, s: &Session, css: &str, text: &str) -> Result<()> {
        s.script("document.querySelector(arguments[0]).focus()", json!([css]))?;
        xdotool(self.display, &["type", "--delay", "40", "--", text])?;
        s.wait_until(&format!("{css} to hold {text:?}"), || {
            let value = s.script("return document.querySelector(arguments[0]).value", json!([css]))?;
            Ok((value.as_str() == Some(text)).then_some(()))
        })
    }

    /// Clicks the window at `at` (the page's `[x, y]`) with the mouse.
    fn click(&self, at: &Value) -> Result<()> {
        let (x, y) = (at[0].as_f64().unwrap_or_default(), at[1].as_f64().unwrap_or_default());
        let (x, y) = (format!("{}", x.round()), format!("{}", y.round()));
        xdotool(self.display, &["mousemove", "--window", &self.window, &x, &y, "click", "1"]).map(drop)
    }

    /// The highest sequence number of this laptop's own entries.
    fn recorded(&self) -> Result<i64> {
        let conn = rusqlite::Connection::open(&self.db).map_err(|e| e.to_string())?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(|e| e.to_string())?;
        conn.query_row(
            "SELECT COALESCE(MAX(device_seq), 0) FROM events WHERE device_id = (SELECT value FROM meta WHERE key = 'device_id')",
            [],
            |r| r.get(0),
        )
        .map_err(|e| e.to_string())
    }

    /// Records the expected next step as a person would, WebDriver silent from the click on the
    /// button to the saved entry (it only reads where things are before, sets the dates and
    /// choices, checks what was typed, and reads the timing after): the mouse clicks the button
    /// and then each field, keys replace the field's text, and Enter saves. The saved entry is
    /// noticed in the database, and the window is asked only after it has had time to show it.
    fn record_next(&self, s: &Session, event_type: EventType, timings: &mut Vec<f64>) -> Result<()> {
        let data = sample().payload(event_type).ok_or("no sample payload")?;
        let centre = "return [...arguments].map((css) => { const e = document.querySelector(css); if (!e) return null;
                      const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })";
        gap_step(s, "opening the form")?;
        let button = s.script(centre, json!(["[data-testid=record-next]"]))?;
        s.script("delete document.body.dataset.lastActionMs", json!([]))?;
        self.click(&button[0])?;
        // The form opens unobserved; WebDriver asks for it only once it has had time to show.
        std::thread::sleep(Duration::from_millis(700));
        let typed = choose(s, &data)?;
        let fields: Vec<&str> = typed.iter().map(|(css, _)| css.as_str()).collect();
        let centres = s.script(centre, json!(fields))?;
        gap_step(s, "typing")?;
        for ((_, text), at) in typed.iter().zip(centres.as_array().into_iter().flatten()) {
            self.click(at)?;
            xdotool(self.display, &["key", "ctrl+a"])?;
            xdotool(self.display, &["type", "--delay", "40", "--", text])?;
        }
        let held = s.script(
            "return [...arguments].map((css) => document.querySelector(css)?.value)",
            json!(fields),
        )?;
        for ((css, text), value) in typed.iter().zip(held.as_array().into_iter().flatten()) {
            if value.as_str() != Some(text) {
                return Err(format!("{css} holds {value} after typing {text:?}"));
            }
        }
        let before = self.recorded()?;
        gap_step(s, "saving and showing")?;
        xdotool(self.display, &["key", "Return"])?;
        let started = Instant::now();
        while self.recorded()? == before {
            if started.elapsed() > PATIENCE {
                return Err(format!("Enter did not save the entry within {PATIENCE:?}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(700));
        note_click_to_view(s, timings)
    }
}

/// Sets the choices and dates of the open step form from `data` (the spec's payload), and
/// answers the fields left to type (their selector and text), in the payload's order.
fn choose(s: &Session, data: &Value) -> Result<Vec<(String, String)>> {
    s.wait("[data-testid=event-form]")?;
    let mut typed = Vec::new();
    for (field, value) in data.as_object().ok_or("payload is not an object")? {
        let css = format!("#f-{field}");
        let text = match value {
            Value::String(t) => t.clone(),
            other => other.to_string(),
        };
        let kind = s.script(
            "const e = document.querySelector(arguments[0]); return e ? e.tagName + ':' + (e.type || '') : '';",
            json!([css]),
        )?;
        match kind.as_str().unwrap_or_default() {
            "" => return Err(format!("the form has no input for {field}")),
            "SELECT:select-one" | "INPUT:date" => s.set_value(&css, &text)?,
            _ => typed.push((css, text)),
        }
    }
    Ok(typed)
}

/// Fills the open step form with `data` (the spec's payload).
fn fill_form(s: &Session, data: &Value) -> Result<()> {
    for (css, text) in choose(s, data)? {
        s.set_value(&css, "")?;
        let e = s.wait(&css)?;
        s.keys(&e, &text)?;
    }
    Ok(())
}

fn submit_form(s: &Session) -> Result<()> {
    s.click_on("[data-testid=event-form] [data-testid=submit]")
}

fn wait_closed(s: &Session, css: &str) -> Result<()> {
    s.wait_until(&format!("{css} to close"), || Ok(s.find(css)?.is_none().then_some(())))
}

fn sample() -> SampleCampaign {
    let mut sample = SampleCampaign::numbered(42);
    sample.code = CODE.to_owned();
    sample
}

/// Records the expected next step from the primary button, with the sample's values.
fn record_next(s: &Session, event_type: EventType, timings: &mut Vec<f64>) -> Result<()> {
    let data = sample().payload(event_type).ok_or("no sample payload")?;
    gap_step(s, "opening the form")?;
    s.click_on("[data-testid=record-next]")?;
    gap_step(s, "typing")?;
    fill_form(s, &data)?;
    s.script("delete document.body.dataset.lastActionMs", json!([]))?;
    gap_step(s, "saving and showing")?;
    submit_form(s)?;
    note_click_to_view(s, timings)
}

/// Waits for the saved entry's form to close and the view to update, and notes how long the
/// click on saving took to reach the updated view.
fn note_click_to_view(s: &Session, timings: &mut Vec<f64>) -> Result<()> {
    wait_closed(s, "[data-testid=event-form]")?;
    let ms = s.wait_until("the view to update", || {
        Ok(s.script("return document.body.dataset.lastActionMs || null", json!([]))?
            .as_str()
            .map(str::to_owned))
    })?;
    timings.push(ms.parse().unwrap_or(f64::NAN));
    Ok(())
}

fn kg(x: f64) -> String {
    // The UI's en-US form: grouped thousands, at most one decimal.
    let rounded = (x * 10.0).round() / 10.0;
    let whole = rounded.trunc() as i64;
    let mut digits = whole.to_string();
    let mut grouped = String::new();
    while digits.len() > 3 {
        let tail = digits.split_off(digits.len() - 3);
        grouped = format!(",{tail}{grouped}");
    }
    let frac = ((rounded - rounded.trunc()) * 10.0).round() as i64;
    let frac = if frac == 0 { String::new() } else { format!(".{frac}") };
    format!("{digits}{grouped}{frac} kg")
}

/// Starts recording, in the page, the gaps between animation frames: the longest, the phase it
/// fell in, and every gap over 50 ms with its phase, its end (milliseconds since the Unix epoch),
/// how long the page's main thread was held in it (the rest of a gap is painting and showing
/// the frame), how many changes the page saw, the element that had the focus, and the commands
/// whose answers reached the page during it (with how far into the gap)
/// (`window.__gaps`; name a phase with [`GAP_PHASE`], set `window.__gaps.stop` to end, read it
/// with [`frame_gaps`]). [`record_next`] names its own steps within the phase.
const FRAME_GAPS: &str = "window.__gaps = { max: 0, frames: 0, phase: 'start', step: '', at: '', long: [], answers: [] };
     const internals = window.__TAURI_INTERNALS__;
     window.__invoke = window.__invoke || internals.invoke;
     internals.invoke = (cmd, args, options) => {
         const answer = window.__invoke(cmd, args, options), noted = () => { const a = window.__gaps.answers; a.push([performance.now(), cmd]); if (a.length > 100) a.shift(); };
         answer.then(noted, noted);
         return answer;
     };
     // The page's main thread between frames: a timer every 4 ms notes the longest time it could
     // not run (script, style, layout, collection), and an observer counts changes to the page.
     let late = 0, timer = performance.now(), changed = 0;
     const poll = () => { const now = performance.now(); late = Math.max(late, now - timer); timer = now; if (!window.__gaps.stop) setTimeout(poll, 4); };
     setTimeout(poll, 4);
     new MutationObserver((m) => { changed += m.length; }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
     let last = performance.now();
     const tick = (t) => { const g = window.__gaps, gap = t - last, at = g.phase + (g.step ? ': ' + g.step : '');
                           if (gap > g.max) { g.max = gap; g.at = at; }
                           if (gap > 50 && g.long.length < 1000) {
                               const answers = g.answers.filter(([a]) => a > last && a <= t).map(([a, cmd]) => cmd + '@' + (a - last).toFixed(0));
                               g.long.push({ gap, at, end: performance.timeOrigin + t, answers, busy: Math.max(late, performance.now() - timer), changed, focus: document.activeElement?.id || '' });
                           }
                           late = 0; changed = 0;
                           g.frames++; last = t; if (!g.stop) requestAnimationFrame(tick); };
     requestAnimationFrame(tick);";

/// Ends the measurement [`FRAME_GAPS`] started and says what it found: the longest gap, the
/// longest while no WebDriver command was in flight (the page as a person uses it; WebKit's
/// automation holds up frames of its own), and every gap over 50 ms, those during a command
/// marked.
fn frame_gaps(s: &Session) -> Result<String> {
    let gaps = s.script("window.__gaps.stop = true; return window.__gaps", json!([]))?;
    // Per phase (its steps together), in the order the phases came.
    let mut alone: Vec<(String, f64)> = Vec::new();
    let mut listed = Vec::new();
    for long in gaps["long"].as_array().into_iter().flatten() {
        let (gap, end) = (long["gap"].as_f64().unwrap_or(0.0), long["end"].as_f64().unwrap_or(0.0));
        let at = long["at"].as_str().unwrap_or("?");
        let driven = s.commanded_between(end - gap, end);
        if !driven {
            let phase = at.split(": ").next().unwrap_or(at).to_owned();
            match alone.iter_mut().find(|(p, _)| *p == phase) {
                Some((_, longest)) => *longest = longest.max(gap),
                None => alone.push((phase, gap)),
            }
        }
        let answers = long["answers"].as_array().filter(|a| !a.is_empty()).map(|a| {
            format!(", answers: {}", a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "))
        });
        let focus = long["focus"].as_str().filter(|f| !f.is_empty()).map(|f| format!(", focus #{f}"));
        listed.push(format!(
            "{gap:.0} ms in {at} (main thread held {:.0} ms, {} changes){}{}{}",
            long["busy"].as_f64().unwrap_or(f64::NAN),
            long["changed"],
            if driven { " (WebDriver)" } else { "" },
            focus.unwrap_or_default(),
            answers.unwrap_or_default()
        ));
    }
    Ok(format!(
        "longest frame gap {:.0} ms (during {}) over {} frames; longest with no WebDriver command in flight: {}; gaps over 50 ms: [{}]",
        gaps["max"].as_f64().unwrap_or(f64::NAN),
        gaps["at"].as_str().unwrap_or("?"),
        gaps["frames"],
        if alone.is_empty() {
            "none over 50 ms".to_owned()
        } else {
            alone.iter().map(|(phase, gap)| format!("{gap:.0} ms in {phase}")).collect::<Vec<_>>().join(", ")
        },
        listed.join("; ")
    ))
}

/// Types a form's worth of figures into a bare input added to the page for the purpose, with no
/// handler of the app's: the baseline of what typing costs in this window on this machine.
fn type_into_a_bare_input(s: &Session, keyboard: &Keyboard) -> Result<()> {
    s.script(
        "const e = document.createElement('input'); e.id = 'bare-input'; e.setAttribute('aria-label', 'baseline');
         e.style = 'position: fixed; top: 0; left: 0; z-index: 9999'; document.body.append(e);",
        json!([]),
    )?;
    keyboard.type_into(s, "#bare-input", "12480.5 12230 11874.2 4120 2026-03-14")?;
    s.script("document.getElementById('bare-input').remove()", json!([])).map(drop)
}

/// Names the phase that the frame gaps measured from now on fall in (argument: the name).
const GAP_PHASE: &str = "window.__gaps.phase = arguments[0]; window.__gaps.step = ''";

/// Names the step of an entry the frame gaps fall in, when they are being measured.
fn gap_step(s: &Session, step: &str) -> Result<()> {
    s.script("if (window.__gaps) window.__gaps.step = arguments[0]", json!([step])).map(drop)
}

/// A real `pluto-server` on loopback, with its data kept across restarts.
struct Server {
    bin: PathBuf,
    data: PathBuf,
    releases: PathBuf,
    child: Option<Child>,
    url: String,
}

impl Server {
    fn start(dir: &Path) -> Result<Server> {
        let bin = Path::new(env!("CARGO_BIN_EXE_pluto-tracker")).with_file_name("pluto-server");
        if !bin.is_file() {
            return Err(format!(
                "{} is missing: build the workspace (cargo build -p pluto-server)",
                bin.display()
            ));
        }
        let mut server = Server {
            bin,
            data: dir.join("server.sqlite3"),
            releases: dir.join("releases"),
            child: None,
            url: String::new(),
        };
        server.serve("127.0.0.1:0")?;
        Ok(server)
    }

    fn serve(&mut self, listen: &str) -> Result<()> {
        use std::io::BufRead;
        let mut child = Command::new(&self.bin)
            .arg("--data")
            .arg(&self.data)
            .arg("--releases")
            .arg(&self.releases)
            .args(["serve", "--listen", listen])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start pluto-server: {e}"))?;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().ok_or("no stdout")?)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        self.url = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or(format!("pluto-server said {line:?}"))?
            .to_owned();
        self.child = Some(child);
        Ok(())
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// An administrator's token: the day records every site's steps on one laptop.
    fn token(&self, device: &str) -> Result<String> {
        self.token_for(device, "MBA", "admin")
    }

    fn token_for(&self, device: &str, site: &str, role: &str) -> Result<String> {
        let out = Command::new(&self.bin)
            .arg("--data")
            .arg(&self.data)
            .args([
                "token",
                "create",
                "--device",
                device,
                "--site",
                site,
                "--role",
                role,
                "--label",
                "e2e laptop",
            ])
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .last()
            .map(str::trim)
            .map(str::to_owned)
            .filter(|t| out.status.success() && t.starts_with("plt_"))
            .ok_or_else(|| format!("token create failed: {text} {}", String::from_utf8_lossy(&out.stderr)))
    }
}

impl Server {
    /// Publishes an update artifact for Linux laptops with the signature in `signature` (a
    /// `.sig` file).
    fn publish(&self, version: &str, artifact: &Path, signature: &Path) -> Result<()> {
        self.publish_for("linux-x86_64", version, artifact, signature)
    }

    /// Publishes an update artifact for `platform` (`<os>-<arch>[-<kind of install>]`).
    fn publish_for(&self, platform: &str, version: &str, artifact: &Path, signature: &Path) -> Result<()> {
        let out = Command::new(&self.bin)
            .arg("--releases")
            .arg(&self.releases)
            .args([
                "release",
                "publish",
                "--version",
                version,
                "--notes",
                "Faster history",
                "--platform",
                platform,
            ])
            .arg("--artifact")
            .arg(artifact)
            .arg("--signature")
            .arg(signature)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("release publish failed: {}", String::from_utf8_lossy(&out.stderr)))
        }
    }
}

/// The Tauri CLI from the UI's npm packages, which signs update artifacts.
fn tauri_cli() -> std::result::Result<PathBuf, String> {
    let cli = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/node_modules/.bin/tauri");
    if cli.is_file() {
        Ok(cli)
    } else {
        Err(format!("{} is missing: run `npm ci --prefix ui` (scripts/dev test does)", cli.display()))
    }
}

/// Signs `file` with the test's updater key, writing `<file>.sig`; with `version`, the
/// signature binds the file to that version (as `tauri build` signs a release), which the app
/// requires (`requireSignedVersion`).
fn sign(dir: &Path, file: &Path, version: Option<&str>) -> Result<PathBuf> {
    let mut command = Command::new(tauri_cli()?);
    command.args(["signer", "sign", "-p", "", "-f"]).arg(dir.join("updater.key"));
    if let Some(version) = version {
        command.args(["--app-version", version]);
    }
    let out = command
        .arg(file)
        .env("TAURI_SIGNING_PRIVATE_KEY_PASSWORD", "")
        .output()
        .map_err(|e| e.to_string())?;
    let sig = PathBuf::from(format!("{}.sig", file.display()));
    if out.status.success() && sig.is_file() {
        Ok(sig)
    } else {
        Err(format!("signing failed: {}", String::from_utf8_lossy(&out.stderr)))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Day<'a> {
    rig: &'a Rig,
    session: Option<Session>,
    timings: Vec<f64>,
    /// The same, for "Record and continue" (the next step's form opens with the view).
    continue_timings: Vec<f64>,
    before_correction: Option<String>,
    original_output: f64,
    server: Option<Server>,
}

impl Day<'_> {
    fn first_run_asks_for_name_and_site(&mut self) -> Result<()> {
        self.session = Some(self.rig.launch()?);
        let s = self.session.as_ref().ok_or("the app is not running")?;
        s.wait("[data-testid=first-run]")?;
        self.rig.shot(s, "first-run")?;
        let name = s.wait("#name")?;
        s.keys(&name, ENTER)?;
        s.wait_text(".error-text", "enter your name")?;
        s.keys(&name, &format!("Ana Jensen{ENTER}"))?;
        s.wait("[data-testid=empty]")?;
        Ok(())
    }

    fn an_empty_database_says_how_to_begin(&mut self) -> Result<()> {
        let s = self.session.as_ref().ok_or("the app is not running")?;
        s.wait_text("[data-testid=empty]", "New campaign")?;
        s.wait_text("[data-testid=sync-state]", "Local only")?;
        self.rig.shot(s, "empty-list")
    }

    fn create_a_campaign(&mut self) -> Result<()> {
        let s = self.session.as_ref().ok_or("the app is not running")?;
        s.click_on("[data-testid=new-campaign]")?;
        fill_form(s, &sample().payload(EventType::CampaignCreated).ok_or("no payload")?)?;
        self.rig.shot(s, "new-campaign")?;
        submit_form(s)?;
        s.wait_text("[data-testid=campaign-code]", CODE)?;
        s.wait_text("[data-testid=next-step]", "Inbound Shipment")?;
        s.wait_text("[data-testid=pending]", "1 entry only on this laptop")?;
        Ok(())
    }

    fn home_shows_what_waits_for_the_site(&mut self) -> Result<()> {
        let s = self.session.as_ref().ok_or("the app is not running")?;
        s.click_on("[data-testid=back]")?;
        s.wait_text("[data-testid=home]", "Waiting for MBA")?;
        s.wait_text("[data-testid=home-summary]", "1 campaign")?;
        let row = s.wait_text("[data-testid=waiting-row]", CODE)?;
        if !row.contains("Inbound Shipment") || !row.contains("0 days") {
            return Err(format!("the waiting campaign should show its next step and days in stage: {row}"));
        }
        self.rig.shot(s, "home")?;
        // A stage card lists its campaigns: the list below filters on the stage's status.
        s.click_on("[data-testid=stage-count]:first-child button")?;
        s.wait_until("the list to filter on the chosen stage", || {
            let filter =
                s.script("return document.querySelector('[data-testid=status-filter]').value", json!([]))?;
            Ok((filter == json!("created")).then_some(()))
        })?;
        s.wait_text("[data-testid=campaign-table]", CODE)?;
        // The stall thresholds are the coordinator's; the store checks the range.
        s.click_on("[data-testid=stall-settings]")?;
        s.set_value("[data-testid=stall-created]", "0")?;
        s.click_on("[data-testid=stall-save]")?;
        s.wait_text("[data-testid=stall-form] .error-text", "from 1 to 365")?;
        self.rig.shot(s, "stall-settings")?;
        s.set_value("[data-testid=stall-created]", "10")?;
        s.click_on("[data-testid=stall-save]")?;
        wait_closed(s, "[data-testid=stall-form]")?;
        s.click_on("[data-testid=waiting-row] td strong")?;
        s.wait_text("[data-testid=campaign-code]", CODE)?;
        Ok(())
    }

    fn a_step_out_of_order_is_marked_before_typing(&mut self) -> Result<()> {
        let s = self.session.as_ref().ok_or("the app is not running")?;
        s.click_on("[data-testid=record-other]")?;
        s.set_value("#f-eventType", "GranulationCompleted")?;
        s.wait("#f-ticketNumber")?;
        // Said before anything is typed, in words, and nothing can be recorded.
        let message = s.wait_text("[data-testid=blocked-step]", "the next step is Inbound Shipment")?;
        if !message.contains("Granulation cannot be recorded yet: this campaign is at “Created”") {
            return Err(format!("the form should say why the step cannot be recorded: {message}"));
        }
        let disabled = s.script(
            "return document.querySelector('[data-testid=event-form] [data-testid=submit]').disabled",
            json!([]),
        )?;
        if disabled != json!(true) {
            return Err("a step that would be refused cannot be submitted".into());
        }
        let option = s.script(
            "return document.querySelector('#f-eventType option[value=GranulationCompleted]').textContent",
            json!([]),
        )?;
        if !option.as_str().unwrap_or_default().contains("not now") {
            return Err(format!("the step list should mark the step: {option}"));
        }
        self.rig.shot(s, "out-of-order")?;
        let field = s.wait("#f-ticketNumber")?;
        s.keys(&field, ESCAPE)?;
        wait_closed(s, "[data-testid=event-form]")?;
        s.wait_text("[data-testid=campaign-status]", "Created")?;
        Ok(())
    }

    fn a_bad_weight_is_refused_beside_its_field(&mut self) -> Result<()> {
        let s = self.session.as_ref().ok_or("the app is not running")?;
        let mut data = sample().payload(EventType::InboundShipmentRecorded).ok_or("no payload")?;
        let gross = data["grossWeightKg"].as_f64().unwrap_or(0.0);
        data["netWeightKg"] = json!(gross + 100.0);
        s.click_on("[data-testid=record-next]")?;
        fill_form(s, &data)?;
        submit_form(s)?;
        s.wait_text("[data-testid=field-error-netWeightKg]", "must not exceed the gross weight")?;
        self.rig.shot(s, "field-error")?;
        let field = s.wait("#f-netWeightKg")?;
        s.keys(&field, ESCAPE)?;
        wait_closed(s, "[data-testid=event-form]")?;
        s.wait_text("[data-testid=campaign-status]", "Created")?;
        Ok(())
    }

    /// The inbound shipment, then MBA's four process steps in a row with "Record and continue",
    /// each form starting from the last step's output weight.
    fn record_every_step_to_extrusion(&mut self) -> Result<()> {
        let s = self.session.as_ref().ok_or("the app is not running")?;
        record_next(s, EventType::InboundShipmentRecorded, &mut self.timings)?;
        let steps = &EventType::STEPS[2..=5];
        s.click_on("[data-testid=record-next]")?;
        let mut last_output: Option<f64> = None;
        for (i, &t) in steps.iter().enumerate() {
            s.wait_text(".dialog h2", &format!("Record {}", t.label()))?;
            if let Some(output) = last_output {
                let carried =
                    s.script("return document.querySelector('#f-startingWeightKg').value", json!([]))?;
                if carried.as_str().and_then(|v| v.parse::<f64>().ok()) != Some(output) {
                    return Err(format!(
                        "{t}: the starting weight should start at the last output {output}: {carried}"
                    ));
                }
            }
            let data = sample().payload(t).ok_or("no sample payload")?;
            last_output = data["outputWeightKg"].as_f64();
            fill_form(s, &data)?;
            if i + 1 < steps.len() {
                s.script("delete document.body.dataset.lastActionMs", json!([]))?;
                s.click_on("[data-testid=event-form] [data-testid=submit-continue]")?;
                s.wait_text("[data-testid=saved]", &format!("Saved on this laptop: {}", t.label()))?;
                // Click → the view updated behind the next step's form, open with its defaults.
                let ms = s.wait_until("the view to update", || {
                    Ok(s.script("return document.body.dataset.lastActionMs || null", json!([]))?
                        .as_str()
                        .map(str::to_owned))
                })?;
                self.continue_timings.push(ms.parse().unwrap_or(f64::NAN));
            } else {
                // Extrusion is followed by ECHA's approval, not MBA's: no "continue" here.
                if s.find("[data-testid=submit-continue]")?.is_some() {
                    return Err(
                        "after extrusion the next step is ECHA's; the form should not offer to continue"
                            .into(),
                    );
                }
                submit_form(s)?;
                wait_closed(s, "[data-testid=event-form]")?;
            }
        }
        s.wait_text("[data-testid=campaign-status]", "Extrusion complete")?;
        s.wait_text("[data-testid=gate-note]", "ECHA testing must approve")?;
        self.rig.shot(s, "campaign")?;
        Ok(())
    }

    fn a_corrected_weight_changes_the_view_and_keeps_the_original(&mut self) -> Result<()> {
        let s = self.session.as_ref().ok_or("the app is not running")?;
        let out = sample().payload(EventType::ExtrusionCompleted).ok_or("no payload")?["outputWeightKg"]
            .as_f64()
            .ok_or("no output weight")?;
        self.original_output = out;
        s.wait_text("[data-testid=current-weight]", &kg(out))?;
        // The instant before the correction, for "as of" (local wall time, to the second).
        self.before_correction = s
            .script(
                "const d = new Date(); const p = (n) => String(n).padStart(2, '0'); \
                 return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;",
                json!([]),
            )?
            .as_str()
            .map(str::to_owned);
        std::thread::sleep(Duration::from_millis(1100));
        s.click_on("[data-testid=tab-history]")?;
        s.wait("[data-testid=history-entry][data-event-type=ExtrusionCompleted] [data-testid=correct]")?;
        // The pencil beside the output weight opens the correction on that field.
        s.click_on(
            "[data-testid=history-entry][data-event-type=ExtrusionCompleted] [data-testid=correct-field-outputWeightKg]",
        )?;
        s.wait_text("[data-testid=correct-was-outputWeightKg]", &kg(out))?;
        let focused = s.script("return document.activeElement && document.activeElement.id", json!([]))?;
        if focused != json!("c-outputWeightKg") {
            return Err(format!("the form should open on the clicked field, focus is on {focused}"));
        }
        // One correction changes two fields with one reason.
        // Up, a little: the campaign's later steps take in no more than it then weighs.
        let fixed = out + 10.0;
        let now = s.wait("[data-testid=correct-now-outputWeightKg]")?;
        s.keys(&now, &fixed.to_string())?;
        let batch = s.wait("[data-testid=correct-now-batchNumber]")?;
        s.keys(&batch, "B-4R")?;
        let reason = s.wait("[data-testid=correct-reason]")?;
        s.keys(&reason, "Scale recalibrated: batch re-weighed")?;
        self.rig.shot(s, "correct")?;
        s.keys(&reason, ENTER)?;
        wait_closed(s, "[data-testid=correct-form]")?;
        s.wait_text("[data-testid=current-weight]", &kg(fixed))?;
        let shown = s.wait_text(
            "[data-testid=history-entry][data-event-type=ExtrusionCompleted] [data-testid=value-outputWeightKg]",
            &kg(fixed),
        )?;
        if !shown.contains(&kg(out)) {
            return Err(format!("the original value should stay visible: {shown}"));
        }
        let correction =
            s.wait_text("[data-testid=history-entry][data-event-type=EventCorrected]", "Scale recalibrated")?;
        if !correction.contains("B-4R") {
            return Err(format!("the one correction should change both fields: {correction}"));
        }
        self.rig.shot(s, "history")?;
        s.click_on("[data-testid=tab-balance]")?;
        s.wait_until("the chart to show the corrected weight", || {
            for e in s.find_all("[data-testid=chart-value]")? {
                if s.text(&e)? == kg(fixed) {
                    return Ok(Some(()));
                }
            }
            Ok(None)
        })?;
        self.rig.shot(s, "mass-balance")
    }

    fn as_of_shows_the_campaign_before_the_correction(&mut self) -> Result<()> {
        let s = self.session.as_ref().ok_or("the app is not running")?;
        let at = self.before_correction.clone().ok_or("no instant before the correction")?;
        s.set_value("[data-testid=asof-input]", &at)?;
        s.click_on("[data-testid=asof-apply]")?;
        s.wait("[data-testid=asof-banner]")?;
        s.wait_text("[data-testid=current-weight]", &kg(self.original_output))?;
        if s.find("[data-testid=record-next]")?.is_some() {
            return Err("nothing can be recorded while viewing the past".into());
        }
        self.rig.shot(s, "as-of")?;
        s.click_on("[data-testid=asof-clear]")?;
        s.wait_text("[data-testid=current-weight]", &kg(self.original_output + 10.0))?;
        Ok(())
    }

    /// issue 26: the correction form is open on the extrusion's batch number when another
    /// coordinator corrects it (on another laptop, arriving as sync brings it). The correction
    /// typed on the real keyboard is refused, in words that say who changed it, to what and when,
    /// and nothing is recorded; Escape closes the form.
    fn a_correction_of_a_value_changed_meanwhile_is_refused_in_words(&mut self) -> Result<()> {
        let s = self.session.as_ref().ok_or("the app is not running")?;
        s.click_on("[data-testid=tab-history]")?;
        let entry = "[data-testid=history-entry][data-event-type=ExtrusionCompleted]";
        s.click_on(&format!("{entry} [data-testid=correct-field-batchNumber]"))?;
        s.wait_text("[data-testid=correct-was-batchNumber]", "B-4R")?;
        // Meanwhile, on the same campaign, Mette Holm's correction arrives.
        let db = self.rig.dir.path().join("data/pluto.sqlite3");
        let mut store = pluto_store::Store::open(&db).map_err(|e| e.to_string())?;
        let id = campaign_id(&store, CODE)?;
        let extrusion = store
            .history(&id)
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|e| e.event_type == EventType::ExtrusionCompleted)
            .ok_or("no extrusion")?;
        let mette = pluto_domain::UserId::parse("usr_mette.holm").map_err(|e| e.to_string())?;
        let change = [("batchNumber".to_owned(), "B-4S".to_owned())];
        let seen = pluto_store::Seen::default();
        store
            .correct(&id, &extrusion.id, &change, "Label re-read", mette, seen)
            .map_err(|e| e.to_string())?;
        let count =
            |store: &pluto_store::Store| store.history(&id).map(|h| h.len()).map_err(|e| e.to_string());
        let before = count(&store)?;
        let keyboard = Keyboard::on(self.rig.display, &db)?;
        keyboard.type_into(s, "[data-testid=correct-now-batchNumber]", "B-4T")?;
        keyboard.type_into(s, "[data-testid=correct-reason]", "Typo")?;
        xdotool(self.rig.display, &["key", "Return"])?;
        let refusal = s.wait_text("[data-testid=correct-banner]", "while you were typing")?;
        if !refusal.contains("Mette Holm corrected Extrusion's batch number to B-4S at ") {
            return Err(format!("the refusal should say who changed what, to what and when: {refusal}"));
        }
        if count(&store)? != before {
            return Err("a refused correction recorded something".into());
        }
        // The form now shows what the entry holds.
        s.wait_text("[data-testid=correct-was-batchNumber]", "B-4S")?;
        self.rig.shot(s, "correction-changed-meanwhile")?;
        xdotool(self.rig.display, &["key", "Escape"])?;
        wait_closed(s, "[data-testid=correct-form]")?;
        s.wait_text(&format!("{entry} [data-testid=value-batchNumber]"), "B-4S")?;
        s.click_on("[data-testid=tab-balance]")?;
        Ok(())
    }

    /// Two steps arrive twice from another laptop (as sync brings them): the duplicates are
    /// anomalies. One is compared side by side and voided, the other reviewed with a note; the
    /// anomalies tab is reached with the arrow keys.
    fn mistakes_are_voided_and_reviewed(&mut self) -> Result<()> {
        let s = self.session.as_ref().ok_or("the app is not running")?;
        let db = self.rig.dir.path().join("data/pluto.sqlite3");
        let mut store = pluto_store::Store::open(&db).map_err(|e| e.to_string())?;
        let id = campaign_id(&store, CODE)?;
        let history = store.history(&id).map_err(|e| e.to_string())?;
        let device = pluto_domain::DeviceId::generate();
        let mut duplicates = Vec::new();
        for (n, t) in
            [EventType::GranulationCompleted, EventType::MetalRemovalCompleted].into_iter().enumerate()
        {
            let original = history.iter().find(|e| e.event_type == t).ok_or("no step to duplicate")?;
            let at = pluto_domain::Timestamp::now();
            std::thread::sleep(Duration::from_millis(5));
            duplicates.push(pluto_domain::Event {
                id: pluto_domain::EventId::generate(at.system_time()),
                device_id: device.clone(),
                device_seq: n as u64 + 1,
                created_at: at,
                user_id: pluto_domain::UserId::parse("usr_søren.østergaard-a1b2c3")
                    .map_err(|e| e.to_string())?,
                ..original.clone()
            });
        }
        store.apply_remote(&duplicates).map_err(|e| e.to_string())?;
        drop(store);
        open_from_list(s, CODE)?;
        s.wait_text("[data-testid=anomaly-badge]", "2")?;
        // The tabs follow the arrow keys.
        let first_tab = s.wait("[data-testid=tab-balance]")?;
        s.click(&first_tab)?;
        s.keys(&first_tab, "\u{E014}")?;
        s.wait("[data-testid=tab-history][aria-selected=true]")?;
        let history_tab = s.wait("[data-testid=tab-history]")?;
        s.keys(&history_tab, "\u{E014}")?;
        s.wait("[data-testid=tab-anomalies][aria-selected=true]")?;
        s.wait_text("[data-testid=anomalies]", "Duplicate step")?;
        self.rig.shot(s, "anomalies")?;
        s.click_on("[data-testid=anomaly][data-kind=duplicate_step] [data-testid=compare-open]")?;
        s.wait_text("[data-testid=compare]", "Both entries hold the same values")?;
        self.rig.shot(s, "compare-duplicates")?;
        s.click_on("[data-testid=compare-void-second]")?;
        let reason = s.wait("[data-testid=void-text]")?;
        s.keys(&reason, "Sent twice from the weighbridge laptop")?;
        self.rig.shot(s, "void")?;
        s.click_on("[data-testid=void-submit]")?;
        wait_closed(s, "[data-testid=void-form]")?;
        s.wait_text("[data-testid=saved]", "Granulation voided")?;
        s.wait_text("[data-testid=anomaly-badge]", "1")?;
        s.click_on("[data-testid=anomaly] [data-testid=review-open]")?;
        let note = s.wait("[data-testid=review-text]")?;
        s.click_on("[data-testid=review-submit]")?;
        s.wait_text("[data-testid=review-form] .error-text", "required")?;
        s.keys(&note, "Same ticket M-17; the second copy changes nothing")?;
        s.click_on("[data-testid=review-submit]")?;
        wait_closed(s, "[data-testid=review-form]")?;
        s.wait_text("[data-testid=anomaly-review]", "Reviewed by Ana Jensen")?;
        s.wait_until("the badge to clear", || {
            Ok(s.find("[data-testid=anomaly-badge]")?.is_none().then_some(()))
        })?;
        s.click_on("[data-testid=tab-history]")?;
        s.wait_text(
            "[data-testid=history-entry][data-event-type=GranulationCompleted] [data-testid=voided-note]",
            "Sent twice",
        )?;
        s.wait_text("[data-testid=void-entry]", "Voids Granulation")?;
        s.wait_text("[data-testid=review-entry]", "Same ticket M-17")?;
        // The granulation that counts has later steps after it: its void is marked unavailable,
        // and pressing it says why, before any reason is typed; no void form opens.
        let counted = "[data-testid=history-entry][data-event-type=GranulationCompleted] [data-testid=void]";
        s.wait(&format!("{counted}[aria-disabled=true]"))?;
        s.click_on(counted)?;
        s.wait_text("[data-testid=void-refused]", "void the later steps first")?;
        if s.find("[data-testid=void-form]")?.is_some() {
            return Err("a void the laptop would refuse opened its form".into());
        }
        self.rig.shot(s, "history-voided")?;
        Ok(())
    }

    /// Ctrl+P prints, Alt+← goes back, Ctrl+N starts a new campaign; and the window works at
    /// 1024×640, the smallest laptop screen in use.
    fn keyboard_shortcuts_and_a_small_window(&mut self) -> Result<()> {
        let s = self.session.as_ref().ok_or("the app is not running")?;
        open_from_list(s, CODE)?;
        let body = s.wait("body")?;
        s.keys(&body, "\u{E009}p\u{E000}")?;
        s.wait_text("[data-testid=custody-print]", "Chain of custody")?;
        s.click_on("[data-testid=custody-print] button")?;
        s.wait("[data-testid=campaign-view]")?;
        let body = s.wait("body")?;
        s.keys(&body, "\u{E00A}\u{E012}\u{E000}")?;
        s.wait("[data-testid=campaign-table]")?;
        let body = s.wait("body")?;
        s.keys(&body, "\u{E009}n\u{E000}")?;
        s.wait_text(".dialog h2", "New campaign")?;
        let code = s.wait("#f-legoCampaignCode")?;
        s.keys(&code, ESCAPE)?;
        wait_closed(s, "[data-testid=event-form]")?;
        s.resize(1024, 640)?;
        s.wait_until("the window to be 1024 wide", || {
            Ok((s.script("return window.innerWidth", json!([]))?.as_f64().unwrap_or(0.0) <= 1024.0)
                .then_some(()))
        })?;
        for (screen, open) in [("small-list", None), ("small-campaign", Some(CODE))] {
            if let Some(code) = open {
                open_from_list(s, code)?;
            }
            let overflow = s.script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
                json!([]),
            )?;
            if overflow.as_f64().unwrap_or(0.0) > 0.0 {
                return Err(format!("{screen}: the page scrolls sideways by {overflow} px at 1024×640"));
            }
            self.rig.shot(s, screen)?;
        }
        s.resize(1280, 720)?;
        s.click_on("[data-testid=back]")?;
        Ok(())
    }

    /// issue 28: a morning at MBA with the keyboard alone, on the X display as a person types
    /// (WebDriver only reads): Ctrl+K, a scanner's burst of the campaign's code and Enter open
    /// the campaign with the cursor on recording its next step; Enter opens the form with the
    /// cursor in its first empty required field; four steps are recorded with Ctrl+Shift+Enter,
    /// each next form again starting in the field the task starts with; the fifth opens ready
    /// too, and Escape twice leaves it and the campaign. Every value typed is stored in the field
    /// it was typed for, and each pre-filled starting weight is stored as it was offered.
    fn the_morning_by_keyboard_alone(&mut self) -> Result<()> {
        const KB_CODE: &str = "LEGO-KB-0007";
        let s = self.session.as_ref().ok_or("the app is not running")?;
        let mut sample = SampleCampaign::numbered(7);
        sample.code = KB_CODE.to_owned();
        // Yesterday's campaign, created at LEGO.
        s.click_on("[data-testid=new-campaign]")?;
        fill_form(s, &sample.payload(EventType::CampaignCreated).ok_or("no payload")?)?;
        submit_form(s)?;
        s.wait_text("[data-testid=campaign-code]", KB_CODE)?;
        s.click_on("[data-testid=back]")?;
        s.wait("[data-testid=campaign-table]")?;

        let db = self.rig.dir.path().join("data/pluto.sqlite3");
        let keyboard = Keyboard::on(self.rig.display, &db)?;
        let key = |k: &str| xdotool(self.rig.display, &["key", "--clearmodifiers", k]).map(drop);
        let focused = || -> Result<String> {
            Ok(s.script(
                "const e = document.activeElement; return e ? (e.id || e.dataset.testid || e.tagName) : ''",
                json!([]),
            )?
            .as_str()
            .unwrap_or_default()
            .to_owned())
        };
        key("ctrl+k")?;
        s.wait("[data-testid=find-input]")?;
        // A barcode scanner: the code in a burst, 5 ms a key, then its Enter at once (xdotool's
        // typed newline is a Linefeed key, which no scanner sends).
        xdotool(self.rig.display, &["type", "--delay", "5", "--", KB_CODE])?;
        key("Return")?;
        s.wait_text("[data-testid=campaign-code]", KB_CODE)?;
        s.wait_until("the cursor on recording the next step", || {
            Ok((focused()? == "record-next").then_some(()))
        })?;
        key("Return")?;
        let steps = &EventType::STEPS[1..=5];
        let mut offered_start: Option<String> = None;
        for (i, &t) in steps.iter().enumerate() {
            s.wait_text(".dialog h2", &format!("Record {}", t.label()))?;
            let data = sample.payload(t).ok_or("no sample payload")?;
            // The fields to type: the required ones the form leaves empty, in its order.
            let mut typed = Vec::new();
            for field in t.fields() {
                let css = format!("#f-{}", field.name);
                let value =
                    s.script("return document.querySelector(arguments[0])?.value ?? null", json!([css]))?;
                if field.name == "startingWeightKg" {
                    offered_start = value.as_str().map(str::to_owned);
                }
                if field.required && value.as_str() == Some("") {
                    let text = match &data[field.name] {
                        Value::String(t) => t.clone(),
                        other => other.to_string(),
                    };
                    typed.push((field.name, text));
                }
            }
            let first = typed.first().map(|(name, _)| format!("f-{name}")).ok_or("nothing to type")?;
            s.wait_until(&format!("{t}: the cursor in {first}"), || Ok((focused()? == first).then_some(())))?;
            for (n, (name, text)) in typed.iter().enumerate() {
                let id = format!("f-{name}");
                let mut tabs = 0;
                while focused()? != id {
                    if n == 0 || tabs == 12 {
                        return Err(format!("{t}: the cursor is in {} and not in {id}", focused()?));
                    }
                    key("Tab")?;
                    tabs += 1;
                }
                xdotool(self.rig.display, &["type", "--delay", "40", "--", text])?;
            }
            if i == steps.len() - 1 {
                // The fifth step's form is ready too; Escape leaves it. "Saved" belongs to this
                // campaign: another one found from here does not show it. Escape leaves that too.
                key("Escape")?;
                wait_closed(s, "[data-testid=event-form]")?;
                s.wait_text("[data-testid=saved]", "Saved on this laptop")?;
                key("ctrl+k")?;
                s.wait("[data-testid=find-input]")?;
                xdotool(self.rig.display, &["type", "--delay", "5", "--", CODE])?;
                key("Return")?;
                s.wait_text("[data-testid=campaign-code]", CODE)?;
                let saved = s.wait("[data-testid=saved]")?;
                if !s.text(&saved)?.trim().is_empty() {
                    return Err(format!("{KB_CODE}'s \"Saved\" followed to {CODE}"));
                }
                key("Escape")?;
                s.wait("[data-testid=campaign-table]")?;
                break;
            }
            let before = keyboard.recorded()?;
            key("ctrl+shift+Return")?;
            // The dialog stays open on the next step: the save is noticed in the database.
            s.wait_until(&format!("{t} to be saved"), || Ok((keyboard.recorded()? > before).then_some(())))?;
            let store = pluto_store::Store::open_reader(&db).map_err(|e| e.to_string())?;
            let id = campaign_id(&store, KB_CODE)?;
            let history = store.history(&id).map_err(|e| e.to_string())?;
            let stored =
                history.iter().rev().find(|e| e.event_type == t).ok_or(format!("{t} is not stored"))?;
            for (name, text) in &typed {
                let value = &stored.data[*name];
                let same = value.as_str() == Some(text.as_str())
                    || value.as_f64().zip(text.parse::<f64>().ok()).is_some_and(|(a, b)| a == b);
                if !same {
                    return Err(format!("{t}: {name} was typed as {text:?} but stored as {value}"));
                }
            }
            if let Some(offered) = offered_start.take() {
                let stored_start = stored.data["startingWeightKg"].as_f64();
                if stored_start != offered.replace(',', "").parse::<f64>().ok() {
                    return Err(format!(
                        "{t}: the starting weight was offered as {offered} but stored as {stored_start:?}"
                    ));
                }
            }
        }
        Ok(())
    }

    fn record_the_rest_to_completed(&mut self) -> Result<()> {
        for &t in &EventType::STEPS[6..] {
            record_next(self.session.as_ref().ok_or("the app is not running")?, t, &mut self.timings)?;
        }
        let s = self.session.as_ref().ok_or("the app is not running")?;
        s.wait_text("[data-testid=campaign-status]", "Completed")?;
        if s.find("[data-testid=record-next]")?.is_some() {
            return Err("a completed campaign offers no next step".into());
        }
        Ok(())
    }

    fn export_writes_the_chain_of_custody(&mut self) -> Result<()> {
        let s = self.session.as_ref().ok_or("the app is not running")?;
        // For Danish Excel: semicolons, decimal commas, a byte-order mark.
        s.click_on("[data-testid=export-csv]")?;
        s.click_on("[data-testid=csv-semicolon]")?;
        self.rig.shot(s, "export-csv")?;
        s.click_on("[data-testid=csv-save]")?;
        self.rig.accept_save_dialog("Save the chain-of-custody record as CSV")?;
        let name = format!("custody-LEGO-2026-E2E-{}.csv", chrono::Local::now().format("%Y-%m-%d"));
        s.wait_text("[data-testid=notice]", &name)?;
        s.wait("[data-testid=show-in-folder]")?;
        let csv = std::fs::read_to_string(self.rig.dir.path().join("exports").join(&name))
            .map_err(|e| format!("the export file: {e}"))?;
        if !csv.starts_with('\u{feff}') || !csv.contains(";outputWeightKg;") {
            return Err(format!(
                "the CSV is not for Danish Excel: {}",
                csv.lines().take(2).collect::<Vec<_>>().join(" / ")
            ));
        }
        for needle in ["Scale recalibrated", "ECHAApprovalRecorded", "outputWeightKg", "usr_ana.jensen-"] {
            if !csv.contains(needle) {
                return Err(format!("the export lacks {needle:?}"));
            }
        }
        // The audit export: the campaign's entries and a signed manifest, which verifies.
        s.click_on("[data-testid=export-audit]")?;
        self.rig.accept_save_dialog("Save the audit export")?;
        let notice = s.wait_text("[data-testid=notice]", "Audit export of 18 entries")?;
        let file = self
            .rig
            .dir
            .path()
            .join("exports")
            .join(format!("audit-LEGO-2026-E2E-{}.jsonl", chrono::Local::now().format("%Y-%m-%d")));
        let bytes = std::fs::read(&file).map_err(|e| format!("the audit export {}: {e}", file.display()))?;
        let verification = pluto_reports::audit::verify(bytes.as_slice()).map_err(|e| e.to_string())?;
        if !verification.is_intact() || !notice.contains(&verification.manifest.public_key) {
            return Err(format!("the audit export does not verify: {:?} ({notice})", verification.findings));
        }
        s.click_on("[data-testid=print]")?;
        s.wait_text("[data-testid=custody-print]", "Chain of custody")?;
        self.rig.shot(s, "printable-record")?;
        s.click_on("[data-testid=custody-print] button")?;
        s.wait("[data-testid=campaign-view]")?;
        Ok(())
    }

    fn files_are_saved_where_the_user_says(&mut self) -> Result<()> {
        let s = self.session.as_ref().ok_or("the app is not running")?;
        let today = chrono::Local::now().format("%Y-%m-%d");
        let exports = self.rig.dir.path().join("exports");
        // The custody record as a PDF: the save dialog opens in the export folder with a dated
        // name; the coordinator accepts it.
        s.click_on("[data-testid=save-custody-pdf]")?;
        self.rig.accept_save_dialog("Save the chain-of-custody record as a PDF")?;
        let pdf = exports.join(format!("custody-{CODE}-{today}.pdf"));
        s.wait_text("[data-testid=notice]", &pdf.display().to_string())?;
        s.wait("[data-testid=show-in-folder]")?;
        let text = pdf_text(&pdf)?;
        for needle in
            [&format!("Chain-of-custody record: {CODE}"), "Ana Jensen", "Scale recalibrated", "page 1 of"]
        {
            if !text.contains(needle) {
                return Err(format!("the custody PDF lacks {needle:?}"));
            }
        }
        // And as an Excel workbook.
        s.click_on("[data-testid=save-custody-xlsx]")?;
        self.rig.accept_save_dialog("Save the chain-of-custody record as an Excel workbook")?;
        let xlsx = exports.join(format!("custody-{CODE}-{today}.xlsx"));
        s.wait_text("[data-testid=notice]", &xlsx.display().to_string())?;
        workbook(&xlsx)?;

        // The period report across campaigns, on screen, then as Excel and PDF.
        s.click_on("[data-testid=reports-open]")?;
        s.wait("[data-testid=report-table]")?;
        s.set_value("[data-testid=report-from]", "2026-01-01")?;
        s.set_value("[data-testid=report-to]", "2026-12-31")?;
        s.wait_text("[data-testid=report-table]", "Made into parts")?;
        let check = s.wait_text("[data-testid=report-check]", "Balance check")?;
        if !check.ends_with(" 0 kg") {
            return Err(format!("the balance does not check: {check}"));
        }
        s.wait_text("[data-testid=report-yields]", "Granulation")?;
        s.click_on("[data-testid=drill]")?;
        s.wait_text("[data-testid=drill-list]", CODE)?;
        self.rig.shot(s, "period-report")?;

        s.click_on("[data-testid=save-xlsx]")?;
        self.rig.accept_save_dialog("Save the mass balance as an Excel workbook")?;
        let xlsx = exports.join("mass-balance-2026-01-01-to-2026-12-31.xlsx");
        s.wait_text("[data-testid=report-saved]", &xlsx.display().to_string())?;
        workbook(&xlsx)?;
        s.click_on("[data-testid=save-pdf]")?;
        self.rig.accept_save_dialog("Save the mass balance as a PDF")?;
        let pdf = exports.join("mass-balance-2026-01-01-to-2026-12-31.pdf");
        s.wait_text("[data-testid=report-saved]", &pdf.display().to_string())?;
        let text = pdf_text(&pdf)?;
        for needle in ["Period mass balance", CODE, "Made into parts", "Ana Jensen"] {
            if !text.contains(needle) {
                return Err(format!("the period PDF lacks {needle:?}"));
            }
        }
        // The audit export of the campaigns behind the figures.
        s.click_on("[data-testid=save-audit]")?;
        self.rig.accept_save_dialog("Save the audit export of the report's campaigns")?;
        let audit = exports.join("audit-2026-01-01-to-2026-12-31.jsonl");
        s.wait_text("[data-testid=report-saved]", &audit.display().to_string())?;
        let bytes =
            std::fs::read(&audit).map_err(|e| format!("the audit export {}: {e}", audit.display()))?;
        let verification = pluto_reports::audit::verify(bytes.as_slice()).map_err(|e| e.to_string())?;
        if !verification.is_intact()
            || verification.manifest.selection.campaigns.as_ref().is_none_or(Vec::is_empty)
        {
            return Err(format!("the period's audit export does not verify: {:?}", verification.findings));
        }
        // A quarter that closed before its steps were typed says so: the campaign's steps state
        // days in 2026-Q1 and were recorded today.
        s.set_value("[data-testid=report-from]", "2026-01-01")?;
        s.set_value("[data-testid=report-to]", "2026-03-31")?;
        let restated = s.wait_text("[data-testid=report-restated]", "Granulation recorded late on")?;
        if !restated.contains(CODE) || !restated.contains("Inbound Shipment recorded late on") {
            return Err(format!("Q1 should list the steps recorded after it closed: {restated}"));
        }
        self.rig.shot(s, "period-restated")?;
        s.click_on("[data-testid=reports-back]")?;
        s.wait("[data-testid=campaign-row]")?;
        // The campaign list as it is filtered, as an Excel workbook.
        s.click_on("[data-testid=save-list-xlsx]")?;
        self.rig.accept_save_dialog("Save the campaign list as an Excel workbook")?;
        let list = exports.join(format!("campaigns-{today}.xlsx"));
        s.wait_text("[data-testid=notice]", &list.display().to_string())?;
        workbook(&list)?;
        open_from_list(s, CODE)
    }

    fn a_restart_finds_everything_still_there(&mut self) -> Result<()> {
        if let Some(s) = self.session.take() {
            s.quit()?;
        }
        self.session = Some(self.rig.launch()?);
        let s = self.session.as_ref().ok_or("the app is not running")?;
        s.wait("[data-testid=campaign-row]")?;
        if s.find("[data-testid=first-run]")?.is_some() {
            return Err("the profile was forgotten".into());
        }
        s.wait_text("[data-testid=campaign-table]", CODE)?;
        s.wait_text("[data-testid=campaign-table]", "Completed")?;
        s.wait_text("[data-testid=pending]", "16 entries only on this laptop")?;
        s.click_on("[data-testid=campaign-row] td strong")?;
        s.wait_text("[data-testid=campaign-status]", "Completed")?;
        s.wait_text("[data-testid=current-weight]", "kg")?;
        s.click_on("[data-testid=tab-history]")?;
        s.wait_any_text("[data-testid=history-entry][data-event-type=EventCorrected]", "Scale recalibrated")?;
        s.click_on("[data-testid=back]")?;
        Ok(())
    }

    /// Keyboard only: Ctrl+K, the bag's tracking reference as a scanner types it, Enter.
    fn ctrl_k_finds_a_campaign_by_a_tracking_ref(&mut self) -> Result<()> {
        let s = self.session.as_ref().ok_or("the app is not running")?;
        let tracking = sample().payload(EventType::InboundShipmentRecorded).ok_or("no payload")?
            ["trackingRef"]
            .as_str()
            .ok_or("no tracking ref")?
            .to_owned();
        let list = s.wait("[data-testid=search]")?;
        s.keys(&list, CTRL_K)?;
        let input = s.wait("[data-testid=find-input]")?;
        s.keys(&input, &tracking.to_lowercase())?;
        let hit = s.wait_text("[data-testid=find-hit]", CODE)?;
        if !hit.contains(&format!("Tracking reference: {tracking}")) {
            return Err(format!("the hit should show where it matched: {hit}"));
        }
        self.rig.shot(s, "find")?;
        s.keys(&input, ENTER)?;
        s.wait_text("[data-testid=campaign-code]", CODE)?;
        wait_closed(s, "[data-testid=find]")?;
        s.click_on("[data-testid=back]")?;
        Ok(())
    }

    /// Another coordinator takes over the laptop: the header names them, and back.
    fn the_name_on_the_laptop_can_be_changed(&mut self) -> Result<()> {
        let s = self.session.as_ref().ok_or("the app is not running")?;
        for name in ["Søren Østergaard", "Ana Jensen"] {
            s.click_on("[data-testid=profile]")?;
            s.set_value("#name", "")?;
            let input = s.wait("#name")?;
            s.keys(&input, name)?;
            s.wait_text("[data-testid=renamed-note]", "carry the new name")?;
            s.keys(&input, ENTER)?;
            wait_closed(s, "[data-testid=profile-form]")?;
            s.wait_text("[data-testid=profile]", &format!("{name} · MBA"))?;
        }
        Ok(())
    }

    fn training_mode_is_separate_and_marked(&mut self) -> Result<()> {
        let s = self.session.as_ref().ok_or("the app is not running")?;
        s.click_on("[data-testid=training-toggle]")?;
        s.wait_text("[data-testid=training-flag]", "TRAINING")?;
        s.wait_text("[data-testid=list-count]", "of 24")?;
        self.rig.shot(s, "campaign-list")?;
        s.click_on(".badge.anomaly")?;
        s.click_on("[data-testid=tab-anomalies]")?;
        s.wait_text("[data-testid=anomalies]", "What to do")?;
        self.rig.shot(s, "anomalies")?;
        s.click_on("[data-testid=back]")?;
        s.click_on("[data-testid=training-toggle]")?;
        wait_closed(s, "[data-testid=training-flag]")?;
        // The day's campaign and the one the keyboard's morning created.
        s.wait_text("[data-testid=list-count]", "1–2 of 2")?;
        Ok(())
    }

    fn sync_sends_everything_in_the_background(&mut self) -> Result<()> {
        let server = self.server.insert(Server::start(self.rig.dir.path())?);
        let s = self.session.as_ref().ok_or("the app is not running")?;
        s.wait_text("[data-testid=sync-state]", "Local only")?;
        s.click_on("[data-testid=sync-state]")?;
        let device = s.text(&s.wait("[data-testid=device-id]")?)?;
        // The audit key the exports name (44 characters of base64).
        let key = s.wait_text("[data-testid=audit-key]", "=")?;
        if key.trim().len() != 44 {
            return Err(format!("the audit key shown is {key:?}"));
        }
        let token = server.token(device.trim())?;
        let url = s.wait("[data-testid=server-url]")?;
        s.keys(&url, "not a url")?;
        let secret = s.wait("[data-testid=server-token]")?;
        s.keys(&secret, &token)?;
        s.click_on("[data-testid=sync-save]")?;
        s.wait_text("[data-testid=sync-form] .error-text", "not valid")?;
        s.set_value("[data-testid=server-url]", "")?;
        s.keys(&url, &server.url)?;
        self.rig.shot(s, "sync-settings")?;
        s.keys(&secret, ENTER)?;
        wait_closed(s, "[data-testid=sync-form]")?;
        s.wait_text("[data-testid=sync-state]", "Online")?;
        s.wait_text("[data-testid=pending]", "All on the server")?;
        s.wait_until("the unsynced marker to go", || Ok(s.find(".badge.unsynced")?.is_none().then_some(())))?;
        Ok(())
    }

    fn entry_goes_on_offline_and_syncs_when_the_server_returns(&mut self) -> Result<()> {
        let server = self.server.as_mut().ok_or("no server")?;
        let address = server.url.trim_start_matches("http://").to_owned();
        server.stop();
        let s = self.session.as_ref().ok_or("the app is not running")?;
        s.click_on("[data-testid=new-campaign]")?;
        let mut data = sample().payload(EventType::CampaignCreated).ok_or("no payload")?;
        data["legoCampaignCode"] = json!("LEGO-2026-OFFLINE");
        fill_form(s, &data)?;
        submit_form(s)?;
        s.wait_text("[data-testid=campaign-code]", "LEGO-2026-OFFLINE")?;
        s.wait_text("[data-testid=sync-state]", "Offline")?;
        // Why, in words beside it, not only in a tooltip in the network library's.
        let reason = s.wait_until("the offline reason", || {
            let text = s.script(
                "return document.querySelector('[data-testid=sync-reason]')?.textContent ?? ''",
                json!([]),
            )?;
            Ok(text.as_str().filter(|t| t.starts_with("nothing answers at that address")).map(str::to_owned))
        })?;
        if reason.contains("os error") {
            return Err(format!("the offline reason speaks the network library's words: {reason}"));
        }
        s.wait_text("[data-testid=pending]", "1 entry only on this laptop")?;
        self.rig.shot(s, "offline")?;
        server.serve(&address)?;
        s.wait_text("[data-testid=sync-state]", "Online")?;
        s.wait_text("[data-testid=pending]", "All on the server")?;
        Ok(())
    }

    /// The offline campaign gets an inbound shipment and 98 corrections from a second
    /// connection to the same file (as the `pluto` command would add them); then the next step
    /// is recorded in the window and the time from click to updated view is reported.
    fn a_step_on_a_campaign_of_100_events(&mut self) -> Result<()> {
        let s = self.session.as_ref().ok_or("the app is not running")?;
        let db = self.rig.dir.path().join("data/pluto.sqlite3");
        let mut store = pluto_store::Store::open(&db).map_err(|e| e.to_string())?;
        let user = pluto_domain::UserId::parse("usr_cli").map_err(|e| e.to_string())?;
        let id = campaign_id(&store, "LEGO-2026-OFFLINE")?;
        let inbound = sample().payload(EventType::InboundShipmentRecorded).ok_or("no payload")?;
        let draft = pluto_store::Draft::new(
            Some(id.clone()),
            EventType::InboundShipmentRecorded,
            inbound,
            user.clone(),
        );
        let target = store.record(draft).map_err(|e| e.to_string())?.event.id;
        for i in 0..98 {
            let history = store.history(&id).map_err(|e| e.to_string())?;
            let events: Vec<_> = history.iter().collect();
            let changes = [("trackingRef".to_owned(), json!(format!("DHL-REF-{i}")))];
            let data =
                pluto_domain::correction::build_correction(&events, &target, &changes, "carrier re-labelled")
                    .map_err(|e| e.to_string())?;
            store
                .record(pluto_store::Draft::new(
                    Some(id.clone()),
                    EventType::EventCorrected,
                    data,
                    user.clone(),
                ))
                .map_err(|e| e.to_string())?;
        }
        drop(store);
        open_from_list(s, "LEGO-2026-OFFLINE")?;
        s.wait_text("[data-testid=tab-history]", "History (100)")?;
        let keyboard = Keyboard::on(self.rig.display, &db)?;
        s.script(FRAME_GAPS, json!([]))?;
        let mut timings = Vec::new();
        keyboard.record_next(s, EventType::GranulationCompleted, &mut timings)?;
        s.wait_text("[data-testid=tab-history]", "History (101)")?;
        let gaps = frame_gaps(s)?;
        println!(
            "click to updated view on a campaign of 100 events: {:.0} ms; no sync running, typed on the keyboard: {gaps}",
            timings[0]
        );
        Ok(())
    }

    /// An entry a newer Pluto recorded arrives on the offline campaign (as sync or an import
    /// would bring it): the list marks the campaign, and the campaign says in words that the
    /// entry is kept and that an update shows it.
    fn a_newer_plutos_entry_is_kept_and_explained(&mut self) -> Result<()> {
        let s = self.session.as_ref().ok_or("the app is not running")?;
        let db = self.rig.dir.path().join("data/pluto.sqlite3");
        let mut store = pluto_store::Store::open(&db).map_err(|e| e.to_string())?;
        let id = campaign_id(&store, "LEGO-2026-OFFLINE")?;
        let newer = json!({
            "id": "evt_01KBFX5V00000000000000000A", "streamType": "campaign", "streamId": id.as_str(),
            "eventType": "SampleRetained", "schemaVersion": 2, "data": {"sampleId": "S-17"},
            "userId": "usr_ana", "deviceId": "dev_01KBFX5V00000000000000000D", "deviceSeq": 1,
            "createdAt": "2026-11-30T09:00:00.000Z"
        });
        store.import(format!("{newer}\n").as_bytes()).map_err(|e| e.to_string())?;
        drop(store);
        s.click_on("[data-testid=back]")?;
        s.wait_text("[data-testid=newer-badge]", "newer entries: 1")?;
        open_from_list(s, "LEGO-2026-OFFLINE")?;
        s.wait_text("[data-testid=newer-note]", "recorded by a newer version of Pluto Tracker")?;
        s.wait_text("[data-testid=newer-note]", "update Pluto Tracker to see it in full")?;
        self.rig.shot(s, "newer-entry")?;
        Ok(())
    }

    /// The laptop is given an RGE laptop's token: after the next sync, the window refuses an MBA
    /// step at entry with the server's words, and records nothing.
    fn an_rge_laptop_is_refused_mba_steps_at_entry(&mut self) -> Result<()> {
        let server = self.server.as_ref().ok_or("no server")?;
        let s = self.session.as_ref().ok_or("the app is not running")?;
        // Everything this laptop recorded so far reached the server (with the administrator's
        // token it was recorded under).
        s.wait_text("[data-testid=pending]", "All on the server")?;
        let db = self.rig.dir.path().join("data/pluto.sqlite3");
        let store = pluto_store::Store::open(&db).map_err(|e| e.to_string())?;
        let refused = store.rejections().map_err(|e| e.to_string())?;
        if let Some(r) = refused.first() {
            return Err(format!(
                "the server refused {} of this laptop's entries, first {}: {:?} {}",
                refused.len(),
                r.event_id,
                r.field,
                r.message
            ));
        }
        drop(store);
        s.click_on("[data-testid=sync-state]")?;
        let device = s.text(&s.wait("[data-testid=device-id]")?)?;
        let token = server.token_for(device.trim(), "RGE", "site")?;
        s.set_value("[data-testid=server-token]", "")?;
        let secret = s.wait("[data-testid=server-token]")?;
        s.keys(&secret, &token)?;
        s.keys(&secret, ENTER)?;
        wait_closed(s, "[data-testid=sync-form]")?;
        s.wait_text("[data-testid=sync-state]", "Online")?;
        // The form says before anything is typed that the site may not record the step, and what
        // it may record; its Record buttons are off.
        s.click_on("[data-testid=record-next]")?;
        let refusal = s.wait_text("[data-testid=blocked-step]", "site RGE may not record Extrusion")?;
        if !refusal
            .contains("lets site RGE record Manufacturing Start, Manufacturing Complete, Return to LEGO")
        {
            return Err(format!("the refusal should say what the site may record: {refusal}"));
        }
        let disabled = s.script(
            "return document.querySelector('[data-testid=event-form] [data-testid=submit]').disabled",
            json!([]),
        )?;
        if disabled != json!(true) {
            return Err("Record should be off for a step the site may not record".into());
        }
        // Nothing to type: the cursor is on the way out.
        let focused = s.script("return document.activeElement?.dataset.testid ?? null", json!([]))?;
        if focused != json!("cancel") {
            return Err(format!("a refused step's form should start on Cancel, focus is on {focused}"));
        }
        self.rig.shot(s, "site-policy")?;
        let field = s.wait("#f-ticketNumber")?;
        s.keys(&field, ESCAPE)?;
        wait_closed(s, "[data-testid=event-form]")?;
        // MBA's entries are not RGE's to correct or void: marked so before anything is typed.
        s.click_on("[data-testid=tab-history]")?;
        s.wait("[data-testid=history-entry][data-event-type=GranulationCompleted] [data-testid=correct][aria-disabled=true]")?;
        s.click_on("[data-testid=tab-balance]")?;
        // Campaigns are LEGO's to create: "New campaign" says so instead of opening a form.
        s.click_on("[data-testid=back]")?;
        s.click_on("[data-testid=new-campaign]")?;
        s.wait_text("[data-testid=create-refused]", "campaigns are created at LEGO")?;
        if s.find("[data-testid=event-form]")?.is_some() {
            return Err("a creation the laptop would refuse opened its form".into());
        }
        open_from_list(s, "LEGO-2026-OFFLINE")?;
        // "Record another step" offers RGE's own steps first and opens on the first of them,
        // since the expected step (Extrusion) is MBA's.
        s.click_on("[data-testid=record-other]")?;
        s.wait("#f-eventType")?;
        let offered = s.script(
            "const select = document.querySelector('#f-eventType');
             const first = select.querySelector('optgroup');
             return [select.value, first.label, [...first.querySelectorAll('option')].map((o) => o.value)];",
            json!([]),
        )?;
        let expected = json!([
            "ManufacturingStarted",
            "RGE records",
            ["ManufacturingStarted", "ManufacturingCompleted", "ReturnToLEGORecorded"]
        ]);
        if offered != expected {
            return Err(format!("the step choice should start with RGE's steps: {offered}"));
        }
        let field = s.wait("#f-eventType")?;
        s.keys(&field, ESCAPE)?;
        wait_closed(s, "[data-testid=event-form]")?;
        // The history names the people, and the site the server confirms sent each entry.
        s.click_on("[data-testid=tab-history]")?;
        s.wait_any_text("[data-testid=recorded-by]", "Ana Jensen")?;
        s.wait_any_text("[data-testid=attested-site]", "laptop (confirmed by the server)")?;
        // A laptop that recorded before it learned the policy (here: the policy forgotten, as on a
        // laptop never synced) has its entry refused by the server; "Sync now" sends it at once
        // and the status bar opens the refused entries with the server's reason.
        let mut store = pluto_store::Store::open(&db).map_err(|e| e.to_string())?;
        store
            .connection()
            .execute("DELETE FROM meta WHERE key = 'sync_site_policy'", [])
            .map_err(|e| e.to_string())?;
        let user: String = store
            .connection()
            .query_row("SELECT user_id FROM events ORDER BY id LIMIT 1", [], |r| r.get(0))
            .map_err(|e| e.to_string())?;
        let user = pluto_domain::UserId::parse(&user).map_err(|e| e.to_string())?;
        let mut data = sample().payload(EventType::CampaignCreated).ok_or("no payload")?;
        data["legoCampaignCode"] = json!("LEGO-REFUSED-1");
        store
            .record(pluto_store::Draft::new(None, EventType::CampaignCreated, data, user))
            .map_err(|e| e.to_string())?;
        drop(store);
        s.click_on("[data-testid=sync-now]")?;
        // Red while the server refuses an entry, and no "All on the server".
        s.wait_text("[data-testid=sync-state]", "1 entry refused by the server")?;
        let state = s.wait("[data-testid=sync-state].tone-bad")?;
        if !s.text(&state)?.starts_with('✕') {
            return Err("the refused state should read ✕ in red".into());
        }
        s.wait_text("[data-testid=pending]", "everything else on the server")?;
        s.wait_text("[data-testid=refused]", "Show the refused entry")?;
        s.click_on("[data-testid=refused]")?;
        let listed = s.wait_text("[data-testid=refused-entry]", "LEGO-REFUSED-1")?;
        if !listed.contains("site RGE may not record Campaign Created")
            || !listed.contains("ask the site whose step it is")
        {
            return Err(format!("the refused entry should say why and what to do: {listed}"));
        }
        self.rig.shot(s, "refused")?;
        let close = s.wait("[data-testid=refused-list] .actions button")?;
        s.click(&close)?;
        wait_closed(s, "[data-testid=refused-list]")?;
        Ok(())
    }

    /// Another site's 100,000 events reach the server; entries go on in the window while the
    /// laptop pulls them, and the page measures the longest gap between two frames meanwhile
    /// (reported, like every timing here, not asserted).
    fn entry_goes_on_while_a_100000_event_pull_applies(&mut self) -> Result<()> {
        const EVENTS: usize = 100_000;
        let server = self.server.as_ref().ok_or("no server")?;
        let s = self.session.as_ref().ok_or("the app is not running")?;
        let first = store_as_server(&server.data, &other_sites_events(EVENTS))?;
        s.script(FRAME_GAPS, json!([]))?;
        let db = self.rig.dir.path().join("data/pluto.sqlite3");
        // How many of them the laptop holds, read from its sync cursor (one row): counting the
        // events would scan the log four times a second and take CPU from the window measured.
        let pulled = || -> Result<i64> {
            let conn = rusqlite::Connection::open(&db).map_err(|e| e.to_string())?;
            conn.busy_timeout(Duration::from_secs(10)).map_err(|e| e.to_string())?;
            let cursor: Option<String> = conn
                .query_row("SELECT value FROM meta WHERE key = 'sync_cursor'", [], |r| r.get(0))
                .optional()
                .map_err(|e| e.to_string())?;
            let cursor: i64 = cursor.map_or(Ok(0), |c| c.parse()).map_err(|e| format!("sync_cursor: {e}"))?;
            Ok((cursor - first + 1).clamp(0, EVENTS as i64))
        };
        // A new entry starts a sync at once, which pulls the 100,000 events; the next entry is
        // made while they are applied.
        let keyboard = Keyboard::on(self.rig.display, &db)?;
        let mut timings = Vec::new();
        s.script(GAP_PHASE, json!(["a bare input before the pull"]))?;
        type_into_a_bare_input(s, &keyboard)?;
        s.script(GAP_PHASE, json!(["the first entry"]))?;
        keyboard.record_next(s, EventType::MetalRemovalCompleted, &mut timings)?;
        s.script(GAP_PHASE, json!(["the second entry"]))?;
        keyboard.record_next(s, EventType::PolymerPurificationCompleted, &mut timings)?;
        let pulled_when_saved = pulled()?;
        s.wait_text("[data-testid=campaign-status]", "Purification complete")?;
        s.script(GAP_PHASE, json!(["a bare input during the pull"]))?;
        type_into_a_bare_input(s, &keyboard)?;
        let pulled_after_bare_input = pulled()?;
        s.script(GAP_PHASE, json!(["the rest of the pull"]))?;
        let started = Instant::now();
        while pulled()? < EVENTS as i64 {
            if started.elapsed() > Duration::from_secs(300) {
                return Err(format!("only {} of {EVENTS} events pulled after 5 minutes", pulled()?));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        // The views reload when the pass ends, and again when the next one sends the second
        // entry: measured too, until the status bar says nothing waits.
        s.script(GAP_PHASE, json!(["the views reloading after the pull"]))?;
        s.wait_text("[data-testid=pending]", "All on the server")?;
        let gaps = frame_gaps(s)?;
        println!(
            "entries during a pull of {EVENTS} events: saved with {pulled_when_saved} pulled ({pulled_after_bare_input} after the bare input), click to updated view {:.0} and {:.0} ms; typed on the keyboard: {gaps}",
            timings[0], timings[1]
        );
        // The pull gave way to the window: the app's sync thread runs at the lowest priority.
        let nice = sync_thread_nice(&self.rig.app)?;
        if nice != 19 {
            return Err(format!("the sync thread should run at nice 19, not {nice}"));
        }
        // The window painted on the CPU: the app asked its web process to.
        let painting = web_process_environment(&self.rig.app, pluto_tracker::CPU_PAINTING)?;
        if painting.as_deref() != Some("1") {
            return Err(format!("the web process has {}={painting:?}, not 1", pluto_tracker::CPU_PAINTING));
        }
        let store = pluto_store::Store::open(&db).map_err(|e| e.to_string())?;
        let drift = store.verify().map_err(|e| e.to_string())?;
        if !drift.is_empty() {
            return Err(format!("projections drift after the pull: {drift:?}"));
        }
        Ok(())
    }

    /// A year's audit export (the period's every campaign, the 100,000 pulled events among them)
    /// reads on a connection of its own, so home answers while it is written: of five home
    /// screens asked for one after another once the export has begun, most answer before it ends
    /// (under one lock for everything, at most the first could). Each home's time is reported.
    fn home_answers_while_a_years_export_runs(&mut self) -> Result<()> {
        let s = self.session.as_ref().ok_or("the app is not running")?;
        let path = self.rig.dir.path().join("year-audit.jsonl");
        let today = chrono::Local::now().date_naive();
        let from = (today - chrono::Days::new(365)).to_string();
        let answer = s.script_async(
            "const [from, to, path, done] = arguments;
             (async () => {
             const invoke = window.__TAURI_INTERNALS__.invoke;
             let exportEnded = null, exported = null;
             const exporting = invoke('save_period_audit_export', { query: { from, to, material: null, site: null }, path })
               .then((r) => { exported = r.events; }, (e) => { exported = JSON.stringify(e); })
               .finally(() => { exportEnded = performance.now(); });
             await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
             const homes = [];
             for (let i = 0; i < 5; i++) {
               const asked = performance.now();
               await invoke('home', { limit: 50 });
               homes.push({ ms: performance.now() - asked, duringExport: exportEnded === null });
             }
             const started = performance.now();
             await exporting;
             done({ homes, exported, exportMsAfterHomes: exportEnded - started });
             })().catch((e) => done({ error: String(e) }));",
            json!([from, today.to_string(), path.display().to_string()]),
        )?;
        let homes = answer["homes"].as_array().ok_or_else(|| format!("no homes in {answer}"))?;
        let during = homes.iter().filter(|h| h["duringExport"] == json!(true)).count();
        let events = answer["exported"]
            .as_u64()
            .ok_or_else(|| format!("the export failed: {}", answer["exported"]))?;
        let ms: Vec<String> =
            homes.iter().map(|h| format!("{:.0}", h["ms"].as_f64().unwrap_or(f64::NAN))).collect();
        println!(
            "home during a year's audit export of {events} events: {during} of 5 answered before it ended, in {} ms; the export went on {:.0} ms after them",
            ms.join(", "),
            answer["exportMsAfterHomes"].as_f64().unwrap_or(f64::NAN)
        );
        if events < 100_000 {
            return Err(format!(
                "the year's export held {events} events, expected the 100,000 pulled and more"
            ));
        }
        if during < 3 {
            return Err(format!("only {during} of 5 home screens answered while the export ran: {answer}"));
        }
        Ok(())
    }

    fn relaunch(&mut self) -> Result<()> {
        if let Some(s) = self.session.take() {
            s.quit()?;
        }
        self.session = Some(self.rig.launch()?);
        Ok(())
    }

    fn updates_are_offered_and_a_bad_signature_refused(&mut self) -> Result<()> {
        let dir = self.rig.dir.path().to_owned();
        let good = dir.join("pluto-tracker_9.0.0_amd64.AppImage.tar.gz");
        std::fs::write(&good, b"version 9.0.0").map_err(|e| e.to_string())?;
        let good_sig = sign(&dir, &good, Some("9.0.0"))?;
        self.server.as_ref().ok_or("no server")?.publish("9.0.0", &good, &good_sig)?;
        self.relaunch()?;
        let s = self.session.as_ref().ok_or("the app is not running")?;
        s.wait_text("[data-testid=update-banner]", "Version 9.0.0 is ready")?;
        s.wait_text("[data-testid=update-banner]", "Faster history")?;
        self.rig.shot(s, "update")?;

        // 9.0.1 published with 9.0.0's signature: offered, but the download is refused.
        let bad = dir.join("pluto-tracker_9.0.1_amd64.AppImage.tar.gz");
        std::fs::write(&bad, b"version 9.0.1, tampered").map_err(|e| e.to_string())?;
        self.server.as_ref().ok_or("no server")?.publish("9.0.1", &bad, &good_sig)?;
        self.relaunch()?;
        let s = self.session.as_ref().ok_or("the app is not running")?;
        s.wait_text("[data-testid=update-banner]", "Version 9.0.1 is ready")?;
        s.click_on("[data-testid=install-update]")?;
        let message = s.wait_text("[data-testid=update-error]", "not installed")?;
        if !message.to_lowercase().contains("signature") {
            return Err(format!("the refusal should say the signature is wrong: {message}"));
        }
        let backups = std::fs::read_dir(dir.join("data/backups")).map_err(|e| e.to_string())?.count();
        if backups == 0 {
            return Err("the database is backed up before an install".into());
        }

        // The server gone: the app says it could not check, and works as before.
        self.server.as_mut().ok_or("no server")?.stop();
        self.relaunch()?;
        let s = self.session.as_ref().ok_or("the app is not running")?;
        s.wait_text("[data-testid=update-problem]", "Could not check for updates")?;
        s.wait_text("[data-testid=campaign-table]", "LEGO-2026-E2E")?;
        Ok(())
    }

    /// The whole update as a coordinator's laptop goes through it: the app installed from its
    /// `.deb`, a signed later `.deb` published on the sync server, the coordinator's click, the
    /// backup, the download and signature check, `dpkg` through `sudo`, the restart, and the new
    /// version opening the same database with every record in place.
    fn an_update_installs_itself_and_keeps_every_record(&mut self) -> Result<()> {
        let (current, next) = (package("PLUTO_E2E_DEB_CURRENT")?, package("PLUTO_E2E_DEB_NEXT")?);
        let field = |deb: &Path| run(Command::new("dpkg-deb").arg("-f").arg(deb).arg("Version"));
        let (from, to) = (field(&current)?.trim().to_owned(), field(&next)?.trim().to_owned());
        let installed = Installed;
        run(Command::new("dpkg").arg("-i").arg(&current))?;
        if installed_version().as_deref() != Some(from.as_str()) {
            return Err(format!("dpkg did not install {from}: {:?}", installed_version()));
        }

        let dir = self.rig.dir.path().to_owned();
        let server = self.server.as_mut().ok_or("no server")?;
        let address = server.url.trim_start_matches("http://").to_owned();
        server.serve(&address)?;
        if let Some(s) = self.session.take() {
            s.quit()?;
        }

        // issue 26: updates never go backwards. The installed version, validly signed, announced
        // as a later one (with its own version in its signature, and with none): refused at
        // install, and nothing changes.
        for (file, signed_as, says) in [
            ("pluto-tracker_99.0.1_amd64.deb", Some(from.as_str()), format!("signed for version {from}")),
            ("pluto-tracker_99.0.1-unversioned_amd64.deb", None, "does not specify the version".to_owned()),
        ] {
            let rollback = dir.join(file);
            std::fs::copy(&current, &rollback).map_err(|e| e.to_string())?;
            let signature = sign(&dir, &rollback, signed_as)?;
            let server = self.server.as_ref().ok_or("no server")?;
            server.publish_for("linux-x86_64-deb", "99.0.1", &rollback, &signature)?;
            let s = Session::start(&self.rig.url, INSTALLED_APP)?;
            s.wait_text("[data-testid=update-banner]", "Version 99.0.1 is ready")?;
            s.click_on("[data-testid=install-update]")?;
            let message = s.wait_text("[data-testid=update-error]", "not installed")?;
            if !message.contains(&says) {
                return Err(format!(
                    "the refusal of an older build offered as 99.0.1 should say {says:?}: {message}"
                ));
            }
            if installed_version().as_deref() != Some(from.as_str()) {
                return Err(format!("an older build was installed: {:?}", installed_version()));
            }
            s.quit()?;
            std::fs::remove_dir_all(server.releases.join("99.0.1")).map_err(|e| e.to_string())?;
        }
        // An update server that offers the installed version, or an older one: refused at the
        // check, and said so.
        self.server.as_mut().ok_or("no server")?.stop();
        for offered in ["0.0.1", from.as_str()] {
            let fake = OfferServer::start(&address, offered)?;
            let s = Session::start(&self.rig.url, INSTALLED_APP)?;
            s.wait_text("[data-testid=update-problem]", "Could not check for updates")?;
            let why =
                s.script("return document.querySelector('[data-testid=update-problem]').title", json!([]))?;
            if !why.as_str().is_some_and(|w| {
                w.contains(&format!(
                    "offered version {offered}, which is not newer than the installed {from}"
                ))
            }) {
                return Err(format!("the refusal of {offered} should say why: {why}"));
            }
            if s.find("[data-testid=update-banner]")?.is_some() {
                return Err(format!("version {offered} was offered as an update to {from}"));
            }
            s.quit()?;
            drop(fake);
        }
        self.server.as_mut().ok_or("no server")?.serve(&address)?;

        let artifact = dir.join(format!("pluto-tracker_{to}_amd64.deb"));
        std::fs::copy(&next, &artifact).map_err(|e| e.to_string())?;
        let signature = sign(&dir, &artifact, Some(&to))?;
        // For .deb installs only: the debug app the other steps run must not be offered it.
        let server = self.server.as_ref().ok_or("no server")?;
        server.publish_for("linux-x86_64-deb", &to, &artifact, &signature)?;

        let s = Session::start(&self.rig.url, INSTALLED_APP)?;
        s.wait_text("[data-testid=update-banner]", &format!("Version {to} is ready"))?;
        let backups = || std::fs::read_dir(dir.join("data/backups")).map_or(0, |d| d.count());
        let before = backups();
        s.click_on("[data-testid=install-update]")?;
        let deadline = Instant::now() + Duration::from_secs(180);
        while installed_version().as_deref() != Some(to.as_str()) {
            if Instant::now() > deadline {
                let shown = s.find("[data-testid=update-error]")?.map(|e| s.text(&e)).transpose()?;
                return Err(format!("{to} was not installed within 3 minutes; the window says {shown:?}"));
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        if backups() <= before {
            return Err("the database is backed up before the update is installed".into());
        }
        // The app restarted itself as the new version, outside WebDriver: end it, and open the
        // new version through the driver on the same data.
        let _ = s.quit();
        std::thread::sleep(Duration::from_secs(2));
        stop_installed_app();
        let s = Session::start(&self.rig.url, INSTALLED_APP)?;
        s.wait_text("[data-testid=campaign-table]", CODE)?;
        s.wait_text("[data-testid=campaign-table]", "LEGO-2026-OFFLINE")?;
        // The new version syncs: with the entry the server refused earlier still kept here, the
        // state says so in red, which it does only once a sync has reached the server.
        s.wait_text("[data-testid=sync-state]", "1 entry refused by the server")?;
        std::thread::sleep(Duration::from_secs(2));
        if s.find("[data-testid=update-banner]")?.is_some() {
            return Err(format!("{to} is installed, yet an update is still offered"));
        }
        s.quit()?;
        drop(installed);
        Ok(())
    }
}

/// An update server on `address` that offers `version` to whoever asks, as a misconfigured or
/// impersonated one might: answers every request with that offer until dropped.
struct OfferServer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl OfferServer {
    fn start(address: &str, version: &str) -> Result<OfferServer> {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind(address).map_err(|e| format!("bind {address}: {e}"))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let body = json!({
            "version": version, "notes": "offered again", "url": format!("http://{address}/artifact"),
            "signature": "c2lnbmF0dXJl"
        })
        .to_string();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut request = [0u8; 4096];
                        let _ = stream.read(&mut request);
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = stream.write_all(answer.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Ok(OfferServer { stop, thread: Some(thread) })
    }
}

impl Drop for OfferServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A package that `scripts/dev test` builds for the update test, named by `var`.
fn package(var: &str) -> Result<PathBuf> {
    let path = std::env::var_os(var).map(PathBuf::from).ok_or_else(|| {
        format!("{var} is not set: scripts/dev test builds the two .deb packages this step installs")
    })?;
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{var} names {}, which does not exist", path.display()))
    }
}

/// Runs a command to its end; its output is the error if it fails.
fn run(command: &mut Command) -> Result<String> {
    let out = command.output().map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{command:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Where the packages install the app.
const INSTALLED_APP: &str = "/usr/bin/pluto-tracker";

/// The version of the installed package, if it is installed.
fn installed_version() -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Status} ${Version}", "pluto-tracker"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.strip_prefix("install ok installed ").map(str::to_owned)
}

/// Ends every process of the installed app (one restarted by its updater runs outside WebDriver).
fn stop_installed_app() {
    let _ = Command::new("pkill").args(["-f", &format!("^{INSTALLED_APP}")]).status();
}

/// Removes the installed package again, however the step ends.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        stop_installed_app();
        let _ = Command::new("dpkg").args(["--purge", "pluto-tracker"]).output();
    }
}

/// `n` events of another site (RGE's laptop), whole campaigns of every step, as JSON envelopes.
/// They were recorded two months ago, so the list still shows this laptop's campaigns first.
fn other_sites_events(n: usize) -> Vec<String> {
    let since =
        pluto_domain::Timestamp::from_millis(pluto_domain::Timestamp::now().millis() - 60 * 86_400_000);
    pluto_domain::samples::another_laptops_events(n, since)
        .iter()
        .map(|event| serde_json::to_string(event).unwrap_or_default())
        .collect()
}

/// The folder in `/proc` of every process (Linux).
fn processes() -> Result<Vec<PathBuf>> {
    Ok(std::fs::read_dir("/proc").map_err(|e| e.to_string())?.flatten().map(|p| p.path()).collect())
}

/// Those of `processes` that run the executable `app`.
fn running<'p>(app: &str, processes: &'p [PathBuf]) -> Result<Vec<&'p PathBuf>> {
    let app = std::fs::canonicalize(app).map_err(|e| format!("{app}: {e}"))?;
    Ok(processes
        .iter()
        .filter(|p| std::fs::read_link(p.join("exe")).ok().as_deref() == Some(app.as_path()))
        .collect())
}

/// The value of `name` in the environment of the running app's WebKit web process (a child of
/// the app's process).
fn web_process_environment(app: &str, name: &str) -> Result<Option<String>> {
    let processes = processes()?;
    let apps: Vec<&str> =
        running(app, &processes)?.into_iter().filter_map(|p| p.file_name()?.to_str()).collect();
    for process in &processes {
        let stat = std::fs::read_to_string(process.join("stat")).unwrap_or_default();
        // Field 4 is the parent's id; the fields after the name start at field 3.
        let parent = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1));
        let web =
            std::fs::read_to_string(process.join("comm")).unwrap_or_default().starts_with("WebKitWebProces");
        if !web || !parent.is_some_and(|parent| apps.contains(&parent)) {
            continue;
        }
        let environment = std::fs::read(process.join("environ")).map_err(|e| e.to_string())?;
        let prefix = format!("{name}=");
        return Ok(environment
            .split(|&b| b == 0)
            .filter_map(|entry| std::str::from_utf8(entry).ok()?.strip_prefix(&prefix).map(str::to_owned))
            .next());
    }
    Err(format!("no WebKit web process of a running {app}"))
}

/// The nice value of the thread named `sync` in the running app whose executable is `app`
/// (Linux: from `/proc`).
fn sync_thread_nice(app: &str) -> Result<i64> {
    for process in running(app, &processes()?)? {
        let Ok(tasks) = std::fs::read_dir(process.join("task")) else { continue };
        for task in tasks.flatten() {
            if std::fs::read_to_string(task.path().join("comm")).unwrap_or_default().trim() != "sync" {
                continue;
            }
            let stat = std::fs::read_to_string(task.path().join("stat")).map_err(|e| e.to_string())?;
            // Field 19 is the nice value; the fields after the name start at field 3.
            let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            return after_name
                .split_whitespace()
                .nth(19 - 3)
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("no nice value in {stat}"));
        }
    }
    Err(format!("no thread named sync in a running {app}"))
}

/// Appends `envelopes` to the server's log in one transaction, as its push would store them
/// (written into its database directly: pushing 100,000 events through a debug build would only
/// slow the test down). Returns the server position of the first of them.
fn store_as_server(data: &Path, envelopes: &[String]) -> Result<i64> {
    let mut conn = rusqlite::Connection::open(data).map_err(|e| e.to_string())?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(|e| e.to_string())?;
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    let head: i64 = tx
        .query_row("SELECT COALESCE(MAX(position), 0) FROM events", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO events (position, id, stream_id, event_type, device_id, device_seq, created_at, received_at, envelope)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)",
            )
            .map_err(|e| e.to_string())?;
        for (i, envelope) in envelopes.iter().enumerate() {
            let v: Value = serde_json::from_str(envelope).map_err(|e| e.to_string())?;
            let text = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
            insert
                .execute(rusqlite::params![
                    head + 1 + i as i64,
                    text("id"),
                    text("streamId"),
                    text("eventType"),
                    text("deviceId"),
                    v["deviceSeq"].as_i64().unwrap_or_default(),
                    text("createdAt"),
                    envelope,
                ])
                .map_err(|e| e.to_string())?;
        }
    }
    tx.commit().map_err(|e| e.to_string())?;
    Ok(head + 1)
}

/// Goes back to the campaign list and opens the campaign with LEGO code `code`.
/// The id of the campaign whose code is `code`, read from the app's database.
fn campaign_id(store: &pluto_store::Store, code: &str) -> Result<pluto_domain::CampaignId> {
    let query = pluto_store::ListQuery { search: Some(code.into()), ..Default::default() };
    let page = store.list(&query).map_err(|e| e.to_string())?;
    let row = page.rows.first().ok_or_else(|| format!("no campaign {code}"))?;
    pluto_domain::CampaignId::parse(&row.id).map_err(|e| e.to_string())
}

fn open_from_list(s: &Session, code: &str) -> Result<()> {
    if s.find("[data-testid=back]")?.is_some() {
        s.click_on("[data-testid=back]")?;
    }
    s.wait_text("[data-testid=campaign-table]", code)?;
    let row = s.wait_until("the campaign's row", || {
        for e in s.find_all("[data-testid=campaign-row] td strong")? {
            if s.text(&e)? == code {
                return Ok(Some(e));
            }
        }
        Ok(None)
    })?;
    s.click(&row)
}

fn main() {
    let started = Instant::now();
    let rig = match Rig::start() {
        Ok(rig) => Some(rig),
        Err(e) => {
            eprintln!("e2e: cannot set up the window: {e}");
            None
        }
    };
    type Step<'r> = fn(&mut Day<'r>) -> Result<()>;
    let steps: [(&str, Step<'_>); 29] = [
        ("first_run_asks_for_name_and_site", Day::first_run_asks_for_name_and_site),
        ("an_empty_database_says_how_to_begin", Day::an_empty_database_says_how_to_begin),
        ("create_a_campaign", Day::create_a_campaign),
        ("home_shows_what_waits_for_the_site", Day::home_shows_what_waits_for_the_site),
        ("a_step_out_of_order_is_marked_before_typing", Day::a_step_out_of_order_is_marked_before_typing),
        ("a_bad_weight_is_refused_beside_its_field", Day::a_bad_weight_is_refused_beside_its_field),
        ("record_every_step_to_extrusion", Day::record_every_step_to_extrusion),
        (
            "a_corrected_weight_changes_the_view_and_keeps_the_original",
            Day::a_corrected_weight_changes_the_view_and_keeps_the_original,
        ),
        (
            "as_of_shows_the_campaign_before_the_correction",
            Day::as_of_shows_the_campaign_before_the_correction,
        ),
        (
            "a_correction_of_a_value_changed_meanwhile_is_refused_in_words",
            Day::a_correction_of_a_value_changed_meanwhile_is_refused_in_words,
        ),
        ("mistakes_are_voided_and_reviewed", Day::mistakes_are_voided_and_reviewed),
        ("record_the_rest_to_completed", Day::record_the_rest_to_completed),
        ("export_writes_the_chain_of_custody", Day::export_writes_the_chain_of_custody),
        ("files_are_saved_where_the_user_says", Day::files_are_saved_where_the_user_says),
        ("a_restart_finds_everything_still_there", Day::a_restart_finds_everything_still_there),
        ("ctrl_k_finds_a_campaign_by_a_tracking_ref", Day::ctrl_k_finds_a_campaign_by_a_tracking_ref),
        ("keyboard_shortcuts_and_a_small_window", Day::keyboard_shortcuts_and_a_small_window),
        ("the_morning_by_keyboard_alone", Day::the_morning_by_keyboard_alone),
        ("the_name_on_the_laptop_can_be_changed", Day::the_name_on_the_laptop_can_be_changed),
        ("training_mode_is_separate_and_marked", Day::training_mode_is_separate_and_marked),
        ("sync_sends_everything_in_the_background", Day::sync_sends_everything_in_the_background),
        (
            "entry_goes_on_offline_and_syncs_when_the_server_returns",
            Day::entry_goes_on_offline_and_syncs_when_the_server_returns,
        ),
        ("a_step_on_a_campaign_of_100_events", Day::a_step_on_a_campaign_of_100_events),
        ("a_newer_plutos_entry_is_kept_and_explained", Day::a_newer_plutos_entry_is_kept_and_explained),
        (
            "entry_goes_on_while_a_100000_event_pull_applies",
            Day::entry_goes_on_while_a_100000_event_pull_applies,
        ),
        ("home_answers_while_a_years_export_runs", Day::home_answers_while_a_years_export_runs),
        ("an_rge_laptop_is_refused_mba_steps_at_entry", Day::an_rge_laptop_is_refused_mba_steps_at_entry),
        (
            "updates_are_offered_and_a_bad_signature_refused",
            Day::updates_are_offered_and_a_bad_signature_refused,
        ),
        (
            "an_update_installs_itself_and_keeps_every_record",
            Day::an_update_installs_itself_and_keeps_every_record,
        ),
    ];
    println!("\nrunning {} tests", steps.len());
    let (mut passed, mut failed) = (0, 0);
    let mut day = rig.as_ref().map(|rig| Day {
        rig,
        session: None,
        timings: Vec::new(),
        continue_timings: Vec::new(),
        before_correction: None,
        original_output: 0.0,
        server: None,
    });
    for (name, step) in steps {
        let outcome = match day.as_mut() {
            Some(day) => step(day),
            None => Err("no window (see above)".into()),
        };
        match outcome {
            Ok(()) => {
                passed += 1;
                println!("test e2e::{name} ... ok");
            }
            Err(e) => {
                failed += 1;
                println!("test e2e::{name} ... FAILED\n    {e}");
                if let Some(day) = day.as_ref() {
                    if let Some(s) = day.session.as_ref() {
                        let _ = day.rig.shot(s, &format!("failed-{name}"));
                    }
                }
            }
        }
    }
    if let Some(day) = day.as_mut() {
        let build = if std::env::var_os("PLUTO_E2E_APP").is_some() { "PLUTO_E2E_APP" } else { "debug build" };
        for (what, timings) in [("", &day.timings), (" after \"Record and continue\"", &day.continue_timings)]
        {
            if timings.is_empty() {
                continue;
            }
            let mut t = timings.clone();
            t.sort_by(f64::total_cmp);
            println!(
                "click to updated view{what} over {} steps ({build}): median {:.0} ms, max {:.0} ms",
                t.len(),
                t[t.len() / 2],
                t[t.len() - 1]
            );
        }
        if let Some(s) = day.session.take() {
            let _ = s.quit();
        }
        if failed > 0 {
            if let Ok(log) = std::fs::read_to_string(day.rig.dir.path().join("driver.log")) {
                println!("--- tauri-driver log ---\n{log}");
            }
        }
    }
    drop(day);
    drop(rig);
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {verdict}. {passed} passed; {failed} failed; 0 ignored; 0 measured; 0 filtered out; finished in {:.2}s\n",
        started.elapsed().as_secs_f64()
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
