//! Plugin selection: the original client's filters and their exact semantics
//! (smoker-compat.md §4.2), including the quirky `--exclude` rule.
//!
//! Filters are evaluated in the original's order: `--filter` args, `--category`,
//! `--component`, `--health`, `--smoke`, the `-p` list, the status filter (always present),
//! `--locked`. Without `--exclude` all must match. With `--exclude` the evaluation stops at
//! the first parameter or status filter (whatever it says) and the answer is inverted; a
//! matching `-p` list lets evaluation go on to the next filter, as in the original.

use serde_json::Value;
use thiserror::Error;

use super::model::{PluginView, Status};

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SelectError {
    /// A `--filter` argument without a space-separated value.
    #[error("Invalid filter parameter format!")]
    InvalidFilter,
    #[error("Invalid status {0:?} (use OK, WARN, ERROR or UNKNOWN)")]
    InvalidStatus(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Plugin parameter `key` equals `value` (typed: `"5"` is not `5`; missing never matches).
    Param { key: String, value: Value },
    /// Plugin name is one of these.
    Names(Vec<String>),
    /// Shown status is one of these.
    Status(Vec<Status>),
}

/// The user's filter options, as parsed from the command line.
#[derive(Debug, Clone, Default)]
pub struct FilterOptions {
    pub filter: Vec<String>,
    pub category: Option<String>,
    pub component: Option<String>,
    pub health: bool,
    pub smoke: bool,
    pub plugins: Vec<String>,
    pub filter_status: Vec<String>,
    pub nook: bool,
    pub ok: bool,
    pub error: bool,
    pub warn: bool,
    pub unknown: bool,
    pub locked: bool,
    pub exclude: bool,
    pub exclude_plugins: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub filters: Vec<Filter>,
    pub negative: bool,
    pub exclude_plugins: Vec<String>,
    /// Parameter filters and a plugin list were combined (the original warns).
    pub names_and_params: bool,
}

impl Selection {
    pub fn from_options(options: &FilterOptions) -> Result<Selection, SelectError> {
        let mut params: Vec<String> = options.filter.clone();
        if let Some(category) = &options.category {
            params.push(format!("Category {category}"));
        }
        if let Some(component) = &options.component {
            params.push(format!("Component {component}"));
        }
        if options.health {
            params.push("Type healthCheck".into());
        }
        if options.smoke {
            params.push("Type smokeTest".into());
        }
        let mut filters = Vec::new();
        for param in &params {
            // Python `f.split(' ')[0]`, `[1]`: single spaces, extra tokens ignored.
            let mut tokens = param.split(' ');
            let (Some(key), Some(value)) = (tokens.next(), tokens.next()) else {
                return Err(SelectError::InvalidFilter);
            };
            filters.push(Filter::Param {
                key: key.into(),
                value: Value::String(value.into()),
            });
        }
        let names_and_params = !filters.is_empty() && !options.plugins.is_empty();
        if !options.plugins.is_empty() {
            filters.push(Filter::Names(options.plugins.clone()));
        }

        let mut states = Vec::new();
        if !options.filter_status.is_empty() {
            for text in &options.filter_status {
                states.push(
                    Status::parse(text).ok_or_else(|| SelectError::InvalidStatus(text.clone()))?,
                );
            }
        } else if options.nook {
            states = vec![Status::Error, Status::Warn, Status::Unknown];
        } else {
            for (on, status) in [
                (options.ok, Status::Ok),
                (options.error, Status::Error),
                (options.warn, Status::Warn),
                (options.unknown, Status::Unknown),
            ] {
                if on {
                    states.push(status);
                }
            }
        }
        if states.is_empty() {
            states = vec![Status::Ok, Status::Error, Status::Warn, Status::Unknown];
        }
        filters.push(Filter::Status(states));
        if options.locked {
            filters.push(Filter::Param {
                key: "RunOnLocked".into(),
                value: Value::Bool(true),
            });
        }
        Ok(Selection {
            filters,
            negative: options.exclude,
            exclude_plugins: options.exclude_plugins.clone(),
            names_and_params,
        })
    }

    /// Only these names (check_smoker), no status or negation.
    pub fn names(names: Vec<String>) -> Selection {
        Selection {
            filters: vec![Filter::Names(names)],
            negative: false,
            exclude_plugins: Vec::new(),
            names_and_params: false,
        }
    }

    /// All these `key = value` parameter filters (check_smoker).
    pub fn params(params: Vec<(String, String)>) -> Selection {
        Selection {
            filters: params
                .into_iter()
                .map(|(key, value)| Filter::Param {
                    key,
                    value: Value::String(value),
                })
                .collect(),
            negative: false,
            exclude_plugins: Vec::new(),
            names_and_params: false,
        }
    }

    /// The original `Client._match_filters`, step by step.
    pub fn matches(&self, plugin: &PluginView) -> bool {
        if self.exclude_plugins.contains(&plugin.name) {
            return false;
        }
        let negative = self.negative;
        let mut matched = true;
        for filter in &self.filters {
            match filter {
                Filter::Status(states) => {
                    matched = states.contains(&plugin.status());
                    if !matched || negative {
                        break;
                    }
                }
                Filter::Param { key, value } => {
                    matched = plugin.parameters.get(key) == Some(value);
                    if !matched || negative {
                        break;
                    }
                }
                Filter::Names(names) => {
                    matched = names.contains(&plugin.name);
                    if !matched {
                        break;
                    }
                }
            }
        }
        if negative { !matched } else { matched }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plugin(name: &str, status: Option<&str>, params: Value) -> PluginView {
        let last = status.map_or(
            Value::Null,
            |s| json!({"status": s, "lastRun": "2026-01-01T00:00:00"}),
        );
        PluginView::parse(
            &json!({"name": name, "lastResult": last, "nextRun": null, "parameters": params}),
        )
        .unwrap()
    }

    fn fleet() -> Vec<PluginView> {
        vec![
            plugin(
                "uptime",
                Some("OK"),
                json!({"Category": "system", "Type": "healthCheck", "Num": 5}),
            ),
            plugin(
                "fail",
                Some("ERROR"),
                json!({"Category": "demo", "Type": "smokeTest", "RunOnLocked": true}),
            ),
            plugin(
                "json",
                Some("WARN"),
                json!({"Category": "demo", "Type": "smokeTest", "Num": "5"}),
            ),
            plugin("never", None, json!({"Category": "demo"})),
        ]
    }

    fn selected(options: FilterOptions) -> Vec<String> {
        let selection = Selection::from_options(&options).unwrap();
        fleet()
            .into_iter()
            .filter(|p| selection.matches(p))
            .map(|p| p.name)
            .collect()
    }

    #[test]
    fn no_filters_select_all() {
        assert_eq!(
            selected(FilterOptions::default()),
            ["uptime", "fail", "json", "never"]
        );
    }

    #[test]
    fn params_and_names_are_anded() {
        let options = FilterOptions {
            category: Some("demo".into()),
            smoke: true,
            ..Default::default()
        };
        assert_eq!(selected(options), ["fail", "json"]);
        let options = FilterOptions {
            category: Some("demo".into()),
            plugins: vec!["json".into(), "uptime".into()],
            ..Default::default()
        };
        assert_eq!(selected(options), ["json"]);
        // health and smoke together select nothing
        assert!(
            selected(FilterOptions {
                health: true,
                smoke: true,
                ..Default::default()
            })
            .is_empty()
        );
    }

    #[test]
    fn filter_values_are_typed_strings() {
        let options = FilterOptions {
            filter: vec!["Num 5".into()],
            ..Default::default()
        };
        assert_eq!(selected(options), ["json"]);
        // extra tokens ignored, missing parameter never matches
        let options = FilterOptions {
            filter: vec!["Category system extra".into()],
            ..Default::default()
        };
        assert_eq!(selected(options), ["uptime"]);
        let options = FilterOptions {
            filter: vec!["Nope x".into()],
            ..Default::default()
        };
        assert!(selected(options).is_empty());
        let bad = FilterOptions {
            filter: vec!["Category".into()],
            ..Default::default()
        };
        assert_eq!(
            Selection::from_options(&bad),
            Err(SelectError::InvalidFilter)
        );
    }

    #[test]
    fn status_shortcuts() {
        assert_eq!(
            selected(FilterOptions {
                nook: true,
                ..Default::default()
            }),
            ["fail", "json", "never"]
        );
        assert_eq!(
            selected(FilterOptions {
                error: true,
                ok: true,
                ..Default::default()
            }),
            ["uptime", "fail"]
        );
        assert_eq!(
            selected(FilterOptions {
                unknown: true,
                ..Default::default()
            }),
            ["never"]
        );
        // --filter-status wins over the shortcuts
        let options = FilterOptions {
            filter_status: vec!["WARN".into()],
            error: true,
            ..Default::default()
        };
        assert_eq!(selected(options), ["json"]);
        let bad = FilterOptions {
            filter_status: vec!["BAD".into()],
            ..Default::default()
        };
        assert!(Selection::from_options(&bad).is_err());
    }

    #[test]
    fn locked_and_exclude_plugins() {
        assert_eq!(
            selected(FilterOptions {
                locked: true,
                ..Default::default()
            }),
            ["fail"]
        );
        let options = FilterOptions {
            exclude_plugins: vec!["fail".into(), "never".into()],
            ..Default::default()
        };
        assert_eq!(selected(options), ["uptime", "json"]);
    }

    #[test]
    fn exclude_inverts_the_first_filter_only() {
        // --exclude --category demo: only the category counts
        let options = FilterOptions {
            exclude: true,
            category: Some("demo".into()),
            error: true,
            ..Default::default()
        };
        assert_eq!(selected(options), ["uptime"]);
        // --exclude alone: the status filter (all states) is first -> everything excluded
        assert!(
            selected(FilterOptions {
                exclude: true,
                ..Default::default()
            })
            .is_empty()
        );
        // --exclude --error: status filter inverted
        assert_eq!(
            selected(FilterOptions {
                exclude: true,
                error: true,
                ..Default::default()
            }),
            ["uptime", "json", "never"]
        );
        // --exclude -p fail: names in the list fall through to the status filter (all) -> excluded
        let options = FilterOptions {
            exclude: true,
            plugins: vec!["fail".into()],
            ..Default::default()
        };
        assert_eq!(selected(options), ["uptime", "json", "never"]);
        // --exclude -p fail uptime --error: original quirk: excluded only when in list AND status matches
        let options = FilterOptions {
            exclude: true,
            plugins: vec!["fail".into(), "uptime".into()],
            error: true,
            ..Default::default()
        };
        assert_eq!(selected(options), ["uptime", "json", "never"]);
        // --exclude-plugins still applies
        let options = FilterOptions {
            exclude: true,
            category: Some("system".into()),
            exclude_plugins: vec!["json".into()],
            ..Default::default()
        };
        assert_eq!(selected(options), ["fail", "never"]);
    }

    #[test]
    fn check_smoker_selections() {
        let by_names = Selection::names(vec!["json".into(), "nope".into()]);
        assert_eq!(fleet().iter().filter(|p| by_names.matches(p)).count(), 1);
        let by_params = Selection::params(vec![
            ("Category".into(), "demo".into()),
            ("Type".into(), "smokeTest".into()),
        ]);
        assert_eq!(fleet().iter().filter(|p| by_params.matches(p)).count(), 2);
    }
}
