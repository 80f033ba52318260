//! Workspace files and skills as the model sees them: the system prompt the provider receives,
//! `skills.list`, and seeding an empty workspace.

use std::path::Path;

use hearth_protocol::methods::{ChatSendParams, SkillsListParams, spec};
use hearth_test_utils::Reply;

use crate::harness::{TestGateway, chat_final};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn send(message: &str) -> ChatSendParams {
    ChatSendParams {
        message: message.to_owned(),
        ..ChatSendParams::default()
    }
}

fn system_prompt(t: &TestGateway) -> String {
    let req = t.fake.last_request().unwrap();
    assert_eq!(req.body["messages"][0]["role"], "system");
    req.body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn workspace_files_and_skill_index_reach_the_model() {
    let extra = tempfile::tempdir().unwrap();
    let extra_dir = extra.path().display().to_string();
    let t = TestGateway::start_with(&format!(
        r#"skills: {{ load: {{ extraDirs: ["{extra_dir}"] }} }},"#
    ))
    .await;
    let home = t.home.path();
    let workspace = home.join("workspace");
    write(
        &workspace.join("SOUL.md"),
        "Speak like a lighthouse keeper.\n<!-- a note for the human -->\n",
    );
    write(
        &workspace.join("skills/weather/SKILL.md"),
        "---\nname: weather\ndescription: Forecasts for the user's town.\n---\n\
         Call the forecast API with the HIDDEN-BODY-MARKER parameters.\n",
    );
    write(
        &home.join("skills/radar/SKILL.md"),
        "---\nname: radar\ndescription: Rain radar images.\n\
         metadata: {openclaw: {requires: {bins: [hearth-no-such-radar-binary]}}}\n---\nbody\n",
    );
    write(
        &extra.path().join("broken/SKILL.md"),
        "---\nname: broken\ndescription: [never closed\n---\nbody\n",
    );
    write(
        &extra.path().join("tides/SKILL.md"),
        "---\nname: tides\ndescription: Tide tables.\nversion: 2\n---\nbody\n",
    );

    t.fake.push(Reply::text("Aye."));
    let client = t.client().await;
    assert!(
        client
            .hello()
            .features
            .methods
            .iter()
            .any(|m| m == "skills.list")
    );
    chat_final(&client, send("what's the weather?")).await;
    let prompt = system_prompt(&t);
    assert!(
        prompt.contains("## SOUL.md\nSpeak like a lighthouse keeper."),
        "{prompt}"
    );
    assert!(
        !prompt.contains("a note for the human"),
        "comments are dropped: {prompt}"
    );
    assert!(
        prompt.contains("- weather: Forecasts for the user's town."),
        "{prompt}"
    );
    assert!(
        prompt.contains(
            &workspace
                .join("skills/weather/SKILL.md")
                .display()
                .to_string()
        )
    );
    assert!(prompt.contains("- tides: Tide tables."), "{prompt}");
    assert!(
        !prompt.contains("HIDDEN-BODY-MARKER"),
        "skill bodies stay out: {prompt}"
    );
    assert!(
        !prompt.contains("radar"),
        "unavailable skills stay out: {prompt}"
    );
    assert!(!prompt.contains("broken"), "{prompt}");

    let list = client
        .call::<spec::SkillsList>(SkillsListParams::default())
        .await
        .unwrap();
    let by_name = |name: &str| list.skills.iter().find(|s| s.name == name).unwrap();
    assert!(by_name("weather").available);
    assert_eq!(
        by_name("weather").source,
        workspace.join("skills").display().to_string()
    );
    assert!(by_name("tides").available);
    let radar = by_name("radar");
    assert!(!radar.available);
    assert!(
        radar
            .reason
            .as_deref()
            .unwrap()
            .contains("hearth-no-such-radar-binary"),
        "{radar:?}"
    );
    assert_eq!(list.errors.len(), 1, "{:?}", list.errors);
    let broken = &list.errors[0];
    assert_eq!(
        broken.path,
        extra.path().join("broken/SKILL.md").display().to_string()
    );
    assert!(matches!(broken.line, Some(3..=4)), "{broken:?}");

    let err = client
        .call::<spec::SkillsList>(SkillsListParams {
            agent_id: Some("nobody".into()),
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nobody"), "{err}");

    // Editing a file reaches the turns after it (the gateway looks at the files at most once a
    // second).
    write(&workspace.join("SOUL.md"), "Speak like a pirate.\n");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    t.fake.push(Reply::text("Arr."));
    chat_final(&client, send("again")).await;
    let prompt = system_prompt(&t);
    assert!(prompt.contains("Speak like a pirate."), "{prompt}");
    assert!(!prompt.contains("lighthouse"), "{prompt}");
}

#[tokio::test]
async fn an_empty_workspace_is_seeded_with_private_templates() {
    let t = TestGateway::start().await;
    let workspace = t.home.path().join("workspace");
    assert!(
        !workspace.join("AGENTS.md").exists(),
        "seeded on first use, not before"
    );
    t.fake.push(Reply::text("Hello."));
    let client = t.client().await;
    chat_final(&client, send("hi")).await;

    for name in [
        "AGENTS.md",
        "SOUL.md",
        "USER.md",
        "IDENTITY.md",
        "TOOLS.md",
        "HEARTBEAT.md",
        "MEMORY.md",
    ] {
        let path = workspace.join(name);
        assert!(path.is_file(), "{name} was not written");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}");
        }
    }
    assert!(workspace.join("memory").is_dir());
    let prompt = system_prompt(&t);
    assert!(prompt.contains("## AGENTS.md"), "{prompt}");
    assert!(
        !prompt.contains("## USER.md"),
        "an untouched template costs nothing: {prompt}"
    );
    assert!(!prompt.contains("<!--"), "{prompt}");
}
