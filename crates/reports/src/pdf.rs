//! PDF documents made in Rust, not by the webview's print dialog: the chain-of-custody record of
//! a campaign and the period mass balance. A4, in the PDF's built-in Helvetica (every PDF reader
//! has it, so nothing is embedded), with people's names, sites and laptops, local times with
//! their offset, numbers and dates in the reader's language, page numbers, a footer naming the
//! document's fingerprint, signature lines, and TRAINING on every page made in training mode.

use chrono::TimeZone;
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use serde_json::Value;

use crate::period::{PeriodReport, Role};
use crate::record::CampaignRecord;
use pluto_domain::registry::fields::FieldKind;
use pluto_domain::time::Timestamp;

/// The conventions numbers and dates are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub enum Locale {
    /// English: `3,360.2`, `18 Feb 2026`.
    #[serde(rename = "en")]
    En,
    /// Danish: `3.360,2`, `18.02.2026`.
    #[serde(rename = "da")]
    Da,
    /// German: `3.360,2`, `18.02.2026`.
    #[serde(rename = "de")]
    De,
}

impl Locale {
    /// The locale of a language tag (`da-DK`, `de`, `en-GB`); English for any other.
    pub fn from_tag(tag: &str) -> Locale {
        match tag.get(..2).map(str::to_ascii_lowercase).as_deref() {
            Some("da") => Locale::Da,
            Some("de") => Locale::De,
            _ => Locale::En,
        }
    }

    /// `x` with `decimals` decimals and thousands grouped.
    pub fn number(self, x: f64, decimals: usize) -> String {
        let (group, mark) = match self {
            Locale::En => (',', '.'),
            Locale::Da | Locale::De => ('.', ','),
        };
        let text = format!("{:.*}", decimals, x.abs());
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
        let mut grouped = String::new();
        for (i, digit) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i) % 3 == 0 {
                grouped.push(group);
            }
            grouped.push(digit);
        }
        let sign = if x < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') { "-" } else { "" };
        if fraction.is_empty() {
            format!("{sign}{grouped}")
        } else {
            format!("{sign}{grouped}{mark}{fraction}")
        }
    }

    /// A day.
    pub fn date(self, day: chrono::NaiveDate) -> String {
        match self {
            Locale::En => day.format("%-d %b %Y").to_string(),
            Locale::Da | Locale::De => day.format("%d.%m.%Y").to_string(),
        }
    }

    /// An instant in `tz`, with its offset: `18.02.2026 10:12 (UTC+01:00)`.
    pub fn instant<Tz: TimeZone>(self, at: Timestamp, tz: &Tz) -> String
    where
        Tz::Offset: std::fmt::Display,
    {
        let local = at.datetime().with_timezone(tz);
        format!("{} {} (UTC{})", self.date(local.date_naive()), local.format("%H:%M"), local.offset())
    }
}

/// Who made a document, where and when, for its first page and footer.
pub struct Stamp<'a, Tz: TimeZone> {
    /// Numbers and dates.
    pub locale: Locale,
    /// The time zone times are shown in.
    pub tz: &'a Tz,
    /// Made from the training database: every page says so.
    pub training: bool,
    /// When it was made.
    pub made_at: Timestamp,
    /// Who made it, by name.
    pub made_by: String,
    /// The installation's audit key, as `pluto audit-key` prints it.
    pub public_key: String,
}

