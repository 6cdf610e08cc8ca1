//! Errors with CloudFormation's wording and, where known, a source position.

use std::fmt;

/// A 1-based line and column in the template text. `line == 0` means "unknown".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub struct Span {
    pub line: u32,
    pub col: u32,
}

impl Span {
    pub const NONE: Span = Span { line: 0, col: 0 };
    pub fn new(line: u32, col: u32) -> Span {
        Span { line, col }
    }
    pub fn is_known(&self) -> bool {
        self.line > 0
    }
}

/// What kind of failure, so the engine can map it to the right AWS error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// YAML/JSON syntax or template structure: "Template format error: ...".
    Format,
    /// Evaluation-time problems: "Template error: ...".
    Template,
    /// A parameter value failed validation (ValidationError with the AWS text).
    Parameter { name: String },
    /// A rule assertion failed.
    Rule { rule: String },
    /// Circular dependency between resources.
    Circular { cycle: Vec<String> },
    /// A transform (or macro) ironsage does not support.
    UnsupportedTransform { name: String },
}

/// A template error. `message()` is exactly the text AWS would return;
/// `Display` appends ` at line L, column C` when the position is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TemplateError {
    pub kind: ErrorKind,
    message: String,
    pub span: Span,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.span.is_known() {
            write!(
                f,
                "{} at line {}, column {}",
                self.message, self.span.line, self.span.col
            )
        } else {
            f.write_str(&self.message)
        }
    }
}

impl TemplateError {
    pub fn new(kind: ErrorKind, message: impl Into<String>, span: Span) -> Self {
        TemplateError {
            kind,
            message: message.into(),
            span,
        }
    }
    /// "Template format error: {msg}".
    pub fn format(msg: impl AsRef<str>, span: Span) -> Self {
        Self::new(
            ErrorKind::Format,
            format!("Template format error: {}", msg.as_ref()),
            span,
        )
    }
    /// "Template error: {msg}".
    pub fn template(msg: impl AsRef<str>, span: Span) -> Self {
        Self::new(
            ErrorKind::Template,
            format!("Template error: {}", msg.as_ref()),
            span,
        )
    }
    pub fn parameter(name: &str, message: impl Into<String>) -> Self {
        Self::new(
            ErrorKind::Parameter {
                name: name.to_string(),
            },
            message,
            Span::NONE,
        )
    }
    /// The message exactly as AWS words it (no position suffix).
    pub fn message(&self) -> &str {
        &self.message
    }
    pub(crate) fn with_span_if_unknown(mut self, span: Span) -> Self {
        if !self.span.is_known() {
            self.span = span;
        }
        self
    }
}
