//! Version migration of the raw document, before it is checked against the schema.
//!
//! `STEPS[i]` turns a version `i + 1` document into version `i + 2`, so the table's length
//! fixes [`CURRENT_VERSION`]. A step moves or renames settings (see [`move_setting`]); it never
//! drops one silently: whatever it cannot place stays where it was, and the structural check
//! then reports it as an unknown key.

use serde_json::Value;

use crate::path::{get_path, set_path, unset_path};
use crate::{CURRENT_VERSION, ConfigError, Issue};

/// One migration step: edits a version N document into version N + 1.
pub type MigrationStep = fn(&mut Value);

/// The oldest version that ever existed.
const FIRST_VERSION: u32 = 1;

/// Version 1 is the first, so there is nothing to migrate yet.
const STEPS: &[MigrationStep] = &[];

const _: () = assert!(CURRENT_VERSION as usize == FIRST_VERSION as usize + STEPS.len());

/// Brings `doc` up to [`CURRENT_VERSION`]. Returns the version it had when it was older.
/// An absent `version` means current; a newer one is [`ConfigError::TooNew`]. A `version` that
/// is not a number is left for the structural check to report.
pub fn migrate(doc: &mut Value) -> Result<Option<u32>, ConfigError> {
    run(doc, STEPS)
}

fn run(doc: &mut Value, steps: &[MigrationStep]) -> Result<Option<u32>, ConfigError> {
    let current = FIRST_VERSION + u32::try_from(steps.len()).unwrap_or(u32::MAX - FIRST_VERSION);
    let Some(found) = doc.get("version").and_then(Value::as_u64) else {
        return Ok(None);
    };
    let found = u32::try_from(found).unwrap_or(u32::MAX);
    if found > current {
        return Err(ConfigError::TooNew {
            found,
            supported: current,
        });
    }
    if found < FIRST_VERSION {
        return Err(ConfigError::Invalid {
            issues: vec![
                Issue::error("version", format!("version {found} does not exist")).with_hint(
                    format!(
                        "the first version is {FIRST_VERSION}; remove `version` to use the \
                         current one"
                    ),
                ),
            ],
        });
    }
    if found == current {
        return Ok(None);
    }
    let pending = (found - FIRST_VERSION) as usize;
    for step in &steps[pending..] {
        step(doc);
    }
    if let Some(map) = doc.as_object_mut() {
        map.insert("version".to_owned(), Value::from(current));
    }
    Ok(Some(found))
}

/// Moves the setting at `from` to `to` for a migration step. When `to` already holds a value
/// the old setting stays where it is, so nothing is lost and the user is told about it. Returns
/// whether something moved.
pub fn move_setting(doc: &mut Value, from: &str, to: &str) -> Result<bool, ConfigError> {
    if get_path(doc, to).is_some() {
        return Ok(false);
    }
    let Some(value) = get_path(doc, from).cloned() else {
        return Ok(false);
    };
    set_path(doc, to, value)?;
    unset_path(doc, from)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rename_listen_port(doc: &mut Value) {
        move_setting(doc, "gateway.listenPort", "gateway.port").unwrap();
    }

    fn move_token(doc: &mut Value) {
        move_setting(doc, "gateway.token", "gateway.auth.token").unwrap();
    }

    const FAKE_STEPS: &[MigrationStep] = &[rename_listen_port, move_token];

    #[test]
    fn steps_run_in_order_from_the_found_version() {
        let mut doc = json!({
            "version": 1,
            "gateway": { "listenPort": 1234, "token": "t", "unknownThing": true },
        });
        assert_eq!(run(&mut doc, FAKE_STEPS).unwrap(), Some(1));
        assert_eq!(
            doc,
            json!({
                "version": 3,
                "gateway": { "unknownThing": true, "port": 1234, "auth": { "token": "t" } },
            })
        );

        let mut doc = json!({ "version": 2, "gateway": { "listenPort": 1, "token": "t" } });
        assert_eq!(run(&mut doc, FAKE_STEPS).unwrap(), Some(2));
        assert_eq!(
            doc["gateway"]["listenPort"], 1,
            "step 1 must not run on a version 2 file"
        );
        assert_eq!(doc["gateway"]["auth"]["token"], "t");
    }

    #[test]
    fn a_move_onto_an_existing_setting_keeps_both() {
        let mut doc = json!({ "version": 1, "gateway": { "listenPort": 1, "port": 2 } });
        run(&mut doc, FAKE_STEPS).unwrap();
        assert_eq!(doc["gateway"], json!({ "listenPort": 1, "port": 2 }));
    }

    #[test]
    fn current_or_absent_versions_are_untouched() {
        for mut doc in [
            json!({ "version": 3, "a": 1 }),
            json!({ "a": 1 }),
            json!("x"),
        ] {
            let before = doc.clone();
            assert_eq!(run(&mut doc, FAKE_STEPS).unwrap(), None);
            assert_eq!(doc, before);
        }
        let mut doc = json!({ "version": 1 });
        assert_eq!(migrate(&mut doc).unwrap(), None);
    }

    #[test]
    fn newer_versions_are_refused() {
        let mut doc = json!({ "version": 4 });
        let err = run(&mut doc, FAKE_STEPS).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::TooNew {
                    found: 4,
                    supported: 3
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("upgrade Hearth or restore a backup"),
            "{err}"
        );
        let err = migrate(&mut json!({ "version": 2 })).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::TooNew {
                found: 2,
                supported: CURRENT_VERSION
            }
        ));
    }

    #[test]
    fn version_zero_is_invalid() {
        let err = migrate(&mut json!({ "version": 0 })).unwrap_err();
        assert_eq!(err.issues()[0].path, "version");
    }
}