/// The chain-of-custody record of a campaign. `fingerprint` is the hash chain of an audit export
/// of the same events (`pluto export --audit --campaign …` writes the same in its manifest).
pub fn custody_record<Tz: TimeZone>(record: &CampaignRecord, stamp: &Stamp<Tz>, fingerprint: &str) -> Vec<u8>
where
    Tz::Offset: std::fmt::Display,
{
    let l = stamp.locale;
    let st = &record.state;
    let code = st.lego_campaign_code.clone().unwrap_or_else(|| st.id.to_string());
    let mut doc = Doc::new(stamp.training);
    doc.title(&format!("Chain-of-custody record: {code}"));
    doc.pairs(&[
        ("Campaign", code.clone()),
        ("Material", st.material_type.map_or("not known yet".into(), |m| m.as_str().to_owned())),
        ("Description", st.description.clone().unwrap_or_default()),
        ("Status", st.status.label().to_owned()),
        ("Made", format!("{} by {}", l.instant(stamp.made_at, stamp.tz), stamp.made_by)),
        ("Audit key", format!("{}: signs the audit export the fingerprint names", stamp.public_key)),
    ]);

    doc.heading("Mass balance");
    let mb = &record.mass_balance;
    let kg = |x: f64| format!("{} kg", l.number(x, 1));
    let pct = |x: f64| format!("{} %", l.number(x * 100.0, 1));
    doc.table_header(&[("Stage", 0.0, Align::Left), ("Weight after it", 300.0, Align::Right)]);
    for p in &mb.points {
        doc.table_row(&[(p.stage.clone(), 0.0, Align::Left), (kg(p.weight_kg), 300.0, Align::Right)]);
    }
    if !mb.step_yields.is_empty() {
        doc.gap();
        let rows = mb
            .step_yields
            .iter()
            .map(|y| (y.step.as_str(), y.starting_weight_kg, y.output_weight_kg, y.yield_ratio));
        yields_table(&mut doc, l, [220.0, 320.0, 400.0], rows);
    }
    if !mb.handling_losses.is_empty() {
        doc.gap();
        doc.table_header(&[("Handling loss", 0.0, Align::Left), ("Lost", 320.0, Align::Right)]);
        for h in &mb.handling_losses {
            doc.table_row(&[
                (format!("{} to {}", h.from, h.to), 0.0, Align::Left),
                (kg(h.loss_kg), 320.0, Align::Right),
            ]);
        }
    }
    if let Some(overall) = mb.overall_yield {
        doc.paragraph(Font::Regular, &format!("Overall yield: {}", pct(overall)));
    }

    doc.heading("Entries");
    for entry in &record.events {
        let e = &entry.event;
        let site = entry.site.as_ref().map_or(String::from("site not yet confirmed by the server"), |s| {
            format!("{s} (confirmed by the server)")
        });
        let mut head = format!("{}: {}", l.instant(e.created_at, stamp.tz), entry.label);
        if entry.voided.is_some() {
            head.push_str(" (VOIDED)");
        }
        doc.keep(40.0);
        doc.paragraph(Font::Bold, &head);
        doc.paragraph(Font::Regular, &format!("{}, {site}", entry.recorded_by_name));
        // A correction, void or review is told in words below, not as its raw fields.
        let told = entry.correction.is_some() || entry.void.is_some() || entry.review.is_some();
        for field in entry.fields.iter().filter(|_| !told) {
            let Some(value) = entry.effective.get(field.name).filter(|v| !v.is_null()) else { continue };
            doc.indented(&format!("{}: {}", field.label, value_words(value, field.kind, l)));
        }
        for c in &entry.corrections {
            let label = entry.fields.iter().find(|f| f.name == c.field);
            let (name, kind) = label.map_or((c.field.as_str(), FieldKind::Text), |f| (f.label, f.kind));
            doc.indented(&format!(
                "Corrected {name}: {} -> {}, by {} on {}. Reason: {}",
                value_words(&c.was, kind, l),
                value_words(&c.now, kind, l),
                c.recorded_by_name,
                l.instant(c.recorded_at, stamp.tz),
                c.reason
            ));
        }
        if let Some(v) = &entry.voided {
            doc.indented(&format!(
                "Voided by {} on {}. Reason: {}",
                v.voided_by_name,
                l.instant(v.voided_at, stamp.tz),
                v.reason
            ));
        }
        if let Some(note) = &entry.correction {
            doc.indented(&format!("Corrects {}. Reason: {}", note.corrects_label, note.reason));
        }
        if let Some(void) = &entry.void {
            doc.indented(&format!("Voids {}. Reason: {}", void.voids_label, void.reason));
        }
        if let Some(review) = &entry.review {
            doc.indented(&format!("Reviews the anomaly on {}: {}", review.entry_label, review.note));
        }
    }

    if !record.anomalies.is_empty() {
        doc.heading("Anomalies");
        for a in &record.anomalies {
            doc.paragraph(Font::Regular, &a.anomaly.message);
            // Advice only while something is to be done: a reviewed or resolved anomaly says so.
            match (&a.anomaly.review, &a.reviewed_by_name) {
                (Some(review), Some(name)) => doc.indented(&format!(
                    "Reviewed by {name} on {}: {}",
                    l.instant(review.reviewed_at, stamp.tz),
                    review.note
                )),
                _ if a.anomaly.resolved => {
                    doc.indented("Resolved: the missing steps were recorded, and this entry took effect.")
                }
                _ => doc.indented(&format!("{} Not reviewed yet.", a.remedy)),
            }
        }
    }
    // The sign-off, never on a page of its own: it stays with the statement of what is signed.
    let closing = format!(
        "This record holds {} entries. Fingerprint of their audit export (every page names its first \
         16 digits): {fingerprint}. This PDF carries no digital signature: the signatures below are \
         made on paper.",
        record.events.len()
    );
    doc.closing(&closing, &["Recorded for the site by", "Checked by (auditor)"]);
    doc.finish(&format!("{code} · fingerprint {}", short(fingerprint)))
}

