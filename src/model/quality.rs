//! The data-quality log: every record that could not be taken as it was, with where and why.
//!
//! Policy (README "Data quality"): ingest never drops a record silently. A record that cannot
//! be used is *rejected* and logged with its file, line or row, field and reason; a record that
//! is used but was written in a non-conformant way (base64 ids, enum names) gets a *note*.
//! Exact duplicate spans are dropped and counted. `--strict` turns any rejection into a
//! failure. Counts are always exact; the list keeps the first [`MAX_LISTED_PER_KIND`] issues of
//! each kind so a file of a million bad lines does not become a million-entry report.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Issues of one kind kept in the list; the rest are counted only.
pub const MAX_LISTED_PER_KIND: usize = 200;

/// Whether the record was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The record (or the rest of the file) was not ingested.
    Rejected,
    /// The record was ingested; something about it is non-conformant or was repaired.
    Note,
}

/// What went wrong. Serialised as the snake_case name; stable, documented in README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// A line or document that is not valid JSON.
    MalformedJson,
    /// The last line of a file ends without a newline and does not parse: a cut-off export.
    TruncatedLine,
    /// A field has the wrong JSON type or an out-of-range value.
    WrongType,
    /// A required field (trace id, span id, name, start time) is absent.
    MissingField,
    /// A trace or span id that is empty, all zero or not decodable.
    BadId,
    /// An id written as base64 instead of hex (proto3 canonical JSON).
    NonHexId,
    /// An enum written as its name instead of its number.
    EnumAsName,
    /// End time before start time.
    EndBeforeStart,
    /// A Parquet row group or file that cannot be decoded.
    BadParquet,
    /// A protobuf frame that cannot be decoded.
    BadProtobuf,
    /// A compressed stream that ends early or is corrupt.
    BadCompression,
    /// A file whose format is not one canalyst reads (logs, binary junk).
    UnsupportedFormat,
    /// A file with no records.
    EmptyFile,
    /// Same trace id and span id as an earlier span, but different content.
    ConflictingDuplicate,
    /// Cumulative series reset (start time changed or value decreased).
    CounterReset,
    /// Any other problem with a metric point.
    BadMetricPoint,
}

impl IssueKind {
    /// Stable snake_case name, as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            IssueKind::MalformedJson => "malformed_json",
            IssueKind::TruncatedLine => "truncated_line",
            IssueKind::WrongType => "wrong_type",
            IssueKind::MissingField => "missing_field",
            IssueKind::BadId => "bad_id",
            IssueKind::NonHexId => "non_hex_id",
            IssueKind::EnumAsName => "enum_as_name",
            IssueKind::EndBeforeStart => "end_before_start",
            IssueKind::BadParquet => "bad_parquet",
            IssueKind::BadProtobuf => "bad_protobuf",
            IssueKind::BadCompression => "bad_compression",
            IssueKind::UnsupportedFormat => "unsupported_format",
            IssueKind::EmptyFile => "empty_file",
            IssueKind::ConflictingDuplicate => "conflicting_duplicate",
            IssueKind::CounterReset => "counter_reset",
            IssueKind::BadMetricPoint => "bad_metric_point",
        }
    }
}

/// One located data-quality finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    /// What kind of problem.
    pub kind: IssueKind,
    /// Whether the record was dropped.
    pub severity: Severity,
    /// Input file path as given on the command line (or found under a given directory).
    pub file: String,
    /// 1-based line for line-oriented input (JSON lines, and the line where a pretty document's
    /// error is), frame number for protobuf framing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// 0-based row for Parquet input (row group start + offset), or span index in a document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// JSON path or column of the offending field, e.g. `resourceSpans[0].scopeSpans[0].spans[3].spanId`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Human-readable reason.
    pub reason: String,
}

