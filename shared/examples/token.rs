//! `token ROLE SUBJECT [LIFETIME]`: a signed bearer token for orderhub, printed
//! on stdout. ROLE is `admin`, `ops`, `cs`, `finance`, `scheduler` or `rider:<id>`;
//! SUBJECT names the person or system (`alice`, `cronjobs`); LIFETIME is `30m`, `8h`
//! (the default), `90d` … up to the role's maximum (24 h; 90 d for `scheduler`).
//! The key is the first of `auth_keys` (`kid:secret,…`), read from
//! `SPIN_VARIABLE_AUTH_KEYS` as the app reads it. `scripts/token` wraps this
//! (`cargo run --release -p orderhub-core --example token -- ROLE SUBJECT [LIFETIME]`).

use std::process::ExitCode;

use orderhub_core::access::{token, KeyRing, Principal, Role};

fn lifetime_secs(text: &str) -> Option<i64> {
    let (n, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = n.parse().ok()?;
    let per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(per)
}

fn run(args: &[String]) -> Result<String, String> {
    let usage = "usage: scripts/token ROLE SUBJECT [LIFETIME]   (ROLE: admin|ops|cs|finance|scheduler|rider:<id>; LIFETIME: 30m, 8h, 90d; key: SPIN_VARIABLE_AUTH_KEYS)";
    let (role, subject) = match args {
        [role, subject] | [role, subject, _] => (role, subject),
        _ => return Err(usage.into()),
    };
    let role = Role::parse(role).map_err(|e| e.to_string())?;
    if subject.trim().is_empty() {
        return Err("SUBJECT must name someone".into());
    }
    let lifetime = match args.get(2) {
        Some(t) => {
            lifetime_secs(t).ok_or_else(|| format!("LIFETIME `{t}`: expected e.g. 30m, 8h, 90d"))?
        }
        None => 8 * 3600,
    };
    let spec = std::env::var("SPIN_VARIABLE_AUTH_KEYS")
        .map_err(|_| "SPIN_VARIABLE_AUTH_KEYS is not set (the app's auth_keys)".to_string())?;
    let keys = KeyRing::parse(&spec).map_err(|e| e.to_string())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs() as i64;
    let principal = Principal {
        subject: subject.clone(),
        role,
    };
    token::issue(&principal, now, lifetime, keys.signing_key()).map_err(|e| e.to_string())
}

use std::io::Write;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        // A reader that went away (`scripts/token … | head -c0`) is an error to report,
        // not a panic.
        Ok(t) => match writeln!(std::io::stdout(), "{t}") {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("token: writing the token: {e}");
                ExitCode::from(1)
            }
        },
        Err(e) => {
            eprintln!("token: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_parse() {
        assert_eq!(lifetime_secs("30m"), Some(1800));
        assert_eq!(lifetime_secs("90d"), Some(90 * 86_400));
        assert_eq!(lifetime_secs("8"), None);
        assert_eq!(lifetime_secs("h"), None);
    }
}
