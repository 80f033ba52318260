//! Routing through the whole gateway: bindings pick the agent for a chat, and identity links
//! make one person of accounts on two channels, verified with codes that travel through the
//! platforms' fakes.

use std::time::Duration;

use hearth_protocol::events::Event;
use hearth_protocol::methods::{
    AgentsAddParams, BindingsAddParams, ChannelState, ChatKind, Empty, IdentityLinkConfirmParams,
    IdentityLinkStartParams, MatchedBy, PeerRef, RouteExplainParams, RouteMatch,
    SessionsListParams, spec,
};
use hearth_test_utils::{FakeDiscord, FakeTelegram, Reply, SentMessage};

use crate::harness::{TestGateway, next_event};

const WAIT: Duration = Duration::from_secs(15);
const OPEN: &str = r#"dmPolicy: "open", allowFrom: ["*"], streaming: false"#;

fn telegram_section(t: &FakeTelegram) -> String {
    format!(
        r#"telegram: {{ botToken: "{}", apiRoot: "{}", {OPEN} }}"#,
        t.token(),
        t.url()
    )
}

fn discord_section(d: &FakeDiscord) -> String {
    format!(
        r#"discord: {{ token: "{}", apiRoot: "{}", {OPEN} }}"#,
        d.token(),
        d.url()
    )
}

/// Waits until every account of `channels` is connected.
async fn wait_connected(t: &TestGateway, channels: &[&str]) {
    let client = t.client().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = client.call::<spec::ChannelsStatus>(Empty {}).await.unwrap();
        let connected = channels.iter().all(|ch| {
            status
                .channels
                .iter()
                .any(|c| c.channel == *ch && c.state == ChannelState::Connected)
        });
        if connected {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until a finished message in `chat` contains `text`; answers the chat's messages.
async fn wait_text(outbox: &hearth_test_utils::Outbox, chat: &str, text: &str) -> Vec<SentMessage> {
    let sent = outbox
        .wait_until(WAIT, |all| {
            all.iter()
                .any(|m| m.chat_id == chat && m.text.contains(text))
        })
        .await;
    let in_chat: Vec<SentMessage> = sent.into_iter().filter(|m| m.chat_id == chat).collect();
    assert!(
        in_chat.iter().any(|m| m.text.contains(text)),
        "no `{text}` in {chat}: {in_chat:?}"
    );
    in_chat
}

/// The first run of exactly six digits in `text`: a link code.
fn code_in(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if i - start == 6 {
                return Some(chars[start..i].iter().collect());
            }
        } else {
            i += 1;
        }
    }
    None
}

