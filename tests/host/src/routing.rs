//! Spin's HTTP routing: exact routes, `:param` segments, trailing `/...`
//! wildcards; the most specific matching route wins, independent of manifest
//! order (as Spin's `routefinder`-based router).

use std::cmp::Ordering;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Exact(String),
    Param(String),
}

/// One parsed `route = "..."`.
#[derive(Debug, Clone)]
pub struct RoutePattern {
    raw: String,
    /// The route with Spin's base (`/`) applied and one trailing `/` removed:
    /// this is what Spin reports in `spin-matched-route`.
    based: String,
    segments: Vec<Segment>,
    wildcard: bool,
    /// See [`RoutePattern::compute_rank`]; computed once at parse time.
    rank: Vec<u8>,
}

impl RoutePattern {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("empty route".into());
        }
        let absolute = if raw.starts_with('/') {
            raw.to_string()
        } else {
            format!("/{raw}")
        };
        let based = absolute
            .strip_suffix('/')
            .map(str::to_string)
            .unwrap_or_else(|| absolute.clone());
        let (body, wildcard) = if let Some(p) = based.strip_suffix("/...") {
            (p, true)
        } else if let Some(p) = based.strip_suffix("/*") {
            (p, true)
        } else if based == "..." {
            ("", true)
        } else {
            (based.as_str(), false)
        };
        let mut segments = Vec::new();
        for seg in split_segments(body) {
            if seg == "..." || seg == "*" {
                return Err(format!("'{raw}': a wildcard is only allowed at the end"));
            }
            if let Some(name) = seg.strip_prefix(':') {
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    return Err(format!("'{raw}': invalid parameter name ':{name}'"));
                }
                segments.push(Segment::Param(name.to_string()));
            } else {
                segments.push(Segment::Exact(seg.to_string()));
            }
        }
        let rank = Self::compute_rank(&segments, wildcard);
        Ok(Self {
            raw: raw.to_string(),
            based,
            segments,
            wildcard,
            rank,
        })
    }

    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Two patterns that match exactly the same paths (`/:a` and `/:b` too).
    pub fn same_shape(&self, other: &Self) -> bool {
        self.wildcard == other.wildcard
            && self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|(a, b)| match (a, b) {
                    (Segment::Exact(x), Segment::Exact(y)) => x == y,
                    (Segment::Param(_), Segment::Param(_)) => true,
                    _ => false,
                })
    }

    /// Specificity rank: per segment, exact beats param beats wildcard, and an
    /// exact end of route beats a wildcard in the same place; compared left to
    /// right, so the longest literal prefix wins.
    fn compute_rank(segments: &[Segment], wildcard: bool) -> Vec<u8> {
        let mut r: Vec<u8> = segments
            .iter()
            .map(|s| match s {
                Segment::Exact(_) => 3,
                Segment::Param(_) => 2,
            })
            .collect();
        r.push(if wildcard { 1 } else { 4 });
        r
    }

    fn matches(&self, path: &[&str]) -> Option<(Vec<(String, String)>, usize)> {
        if self.wildcard {
            if path.len() < self.segments.len() {
                return None;
            }
        } else if path.len() != self.segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (seg, p) in self.segments.iter().zip(path) {
            match seg {
                Segment::Exact(e) if e == p => {}
                Segment::Param(name) if !p.is_empty() => params.push((name.clone(), p.to_string())),
                _ => return None,
            }
        }
        Some((params, self.segments.len()))
    }
}

impl fmt::Display for RoutePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.wildcard {
            let prefix = self
                .based
                .strip_suffix("/...")
                .or_else(|| self.based.strip_suffix("/*"))
                .unwrap_or("");
            write!(f, "{prefix} (wildcard)")
        } else {
            write!(f, "{}", self.based)
        }
    }
}

fn split_segments(path: &str) -> Vec<&str> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    if trimmed.is_empty() {
        Vec::new()
    } else {
        trimmed.split('/').collect()
    }
}

/// The outcome of routing one request path: what Spin passes to the
/// component as `spin-*` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    pub component: String,
    /// `spin-matched-route`: the route with the base applied.
    pub based_route: String,
    /// `spin-raw-component-route`: the route as written in the manifest.
    pub raw_route: String,
    /// `spin-path-info`: the part of the path the trailing wildcard matched.
    pub path_info: String,
    /// `:name` captures, in route order.
    pub params: Vec<(String, String)>,
}