impl Issue {
    /// A rejection at a file/line/field.
    pub fn rejected(
        kind: IssueKind,
        file: &str,
        line: Option<u64>,
        field: Option<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            severity: Severity::Rejected,
            file: file.to_string(),
            line,
            row: None,
            field,
            reason: reason.into(),
        }
    }

    /// A note at a file/line/field.
    pub fn note(
        kind: IssueKind,
        file: &str,
        line: Option<u64>,
        field: Option<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            severity: Severity::Note,
            file: file.to_string(),
            line,
            row: None,
            field,
            reason: reason.into(),
        }
    }

    /// The same issue located at a Parquet row (or span index).
    pub fn at_row(mut self, row: u64) -> Self {
        self.row = Some(row);
        self
    }

    /// `file:line: field: reason`, the form printed to stderr.
    pub fn location(&self) -> String {
        let mut s = self.file.clone();
        if let Some(l) = self.line {
            s.push_str(&format!(":{l}"));
        }
        if let Some(r) = self.row {
            s.push_str(&format!(" row {r}"));
        }
        s
    }
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location(), self.kind.name())?;
        if let Some(field) = &self.field {
            write!(f, " at {field}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Per-file counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileSummary {
    /// Path.
    pub file: String,
    /// Detected format, e.g. `otlp-json-lines+gzip`.
    pub format: String,
    /// Records (spans or points) seen, good or bad.
    pub records_read: u64,
    /// Records ingested (before duplicate removal).
    pub records_ingested: u64,
    /// Records rejected.
    pub records_rejected: u64,
}

/// The data-quality summary and issue list of one ingest (serialised as `data_quality.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataQuality {
    /// Records seen in all inputs.
    pub records_read: u64,
    /// Records written to the canonical tables (after duplicate removal).
    pub records_ingested: u64,
    /// Records rejected (each has an issue, listed or counted).
    pub records_rejected: u64,
    /// Exact duplicate spans dropped.
    pub duplicates_dropped: u64,
    /// Issue counts by kind name (all of them, listed or not).
    pub counts: BTreeMap<String, u64>,
    /// Per-file summaries, in input order.
    pub files: Vec<FileSummary>,
    /// The listed issues, in input order, at most [`MAX_LISTED_PER_KIND`] per kind.
    pub issues: Vec<Issue>,
    /// Issues counted but not listed because of the per-kind cap.
    pub issues_not_listed: u64,
}

impl DataQuality {
    /// Records an issue: always counted, listed while under the per-kind cap.
    pub fn push(&mut self, issue: Issue) {
        let n = self
            .counts
            .entry(issue.kind.name().to_string())
            .or_insert(0);
        *n += 1;
        if (*n as usize) <= MAX_LISTED_PER_KIND {
            self.issues.push(issue);
        } else {
            self.issues_not_listed += 1;
        }
    }

    /// Number of issues of severity [`Severity::Rejected`] that were listed or counted.
    pub fn rejections(&self) -> u64 {
        self.records_rejected
    }

    /// Appends another log (a later file or chunk); keeps input order if called in order.
    pub fn merge(&mut self, other: DataQuality) {
        self.records_read += other.records_read;
        self.records_ingested += other.records_ingested;
        self.records_rejected += other.records_rejected;
        self.duplicates_dropped += other.duplicates_dropped;
        self.files.extend(other.files);
        self.issues_not_listed += other.issues_not_listed;
        // Re-apply the cap across merged logs, counting what the other log had counted.
        let mut listed: BTreeMap<String, u64> = BTreeMap::new();
        for i in &self.issues {
            *listed.entry(i.kind.name().to_string()).or_insert(0) += 1;
        }
        for i in other.issues {
            let l = listed.entry(i.kind.name().to_string()).or_insert(0);
            if (*l as usize) < MAX_LISTED_PER_KIND {
                *l += 1;
                self.issues.push(i);
            } else {
                self.issues_not_listed += 1;
            }
        }
        for (k, v) in other.counts {
            *self.counts.entry(k).or_insert(0) += v;
        }
    }

    /// One-paragraph summary for stderr.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "read {} records, ingested {}, rejected {}, duplicates dropped {}",
            self.records_read,
            self.records_ingested,
            self.records_rejected,
            self.duplicates_dropped
        );
        if !self.counts.is_empty() {
            let parts: Vec<String> = self
                .counts
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            s.push_str(&format!("; issues: {}", parts.join(", ")));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_everything_lists_capped() {
        let mut q = DataQuality::default();
        for i in 0..(MAX_LISTED_PER_KIND as u64 + 5) {
            q.push(Issue::rejected(
                IssueKind::MalformedJson,
                "f",
                Some(i + 1),
                None,
                "x",
            ));
        }
        assert_eq!(q.counts["malformed_json"], MAX_LISTED_PER_KIND as u64 + 5);
        assert_eq!(q.issues.len(), MAX_LISTED_PER_KIND);
        assert_eq!(q.issues_not_listed, 5);

        let mut a = DataQuality::default();
        a.push(Issue::note(IssueKind::NonHexId, "a", Some(1), None, "b64"));
        a.merge(q);
        assert_eq!(a.counts["malformed_json"], MAX_LISTED_PER_KIND as u64 + 5);
        assert_eq!(a.issues.len(), MAX_LISTED_PER_KIND + 1);
        assert_eq!(a.issues_not_listed, 5);
        assert_eq!(a.issues[0].file, "a");
    }

    #[test]
    fn display_has_location() {
        let i = Issue::rejected(
            IssueKind::BadId,
            "x.jsonl",
            Some(7),
            Some("spanId".into()),
            "empty id",
        );
        assert_eq!(i.to_string(), "x.jsonl:7: bad_id at spanId: empty id");
    }
}
