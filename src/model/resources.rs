//! Resource attributes stored once per resource: the DATASET layout of spans schema version 2.
//!
//! In memory every span row carries its resource's attributes in `resource_attributes` (the
//! canonical table, [`spans_schema`]). In a DATASET that map is the same for every span of a
//! resource, so `spans.parquet` carries a `resource_id` in its place ([`stored_spans_schema`])
//! and `resources.parquet` holds each distinct resource once ([`resources_schema`]): writing the
//! map for every span was a quarter of an ingest's CPU (docs/benchmarks.md, session 16).
//!
//! A resource id is a 64-bit hash of the resource's attribute list ([`resource_id_of`]), so
//! the parallel decoders assign it without talking to each other and the same resource has the
//! same id in every DATASET written by one canalyst version. Ids are compared with their
//! attributes whenever two tables meet ([`ResourceTable::insert`]), so a hash collision is an
//! error, never a span given another resource's attributes.
//!
//! [`ResourceTable`] collects the resources while a DATASET is written
//! ([`ResourceTable::absorb`]) and puts each span's map back when one is read
//! ([`ResourceTable::expand`], [`ResourceTable::attributes_of`]).

use super::spans::spans_schema;
pub use super::spans::{carrier_spans_schema, resource_id_of};
use arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, MapArray, MapBuilder, StringBuilder, UInt32Array,
};
use arrow::datatypes::{Field, Int64Type, Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

pub use super::spans::{RESOURCE_ATTRIBUTES, RESOURCE_ID};

/// Why resource ids and attributes do not fit together.
#[derive(Debug, thiserror::Error)]
pub enum ResourceError {
    /// Two different attribute lists hash to one id (a 64-bit collision), or two tables
    /// disagree about an id.
    #[error("resource id {id} stands for two different attribute lists")]
    Collision {
        /// The id.
        id: i64,
    },
    /// A span names a resource id the table does not hold.
    #[error("resource id {id} is not in the resources table")]
    Unknown {
        /// The id.
        id: i64,
    },
    /// A batch or file does not have the expected columns.
    #[error("{0}")]
    Schema(String),
    /// An Arrow kernel failed.
    #[error(transparent)]
    Arrow(#[from] ArrowError),
}

fn attributes_position() -> usize {
    spans_schema()
        .index_of(RESOURCE_ATTRIBUTES)
        .expect("canonical column")
}

/// The `resource_attributes` field of the canonical schema.
fn attributes_field() -> Field {
    spans_schema().field(attributes_position()).clone()
}

/// The fields of `schema` with the one at `at` replaced by `field`.
fn with_field(schema: &Schema, at: usize, field: Field) -> Vec<Field> {
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields[at] = field;
    fields
}

fn id_field() -> Field {
    super::spans::resource_id_field()
}

/// Whether `schema` is the stored layout of a DATASET's spans file (schema version 2):
/// `resource_id`, no `resource_attributes`.
pub fn is_stored_layout(schema: &Schema) -> bool {
    schema.field_with_name(RESOURCE_ID).is_ok()
        && schema.field_with_name(RESOURCE_ATTRIBUTES).is_err()
}

/// The schema of a DATASET's `spans.parquet`: the canonical columns in canonical order, with
/// `resource_id` (Int64, not null) in the place of `resource_attributes`.
pub fn stored_spans_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let fields = with_field(&spans_schema(), attributes_position(), id_field());
            Arc::new(Schema::new(fields))
        })
        .clone()
}

/// The schema of a DATASET's `resources.parquet`: `resource_id` (Int64, not null) and
/// `resource_attributes` (the canonical map type), one row per distinct resource.
pub fn resources_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| Arc::new(Schema::new(vec![id_field(), attributes_field()])))
        .clone()
}

type Entries = Box<[(String, String)]>;

/// The distinct resources of one or more DATASETs: id → attribute list, in first-seen order.
#[derive(Debug, Default)]
pub struct ResourceTable {
    index: HashMap<i64, usize>,
    ids: Vec<i64>,
    entries: Vec<Entries>,
    /// `entries` as one map array (row `i` = resource `i`), built on first use by a reader.
    map: OnceLock<MapArray>,
}

/// The entries of row `row` of a map column.
fn row_entries(map: &MapArray, row: usize) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
    let offsets = map.value_offsets();
    let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
    let keys = map.keys().as_string::<i32>();
    let values = map.values().as_string::<i32>();
    (start..end).map(move |j| (keys.value(j), values.value(j)))
}

