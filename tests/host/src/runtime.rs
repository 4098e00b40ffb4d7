//! The loaded app: one wasmtime engine, one pre-instantiated `ProxyPre` per
//! component, and a fresh instance (fresh `Store`) for every request, as Spin
//! does. Built once at startup; nothing here re-reads the manifest per request.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpView};

use crate::instance::HostState;
use crate::kv::{KvAccess, KvOptions, KvStores};
use crate::manifest::AppManifest;
use crate::outbound::{AllowedHosts, OutboundTarget};
use crate::routing::{RouteMatch, Router};
use crate::runtime_config::RuntimeConfig;
use crate::variables::{ComponentVariables, ResolvedVariables};
use crate::{body_limit, spin_answers};

/// How to start the app (the `up` flags).
#[derive(Debug, Clone)]
pub struct HostOptions {
    pub manifest: PathBuf,
    pub runtime_config: Option<PathBuf>,
    /// Default: `.spin` next to the manifest.
    pub state_dir: Option<PathBuf>,
    /// A request-body limit of the host's own; `None`, as in Spin: no limit.
    pub max_body_bytes: Option<usize>,
    pub kv: KvOptions,
    /// Linear memory one component instance may grow to, like `spin up
    /// --max-instance-memory` (`SPIN_MAX_INSTANCE_MEMORY`); `None`, as in Spin: only
    /// wasm32's own 4 GiB.
    pub max_instance_memory: Option<usize>,
}

impl HostOptions {
    pub fn new(manifest: impl Into<PathBuf>) -> Self {
        Self {
            manifest: manifest.into(),
            runtime_config: None,
            state_dir: None,
            max_body_bytes: None,
            kv: KvOptions::default(),
            max_instance_memory: None,
        }
    }
}

pub struct LoadedComponent {
    pub id: String,
    pre: ProxyPre<HostState>,
    allowed_hosts: AllowedHosts,
    pub(crate) kv: KvAccess,
    pub(crate) variables: Arc<ComponentVariables>,
    pub(crate) environment: Vec<(String, String)>,
}

pub struct AppRuntime {
    engine: Engine,
    pub manifest: AppManifest,
    components: HashMap<String, Arc<LoadedComponent>>,
    pub router: Router,
    pub kv: KvStores,
    pub variables: ResolvedVariables,
    pub max_body_bytes: Option<usize>,
}

/// Why a component produced no response.
#[derive(Debug)]
pub enum ExecError {
    /// The guest trapped (panic, unreachable, out of fuel...).
    Trap(wasmtime::Error),
    /// The guest returned an HTTP error code instead of a response.
    Code(ErrorCode),
    /// The guest finished without setting a response.
    NoResponse,
    /// The host could not set the instance up.
    Setup(wasmtime::Error),
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExecError::Trap(e) => {
                write!(f, "trap: {e:#}")?;
                if let Some(bt) = e.downcast_ref::<wasmtime::WasmBacktrace>() {
                    write!(f, "\n{bt}")?;
                }
                Ok(())
            }
            ExecError::Code(c) => write!(f, "component returned error code {c:?}"),
            ExecError::NoResponse => write!(f, "component finished without setting a response"),
            ExecError::Setup(e) => write!(f, "instance setup failed: {e:#}"),
        }
    }
}

pub type Exec = (
    http::Response<HyperOutgoingBody>,
    tokio::task::JoinHandle<()>,
);

