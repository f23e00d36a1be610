//! Running the engine's DataFusion plans on a Ballista cluster (cargo feature `distributed`).
//!
//! Ballista (Apache DataFusion Ballista 55) is DataFusion's own distributed scheduler: a
//! client session sends the logical plan of a query to the **scheduler**, which plans it
//! physically, cuts it into stages at every repartition (shuffle) and hands the stages' tasks
//! to **executors**; executors read their share of the input files, write shuffle output
//! to local Arrow IPC files and serve it to the next stage over Arrow Flight.
//!
//! Plans name canalyst's aggregate functions (`quantile_exact`, `ddsketch_quantile`,
//! `histogram_quantile`, `exp_histogram_quantile`, [`super::udaf::all`]) by name only: the
//! protobuf plan codec carries a UDAF as its name and arguments, and the receiving side looks
//! the name up in its function registry. So the scheduler (which decodes the client's logical
//! plan) and every executor (which decodes the physical stages) must have the functions
//! registered: [`serve_scheduler`] and [`serve_executor`] do, a stock Ballista process does
//! not, and a plan using them then fails with "no UDAF named …" (reported by [`hint`]).
//! No custom extension codec is needed: the functions have no state beyond their name and
//! constant arguments, and the tables are plain Parquet listing tables, which the default
//! codecs carry (paths, schema, format options).
//!
//! docs/distributed.md is the user guide: what runs where, what crosses the network, and why
//! results equal the local run bit for bit.

use super::udaf;
use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::execution_plans::DistributedQueryExec;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::CancelJobParams;
use ballista_core::serde::BallistaCodec;
use ballista_core::utils::default_session_builder;
use ballista_core::{ConfigProducer, RuntimeProducer};
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::{FunctionRegistry, SessionState, SessionStateBuilder};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::protobuf::LogicalPlanNode;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The scheduler port when a cluster address gives none (Ballista's default).
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

/// How long a client waits for the scheduler to accept a connection before calling the
/// cluster unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client waits for one query's job by default (`--cluster-timeout`). Ballista
/// has no time limit of its own: a job whose stage cannot be scheduled (no executor
/// registered, or a scheduler bug such as the two in docs/distributed.md) stays queued or
/// running and the client polls it forever. Half an hour is far beyond what a query of the
/// analysis takes on a healthy cluster (seconds per 10M spans, docs/benchmarks.md) and short
/// enough for a scheduled job to fail before its next run.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Errors of starting or reaching a cluster, naming the address concerned.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// `--cluster` is not a `df://HOST:PORT` address.
    #[error("--cluster {given:?}: {reason} (expected df://HOST:PORT)")]
    Address {
        /// What was given.
        given: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No scheduler answered at the address.
    #[error("cluster {url} is unreachable: {reason} (is `canalyst scheduler` running there?)")]
    Unreachable {
        /// The cluster address.
        url: String,
        /// The connection error and its causes.
        reason: String,
    },
    /// The client session could not be set up.
    #[error("cluster {url}: {error}")]
    Session {
        /// The cluster address.
        url: String,
        /// The DataFusion error.
        error: DataFusionError,
    },
    /// The scheduler failed to start or stopped with an error.
    #[error("scheduler on {bind}: {reason}")]
    Scheduler {
        /// The address it was to listen on.
        bind: String,
        /// Ballista's error.
        reason: String,
    },
    /// A query's job did not finish within the client's time limit (`--cluster-timeout`).
    #[error("query {query} on cluster {url} did not finish within {} s (--cluster-timeout); {}", .after.as_secs(), cancel_note(.job))]
    Timeout {
        /// The query's name (a shipped query's file name, or "user SQL").
        query: String,
        /// The cluster address.
        url: String,
        /// The limit that passed.
        after: Duration,
        /// The Ballista job id, when the job was submitted and its cancellation accepted.
        job: Option<String>,
    },
    /// The executor failed to start or stopped with an error.
    #[error("executor on {bind} (scheduler {scheduler}): {reason}")]
    Executor {
        /// The address it was to listen on.
        bind: String,
        /// The scheduler it registers with.
        scheduler: String,
        /// Ballista's error.
        reason: String,
    },
}

/// What [`ClusterError::Timeout`] says about the job left on the cluster.
fn cancel_note(job: &Option<String>) -> String {
    match job {
        Some(j) => format!("job {j} was cancelled on the scheduler"),
        None => "its job was not cancelled (the scheduler did not accept it, or the job was not submitted yet)".into(),
    }
}

/// A scheduler address, `df://HOST:PORT` (the port defaults to [`DEFAULT_SCHEDULER_PORT`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterUrl {
    host: String,
    port: u16,
}

