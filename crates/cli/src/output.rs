//! What `pluto` prints: plain text for people, or JSON (`--json`) with the state's camelCase
//! field names for scripts.

use std::path::Path;

use pluto_domain::correction::Effective;
use pluto_domain::{CampaignState, DeviceId, Event, EventType, MassBalance, Payload, Timestamp};
use pluto_protocol::{Attestation, Verdict};
use pluto_reports::period::{Figure, PeriodReport, Role};
use pluto_store::{
    Drift, FoundCampaign, ListPage, ListQuery, OpenAnomaly, PullRefusal, Recorded, Rejection, StoreError,
    SyncState,
};
use pluto_sync::runner::Pass;
use pluto_sync::SyncReport;
use serde_json::{json, Value};

/// How the sync server's log compares with an audit export (`verify-export --server`).
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerComparison {
    /// The server asked.
    pub server: String,
    /// The last position of its log when it answered.
    pub head: i64,
    /// How many events it was asked about.
    pub compared: usize,
    /// Events the export holds that were not on the server when exported.
    pub not_on_server: usize,
    /// The events where the log differs from the export.
    pub mismatches: Vec<Attestation>,
}

/// `println!` for results. When standard output is closed early (`pluto list | head -1`), the
/// command ends quietly with success, as command-line tools do, instead of panicking: whatever
/// it recorded is committed before anything is printed.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            stdout_failed(e)
        }
    }};
}

fn stdout_failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("pluto: cannot write to standard output: {e}");
    std::process::exit(1)
}

/// Prints results in the chosen format.
pub struct Printer {
    /// JSON instead of text.
    pub json: bool,
}

impl Printer {
    fn emit(&self, value: &Value) {
        out!("{}", serde_json::to_string_pretty(value).expect("JSON values serialize"));
    }

    /// A one-off result: `value` as JSON, or `text`.
    pub fn message(&self, value: Value, text: &str) {
        if self.json {
            self.emit(&value);
        } else {
            out!("{text}");
        }
    }

    pub fn init(&self, path: &Path, device: &DeviceId, created: bool) {
        let text = if created {
            format!("Created a Pluto database at {}\nDevice id: {device}", path.display())
        } else {
            format!(
                "A Pluto database already exists at {}; left as it was.\nDevice id: {device}",
                path.display()
            )
        };
        self.message(json!({ "path": path, "deviceId": device, "created": created }), &text);
    }

    /// A period mass balance: JSON, or [`period_report_text`].
    pub fn period_report(&self, report: &PeriodReport, campaigns: bool) {
        if self.json {
            self.emit(&serde_json::to_value(report).expect("reports serialize"));
        } else {
            out!("{}", period_report_text(report, campaigns).trim_end());
        }
    }

    pub fn device(&self, device: &DeviceId) {
        self.message(json!({ "deviceId": device }), device.as_str());
    }

    /// After recording: the id alone on a line (for scripts), or the event and new state.
    pub fn recorded(&self, recorded: &Recorded, id: &str) {
        if self.json {
            self.emit(&json!({
                "campaignId": recorded.state.id,
                "eventId": recorded.event.id,
                "alreadyRecorded": !recorded.new,
                "state": recorded.state,
            }));
        } else {
            out!("{id}");
        }
    }