fn engine(max_instance_memory: Option<usize>) -> Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    #[allow(deprecated)]
    config.async_support(true);
    // Spin's defaults: a pooling allocator sized for 1,000 live instances.
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(1_000);
    pool.total_core_instances(4_000);
    pool.total_memories(1_000);
    pool.total_tables(2_000);
    pool.total_stacks(1_000);
    // Spin sets no per-instance limit unless asked (`--max-instance-memory`); wasm32
    // cannot address more than 4 GiB anyway.
    pool.max_memory_size(max_instance_memory.unwrap_or(1 << 32));
    // Compiled code is cached on disk (wasmtime's default cache directory), so
    // only the first start after a build pays for compilation.
    match wasmtime::Cache::from_file(None) {
        Ok(cache) => {
            config.cache(Some(cache));
        }
        Err(e) => eprintln!("orderhub-host: compilation cache disabled: {e}"),
    }
    let mut pooled = config.clone();
    pooled.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    match Engine::new(&pooled) {
        Ok(e) => Ok(e),
        Err(e) => {
            eprintln!(
                "orderhub-host: pooling allocator unavailable ({e}); using on-demand allocation"
            );
            Engine::new(&config).map_err(|e| anyhow!("{e:#}"))
        }
    }
}

impl AppRuntime {
    /// Loads, validates and pre-instantiates the whole app.
    pub fn load(opts: &HostOptions) -> Result<Arc<Self>> {
        Self::load_with_env(opts, |k| std::env::var(k).ok())
    }

    pub fn load_with_env(
        opts: &HostOptions,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Arc<Self>> {
        let manifest = AppManifest::load(&opts.manifest)?;
        manifest.check_sources()?;
        let runtime = match &opts.runtime_config {
            Some(p) => RuntimeConfig::load(p)?,
            None => RuntimeConfig::default(),
        };
        let variables = ResolvedVariables::resolve(&manifest, env)?;
        let state_dir = opts
            .state_dir
            .clone()
            .unwrap_or_else(|| manifest.dir.join(".spin"));
        let kv = KvStores::open(&manifest, &runtime, &state_dir, opts.kv)?;

        let engine = engine(opts.max_instance_memory)?;
        let mut linker: Linker<HostState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| anyhow!("{e:#}"))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| anyhow!("{e:#}"))?;
        crate::bindings::Platform::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(|e| anyhow!("{e:#}"))?;

        // Compile each distinct .wasm once (several components may share one
        // source), in parallel: startup time is compile time.
        let mut sources: Vec<PathBuf> = manifest
            .components
            .values()
            .map(|c| c.source.clone())
            .collect();
        sources.sort();
        sources.dedup();
        let compiled: HashMap<PathBuf, Result<Component, String>> = std::thread::scope(|scope| {
            let handles: Vec<_> = sources
                .iter()
                .map(|path| {
                    let engine = &engine;
                    scope.spawn(move || {
                        let r = Component::from_file(engine, path).map_err(|e| format!("{e:#}"));
                        (path.clone(), r)
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });

        let mut components = HashMap::new();
        for (id, decl) in &manifest.components {
            let id = id.clone();
            let component = match compiled.get(&decl.source) {
                Some(Ok(c)) => c.clone(),
                Some(Err(e)) => bail!(
                    "component.{id}.source: cannot load {}: {e}",
                    decl.source.display()
                ),
                None => bail!(
                    "component.{id}.source: compiler thread failed for {}",
                    decl.source.display()
                ),
            };
            // An import this host does not implement (spin sqlite, llm...) is a
            // startup error naming the component and the interface.
            let pre = linker
                .instantiate_pre(&component)
                .map_err(|e| anyhow!("component.{id}: cannot link: {e:#}"))?;
            let pre = ProxyPre::new(pre).map_err(|e| {
                anyhow!("component.{id}: not a wasi:http incoming-handler component: {e:#}")
            })?;
            let allowed: HashSet<String> = decl.key_value_stores.iter().cloned().collect();
            components.insert(
                id.clone(),
                Arc::new(LoadedComponent {
                    id: id.clone(),
                    pre,
                    allowed_hosts: decl.allowed_outbound_hosts.clone(),
                    kv: KvAccess::new(kv.clone(), Arc::new(allowed)),
                    variables: Arc::new(variables.components.get(&id).cloned().unwrap_or_default()),
                    environment: decl.environment.clone().into_iter().collect(),
                }),
            );
        }

        let router = manifest.router();
        manifest.check_schedules(&router)?;

        Ok(Arc::new(Self {
            engine,
            manifest,
            components,
            router,
            kv,
            variables,
            max_body_bytes: opts.max_body_bytes,
        }))
    }

    pub fn component_ids(&self) -> impl Iterator<Item = &str> {
        self.components.keys().map(String::as_str)
    }

    /// Runs `component` on `req` in a fresh instance. The returned task keeps
    /// the guest running while its response body streams.
    pub async fn execute(
        self: &Arc<Self>,
        component: &Arc<LoadedComponent>,
        req: http::Request<WasiBody>,
    ) -> Result<Exec, ExecError> {
        let mut store = Store::new(
            &self.engine,
            HostState::new(self.clone(), component.clone()),
        );
        let proxy = component
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(ExecError::Setup)?;
        let incoming = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)
            .map_err(ExecError::Setup)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let out = store
            .data_mut()
            .http()
            .new_response_outparam(tx)
            .map_err(ExecError::Setup)?;
        let mut task = tokio::spawn(async move {
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, incoming, out)
                .await
        });
        match rx.await {
            Ok(Ok(resp)) => {
                let id = component.id.clone();
                let watcher = tokio::spawn(async move {
                    match task.await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => eprintln!(
                            "orderhub-host: component '{id}' trapped after responding: {e:#}"
                        ),
                        Err(e) => eprintln!("orderhub-host: component '{id}' task failed: {e}"),
                    }
                });
                Ok((resp, watcher))
            }
            Ok(Err(code)) => {
                task.abort();
                Err(ExecError::Code(code))
            }
            Err(_) => match (&mut task).await {
                Ok(Ok(())) => Err(ExecError::NoResponse),
                Ok(Err(e)) => Err(ExecError::Trap(e)),
                Err(e) => Err(ExecError::Setup(wasmtime::Error::msg(format!(
                    "task failed: {e}"
                )))),
            },
        }
    }

