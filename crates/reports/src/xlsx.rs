//! Excel workbooks (`.xlsx`) of the period mass balance, a campaign's chain-of-custody record
//! and the campaign list: typed numbers and dates, frozen headers, set column widths. Number formats in a workbook are written once and shown in each reader's
//! own convention (`1.234,5` in Danish and German Excel, `1,234.5` in English).

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use serde_json::Value;

use pluto_domain::time::parse_date;

use crate::period::{PeriodReport, Role};
use crate::record::{CampaignRecord, CUSTODY_HEADER, TRAINING_LINE};
use pluto_domain::quantity::tenths;
use pluto_domain::registry::fields::FieldKind;
use pluto_domain::time::Timestamp;
use pluto_store::{CampaignSummary, ListQuery, SortOrder};

/// Kilograms with one decimal and thousands grouped.
const KG: &str = "#,##0.0";
/// Whole parts with thousands grouped.
const PARTS: &str = "#,##0";
/// A share as a percentage with one decimal.
const SHARE: &str = "0.0%";
/// An ISO day, which every locale's Excel reads back as a date.
const DAY: &str = "yyyy-mm-dd";
/// A day and time (UTC).
const INSTANT: &str = "yyyy-mm-dd hh:mm";
/// A day and time to the second, as the chain of custody records it.
const INSTANT_SECONDS: &str = "yyyy-mm-dd hh:mm:ss";