    pub fn show(&self, state: &CampaignState, as_of: Option<Timestamp>) {
        let balance = MassBalance::of(state, as_of.unwrap_or_else(Timestamp::now));
        if self.json {
            let mut value = serde_json::to_value(state).expect("state serializes");
            value["steps"] = serde_json::to_value(&state.steps).expect("steps serialize");
            value["massBalance"] = serde_json::to_value(&balance).expect("balance serializes");
            if let Some(t) = as_of {
                value["asOf"] = json!(t);
            }
            self.emit(&value);
            return;
        }
        let dash = || "—".to_owned();
        let kg = |w: Option<f64>| w.map_or_else(dash, |w| format!("{w} kg"));
        if let Some(t) = as_of {
            out!("As recorded at {t}");
        }
        out!("Campaign            {}", state.id);
        out!("LEGO code           {}", state.lego_campaign_code.clone().unwrap_or_else(dash));
        out!("Material            {}", state.material_type.map_or_else(dash, |m| m.as_str().to_owned()));
        if let Some(d) = &state.description {
            out!("Description         {d}");
        }
        out!("Status              {} ({})", state.status, state.current_step);
        out!(
            "Next expected step  {}",
            state.next_expected_step.clone().unwrap_or_else(|| "none (completed)".into())
        );
        out!("Current weight      {}", kg(state.current_weight_kg));
        out!("Inbound net weight  {}", kg(state.inbound_net_weight_kg));
        out!("ECHA approved       {}", if state.echa_approved { "yes" } else { "no" });
        out!("Created             {}", state.created_at.map_or_else(dash, |t| t.to_string()));
        if let Some(t) = state.completed_at {
            out!("Completed           {t}");
        }
        out!("Last change         {}", state.updated_at);
        out!("Events              {} (corrections: {})", state.event_count, state.correction_count);
        if let Some(note) = pluto_reports::record::newer_entries_note(state.newer_entries) {
            out!("\n{note}");
        }
        if !balance.points.is_empty() {
            out!("\nMass balance");
            for p in &balance.points {
                out!("  {:<22} {:>12} kg", p.stage, p.weight_kg);
            }
            for y in &balance.step_yields {
                out!("  yield {:<16} {:>11.1} %", y.step, y.yield_ratio * 100.0);
            }
            for l in &balance.handling_losses {
                out!("  loss {} → {}: {:.1} kg ({:.1} %)", l.from, l.to, l.loss_kg, l.loss_ratio * 100.0);
            }
            if let Some(y) = balance.overall_yield {
                out!("  overall yield {:>20.1} %", y * 100.0);
            }
        }
        if !state.anomalies.is_empty() {
            out!("\nAnomalies ({} to review of {})", state.unreviewed_anomalies(), state.anomalies.len());
            for a in &state.anomalies {
                out!("  {} {} {}: {}", a.event_id, a.event_type, a.kind.as_str(), a.message);
                match &a.review {
                    Some(r) => out!(
                        "    reviewed by {} at {}: {}",
                        r.reviewed_by.display_name(),
                        r.reviewed_at,
                        r.note
                    ),
                    None => out!("    what to do: {}", a.kind.remedy()),
                }
            }
        }
    }

