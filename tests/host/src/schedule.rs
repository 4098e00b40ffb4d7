//! Scheduled jobs. SpinKube runs no cron trigger, so a job is an
//! authenticated HTTP route fired by an external scheduler; the table lives in
//! `[component.<id>.tool.orderhub] schedules = [...]`, which Spin ignores.
//! The host plays that scheduler locally.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    pub name: String,
    pub cron: String,
    pub time_zone: Option<String>,
    pub method: Option<String>,
    pub path: String,
}

/// One scheduled job: a 5-field cron (as a Kubernetes CronJob) evaluated in
/// `time_zone`, firing `method path` through the app's router.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: String,
    pub cron_expr: String,
    cron: Cron,
    pub time_zone: Tz,
    pub method: http::Method,
    pub path: String,
}

impl Schedule {
    pub fn from_raw(raw: RawSchedule) -> Result<Self, String> {
        if raw.name.trim().is_empty() {
            return Err("name: must not be empty".into());
        }
        let expr = raw.cron.trim();
        let fields = expr.split_whitespace().count();
        if !expr.starts_with('@') && fields != 5 {
            return Err(format!(
                "cron: '{expr}' has {fields} fields; expected 5 (minute hour day-of-month month day-of-week)"
            ));
        }
        let cron = Cron::new(expr)
            .parse()
            .map_err(|e| format!("cron: '{expr}': {e}"))?;
        let time_zone = match raw.time_zone.as_deref() {
            None => Tz::UTC,
            Some(name) => {
                Tz::from_str(name).map_err(|_| format!("time_zone: unknown time zone '{name}'"))?
            }
        };
        let method = match raw.method.as_deref() {
            None => http::Method::POST,
            Some(m) => http::Method::from_str(&m.to_ascii_uppercase())
                .map_err(|_| format!("method: invalid HTTP method '{m}'"))?,
        };
        if !raw.path.starts_with('/') {
            return Err(format!("path: '{}' must start with '/'", raw.path));
        }
        Ok(Self {
            name: raw.name,
            cron_expr: expr.to_string(),
            cron,
            time_zone,
            method,
            path: raw.path,
        })
    }

    /// `name<TAB>cron<TAB>time zone<TAB>method path`, as `jobs list` prints it.
    pub fn describe(&self) -> String {
        format!(
            "{}\t{}\t{}\t{} {}",
            self.name, self.cron_expr, self.time_zone, self.method, self.path
        )
    }

    /// The first firing strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.time_zone);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sched(cron: &str, tz: Option<&str>) -> Result<Schedule, String> {
        Schedule::from_raw(RawSchedule {
            name: "job".into(),
            cron: cron.into(),
            time_zone: tz.map(str::to_string),
            method: None,
            path: "/jobs/x".into(),
        })
    }

    #[test]
    fn nightly_in_shanghai_fires_at_1830_utc() {
        let s = sched("30 2 * * *", Some("Asia/Shanghai")).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap();
        assert_eq!(
            s.next_after(now).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 25, 18, 30, 0).unwrap()
        );
        // strictly after: a firing instant yields the next day's
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 18, 30, 0).unwrap();
        assert_eq!(
            s.next_after(at).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 26, 18, 30, 0).unwrap()
        );
        assert_eq!(s.method, http::Method::POST);
    }

    #[test]
    fn utc_default_and_steps() {
        let s = sched("*/15 * * * *", None).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 7, 59).unwrap();
        assert_eq!(
            s.next_after(now).unwrap(),
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 15, 0).unwrap()
        );
        let s = sched("0 9 * * 1", None).unwrap(); // Mondays 09:00
        let sunday = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
        assert_eq!(
            s.next_after(sunday).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap()
        );
    }

    #[test]
    fn dst_zone_follows_local_wall_clock() {
        // New York 08:00 local is 13:00 UTC in winter, 12:00 UTC in summer.
        let s = sched("0 8 * * *", Some("America/New_York")).unwrap();
        let winter = Utc.with_ymd_and_hms(2026, 1, 10, 0, 0, 0).unwrap();
        assert_eq!(
            s.next_after(winter).unwrap(),
            Utc.with_ymd_and_hms(2026, 1, 10, 13, 0, 0).unwrap()
        );
        let summer = Utc.with_ymd_and_hms(2026, 7, 10, 0, 0, 0).unwrap();
        assert_eq!(
            s.next_after(summer).unwrap(),
            Utc.with_ymd_and_hms(2026, 7, 10, 12, 0, 0).unwrap()
        );
    }

    #[test]
    fn bad_entries_name_the_field() {
        assert!(sched("* * * *", None).unwrap_err().starts_with("cron:"));
        assert!(sched("0 0 * * * *", None).unwrap_err().starts_with("cron:"));
        assert!(sched("61 * * * *", None).unwrap_err().starts_with("cron:"));
        assert!(sched("0 0 * * *", Some("Mars/Base"))
            .unwrap_err()
            .starts_with("time_zone:"));
        let mut raw = RawSchedule {
            name: "j".into(),
            cron: "0 0 * * *".into(),
            time_zone: None,
            method: Some("get".into()),
            path: "jobs".into(),
        };
        assert!(Schedule::from_raw(raw.clone())
            .unwrap_err()
            .starts_with("path:"));
        raw.path = "/jobs".into();
        assert_eq!(Schedule::from_raw(raw).unwrap().method, http::Method::GET);
    }
}