/// The workbook of `report`: the balance, the campaigns behind each figure, the steps' yields,
/// the implausible figures and what was recorded after the period closed. `training` marks every sheet as training data.
pub fn period_report(report: &PeriodReport, training: bool) -> Result<Vec<u8>, XlsxError> {
    let bold = Format::new().set_bold();
    let kg = Format::new().set_num_format(KG);
    let parts = Format::new().set_num_format(PARTS);
    let day = Format::new().set_num_format(DAY);
    let instant = Format::new().set_num_format(INSTANT);
    // Kilograms to a tenth, as the domain records them: no sum's binary noise reaches a cell.
    let amount = |ws: &mut Worksheet, row: u32, col: u16, value: f64, is_parts: bool| {
        ws.write_number_with_format(row, col, tenths(value), if is_parts { &parts } else { &kg }).map(|_| ())
    };
    let mut workbook = Workbook::new();

    let ws = workbook.add_worksheet().set_name("Mass balance")?;
    let title = if training {
        "TRAINING (practice data, not a real record): period mass balance"
    } else {
        "Pluto Tracker: period mass balance"
    };
    ws.write_string_with_format(0, 0, title, &bold)?;
    ws.write_string(1, 0, "Period")?;
    ws.write_date_with_format(1, 1, report.period.from.0, &day)?;
    ws.write_date_with_format(1, 2, report.period.to.0, &day)?;
    ws.write_string(2, 0, "Material")?;
    ws.write_string(2, 1, report.scope.material.map_or("PI and PCR", |m| m.as_str()))?;
    ws.write_string(3, 0, "Site")?;
    ws.write_string(3, 1, report.scope.site.map_or("Whole chain (MBA and RGE)", |s| s.as_str()))?;
    let header = 5;
    headings(ws, header, ["Figure", "Counts as", "Unit", "Amount", "Campaigns"], &bold)?;
    let mut row = header + 1;
    let mut put = |ws: &mut Worksheet, label: &str, role: &str, is_parts: bool, total: f64, n: usize| {
        ws.write_string(row, 0, label)?;
        ws.write_string(row, 1, role)?;
        ws.write_string(row, 2, if is_parts { "parts" } else { "kg" })?;
        amount(ws, row, 3, total, is_parts)?;
        ws.write_number(row, 4, n as f64)?;
        row += 1;
        Ok::<(), XlsxError>(())
    };
    put(
        ws,
        "In process at the start",
        "opening",
        false,
        report.opening.total,
        report.opening.campaigns.len(),
    )?;
    for line in &report.lines {
        put(
            ws,
            &line.label,
            role_words(line.role),
            line.parts,
            line.figure.total,
            line.figure.campaigns.len(),
        )?;
    }
    put(ws, "In process at the end", "closing", false, report.closing.total, report.closing.campaigns.len())?;
    put(ws, "Balance check (start + in − lost − out − end)", "check", false, report.imbalance(), 0)?;
    ws.set_freeze_panes(header + 1, 0)?;
    for (col, width) in [(0, 46.0), (1, 12.0), (2, 7.0), (3, 14.0), (4, 11.0)] {
        ws.set_column_width(col, width)?;
    }

    let ws = workbook.add_worksheet().set_name("Campaigns")?;
    headings(ws, 0, ["Figure", "Campaign", "Material", "Unit", "Amount", "Campaign id"], &bold)?;
    let figures = std::iter::once(("In process at the start", false, &report.opening))
        .chain(report.lines.iter().map(|l| (l.label.as_str(), l.parts, &l.figure)))
        .chain(std::iter::once(("In process at the end", false, &report.closing)));
    let mut row = 1;
    for (label, is_parts, figure) in figures {
        for share in &figure.campaigns {
            let campaign = &report.campaigns[share.campaign as usize];
            ws.write_string(row, 0, label)?;
            ws.write_string(row, 1, campaign.code.as_deref().unwrap_or("(not received yet)"))?;
            ws.write_string(row, 2, campaign.material.map_or("", |m| m.as_str()))?;
            ws.write_string(row, 3, if is_parts { "parts" } else { "kg" })?;
            amount(ws, row, 4, share.amount, is_parts)?;
            ws.write_string(row, 5, campaign.id.as_str())?;
            row += 1;
        }
    }
    ws.set_freeze_panes(1, 0)?;
    for (col, width) in [(0, 46.0), (1, 18.0), (2, 9.0), (3, 7.0), (4, 14.0), (5, 32.0)] {
        ws.set_column_width(col, width)?;
    }

    let ws = workbook.add_worksheet().set_name("Yields")?;
    headings(ws, 0, ["Step", "In (kg)", "Out (kg)", "Yield"], &bold)?;
    if report.yields.is_empty() {
        ws.write_string(1, 0, "No processing step was completed in this period.")?;
    }
    let share = Format::new().set_num_format(SHARE);
    for (i, y) in report.yields.iter().enumerate() {
        let row = i as u32 + 1;
        ws.write_string(row, 0, &y.label)?;
        amount(ws, row, 1, y.kg_in, false)?;
        amount(ws, row, 2, y.kg_out, false)?;
        ws.write_number_with_format(row, 3, y.ratio, &share)?;
    }
    for (col, width) in [(0, 24.0), (1, 14.0), (2, 14.0), (3, 10.0)] {
        ws.set_column_width(col, width)?;
    }

    let ws = workbook.add_worksheet().set_name("Implausible")?;
    headings(ws, 0, ["Campaign", "Figure", "kg"], &bold)?;
    if report.implausible.is_empty() {
        ws.write_string(1, 0, "No loss below zero: no material appeared in this period's figures.")?;
    }
    for (i, f) in report.implausible.iter().enumerate() {
        let row = i as u32 + 1;
        let campaign = &report.campaigns[f.campaign as usize];
        ws.write_string(row, 0, campaign.name())?;
        ws.write_string(row, 1, &f.label)?;
        amount(ws, row, 2, f.kg, false)?;
    }
    for (col, width) in [(0, 18.0), (1, 40.0), (2, 12.0)] {
        ws.set_column_width(col, width)?;
    }

    let ws = workbook.add_worksheet().set_name("Restated")?;
    headings(
        ws,
        0,
        ["Campaign", "Step", "Change", "Recorded at (UTC)", "Day of the step", "Moved from", "Reason"],
        &bold,
    )?;
    if report.restated.is_empty() {
        ws.write_string(1, 0, "No correction, void or entry recorded after the period closed changes it.")?;
    }
    for (i, r) in report.restated.iter().enumerate() {
        let row = i as u32 + 1;
        let campaign = &report.campaigns[r.campaign as usize];
        ws.write_string(row, 0, campaign.name())?;
        ws.write_string(row, 1, &r.step)?;
        ws.write_string(row, 2, r.amendment.kind.words())?;
        ws.write_datetime_with_format(row, 3, r.amendment.recorded_at.datetime().naive_utc(), &instant)?;
        ws.write_date_with_format(row, 4, r.amendment.day.0, &day)?;
        if let Some(from) = r.amendment.moved_from {
            ws.write_date_with_format(row, 5, from.0, &day)?;
        }
        ws.write_string(row, 6, &r.amendment.reason)?;
    }
    ws.set_freeze_panes(1, 0)?;
    for (col, width) in [(0, 18.0), (1, 22.0), (2, 14.0), (3, 18.0), (4, 14.0), (5, 14.0), (6, 50.0)] {
        ws.set_column_width(col, width)?;
    }
    finish(workbook, training)
}