    pub fn history(
        &self,
        events: &[Event],
        sites: &std::collections::HashMap<pluto_domain::EventId, String>,
    ) {
        if self.json {
            let entries: Vec<Value> = events
                .iter()
                .map(|e| {
                    let mut entry = serde_json::to_value(e).expect("events serialize");
                    entry["attestedSite"] = sites.get(&e.id).map_or(Value::Null, |s| Value::from(s.as_str()));
                    entry
                })
                .collect();
            self.emit(&Value::Array(entries));
            return;
        }
        let refs: Vec<&Event> = events.iter().collect();
        let effective = Effective::resolve(&refs);
        for e in events {
            // The site is the server's word; the user id is the recording laptop's.
            let site = sites.get(&e.id).map_or_else(
                || "not yet confirmed by the server".to_owned(),
                |site| format!("site {site} (confirmed by the server)"),
            );
            out!(
                "{}  {}  {}  by {} on {} #{}  · {site}",
                e.created_at,
                e.id,
                e.event_type,
                e.user_id,
                e.device_id,
                e.device_seq
            );
            if e.event_type == EventType::Newer {
                out!("    {}: update Pluto to see this entry", e.event_type.label());
                continue;
            }
            if let Some(v) = effective.voided(e) {
                out!("    VOIDED by {} at {} ({}): {}", v.voided_by_name, v.voided_at, v.void_id, v.reason);
            }
            if let Ok(Payload::EntryVoided(v)) = Payload::parse(EventType::EntryVoided, &e.data) {
                out!("    voids {} ({}) because: {}", v.voids_event_id, v.voids_event_type, v.reason);
                continue;
            }
            if let Ok(Payload::AnomalyReviewed(r)) = Payload::parse(EventType::AnomalyReviewed, &e.data) {
                out!("    reviews the {} anomaly of {}: {}", r.anomaly_kind, r.event_id, r.note);
                continue;
            }
            if let Ok(Payload::EventCorrected(c)) = Payload::parse(EventType::EventCorrected, &e.data) {
                out!(
                    "    corrects {} ({}) because: {}",
                    c.corrects_event_id,
                    c.corrects_event_type,
                    c.reason
                );
                for (field, change) in &c.changes {
                    out!("    {field}: {} → {}", change.was, change.now);
                }
                continue;
            }
            if let Some(fields) = e.data.as_object() {
                for (k, v) in fields {
                    out!("    {k}: {v}");
                }
            }
            if effective.is_corrected(e) {
                let now = effective.payload(e);
                for (k, v) in now.as_object().into_iter().flatten() {
                    if e.data.get(k) != Some(v) {
                        out!("    {k} is now {v} (corrected)");
                    }
                }
                for k in e.data.as_object().into_iter().flatten().map(|(k, _)| k) {
                    if now.get(k).is_none() {
                        out!("    {k} is now cleared (corrected)");
                    }
                }
            }
        }
    }

    /// The anomalies waiting for review, one per line with what to do.
    pub fn anomalies(&self, open: &[OpenAnomaly]) {
        if self.json {
            self.emit(&serde_json::to_value(open).expect("anomalies serialize"));
            return;
        }
        if open.is_empty() {
            out!("No anomaly waits for review.");
            return;
        }
        for a in open {
            let c = &a.campaign;
            out!(
                "{}  {}  {}  {} {}: {}",
                c.id,
                c.lego_campaign_code.as_deref().unwrap_or("—"),
                a.anomaly.event_id,
                a.entry_label,
                a.anomaly.kind.as_str(),
                a.anomaly.message
            );
            out!("    what to do: {}", a.remedy);
        }
    }

    /// What `find` found: each campaign with the entries that matched.
    pub fn found(&self, text: &str, found: &[FoundCampaign]) {
        if self.json {
            self.emit(&serde_json::to_value(found).expect("found campaigns serialize"));
            return;
        }
        if found.is_empty() {
            out!("No campaign holds {text:?} in its code, description or entries.");
            return;
        }
        for f in found {
            let c = &f.campaign;
            out!("{}  {}  {}", c.id, c.lego_campaign_code.as_deref().unwrap_or("—"), c.status.label());
            for m in &f.found_in {
                out!("    {}: {}", m.place, m.value);
            }
        }
    }

    pub fn list(&self, page: &ListPage, query: &ListQuery) {
        if self.json {
            self.emit(&serde_json::to_value(page).expect("page serializes"));
            return;
        }
        if page.rows.is_empty() {
            out!(
                "No campaigns match. Create one with `pluto campaign create --code CODE --material PI|PCR`."
            );
            return;
        }
        out!(
            "{:<30} {:<16} {:<4} {:<30} {:>12} {:<24} {:<24} ANOMALIES",
            "CAMPAIGN",
            "CODE",
            "MAT",
            "STATUS",
            "WEIGHT KG",
            "NEXT STEP",
            "LAST ACTIVITY"
        );
        for r in &page.rows {
            out!(
                "{:<30} {:<16} {:<4} {:<30} {:>12} {:<24} {:<24} {}",
                r.id,
                r.lego_campaign_code.as_deref().unwrap_or("—"),
                r.material_type.map_or("—", |m| m.as_str()),
                r.status.as_str(),
                r.current_weight_kg.map_or_else(|| "—".to_owned(), |w| w.to_string()),
                r.next_expected_step.as_deref().unwrap_or("—"),
                r.updated_at,
                r.anomaly_count
            );
            if r.newer_entries > 0 {
                out!(
                    "{:<30} holds {} entries of a newer Pluto: update Pluto to see them",
                    "",
                    r.newer_entries
                );
            }
        }
        let shown = query.offset as usize + page.rows.len();
        out!("{}–{} of {}", query.offset + 1, shown, page.total);
    }

