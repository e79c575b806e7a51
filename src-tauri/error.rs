//! The one error type every command returns: what went wrong in words, and which form fields
//! to show it beside.

use pluto_domain::Refusal;

use pluto_store::StoreError;
use serde::Serialize;

/// What kind of failure, so the UI can choose where to show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub enum ErrorKind {
    /// The input breaks a rule; nothing was recorded. Correct the fields named and retry.
    Refused,
    /// The campaign changed since it was shown (sync, another window); reload and retry.
    Conflict,
    /// No such campaign or event.
    NotFound,
    /// The database cannot be used right now (not opened, busy, locked).
    Unavailable,
    /// Anything else: a disk or database failure.
    Failed,
}

/// A refused form field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(rename_all = "camelCase")]
pub struct FieldProblem {
    /// The payload field (`netWeightKg`, `changes.netWeightKg.now`, or a form field like `name`).
    pub field: String,
    /// What is wrong and what is expected.
    pub message: String,
}

/// A command's failure. Nothing is recorded when a command fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{message}")]
pub struct CommandError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The whole message, for a banner.
    pub message: String,
    /// The fields to show messages beside; empty when no single field is to blame.
    pub problems: Vec<FieldProblem>,
}

impl CommandError {
    /// A failure of `kind` with no field to blame.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CommandError { kind, message: message.into(), problems: Vec::new() }
    }

    /// A refusal of the given fields; the message lists them all.
    pub fn fields(problems: Vec<FieldProblem>) -> Self {
        let message =
            problems.iter().map(|p| format!("{}: {}", p.field, p.message)).collect::<Vec<_>>().join("; ");
        CommandError { kind: ErrorKind::Refused, message, problems }
    }

    /// A refusal of one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::fields(vec![FieldProblem { field: field.to_owned(), message: message.into() }])
    }
}

impl From<Refusal> for CommandError {
    fn from(r: Refusal) -> Self {
        let kind = match r {
            Refusal::UnknownCampaign(_) => ErrorKind::NotFound,
            _ => ErrorKind::Refused,
        };
        let problems = match &r {
            Refusal::Field(e) => vec![FieldProblem { field: e.field.clone(), message: e.message.clone() }],
            // The step chosen is what is wrong: the form shows it beside the step.
            Refusal::OutOfOrder { .. }
            | Refusal::EchaGate { .. }
            | Refusal::Completed { .. }
            | Refusal::NotThisSite { .. }
            | Refusal::AlreadyCreated(_) => {
                vec![FieldProblem { field: "eventType".to_owned(), message: r.to_string() }]
            }
            other => other
                .field()
                .map(|f| FieldProblem { field: f.to_owned(), message: other.to_string() })
                .into_iter()
                .collect(),
        };
        CommandError { kind, message: r.to_string(), problems }
    }
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Refused(r) => r.into(),
            StoreError::Conflict { .. } | StoreError::ChangedMeanwhile(_) => {
                CommandError::new(ErrorKind::Conflict, e.to_string())
            }
            StoreError::Busy => CommandError::new(ErrorKind::Unavailable, e.to_string()),
            other => CommandError::new(ErrorKind::Failed, other.to_string()),
        }
    }
}

impl From<pluto_reports::audit::ExportError> for CommandError {
    fn from(e: pluto_reports::audit::ExportError) -> Self {
        match e {
            pluto_reports::audit::ExportError::Store(e) => e.into(),
            other => CommandError::new(ErrorKind::Failed, other.to_string()),
        }
    }
}

impl From<pluto_reports::documents::DocumentError> for CommandError {
    fn from(e: pluto_reports::documents::DocumentError) -> Self {
        match e {
            pluto_reports::documents::DocumentError::Store(e) => e.into(),
            pluto_reports::documents::DocumentError::Export(e) => e.into(),
            other => CommandError::new(ErrorKind::Failed, other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pluto_domain::FieldError;

    #[test]
    fn a_field_refusal_names_its_field() {
        let e: CommandError = StoreError::Refused(Refusal::Field(FieldError::new(
            "netWeightKg",
            "must not exceed the gross weight (1000 kg)",
        )))
        .into();
        assert_eq!(e.kind, ErrorKind::Refused);
        assert_eq!(e.problems[0].field, "netWeightKg");
        assert!(e.message.contains("the gross weight (1000 kg)"));
    }
}