/// The custody workbook's column headings: the CSV's columns ([`CUSTODY_HEADER`], names for
/// programs) in the words of the people who open the workbook, in the same order.
pub const CUSTODY_HEADINGS: [&str; CUSTODY_HEADER.len()] = [
    "Campaign id",
    "LEGO campaign code",
    "Entry id",
    "Entry type",
    "Step",
    "Recorded at",
    "UTC offset",
    "Recorded at (UTC)",
    "User id",
    "Recorded by",
    "Laptop id",
    "Site (confirmed by the server)",
    "Field",
    "Value as recorded",
    "Value now",
    "Corrected by (entry ids)",
    "Reasons for the corrections",
    "Voided by (entry id)",
    "Reason for the void",
];

/// The workbook of a campaign's chain-of-custody record: the columns of the CSV under
/// [`CUSTODY_HEADINGS`], one row per field of every entry (named by its label), with recorded and effective values
/// typed (weights and counts as numbers, dates as dates), the recording time in the zone `tz`
/// beside its offset and the UTC instant.
pub fn custody_record<Tz: chrono::TimeZone>(
    record: &CampaignRecord,
    tz: &Tz,
    training: bool,
) -> Result<Vec<u8>, XlsxError>
where
    Tz::Offset: std::fmt::Display,
{
    let bold = Format::new().set_bold();
    let day = Format::new().set_num_format(DAY);
    let instant = Format::new().set_num_format(INSTANT_SECONDS);
    let mut workbook = Workbook::new();
    let ws = workbook.add_worksheet().set_name("Chain of custody")?;
    let title = if training { TRAINING_LINE } else { "Pluto Tracker: chain-of-custody record" };
    ws.write_string_with_format(0, 0, title, &bold)?;
    let state = &record.state;
    ws.write_string(1, 0, "Campaign")?;
    ws.write_string(1, 1, state.lego_campaign_code.as_deref().unwrap_or("(no code)"))?;
    ws.write_string(2, 0, "Material")?;
    ws.write_string(2, 1, state.material_type.map_or("", |m| m.as_str()))?;
    ws.write_string(3, 0, "Status")?;
    ws.write_string(3, 1, state.status.label())?;
    let header = 5;
    headings(ws, header, CUSTODY_HEADINGS, &bold)?;
    let code = state.lego_campaign_code.as_deref().unwrap_or_default();
    let mut row = header;
    for r in record.custody_rows() {
        row += 1;
        let e = &r.entry.event;
        let local = e.created_at.datetime().with_timezone(tz);
        let spec = r.entry.fields.iter().find(|f| f.name == r.field);
        let kind = spec.map(|f| f.kind);
        ws.write_string(row, 0, e.stream_id.as_str())?;
        ws.write_string(row, 1, code)?;
        ws.write_string(row, 2, e.id.as_str())?;
        ws.write_string(row, 3, e.event_type.as_str())?;
        ws.write_string(row, 4, &r.entry.label)?;
        ws.write_datetime_with_format(row, 5, local.naive_local(), &instant)?;
        ws.write_string(row, 6, format!("UTC{}", local.offset()))?;
        ws.write_datetime_with_format(row, 7, e.created_at.datetime().naive_utc(), &instant)?;
        ws.write_string(row, 8, e.user_id.as_str())?;
        ws.write_string(row, 9, &r.entry.recorded_by_name)?;
        ws.write_string(row, 10, e.device_id.as_str())?;
        ws.write_string(row, 11, r.entry.site.as_deref().unwrap_or_default())?;
        ws.write_string(row, 12, spec.map_or(r.field.as_str(), |f| f.label))?;
        value(ws, row, 13, r.recorded, kind, &day)?;
        value(ws, row, 14, r.effective, kind, &day)?;
        ws.write_string(row, 15, r.correction_ids())?;
        ws.write_string(row, 16, r.correction_reasons())?;
        let voided = r.entry.voided.as_ref();
        ws.write_string(row, 17, voided.map_or(String::new(), |v| v.void_id.to_string()))?;
        ws.write_string(row, 18, voided.map_or("", |v| v.reason.as_str()))?;
    }
    ws.set_freeze_panes(header + 1, 0)?;
    ws.autofilter(header, 0, row.max(header + 1), CUSTODY_HEADER.len() as u16 - 1)?;
    let widths = [32.0, 18.0, 32.0, 24.0, 22.0, 20.0, 11.0, 20.0, 24.0, 18.0, 32.0, 10.0, 22.0, 16.0, 16.0];
    for (col, width) in widths.into_iter().enumerate() {
        ws.set_column_width(col as u16, width)?;
    }
    for col in 15..CUSTODY_HEADER.len() as u16 {
        ws.set_column_width(col, 30.0)?;
    }
    finish(workbook, training)
}

