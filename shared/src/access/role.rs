//! Principals and roles. A role is one of six; a rider's role carries the rider's id, so
//! a rider's credential names the one rider it may act as.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a credential may do. The token's `role` claim is its [`fmt::Display`] form:
/// `admin`, `ops`, `cs`, `finance`, `scheduler` or `rider:<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    /// Configuration: every `/admin/...` route; reads orders masked.
    Admin,
    /// Operations: dashboard, exceptions, all orders (personal data masked), job backlog.
    Ops,
    /// Customer service: orders and exceptions with personal data in full.
    Cs,
    /// Reconciliation and settlements; orders without personal data.
    Finance,
    /// One rider: only that rider's own reports, accept/reject and route.
    Rider(String),
    /// The external scheduler: job routes only.
    Scheduler,
    /// Development mode only: the shared static `rider_token`, which may act as any
    /// rider (how the suite drove riders before per-rider credentials). Never parsed from
    /// a signed token.
    AnyRider,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    #[error("unknown role `{0}` (admin, ops, cs, finance, scheduler or rider:<id>)")]
    Unknown(String),
    #[error("a rider id is 1 to 64 of A-Z a-z 0-9 _ - . (got `{0}`)")]
    BadRiderId(String),
}

impl Role {
    pub fn parse(s: &str) -> Result<Role, RoleError> {
        match s {
            "admin" => Ok(Role::Admin),
            "ops" => Ok(Role::Ops),
            "cs" => Ok(Role::Cs),
            "finance" => Ok(Role::Finance),
            "scheduler" => Ok(Role::Scheduler),
            other => match other.strip_prefix("rider:") {
                Some(id) if valid_rider_id(id) => Ok(Role::Rider(id.to_string())),
                Some(id) => Err(RoleError::BadRiderId(id.to_string())),
                None => Err(RoleError::Unknown(other.to_string())),
            },
        }
    }
}

/// The ids rider routes accept as a path segment; anything else cannot name a rider.
pub fn valid_rider_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Role::Admin => f.write_str("admin"),
            Role::Ops => f.write_str("ops"),
            Role::Cs => f.write_str("cs"),
            Role::Finance => f.write_str("finance"),
            Role::Scheduler => f.write_str("scheduler"),
            Role::Rider(id) => write!(f, "rider:{id}"),
            Role::AnyRider => f.write_str("rider:*"),
        }
    }
}

impl Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Role, D::Error> {
        let s = String::deserialize(d)?;
        Role::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Who is calling: the token's subject (a person or a system) and its role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub subject: String,
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn roles_parse_and_print_the_same() {
        for s in ["admin", "ops", "cs", "finance", "scheduler", "rider:r-17"] {
            assert_eq!(Role::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn a_signed_role_can_never_be_the_dev_wildcard() {
        assert_eq!(
            Role::parse("rider:*"),
            Err(RoleError::BadRiderId("*".into()))
        );
        assert_eq!(Role::parse("rider:"), Err(RoleError::BadRiderId("".into())));
        assert_eq!(Role::parse("root"), Err(RoleError::Unknown("root".into())));
        assert!(serde_json::from_str::<Role>("\"rider:a/b\"").is_err());
    }

    proptest! {
        #[test]
        fn any_parsed_rider_role_round_trips(id in "[A-Za-z0-9_.-]{1,64}") {
            let role = Role::parse(&format!("rider:{id}")).unwrap();
            prop_assert_eq!(role.clone(), Role::Rider(id.clone()));
            prop_assert_eq!(serde_json::from_value::<Role>(serde_json::to_value(&role).unwrap()).unwrap(), role);
        }
    }
}
