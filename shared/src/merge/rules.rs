//! The merge rule set: data, not code. Operators edit it as JSON; [`validate`] explains
//! every problem in it at once (path + message) instead of stopping at the first.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::order::{ChannelId, ExceptionCode, TemperatureZone};

/// Two addresses further apart than this are never "the same address", whatever a
/// rule says: a rule asking for more is rejected by [`validate`].
pub const HARD_MAX_METRES: u32 = 300;

/// What a rule does when all its conditions hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    Join,
    Refuse,
}

/// One condition. Candidate-only conditions (`is_pickup`, `has_exception`,
/// `already_dispatched`) look at the order being offered; the others compare it with
/// every member of the open group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    SameCustomer,
    /// Exact `merge_key` when `within_metres` is absent, else the same `merge_key` *or*
    /// coordinates within that distance.
    SameAddress {
        #[serde(default)]
        within_metres: Option<u32>,
    },
    /// Placed within the window of the group's first order. `minutes` absent means the
    /// rule set's window (adaptive when configured).
    WithinWindow {
        #[serde(default)]
        minutes: Option<u32>,
    },
    SameStore,
    /// Promised windows start and end within `tolerance_minutes` of each other (two
    /// `asap` promises are the same slot).
    SamePromisedSlot {
        #[serde(default)]
        tolerance_minutes: u32,
    },
    /// Every channel involved (candidate and members) is in the list.
    ChannelsAllowed {
        channels: Vec<ChannelId>,
    },
    /// Some channel involved is in the list.
    ChannelDenied {
        channels: Vec<ChannelId>,
    },
    /// Every pair of zones present across candidate and group is the same zone or a
    /// listed compatible pair.
    ColdChainCompatible {
        #[serde(default)]
        compatible: Vec<[TemperatureZone; 2]>,
    },
    IsPickup,
    /// Flagged with any exception (or one of `codes` when given).
    HasException {
        #[serde(default)]
        codes: Option<Vec<ExceptionCode>>,
    },
    AlreadyDispatched,
}

