//! `spin.toml` (manifest version 2), parsed and validated once at startup.
//!
//! Every error names the manifest field it is about, so a broken manifest is
//! fixed from the message alone.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;

use crate::outbound::AllowedHosts;
use crate::routing::{RoutePattern, Router};
use crate::schedule::Schedule;
use crate::variables::{is_valid_variable_name, Template};

/// The application as `spin.toml` declares it.
#[derive(Debug, Clone)]
pub struct AppManifest {
    /// The directory holding `spin.toml`: component sources are relative to it.
    pub dir: PathBuf,
    pub path: PathBuf,
    pub name: String,
    /// `[application] version`, which Spin's `/.well-known/spin/info` reports.
    pub version: Option<String>,
    pub variables: BTreeMap<String, VariableDecl>,
    pub triggers: Vec<HttpTrigger>,
    pub components: BTreeMap<String, ComponentDecl>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableDecl {
    pub required: bool,
    pub default: Option<String>,
    pub secret: bool,
}

#[derive(Debug, Clone)]
pub struct HttpTrigger {
    pub component: String,
    pub route: TriggerRoute,
}

#[derive(Debug, Clone)]
pub enum TriggerRoute {
    Public(RoutePattern),
    /// `route = { private = true }`: reachable only through `*.spin.internal`.
    Private,
}

#[derive(Debug, Clone)]
pub struct ComponentDecl {
    pub id: String,
    /// Absolute (manifest-dir-joined) path of the `.wasm`.
    pub source: PathBuf,
    pub allowed_outbound_hosts: AllowedHosts,
    pub key_value_stores: Vec<String>,
    pub variables: BTreeMap<String, Template>,
    pub environment: BTreeMap<String, String>,
    pub schedules: Vec<Schedule>,
}

#[derive(Deserialize)]
struct RawManifest {
    spin_manifest_version: toml::Value,
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, RawVariable>,
    #[serde(default)]
    trigger: BTreeMap<String, Vec<toml::Table>>,
    #[serde(default)]
    component: BTreeMap<String, toml::Table>,
}

#[derive(Deserialize)]
struct RawApplication {
    name: String,
    version: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariable {
    #[serde(default)]
    required: bool,
    default: Option<String>,
    #[serde(default)]
    secret: bool,
    #[allow(dead_code)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct RawHttpTrigger {
    route: RawRoute,
    component: toml::Value,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawRoute {
    Path(String),
    Private { private: bool },
}

#[derive(Deserialize)]
struct RawComponent {
    source: toml::Value,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    tool: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize, Default)]
struct RawOrderhubTool {
    #[serde(default)]
    schedules: Vec<crate::schedule::RawSchedule>,
}

impl AppManifest {
    /// Reads and validates `path`. Component sources are not required to exist
    /// yet (see [`AppManifest::check_sources`]) so `jobs list` works before a build.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read manifest {}", path.display()))?;
        let dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        Self::parse(&text, &dir, path).with_context(|| format!("{}", path.display()))
    }

    pub fn parse(text: &str, dir: &Path, path: &Path) -> Result<Self> {
        let raw: RawManifest = toml::from_str(text).map_err(|e| anyhow!("{e}"))?;
        match &raw.spin_manifest_version {
            toml::Value::Integer(2) => {}
            toml::Value::String(s) if s == "2" => {}
            other => bail!("spin_manifest_version: expected 2, found {other}"),
        }

        let mut variables = BTreeMap::new();
        for (name, v) in raw.variables {
            if !is_valid_variable_name(&name) {
                bail!("variables.{name}: invalid name (lowercase letters, digits and '_', starting with a letter)");
            }
            if v.required && v.default.is_some() {
                bail!("variables.{name}: `required = true` and `default` are mutually exclusive");
            }
            if !v.required && v.default.is_none() {
                bail!("variables.{name}: needs `default = \"...\"` or `required = true`");
            }
            variables.insert(
                name,
                VariableDecl {
                    required: v.required,
                    default: v.default,
                    secret: v.secret,
                },
            );
        }

        let mut components = BTreeMap::new();
        for (id, table) in raw.component {
            let c = parse_component(&id, table, dir, &variables)?;
            components.insert(id, c);
        }

        let mut triggers = Vec::new();
        for (kind, list) in raw.trigger {
            if kind != "http" {
                bail!("trigger.{kind}: only HTTP triggers are supported (SpinKube runs no cron trigger; use schedules)");
            }
            for (i, table) in list.into_iter().enumerate() {
                let t: RawHttpTrigger = toml::Value::Table(table)
                    .try_into()
                    .map_err(|e| anyhow!("trigger.http[{i}]: {e}"))?;
                let component = match t.component {
                    toml::Value::String(s) => s,
                    _ => bail!("trigger.http[{i}].component: expected a component id string (inline components are not supported)"),
                };
                if !components.contains_key(&component) {
                    bail!("trigger.http[{i}].component: unknown component '{component}'");
                }
                let route = match t.route {
                    RawRoute::Path(p) => TriggerRoute::Public(
                        RoutePattern::parse(&p)
                            .map_err(|e| anyhow!("trigger.http[{i}].route: {e}"))?,
                    ),
                    RawRoute::Private { private: true } => TriggerRoute::Private,
                    RawRoute::Private { private: false } => bail!(
                        "trigger.http[{i}].route: must be a string pattern or `{{ private = true }}`"
                    ),
                };
                triggers.push(HttpTrigger { component, route });
            }
        }
        check_duplicate_routes(&triggers)?;

        Ok(Self {
            dir: dir.to_path_buf(),
            path: path.to_path_buf(),
            name: raw.application.name,
            version: raw.application.version,
            variables,
            triggers,
            components,
        })
    }

