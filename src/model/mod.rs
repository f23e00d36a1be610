//! Canonical data model: the Arrow tables every later stage reads.
//!
//! See `docs/schema.md` and design §2–§3. Ingest paths produce [`spans::SpanRecord`]s
//! (or, on the OTLP/JSON fast path, [`spans::SpanRef`]s borrowing the input; one per span, resource fields shared through [`spans::ResourceInfo`]) and append them to a
//! [`spans::SpansBuilder`], which owns the column layout.

pub mod comparison;
pub(crate) mod dict_column;
pub mod hash;
pub mod identity;
pub mod ids;
pub mod label;
pub mod metric_data;
pub mod metric_delta;
pub mod metric_series;
pub mod metrics;
pub mod quality;
pub mod requests;
pub mod resources;
pub mod route;
pub mod spans;
pub mod time;
pub mod traces;
