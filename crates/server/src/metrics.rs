//! What an operator watches a running server by: counters and gauges kept in memory since the
//! process started, written in the Prometheus text format (version 0.0.4) at `GET /metrics`
//! for an administrator's token.
//!
//! Every label takes its values from a fixed set (routes as the router declares them, push
//! outcomes, the envelope's field names, status codes), never from what a client sends, so a
//! hostile client cannot grow the page.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use pluto_protocol::{PushOutcome, PushResponse};

/// The upper bounds (seconds) of the request latency histogram's buckets: from a health check
/// to a long-poll's full minute.
const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0, 60.0];

/// A push's outcomes and their labels.
const OUTCOMES: [(PushOutcome, &str); 4] = [
    (PushOutcome::Stored, "stored"),
    (PushOutcome::Duplicate, "duplicate"),
    (PushOutcome::Refused, "refused"),
    (PushOutcome::Conflict, "conflict"),
];

/// The HTTP methods counted by name; any other counts as `other`.
const METHODS: [&str; 7] = ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"];

/// The envelope fields a push refusal is counted by; a refusal of a payload field counts as
/// `data`, any other as `other`.
const ENVELOPE_FIELDS: [&str; 10] = [
    "id",
    "streamType",
    "streamId",
    "eventType",
    "schemaVersion",
    "userId",
    "deviceId",
    "deviceSeq",
    "createdAt",
    "data",
];

/// The server's counters since it started. Cheap to update from any request.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests answered, by method, route and status.
    requests: Mutex<BTreeMap<(&'static str, String, u16), u64>>,
    /// Request latency by route: counts per bucket, the sum of seconds and the count.
    latency: Mutex<BTreeMap<String, Histogram>>,
    /// Pushed events by outcome, in the order of [`OUTCOMES`].
    pushed: [AtomicU64; OUTCOMES.len()],
    /// Refused pushed events by the field refused.
    refused: Mutex<BTreeMap<&'static str, u64>>,
    /// Events served by pulls.
    pulled: AtomicU64,
    /// Connections open now.
    connections: AtomicI64,
    /// Connections accepted since the start.
    accepted: AtomicU64,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// What the page reports besides the counters, read when it is asked for.
#[derive(Debug, Clone, Copy)]
pub struct Gauges {
    /// The last position of the log: the events it holds.
    pub head: i64,
    /// Long-polls waiting for new events now.
    pub waiting_pulls: usize,
    /// The database's size on disk, in bytes.
    pub database_bytes: u64,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Metrics {
    /// Counts one answered request: `route` is the path template of the route that answered, as
    /// the router declares it (`/v1/devices/{device_id}/status`), or `other` for a path no route
    /// matched; never the path a client sent.
    pub fn request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        // Methods a client invents are one label, not one each.
        let method = METHODS.into_iter().find(|m| *m == method).unwrap_or("other");
        *lock(&self.requests).entry((method, route.to_owned(), status)).or_default() += 1;
        let seconds = elapsed.as_secs_f64();
        let mut latency = lock(&self.latency);
        let h = latency.entry(route.to_owned()).or_default();
        for (bucket, bound) in h.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// Counts the outcome of every event of an answered push.
    pub fn push(&self, response: &PushResponse) {
        let mut refused = lock(&self.refused);
        for result in &response.results {
            for ((outcome, _), n) in OUTCOMES.iter().zip(&self.pushed) {
                if *outcome == result.outcome {
                    n.fetch_add(1, Ordering::Relaxed);
                }
            }
            if result.outcome == PushOutcome::Refused {
                let field = result.error.as_ref().map_or("", |e| e.field.as_str());
                let top = field.split('.').next().unwrap_or_default();
                let named = ENVELOPE_FIELDS.iter().find(|f| **f == top).copied().unwrap_or("other");
                *refused.entry(named).or_default() += 1;
            }
        }
    }

    /// Counts the events a pull served.
    pub fn pulled(&self, events: usize) {
        self.pulled.fetch_add(events as u64, Ordering::Relaxed);
    }

    /// Notes a connection accepted; the returned guard notes its end when dropped.
    pub fn connection(&self) -> Connection<'_> {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.connections.fetch_add(1, Ordering::Relaxed);
        Connection(self)
    }

    /// The page, in the Prometheus text format: each family's `# HELP` and `# TYPE`, then its
    /// samples.
    pub fn render(&self, gauges: Gauges) -> String {
        let mut out = String::new();
        let mut single = |name: &str, kind: &str, help: &str, value: String| {
            family(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        };
        single(
            "pluto_log_events",
            "gauge",
            "Events in the server's log (its last position).",
            gauges.head.to_string(),
        );
        single(
            "pluto_database_bytes",
            "gauge",
            "Size of the server's database on disk, in bytes.",
            gauges.database_bytes.to_string(),
        );
        single(
            "pluto_long_polls_waiting",
            "gauge",
            "Pulls waiting for new events now.",
            gauges.waiting_pulls.to_string(),
        );
        let open = self.connections.load(Ordering::Relaxed);
        single("pluto_connections_open", "gauge", "HTTP connections open now.", open.to_string());
        let accepted = self.accepted.load(Ordering::Relaxed);
        single(
            "pluto_connections_total",
            "counter",
            "HTTP connections accepted since the server started.",
            accepted.to_string(),
        );
        let pulled = self.pulled.load(Ordering::Relaxed);
        single(
            "pluto_pulled_events_total",
            "counter",
            "Events served by pulls since the server started.",
            pulled.to_string(),
        );

        let name = "pluto_pushed_events_total";
        family(&mut out, name, "counter", "Pushed events since the server started, by outcome.");
        for ((_, outcome), n) in OUTCOMES.iter().zip(&self.pushed) {
            let _ = writeln!(out, "{name}{{outcome=\"{outcome}\"}} {}", n.load(Ordering::Relaxed));
        }
        let name = "pluto_push_refusals_total";
        family(
            &mut out,
            name,
            "counter",
            "Refused pushed events since the server started, by the envelope field refused (data: the payload).",
        );
        for (field, n) in lock(&self.refused).iter() {
            let _ = writeln!(out, "{name}{{field=\"{field}\"}} {n}");
        }
        let name = "pluto_http_requests_total";
        family(
            &mut out,
            name,
            "counter",
            "HTTP requests answered since the server started, by method, route and status.",
        );
        for ((method, route, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(out, "{name}{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}");
        }
        let name = "pluto_http_request_duration_seconds";
        family(
            &mut out,
            name,
            "histogram",
            "Time to answer an HTTP request, by route (long-polls wait up to a minute).",
        );
        for (route, h) in lock(&self.latency).iter() {
            for (bound, n) in BUCKETS.iter().zip(h.buckets) {
                let _ = writeln!(out, "{name}_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}");
            }
            let _ = writeln!(out, "{name}_bucket{{route=\"{route}\",le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "{name}_sum{{route=\"{route}\"}} {}", h.sum);
            let _ = writeln!(out, "{name}_count{{route=\"{route}\"}} {}", h.count);
        }
        out
    }
}

/// Writes a family's `# HELP` and `# TYPE` lines.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// An open connection, counted until dropped.
pub struct Connection<'a>(&'a Metrics);

impl Drop for Connection<'_> {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}
