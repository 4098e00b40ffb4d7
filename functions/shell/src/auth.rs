//! Bearer-token auth for admin routes and scheduled jobs (an external scheduler fires
//! jobs over HTTP because SpinKube runs no cron trigger).

use crate::respond::ApiError;
use spin_sdk::http::Request;

/// Check `authorization: Bearer <token>` against the component variable `variable`.
pub fn require_bearer(req: &Request, variable: &str) -> Result<(), ApiError> {
    let expected = spin_sdk::variables::get(variable).map_err(|e| {
        ApiError::new(
            500,
            "auth_not_configured",
            format!("variable `{variable}`: {e}"),
        )
    })?;
    if expected.is_empty() {
        return Err(ApiError::new(
            500,
            "auth_not_configured",
            format!("variable `{variable}` is empty"),
        ));
    }
    let presented = req
        .header("authorization")
        .and_then(|v| v.as_str())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            ApiError::new(
                401,
                "missing_token",
                "authorization: Bearer <token> required",
            )
        })?;
    if constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::new(
            401,
            "bad_token",
            "the bearer token is not valid",
        ))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn constant_time_eq_compares_bytes() {
        assert!(super::constant_time_eq(b"abc", b"abc"));
        assert!(!super::constant_time_eq(b"abc", b"abd"));
        assert!(!super::constant_time_eq(b"abc", b"ab"));
    }
}