    /// The public entry point: Spin's well-known routes, routing, the
    /// optional body limit, spin headers, the component, and Spin's own
    /// 404 / 500 answers. Logs one line per request.
    pub async fn serve(
        self: &Arc<Self>,
        req: http::Request<WasiBody>,
        client_addr: SocketAddr,
    ) -> http::Response<HyperOutgoingBody> {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let (component, resp) = self.serve_inner(req, client_addr).await;
        eprintln!(
            "{method} {path} -> {} {} {:.2}ms",
            component.as_deref().unwrap_or("-"),
            resp.status().as_u16(),
            started.elapsed().as_secs_f64() * 1000.0
        );
        resp
    }

    async fn serve_inner(
        self: &Arc<Self>,
        req: http::Request<WasiBody>,
        client_addr: SocketAddr,
    ) -> (Option<String>, http::Response<HyperOutgoingBody>) {
        let path = req.uri().path().to_string();
        if let Some(rest) = path.strip_prefix(spin_answers::WELL_KNOWN_PREFIX) {
            return (None, spin_answers::well_known(rest, &self.manifest));
        }
        let Some(route) = self.router.route(&path) else {
            return (None, spin_answers::not_found());
        };
        let Some(component) = self.components.get(&route.component).cloned() else {
            eprintln!(
                "orderhub-host: {path} routed to unknown component '{}'",
                route.component
            );
            return (None, spin_answers::internal_error());
        };
        let id = Some(component.id.clone());
        let req = match self.max_body_bytes {
            Some(max) => match body_limit::limit_body(req, max).await {
                Ok(r) => r,
                Err(resp) => return (id, resp),
            },
            None => req,
        };
        let host = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost")
            .to_string();
        let pq = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let full_url = format!("http://{host}{pq}");
        let mut req = req;
        if req.headers().get(http::header::HOST).is_none() {
            req.headers_mut().insert(
                http::header::HOST,
                http::HeaderValue::from_static("localhost"),
            );
        }
        set_spin_headers(&mut req, &route, &full_url, &client_addr.to_string());
        match self.execute(&component, req).await {
            Ok((resp, _running)) => (id, resp),
            Err(e) => {
                eprintln!(
                    "orderhub-host: component '{}' failed on {path}: {e}",
                    component.id
                );
                (id, spin_answers::internal_error())
            }
        }
    }