/// The workbook of the campaign list: every campaign of `rows` (those `query` matches, in its
/// order), with the filter it was made with written above the table.
pub fn campaign_list(
    rows: &[CampaignSummary],
    query: &ListQuery,
    training: bool,
) -> Result<Vec<u8>, XlsxError> {
    let bold = Format::new().set_bold();
    let kg = Format::new().set_num_format(KG);
    let instant = Format::new().set_num_format(INSTANT);
    let mut workbook = Workbook::new();
    let ws = workbook.add_worksheet().set_name("Campaigns")?;
    let title = if training { TRAINING_LINE } else { "Pluto Tracker: campaigns" };
    ws.write_string_with_format(0, 0, title, &bold)?;
    ws.write_string(1, 0, "Status")?;
    ws.write_string(1, 1, query.status.map_or("any", |s| s.label()))?;
    ws.write_string(2, 0, "Code or description contains")?;
    ws.write_string(
        2,
        1,
        query.search.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or("(anything)"),
    )?;
    ws.write_string(3, 0, "Order")?;
    ws.write_string(
        3,
        1,
        match query.sort {
            SortOrder::LastActivity => "last activity, newest first",
            SortOrder::Code => "campaign code",
            SortOrder::Created => "creation, newest first",
        },
    )?;
    let header = 5;
    let columns = [
        ("Code", 18.0),
        ("Material", 9.0),
        ("Description", 36.0),
        ("Status", 24.0),
        ("Last step", 22.0),
        ("Next step", 22.0),
        ("Weight now (kg)", 15.0),
        ("ECHA approved", 13.0),
        ("Last activity (UTC)", 18.0),
        ("Entries", 8.0),
        ("Anomalies to review", 12.0),
        ("Only on this laptop", 12.0),
        ("Campaign id", 32.0),
    ];
    for (col, (name, width)) in columns.into_iter().enumerate() {
        ws.write_string_with_format(header, col as u16, name, &bold)?;
        ws.set_column_width(col as u16, width)?;
    }
    let mut row = header;
    for c in rows {
        row += 1;
        ws.write_string(row, 0, c.lego_campaign_code.as_deref().unwrap_or_default())?;
        ws.write_string(row, 1, c.material_type.map_or("", |m| m.as_str()))?;
        ws.write_string(row, 2, c.description.as_deref().unwrap_or_default())?;
        ws.write_string(row, 3, c.status.label())?;
        ws.write_string(row, 4, &c.current_step)?;
        ws.write_string(row, 5, c.next_expected_step.as_deref().unwrap_or("(completed)"))?;
        if let Some(weight) = c.current_weight_kg {
            ws.write_number_with_format(row, 6, weight, &kg)?;
        }
        ws.write_boolean(row, 7, c.echa_approved)?;
        match Timestamp::parse(&c.updated_at) {
            Ok(t) => ws.write_datetime_with_format(row, 8, t.datetime().naive_utc(), &instant)?,
            Err(_) => ws.write_string(row, 8, &c.updated_at)?,
        };
        ws.write_number(row, 9, f64::from(c.event_count))?;
        ws.write_number(row, 10, f64::from(c.anomaly_count))?;
        ws.write_boolean(row, 11, c.unsynced)?;
        ws.write_string(row, 12, &c.id)?;
    }
    ws.set_freeze_panes(header + 1, 0)?;
    ws.autofilter(header, 0, row.max(header + 1), columns.len() as u16 - 1)?;
    finish(workbook, training)
}

