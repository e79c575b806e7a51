//! `pluto`: the Pluto Tracker event store from the shell, for operators, support and scripting.
//!
//! Exit codes: 0 success; 1 the input was refused (the message names the field and what was
//! expected) or `verify` found drift; 2 usage error; 3 the command could not run (file or
//! database trouble). Refused input never changes the database.

mod output;

use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context};
use clap::{Args, Parser, Subcommand, ValueEnum};
use pluto_domain::{
    AnomalyKind, CampaignId, CampaignStatus, EventId, EventType, FieldError, IsoDate, MaterialType, Refusal,
    Timestamp, UserId,
};
use pluto_reports::audit::AuditKey;
use pluto_reports::documents::{self, CustodyFile, ReportFile};
use pluto_reports::pdf::Locale;
use pluto_reports::period::{Period, Scope, Site};
use pluto_reports::record::CsvSeparator;
use pluto_store::{
    Draft, ListQuery, Recorded, Seen, SortOrder, Store, StoreError, APP_IDENTIFIER, DB_FILE_NAME,
};
use pluto_sync::runner::{Pace, Signals};
use pluto_sync::{runner, sync_once, SyncClient, SyncError};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(name = "pluto", version, about = "Pluto Tracker's campaign event store, from the shell")]
struct Cli {
    /// Database file (default: the desktop app's, in the OS app-data folder)
    #[arg(long, global = true, env = "PLUTO_DB", value_name = "PATH")]
    db: Option<PathBuf>,
    /// Who records events, as usr_… (default: usr_ and your login name)
    #[arg(long, global = true, env = "PLUTO_USER", value_name = "USER_ID", value_parser = parse_user)]
    user: Option<UserId>,
    /// Print JSON instead of text
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the database and this installation's device id (harmless if it exists)
    Init,
    /// Print this installation's device id
    Device,
    /// Campaigns
    #[command(subcommand)]
    Campaign(CampaignCommand),
    /// Record an event of any type (docs/events.md lists them); prints the event id
    Record {
        /// The campaign (cmp_…)
        campaign_id: CampaignId,
        /// The event type, e.g. InboundShipmentRecorded
        #[arg(value_parser = parse_event_type)]
        event_type: EventType,
        /// The payload as JSON, exactly as the spec writes it; `@FILE` reads it from a file
        #[arg(long)]
        data: String,
        /// Refuse unless the campaign still has this many events (optimistic concurrency)
        #[arg(long, value_name = "VERSION")]
        expect_version: Option<u32>,
    },
    /// Correct fields of an earlier event; `was` is read from the current state
    Correct {
        /// The campaign (cmp_…)
        campaign_id: CampaignId,
        /// The event to correct (evt_…)
        event_id: EventId,
        /// FIELD=VALUE; repeat for several fields; an empty VALUE clears an optional field
        #[arg(long = "set", value_name = "FIELD=VALUE", required = true, value_parser = parse_set)]
        set: Vec<(String, String)>,
        /// Why the correction is made
        #[arg(long)]
        reason: String,
        /// Refuse unless the campaign still has this many events (as `show` printed it when you
        /// looked), so that a correction made meanwhile is never overwritten unseen
        #[arg(long, value_name = "VERSION")]
        expect_version: Option<u32>,
    },
    /// Void an entry recorded twice or on the wrong campaign: the fold leaves it out, the
    /// history keeps it, and its step can be recorded again
    Void {
        /// The campaign (cmp_…)
        campaign_id: CampaignId,
        /// The entry to void (evt_…)
        event_id: EventId,
        /// Why the entry is withdrawn
        #[arg(long)]
        reason: String,
        /// Refuse unless the campaign still has this many events (optimistic concurrency)
        #[arg(long, value_name = "VERSION")]
        expect_version: Option<u32>,
    },
    /// Mark an anomaly reviewed with a note: it leaves the lists of anomalies to review, the
    /// campaign keeps it
    Review {
        /// The campaign (cmp_…)
        campaign_id: CampaignId,
        /// The entry the anomaly is about (evt_…)
        event_id: EventId,
        /// The anomaly's kind, as `show` and `anomalies` print it (e.g. duplicate_step)
        #[arg(value_parser = parse_anomaly_kind)]
        kind: AnomalyKind,
        /// What you checked and found
        #[arg(long)]
        note: String,
    },
    /// List the anomalies nobody has reviewed, across campaigns, most recently changed first
    Anomalies {
        /// At most this many
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show a campaign's state, mass balance and anomalies
    Show {
        /// The campaign (cmp_…)
        campaign_id: CampaignId,
        /// Show the campaign as it was recorded at this instant (RFC 3339)
        #[arg(long, value_name = "RFC3339", value_parser = parse_instant)]
        as_of: Option<Timestamp>,
    },
    /// List a campaign's events, oldest first, with corrections
    History {
        /// The campaign (cmp_…)
        campaign_id: CampaignId,
    },
    /// List campaigns, most recently active first
    List(ListArgs),
    /// Find campaigns by code, description or any reference their entries carry (tracking
    /// reference, ticket, batch or PO number, carrier, approver), and show where it matched
    Find {
        /// What to look for: whole references or their first letters or digits, in any case
        text: String,
        /// At most this many campaigns
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Reports across campaigns
    #[command(subcommand)]
    Report(ReportCommand),
    /// Rebuild every projection from the events
    Rebuild,
    /// Check that every projection equals a fresh fold of its events
    Verify,
    /// Write the whole event log as JSON Lines; with --audit, the chosen events and a manifest
    /// signed with this installation's key, which `pluto verify-export` checks
    Export {
        /// Target file (`-` for standard output)
        file: PathBuf,
        /// Write a verifiable audit export (events in log order, then the signed manifest)
        #[arg(long)]
        audit: bool,
        /// With --audit: only this campaign's events (repeat for several)
        #[arg(long = "campaign", value_name = "CAMPAIGN_ID", requires = "audit")]
        campaigns: Vec<CampaignId>,
        /// With --audit: only events recorded on or after this day (YYYY-MM-DD, UTC)
        #[arg(long, value_name = "DATE", requires = "audit")]
        from: Option<chrono::NaiveDate>,
        /// With --audit: only events recorded on or before this day (YYYY-MM-DD, UTC)
        #[arg(long, value_name = "DATE", requires = "audit")]
        to: Option<chrono::NaiveDate>,
    },
    /// Check an audit export: name every event changed, added or removed since it was written,
    /// and the key that signed it (needs no database)
    VerifyExport {
        /// The audit export (`-` for standard input)
        file: PathBuf,
        /// Also compare every event the export says is on the sync server with the server's
        /// log at that address (the server countersigns: same content, changed, or absent)
        #[arg(long, value_name = "URL")]
        server: Option<String>,
        /// With --server: a token of that server (any site's; reading the log is all it does)
        #[arg(long, env = "PLUTO_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// With --server: a file whose first line is the token
        #[arg(long, value_name = "PATH", requires = "server")]
        token_file: Option<PathBuf>,
        /// With --server: the site's own certificate authority (PEM)
        #[arg(long, env = "PLUTO_CA_FILE", value_name = "PATH")]
        ca_file: Option<PathBuf>,
    },
    /// Print the public key that signs this installation's audit exports
    AuditKey,
    /// Apply a JSON Lines event log (idempotent; all or nothing)
    Import {
        /// Source file (`-` for standard input)
        file: PathBuf,
    },
    /// Sync with the central server: push this laptop's events, pull everyone else's
    Sync {
        /// The sync server's address, starting with http:// or https://
        #[arg(long, env = "PLUTO_SERVER", value_name = "URL")]
        server: String,
        /// This laptop's device token (from `pluto-server token create`). On a shared machine
        /// prefer PLUTO_TOKEN or --token-file: a command line is visible to every account
        #[arg(long, env = "PLUTO_TOKEN", hide_env_values = true, required_unless_present = "token_file")]
        token: Option<String>,
        /// A file whose first line is the device token (used instead of --token or PLUTO_TOKEN)
        #[arg(long, value_name = "PATH")]
        token_file: Option<PathBuf>,
        /// The site's own certificate authority (PEM), for a server whose https certificate it
        /// issued; trusted instead of the public authorities
        #[arg(long, env = "PLUTO_CA_FILE", value_name = "PATH")]
        ca_file: Option<PathBuf>,
        /// Keep syncing until interrupted: at once after new entries, every 15 s otherwise,
        /// retrying with backoff while the server cannot be reached
        #[arg(long)]
        watch: bool,
        /// This server replaces the one this laptop synced with (a new server, not a restored
        /// one): forget the old log's positions and send this laptop's entries to it. Without
        /// it, a laptop refuses a server that keeps another log
        #[arg(long)]
        adopt_server: bool,
    },
    /// Show where sync stands: events waiting, refusals, last sync, completeness
    Status,
    /// Write a consistent copy of the database while it stays in use
    Backup {
        /// Target file (must not exist)
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum CampaignCommand {
    /// Create a campaign; prints its id
    Create {
        /// LEGO's campaign code
        #[arg(long)]
        code: String,
        /// PI (post-industrial) or PCR (post-consumer recycled)
        #[arg(long, value_name = "PI|PCR")]
        material: String,
        /// Optional description
        #[arg(long)]
        description: Option<String>,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// The period mass balance: material in process at the start, received, lost at each
    /// step, shipped, made into parts, and in process at the end, with the parts counted and
    /// the campaigns behind each figure. Steps count on the day they took place; corrections
    /// recorded after the period closed are applied and listed
    MassBalance(MassBalanceArgs),
    /// A campaign's chain-of-custody record: every entry with who recorded it, on which laptop
    /// and site, corrections (was -> now, why), voids, anomalies and the mass balance; as PDF
    /// (with signature lines and the fingerprint of its audit export), as an Excel workbook with
    /// typed values, or as CSV
    Custody {
        /// The campaign (cmp_…)
        campaign_id: CampaignId,
        /// pdf, xlsx, or csv (`;` and decimal commas for Danish and German Excel, else `,`)
        #[arg(long, value_enum, default_value_t = CustodyFormat::Pdf)]
        format: CustodyFormat,
        /// The file to write (never overwrites an existing file)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Numbers and dates as in da, de or en (default: from LC_ALL, LC_NUMERIC or LANG)
        #[arg(long, value_name = "da|de|en")]
        locale: Option<String>,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CustodyFormat {
    /// A PDF to print and sign
    Pdf,
    /// An Excel workbook
    Xlsx,
    /// CSV for a spreadsheet
    Csv,
}

#[derive(Args)]
struct MassBalanceArgs {
    /// First day of the period (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", required_unless_present = "quarter", requires = "to")]
    from: Option<chrono::NaiveDate>,
    /// Last day of the period, included (YYYY-MM-DD)
    #[arg(long, value_name = "DATE", requires = "from")]
    to: Option<chrono::NaiveDate>,
    /// A calendar quarter instead of --from and --to, e.g. 2026-Q1
    #[arg(long, value_name = "YYYY-QN", conflicts_with_all = ["from", "to"], value_parser = parse_quarter)]
    quarter: Option<Period>,
    /// Only campaigns of this material: PI or PCR
    #[arg(long, value_name = "PI|PCR", value_parser = parse_material)]
    material: Option<MaterialType>,
    /// Only this site's balance: MBA or RGE (default: the whole chain)
    #[arg(long, value_name = "MBA|RGE", value_parser = parse_site)]
    site: Option<Site>,
    /// table (text), json, xlsx (an Excel workbook) or pdf; xlsx and pdf need --out
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    format: ReportFormat,
    /// Write to this file instead of standard output (never overwrites an existing file)
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// With table: list the campaigns behind each figure
    #[arg(long)]
    campaigns: bool,
    /// With pdf: numbers and dates as in da, de or en (default: from LC_ALL, LC_NUMERIC or LANG)
    #[arg(long, value_name = "da|de|en")]
    locale: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    /// Text for people
    Table,
    /// JSON, with every campaign behind each figure
    Json,
    /// An Excel workbook
    Xlsx,
    /// A PDF to print and sign (needs --out)
    Pdf,
}

#[derive(Args)]
struct ListArgs {
    /// Only campaigns at this status (e.g. granulation_complete)
    #[arg(long, value_parser = parse_status)]
    status: Option<CampaignStatus>,
    /// Only campaigns whose code or description contains this text
    #[arg(long)]
    search: Option<String>,
    /// Order
    #[arg(long, value_enum, default_value_t = Sort::Activity)]
    sort: Sort,
    /// Rows per page
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Rows to skip
    #[arg(long, default_value_t = 0)]
    offset: u32,
    /// Write every matching campaign (not only one page) to this Excel workbook instead of
    /// printing the page (never overwrites an existing file)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["limit", "offset"])]
    xlsx: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Sort {
    /// Last activity, newest first
    Activity,
    /// LEGO campaign code
    Code,
    /// Creation, newest first
    Created,
}

fn parse_user(s: &str) -> Result<UserId, String> {
    UserId::parse(s).map_err(|e| e.to_string())
}

fn parse_anomaly_kind(s: &str) -> Result<AnomalyKind, String> {
    serde_json::from_value(json!(s)).map_err(|_| {
        format!("{s:?} is not an anomaly kind; `pluto show` and `pluto anomalies` print each anomaly's kind")
    })
}

fn parse_event_type(s: &str) -> Result<EventType, String> {
    EventType::parse(s).map_err(|e| e.message)
}

fn parse_status(s: &str) -> Result<CampaignStatus, String> {
    CampaignStatus::parse(s).ok_or_else(|| {
        let names: Vec<&str> = CampaignStatus::ALL.iter().map(|s| s.as_str()).collect();
        format!("expected one of {}", names.join(", "))
    })
}

fn parse_quarter(s: &str) -> Result<Period, String> {
    Period::quarter(s).map_err(|e| e.to_string())
}

fn parse_material(s: &str) -> Result<MaterialType, String> {
    MaterialType::parse(&s.to_ascii_uppercase()).ok_or_else(|| format!("expected PI or PCR, got {s:?}"))
}

fn parse_site(s: &str) -> Result<Site, String> {
    Site::parse(s).ok_or_else(|| format!("expected MBA or RGE (sites that hold material), got {s:?}"))
}

fn parse_instant(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s)
}

fn parse_set(s: &str) -> Result<(String, String), String> {
    let (field, value) = s.split_once('=').ok_or_else(|| format!("expected FIELD=VALUE, got {s:?}"))?;
    Ok((field.trim().to_owned(), value.to_owned()))
}

/// Exit code for an error: 1 for refused input, 3 for everything else that stopped the command.
fn exit_code(err: &anyhow::Error) -> u8 {
    let store_error = err.downcast_ref::<StoreError>().or_else(|| match err.downcast_ref::<SyncError>() {
        Some(SyncError::Store(e)) => Some(e),
        _ => None,
    });
    if let Some(
        pluto_reports::audit::AuditError::NoManifest
        | pluto_reports::audit::AuditError::BadManifest { .. }
        | pluto_reports::audit::AuditError::NewerFormat(_),
    ) = err.downcast_ref()
    {
        return 1;
    }
    match (store_error, err.downcast_ref::<SyncError>()) {
        (Some(e), _) if e.is_refusal() => 1,
        (
            _,
            Some(
                SyncError::BadUrl(_)
                | SyncError::InsecureUrl(_)
                | SyncError::BadCa { .. }
                | SyncError::Unauthorized(_)
                | SyncError::Forbidden(_),
            ),
        ) => 1,
        _ => 3,
    }
}

/// Input refused before it reaches the store (unreadable JSON, say): same exit code and shape.
fn refused(field: &str, message: impl Into<String>) -> anyhow::Error {
    StoreError::Refused(Refusal::Field(FieldError::new(field, message))).into()
}

/// An entry refused because the campaign changed since its version was read, said in words:
/// who recorded what meanwhile.
fn meanwhile(store: &Store, result: Result<Recorded, StoreError>) -> anyhow::Result<Recorded> {
    match result {
        Err(StoreError::Conflict { campaign_id, expected, .. }) => {
            let message = store.changed_since(&campaign_id, expected)?;
            Err(StoreError::ChangedMeanwhile(message).into())
        }
        other => Ok(other?),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            let code = exit_code(&err);
            if json {
                eprintln!("{}", json!({ "error": output::error_json(&err) }));
            } else {
                eprintln!("pluto: {err:#}");
            }
            ExitCode::from(code)
        }
    }
}

/// The desktop app's database: `<OS app-data folder>/com.pluto.tracker/pluto.sqlite3`.
fn default_db_path() -> anyhow::Result<PathBuf> {
    let base =
        dirs::data_dir().ok_or_else(|| anyhow!("cannot find the OS app-data folder; pass --db PATH"))?;
    Ok(base.join(APP_IDENTIFIER).join(DB_FILE_NAME))
}

fn default_user() -> UserId {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .find_map(|name| UserId::from_name(&name).ok())
        .unwrap_or_else(|| UserId::parse("usr_unknown").expect("valid id"))
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let out = output::Printer { json: cli.json };
    if let Command::VerifyExport { file, server, token, token_file, ca_file } = &cli.command {
        let open = || -> anyhow::Result<Box<dyn std::io::BufRead>> {
            Ok(Box::new(BufReader::new(
                std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
            )))
        };
        // Standard input is read once; with --server it is read twice, so it is kept.
        let stdin = (file.as_os_str() == "-" && server.is_some())
            .then(|| -> anyhow::Result<Vec<u8>> {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)?;
                Ok(bytes)
            })
            .transpose()?;
        let verification = match (&stdin, file.as_os_str() == "-") {
            (Some(bytes), _) => pluto_reports::audit::verify(bytes.as_slice())?,
            (None, true) => pluto_reports::audit::verify(std::io::stdin().lock())?,
            (None, false) => pluto_reports::audit::verify(open()?)?,
        };
        let comparison = server
            .as_ref()
            .map(|url| -> anyhow::Result<_> {
                let token = read_token(token.clone(), token_file.as_deref())?;
                let client = SyncClient::with_ca_file(url, &token, ca_file.as_deref())?;
                let input: Box<dyn std::io::BufRead + '_> = match &stdin {
                    Some(bytes) => Box::new(bytes.as_slice()),
                    None => open()?,
                };
                compare_with_server(&client, input, &verification.manifest)
            })
            .transpose();
        // The file's own check stands whatever the server does: it is shown first, then why the
        // comparison could not be made.
        let comparison = match comparison {
            Ok(comparison) => comparison,
            Err(e) => {
                out.verification(&verification, None);
                return Err(e.context("the file was checked on its own (above), not against the server"));
            }
        };
        out.verification(&verification, comparison.as_ref());
        let agrees = comparison.as_ref().is_none_or(|c| c.mismatches.is_empty());
        return Ok(if verification.is_intact() && agrees { ExitCode::SUCCESS } else { ExitCode::from(1) });
    }
    let db = match cli.db {
        Some(path) => path,
        None => default_db_path()?,
    };
    let user = cli.user.unwrap_or_else(default_user);
    if let Command::Init = cli.command {
        let existed = db.exists();
        let store = Store::open(&db)?;
        out.init(&db, store.device_id(), !existed);
        return Ok(ExitCode::SUCCESS);
    }
    let mut store = Store::open_existing(&db)?;
    match cli.command {
        Command::Init => unreachable!("handled above"),
        Command::Device => out.device(store.device_id()),
        Command::Campaign(CampaignCommand::Create { code, material, description }) => {
            let mut data = json!({ "legoCampaignCode": code, "materialType": material });
            if let Some(d) = description {
                data["description"] = Value::String(d);
            }
            let recorded = store.record(Draft::new(None, EventType::CampaignCreated, data, user))?;
            out.recorded(&recorded, &recorded.state.id.to_string());
        }
        Command::Record { campaign_id, event_type, data, expect_version } => {
            let text = match data.strip_prefix('@') {
                Some(file) => std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?,
                None => data,
            };
            let data: Value =
                serde_json::from_str(&text).map_err(|e| refused("data", format!("not valid JSON: {e}")))?;
            let mut draft = Draft::new(Some(campaign_id), event_type, data, user);
            draft.expected_version = expect_version;
            let recorded = store.record(draft)?;
            out.recorded(&recorded, &recorded.event.id.to_string());
        }
        Command::Correct { campaign_id, event_id, set, reason, expect_version } => {
            let seen = Seen { version: expect_version, ..Seen::default() };
            let recorded = store.correct(&campaign_id, &event_id, &set, &reason, user, seen);
            let recorded = meanwhile(&store, recorded)?;
            out.recorded(&recorded, &recorded.event.id.to_string());
        }
        Command::Void { campaign_id, event_id, reason, expect_version } => {
            let seen = Seen { version: expect_version, ..Seen::default() };
            let recorded = store.void(&campaign_id, &event_id, &reason, user, seen);
            let recorded = meanwhile(&store, recorded)?;
            out.recorded(&recorded, &recorded.event.id.to_string());
        }
        Command::Review { campaign_id, event_id, kind, note } => {
            let recorded = store.review(&campaign_id, &event_id, kind, &note, user)?;
            out.recorded(&recorded, &recorded.event.id.to_string());
        }
        Command::Anomalies { limit } => out.anomalies(&store.open_anomalies(limit)?),
        Command::Show { campaign_id, as_of } => {
            let state = match as_of {
                Some(instant) => store.campaign_as_of(&campaign_id, instant)?,
                None => store.campaign(&campaign_id)?,
            };
            let state = state.ok_or_else(|| match as_of {
                Some(instant) if store.campaign(&campaign_id).ok().flatten().is_some() => refused(
                    "asOf",
                    format!("campaign {campaign_id} had no events recorded at or before {instant}"),
                ),
                _ => StoreError::Refused(Refusal::UnknownCampaign(campaign_id.clone())).into(),
            })?;
            out.show(&state, as_of);
        }
        Command::History { campaign_id } => {
            out.history(&store.history(&campaign_id)?, &store.server_sites(&campaign_id)?)
        }
        Command::List(args) => {
            let sort = match args.sort {
                Sort::Activity => SortOrder::LastActivity,
                Sort::Code => SortOrder::Code,
                Sort::Created => SortOrder::Created,
            };
            let query = ListQuery {
                status: args.status,
                search: args.search,
                sort,
                limit: args.limit,
                offset: args.offset,
            };
            match args.xlsx {
                Some(file) => {
                    let rows = store.list_every(&query)?;
                    let bytes = pluto_reports::xlsx::campaign_list(&rows, &query, false)
                        .map_err(|e| anyhow::anyhow!("cannot make the workbook: {e}"))?;
                    write_new("xlsx", &file, &bytes)?;
                    out.message(
                        json!({ "file": file, "campaigns": rows.len() }),
                        &format!("Wrote {} campaigns to {}.", rows.len(), file.display()),
                    );
                }
                None => out.list(&store.list(&query)?, &query),
            }
        }
        Command::Find { text, limit } => out.found(&text, &store.find(&text, limit.clamp(1, 1000))?),
        Command::Report(ReportCommand::MassBalance(args)) => mass_balance(&mut store, &out, &user, args)?,
        Command::Report(ReportCommand::Custody { campaign_id, format, out: file, locale }) => {
            custody(&mut store, &out, &user, &campaign_id, format, &file, locale)?
        }
        Command::Rebuild => {
            let n = store.rebuild()?;
            let entries = store.rebuild_find()?;
            out.message(
                json!({ "rebuilt": n, "findable": entries }),
                &format!("Rebuilt {n} campaign projections and the find index ({entries} entries) from the event log."),
            );
        }
        Command::Verify => {
            let drift = store.verify()?;
            out.verify(&drift);
            if !drift.is_empty() {
                return Ok(ExitCode::from(1));
            }
        }
        Command::VerifyExport { .. } => unreachable!("handled above"),
        Command::AuditKey => {
            let key = pluto_reports::audit::audit_key(&mut store)?.public_key();
            out.message(json!({ "publicKey": key }), &key);
        }
        Command::Export { file, audit: true, campaigns, from, to } => {
            for id in &campaigns {
                if store.campaign(id)?.is_none() {
                    return Err(StoreError::Refused(Refusal::UnknownCampaign(id.clone())).into());
                }
            }
            let day = |date: chrono::NaiveDate| format!("{date}T00:00:00.000Z");
            let selection = pluto_store::Selection {
                campaigns: (!campaigns.is_empty())
                    .then(|| campaigns.iter().map(ToString::to_string).collect()),
                from: from.map(day),
                to: to.and_then(|d| d.succ_opt()).map(day),
                training: false,
            };
            let key = pluto_reports::audit::audit_key(&mut store)?;
            let manifest = if file.as_os_str() == "-" {
                pluto_reports::audit::export(
                    &store,
                    &key,
                    &selection,
                    BufWriter::new(std::io::stdout().lock()),
                )?
            } else {
                write_atomically(&file, |w| Ok(pluto_reports::audit::export(&store, &key, &selection, w)?))?
            };
            if file.as_os_str() != "-" {
                out.message(
                    json!({ "exported": manifest.events.len(), "file": file, "publicKey": manifest.public_key }),
                    &format!(
                        "Exported {} events ({}) to {}, signed with this installation's key {}.",
                        manifest.events.len(),
                        selection,
                        file.display(),
                        manifest.public_key
                    ),
                );
            }
        }
        Command::Export { file, .. } => {
            let count = if file.as_os_str() == "-" {
                store.export(&mut BufWriter::new(std::io::stdout().lock()))?
            } else {
                export_to_file(&store, &file)?
            };
            if file.as_os_str() != "-" {
                out.message(
                    json!({ "exported": count, "file": file }),
                    &format!("Exported {count} events to {}.", file.display()),
                );
            }
        }
        Command::Import { file } => {
            let report = if file.as_os_str() == "-" {
                store.import(std::io::stdin().lock())?
            } else {
                let f =
                    std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
                store.import(BufReader::new(f))?
            };
            out.message(
                serde_json::to_value(&report)?,
                &format!(
                    "Imported {} new events ({} already present); {} campaign projections updated.",
                    report.inserted, report.already_present, report.campaigns_touched
                ),
            );
        }
        Command::Sync { server, token, token_file, ca_file, watch, adopt_server } => {
            let token = read_token(token, token_file.as_deref())?;
            let client = SyncClient::with_ca_file(&server, &token, ca_file.as_deref())?;
            if adopt_server {
                let forgotten = store.forget_server()?;
                out.message(
                    json!({ "adoptedServer": client.base_url(), "positionsForgotten": forgotten }),
                    &format!(
                        "Forgot the old server's log (the positions of {forgotten} {}); this laptop's own \
                         entries go to {}.",
                        if forgotten == 1 { "entry" } else { "entries" },
                        client.base_url()
                    ),
                );
            }
            if watch {
                runner::run(db, &client, &Pace::default(), &Signals::default(), |pass| out.sync_pass(&pass))?;
            } else {
                let report = sync_once(&mut store, &client)?;
                out.synced(&report, &store.sync_state()?);
            }
        }
        Command::Status => out.status(&store.sync_state()?, &store.rejections()?, &store.pull_refusals()?),
        Command::Backup { file } => {
            store.backup(&file)?;
            out.message(json!({ "backup": file }), &format!("Backed up the database to {}.", file.display()));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The token given on the command line, in `PLUTO_TOKEN`, or as the first line of a file.
fn read_token(token: Option<String>, token_file: Option<&Path>) -> anyhow::Result<String> {
    match token_file {
        Some(path) => Ok(std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the token file {}", path.display()))?
            .lines()
            .next()
            .unwrap_or_default()
            // Notepad may save the file with a byte-order mark and CRLF line ends.
            .trim_start_matches('\u{feff}')
            .trim()
            .to_owned()),
        None => token.context("give the token with --token, --token-file or PLUTO_TOKEN"),
    }
}

/// Asks the sync server how its log compares with every event of an audit export that names a
/// server position.
fn compare_with_server(
    client: &SyncClient,
    input: impl std::io::BufRead,
    manifest: &pluto_reports::audit::Manifest,
) -> anyhow::Result<output::ServerComparison> {
    let questions = pluto_reports::audit::server_questions(input, manifest)?;
    let mut comparison = output::ServerComparison {
        server: client.base_url().to_owned(),
        head: 0,
        compared: questions.len(),
        not_on_server: manifest.events.iter().filter(|e| e.server_position.is_none()).count(),
        mismatches: Vec::new(),
    };
    let mut questions = questions.into_iter().peekable();
    while questions.peek().is_some() {
        let part: Vec<_> = questions.by_ref().take(pluto_protocol::MAX_ATTEST_EVENTS).collect();
        let answer = client.attest(part).map_err(|e| match e {
            SyncError::Server { status: 404, .. } => anyhow!(
                "the sync server at {} does not compare audit exports (it is older than this pluto); update pluto-server to compare",
                client.base_url()
            ),
            e => e.into(),
        })?;
        comparison.head = answer.head;
        comparison
            .mismatches
            .extend(answer.events.into_iter().filter(|a| a.verdict != pluto_protocol::Verdict::Same));
    }
    Ok(comparison)
}

/// Exports to a temporary file beside `file`, then renames it, so a failed export never leaves
/// a truncated file under the requested name.
fn export_to_file(store: &Store, file: &Path) -> anyhow::Result<usize> {
    write_atomically(file, |w| Ok(store.export(w)?))
}

/// Writes `file` through `write` into a `.partial` file beside it, made durable and then renamed
/// over `file`, so that an interrupted export never leaves a cut-off file under its name.
/// `pluto report mass-balance`.
fn mass_balance(
    store: &mut Store,
    out: &output::Printer,
    user: &UserId,
    args: MassBalanceArgs,
) -> anyhow::Result<()> {
    let period = match (args.quarter, args.from, args.to) {
        (Some(quarter), _, _) => quarter,
        (None, Some(from), Some(to)) => {
            Period::new(IsoDate(from), IsoDate(to)).map_err(|e| refused("to", e.to_string()))?
        }
        _ => unreachable!("clap requires --quarter or both --from and --to"),
    };
    let report =
        pluto_reports::period::report(store, period, Scope { material: args.material, site: args.site })?;
    let document = |store: &mut Store, file| -> anyhow::Result<Vec<u8>> {
        let (stamp, _) = stamp(store, user, args.locale.as_deref())?;
        Ok(documents::period_report(&report, &stamp, file)?)
    };
    let bytes = match args.format {
        ReportFormat::Xlsx => document(store, ReportFile::Xlsx)?,
        ReportFormat::Pdf => document(store, ReportFile::Pdf)?,
        ReportFormat::Json => serde_json::to_vec_pretty(&report)?,
        ReportFormat::Table if args.out.is_none() => {
            out.period_report(&report, args.campaigns);
            return Ok(());
        }
        ReportFormat::Table => output::period_report_text(&report, args.campaigns).into_bytes(),
    };
    let Some(file) = args.out.filter(|f| f.as_os_str() != "-") else {
        match args.format {
            ReportFormat::Xlsx => return Err(refused("out", "an Excel workbook needs --out FILE.xlsx")),
            ReportFormat::Pdf => return Err(refused("out", "a PDF needs --out FILE.pdf")),
            ReportFormat::Table | ReportFormat::Json => {}
        }
        std::io::stdout().lock().write_all(&bytes)?;
        return Ok(());
    };
    write_new("out", &file, &bytes)?;
    out.message(
        json!({ "file": file, "campaigns": report.campaigns.len() }),
        &format!(
            "Wrote the mass balance of {} to {} ({} to {}, {} campaigns).",
            period_words(&report),
            file.display(),
            report.period.from,
            report.period.to,
            report.campaigns.len()
        ),
    );
    Ok(())
}

/// `pluto report custody`.
fn custody(
    store: &mut Store,
    out: &output::Printer,
    user: &UserId,
    campaign: &CampaignId,
    format: CustodyFormat,
    file: &Path,
    locale: Option<String>,
) -> anyhow::Result<()> {
    let record = documents::campaign_record(store, campaign, None)?
        .ok_or_else(|| StoreError::Refused(Refusal::UnknownCampaign(campaign.clone())))?;
    let (stamp, key) = stamp(store, user, locale.as_deref())?;
    let file_type = match format {
        CustodyFormat::Pdf => CustodyFile::Pdf,
        CustodyFormat::Xlsx => CustodyFile::Xlsx,
        // The separator the locale's spreadsheets expect (its decimal mark follows).
        CustodyFormat::Csv => CustodyFile::Csv(match stamp.locale {
            Locale::Da | Locale::De => CsvSeparator::Semicolon,
            Locale::En => CsvSeparator::Comma,
        }),
    };
    let bytes = documents::custody(store, &key, &record, &stamp, file_type)?;
    write_new("out", file, &bytes)?;
    let entries = record.events.len();
    out.message(
        json!({ "file": file, "events": entries }),
        &format!(
            "Wrote the chain-of-custody record of {campaign} ({entries} entries) to {}.",
            file.display()
        ),
    );
    Ok(())
}

/// Who makes a document here, and in which language (`--locale`, else the environment's), with
/// this installation's audit key.
fn stamp(
    store: &mut Store,
    user: &UserId,
    locale: Option<&str>,
) -> anyhow::Result<(pluto_reports::pdf::Stamp<'static, chrono::Local>, AuditKey)> {
    let from_env = || {
        ["LC_ALL", "LC_NUMERIC", "LANG"].iter().find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
    };
    let locale = match locale {
        Some(tag) if ["da", "de", "en"].contains(&tag.get(..2).unwrap_or(tag)) => Locale::from_tag(tag),
        Some(other) => return Err(refused("locale", format!("expected da, de or en, got {other:?}"))),
        None => Locale::from_tag(&from_env().unwrap_or_default()),
    };
    let key = pluto_reports::audit::audit_key(store)?;
    Ok((documents::stamp(locale, false, user, &key), key))
}

/// Writes `bytes` to a new file `file`, refusing to replace one.
fn write_new(flag: &str, file: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if file.exists() {
        return Err(refused(flag, format!("{} exists already; choose another name", file.display())));
    }
    write_atomically(file, |w| Ok(w.write_all(bytes)?))
}

/// What a report covers, in words: "PCR at MBA", "PI and PCR, whole chain".
fn period_words(report: &pluto_reports::period::PeriodReport) -> String {
    let material = report.scope.material.map_or("PI and PCR", |m| m.as_str());
    match report.scope.site {
        Some(site) => format!("{material} at {}", site.as_str()),
        None => format!("{material}, whole chain"),
    }
}

/// Writes `file` whole or not at all (see [`pluto_files::write_atomically`]).
fn write_atomically<T>(
    file: &Path,
    write: impl FnOnce(&mut BufWriter<std::fs::File>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    pluto_files::write_atomically(file, pluto_files::Access::Shared, write)
        .with_context(|| format!("cannot write {}", file.display()))
}