impl ClusterUrl {
    /// The address of the scheduler at `host:port`.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }

    /// The scheduler's host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The scheduler's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The gRPC endpoint of the scheduler.
    fn endpoint(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }
}

impl std::fmt::Display for ClusterUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "df://{}:{}", self.host, self.port)
    }
}

impl std::str::FromStr for ClusterUrl {
    type Err = ClusterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| ClusterError::Address {
            given: s.to_string(),
            reason: reason.to_string(),
        };
        let url = url::Url::parse(s).map_err(|e| bad(&e.to_string()))?;
        if url.scheme() != "df" {
            return Err(bad(&format!("scheme {:?} is not df", url.scheme())));
        }
        if !(url.path().is_empty() || url.path() == "/") || url.query().is_some() {
            return Err(bad("an address has no path or query"));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host"))?;
        Ok(Self::new(
            host,
            url.port().unwrap_or(DEFAULT_SCHEDULER_PORT),
        ))
    }
}

/// `state` with canalyst's aggregate functions and `canalyst_resource_attributes` registered
/// (next to DataFusion's).
fn with_canalyst_functions(mut state: SessionState) -> datafusion::common::Result<SessionState> {
    for f in udaf::all() {
        state.register_udaf(Arc::new(f))?;
    }
    state.register_udf(Arc::new(super::resource_udf::udf()))?;
    Ok(state)
}

/// Turns off DataFusion's dynamic filters. Ballista's scheduler may swap a hash join's inputs
/// when it cuts a plan into stages, which DataFusion 55 refuses once the join carries a dynamic
/// filter ("Cannot swap HashJoinExec inputs after dynamic filters have been constructed", with
/// the forensics queries' joins; the job then never finishes). Dynamic filters only skip rows
/// early; results are the same without them.
fn without_dynamic_filters(config: &mut SessionConfig) {
    let optimizer = &mut config.options_mut().optimizer;
    optimizer.enable_dynamic_filter_pushdown = false;
    optimizer.enable_join_dynamic_filter_pushdown = false;
    optimizer.enable_topk_dynamic_filter_pushdown = false;
    optimizer.enable_aggregate_dynamic_filter_pushdown = false;
}

/// The scheduler's session for a client's settings: Ballista's default session with
/// canalyst's functions, so the logical plans clients send decode and plan, and without
/// dynamic filters ([`without_dynamic_filters`]) whatever the client sent.
fn scheduler_session(mut config: SessionConfig) -> datafusion::common::Result<SessionState> {
    without_dynamic_filters(&mut config);
    with_canalyst_functions(default_session_builder(config)?)
}

/// The functions an executor resolves plan nodes against: DataFusion's and canalyst's
/// (the aggregates and `canalyst_resource_attributes`, which the `spans` view over DATASETs
/// calls).
pub fn function_registry() -> BallistaFunctionRegistry {
    let mut registry = BallistaFunctionRegistry::default();
    for f in udaf::all() {
        registry
            .aggregate_functions
            .insert(f.name().to_string(), Arc::new(f));
    }
    let f = super::resource_udf::udf();
    registry
        .scalar_functions
        .insert(f.name().to_string(), Arc::new(f));
    registry
}