    /// Every component that a trigger serves must have its `.wasm` on disk.
    pub fn check_sources(&self) -> Result<()> {
        for c in self.components.values() {
            if !c.source.is_file() {
                bail!(
                    "component.{}.source: file not found: {} (run scripts/build)",
                    c.id,
                    c.source.display()
                );
            }
        }
        Ok(())
    }

    /// The public routes (private components are reachable only by chaining).
    pub fn router(&self) -> Router {
        Router::new(self.triggers.iter().filter_map(|t| match &t.route {
            TriggerRoute::Public(p) => Some((p.clone(), t.component.clone())),
            TriggerRoute::Private => None,
        }))
    }

    /// Every schedule has a unique name and a path some public route serves
    /// (a warning when that route is another component's).
    pub fn check_schedules(&self, router: &Router) -> Result<()> {
        let mut names = HashSet::new();
        for (component, s) in self.schedules() {
            match router.route(&s.path) {
                None => bail!(
                    "component.{component}.tool.orderhub.schedules ({}): path {} matches no public route",
                    s.name,
                    s.path
                ),
                Some(m) if m.component != component => eprintln!(
                    "orderhub-host: warning: schedule '{}' is declared on '{component}' but {} routes to '{}'",
                    s.name, s.path, m.component
                ),
                Some(_) => {}
            }
            if !names.insert(s.name.clone()) {
                bail!(
                    "component.{component}.tool.orderhub.schedules: duplicate schedule name '{}'",
                    s.name
                );
            }
        }
        Ok(())
    }

    /// All schedules of all components, in manifest order.
    pub fn schedules(&self) -> impl Iterator<Item = (&str, &Schedule)> {
        self.components
            .values()
            .flat_map(|c| c.schedules.iter().map(move |s| (c.id.as_str(), s)))
    }
}

fn parse_component(
    id: &str,
    table: toml::Table,
    dir: &Path,
    app_vars: &BTreeMap<String, VariableDecl>,
) -> Result<ComponentDecl> {
    if !is_valid_component_id(id) {
        bail!("component.{id}: invalid id (lowercase letters, digits and '-', starting with a letter)");
    }
    let raw: RawComponent = toml::Value::Table(table)
        .try_into()
        .map_err(|e| anyhow!("component.{id}: {e}"))?;
    let source = match raw.source {
        toml::Value::String(s) => dir.join(s),
        _ => bail!("component.{id}.source: expected a path string (URL sources are not supported)"),
    };
    let allowed_outbound_hosts = AllowedHosts::parse(&raw.allowed_outbound_hosts)
        .map_err(|e| anyhow!("component.{id}.allowed_outbound_hosts: {e}"))?;
    let mut seen = HashSet::new();
    for label in &raw.key_value_stores {
        if !seen.insert(label) {
            bail!("component.{id}.key_value_stores: duplicate label '{label}'");
        }
    }
    let mut variables = BTreeMap::new();
    for (name, tpl) in raw.variables {
        if !is_valid_variable_name(&name) {
            bail!("component.{id}.variables.{name}: invalid name");
        }
        let t =
            Template::parse(&tpl).map_err(|e| anyhow!("component.{id}.variables.{name}: {e}"))?;
        for v in t.references() {
            if !app_vars.contains_key(v) {
                bail!("component.{id}.variables.{name}: unknown variable '{v}' (declare it under [variables])");
            }
        }
        variables.insert(name, t);
    }
    let tool: RawOrderhubTool = match raw.tool.get("orderhub") {
        Some(v) => v
            .clone()
            .try_into()
            .map_err(|e| anyhow!("component.{id}.tool.orderhub: {e}"))?,
        None => RawOrderhubTool::default(),
    };
    let mut schedules = Vec::new();
    for (i, s) in tool.schedules.into_iter().enumerate() {
        schedules.push(
            Schedule::from_raw(s)
                .map_err(|e| anyhow!("component.{id}.tool.orderhub.schedules[{i}]: {e}"))?,
        );
    }
    Ok(ComponentDecl {
        id: id.to_string(),
        source,
        allowed_outbound_hosts,
        key_value_stores: raw.key_value_stores,
        variables,
        environment: raw.environment,
        schedules,
    })
}

fn check_duplicate_routes(triggers: &[HttpTrigger]) -> Result<()> {
    let mut seen: Vec<(&RoutePattern, &str)> = Vec::new();
    for t in triggers {
        if let TriggerRoute::Public(p) = &t.route {
            if let Some((other, comp)) = seen.iter().find(|(o, _)| o.same_shape(p)) {
                bail!(
                    "trigger.http: duplicate route '{}' (component '{}') and '{}' (component '{}')",
                    other.raw(),
                    comp,
                    p.raw(),
                    t.component
                );
            }
            seen.push((p, &t.component));
        }
    }
    Ok(())
}

/// Spin's rule for component ids: kebab-case words.
pub fn is_valid_component_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && !id.ends_with('-')
        && !id.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
spin_manifest_version = 2
[application]
name = "t"
[variables]
token = { required = true, secret = true }
region = { default = "sh" }
[[trigger.http]]
route = "/orders/..."
component = "query"
[[trigger.http]]
route = { private = true }
component = "normalize"
[component.query]
source = "q.wasm"
allowed_outbound_hosts = ["http://normalize.spin.internal"]
key_value_stores = ["default"]
[component.query.variables]
auth = "Bearer {{ token }}"
[component.query.build]
command = "cargo build"
[component.normalize]
source = "n.wasm"
[component.normalize.tool.orderhub]
schedules = [{ name = "sweep", cron = "*/5 * * * *", path = "/orders/sweep" }]
"#;

