//! What changed between two snapshots, setting by setting: the desk shows
//! it against the snapshot a document was last reviewed at (seed 000:
//! update the record and the DPIA whenever data-protection-relevant
//! settings change).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::model::Snapshot;

/// One setting that differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Where, e.g. `cameras[id=3].retention_hours` or
    /// `roles[name=operator].permissions`.
    pub setting: String,
    /// Its value before (JSON; `null` when it did not exist).
    pub before: String,
    /// Its value now (JSON; `null` when it no longer exists).
    pub after: String,
}

/// Every setting of `after` that differs from `before`, in path order.
pub fn changes(before: &Snapshot, after: &Snapshot) -> Vec<Change> {
    changes_json(&to_value(before), &to_value(after))
}

/// [`changes`] of two snapshots as JSON: a stored snapshot is compared as
/// it was written, so snapshots stored before a field was added or removed
/// still compare (the field shows as appearing or going).
pub fn changes_json(before: &Value, after: &Value) -> Vec<Change> {
    let mut a = BTreeMap::new();
    let mut b = BTreeMap::new();
    flatten("", before, &mut a);
    flatten("", after, &mut b);
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let (x, y) = (a.get(k), b.get(k));
            (x != y).then(|| Change {
                setting: k.clone(),
                before: x.map_or_else(|| "null".into(), |v| v.to_string()),
                after: y.map_or_else(|| "null".into(), |v| v.to_string()),
            })
        })
        .collect()
}

fn to_value(s: &Snapshot) -> Value {
    serde_json::to_value(s).expect("a snapshot is always JSON")
}

/// Objects by key; arrays of objects by their `id` (or `name`), so that
/// removing one camera does not shift every other camera's path; other
/// arrays (lists of words) as one value.
fn flatten(path: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                flatten(&join(k), x, out);
            }
        }
        Value::Array(items) if items.iter().all(|i| key_of(i).is_some()) && !items.is_empty() => {
            for i in items {
                let (k, id) = key_of(i).expect("checked");
                flatten(&format!("{path}[{k}={id}]"), i, out);
            }
        }
        _ => {
            out.insert(path.to_string(), v.clone());
        }
    }
}

fn key_of(v: &Value) -> Option<(&'static str, String)> {
    let m = v.as_object()?;
    for k in ["id", "name", "description"] {
        match m.get(k) {
            Some(Value::Number(n)) => return Some((k, n.to_string())),
            Some(Value::String(s)) => return Some((k, s.clone())),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Camera, Role};

    fn snapshot() -> Snapshot {
        Snapshot {
            cameras: vec![
                Camera {
                    id: 1,
                    name: "Door".into(),
                    retention_hours: 72,
                    ..Camera::default()
                },
                Camera {
                    id: 2,
                    name: "Till".into(),
                    retention_hours: 72,
                    ..Camera::default()
                },
            ],
            roles: vec![Role {
                name: "operator".into(),
                permissions: vec!["live.view".into()],
                ..Role::default()
            }],
            ..Snapshot::default()
        }
    }

    #[test]
    fn a_snapshot_stored_before_a_field_existed_still_compares() {
        let mut old = serde_json::to_value(snapshot()).unwrap();
        old["retention"]
            .as_object_mut()
            .unwrap()
            .remove("original_hours");
        old["retention"]["retired_setting"] = serde_json::json!(1);
        let now = serde_json::to_value(snapshot()).unwrap();
        let c = changes_json(&old, &now);
        let settings: Vec<&str> = c.iter().map(|c| c.setting.as_str()).collect();
        assert_eq!(
            settings,
            ["retention.original_hours", "retention.retired_setting"]
        );
        assert_eq!(c[1].after, "null");
    }

    #[test]
    fn no_change_is_empty() {
        assert!(changes(&snapshot(), &snapshot()).is_empty());
    }

    #[test]
    fn names_each_changed_setting_by_object_key() {
        let before = snapshot();
        let mut after = snapshot();
        after.cameras.remove(0);
        after.cameras[0].retention_hours = 720;
        after.roles[0].permissions.push("playback".into());
        after.security.audit_retention_days = 30;
        let c = changes(&before, &after);
        let settings: Vec<&str> = c.iter().map(|c| c.setting.as_str()).collect();
        assert!(
            settings.contains(&"cameras[id=2].retention_hours"),
            "{settings:?}"
        );
        assert!(settings.contains(&"cameras[id=1].name"), "{settings:?}");
        assert!(
            settings.contains(&"roles[name=operator].permissions"),
            "{settings:?}"
        );
        assert!(
            settings.contains(&"security.audit_retention_days"),
            "{settings:?}"
        );
        let r = c
            .iter()
            .find(|c| c.setting == "cameras[id=2].retention_hours")
            .unwrap();
        assert_eq!((r.before.as_str(), r.after.as_str()), ("72", "720"));
        let gone = c
            .iter()
            .find(|c| c.setting == "cameras[id=1].name")
            .unwrap();
        assert_eq!(
            (gone.before.as_str(), gone.after.as_str()),
            ("\"Door\"", "null")
        );
        assert!(!settings.iter().any(|s| s.starts_with("cameras[id=2].name")));
    }
}
