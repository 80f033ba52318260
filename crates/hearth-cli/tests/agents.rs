//! `hearth agents`, `hearth route explain` and `hearth identity` against a running gateway:
//! agents and bindings are written to the config and routing explains itself; links refuse
//! identities that never wrote to the bot.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Gateway, free_port, run, text};

const TOKEN: &str = "agents-test-token";

fn start(home: &std::path::Path) -> Gateway {
    let port = free_port();
    std::fs::write(
        home.join("hearth.json"),
        format!(
            r#"{{
  gateway: {{ port: {port}, auth: {{ token: "{TOKEN}" }}, shutdownTimeoutSeconds: 2 }},
  agents: {{ defaults: {{ model: {{ primary: "fake/fake-model" }} }} }},
  models: {{ providers: {{ fake: {{ baseUrl: "http://127.0.0.1:9/v1", apiKey: "sk-cli", models: [{{ id: "fake-model" }}] }} }} }},
}}"#
        ),
    )
    .unwrap();
    Gateway::start(home, port)
}

fn ok(home: &std::path::Path, args: &[&str]) -> String {
    let out = run(home, args);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    text(&out)
}

#[test]
fn agents_and_bindings_are_written_and_routing_explains_itself() {
    let home = tempfile::tempdir().unwrap();
    let _gateway = start(home.path());
    let h = home.path();

    let listed = ok(h, &["agents", "list"]);
    assert!(
        listed.contains("main") && listed.contains("[default]"),
        "{listed}"
    );

    ok(
        h,
        &["agents", "add", "ops", "--name", "Ops", "--emoji", "🛠"],
    );
    let config = std::fs::read_to_string(h.join("hearth.json")).unwrap();
    assert!(
        config.contains(r#""id": "ops""#) && config.contains(r#""id": "main""#),
        "{config}"
    );

    let refused = run(h, &["agents", "bind", "opz", "--channel", "telegram"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("unknown agent `opz`"),
        "{}",
        text(&refused)
    );
    ok(
        h,
        &[
            "agents",
            "bind",
            "ops",
            "--channel",
            "telegram",
            "--peer",
            "direct:42",
        ],
    );
    ok(
        h,
        &[
            "agents",
            "bind",
            "ops",
            "--channel",
            "discord",
            "--guild",
            "9",
            "--role",
            "1",
            "--name",
            "mods",
        ],
    );
    let bindings = ok(h, &["agents", "bindings"]);
    assert!(
        bindings.contains("telegram-peer-42") && bindings.contains("(peer)"),
        "{bindings}"
    );
    assert!(
        bindings.contains("mods") && bindings.contains("(guildRoles)"),
        "{bindings}"
    );

    let explained = ok(
        h,
        &["route", "explain", "--channel", "telegram", "--peer", "42"],
    );
    assert!(
        explained.contains("Agent `ops`, by binding 0 `telegram-peer-42` (matched by peer)"),
        "{explained}"
    );
    assert!(
        explained.contains("Session: agent:ops:direct:telegram:42"),
        "{explained}"
    );
    assert!(
        explained.contains("channel is telegram, not discord"),
        "{explained}"
    );
    let json = ok(
        h,
        &[
            "route",
            "explain",
            "--channel",
            "telegram",
            "--peer",
            "7",
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["agentId"], "main");
    assert_eq!(v["matchedBy"], "default");
    assert_eq!(v["memoryDir"], "people/telegram_7");

    let busy = run(h, &["agents", "remove", "ops"]);
    assert!(!busy.status.success());
    assert!(
        text(&busy).contains("bindings route to `ops`"),
        "{}",
        text(&busy)
    );
    ok(h, &["agents", "unbind", "mods"]);
    ok(h, &["agents", "remove", "ops", "--force"]);
    let config = std::fs::read_to_string(h.join("hearth.json")).unwrap();
    assert!(
        !config.contains("ops") && !config.contains("bindings"),
        "{config}"
    );
    let only = run(h, &["agents", "remove", "main"]);
    assert!(text(&only).contains("the only agent"), "{}", text(&only));
}

#[test]
fn identities_that_never_wrote_cannot_be_linked() {
    let home = tempfile::tempdir().unwrap();
    let _gateway = start(home.path());
    let h = home.path();
    let listed = ok(h, &["identity", "list"]);
    assert!(
        listed.contains("Owner: webchat:owner") && listed.contains("No identities are linked"),
        "{listed}"
    );
    let out = run(h, &["identity", "link", "ann", "telegram:5", "discord:6"]);
    assert!(!out.status.success());
    assert!(
        text(&out)
            .contains("`telegram:5` never wrote to Hearth; ask them to message the bot first"),
        "{}",
        text(&out)
    );
    let bad = run(h, &["identity", "link", "ann", "irc:5", "discord:6"]);
    assert!(
        text(&bad).contains("`irc` in `irc:5` is not a channel"),
        "{}",
        text(&bad)
    );
    let unlinked = run(h, &["identity", "unlink", "telegram:5"]);
    assert!(
        text(&unlinked).contains("`telegram:5` is not linked"),
        "{}",
        text(&unlinked)
    );
    let confirm = run(h, &["identity", "confirm", "nope", "123456"]);
    assert!(
        text(&confirm).contains("no pending link `nope`"),
        "{}",
        text(&confirm)
    );
}
