//! Verifiable audit exports.
//!
//! An audit export is a JSON Lines file: the chosen events, each line exactly as `export` writes
//! it, in the order this installation's log holds them, and then one manifest line:
//!
//! ```text
//! {"plutoAuditManifest":{…},"signature":"<base64>"}
//! ```
//!
//! The manifest lists every event (id, log position, server position where known, SHA-256 of
//! its line) and the head of a hash chain over the lines in order; the signature is the
//! exporting installation's ed25519 signature over the manifest's bytes exactly as written.
//! [`verify`] reads such a file back and names each event that was changed, added or removed
//! since, or says that the manifest itself was altered. The file stays importable: `import`
//! skips the manifest line.

use std::fmt;
use std::io::{self, BufRead, Write};

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use pluto_domain::canonical::{canonical_sha256, hex, sha256};
use pluto_domain::{CampaignId, Timestamp};
use pluto_store::audit::MANIFEST_PREFIX;
use pluto_store::{Selection, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// The key the manifest line starts with; `import` skips a line that starts so.
pub const MANIFEST_KEY: &str = "plutoAuditManifest";

/// The format this build writes and reads.
pub const FORMAT: u32 = 1;

/// Where the hash chain starts, so that a chain of one format cannot pass for another's.
const CHAIN_SEED: &[u8] = b"pluto audit export 1";

/// One exported event, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestEvent {
    /// The event id.
    pub id: String,
    /// Its position in the exporting installation's log.
    pub seq: i64,
    /// Its position in the server's log, when the server has confirmed it.
    pub server_position: Option<i64>,
    /// SHA-256 of its line (without the line end), hex.
    pub sha256: String,
}

/// What an audit export states about itself; signed as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// The format ([`FORMAT`]).
    pub format: u32,
    /// When the export was made (RFC 3339, UTC).
    pub created_at: String,
    /// The exporting installation's device id.
    pub device_id: String,
    /// Which events were chosen.
    pub selection: Selection,
    /// The installation's ed25519 public key, base64.
    pub public_key: String,
    /// Every exported event, in the order of the lines.
    pub events: Vec<ManifestEvent>,
    /// The head of the hash chain over the lines, hex: `h0 = SHA-256(seed)`,
    /// `h(i) = SHA-256(h(i-1) ‖ SHA-256(line i))`.
    pub chain: String,
}

/// The manifest line as read: the manifest's exact bytes and the signature over them.
#[derive(Deserialize)]
struct ManifestLine<'a> {
    #[serde(borrow, rename = "plutoAuditManifest")]
    manifest: &'a RawValue,
    signature: String,
}

/// An installation's signing key for audit exports.
#[derive(Clone)]
pub struct AuditKey(SigningKey);

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AuditKey").field(&self.public_key()).finish()
    }
}

impl AuditKey {
    /// A new random key.
    pub fn generate() -> Result<AuditKey, AuditError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| AuditError::Random(e.to_string()))?;
        Ok(AuditKey(SigningKey::from_bytes(&seed)))
    }

    /// The key stored as [`AuditKey::to_stored`] wrote it.
    pub fn from_stored(text: &str) -> Result<AuditKey, AuditError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| AuditError::BadKey(e.to_string()))?;
        let seed: [u8; 32] = bytes.try_into().map_err(|_| AuditError::BadKey("expected 32 bytes".into()))?;
        Ok(AuditKey(SigningKey::from_bytes(&seed)))
    }

    /// The private key, base64, for storing with the installation.
    pub fn to_stored(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0.to_bytes())
    }

    /// The public key, base64: what an auditor compares with the one the app shows.
    pub fn public_key(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0.verifying_key().to_bytes())
    }
}

/// Why an audit export could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Writing or reading the file failed.
    #[error("{context}: {error}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        error: io::Error,
    },
    /// The stored key is unreadable.
    #[error("the installation's audit key is unreadable ({0})")]
    BadKey(String),
    /// The system's random numbers failed.
    #[error("cannot make a key: the system's random numbers failed ({0})")]
    Random(String),
    /// The file has no manifest line.
    #[error("not an audit export: the file has no manifest line (`pluto export --audit` writes one as its last line)")]
    NoManifest,
    /// The manifest line cannot be read.
    #[error("the manifest line (line {line}) is unreadable: {detail}")]
    BadManifest {
        /// Its line number.
        line: usize,
        /// What is wrong.
        detail: String,
    },
    /// A newer Pluto wrote the file.
    #[error(
        "this audit export has format {0}; this Pluto reads format {FORMAT}: verify it with a newer Pluto"
    )]
    NewerFormat(u32),
}

