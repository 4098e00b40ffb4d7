//! Answering first and working on: the answer goes out in full (status, headers, body,
//! end of body) and the component keeps running. Spin and orderhub-host both keep the
//! guest alive until its handler returns, after the client has its response.

use spin_sdk::http::{OutgoingResponse, Response, ResponseOutparam};

/// Send `resp` now. A response that cannot be built (bad header bytes) is sent as a
/// plain 500 rather than not at all.
pub async fn send_now(outparam: ResponseOutparam, resp: Response) {
    let body = resp.body().to_vec();
    match OutgoingResponse::try_from(resp) {
        Ok(out) => {
            if let Err(e) = outparam.set_with_body(out, body).await {
                eprintln!("answer not sent in full: {e:?}");
            }
        }
        Err(e) => {
            let out = OutgoingResponse::new(spin_sdk::http::Headers::new());
            let _ = out.set_status_code(500);
            eprintln!("answer not buildable: {e:#}");
            let _ = outparam.set_with_body(out, Vec::new()).await;
        }
    }
}

/// Sleep until `at` (no-op if it passed): the guest has no timers of its own beyond a
/// blocking sleep, which is what a request that already answered may afford.
pub fn sleep_until(at: std::time::SystemTime) {
    if let Ok(left) = at.duration_since(std::time::SystemTime::now()) {
        std::thread::sleep(left);
    }
}
