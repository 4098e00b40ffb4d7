//! `normalize` component (skeleton; filled in by the vertical slice).
use orderhub_shell::health;
use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(_req: Request) -> Response {
    health("normalize")
}