fn io_error(context: &str) -> impl Fn(io::Error) -> AuditError + '_ {
    move |error| AuditError::Io { context: context.to_owned(), error }
}

/// The questions to ask the server about an audit export (read again from `input`, whose
/// manifest is `manifest`): every event line whose manifest entry names a server position, with
/// its canonical hash. Lines that are not events of the manifest are left out ([`verify`] names
/// them).
pub fn server_questions(
    input: impl BufRead,
    manifest: &Manifest,
) -> Result<Vec<pluto_protocol::AttestQuery>, AuditError> {
    let positions: std::collections::HashMap<&str, i64> =
        manifest.events.iter().filter_map(|e| e.server_position.map(|p| (e.id.as_str(), p))).collect();
    let mut questions = Vec::with_capacity(positions.len());
    for line in lines(input) {
        let line = line?;
        let Some(id) = serde_json::from_slice::<IdOnly>(&line).ok().and_then(|e| e.id) else {
            continue;
        };
        if let (Some(&position), Ok(sha256)) = (positions.get(id.as_str()), canonical_sha256(&line)) {
            questions.push(pluto_protocol::AttestQuery { id, position, sha256 });
        }
    }
    Ok(questions)
}

/// The lines of `input` without their line ends (`\n`, or `\r\n` as Windows saves them), a read
/// error naming its line.
fn lines(input: impl BufRead) -> impl Iterator<Item = Result<Vec<u8>, AuditError>> {
    input.split(b'\n').enumerate().map(|(index, line)| {
        let mut line = line.map_err(io_error(&format!("cannot read line {}", index + 1)))?;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(line)
    })
}

/// The hash chain over lines.
struct Chain([u8; 32]);

impl Chain {
    fn new() -> Chain {
        Chain(sha256(CHAIN_SEED))
    }

    fn push(&mut self, line_hash: &[u8; 32]) {
        let mut next = Sha256::new();
        next.update(self.0);
        next.update(line_hash);
        self.0 = next.finalize().into();
    }
}

/// Writes an audit export: event lines, then [`AuditWriter::finish`] the signed manifest.
pub struct AuditWriter<W: Write> {
    out: W,
    chain: Chain,
    events: Vec<ManifestEvent>,
}

impl<W: Write> AuditWriter<W> {
    /// A writer onto `out`.
    pub fn new(out: W) -> Self {
        AuditWriter { out, chain: Chain::new(), events: Vec::new() }
    }

    /// Writes one event's line (without its line end) and notes it for the manifest.
    pub fn event(
        &mut self,
        id: &str,
        seq: i64,
        server_position: Option<i64>,
        line: &[u8],
    ) -> Result<(), AuditError> {
        let write = io_error("cannot write the audit export");
        self.out.write_all(line).map_err(&write)?;
        self.out.write_all(b"\n").map_err(&write)?;
        let hash = sha256(line);
        self.chain.push(&hash);
        self.events.push(ManifestEvent { id: id.to_owned(), seq, server_position, sha256: hex(&hash) });
        Ok(())
    }

    /// Writes the signed manifest line and returns the manifest and the writer's output.
    pub fn finish(
        mut self,
        key: &AuditKey,
        device_id: &str,
        created_at: &str,
        selection: Selection,
    ) -> Result<(Manifest, W), AuditError> {
        let manifest = Manifest {
            format: FORMAT,
            created_at: created_at.to_owned(),
            device_id: device_id.to_owned(),
            selection,
            public_key: key.public_key(),
            events: std::mem::take(&mut self.events),
            chain: hex(&self.chain.0),
        };
        let write = io_error("cannot write the audit export's manifest");
        let bytes = serde_json::to_vec(&manifest).map_err(|e| write(e.into()))?;
        let signature = base64::engine::general_purpose::STANDARD.encode(key.0.sign(&bytes).to_bytes());
        self.out.write_all(MANIFEST_PREFIX.as_bytes()).map_err(&write)?;
        self.out.write_all(&bytes).map_err(&write)?;
        writeln!(self.out, ",\"signature\":\"{signature}\"}}").map_err(&write)?;
        self.out.flush().map_err(&write)?;
        Ok((manifest, self.out))
    }
}