/// Flattens an error and its causes into one line (tonic's transport errors say only
/// "transport error"; the cause says "Connection refused").
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// A client session whose queries run on the cluster at `url`, with `config`'s settings
/// (partitions, Parquet options) and canalyst's functions. Fails with
/// [`ClusterError::Unreachable`] when no scheduler accepts a connection within 10 s, rather
/// than at the first query.
pub async fn session(
    url: &ClusterUrl,
    config: SessionConfig,
) -> Result<SessionContext, ClusterError> {
    let unreachable = |reason: String| ClusterError::Unreachable {
        url: url.to_string(),
        reason,
    };
    match tokio::time::timeout(
        CONNECT_TIMEOUT,
        SchedulerGrpcClient::connect(url.endpoint()),
    )
    .await
    {
        Err(_) => return Err(unreachable(format!("no answer within {CONNECT_TIMEOUT:?}"))),
        Ok(Err(e)) => return Err(unreachable(chain(&e))),
        Ok(Ok(_)) => {}
    }
    let session_err = |error| ClusterError::Session {
        url: url.to_string(),
        error,
    };
    // Ballista 55's adaptive planner loses track of task metrics on stages holding a union
    // (the `requests` view): the scheduler logs "task metrics array size 5 does not equal
    // with the stage metrics array size 6" and the job never finishes. The static planner
    // runs the same plans.
    let mut config = config
        .with_ballista_adaptive_query_planner(false)
        // Pull tracking: the client learns the job id as soon as the job is submitted, so a
        // query that runs out of time can be cancelled ([`cancel`]). With push tracking the
        // id arrives with the first status change, which a job that never gets an executor
        // does not have. The cost is one status request per 50 ms per query.
        .set_bool(ballista_core::config::BALLISTA_CLIENT_PULL, true);
    without_dynamic_filters(&mut config);
    let state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .build();
    let ctx = SessionContext::remote_with_state(&url.to_string(), state)
        .await
        .map_err(session_err)?;
    // After the upgrade: Ballista's session upgrade resets the aggregate function list.
    for f in udaf::all() {
        ctx.register_udaf(f);
    }
    ctx.register_udf(super::resource_udf::udf());
    Ok(ctx)
}

/// A hint for a cluster query's error: a missing function means a scheduler or executor that
/// is not canalyst's (or not the same version).
pub fn hint(error: &DataFusionError) -> Option<&'static str> {
    let text = error.to_string();
    // A registry without the function says "no UDAF named"; a plan codec asked to decode it
    // instead says "PhysicalExtensionCodec is not provided for aggregate function".
    let missing = [
        "no UDAF named",
        "no UDF named",
        "is not provided for aggregate function",
    ];
    missing.iter().any(|m| text.contains(m)).then_some(
        "a scheduler or executor of this cluster lacks canalyst's functions: start both with \
         `canalyst scheduler` / `canalyst executor` of the same canalyst version",
    )
}

/// Cancels the Ballista job that `plan` (a client plan: a `DistributedQueryExec` at the root)
/// submitted, when it was submitted; returns its id when the scheduler accepted the
/// cancellation. Dropping the client's stream does not cancel a job in Ballista 55, so a
/// client that gives up on a query says so to the scheduler, which stops the job's tasks on
/// the executors.
pub async fn cancel(url: &ClusterUrl, plan: &Arc<dyn ExecutionPlan>) -> Option<String> {
    let job = plan
        .downcast_ref::<DistributedQueryExec<LogicalPlanNode>>()?
        .job_id()?;
    let mut client = tokio::time::timeout(
        CONNECT_TIMEOUT,
        SchedulerGrpcClient::connect(url.endpoint()),
    )
    .await
    .ok()?
    .ok()?;
    let reply = client
        .cancel_job(CancelJobParams {
            job_id: job.as_str().to_string(),
        })
        .await
        .ok()?;
    reply.into_inner().cancelled.then(|| job.into_inner())
}

/// Runs a scheduler with canalyst's functions on `bind` until the process is stopped.
/// Tasks are pulled by the executors (Ballista's pull-staged policy), so executors need no
/// port the scheduler can reach other than their Flight port.
pub async fn serve_scheduler(bind: SocketAddr) -> Result<(), ClusterError> {
    let err = |reason: String| ClusterError::Scheduler {
        bind: bind.to_string(),
        reason,
    };
    let mut config = SchedulerConfig::default()
        .with_scheduler_policy(TaskSchedulingPolicy::PullStaged)
        .with_override_session_builder(Arc::new(scheduler_session));
    config.bind_host = bind.ip().to_string();
    config.bind_port = bind.port();
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| err(e.to_string()))?;
    start_server(cluster, bind, Arc::new(config))
        .await
        .map_err(|e| err(e.to_string()))
}

