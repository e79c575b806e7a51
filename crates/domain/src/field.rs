//! A refused field: which one, and what was expected. Every rule names the field it breaks, so
//! that a form shows the message beside it and the command line names it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A refused field: which one, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{field}: {message}")]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct FieldError {
    /// JSON path of the field (`grossWeightKg`, `changes.netWeightKg.now`, or `data`).
    pub field: String,
    /// What was wrong and what is expected.
    pub message: String,
}

impl FieldError {
    /// A refusal of `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Short description of a JSON value for error messages.
pub fn describe(value: &Value) -> String {
    let text = match value {
        Value::Null => return "null".into(),
        Value::Object(_) => return "an object".into(),
        Value::Array(_) => return "a list".into(),
        other => other.to_string(),
    };
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}
