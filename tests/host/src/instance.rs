//! What one component instance sees: the per-request `Store` data.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    Error as HttpError, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks,
    WasiHttpView,
};

use crate::bindings::fermyon::spin::variables;
use crate::bindings::wasi::config::store as wasi_config;
use crate::kv::{CasHandle, KvAccess};
use crate::runtime::{AppRuntime, LoadedComponent};
use crate::variables::{is_valid_variable_name, ComponentVariables};

pub struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) table: ResourceTable,
    pub(crate) hooks: OutboundHooks,
    pub(crate) kv: KvAccess,
    /// CAS handles the guest swapped: kept until the instance ends, as Spin
    /// keeps them (a Redis handle holds a connection).
    pub(crate) spent_cas: Vec<Arc<dyn CasHandle>>,
    pub(crate) variables: Arc<ComponentVariables>,
}

impl HostState {
    pub(crate) fn new(app: Arc<AppRuntime>, component: Arc<LoadedComponent>) -> Self {
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stdout().inherit_stderr();
        for (k, v) in &component.environment {
            wasi.env(k, v);
        }
        Self {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            kv: component.kv.clone(),
            spent_cas: Vec::new(),
            variables: component.variables.clone(),
            hooks: OutboundHooks { app, component },
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Outbound HTTP of one instance: `*.spin.internal` runs in-process, other
/// hosts only when `allowed_outbound_hosts` lists them.
pub struct OutboundHooks {
    app: Arc<AppRuntime>,
    component: Arc<LoadedComponent>,
}

type IoFuture = Box<dyn std::future::Future<Output = Result<(), HttpError>> + Send>;

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> Box<
        dyn std::future::Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>>
            + Send,
    > {
        let app = self.app.clone();
        let component = self.component.clone();
        Box::new(async move { app.send_outbound(&component, request, options).await })
    }
}

impl variables::Host for HostState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, variables::Error>> {
        if !is_valid_variable_name(&name) {
            return Ok(Err(variables::Error::InvalidName(name)));
        }
        Ok(match self.variables.get(&name) {
            Some(v) => Ok(v.to_string()),
            None => Err(variables::Error::Undefined(format!(
                "no variable for {name:?}"
            ))),
        })
    }
}

impl wasi_config::Host for HostState {
    async fn get(
        &mut self,
        key: String,
    ) -> wasmtime::Result<Result<Option<String>, wasi_config::Error>> {
        Ok(Ok(self.variables.get(&key).map(str::to_string)))
    }

    async fn get_all(
        &mut self,
    ) -> wasmtime::Result<Result<Vec<(String, String)>, wasi_config::Error>> {
        Ok(Ok(self
            .variables
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()))
    }
}