/// A value of an entry as a typed cell: numbers as numbers, a date field's day as a date, text
/// as text (never run as a formula), anything else as its JSON.
fn value(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    value: Option<&Value>,
    kind: Option<FieldKind>,
    day: &Format,
) -> Result<(), XlsxError> {
    match value {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) => {
                ws.write_number(row, col, x)?;
            }
            None => {
                ws.write_string(row, col, n.to_string())?;
            }
        },
        Some(Value::String(s)) => match (kind, parse_date(s)) {
            (Some(FieldKind::Date), Ok(date)) => {
                ws.write_date_with_format(row, col, date.0, day)?;
            }
            _ => {
                ws.write_string(row, col, s)?;
            }
        },
        Some(Value::Bool(b)) => {
            ws.write_boolean(row, col, *b)?;
        }
        Some(other) => {
            ws.write_string(row, col, other.to_string())?;
        }
    }
    Ok(())
}

/// Writes a table's column names in bold across `row`.
fn headings<'n>(
    ws: &mut Worksheet,
    row: u32,
    names: impl IntoIterator<Item = &'n str>,
    bold: &Format,
) -> Result<(), XlsxError> {
    for (col, name) in names.into_iter().enumerate() {
        ws.write_string_with_format(row, col as u16, name, bold)?;
    }
    Ok(())
}

/// The workbook's bytes; a training workbook says so in every sheet's printed header.
fn finish(mut workbook: Workbook, training: bool) -> Result<Vec<u8>, XlsxError> {
    if training {
        for ws in workbook.worksheets_mut() {
            ws.set_header(format!("&C{TRAINING_LINE}"));
        }
    }
    workbook.save_to_buffer()
}

/// How a line enters the balance, in the words of the sheet.
fn role_words(role: Role) -> &'static str {
    match role {
        Role::In => "in",
        Role::Lost => "lost",
        Role::Out => "out",
        Role::Info => "shown only",
    }
}

#[cfg(test)]
mod tests {
    use calamine::{Data, DataType, Reader, Xlsx};

    use super::*;
    use crate::period::{Measure, Period, PeriodReportBuilder, Scope};
    use pluto_domain::flows::Flows;
    use pluto_domain::ids::CampaignId;
    use pluto_domain::registry::flow::Flow;
    use pluto_domain::registry::CampaignStatus;
    use pluto_domain::time::parse_date;

