//! Just enough of the W3C WebDriver protocol to drive the app's window through tauri-driver:
//! sessions, finding elements, clicks, keys, scripts, window size and screenshots.

use std::cell::RefCell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::{json, Value};

/// The key of an element reference in WebDriver replies.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long `wait` looks for something before failing.
pub const PATIENCE: Duration = Duration::from_secs(45);

/// A WebDriver session on one app window.
pub struct Session {
    base: String,
    agent: ureq::Agent,
    /// When the latest commands were in flight, in milliseconds since the Unix epoch: WebKit's
    /// automation holds up the page's frames while it serves one, so measurements of the page
    /// tell those gaps apart from the app's own.
    commands: RefCell<Vec<(f64, f64)>>,
}

/// Milliseconds since the Unix epoch, as the page's `performance.timeOrigin + performance.now()`.
fn epoch_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// An element in the window.
#[derive(Clone)]
pub struct Element(String);

/// The result of a WebDriver step.
pub type Result<T> = std::result::Result<T, String>;

impl Session {
    /// Starts the app at `application` through the driver at `driver` (`http://127.0.0.1:4444`).
    pub fn start(driver: &str, application: &str) -> Result<Session> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .into();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "wry",
            "tauri:options": {"application": application}
        }}});
        let reply = call(&agent, "POST", &format!("{driver}/session"), Some(caps))?;
        let id = reply["sessionId"].as_str().ok_or(format!("no session id in {reply}"))?.to_owned();
        Ok(Session { base: format!("{driver}/session/{id}"), agent, commands: RefCell::default() })
    }

    fn post(&self, path: &str, body: Value) -> Result<Value> {
        self.timed(|| call(&self.agent, "POST", &format!("{}{path}", self.base), Some(body)))
    }

    fn get(&self, path: &str) -> Result<Value> {
        self.timed(|| call(&self.agent, "GET", &format!("{}{path}", self.base), None))
    }

    fn timed(&self, command: impl FnOnce() -> Result<Value>) -> Result<Value> {
        let start = epoch_ms();
        let reply = command();
        let mut commands = self.commands.borrow_mut();
        if commands.len() >= 100_000 {
            commands.drain(..50_000);
        }
        commands.push((start, epoch_ms()));
        reply
    }

    /// Whether a command of this session was in flight at some time between `from` and `to`
    /// (milliseconds since the Unix epoch).
    pub fn commanded_between(&self, from: f64, to: f64) -> bool {
        self.commands.borrow().iter().any(|&(start, end)| start <= to && end >= from)
    }

    /// Ends the session, which closes the app.
    pub fn quit(self) -> Result<()> {
        call(&self.agent, "DELETE", &self.base, None).map(|_| ())
    }

    /// The first element matching a CSS selector, if any.
    pub fn find(&self, css: &str) -> Result<Option<Element>> {
        let found = self.post("/elements", json!({"using": "css selector", "value": css}))?;
        Ok(found
            .as_array()
            .and_then(|a| a.first())
            .and_then(|e| e[ELEMENT].as_str())
            .map(|s| Element(s.to_owned())))
    }

    /// Every element matching a CSS selector.
    pub fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        let found = self.post("/elements", json!({"using": "css selector", "value": css}))?;
        Ok(found
            .as_array()
            .map(|a| a.iter().filter_map(|e| e[ELEMENT].as_str()).map(|s| Element(s.to_owned())).collect())
            .unwrap_or_default())
    }

    /// Waits for an element matching `css` to appear.
    pub fn wait(&self, css: &str) -> Result<Element> {
        self.wait_until(&format!("an element matching {css}"), || self.find(css))
    }

    /// Waits until `probe` returns something.
    pub fn wait_until<T>(&self, what: &str, mut probe: impl FnMut() -> Result<Option<T>>) -> Result<T> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(found) = probe()? {
                return Ok(found);
            }
            if Instant::now() > deadline {
                return Err(format!("waited {PATIENCE:?} for {what}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the text of the element matching `css` contains `needle`; returns the text.
    pub fn wait_text(&self, css: &str, needle: &str) -> Result<String> {
        let mut last = String::new();
        self.wait_until(&format!("{css} to contain {needle:?}"), || {
            if let Some(e) = self.find(css)? {
                match self.text(&e) {
                    Ok(text) => last = text,
                    // The page replaced the element between finding and reading it: look again.
                    Err(e) if e.contains("stale element reference") => return Ok(None),
                    Err(e) => return Err(e),
                }
                if last.contains(needle) {
                    return Ok(Some(last.clone()));
                }
            }
            Ok(None)
        })
        .map_err(|e| format!("{e}; it reads {last:?}"))
    }

    /// Waits until any element matching `css` contains `needle` (where order is not the point,
    /// such as a history listing newest first); returns that element's text.
    pub fn wait_any_text(&self, css: &str, needle: &str) -> Result<String> {
        let mut seen = Vec::new();
        self.wait_until(&format!("some {css} to contain {needle:?}"), || {
            seen.clear();
            for e in self.find_all(css)? {
                let text = self.text(&e)?;
                if text.contains(needle) {
                    return Ok(Some(text));
                }
                seen.push(text);
            }
            Ok(None)
        })
        .map_err(|e| format!("{e}; they read {seen:?}"))
    }

    /// Clicks an element.
    pub fn click(&self, e: &Element) -> Result<()> {
        self.post(&format!("/element/{}/click", e.0), json!({})).map(|_| ())
    }

    /// Waits for `css` and clicks it.
    pub fn click_on(&self, css: &str) -> Result<()> {
        let e = self.wait(css)?;
        self.click(&e)
    }

    /// Types into an element, as a person would (`\u{E007}` is Enter).
    pub fn keys(&self, e: &Element, text: &str) -> Result<()> {
        self.post(&format!("/element/{}/value", e.0), json!({"text": text})).map(|_| ())
    }

    /// An element's visible text.
    pub fn text(&self, e: &Element) -> Result<String> {
        Ok(self.get(&format!("/element/{}/text", e.0))?.as_str().unwrap_or_default().to_owned())
    }

    /// Runs a script in the window; `arguments[0..]` are `args`.
    pub fn script(&self, script: &str, args: Value) -> Result<Value> {
        self.post("/execute/sync", json!({"script": script, "args": args}))
    }

    /// Runs an asynchronous script: it ends by calling its last argument with the result.
    pub fn script_async(&self, script: &str, args: Value) -> Result<Value> {
        self.post("/execute/async", json!({"script": script, "args": args}))
    }

    /// Resizes the window (CSS pixels of the outer window).
    pub fn resize(&self, width: u32, height: u32) -> Result<()> {
        self.post("/window/rect", json!({"width": width, "height": height})).map(|_| ())
    }

    /// Sets an input's or select's value and tells the UI, as picking from a date or list
    /// control does.
    pub fn set_value(&self, css: &str, value: &str) -> Result<()> {
        self.wait(css)?;
        let done = self.script(
            "const e = document.querySelector(arguments[0]); if (!e) return false; e.value = arguments[1]; \
             e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})); return true;",
            json!([css, value]),
        )?;
        if done == json!(true) {
            Ok(())
        } else {
            Err(format!("no element {css} to set"))
        }
    }

    /// The window as a PNG image.
    pub fn screenshot(&self) -> Result<Vec<u8>> {
        let b64 = self.get("/screenshot")?;
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .map_err(|e| format!("screenshot is not base64: {e}"))
    }
}

fn call(agent: &ureq::Agent, method: &str, url: &str, body: Option<Value>) -> Result<Value> {
    let response = match (method, body) {
        ("POST", Some(body)) => agent.post(url).send_json(body),
        ("DELETE", _) => agent.delete(url).call(),
        _ => agent.get(url).call(),
    }
    .map_err(|e| format!("{method} {url}: {e}"))?;
    let status = response.status();
    let reply: Value =
        response.into_body().read_json().map_err(|e| format!("{method} {url}: unreadable reply: {e}"))?;
    if status.is_success() {
        Ok(reply["value"].clone())
    } else {
        Err(format!("{method} {url}: {status}: {}", reply["value"]))
    }
}