    fn parse(text: &str) -> Result<AppManifest> {
        AppManifest::parse(text, Path::new("/app"), Path::new("/app/spin.toml"))
    }

    fn err(text: &str) -> String {
        format!("{:#}", parse(text).unwrap_err())
    }

    #[test]
    fn parses_a_full_manifest() {
        let m = parse(BASE).unwrap();
        assert_eq!(m.name, "t");
        assert_eq!(m.components["query"].source, PathBuf::from("/app/q.wasm"));
        assert!(m.variables["token"].secret && m.variables["token"].required);
        assert_eq!(m.triggers.len(), 2);
        assert!(matches!(m.triggers[1].route, TriggerRoute::Private));
        assert_eq!(m.schedules().count(), 1);
        assert_eq!(
            m.components["query"].key_value_stores,
            vec!["default".to_string()]
        );
    }

    #[test]
    fn errors_name_the_field() {
        let e = err(&BASE.replace("component = \"query\"", "component = \"nope\""));
        assert!(
            e.contains("trigger.http[0].component: unknown component 'nope'"),
            "{e}"
        );
        let e = err(&BASE.replace("{{ token }}", "{{ missing }}"));
        assert!(
            e.contains("component.query.variables.auth: unknown variable 'missing'"),
            "{e}"
        );
        let e = err(&BASE.replace("route = { private = true }", "route = \"/orders/...\""));
        assert!(e.contains("duplicate route"), "{e}");
        let e = err(&BASE.replace(
            "region = { default = \"sh\" }",
            "region = { secret = true }",
        ));
        assert!(e.contains("variables.region"), "{e}");
        let e = err(&BASE.replace("\"http://normalize.spin.internal\"", "\"normalize\""));
        assert!(e.contains("component.query.allowed_outbound_hosts"), "{e}");
        let e = err(&BASE.replace("*/5 * * * *", "*/5 * * *"));
        assert!(
            e.contains("component.normalize.tool.orderhub.schedules[0]: cron"),
            "{e}"
        );
        let e = err(&BASE.replace("spin_manifest_version = 2", "spin_manifest_version = 1"));
        assert!(e.contains("spin_manifest_version"), "{e}");
        let e = err(&BASE.replace("source = \"n.wasm\"", ""));
        assert!(
            e.contains("component.normalize") && e.contains("source"),
            "{e}"
        );
        let e = err(&BASE.replace("route = { private = true }", "route = { private = false }"));
        assert!(e.contains("trigger.http[1].route"), "{e}");
    }

    #[test]
    fn missing_source_file_is_a_startup_error() {
        let m = parse(BASE).unwrap();
        let e = m.check_sources().unwrap_err().to_string();
        assert!(
            e.starts_with("component.normalize.source: file not found: /app/n.wasm"),
            "{e}"
        );
    }

    #[test]
    fn component_ids_follow_spin_rules() {
        assert!(is_valid_component_id("ingest-meituan"));
        assert!(!is_valid_component_id("Ingest"));
        assert!(!is_valid_component_id("a--b"));
        assert!(!is_valid_component_id("-a"));
    }
}