impl RouteMatch {
    /// What Spin reports for a `*.spin.internal` call: the whole path is the
    /// path info of a synthetic `/...` route.
    pub fn chained(component: &str, path: &str) -> Self {
        Self {
            component: component.to_string(),
            based_route: "/...".into(),
            raw_route: "/...".into(),
            path_info: path.to_string(),
            params: Vec::new(),
        }
    }

    /// `spin-component-route`: the raw route without its trailing wildcard.
    pub fn component_route(&self) -> &str {
        self.raw_route
            .strip_suffix("/...")
            .unwrap_or(&self.raw_route)
    }

    /// The `spin-*` headers, names lowercase as Spin sends them.
    pub fn spin_headers(&self, full_url: &str, client_addr: &str) -> Vec<(String, String)> {
        let mut h = vec![
            ("spin-path-info".to_string(), self.path_info.clone()),
            ("spin-full-url".to_string(), full_url.to_string()),
            ("spin-matched-route".to_string(), self.based_route.clone()),
            ("spin-base-path".to_string(), "/".to_string()),
            (
                "spin-raw-component-route".to_string(),
                self.raw_route.clone(),
            ),
            (
                "spin-component-route".to_string(),
                self.component_route().to_string(),
            ),
            ("spin-client-addr".to_string(), client_addr.to_string()),
        ];
        for (name, value) in &self.params {
            let key = format!(
                "spin-path-match-{}",
                name.to_ascii_lowercase().replace('_', "-")
            );
            h.push((key, value.clone()));
        }
        h
    }
}

struct Candidate<'r> {
    pattern: &'r RoutePattern,
    component: &'r String,
    params: Vec<(String, String)>,
    consumed: usize,
}

/// The public routes of the app. Built once at startup.
#[derive(Debug, Clone, Default)]
pub struct Router {
    routes: Vec<(RoutePattern, String)>,
}

impl Router {
    pub fn new(routes: impl IntoIterator<Item = (RoutePattern, String)>) -> Self {
        Self {
            routes: routes.into_iter().collect(),
        }
    }

    pub fn routes(&self) -> impl Iterator<Item = (&RoutePattern, &str)> {
        self.routes.iter().map(|(p, c)| (p, c.as_str()))
    }