impl Condition {
    pub fn name(&self) -> &'static str {
        match self {
            Condition::SameCustomer => "same_customer",
            Condition::SameAddress { .. } => "same_address",
            Condition::WithinWindow { .. } => "within_window",
            Condition::SameStore => "same_store",
            Condition::SamePromisedSlot { .. } => "same_promised_slot",
            Condition::ChannelsAllowed { .. } => "channels_allowed",
            Condition::ChannelDenied { .. } => "channel_denied",
            Condition::ColdChainCompatible { .. } => "cold_chain_compatible",
            Condition::IsPickup => "is_pickup",
            Condition::HasException { .. } => "has_exception",
            Condition::AlreadyDispatched => "already_dispatched",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MergeRule {
    pub id: String,
    pub action: RuleAction,
    /// All must hold (an empty list always holds).
    pub when: Vec<Condition>,
    #[serde(default)]
    pub description: Option<String>,
}

/// Adaptive window settings (see `docs/merge.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptiveConfig {
    pub enabled: bool,
    /// Prior probability that a customer orders again within `max_minutes`.
    #[serde(default = "default_prior_p")]
    pub prior_follow_rate: f64,
    /// Weight of the prior in pseudo-observations.
    #[serde(default = "default_prior_strength")]
    pub prior_strength: f64,
    /// Below this follow probability the window shrinks to `min_minutes`.
    #[serde(default = "default_low")]
    pub shorten_below: f64,
    /// At or above this follow probability the window stretches to cover the typical gap.
    #[serde(default = "default_high")]
    pub lengthen_above: f64,
}

fn default_prior_p() -> f64 {
    0.2
}
fn default_prior_strength() -> f64 {
    2.0
}
fn default_low() -> f64 {
    0.1
}
fn default_high() -> f64 {
    0.35
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            prior_follow_rate: default_prior_p(),
            prior_strength: default_prior_strength(),
            shorten_below: default_low(),
            lengthen_above: default_high(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowConfig {
    pub default_minutes: u32,
    pub min_minutes: u32,
    pub max_minutes: u32,
    /// Time the warehouse and rider need between release and the promised end: an
    /// order is never held past `promised.end - lead_minutes`.
    pub lead_minutes: u32,
    /// Promise assumed for `asap` orders without an end (minutes after placement).
    pub asap_promise_minutes: u32,
}

impl Default for WindowConfig {
    fn default() -> Self {
        Self {
            default_minutes: 30,
            min_minutes: 5,
            max_minutes: 60,
            lead_minutes: 20,
            asap_promise_minutes: 60,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSet {
    pub rules: Vec<MergeRule>,
    pub window: WindowConfig,
    pub adaptive: AdaptiveConfig,
    /// Open groups tried per (customer, address) before an order is released alone.
    pub max_lanes: u32,
}

impl Default for RuleSet {
    /// The team's default: exclusions first, then "same customer, same address, same
    /// store, within the window, cold chain compatible".
    fn default() -> Self {
        let refuse = |id: &str, c: Condition| MergeRule {
            id: id.into(),
            action: RuleAction::Refuse,
            when: vec![c],
            description: None,
        };
        Self {
            rules: vec![
                refuse("exclude-pickup", Condition::IsPickup),
                refuse("exclude-exception", Condition::HasException { codes: None }),
                refuse("exclude-dispatched", Condition::AlreadyDispatched),
                MergeRule {
                    id: "same-customer-address-window".into(),
                    action: RuleAction::Join,
                    when: vec![
                        Condition::SameCustomer,
                        Condition::SameAddress {
                            within_metres: None,
                        },
                        Condition::SameStore,
                        Condition::WithinWindow { minutes: None },
                        Condition::ColdChainCompatible {
                            compatible: vec![
                                [TemperatureZone::Ambient, TemperatureZone::Chilled],
                                [TemperatureZone::Chilled, TemperatureZone::Frozen],
                                [TemperatureZone::Ambient, TemperatureZone::Frozen],
                            ],
                        },
                    ],
                    description: Some("one parcel run per customer and address".into()),
                },
            ],
            window: WindowConfig::default(),
            adaptive: AdaptiveConfig::default(),
            max_lanes: 4,
        }
    }
}

/// One problem in a rule set: where (a JSON path such as `rules[2].when[0]`) and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleError {
    pub path: String,
    pub message: String,
}

impl RuleError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Parse and check a rule set, reporting every error found.
pub fn validate(json: &str) -> Result<RuleSet, Vec<RuleError>> {
    let root: Value = serde_json::from_str(json)
        .map_err(|e| vec![RuleError::new("$", format!("not JSON: {e}"))])?;
    let Some(obj) = root.as_object() else {
        return Err(vec![RuleError::new("$", "a rule set is a JSON object")]);
    };
    let mut errors = Vec::new();
    for key in obj.keys() {
        if !["rules", "window", "adaptive", "max_lanes"].contains(&key.as_str()) {
            errors.push(RuleError::new(format!("$.{key}"), "unknown field"));
        }
    }
    let window = match obj.get("window") {
        None => WindowConfig::default(),
        Some(v) => parse_window(v, &mut errors),
    };
    let adaptive = match obj.get("adaptive") {
        None => AdaptiveConfig::default(),
        Some(v) => serde_json::from_value::<AdaptiveConfig>(v.clone()).unwrap_or_else(|e| {
            errors.push(RuleError::new("$.adaptive", e.to_string()));
            AdaptiveConfig::default()
        }),
    };
    check_adaptive(&adaptive, &mut errors);
    let max_lanes = match obj.get("max_lanes") {
        None => 4,
        Some(v) => match v.as_u64() {
            Some(n @ 1..=16) => n as u32,
            _ => {
                errors.push(RuleError::new(
                    "$.max_lanes",
                    "must be an integer from 1 to 16",
                ));
                4
            }
        },
    };
    let rules = match obj.get("rules") {
        None => {
            errors.push(RuleError::new(
                "$.rules",
                "missing: a rule set needs at least one rule",
            ));
            Vec::<(usize, MergeRule)>::new()
        }
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, r)| parse_rule(i, r, &mut errors).map(|rule| (i, rule)))
            .collect(),
        Some(_) => {
            errors.push(RuleError::new("$.rules", "must be an array of rules"));
            Vec::new()
        }
    };
    check_rules(&rules, &window, &mut errors);
    if errors.is_empty() {
        Ok(RuleSet {
            rules: rules.into_iter().map(|(_, r)| r).collect(),
            window,
            adaptive,
            max_lanes,
        })
    } else {
        Err(errors)
    }
}

fn parse_window(v: &Value, errors: &mut Vec<RuleError>) -> WindowConfig {
    let mut w = WindowConfig::default();
    let Some(obj) = v.as_object() else {
        errors.push(RuleError::new("$.window", "must be an object"));
        return w;
    };
    for (key, value) in obj {
        let path = format!("$.window.{key}");
        let slot = match key.as_str() {
            "default_minutes" => &mut w.default_minutes,
            "min_minutes" => &mut w.min_minutes,
            "max_minutes" => &mut w.max_minutes,
            "lead_minutes" => &mut w.lead_minutes,
            "asap_promise_minutes" => &mut w.asap_promise_minutes,
            _ => {
                errors.push(RuleError::new(path, "unknown field"));
                continue;
            }
        };
        match value.as_u64().filter(|n| *n <= 24 * 60) {
            Some(n) => *slot = n as u32,
            None => errors.push(RuleError::new(
                path,
                "must be a whole number of minutes from 0 to 1440",
            )),
        }
    }
    if !(w.min_minutes <= w.default_minutes && w.default_minutes <= w.max_minutes) {
        errors.push(RuleError::new(
            "$.window",
            format!(
                "need min_minutes ≤ default_minutes ≤ max_minutes, got {} / {} / {}",
                w.min_minutes, w.default_minutes, w.max_minutes
            ),
        ));
    }
    w
}

fn check_adaptive(a: &AdaptiveConfig, errors: &mut Vec<RuleError>) {
    let unit = |x: f64| (0.0..=1.0).contains(&x);
    if !unit(a.prior_follow_rate) {
        errors.push(RuleError::new(
            "$.adaptive.prior_follow_rate",
            "must be a probability in [0, 1]",
        ));
    }
    if !(a.prior_strength.is_finite() && a.prior_strength > 0.0) {
        errors.push(RuleError::new(
            "$.adaptive.prior_strength",
            "must be a positive number",
        ));
    }
    if !unit(a.shorten_below) || !unit(a.lengthen_above) || a.shorten_below > a.lengthen_above {
        errors.push(RuleError::new(
            "$.adaptive",
            "need 0 ≤ shorten_below ≤ lengthen_above ≤ 1",
        ));
    }
}

fn parse_rule(i: usize, v: &Value, errors: &mut Vec<RuleError>) -> Option<MergeRule> {
    let path = format!("$.rules[{i}]");
    let Some(obj) = v.as_object() else {
        errors.push(RuleError::new(
            path,
            "a rule is an object with `id`, `action` and `when`",
        ));
        return None;
    };
    let before = errors.len();
    for key in obj.keys() {
        if !["id", "action", "when", "description"].contains(&key.as_str()) {
            errors.push(RuleError::new(format!("{path}.{key}"), "unknown field"));
        }
    }
    let id = match obj.get("id").and_then(Value::as_str) {
        Some(s) if !s.trim().is_empty() => s.to_string(),
        _ => {
            errors.push(RuleError::new(
                format!("{path}.id"),
                "missing or empty: every rule needs an id so decisions can name it",
            ));
            String::new()
        }
    };
    let action = match obj
        .get("action")
        .map(|a| serde_json::from_value::<RuleAction>(a.clone()))
    {
        Some(Ok(a)) => Some(a),
        _ => {
            errors.push(RuleError::new(
                format!("{path}.action"),
                "must be \"join\" or \"refuse\"",
            ));
            None
        }
    };
    let when = match obj.get("when") {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(
                |(j, c)| match serde_json::from_value::<Condition>(c.clone()) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        errors.push(RuleError::new(format!("{path}.when[{j}]"), e.to_string()));
                        None
                    }
                },
            )
            .collect(),
        _ => {
            errors.push(RuleError::new(
                format!("{path}.when"),
                "must be an array of conditions",
            ));
            Vec::new()
        }
    };
    let description = obj
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string);
    if errors.len() > before {
        return None;
    }
    action.map(|action| MergeRule {
        id,
        action,
        when,
        description,
    })
}