    fn report() -> PeriodReport {
        let mut flows = Flows::default();
        let d = |s| parse_date(s).unwrap();
        let kg = |i, o| Flow { kg_in: i, kg_out: o, ..Flow::default() };
        flows.record(CampaignStatus::InboundShipmentRecorded, d("2026-01-10"), kg(None, Some(3360.2)));
        flows.record(CampaignStatus::GranulationComplete, d("2026-01-12"), kg(Some(3350.0), Some(3190.0)));
        let parts = Flow { parts: Some(12000), ..Flow::default() };
        flows.record(CampaignStatus::ManufacturingStarted, d("2026-02-01"), parts);
        let mut b = PeriodReportBuilder::new(Period::quarter("2026-Q1").unwrap(), Scope::default());
        let campaign = crate::period::CampaignRef {
            id: CampaignId::generate(),
            code: Some("LEGO-2026-0042".into()),
            material: Some(pluto_domain::registry::fields::MaterialType::Pcr),
        };
        b.add(campaign, &flows);
        b.finish()
    }

    fn sheet(bytes: &[u8], name: &str) -> calamine::Range<Data> {
        let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
        book.worksheet_range(name).unwrap()
    }

    #[test]
    fn the_workbook_holds_typed_numbers_and_dates_that_excel_shows_in_its_own_locale() {
        let report = report();
        let bytes = period_report(&report, false).unwrap();
        let balance = sheet(&bytes, "Mass balance");
        assert_eq!(
            balance.get_value((0, 0)),
            Some(&Data::String("Pluto Tracker: period mass balance".into()))
        );
        // Dates are dates, not text.
        let from = balance.get_value((1, 1)).unwrap();
        assert!(matches!(from, Data::DateTime(_)), "{from:?}");
        assert_eq!(from.as_date(), chrono::NaiveDate::from_ymd_opt(2026, 1, 1));
        let rows: Vec<Vec<Data>> = balance.rows().map(|r| r.to_vec()).collect();
        let row = |label: &str| rows.iter().find(|r| r[0] == Data::String(label.into())).unwrap().clone();
        assert_eq!(row("Received at MBA (inbound net weight)")[3], Data::Float(3360.2));
        assert_eq!(row("Received at MBA (inbound net weight)")[1], Data::String("in".into()));
        assert_eq!(row("Process loss in Granulation")[3], Data::Float(160.0));
        assert_eq!(row("Parts ordered (PO quantity)")[2], Data::String("parts".into()));
        assert_eq!(row("Parts ordered (PO quantity)")[3], Data::Float(12000.0));
        assert_eq!(row("In process at the end")[3], Data::Float(3190.0));
        assert!(row("Balance check (start + in − lost − out − end)")[3].as_f64().unwrap().abs() < 1e-9);
        assert_eq!(report.line(Measure::ReceivedAtMba).unwrap().figure.total, 3360.2);

        let campaigns = sheet(&bytes, "Campaigns");
        assert_eq!(campaigns.get_value((1, 1)), Some(&Data::String("LEGO-2026-0042".into())));
        assert!(matches!(campaigns.get_value((1, 4)), Some(Data::Float(_))));
        let restated = sheet(&bytes, "Restated");
        assert!(restated.get_value((1, 0)).unwrap().to_string().starts_with("No correction"));
        // Granulation took in 3,350 kg and put out 3,190 kg in the quarter: a share Excel shows
        // as a percentage in its own locale.
        let yields = sheet(&bytes, "Yields");
        assert_eq!(yields.get_value((1, 0)), Some(&Data::String("Granulation".into())));
        assert_eq!(
            (yields.get_value((1, 1)), yields.get_value((1, 2))),
            (Some(&Data::Float(3350.0)), Some(&Data::Float(3190.0)))
        );
        assert!((yields.get_value((1, 3)).unwrap().as_f64().unwrap() - 3190.0 / 3350.0).abs() < 1e-12);
    }

    #[test]
    fn a_training_workbook_says_so_in_its_title() {
        let bytes = period_report(&report(), true).unwrap();
        let title = sheet(&bytes, "Mass balance").get_value((0, 0)).unwrap().to_string();
        assert!(title.starts_with("TRAINING"), "{title}");
    }
}