#[tokio::test]
async fn a_binding_sends_one_telegram_chat_to_its_agent_and_the_rest_to_the_default() {
    let telegram = FakeTelegram::start().await;
    let t =
        TestGateway::start_with(&format!("channels: {{ {} }}", telegram_section(&telegram))).await;
    wait_connected(&t, &["telegram"]).await;
    let client = t.client().await;
    client
        .call::<spec::AgentsAdd>(AgentsAddParams {
            id: "ops".into(),
            name: Some("Ops".into()),
            ..AgentsAddParams::default()
        })
        .await
        .unwrap();
    let refused = client
        .call::<spec::BindingsAdd>(BindingsAddParams {
            agent_id: "opz".into(),
            matches: RouteMatch {
                channel: "telegram".into(),
                ..RouteMatch::default()
            },
            name: None,
            shared_memory: false,
        })
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("unknown agent `opz` (did you mean `ops`?)"),
        "{refused}"
    );
    client
        .call::<spec::BindingsAdd>(BindingsAddParams {
            agent_id: "ops".into(),
            matches: RouteMatch {
                channel: "telegram".into(),
                peer: Some(PeerRef {
                    kind: ChatKind::Direct,
                    id: "7".into(),
                }),
                ..RouteMatch::default()
            },
            name: None,
            shared_memory: false,
        })
        .await
        .unwrap();
    let agents = client.call::<spec::AgentsList>(Empty {}).await.unwrap();
    let summary: Vec<(&str, bool, u32)> = agents
        .agents
        .iter()
        .map(|a| (a.id.as_str(), a.default, a.bindings))
        .collect();
    assert_eq!(summary, [("main", true, 0), ("ops", false, 1)]);
    t.fake.push(Reply::text("ops answers"));
    telegram.dm(7, "Olga", "is the server up?");
    wait_text(telegram.outbox(), "7", "ops answers").await;
    t.fake.push(Reply::text("main answers"));
    telegram.dm(8, "Max", "hello");
    wait_text(telegram.outbox(), "8", "main answers").await;

    let sessions = client
        .call::<spec::SessionsList>(SessionsListParams::default())
        .await
        .unwrap();
    let mut keys: Vec<(String, Option<String>)> = sessions
        .sessions
        .iter()
        .map(|s| (s.key.clone(), s.sender.clone()))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            (
                "agent:main:direct:telegram:8".to_owned(),
                Some("telegram:8".to_owned())
            ),
            (
                "agent:ops:direct:telegram:7".to_owned(),
                Some("telegram:7".to_owned())
            ),
        ]
    );
    let explained = client
        .call::<spec::RouteExplain>(RouteExplainParams {
            channel: "telegram".into(),
            peer_id: Some("7".into()),
            ..RouteExplainParams::default()
        })
        .await
        .unwrap();
    assert_eq!(explained.agent_id, "ops");
    assert_eq!(explained.matched_by, MatchedBy::Peer);
    assert_eq!(
        explained.binding.map(|b| b.name).as_deref(),
        Some("telegram-peer-7")
    );
    assert_eq!(explained.memory_dir.as_deref(), Some("people/telegram_7"));
    let group = client
        .call::<spec::RouteExplain>(RouteExplainParams {
            channel: "telegram".into(),
            peer_kind: Some(ChatKind::Group),
            peer_id: Some("-1007".into()),
            sender_id: Some("7".into()),
            ..RouteExplainParams::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (group.agent_id.as_str(), group.matched_by),
        ("main", MatchedBy::Default)
    );
    assert!(!group.candidates[0].matched, "{:?}", group.candidates);
}

#[tokio::test]
async fn one_person_on_telegram_and_discord_keeps_one_conversation_once_linked() {
    let telegram = FakeTelegram::start().await;
    let discord = FakeDiscord::start().await;
    let t = TestGateway::start_with(&format!(
        "channels: {{ {}, {} }}",
        telegram_section(&telegram),
        discord_section(&discord)
    ))
    .await;
    wait_connected(&t, &["telegram", "discord"]).await;
    let client = t.client().await;
    let mut events = client.events();

    // Ann has written to the bot on Discord (a command: no model call) and talks on Telegram.
    discord.dm("105", "Ann", "/status");
    let discord_chat = discord.dm_channel("105");
    wait_text(discord.outbox(), &discord_chat, "Model:").await;
    t.fake.push(Reply::text("Noted."));
    telegram.dm(5, "Ann", "my favourite colour is teal");
    wait_text(telegram.outbox(), "5", "Noted.").await;
    assert_eq!(t.fake.request_count(), 1);

    let started = client
        .call::<spec::IdentityLinkStart>(IdentityLinkStartParams {
            name: "ann".into(),
            identities: vec!["telegram:5".into(), "discord:105".into()],
        })
        .await
        .unwrap();
    assert!(
        started.delivered.iter().all(|d| d.ok) && started.delivered.len() == 2,
        "{:?}",
        started.delivered
    );
    let telegram_code = wait_text(telegram.outbox(), "5", "/link")
        .await
        .iter()
        .find_map(|m| code_in(&m.text))
        .expect("a code in Telegram");
    let discord_code = wait_text(discord.outbox(), &discord_chat, "/link")
        .await
        .iter()
        .find_map(|m| code_in(&m.text))
        .expect("a code in Discord");
    let write = client
        .call::<spec::IdentityLinkConfirm>(IdentityLinkConfirmParams {
            link_id: started.link_id.clone(),
            codes: vec![discord_code, telegram_code],
        })
        .await
        .unwrap();
    assert!(!write.hash.is_empty());
    let changed = next_event(&mut events, |e| match e {
        Event::IdentityChanged(c) => Some(c),
        _ => None,
    })
    .await;
    assert_eq!(changed.name, "ann");
    let list = client.call::<spec::IdentityList>(Empty {}).await.unwrap();
    assert_eq!(
        list.links.get("ann").cloned(),
        Some(vec!["telegram:5".to_owned(), "discord:105".to_owned()])
    );
    assert!(list.pending.is_empty());
    let on_disk = std::fs::read_to_string(t.home.path().join("hearth.json")).unwrap();
    assert!(on_disk.contains("discord:105"), "{on_disk}");
    assert!(t.home.path().join("hearth.json.bak").exists());

    // Ann goes on in Discord: the same conversation, so the model sees the Telegram turn.
    t.fake.push(Reply::text("Teal."));
    discord.dm("105", "Ann", "what is my favourite colour?");
    wait_text(discord.outbox(), &discord_chat, "Teal.").await;
    assert_eq!(t.fake.request_count(), 2);
    let body = t.fake.requests()[1].body.to_string();
    assert!(
        body.contains("my favourite colour is teal")
            && body.contains("what is my favourite colour?"),
        "{body}"
    );
    let sessions = client
        .call::<spec::SessionsList>(SessionsListParams::default())
        .await
        .unwrap();
    let linked = sessions
        .sessions
        .iter()
        .find(|s| s.key == "agent:main:direct:ann")
        .expect("the person's session");
    // It continues the Telegram conversation: forked from it, with both turns.
    assert!(linked.parent_id.is_some(), "{linked:?}");
    assert_eq!(linked.message_count, 4, "{linked:?}");
}