fn check_rules(rules: &[(usize, MergeRule)], window: &WindowConfig, errors: &mut Vec<RuleError>) {
    let mut seen = std::collections::HashSet::new();
    for (i, rule) in rules {
        let path = format!("$.rules[{i}]");
        if !seen.insert(rule.id.as_str()) {
            errors.push(RuleError::new(
                format!("{path}.id"),
                format!("duplicate rule id `{}`", rule.id),
            ));
        }
        for (j, c) in rule.when.iter().enumerate() {
            let cpath = format!("{path}.when[{j}]");
            match c {
                Condition::SameAddress {
                    within_metres: Some(m),
                } if *m > HARD_MAX_METRES => {
                    errors.push(RuleError::new(
                        cpath,
                        format!("within_metres {m} exceeds the hard limit of {HARD_MAX_METRES} m"),
                    ));
                }
                Condition::WithinWindow { minutes: Some(m) } if *m > window.max_minutes => {
                    errors.push(RuleError::new(
                        cpath,
                        format!(
                            "{m} minutes exceeds window.max_minutes ({})",
                            window.max_minutes
                        ),
                    ));
                }
                Condition::ChannelsAllowed { channels } | Condition::ChannelDenied { channels }
                    if channels.is_empty() =>
                {
                    errors.push(RuleError::new(
                        cpath,
                        "an empty channel list is almost certainly a mistake",
                    ));
                }
                _ => {}
            }
        }
        if rule.action == RuleAction::Join {
            let has = |name: &str| rule.when.iter().any(|c| c.name() == name);
            for required in ["same_customer", "same_address"] {
                if !has(required) {
                    errors.push(RuleError::new(
                        format!("{path}.when"),
                        format!("a join rule must include `{required}`: orders of different customers or addresses never merge"),
                    ));
                }
            }
            if let Some(excl) = rule
                .when
                .iter()
                .find(|c| matches!(c, Condition::IsPickup | Condition::AlreadyDispatched))
            {
                errors.push(RuleError::new(
                    format!("{path}.when"),
                    format!(
                        "`{}` can only refuse: such orders are never merged",
                        excl.name()
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rule_set_round_trips_through_validate() {
        let json = serde_json::to_string(&RuleSet::default()).unwrap();
        assert_eq!(validate(&json), Ok(RuleSet::default()));
    }

    #[test]
    fn every_error_is_reported_with_its_path() {
        let json = r#"{
            "rules": [
                {"id": "a", "action": "join", "when": [{"kind": "same_customer"}, {"kind": "teleport"}]},
                {"id": "a", "action": "merge", "when": []},
                {"id": "b", "action": "join", "when": [{"kind": "same_customer"}, {"kind": "same_address", "within_metres": 5000}]},
                {"id": "c", "action": "join", "when": [{"kind": "same_store"}]}
            ],
            "window": {"default_minutes": 90, "max_minutes": 60},
            "colour": "blue"
        }"#;
        let errors = validate(json).unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert!(paths.contains(&"$.colour"), "{errors:?}");
        assert!(paths.contains(&"$.window"), "{errors:?}");
        assert!(paths.contains(&"$.rules[0].when[1]"), "{errors:?}");
        assert!(paths.contains(&"$.rules[1].action"), "{errors:?}");
        assert!(paths.contains(&"$.rules[2].when[1]"), "{errors:?}");
        assert!(
            errors
                .iter()
                .any(|e| e.path == "$.rules[3].when" && e.message.contains("same_customer")),
            "{errors:?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.path == "$.rules[3].when" && e.message.contains("same_address")),
            "{errors:?}"
        );
    }

    #[test]
    fn duplicate_ids_and_bad_types_are_errors() {
        let json = r#"{"rules": [
            {"id": "x", "action": "refuse", "when": [{"kind": "is_pickup"}]},
            {"id": "x", "action": "refuse", "when": [{"kind": "channel_denied", "channels": []}]}
        ], "max_lanes": 0}"#;
        let errors = validate(json).unwrap_err();
        assert!(errors
            .iter()
            .any(|e| e.path == "$.rules[1].id" && e.message.contains("duplicate")));
        assert!(errors.iter().any(|e| e.path == "$.rules[1].when[0]"));
        assert!(errors.iter().any(|e| e.path == "$.max_lanes"));
        assert!(validate("[1]").is_err());
        assert!(validate("not json").is_err());
    }

    #[test]
    fn minimal_rule_set_gets_defaults() {
        let json = r#"{"rules": [{"id": "j", "action": "join", "when": [
            {"kind": "same_customer"}, {"kind": "same_address", "within_metres": 50}, {"kind": "within_window", "minutes": 20}
        ]}]}"#;
        let set = validate(json).unwrap();
        assert_eq!(set.window, WindowConfig::default());
        assert_eq!(set.max_lanes, 4);
        assert_eq!(
            set.rules[0].when[1],
            Condition::SameAddress {
                within_metres: Some(50)
            }
        );
    }

    #[test]
    fn the_documented_example_validates() {
        // Kept in step with docs/merge.md.
        let json = r#"{
  "rules": [
    {"id": "exclude-pickup",    "action": "refuse", "when": [{"kind": "is_pickup"}]},
    {"id": "exclude-exception", "action": "refuse", "when": [{"kind": "has_exception"}]},
    {"id": "exclude-dispatched","action": "refuse", "when": [{"kind": "already_dispatched"}]},
    {"id": "no-pos",            "action": "refuse", "when": [{"kind": "channel_denied", "channels": ["pos"]}]},
    {"id": "same-door", "action": "join", "when": [
      {"kind": "same_customer"},
      {"kind": "same_address", "within_metres": 50},
      {"kind": "same_store"},
      {"kind": "within_window"},
      {"kind": "same_promised_slot", "tolerance_minutes": 30},
      {"kind": "channels_allowed", "channels": ["app", "meituan", "eleme", "miniprogram"]},
      {"kind": "cold_chain_compatible", "compatible": [["ambient", "chilled"], ["chilled", "frozen"]]}
    ]}
  ],
  "window": {"default_minutes": 30, "min_minutes": 5, "max_minutes": 60, "lead_minutes": 20, "asap_promise_minutes": 60},
  "adaptive": {"enabled": true, "prior_follow_rate": 0.2, "prior_strength": 4, "shorten_below": 0.1, "lengthen_above": 0.35},
  "max_lanes": 4
}"#;
        let set = validate(json).unwrap();
        assert_eq!(set.rules.len(), 5);
        assert!(set.adaptive.enabled);
    }
}