/// What an executor needs to know.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler to register with.
    pub scheduler: ClusterUrl,
    /// Where the executor's Flight service (shuffle and result reads) listens.
    pub bind: SocketAddr,
    /// The host name other machines reach this executor at (default: as the scheduler
    /// sees the connection).
    pub external_host: Option<String>,
    /// Tasks run at once (default: the number of cores).
    pub concurrent_tasks: Option<usize>,
    /// Where shuffle files are written (default: a temporary directory).
    pub work_dir: Option<PathBuf>,
}

/// Runs an executor with canalyst's functions until the process is stopped.
pub async fn serve_executor(opts: ExecutorOptions) -> Result<(), ClusterError> {
    let mut config = ExecutorProcessConfig {
        bind_host: opts.bind.ip().to_string(),
        port: opts.bind.port(),
        external_host: opts.external_host.clone(),
        scheduler_host: opts.scheduler.host.clone(),
        scheduler_port: opts.scheduler.port,
        // Wait for a scheduler that starts at the same time (compose, systemd).
        scheduler_connect_timeout_seconds: 30,
        task_scheduling_policy: TaskSchedulingPolicy::PullStaged,
        work_dir: opts
            .work_dir
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned()),
        override_function_registry: Some(Arc::new(function_registry())),
        ..ExecutorProcessConfig::default()
    };
    if let Some(n) = opts.concurrent_tasks {
        config.vcores = n.max(1);
    }
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| ClusterError::Executor {
            bind: opts.bind.to_string(),
            scheduler: opts.scheduler.to_string(),
            reason: e.to_string(),
        })
}

/// Starts a scheduler and `executors` executors (each running `tasks` tasks at once) inside
/// this process, on free localhost ports, and returns the scheduler's address. They run on
/// the current tokio runtime until it shuts down. With `canalyst_functions` false the
/// executors are stock Ballista executors (the scheduler keeps canalyst's functions): the
/// version-mismatch case the tests check.
pub async fn start_in_process(
    executors: usize,
    tasks: usize,
    canalyst_functions: bool,
) -> Result<ClusterUrl, ClusterError> {
    let url = start_scheduler_in_process().await?;
    add_executors_in_process(&url, executors, tasks, canalyst_functions).await?;
    Ok(url)
}

/// Starts a scheduler with canalyst's functions and no executor inside this process, on a
/// free localhost port (jobs submitted to it wait until [`add_executors_in_process`]).
pub async fn start_scheduler_in_process() -> Result<ClusterUrl, ClusterError> {
    let config_producer: ConfigProducer = Arc::new(ballista_core::utils::default_config_producer);
    let addr = ballista_scheduler::standalone::new_standalone_scheduler_with_builder(
        Arc::new(scheduler_session),
        config_producer,
        BallistaCodec::default(),
    )
    .await
    .map_err(|e| ClusterError::Scheduler {
        bind: "localhost:0".into(),
        reason: e.to_string(),
    })?;
    Ok(ClusterUrl::new("localhost", addr.port()))
}