impl ResourceTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Distinct resources held.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no resource is held.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The attribute list of resource `id`, if held.
    pub fn get(&self, id: i64) -> Option<&[(String, String)]> {
        self.index.get(&id).map(|&i| &*self.entries[i])
    }

    /// Adds resource `id` with `attributes`, or checks them against the list it already has
    /// ([`ResourceError::Collision`] when they differ).
    pub fn insert<'a>(
        &mut self,
        id: i64,
        attributes: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), ResourceError> {
        match self.index.get(&id) {
            Some(&i) => {
                let held = &self.entries[i];
                let n = attributes.len();
                let same = n == held.len()
                    && attributes
                        .zip(held.iter())
                        .all(|((k, v), (hk, hv))| k == hk && v == hv);
                if same {
                    Ok(())
                } else {
                    Err(ResourceError::Collision { id })
                }
            }
            None => {
                self.index.insert(id, self.ids.len());
                self.ids.push(id);
                self.entries.push(
                    attributes
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                );
                self.map = OnceLock::new();
                Ok(())
            }
        }
    }

    /// Adds every resource of `other` (checked like [`ResourceTable::insert`]).
    pub fn merge(&mut self, other: &ResourceTable) -> Result<(), ResourceError> {
        for (id, e) in other.ids.iter().zip(&other.entries) {
            self.insert(*id, e.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        }
        Ok(())
    }

    /// Takes the resources of a span batch and returns the batch in the stored layout
    /// ([`stored_spans_schema`]). The batch is either canonical ([`spans_schema`]: every row's
    /// map is hashed to its id) or built with resource ids ([`carrier_spans_schema`]: the ids
    /// are given, and the map of the first row of each resource in the batch carries its
    /// attributes). Runs of one id are looked at once, so the usual cost is one comparison per
    /// row.
    pub fn absorb(&mut self, batch: &RecordBatch) -> Result<RecordBatch, ResourceError> {
        let at = attributes_position();
        let n_canonical = spans_schema().fields().len();
        let map = batch
            .columns()
            .get(at)
            .and_then(|c| c.as_map_opt())
            .ok_or_else(|| {
                ResourceError::Schema(format!("column {} is not {RESOURCE_ATTRIBUTES}", at + 1))
            })?;
        let ids: Int64Array = match batch.num_columns() {
            n if n == n_canonical + 1 => batch
                .column(n_canonical)
                .as_primitive_opt::<Int64Type>()
                .ok_or_else(|| ResourceError::Schema(format!("{RESOURCE_ID} is not Int64")))?
                .clone(),
            n if n == n_canonical => (0..batch.num_rows())
                .map(|i| resource_id_of(row_entries(map, i)))
                .collect(),
            n => {
                return Err(ResourceError::Schema(format!(
                    "{n} columns, expected {n_canonical} or {}",
                    n_canonical + 1
                )))
            }
        };
        let mut last: Option<i64> = None;
        for (i, id) in ids.values().iter().copied().enumerate() {
            // Every row that carries a map is checked (in a carrier batch only the first row of
            // each resource does, or a colliding resource's row); a row without one is trusted
            // when the id is the previous row's.
            if map.is_valid(i) {
                self.insert(id, row_entries(map, i))?;
            } else if last != Some(id) && !self.index.contains_key(&id) {
                return Err(ResourceError::Unknown { id });
            }
            last = Some(id);
        }
        let mut cols: Vec<ArrayRef> = batch.columns()[..n_canonical].to_vec();
        cols[at] = Arc::new(ids);
        Ok(RecordBatch::try_new(stored_spans_schema(), cols)?)
    }

    /// The table as one batch in [`resources_schema`], in first-seen order.
    pub fn to_batch(&self) -> Result<RecordBatch, ResourceError> {
        Ok(RecordBatch::try_new(
            resources_schema(),
            vec![
                Arc::new(Int64Array::from(self.ids.clone())),
                Arc::new(self.map().clone()),
            ],
        )?)
    }

    /// Reads a table from batches in [`resources_schema`] (a `resources.parquet`).
    pub fn from_batches<'a>(
        batches: impl IntoIterator<Item = &'a RecordBatch>,
    ) -> Result<Self, ResourceError> {
        let mut t = Self::new();
        for b in batches {
            let (Some(ids), Some(map)) = (
                b.column_by_name(RESOURCE_ID)
                    .and_then(|c| c.as_primitive_opt::<Int64Type>()),
                b.column_by_name(RESOURCE_ATTRIBUTES)
                    .and_then(|c| c.as_map_opt()),
            ) else {
                return Err(ResourceError::Schema(format!(
                    "needs {RESOURCE_ID} (Int64) and {RESOURCE_ATTRIBUTES} (map)"
                )));
            };
            if map.null_count() > 0 || map.values().null_count() > 0 {
                return Err(ResourceError::Schema(format!(
                    "a null {RESOURCE_ATTRIBUTES} map or value"
                )));
            }
            for (i, id) in ids.iter().enumerate() {
                let id = id.ok_or_else(|| ResourceError::Schema(format!("null {RESOURCE_ID}")))?;
                t.insert(id, row_entries(map, i))?;
            }
        }
        Ok(t)
    }

    fn map(&self) -> &MapArray {
        self.map.get_or_init(|| {
            let mut b = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
            for e in &self.entries {
                for (k, v) in e.iter() {
                    b.keys().append_value(k);
                    b.values().append_value(v);
                }
                b.append(true).expect("keys and values appended in pairs");
            }
            b.finish()
        })
    }

    /// The attribute maps of `ids`, row by row (null where an id is null), in the canonical
    /// `resource_attributes` type.
    pub fn attributes_of(&self, ids: &Int64Array) -> Result<ArrayRef, ResourceError> {
        let mut last = None;
        let positions: UInt32Array = ids
            .iter()
            .map(|id| match id {
                None => Ok(None),
                Some(id) => {
                    if let Some((l, p)) = last {
                        if l == id {
                            return Ok(Some(p));
                        }
                    }
                    let p = *self.index.get(&id).ok_or(ResourceError::Unknown { id })? as u32;
                    last = Some((id, p));
                    Ok(Some(p))
                }
            })
            .collect::<Result<_, ResourceError>>()?;
        Ok(arrow::compute::take(self.map(), &positions, None)?)
    }

    /// A stored span batch ([`stored_spans_schema`], or a projection of it that keeps
    /// `resource_id`) with `resource_id` replaced by the resource's `resource_attributes`: the
    /// canonical layout again. A batch without `resource_id` is returned as it is.
    pub fn expand(&self, batch: &RecordBatch) -> Result<RecordBatch, ResourceError> {
        let schema = batch.schema();
        let Ok(at) = schema.index_of(RESOURCE_ID) else {
            return Ok(batch.clone());
        };
        let ids = batch
            .column(at)
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| ResourceError::Schema(format!("{RESOURCE_ID} is not Int64")))?;
        let mut cols = batch.columns().to_vec();
        cols[at] = self.attributes_of(ids)?;
        let fields = with_field(&schema, at, attributes_field());
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
            cols,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::identity::IdentityConfig;
    use crate::model::spans::{ResourceInfo, SpanRecord, SpansBuilder};

    fn res(service: &str, pod: &str) -> ResourceInfo {
        ResourceInfo::from_attributes(
            vec![
                ("service.name".into(), service.into()),
                ("k8s.pod.name".into(), pod.into()),
            ],
            None,
            &IdentityConfig::default(),
        )
    }

    fn span(i: u8) -> SpanRecord {
        SpanRecord {
            trace_id: [i; 16],
            span_id: [i; 8],
            name: format!("op{i}"),
            start_time_unix_nano: 1_000 * i as i64,
            end_time_unix_nano: 1_000 * i as i64 + 5,
            ..Default::default()
        }
    }

    /// Rows of resources `a a b a c` built both ways.
    fn batches() -> (RecordBatch, RecordBatch) {
        let (a, b, c) = (res("a", "p1"), res("b", "p2"), res("c", "p1"));
        let rows = [&a, &a, &b, &a, &c];
        let build = |ids: bool| {
            let mut builder =
                SpansBuilder::new(Arc::new(IdentityConfig::default()), "f").resource_ids(ids);
            for (i, r) in rows.iter().enumerate() {
                builder.append(r, &span(i as u8));
            }
            builder.finish().unwrap()
        };
        (build(false), build(true))
    }

    #[test]
    fn carrier_batches_hold_each_map_once_and_store_like_canonical_ones() {
        let (canonical, carrier) = batches();
        assert_eq!(carrier.schema(), carrier_spans_schema());
        let maps = carrier.column(attributes_position()).as_map();
        // a, b and c carry their maps on first sight; the second and fourth rows do not.
        assert_eq!(
            (0..5).map(|i| maps.is_valid(i)).collect::<Vec<_>>(),
            [true, false, true, false, true]
        );
        let (mut t1, mut t2) = (ResourceTable::new(), ResourceTable::new());
        let s1 = t1.absorb(&canonical).unwrap();
        let s2 = t2.absorb(&carrier).unwrap();
        assert_eq!(s1, s2);
        assert_eq!(s1.schema(), stored_spans_schema());
        assert_eq!(t1.to_batch().unwrap(), t2.to_batch().unwrap());
        assert_eq!(t1.len(), 3);
        // Back to the canonical layout, row for row.
        assert_eq!(t2.expand(&s2).unwrap(), canonical);
    }

    #[test]
    fn ids_are_hashes_of_the_attribute_list() {
        let a = res("a", "p1");
        let attrs = a.attributes().iter().map(|(k, v)| (k.as_str(), v.as_str()));
        assert_eq!(a.resource_id(), resource_id_of(attrs));
        assert_ne!(a.resource_id(), res("a", "p2").resource_id());
        assert_eq!(ResourceInfo::default().resource_id(), 0);
        assert_eq!(resource_id_of(std::iter::empty()), 0);
    }

    #[test]
    fn a_collision_or_a_missing_carrier_is_an_error() {
        let mut t = ResourceTable::new();
        t.insert(7, [("k", "v")].into_iter()).unwrap();
        t.insert(7, [("k", "v")].into_iter()).unwrap();
        assert!(matches!(
            t.insert(7, [("k", "w")].into_iter()),
            Err(ResourceError::Collision { id: 7 })
        ));
        // A carrier batch whose first row of a resource has no map, for an id never seen.
        let (_, carrier) = batches();
        let fresh = carrier.slice(1, 1);
        assert!(matches!(
            ResourceTable::new().absorb(&fresh),
            Err(ResourceError::Unknown { .. })
        ));
        // Expanding an id the table does not hold.
        let mut t = ResourceTable::new();
        let stored = t.absorb(&carrier).unwrap();
        assert!(matches!(
            ResourceTable::new().expand(&stored),
            Err(ResourceError::Unknown { .. })
        ));
    }

    /// Two resources under one id (a hash collision, forced here) are an error in the
    /// writer, whether the builder saw them in one batch or the table meets them later.
    #[test]
    fn a_collision_is_found_inside_one_batch() {
        let (_, carrier) = batches();
        let at = carrier.num_columns() - 1;
        let mut cols = carrier.columns().to_vec();
        cols[at] = Arc::new(Int64Array::from(vec![42; carrier.num_rows()]));
        let forced = RecordBatch::try_new(carrier.schema(), cols).unwrap();
        assert!(matches!(
            ResourceTable::new().absorb(&forced),
            Err(ResourceError::Collision { id: 42 })
        ));
    }

    /// A foreign file whose schema lets the map be null: a null map is refused, not read as
    /// a resource without attributes.
    #[test]
    fn a_null_map_in_a_resources_file_is_refused() {
        let mut t = ResourceTable::new();
        t.insert(3, [("k", "v")].into_iter()).unwrap();
        let good = t.to_batch().unwrap();
        let (fields, offsets, entries, _, sorted) = good.column(1).as_map().clone().into_parts();
        let nulls = Some(arrow::buffer::NullBuffer::from(vec![false]));
        let null_map = MapArray::new(fields, offsets, entries, nulls, sorted);
        let schema = Schema::new(vec![id_field(), attributes_field().with_nullable(true)]);
        let bad = RecordBatch::try_new(
            Arc::new(schema),
            vec![good.column(0).clone(), Arc::new(null_map)],
        )
        .unwrap();
        let err = ResourceTable::from_batches([&bad]).unwrap_err().to_string();
        assert!(err.contains("null"), "{err}");
    }

    #[test]
    fn tables_round_trip_through_batches_and_merge() {
        let (canonical, _) = batches();
        let mut t = ResourceTable::new();
        t.absorb(&canonical).unwrap();
        let back = ResourceTable::from_batches([&t.to_batch().unwrap()]).unwrap();
        assert_eq!(back.to_batch().unwrap(), t.to_batch().unwrap());
        let mut merged = ResourceTable::new();
        merged.insert(1, [("x", "y")].into_iter()).unwrap();
        merged.merge(&back).unwrap();
        merged.merge(&t).unwrap();
        assert_eq!(merged.len(), 4);
        assert_eq!(
            merged.get(1),
            Some(&[("x".to_string(), "y".to_string())][..])
        );
    }

    #[test]
    fn projections_without_the_id_pass_through_expand() {
        let (canonical, _) = batches();
        let mut t = ResourceTable::new();
        let stored = t.absorb(&canonical).unwrap();
        let projected = stored.project(&[0, 1, 10]).unwrap();
        assert_eq!(t.expand(&projected).unwrap(), projected);
        let with_id = stored.project(&[0, attributes_position()]).unwrap();
        let expanded = t.expand(&with_id).unwrap();
        assert_eq!(
            expanded.column(1).as_ref(),
            canonical.column(attributes_position()).as_ref()
        );
    }
}
