//! Writes N signed Meituan order pushes, one per line as `path<TAB>form-body`, for the wrk
//! script `scripts/bench/replay.lua` (`scripts/bench-host` runs it).
//!   cargo run --release -p orderhub-e2e --example meituan_load -- BASE_URL N OUT
use orderhub_e2e::meituan::{order_push_params, signed_form};
use std::io::Write;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, n, out] = args.as_slice() else {
        anyhow::bail!("usage: meituan_load BASE_URL N OUT");
    };
    let n: u64 = n.parse()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let mut f = std::io::BufWriter::new(std::fs::File::create(out)?);
    let path = "/webhooks/meituan/order";
    for i in 0..n {
        let id = format!("9{:013}", i);
        writeln!(
            f,
            "{path}\t{}",
            signed_form(base, path, order_push_params(&id, now))
        )?;
    }
    Ok(())
}
