//! Spin's variables: application `[variables]` resolved once at startup from
//! the `SPIN_VARIABLE_<NAME>` environment provider or their default, then
//! component variables rendered from `{{ name }}` templates over them.

use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Result};

use crate::manifest::{AppManifest, VariableDecl};

/// Spin's variable-name rule: lowercase ASCII letters, digits and `_`,
/// starting with a letter.
pub fn is_valid_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The environment variable Spin's environment provider reads for `name`.
pub fn env_key(name: &str) -> String {
    format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Variable(String),
}

/// A component variable value: literal text with `{{ name }}` references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Part>);

impl Template {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                return Err(format!("unterminated '{{{{' in template '{text}'"));
            };
            let name = after[..end].trim();
            if !is_valid_variable_name(name) {
                return Err(format!(
                    "invalid variable reference '{{{{{}}}}}' in template",
                    &after[..end]
                ));
            }
            parts.push(Part::Variable(name.to_string()));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_string()));
        }
        Ok(Self(parts))
    }

    pub fn references(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| match p {
            Part::Variable(v) => Some(v.as_str()),
            Part::Literal(_) => None,
        })
    }

    pub fn render(&self, values: &BTreeMap<String, String>) -> Result<String> {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Part::Literal(l) => out.push_str(l),
                Part::Variable(v) => match values.get(v) {
                    Some(val) => out.push_str(val),
                    None => bail!("unknown variable '{v}'"),
                },
            }
        }
        Ok(out)
    }
}

/// Resolves every application variable: provider first, then default; a
/// required variable with no provider value is a startup error naming it.
pub fn resolve_app_variables(
    decls: &BTreeMap<String, VariableDecl>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut missing = Vec::new();
    for (name, decl) in decls {
        match env(&env_key(name)).or_else(|| decl.default.clone()) {
            Some(v) => {
                out.insert(name.clone(), v);
            }
            None => missing.push(name.clone()),
        }
    }
    if !missing.is_empty() {
        let list: Vec<String> = missing
            .iter()
            .map(|n| format!("variables.{n} (set {})", env_key(n)))
            .collect();
        bail!("required variable(s) have no value: {}", list.join(", "));
    }
    Ok(out)
}

/// Per-component resolved variables, what `fermyon:spin/variables.get` sees.
#[derive(Debug, Clone, Default)]
pub struct ComponentVariables(HashMap<String, String>);

impl ComponentVariables {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Application variables plus every component's rendered variables.
#[derive(Debug, Clone, Default)]
pub struct ResolvedVariables {
    pub app: BTreeMap<String, String>,
    pub components: HashMap<String, ComponentVariables>,
}

impl ResolvedVariables {
    pub fn resolve(app: &AppManifest, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let values = resolve_app_variables(&app.variables, env)?;
        let mut components = HashMap::new();
        for (id, c) in &app.components {
            let mut vars = HashMap::new();
            for (name, tpl) in &c.variables {
                let v = tpl
                    .render(&values)
                    .map_err(|e| anyhow::anyhow!("component.{id}.variables.{name}: {e}"))?;
                vars.insert(name.clone(), v);
            }
            components.insert(id.clone(), ComponentVariables(vars));
        }
        Ok(Self {
            app: values,
            components,
        })
    }

    pub fn from_process_env(app: &AppManifest) -> Result<Self> {
        Self::resolve(app, |k| std::env::var(k).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decl(required: bool, default: Option<&str>) -> VariableDecl {
        VariableDecl {
            required,
            default: default.map(str::to_string),
            secret: false,
        }
    }

    #[test]
    fn templates_parse_and_render() {
        let t = Template::parse("Bearer {{ token }}-{{region}}!").unwrap();
        assert_eq!(t.references().collect::<Vec<_>>(), vec!["token", "region"]);
        let vals = BTreeMap::from([
            ("token".to_string(), "abc".to_string()),
            ("region".to_string(), "sh".to_string()),
        ]);
        assert_eq!(t.render(&vals).unwrap(), "Bearer abc-sh!");
        assert_eq!(
            Template::parse("plain").unwrap().render(&vals).unwrap(),
            "plain"
        );
        assert!(Template::parse("{{ token").is_err());
        assert!(Template::parse("{{ Bad }}").is_err());
        assert!(Template::parse("{{}}").is_err());
    }

    #[test]
    fn provider_overrides_default_and_required_needs_a_value() {
        let decls = BTreeMap::from([
            ("api_key".to_string(), decl(true, None)),
            ("region".to_string(), decl(false, Some("sh"))),
        ]);
        let env = |k: &str| (k == "SPIN_VARIABLE_API_KEY").then(|| "k1".to_string());
        let v = resolve_app_variables(&decls, env).unwrap();
        assert_eq!(v["api_key"], "k1");
        assert_eq!(v["region"], "sh");

        let env = |k: &str| (k == "SPIN_VARIABLE_REGION").then(|| "bj".to_string());
        let err = resolve_app_variables(&decls, env).unwrap_err().to_string();
        assert!(err.contains("variables.api_key"), "{err}");
        assert!(err.contains("SPIN_VARIABLE_API_KEY"), "{err}");
    }

    #[test]
    fn names_follow_spin_rules() {
        assert!(is_valid_variable_name("job_token"));
        assert!(is_valid_variable_name("a1"));
        assert!(!is_valid_variable_name("Job"));
        assert!(!is_valid_variable_name("1a"));
        assert!(!is_valid_variable_name("a-b"));
        assert!(!is_valid_variable_name(""));
        assert_eq!(env_key("job_token"), "SPIN_VARIABLE_JOB_TOKEN");
    }
}