    /// What `verify-export` found.
    pub fn verification(
        &self,
        verification: &pluto_reports::audit::Verification,
        server: Option<&ServerComparison>,
    ) {
        let manifest = &verification.manifest;
        if self.json {
            self.emit(&json!({
                "intact": verification.is_intact(),
                "findings": verification.findings,
                "events": manifest.events.len(),
                "createdAt": manifest.created_at,
                "deviceId": manifest.device_id,
                "publicKey": manifest.public_key,
                "selection": manifest.selection,
                "server": server,
            }));
            return;
        }
        out!(
            "Audit export of {} events ({}), made {} by installation {}.",
            manifest.events.len(),
            manifest.selection,
            manifest.created_at,
            manifest.device_id
        );
        out!("Signed with the key {} (compare it with the key the installation shows).", manifest.public_key);
        if verification.is_intact() {
            out!("OK: every event is exactly as exported, none added or removed, and the manifest matches its signature.");
        } else {
            out!("NOT INTACT: {} finding(s):", verification.findings.len());
            for finding in &verification.findings {
                out!("  {finding}");
            }
        }
        let Some(server) = server else { return };
        let agreeing = server.compared - server.mismatches.len();
        out!(
            "Compared with the log of {} (up to #{}): {agreeing} of {} events the export says are on the server are there as exported.",
            server.server,
            server.head,
            server.compared
        );
        if server.not_on_server > 0 {
            out!(
                "{} events were not yet confirmed on the server when exported; the server was not asked about them.",
                server.not_on_server
            );
        }
        if !server.mismatches.is_empty() {
            out!("THE SERVER DISAGREES about {} event(s):", server.mismatches.len());
            for m in &server.mismatches {
                let why = match m.verdict {
                    Verdict::Same => "the same",
                    Verdict::Different => {
                        "the server holds it with other content: it was changed after it reached the server"
                    }
                    Verdict::OtherEvent => "the server holds another event at that position",
                    Verdict::Absent => "the server holds no event at that position",
                    Verdict::Unknown => {
                        "the server answered in a way this Pluto does not know; check with a newer Pluto"
                    }
                };
                match &m.server_id {
                    Some(other) => {
                        out!("  event {} at server position #{}: {why} ({other})", m.id, m.position)
                    }
                    None => out!("  event {} at server position #{}: {why}", m.id, m.position),
                }
            }
        }
    }

    pub fn verify(&self, drift: &[Drift]) {
        if self.json {
            self.emit(&json!({ "ok": drift.is_empty(), "drift": drift }));
        } else if drift.is_empty() {
            out!("OK: every campaign projection equals a fresh fold of its events.");
        } else {
            out!("Drift found in {} campaigns (run `pluto rebuild` to repair):", drift.len());
            for d in drift {
                out!("  {}: {}", d.campaign_id, d.problem);
            }
        }
    }
}

/// "Everything up to #N from this laptop is on the server", or why that cannot be said yet.
fn completeness(state: &SyncState) -> String {
    match state.server_contiguous_up_to {
        Some(n) if n >= state.highest_local_seq && n > 0 => {
            format!("Everything up to #{n} from this laptop is on the server.")
        }
        Some(n) if n > 0 => format!(
            "Everything up to #{n} from this laptop is on the server; #{}–#{} are not yet.",
            n + 1,
            state.highest_local_seq
        ),
        _ if state.highest_local_seq == 0 => "Nothing has been recorded on this laptop yet.".to_owned(),
        _ => format!(
            "None of this laptop's {} events is confirmed on the server yet.",
            state.highest_local_seq
        ),
    }
}