/// The period mass balance. `fingerprint` names the report's figures (a SHA-256 of its JSON).
pub fn period_report<Tz: TimeZone>(report: &PeriodReport, stamp: &Stamp<Tz>, fingerprint: &str) -> Vec<u8>
where
    Tz::Offset: std::fmt::Display,
{
    let l = stamp.locale;
    let mut doc = Doc::new(stamp.training);
    doc.title("Period mass balance");
    doc.pairs(&[
        ("Period", format!("{} to {}", l.date(report.period.from.0), l.date(report.period.to.0))),
        ("Material", report.scope.material.map_or("PI and PCR".into(), |m| m.as_str().to_owned())),
        ("Site", report.scope.site.map_or("Whole chain (MBA and RGE)".into(), |s| s.as_str().to_owned())),
        ("Campaigns", l.number(report.campaigns.len() as f64, 0)),
        ("Made", format!("{} by {}", l.instant(stamp.made_at, stamp.tz), stamp.made_by)),
        ("Installation key", stamp.public_key.clone()),
    ]);
    doc.heading("Balance");
    let cols = |label: String, role: &str, amount: String, n: usize| {
        [
            (label, 0.0, Align::Left),
            (role.to_owned(), 300.0, Align::Left),
            (amount, 430.0, Align::Right),
            (l.number(n as f64, 0), 495.0, Align::Right),
        ]
    };
    doc.table_header(&[
        ("Figure", 0.0, Align::Left),
        ("Counts as", 300.0, Align::Left),
        ("Amount", 430.0, Align::Right),
        ("Campaigns", 495.0, Align::Right),
    ]);
    let amount = |x: f64, parts: bool| {
        if parts {
            format!("{} parts", l.number(x, 0))
        } else {
            format!("{} kg", l.number(x, 1))
        }
    };
    let o = &report.opening;
    doc.table_row(&cols(
        "In process at the start".into(),
        "opening",
        amount(o.total, false),
        o.campaigns.len(),
    ));
    for line in &report.lines {
        let role = match line.role {
            Role::In => "in",
            Role::Lost => "lost",
            Role::Out => "out",
            Role::Info => "shown only",
        };
        let f = &line.figure;
        doc.table_row(&cols(line.label.clone(), role, amount(f.total, line.parts), f.campaigns.len()));
    }
    let c = &report.closing;
    doc.table_row(&cols(
        "In process at the end".into(),
        "closing",
        amount(c.total, false),
        c.campaigns.len(),
    ));
    doc.paragraph(
        Font::Regular,
        &format!("Balance check (start + in - lost - out - end): {}", amount(report.imbalance(), false)),
    );
    if !report.yields.is_empty() {
        doc.heading("Yields of the steps completed in the period");
        let rows = report.yields.iter().map(|y| (y.label.as_str(), y.kg_in, y.kg_out, y.ratio));
        yields_table(&mut doc, l, [300.0, 400.0, 495.0], rows);
    }
    if !report.implausible.is_empty() {
        doc.heading("Implausible figures");
        doc.paragraph(
            Font::Regular,
            "Losses below zero: material appeared where it cannot. They are counted above as recorded; \
             correct the weights behind them.",
        );
        for f in &report.implausible {
            let campaign = &report.campaigns[f.campaign as usize];
            doc.indented(&format!("{} {}: {}", campaign.name(), f.label, amount(f.kg, false)));
        }
    }
    if !report.restated.is_empty() {
        doc.heading("Restated after the period closed");
        for r in &report.restated {
            let campaign = &report.campaigns[r.campaign as usize];
            let a = &r.amendment;
            let change = r.change_words(&l.instant(a.recorded_at, stamp.tz), |day| l.date(day.0));
            let mut line = format!("{} {}: {change}.", campaign.name(), r.step);
            if !a.reason.is_empty() {
                line.push_str(&format!(" Reason: {}", a.reason));
            }
            doc.paragraph(Font::Regular, &line);
        }
    }
    doc.heading("Campaigns behind the figures");
    for (i, campaign) in report.campaigns.iter().enumerate().take(MAX_LISTED) {
        let mut shares = Vec::new();
        let figures = std::iter::once(("start", false, o))
            .chain(report.lines.iter().map(|line| (line.label.as_str(), line.parts, &line.figure)))
            .chain(std::iter::once(("end", false, c)));
        for (label, parts, figure) in figures {
            if let Some(share) = figure.campaigns.iter().find(|s| s.campaign as usize == i) {
                shares.push(format!("{label} {}", amount(share.amount, parts)));
            }
        }
        let code = campaign.name();
        doc.paragraph(Font::Regular, &format!("{code}: {}", shares.join("; ")));
    }
    if report.campaigns.len() > MAX_LISTED {
        doc.paragraph(
            Font::Regular,
            &format!(
                "and {} more campaigns: the Excel workbook and the JSON of this report list every one.",
                l.number((report.campaigns.len() - MAX_LISTED) as f64, 0)
            ),
        );
    }
    let closing = format!(
        "Fingerprint of this report's figures (every page names its first 16 digits): {fingerprint}. \
         This PDF carries no digital signature: the signatures below are made on paper."
    );
    doc.closing(&closing, &["Prepared by", "Checked by (auditor)"]);
    let period = format!("{} to {}", report.period.from, report.period.to);
    doc.finish(&format!("mass balance {period} · fingerprint {}", short(fingerprint)))
}

