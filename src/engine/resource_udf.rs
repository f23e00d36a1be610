//! `canalyst_resource_attributes(resource_id, resources_files)`: the scalar function through
//! which the SQL `spans` table over DATASETs shows `resource_attributes` where the files hold a
//! `resource_id` (schema version 2, [`crate::model::resources`]).
//!
//! The `spans` table of an engine over DATASETs is a view ([`spans_view_exprs`]) that projects
//! every canonical column and computes `resource_attributes` with this function, so queries
//! read the map as before (`resource_attributes['k8s.pod.name']`) and a query that does not
//! select it never calls it (DataFusion drops unused projections through a view). The second
//! argument is a constant: the JSON array of the `resources.parquet` files of the DATASETs
//! with their sizes and modification times when the view was made, so
//! the function needs no state of its own and a Ballista executor (which resolves functions by
//! name and reads the same shared paths as the spans files) evaluates it the same way. Each
//! process keeps the last tables it has read, keyed by that argument.

use crate::model::resources::{ResourceTable, RESOURCE_ATTRIBUTES, RESOURCE_ID};
use crate::model::spans::spans_schema;
use arrow::array::{Array, AsArray, Int64Array};
use arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{exec_err, Column, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The function's SQL name.
pub const NAME: &str = "canalyst_resource_attributes";

/// The function (see the module docs).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ResourceAttributes {
    signature: Signature,
}

impl Default for ResourceAttributes {
    fn default() -> Self {
        Self {
            signature: Signature::exact(
                vec![DataType::Int64, DataType::Utf8],
                Volatility::Immutable,
            ),
        }
    }
}

/// The function as DataFusion registers it.
pub fn udf() -> ScalarUDF {
    ScalarUDF::from(ResourceAttributes::default())
}

fn map_type() -> DataType {
    spans_schema()
        .field_with_name(RESOURCE_ATTRIBUTES)
        .expect("canonical column")
        .data_type()
        .clone()
}

/// How many merged tables a process keeps (see [`tables`]).
const CACHED_TABLES: usize = 16;

/// The tables read by this process, by the function's second argument.
fn cache() -> &'static Mutex<HashMap<String, Arc<ResourceTable>>> {
    static CACHE: std::sync::OnceLock<Mutex<HashMap<String, Arc<ResourceTable>>>> =
        std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// One resources file as the second argument names it: path, size and modification time
/// (taken when the view is made, so a DATASET rewritten since is another argument, and the
/// function needs no file-system call to find its table).
#[derive(serde::Serialize, serde::Deserialize)]
struct Stamped {
    path: PathBuf,
    len: u64,
    modified_ns: u128,
}

/// The merged resources of the files in `arg` (a JSON array of [`Stamped`]), read once per
/// process and argument.
fn tables(arg: &str) -> Result<Arc<ResourceTable>> {
    if let Some(t) = cache().lock().expect("cache lock").get(arg) {
        return Ok(t.clone());
    }
    let files: Vec<Stamped> = match serde_json::from_str(arg) {
        Ok(f) => f,
        Err(e) => return exec_err!("{NAME}: the second argument is not a list of files: {e}"),
    };
    let mut merged = ResourceTable::new();
    for f in &files {
        let t = match crate::ingest::resources_file::read_resources(&f.path) {
            Ok(t) => t,
            Err(e) => return exec_err!("{NAME}: {e}"),
        };
        if let Err(e) = merged.merge(&t) {
            return exec_err!("{NAME}: {}: {e}", f.path.display());
        }
    }
    let merged = Arc::new(merged);
    let mut cache = cache().lock().expect("cache lock");
    // A long-running executor meets many sets of DATASETs: keep the last few tables only.
    if cache.len() >= CACHED_TABLES {
        cache.clear();
    }
    cache.insert(arg.to_string(), merged.clone());
    Ok(merged)
}

impl ScalarUDFImpl for ResourceAttributes {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(map_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let files = match args.args.get(1) {
            Some(ColumnarValue::Scalar(ScalarValue::Utf8(Some(f)))) => f.clone(),
            _ => return exec_err!("{NAME}: the second argument must be a constant string"),
        };
        let table = tables(&files)?;
        let ids = match args.args.first() {
            Some(ColumnarValue::Array(a)) => match a.as_primitive_opt::<Int64Type>() {
                Some(ids) => ids.clone(),
                None => return exec_err!("{NAME}: {RESOURCE_ID} must be Int64"),
            },
            Some(ColumnarValue::Scalar(ScalarValue::Int64(id))) => {
                Int64Array::from(vec![*id; args.number_rows])
            }
            _ => return exec_err!("{NAME}: the first argument must be Int64"),
        };
        match table.attributes_of(&ids) {
            Ok(maps) => {
                debug_assert_eq!(maps.len(), ids.len());
                Ok(ColumnarValue::Array(maps))
            }
            Err(e) => exec_err!("{NAME}: {e}"),
        }
    }
}

/// The projection of the `spans` view over stored spans files: every canonical column in
/// canonical order, `resource_attributes` computed from `resource_id` with the resources of
/// `resources` (one `resources.parquet` per DATASET). Fails on a file that cannot be stat'ed
/// or a path that is not UTF-8.
pub fn spans_view_exprs(resources: &[&Path]) -> Result<Vec<Expr>, String> {
    let stamped = resources
        .iter()
        .map(|p| {
            let m = std::fs::metadata(p).map_err(|e| e.to_string())?;
            let modified_ns = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            Ok(Stamped {
                path: p.to_path_buf(),
                len: m.len(),
                modified_ns,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let files = serde_json::to_string(&stamped).map_err(|e| e.to_string())?;
    Ok(spans_schema()
        .fields()
        .iter()
        .map(|f| {
            if f.name() == RESOURCE_ATTRIBUTES {
                udf()
                    .call(vec![
                        Expr::Column(Column::from_name(RESOURCE_ID)),
                        Expr::Literal(ScalarValue::Utf8(Some(files.clone())), None),
                    ])
                    .alias(RESOURCE_ATTRIBUTES)
            } else {
                Expr::Column(Column::from_name(f.name()))
            }
        })
        .collect())
}