/// What a sync did on finding the server restored from an earlier backup.
fn rewind_words(rewind: &pluto_store::Rewind) -> String {
    format!(
        "The sync server had lost the entries after #{} (restored from an earlier backup?): {} of this \
         laptop's entries were sent to it again; {} entries of other laptops are kept here and come back \
         when those laptops sync.",
        rewind.after, rewind.own, rewind.others
    )
}

impl Printer {
    pub fn synced(&self, report: &SyncReport, state: &SyncState) {
        if self.json {
            self.emit(&json!({ "report": report, "state": state, "completeness": completeness(state) }));
            return;
        }
        if let Some(rewind) = &report.rewind {
            out!("{}", rewind_words(rewind));
        }
        out!(
            "Pushed {} events ({} refused by the server); pulled {} new events.",
            report.pushed,
            report.refused,
            report.pulled
        );
        out!("{}", completeness(state));
        if report.refused > 0 || state.rejected > 0 {
            out!("{} events were refused by the server: see `pluto status`.", state.rejected);
        }
        if report.pull_refused > 0 {
            out!("{} pulled events could not be taken: see `pluto status`.", report.pull_refused);
        }
    }

    pub fn sync_pass(&self, pass: &Pass<'_>) {
        if self.json {
            let outcome = match pass.outcome {
                Ok(report) => json!({ "ok": report }),
                Err(e) => json!({ "error": e.to_string(), "offline": e.is_offline() }),
            };
            out!(
                "{}",
                json!({ "at": Timestamp::now(), "outcome": outcome, "state": pass.state, "nextInSeconds": pass.next_in.as_secs_f64() })
            );
            return;
        }
        match pass.outcome {
            Ok(r) => out!(
                "{}  synced: pushed {}, refused {}, pulled {}. {}{}",
                Timestamp::now(),
                r.pushed,
                r.refused,
                r.pulled,
                completeness(pass.state),
                r.rewind.as_ref().map_or_else(String::new, |rewind| format!(" {}", rewind_words(rewind)))
            ),
            Err(e) => out!(
                "{}  {}; {} events waiting; next try in {:.0} s",
                Timestamp::now(),
                e,
                pass.state.pending,
                pass.next_in.as_secs_f64()
            ),
        }
    }

    pub fn status(&self, state: &SyncState, rejections: &[Rejection], pull_refusals: &[PullRefusal]) {
        if self.json {
            self.emit(&json!({
                "state": state,
                "completeness": completeness(state),
                "rejections": rejections,
                "pullRefusals": pull_refusals,
            }));
            return;
        }
        let never = || "never".to_owned();
        out!("Events waiting to sync   {}", state.pending);
        out!("Last successful sync     {}", state.last_success_at.map_or_else(never, |t| t.to_string()));
        if let Some(e) = &state.last_error {
            out!("Last error               {e}");
        }
        out!("{}", completeness(state));
        if state.newer_entries > 0 {
            out!(
                "{} entries here were recorded by a newer Pluto: update Pluto to see them in full.",
                state.newer_entries
            );
        }
        if !state.server_newer_types.is_empty() {
            out!(
                "The sync server reads entries this Pluto does not ({}): update Pluto to show everything.",
                state.server_newer_types.join(", ")
            );
        }
        if !rejections.is_empty() {
            out!("\nRefused by the server ({}), kept here:", rejections.len());
            for r in rejections {
                let field = r.field.as_deref().map_or_else(String::new, |f| format!("{f}: "));
                out!("  {} ({}) {field}{}", r.event_id, r.outcome, r.message);
            }
        }
        if !pull_refusals.is_empty() {
            out!("\nPulled from the server but not taken ({}); the rest was applied:", pull_refusals.len());
            for r in pull_refusals {
                let id = r.event_id.as_deref().unwrap_or("an event without a readable id");
                out!("  #{} {id}: {}: {}", r.position, r.field, r.message);
            }
        }
    }
}