/// Campaigns a period report's PDF lists one by one; a report over more is read as a workbook.
const MAX_LISTED: usize = 500;

/// The first 16 hex digits of a fingerprint, enough to compare by eye.
/// A table of steps, each with what it took in, what it put out and its yield, the three
/// columns ending at `at`.
fn yields_table<'a>(
    doc: &mut Doc,
    l: Locale,
    at: [f32; 3],
    rows: impl Iterator<Item = (&'a str, f64, f64, f64)>,
) {
    doc.table_header(&[
        ("Step", 0.0, Align::Left),
        ("In", at[0], Align::Right),
        ("Out", at[1], Align::Right),
        ("Yield", at[2], Align::Right),
    ]);
    for (step, kg_in, kg_out, ratio) in rows {
        doc.table_row(&[
            (step.to_owned(), 0.0, Align::Left),
            (format!("{} kg", l.number(kg_in, 1)), at[0], Align::Right),
            (format!("{} kg", l.number(kg_out, 1)), at[1], Align::Right),
            (format!("{} %", l.number(ratio * 100.0, 1)), at[2], Align::Right),
        ]);
    }
}

fn short(fingerprint: &str) -> &str {
    fingerprint.get(..16).unwrap_or(fingerprint)
}

/// A payload value in words: numbers localised with their unit, dates in the locale's form.
fn value_words(value: &Value, kind: FieldKind, l: Locale) -> String {
    match (kind, value) {
        (FieldKind::Weight, Value::Number(n)) => {
            format!("{} kg", l.number(n.as_f64().unwrap_or_default(), 1))
        }
        (FieldKind::Hours, Value::Number(n)) => format!("{} h", l.number(n.as_f64().unwrap_or_default(), 1)),
        (FieldKind::Quantity, Value::Number(n)) => l.number(n.as_f64().unwrap_or_default(), 0),
        (FieldKind::Date, Value::String(s)) => {
            pluto_domain::time::parse_date(s).map_or_else(|_| s.clone(), |d| l.date(d.0))
        }
        (_, Value::String(s)) => s.clone(),
        (_, Value::Null) => "(empty)".into(),
        (_, other) => other.to_string(),
    }
}

/// A4 in points.
const PAGE: (f32, f32) = (595.0, 842.0);
const LEFT: f32 = 50.0;
const RIGHT: f32 = 545.0;
const TOP: f32 = 792.0;
/// Lowest baseline of the body; the footer sits below it.
const BOTTOM: f32 = 70.0;
const BODY: f32 = 9.5;

#[derive(Clone, Copy)]
enum Font {
    Regular,
    Bold,
}