    /// Outbound HTTP from `caller`: in-process chaining for
    /// `*.spin.internal`, the network for allowed hosts, `HttpRequestDenied`
    /// otherwise.
    pub(crate) async fn send_outbound(
        self: &Arc<Self>,
        caller: &Arc<LoadedComponent>,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<
        (
            http::Response<WasiBody>,
            Box<dyn std::future::Future<Output = Result<(), HttpError>> + Send>,
        ),
        HttpError,
    > {
        let Some(target) = OutboundTarget::from_uri(request.uri()) else {
            return Err(HttpError::HttpRequestUriInvalid);
        };
        if !caller.allowed_hosts.allows(&target) {
            eprintln!(
                "orderhub-host: component '{}' denied outbound request to {}://{}:{} (not in allowed_outbound_hosts)",
                caller.id, target.scheme, target.host, target.port
            );
            return Err(HttpError::HttpRequestDenied);
        }
        if let Some(id) = target.chained_component() {
            let Some(callee) = self.components.get(id).cloned() else {
                eprintln!(
                    "orderhub-host: '{}' called {id}.spin.internal: no such component",
                    caller.id
                );
                return Err(HttpError::DestinationNotFound);
            };
            let path = request.uri().path().to_string();
            let full_url = request.uri().to_string();
            request.headers_mut().remove(http::header::HOST);
            let authority = format!("{id}.spin.internal");
            if let Ok(v) = http::HeaderValue::from_str(&authority) {
                request.headers_mut().insert(http::header::HOST, v);
            }
            set_spin_headers(
                &mut request,
                &RouteMatch::chained(id, &path),
                &full_url,
                // Spin's `CHAINED_CLIENT_ADDR` (crates/trigger-http/src/outbound_http.rs).
                "0.0.0.0:0",
            );
            let started = Instant::now();
            let method = request.method().clone();
            return match self.execute(&callee, request).await {
                Ok((resp, running)) => {
                    eprintln!(
                        "  {method} http://{authority}{path} -> {id} {} {:.2}ms (chained from {})",
                        resp.status().as_u16(),
                        started.elapsed().as_secs_f64() * 1000.0,
                        caller.id
                    );
                    let io: Box<dyn std::future::Future<Output = Result<(), HttpError>> + Send> =
                        Box::new(async move {
                            let _ = running.await;
                            Ok(())
                        });
                    Ok((resp, io))
                }
                Err(e) => {
                    eprintln!("orderhub-host: chained component '{id}' failed: {e}");
                    Ok((spin_answers::internal_error(), Box::new(async { Ok(()) })))
                }
            };
        }
        let (resp, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
        Ok((resp.map(|b| b.boxed_unsync()), Box::new(io)))
    }

    /// Fires a scheduled job now, through the router as an external
    /// scheduler would, with `authorization: Bearer <job_token>`.
    pub async fn fire_job(self: &Arc<Self>, name: &str) -> Result<(http::StatusCode, Bytes)> {
        let (_, sched) = self
            .manifest
            .schedules()
            .find(|(_, s)| s.name == name)
            .ok_or_else(|| anyhow!("no schedule named '{name}'"))?;
        let mut req = http::Request::builder()
            .method(sched.method.clone())
            .uri(&sched.path)
            .header(http::header::HOST, "localhost")
            .header("x-orderhub-schedule", &sched.name);
        if let Some(token) = self.variables.app.get("job_token") {
            req = req.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let req = req
            .body(
                Full::new(Bytes::new())
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .context("building job request")?;
        let resp = self.serve(req, SocketAddr::from(([127, 0, 0, 1], 0))).await;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        Ok((status, body))
    }
}

fn set_spin_headers(
    req: &mut http::Request<WasiBody>,
    route: &RouteMatch,
    full_url: &str,
    client: &str,
) {
    for (k, v) in route.spin_headers(full_url, client) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(&v),
        ) {
            req.headers_mut().insert(name, value);
        }
    }
}