    /// The most specific route for `path` (no query string), if any.
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let segs = split_segments(path);
        let mut best: Option<Candidate> = None;
        for (pattern, component) in &self.routes {
            let Some((params, consumed)) = pattern.matches(&segs) else {
                continue;
            };
            let better = match &best {
                None => true,
                Some(b) => pattern.rank.cmp(&b.pattern.rank) == Ordering::Greater,
            };
            if better {
                best = Some(Candidate {
                    pattern,
                    component,
                    params,
                    consumed,
                });
            }
        }
        let Candidate {
            pattern,
            component,
            params,
            consumed,
        } = best?;
        let path_info = if pattern.wildcard {
            let rest = &segs[consumed..];
            match (rest.is_empty(), path.ends_with('/')) {
                (true, false) => String::new(),
                (true, true) => "/".into(),
                (false, false) => format!("/{}", rest.join("/")),
                (false, true) => format!("/{}/", rest.join("/")),
            }
        } else {
            String::new()
        };
        Some(RouteMatch {
            component: component.clone(),
            based_route: pattern.based.clone(),
            raw_route: pattern.raw.clone(),
            path_info,
            params,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        Router::new(
            routes
                .iter()
                .map(|(r, c)| (RoutePattern::parse(r).unwrap(), c.to_string())),
        )
    }

    fn comp(r: &Router, path: &str) -> Option<String> {
        r.route(path).map(|m| m.component)
    }

    #[test]
    fn exact_routes_match_only_their_path() {
        let r = router(&[("/foo", "foo"), ("/foo/bar", "foobar")]);
        assert_eq!(comp(&r, "/foo").as_deref(), Some("foo"));
        assert_eq!(comp(&r, "/foo/bar").as_deref(), Some("foobar"));
        assert_eq!(comp(&r, "/foo/").as_deref(), Some("foo"));
        assert_eq!(comp(&r, "/foo/baz"), None);
        assert_eq!(comp(&r, "/"), None);
        assert_eq!(r.route("/foo").unwrap().path_info, "");
    }

    #[test]
    fn longest_wildcard_wins_regardless_of_order() {
        for routes in [
            [
                ("/one/...", "1"),
                ("/one/two/...", "2"),
                ("/one/two/three/...", "3"),
            ],
            [
                ("/one/two/three/...", "3"),
                ("/one/two/...", "2"),
                ("/one/...", "1"),
            ],
        ] {
            let r = router(&routes);
            assert_eq!(comp(&r, "/one/two/three/four").as_deref(), Some("3"));
            assert_eq!(comp(&r, "/one/two/x").as_deref(), Some("2"));
            assert_eq!(comp(&r, "/one").as_deref(), Some("1"));
            assert_eq!(comp(&r, "/onex"), None);
        }
    }

    #[test]
    fn exact_beats_param_beats_wildcard() {
        let r = router(&[
            ("/...", "all"),
            ("/orders/:id", "one"),
            ("/orders/stats", "stats"),
            ("/orders/...", "orders"),
        ]);
        assert_eq!(comp(&r, "/orders/stats").as_deref(), Some("stats"));
        assert_eq!(comp(&r, "/orders/42").as_deref(), Some("one"));
        assert_eq!(comp(&r, "/orders/42/lines").as_deref(), Some("orders"));
        assert_eq!(comp(&r, "/orders").as_deref(), Some("orders"));
        assert_eq!(comp(&r, "/x").as_deref(), Some("all"));
        assert_eq!(comp(&r, "/").as_deref(), Some("all"));
        let r = router(&[("/one", "exact"), ("/...", "wild")]);
        assert_eq!(comp(&r, "/one").as_deref(), Some("exact"));
    }

    #[test]
    fn trailing_wildcard_path_info_keeps_trailing_slash() {
        let r = router(&[("/test/...", "c")]);
        assert_eq!(r.route("/test").unwrap().path_info, "");
        assert_eq!(r.route("/test/").unwrap().path_info, "/");
        assert_eq!(r.route("/test/hello").unwrap().path_info, "/hello");
        assert_eq!(r.route("/test/hello/").unwrap().path_info, "/hello/");
        let r = router(&[("/...", "c")]);
        assert_eq!(r.route("/1/2/3").unwrap().path_info, "/1/2/3");
        let r = router(&[("/1/...", "c")]);
        assert_eq!(r.route("/1/2/3").unwrap().path_info, "/2/3");
    }

    #[test]
    fn params_are_captured_and_exposed_as_headers() {
        let r = router(&[("/1/:two/3", "a"), ("/u/:user_id/...", "b")]);
        let m = r.route("/1/2/3").unwrap();
        assert_eq!(m.params, vec![("two".to_string(), "2".to_string())]);
        let m = r.route("/u/42/bar").unwrap();
        assert_eq!(m.path_info, "/bar");
        assert_eq!(m.component_route(), "/u/:user_id");
        let h = m.spin_headers("http://h/u/42/bar?x=1", "127.0.0.1:9");
        let get = |k: &str| h.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("spin-path-match-user-id"), Some("42"));
        assert_eq!(get("spin-matched-route"), Some("/u/:user_id/..."));
        assert_eq!(get("spin-raw-component-route"), Some("/u/:user_id/..."));
        assert_eq!(get("spin-base-path"), Some("/"));
        assert_eq!(get("spin-full-url"), Some("http://h/u/42/bar?x=1"));
        assert_eq!(get("spin-client-addr"), Some("127.0.0.1:9"));
        assert_eq!(get("spin-path-info"), Some("/bar"));
        // an empty segment never satisfies a parameter
        assert_eq!(comp(&r, "/1//3"), None);
    }

    #[test]
    fn root_route_matches_root_only() {
        let r = router(&[("/", "root")]);
        assert_eq!(comp(&r, "/").as_deref(), Some("root"));
        assert_eq!(comp(&r, "/x"), None);
        assert_eq!(r.route("/").unwrap().based_route, "");
    }

    #[test]
    fn shapes_detect_duplicates() {
        let a = RoutePattern::parse("/orders/:id").unwrap();
        let b = RoutePattern::parse("/orders/:order").unwrap();
        let c = RoutePattern::parse("/orders/...").unwrap();
        assert!(a.same_shape(&b));
        assert!(!a.same_shape(&c));
        assert!(RoutePattern::parse("/a/.../b").is_err());
        assert!(RoutePattern::parse("/a/:/b").is_err());
    }

    #[test]
    fn wildcard_display_like_spin_up() {
        assert_eq!(
            RoutePattern::parse("/whee/...").unwrap().to_string(),
            "/whee (wildcard)"
        );
        assert_eq!(
            RoutePattern::parse("/...").unwrap().to_string(),
            " (wildcard)"
        );
    }
}