impl Font {
    fn name(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
        }
    }
}

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

/// Pages laid out top to bottom, one line at a time.
struct Doc {
    pages: Vec<Content>,
    y: f32,
    training: bool,
}

impl Doc {
    fn new(training: bool) -> Doc {
        let mut doc = Doc { pages: Vec::new(), y: TOP, training };
        doc.new_page();
        doc
    }

    fn new_page(&mut self) {
        let mut page = Content::new();
        if self.training {
            page.set_fill_rgb(0.70, 0.0, 0.0);
            text(
                &mut page,
                Font::Bold,
                11.0,
                LEFT,
                PAGE.1 - 32.0,
                "TRAINING: practice data, not a real record",
            );
            page.set_fill_gray(0.0);
        }
        self.pages.push(page);
        self.y = TOP;
    }

    fn page(&mut self) -> &mut Content {
        self.pages.last_mut().expect("a document has a page")
    }

    /// Starts a new page unless `height` points fit on this one.
    fn keep(&mut self, height: f32) {
        if self.y - height < BOTTOM {
            self.new_page();
        }
    }

    fn line(&mut self, font: Font, size: f32, x: f32, s: &str) {
        self.keep(size * 1.4);
        self.y -= size * 1.4;
        let y = self.y;
        text(self.page(), font, size, x, y, s);
    }

    fn title(&mut self, s: &str) {
        self.line(Font::Bold, 16.0, LEFT, s);
        self.y -= 6.0;
    }

    fn heading(&mut self, s: &str) {
        self.keep(40.0);
        self.y -= 10.0;
        self.line(Font::Bold, 12.0, LEFT, s);
        self.y -= 2.0;
    }

    fn gap(&mut self) {
        self.y -= 6.0;
    }

    fn pairs(&mut self, pairs: &[(&str, String)]) {
        for (label, value) in pairs {
            let lines = wrap(value, RIGHT - LEFT - 90.0, BODY);
            for (i, part) in lines.iter().enumerate() {
                self.line(Font::Regular, BODY, LEFT + 90.0, part);
                if i == 0 {
                    let y = self.y;
                    text(self.page(), Font::Bold, BODY, LEFT, y, label);
                }
            }
        }
    }

    fn paragraph(&mut self, font: Font, s: &str) {
        for part in wrap(s, RIGHT - LEFT, BODY) {
            self.line(font, BODY, LEFT, &part);
        }
    }

    fn indented(&mut self, s: &str) {
        for part in wrap(s, RIGHT - LEFT - 15.0, BODY) {
            self.line(Font::Regular, BODY, LEFT + 15.0, &part);
        }
    }

    fn cells(&mut self, font: Font, cells: &[(String, f32, Align)]) {
        self.keep(BODY * 1.4);
        self.y -= BODY * 1.4;
        let y = self.y;
        for (s, x, align) in cells {
            let x = match align {
                Align::Left => LEFT + x,
                Align::Right => LEFT + x - width(s, BODY),
            };
            text(self.page(), font, BODY, x, y, s);
        }
    }

    fn table_header(&mut self, cells: &[(&str, f32, Align)]) {
        self.keep(BODY * 4.0);
        let cells: Vec<(String, f32, Align)> =
            cells.iter().map(|(s, x, a)| ((*s).to_owned(), *x, *a)).collect();
        self.cells(Font::Bold, &cells);
        let y = self.y - 3.0;
        let page = self.page();
        page.set_line_width(0.5);
        page.move_to(LEFT, y);
        page.line_to(RIGHT, y);
        page.stroke();
        self.y -= 2.0;
    }

    fn table_row(&mut self, cells: &[(String, f32, Align)]) {
        self.cells(Font::Regular, cells);
    }

    /// A closing statement and the signature lines for `roles`, kept on one page so that the
    /// signatures never stand alone.
    fn closing(&mut self, statement: &str, roles: &[&str]) {
        let lines = wrap(statement, RIGHT - LEFT, BODY).len() as f32;
        self.keep(16.0 + lines * BODY * 1.4 + Self::signatures_height(roles));
        self.y -= 16.0;
        self.paragraph(Font::Regular, statement);
        self.signatures(roles);
    }

    fn signatures_height(roles: &[&str]) -> f32 {
        50.0 * roles.len() as f32 + 20.0
    }