#[tokio::test]
async fn wrong_codes_write_nothing_and_a_stranger_cannot_join_the_owner() {
    let telegram = FakeTelegram::start().await;
    let discord = FakeDiscord::start().await;
    let t = TestGateway::start_with(&format!(
        r#"channels: {{ {}, {} }},
           session: {{ identityLinks: {{ me: ["webchat:owner", "telegram:1"] }} }}"#,
        telegram_section(&telegram),
        discord_section(&discord)
    ))
    .await;
    wait_connected(&t, &["telegram", "discord"]).await;
    let client = t.client().await;
    let config_before = std::fs::read_to_string(t.home.path().join("hearth.json")).unwrap();

    telegram.dm(1, "Owner", "/status");
    wait_text(telegram.outbox(), "1", "Model:").await;
    discord.dm("166", "Mallory", "/link telegram:1");
    let stranger = discord.dm_channel("166");
    wait_text(discord.outbox(), &stranger, "I sent a code to telegram:1").await;
    // The code went to the owner's Telegram, never to the stranger.
    let code = wait_text(telegram.outbox(), "1", "/link")
        .await
        .iter()
        .find_map(|m| code_in(&m.text))
        .expect("the owner got a code");
    assert!(
        discord
            .outbox()
            .in_chat(&stranger)
            .iter()
            .all(|m| code_in(&m.text).is_none() && !m.text.contains(&code)),
        "{:?}",
        discord.outbox().in_chat(&stranger)
    );

    let wrong = if code == "000000" { "000001" } else { "000000" };
    discord.dm("166", "Mallory", &format!("/link {wrong}"));
    wait_text(discord.outbox(), &stranger, "not right").await;
    let pending = client.call::<spec::IdentityList>(Empty {}).await.unwrap();
    assert_eq!(pending.owner, "me");
    assert_eq!(pending.pending.len(), 1, "{pending:?}");
    let err = client
        .call::<spec::IdentityLinkConfirm>(IdentityLinkConfirmParams {
            link_id: pending.pending[0].link_id.clone(),
            codes: vec![wrong.to_owned()],
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("wrong"), "{err}");

    let after = client.call::<spec::IdentityList>(Empty {}).await.unwrap();
    assert_eq!(
        after.links.get("me").cloned(),
        Some(vec!["webchat:owner".to_owned(), "telegram:1".to_owned()])
    );
    assert_eq!(
        std::fs::read_to_string(t.home.path().join("hearth.json")).unwrap(),
        config_before,
        "nothing was written"
    );
    assert_eq!(t.fake.request_count(), 0, "no model call for any of it");
}

/// The promise "a family member's chat never leaks into yours": what the agent writes to
/// `MEMORY.md` in another person's chat goes to that person's memory, never reaches the
/// owner's prompt, and the owner's memory never reaches theirs.
#[tokio::test]
async fn another_persons_memory_stays_out_of_the_owners_chat_and_back() {
    let telegram = FakeTelegram::start().await;
    let t = TestGateway::start_with(&format!(
        r#"tools: {{ profile: "coding" }}, channels: {{ {} }}"#,
        telegram_section(&telegram)
    ))
    .await;
    wait_connected(&t, &["telegram"]).await;
    let workspace = t.home.path().join("workspace");
    std::fs::write(workspace.join("MEMORY.md"), "Owner's PIN hint: violet.\n").unwrap();

    t.fake
        .push(Reply::tool_calls([hearth_test_utils::FakeToolCall::new(
            "w1",
            "write",
            serde_json::json!({"path": "MEMORY.md", "content": "Kid loves dinosaurs.\n"})
                .to_string(),
        )]));
    t.fake.push(Reply::text("noted"));
    telegram.dm(31, "Kid", "remember that I love dinosaurs");
    wait_text(telegram.outbox(), "31", "noted").await;
    let theirs = workspace.join("people/telegram_31/MEMORY.md");
    assert_eq!(
        std::fs::read_to_string(&theirs).unwrap(),
        "Kid loves dinosaurs.\n"
    );
    assert_eq!(
        std::fs::read_to_string(workspace.join("MEMORY.md")).unwrap(),
        "Owner's PIN hint: violet.\n",
        "the owner's memory is untouched"
    );
    let kid_prompt = t.fake.requests()[0].body.to_string();
    assert!(!kid_prompt.contains("violet"), "{kid_prompt}");

    t.fake.push(Reply::text("hi owner"));
    let client = t.client().await;
    crate::harness::chat_final(
        &client,
        hearth_protocol::methods::ChatSendParams {
            message: "what do you know?".into(),
            ..Default::default()
        },
    )
    .await;
    let owner_prompt = t.fake.last_request().unwrap().body.to_string();
    assert!(owner_prompt.contains("violet"), "{owner_prompt}");
    assert!(!owner_prompt.contains("dinosaurs"), "{owner_prompt}");

    // Next time the kid writes, their own memory is in their prompt.
    t.fake.push(Reply::text("dinos!"));
    telegram.dm(31, "Kid", "what do I like?");
    wait_text(telegram.outbox(), "31", "dinos!").await;
    let kid_again = t.fake.last_request().unwrap().body.to_string();
    assert!(kid_again.contains("Kid loves dinosaurs."), "{kid_again}");
    assert!(!kid_again.contains("violet"), "{kid_again}");
}

/// A `webchat` binding gives the Control UI's chat its agent, like any channel's.
#[tokio::test]
async fn a_webchat_binding_picks_the_control_uis_agent() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    client
        .call::<spec::AgentsAdd>(AgentsAddParams {
            id: "desk".into(),
            ..AgentsAddParams::default()
        })
        .await
        .unwrap();
    client
        .call::<spec::BindingsAdd>(BindingsAddParams {
            agent_id: "desk".into(),
            matches: RouteMatch {
                channel: "webchat".into(),
                ..RouteMatch::default()
            },
            name: None,
            shared_memory: false,
        })
        .await
        .unwrap();
    t.fake.push(Reply::text("desk here"));
    let reply = crate::harness::chat_final(
        &client,
        hearth_protocol::methods::ChatSendParams {
            message: "who answers?".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(reply.plain_text(), "desk here");
    let sessions = client
        .call::<spec::SessionsList>(SessionsListParams::default())
        .await
        .unwrap();
    let keys: Vec<&str> = sessions.sessions.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["agent:desk:main"]);
}
