//! orderhub-host: runs a Spin app (`spin.toml`) on wasmtime, as `spin up`
//! would, for local development and tests on machines without Spin.

pub mod bindings;
pub mod body_limit;
pub mod instance;
pub mod job_http;
pub mod kv;
pub mod manifest;
pub mod outbound;
pub mod routing;
pub mod runtime;
pub mod runtime_config;
pub mod schedule;
pub mod scheduler;
pub mod server;
pub mod spin_answers;
pub mod variables;