    fn signatures(&mut self, roles: &[&str]) {
        self.keep(Self::signatures_height(roles));
        self.y -= 20.0;
        for role in roles {
            self.y -= 40.0;
            let y = self.y;
            let page = self.page();
            page.set_line_width(0.5);
            page.move_to(LEFT, y);
            page.line_to(LEFT + 260.0, y);
            page.move_to(LEFT + 300.0, y);
            page.line_to(RIGHT, y);
            page.stroke();
            text(page, Font::Regular, 8.0, LEFT, y - 10.0, &format!("{role}: name and signature"));
            text(page, Font::Regular, 8.0, LEFT + 300.0, y - 10.0, "Date");
            self.y -= 10.0;
        }
    }

    /// The PDF, each page with a footer: `footer`, the page number and the page count.
    fn finish(self, footer: &str) -> Vec<u8> {
        let mut pdf = Pdf::new();
        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let regular = Ref::new(3);
        let bold = Ref::new(4);
        let info = Ref::new(5);
        let first = 6;
        let count = self.pages.len();
        let page_ids: Vec<Ref> = (0..count).map(|i| Ref::new(first + 2 * i as i32)).collect();
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree).kids(page_ids.iter().copied()).count(count as i32);
        pdf.type1_font(regular).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.type1_font(bold).base_font(Name(b"Helvetica-Bold")).encoding_predefined(Name(b"WinAnsiEncoding"));
        let title = if self.training { format!("TRAINING: {footer}") } else { footer.to_owned() };
        pdf.document_info(info).title(TextStr(&title)).producer(TextStr("Pluto Tracker"));
        for (i, mut content) in self.pages.into_iter().enumerate() {
            let mut words = format!("Pluto Tracker · {footer} · page {} of {count}", i + 1);
            if self.training {
                words = format!("TRAINING · {words}");
            }
            content.set_fill_gray(0.3);
            text(&mut content, Font::Regular, 7.5, LEFT, 40.0, &words);
            let id = page_ids[i];
            let contents = Ref::new(id.get() + 1);
            let mut page = pdf.page(id);
            page.media_box(Rect::new(0.0, 0.0, PAGE.0, PAGE.1));
            page.parent(tree);
            page.contents(contents);
            let mut resources = page.resources();
            let mut fonts = resources.fonts();
            fonts.pair(Font::Regular.name(), regular);
            fonts.pair(Font::Bold.name(), bold);
            fonts.finish();
            resources.finish();
            page.finish();
            pdf.stream(contents, &content.finish());
        }
        pdf.finish()
    }
}

/// Writes `s` at (`x`, `y`).
fn text(page: &mut Content, font: Font, size: f32, x: f32, y: f32, s: &str) {
    page.begin_text();
    page.set_font(font.name(), size);
    page.next_line(x, y);
    page.show(Str(&win_ansi(s)));
    page.end_text();
}

/// `s` in WinAnsiEncoding, the built-in fonts' encoding: Latin-1 (æ, ø, å, ä, ö, ü, ß, é …)
/// and the typographic marks Windows-1252 adds; any other character as `?`.
fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            ' '..='~' | '\u{a0}'..='\u{ff}' => c as u8,
            '€' => 0x80,
            '‚' => 0x82,
            '„' => 0x84,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' | '−' => 0x96,
            '—' => 0x97,
            _ => b'?',
        })
        .collect()
}

/// Advance widths of Helvetica's ASCII glyphs, in thousandths of the font size (its AFM).
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556, 556,
    556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778, 722, 278,
    500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469,
    556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500,
    278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

/// The width of `s` in Helvetica at `size` points (other characters count as a digit).
fn width(s: &str, size: f32) -> f32 {
    let units: u32 = s
        .chars()
        .map(|c| match c {
            ' '..='~' => u32::from(HELVETICA[c as usize - 32]),
            _ => 556,
        })
        .sum();
    units as f32 * size / 1000.0
}

/// `s` broken into lines no wider than `max` points, at spaces where it can be.
fn wrap(s: &str, max: f32, size: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in s.split(' ') {
        let candidate = if current.is_empty() { word.to_owned() } else { format!("{current} {word}") };
        if width(&candidate, size) <= max || current.is_empty() {
            current = candidate;
        } else {
            lines.push(std::mem::take(&mut current));
            current = word.to_owned();
        }
    }
    lines.push(current);
    lines
}

#[cfg(test)]
mod tests;