/// Where the store keeps the installation's audit key.
const AUDIT_KEY_SECRET: &str = "audit_key";

/// Why an audit export from the store could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The export could not be written, or the key read.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

/// This installation's audit key, made the first time it is asked for and kept in the store.
pub fn audit_key(store: &mut Store) -> Result<AuditKey, ExportError> {
    let stored = store.installation_secret(AUDIT_KEY_SECRET, || -> Result<String, ExportError> {
        Ok(AuditKey::generate()?.to_stored())
    })?;
    Ok(AuditKey::from_stored(&stored)?)
}

/// Writes the events `selection` chooses, in this installation's log order, each line as
/// `export` writes it, then the manifest signed with `key` (this installation's [`audit_key`]).
/// Returns the manifest. Only reads the store, so it runs on a connection of its own beside
/// entries being recorded.
pub fn export(
    store: &Store,
    key: &AuditKey,
    selection: &Selection,
    out: impl Write,
) -> Result<Manifest, ExportError> {
    let mut writer = AuditWriter::new(out);
    store.log_lines(selection, |line| -> Result<(), ExportError> {
        Ok(writer.event(line.id, line.seq, line.server_position, line.json)?)
    })?;
    let created_at = Timestamp::now().to_string();
    let (manifest, _) = writer.finish(key, store.device_id().as_str(), &created_at, selection.clone())?;
    Ok(manifest)
}

/// The fingerprint of a campaign's events: the head of the hash chain that an audit export of
/// the campaign (`pluto export --audit --campaign …`) writes in its manifest, so that a printed
/// record can be matched to a verifiable file.
pub fn custody_fingerprint(
    store: &Store,
    key: &AuditKey,
    campaign: &CampaignId,
) -> Result<String, ExportError> {
    let selection = Selection { campaigns: Some(vec![campaign.to_string()]), ..Selection::default() };
    Ok(export(store, key, &selection, io::sink())?.chain)
}

/// Something [`verify`] found wrong with an audit export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Finding {
    /// The manifest does not match its signature: it was altered, or signed with another key.
    Signature,
    /// An exported event's line differs from what was exported.
    Changed {
        /// The event id.
        id: String,
        /// Its line in the file.
        line: usize,
    },
    /// An exported event is missing.
    Removed {
        /// The event id.
        id: String,
        /// Its place in the export (1 for the first event).
        entry: usize,
    },
    /// A line that was not exported.
    Added {
        /// Its event id, when it has one.
        id: Option<String>,
        /// Its line in the file.
        line: usize,
    },
    /// The exported events are all there, unchanged, but in another order.
    Reordered,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Signature => f.write_str(
                "the manifest does not match its signature: it was altered after the export, or signed with another key than the one it names",
            ),
            Finding::Changed { id, line } => {
                write!(f, "line {line}: event {id} was changed after the export (its content differs from what was signed)")
            }
            Finding::Removed { id, entry } => {
                write!(f, "event {id} (event {entry} of the export) was removed")
            }
            Finding::Added { id: Some(id), line } => {
                write!(f, "line {line}: event {id} was added after the export (it is not in the manifest)")
            }
            Finding::Added { id: None, line } => {
                write!(f, "line {line} was added after the export (it is not an event of the manifest)")
            }
            Finding::Reordered => f.write_str("the events are all there, but in another order than exported"),
        }
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// The manifest as read.
    pub manifest: Manifest,
    /// Everything wrong; empty when the file is exactly as exported.
    pub findings: Vec<Finding>,
}