/// The JSON shape of an error: its kind, the refused field when there is one, and the message.
pub fn error_json(err: &anyhow::Error) -> Value {
    let message = format!("{err:#}");
    match err.downcast_ref::<StoreError>() {
        Some(StoreError::Refused(refusal)) => json!({
            "kind": "refused",
            "field": refusal.field(),
            "refusal": refusal,
            "message": message,
        }),
        Some(e) if e.is_refusal() => json!({ "kind": "refused", "message": message }),
        _ => json!({ "kind": "failed", "message": message }),
    }
}

/// A period mass balance as text: each figure with its sign in the balance, the check, the
/// restatements, and with `campaigns` the campaigns behind each figure.
pub fn period_report_text(report: &PeriodReport, campaigns: bool) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    let material = report.scope.material.map_or("PI and PCR", |m| m.as_str());
    let site =
        report.scope.site.map_or("whole chain (MBA and RGE)".to_owned(), |s| format!("at {}", s.as_str()));
    let _ = writeln!(
        text,
        "Mass balance {} to {}: {material}, {site}; {}\n",
        report.period.from,
        report.period.to,
        campaigns_words(report.campaigns.len())
    );
    let mut row = |sign: &str, label: &str, parts: bool, figure: &Figure| {
        let unit = if parts { "parts" } else { "kg" };
        let n = campaigns_words(figure.campaigns.len());
        let _ = writeln!(text, "{sign} {label:<48} {:>14.1} {unit:<5} {n:>14}", figure.total);
        if campaigns {
            for share in &figure.campaigns {
                let c = &report.campaigns[share.campaign as usize];
                let _ = writeln!(text, "      {:<44} {:>14.1} {unit}", c.name(), share.amount);
            }
        }
    };
    row(" ", "In process at the start", false, &report.opening);
    for line in &report.lines {
        let sign = match line.role {
            Role::In => "+",
            Role::Lost | Role::Out => "-",
            Role::Info => " ",
        };
        let label =
            if line.role == Role::Info { format!("{} (shown only)", line.label) } else { line.label.clone() };
        row(sign, &label, line.parts, &line.figure);
    }
    row("=", "In process at the end", false, &report.closing);
    let _ = writeln!(text, "\nBalance check (start + in - lost - out - end): {:.1} kg", report.imbalance());
    if !report.yields.is_empty() {
        let _ = writeln!(text, "\nYields of the steps completed in the period:");
        for y in &report.yields {
            let _ = writeln!(
                text,
                "  {:<24} {:>6.1} %  ({:.1} kg in, {:.1} kg out)",
                y.label,
                y.ratio * 100.0,
                y.kg_in,
                y.kg_out
            );
        }
    }
    if !report.implausible.is_empty() {
        let _ = writeln!(
            text,
            "\nImplausible: losses below zero (material appeared), counted above as recorded:"
        );
        for f in &report.implausible {
            let c = &report.campaigns[f.campaign as usize];
            let _ = writeln!(text, "  {} {}: {:.1} kg", c.name(), f.label, f.kg);
        }
    }
    if !report.restated.is_empty() {
        let _ = writeln!(
            text,
            "\nRestated: corrections, voids and entries recorded after the period closed, applied above:"
        );
        for r in &report.restated {
            let c = &report.campaigns[r.campaign as usize];
            let a = &r.amendment;
            let when = a.recorded_at.datetime().format("%Y-%m-%d %H:%M UTC").to_string();
            let reason = if a.reason.is_empty() { String::new() } else { format!(": {}", a.reason) };
            let change = r.change_words(&when, |day| day.to_string());
            let _ = writeln!(text, "  {} {} {change}{reason}", c.name(), r.step);
        }
    }
    text
}

/// "1 campaign", "3 campaigns".
fn campaigns_words(n: usize) -> String {
    format!("{n} campaign{}", if n == 1 { "" } else { "s" })
}
