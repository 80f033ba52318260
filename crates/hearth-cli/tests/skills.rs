//! `hearth skills list|check` against a state directory, with no gateway running.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn run(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hearth"))
        .env("HEARTH_HOME", home)
        .env("HEARTH_LOG", "warn")
        .env_remove("HEARTH_GATEWAY_URL")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn list_and_check_read_the_workspace_directly() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let extra = home.join("more-skills");
    write(
        &home.join("hearth.json"),
        &format!(
            r#"{{ skills: {{ load: {{ extraDirs: ["{}"] }} }} }}"#,
            extra.display()
        ),
    );
    write(
        &home.join("workspace/skills/notes/SKILL.md"),
        "---\nname: notes\ndescription: Keep notes tidy.\n---\nbody\n",
    );
    write(
        &home.join("skills/radar/SKILL.md"),
        "---\nname: radar\ndescription: Rain radar.\nmetadata: {openclaw: {requires: {bins: [hearth-no-such-binary]}}}\n---\n",
    );
    write(
        &extra.join("bad/SKILL.md"),
        "---\nname: Bad Name\ndescription: d\n---\n",
    );

    let out = run(home, &["skills", "list", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let skills = list["skills"].as_array().unwrap();
    assert_eq!(skills.len(), 2, "{list}");
    assert_eq!(skills[0]["name"], "notes");
    assert_eq!(skills[0]["available"], true);
    assert_eq!(
        skills[0]["source"],
        home.join("workspace/skills").display().to_string()
    );
    assert_eq!(skills[1]["name"], "radar");
    assert_eq!(skills[1]["available"], false);
    assert!(
        skills[1]["reason"]
            .as_str()
            .unwrap()
            .contains("hearth-no-such-binary")
    );
    assert_eq!(list["errors"][0]["line"], 2);

    let out = run(home, &["skills", "list"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("notes  (available)"), "{text}");
    assert!(
        text.contains("radar  (unavailable: needs hearth-no-such-binary"),
        "{text}"
    );

    let out = run(home, &["skills", "check"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    let bad = extra.join("bad/SKILL.md");
    assert!(
        text.contains(&format!(
            "error: {}:2: invalid name `Bad Name`",
            bad.display()
        )),
        "{text}"
    );

    std::fs::remove_dir_all(extra.join("bad")).unwrap();
    let out = run(home, &["skills", "check"]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("2 skills found, 1 available, 0 with errors"));

    let out = run(home, &["skills", "list", "--agent", "nobody"]);
    assert!(!out.status.success());
}