impl Verification {
    /// Whether the file is exactly as exported and signed by the key it names.
    pub fn is_intact(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Checks an audit export against its manifest and the manifest against its signature.
pub fn verify(input: impl BufRead) -> Result<Verification, AuditError> {
    let mut lines = lines(input).collect::<Result<Vec<_>, _>>()?;
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let manifest_at = lines
        .iter()
        .rposition(|l| l.starts_with(MANIFEST_PREFIX.as_bytes()))
        .ok_or(AuditError::NoManifest)?;
    let bad = |detail: String| AuditError::BadManifest { line: manifest_at + 1, detail };
    let parsed: ManifestLine<'_> =
        serde_json::from_slice(&lines[manifest_at]).map_err(|e| bad(e.to_string()))?;
    let format: FormatOnly = serde_json::from_str(parsed.manifest.get()).map_err(|e| bad(e.to_string()))?;
    if format.format > FORMAT {
        return Err(AuditError::NewerFormat(format.format));
    }
    let manifest: Manifest = serde_json::from_str(parsed.manifest.get()).map_err(|e| bad(e.to_string()))?;

    let mut findings = Vec::new();
    if !signature_matches(&manifest.public_key, &parsed.signature, parsed.manifest.get().as_bytes()) {
        findings.push(Finding::Signature);
    }

    // Lines after the manifest were added too.
    let event_lines = lines.iter().enumerate().filter(|(i, l)| *i != manifest_at && !l.is_empty());
    let mut expected: std::collections::HashMap<&str, (usize, &ManifestEvent)> =
        manifest.events.iter().enumerate().map(|(i, e)| (e.id.as_str(), (i, e))).collect();
    let mut chain = Chain::new();
    let mut order_kept = true;
    let mut next_entry = 0;
    for (index, line) in event_lines {
        let hash = sha256(line);
        chain.push(&hash);
        let id = serde_json::from_slice::<IdOnly>(line).ok().and_then(|e| e.id);
        match id.as_deref().and_then(|id| expected.remove(id)) {
            Some((entry, event)) => {
                if event.sha256 != hex(&hash) {
                    findings.push(Finding::Changed { id: event.id.clone(), line: index + 1 });
                }
                order_kept &= entry == next_entry;
                next_entry = entry + 1;
            }
            None => findings.push(Finding::Added { id, line: index + 1 }),
        }
    }
    let mut removed: Vec<_> = expected.into_values().collect();
    removed.sort_by_key(|(entry, _)| *entry);
    for (entry, event) in removed {
        findings.push(Finding::Removed { id: event.id.clone(), entry: entry + 1 });
    }
    if findings.is_empty() && (!order_kept || hex(&chain.0) != manifest.chain) {
        findings.push(Finding::Reordered);
    }
    Ok(Verification { manifest, findings })
}

#[derive(Deserialize)]
struct FormatOnly {
    format: u32,
}

#[derive(Deserialize)]
struct IdOnly {
    id: Option<String>,
}

fn signature_matches(public_key: &str, signature: &str, bytes: &[u8]) -> bool {
    let engine = base64::engine::general_purpose::STANDARD;
    let key = engine.decode(public_key).ok().and_then(|k| <[u8; 32]>::try_from(k).ok());
    let signature = engine.decode(signature).ok().and_then(|s| <[u8; 64]>::try_from(s).ok());
    let (Some(key), Some(signature)) = (key, signature) else {
        return false;
    };
    VerifyingKey::from_bytes(&key)
        .is_ok_and(|key| key.verify(bytes, &Signature::from_bytes(&signature)).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINES: [&str; 3] = [
        r#"{"id":"evt_01","streamId":"cmp_a","n":1}"#,
        r#"{"id":"evt_02","streamId":"cmp_a","n":2}"#,
        r#"{"id":"evt_03","streamId":"cmp_b","n":3}"#,
    ];

    #[test]
    fn the_canonical_hash_ignores_key_order_and_spacing_but_not_content() {
        let a = br#"{"id":"evt_1","data":{"netWeightKg":3360.2,"carrier":"S\u00f8ren"},"n":[1,2]}"#;
        let b = r#"{ "n": [1, 2], "data": {"carrier": "Søren", "netWeightKg": 3360.20}, "id": "evt_1" }"#;
        assert_eq!(canonical_sha256(a).unwrap(), canonical_sha256(b.as_bytes()).unwrap());
        let changed = r#"{"id":"evt_1","data":{"netWeightKg":3360.3,"carrier":"Søren"},"n":[1,2]}"#;
        assert_ne!(canonical_sha256(a).unwrap(), canonical_sha256(changed.as_bytes()).unwrap());
        let reordered = r#"{"id":"evt_1","data":{"netWeightKg":3360.2,"carrier":"Søren"},"n":[2,1]}"#;
        let reordered = canonical_sha256(reordered.as_bytes()).unwrap();
        assert_ne!(canonical_sha256(a).unwrap(), reordered, "arrays keep their order");
        assert!(canonical_sha256(b"not json").is_err());
    }

    fn export(key: &AuditKey) -> String {
        let mut writer = AuditWriter::new(Vec::new());
        for (i, line) in LINES.iter().enumerate() {
            let id = &line[7..13];
            writer.event(id, i as i64 + 1, (i == 0).then_some(40), line.as_bytes()).unwrap();
        }
        let (manifest, out) =
            writer.finish(key, "dev_x", "2026-12-02T10:00:00.000Z", Selection::default()).unwrap();
        assert_eq!(manifest.events.len(), 3);
        String::from_utf8(out).unwrap()
    }

    fn findings(text: &str) -> Vec<Finding> {
        verify(text.as_bytes()).unwrap().findings
    }

    #[test]
    fn an_untouched_export_verifies() {
        let key = AuditKey::generate().unwrap();
        let text = export(&key);
        let verification = verify(text.as_bytes()).unwrap();
        assert!(verification.is_intact(), "{:?}", verification.findings);
        assert_eq!(verification.manifest.public_key, key.public_key());
        assert_eq!(verification.manifest.events[0].server_position, Some(40));
        // Opened and saved on Windows: CRLF line ends are line ends, not changes.
        assert!(findings(&text.replace('\n', "\r\n")).is_empty());
    }

    #[test]
    fn a_changed_added_or_removed_event_is_named() {
        let text = export(&AuditKey::generate().unwrap());
        let changed = text.replacen(r#""n":2"#, r#""n":7"#, 1);
        assert_eq!(findings(&changed), [Finding::Changed { id: "evt_02".into(), line: 2 }]);

        let removed: String =
            text.lines().filter(|l| !l.starts_with(r#"{"id":"evt_01""#)).map(|l| format!("{l}\n")).collect();
        assert_eq!(findings(&removed), [Finding::Removed { id: "evt_01".into(), entry: 1 }]);

        let added = format!("{}\n{text}", r#"{"id":"evt_99","n":9}"#);
        assert_eq!(findings(&added), [Finding::Added { id: Some("evt_99".into()), line: 1 }]);
        assert_eq!(findings(&format!("not json\n{text}")), [Finding::Added { id: None, line: 1 }]);

        let mut lines: Vec<&str> = text.lines().collect();
        lines.swap(0, 1);
        assert_eq!(findings(&(lines.join("\n") + "\n")), [Finding::Reordered]);
    }

    #[test]
    fn a_manifest_altered_to_hide_a_change_fails_its_signature() {
        let text = export(&AuditKey::generate().unwrap());
        // Drop an event and its manifest entry: the lines agree, the signature does not.
        let manifest_line = text.lines().last().unwrap();
        let entry_start = manifest_line.find(r#"{"id":"evt_03""#).unwrap();
        let entry_end = entry_start + manifest_line[entry_start..].find('}').unwrap() + 1;
        let forged = format!("{}{}", &manifest_line[..entry_start - 1], &manifest_line[entry_end..]);
        let text: String =
            text.lines().take(2).map(|l| format!("{l}\n")).collect::<String>() + &forged + "\n";
        assert!(findings(&text).contains(&Finding::Signature), "{:?}", findings(&text));
    }

    #[test]
    fn files_that_are_no_audit_export_or_newer_are_explained() {
        assert!(matches!(verify(LINES.join("\n").as_bytes()), Err(AuditError::NoManifest)));
        let newer = r#"{"plutoAuditManifest":{"format":2},"signature":""}"#;
        let err = verify(newer.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("format 2"), "{err}");
    }

    #[test]
    fn a_stored_key_comes_back_the_same() {
        let key = AuditKey::generate().unwrap();
        let again = AuditKey::from_stored(&key.to_stored()).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        assert!(AuditKey::from_stored("not base64!").is_err());
    }
}