/// Registers `executors` executors inside this process with the scheduler at `url`, as
/// [`start_in_process`] does.
pub async fn add_executors_in_process(
    url: &ClusterUrl,
    executors: usize,
    tasks: usize,
    canalyst_functions: bool,
) -> Result<(), ClusterError> {
    let config_producer: ConfigProducer = Arc::new(ballista_core::utils::default_config_producer);
    for _ in 0..executors {
        let exec_err = |reason: String| ClusterError::Executor {
            bind: "localhost:0".into(),
            scheduler: url.to_string(),
            reason,
        };
        let client = SchedulerGrpcClient::connect(url.endpoint())
            .await
            .map_err(|e| exec_err(chain(&e)))?;
        let runtime: RuntimeProducer =
            Arc::new(|_: &SessionConfig| Ok(Arc::new(RuntimeEnvBuilder::new().build()?)));
        let registry = if canalyst_functions {
            function_registry()
        } else {
            BallistaFunctionRegistry::default()
        };
        ballista_executor::new_standalone_executor_from_builder(
            client,
            tasks.max(1),
            config_producer.clone(),
            runtime,
            BallistaCodec::default(),
            registry,
        )
        .await
        .map_err(|e| exec_err(e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cluster_addresses() {
        let u: ClusterUrl = "df://sched.example:50051".parse().unwrap();
        assert_eq!((u.host(), u.port()), ("sched.example", 50051));
        assert_eq!(u.to_string(), "df://sched.example:50051");
        let d: ClusterUrl = "df://10.0.0.7".parse().unwrap();
        assert_eq!(d.port(), DEFAULT_SCHEDULER_PORT);
        for bad in [
            "http://h:1",
            "df://",
            "h:50050",
            "df://h:1/x",
            "df://h:99999",
        ] {
            let e = bad.parse::<ClusterUrl>().unwrap_err().to_string();
            assert!(
                e.contains(bad) && e.contains("df://HOST:PORT"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn registry_has_canalyst_and_datafusion_functions() {
        let r = function_registry();
        for f in udaf::all() {
            assert!(r.udaf(f.name()).is_ok(), "{}", f.name());
        }
        assert!(r.udaf("sum").is_ok());
        assert!(r.udf(super::super::resource_udf::NAME).is_ok());
        assert!(r.udf("abs").is_ok());
        assert!(BallistaFunctionRegistry::default()
            .udaf("quantile_exact")
            .is_err());
    }

    #[tokio::test]
    async fn unreachable_cluster_names_the_address() {
        // A port nothing listens on: bound, then released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = ClusterUrl::new("127.0.0.1", port);
        let Err(e) = session(&url, SessionConfig::new()).await else {
            panic!("connected to a port nothing listens on");
        };
        let text = e.to_string();
        assert!(matches!(e, ClusterError::Unreachable { .. }), "{text}");
        assert!(text.contains(&format!("df://127.0.0.1:{port}")), "{text}");
    }

    /// A query whose job gets no executor (a scheduler without any) fails after the time
    /// limit, naming the query and the cluster, and its job is cancelled on the scheduler; the
    /// same engine's next query, with executors registered by then, runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_query_without_executors_times_out_and_is_cancelled() {
        use crate::engine::{Engine, EngineConfig, EngineError};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.parquet");
        crate::engine::testdata::write_small_row_groups(
            &crate::engine::testdata::deployment(),
            &path,
        );
        let url = start_scheduler_in_process().await.unwrap();
        let config = EngineConfig {
            target_partitions: 2,
        };
        let mut engine = Engine::from_parquet_on_cluster(std::slice::from_ref(&path), config, &url)
            .await
            .unwrap();
        engine.set_query_timeout(Duration::from_secs(2));
        let sql = "SELECT count(*) AS n FROM spans";
        let started = std::time::Instant::now();
        let e = engine.query("count", sql, vec![]).await.unwrap_err();
        let text = e.to_string();
        let EngineError::Cluster(ClusterError::Timeout { job, after, .. }) = e else {
            panic!("not a timeout: {text}");
        };
        assert_eq!(after, Duration::from_secs(2));
        assert!(job.is_some(), "job not cancelled: {text}");
        assert!(started.elapsed() < Duration::from_secs(30), "{text}");
        assert!(
            text.contains("query count on cluster")
                && text.contains(&url.to_string())
                && text.contains("within 2 s")
                && text.contains("cancelled"),
            "{text}"
        );
        add_executors_in_process(&url, 1, 2, true).await.unwrap();
        let (_, batches) = engine.query("count", sql, vec![]).await.unwrap();
        let n = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .unwrap()
            .value(0);
        let rows: usize = crate::engine::testdata::deployment()
            .iter()
            .map(|b| b.num_rows())
            .sum();
        assert_eq!(n as usize, rows);
    }
}
