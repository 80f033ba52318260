//! The channel conformance suite: each platform's adapter, driven through the whole gateway
//! against that platform's fake (real HTTP/WebSocket servers from `hearth-test-utils`), must
//! pass the same checks: pairing, allowlist refusal without a model call, group mention gating,
//! long answers split, edit-in-place streaming, media in, reconnect without loss or duplicates,
//! and 429s honoured.
//!
//! A platform joins by implementing [`Platform`] for its fake and adding one line per check in
//! the `conformance!` invocation at the end.

use std::time::Duration;

use hearth_protocol::methods::{ChannelState, Empty, PairingCodeParams, spec};
use hearth_test_utils::{FakeDiscord, FakeSlack, FakeTelegram, Outbox, Reply, SentMessage};

use crate::harness::TestGateway;

/// What the suite needs from a platform's fake.
pub(crate) trait Platform: Send + Sync + Sized + 'static {
    const CHANNEL: &'static str;
    /// The platform's longest message.
    const MAX_TEXT: usize;
    /// User `n`'s id as the platform writes it.
    fn user_id(n: u32) -> String;
    async fn start() -> Self;
    /// The channel's config section (credentials and API root of the fake), without policies.
    fn section(&self) -> String;
    /// A direct message from `user`; answers the chat id replies go to.
    fn dm(&self, user: u32, name: &str, text: &str) -> String;
    /// A message in group `group` from `user`; answers the chat id.
    fn group(&self, group: u32, user: u32, name: &str, text: &str, mention: bool) -> String;
    /// A direct message with a PNG attached.
    fn photo_dm(&self, user: u32, name: &str, png: &[u8], caption: &str) -> String;
    /// The group id as the config names it (for `groups`).
    fn group_id(&self, group: u32) -> String;
    /// What the bot sent.
    fn outbox(&self) -> &Outbox;
    fn sent(&self, chat: &str) -> Vec<SentMessage> {
        self.outbox().in_chat(chat)
    }
    async fn wait_sent(&self, chat: &str, n: usize, timeout: Duration) -> Vec<SentMessage> {
        self.outbox().wait_for(chat, n, timeout).await
    }
    fn rate_limit_next(&self, n: usize, secs: u64);
    fn drop_connections(&self);
}

impl Platform for FakeTelegram {
    const CHANNEL: &'static str = "telegram";
    const MAX_TEXT: usize = 4096;
    fn user_id(n: u32) -> String {
        n.to_string()
    }
    async fn start() -> Self {
        FakeTelegram::start().await
    }
    fn section(&self) -> String {
        format!(r#"botToken: "{}", apiRoot: "{}""#, self.token(), self.url())
    }
    fn dm(&self, user: u32, name: &str, text: &str) -> String {
        FakeTelegram::dm(self, i64::from(user), name, text);
        user.to_string()
    }
    fn group(&self, group: u32, user: u32, name: &str, text: &str, mention: bool) -> String {
        let chat = self.group_id(group);
        self.group_message(chat.parse().unwrap(), i64::from(user), name, text, mention);
        chat
    }
    fn photo_dm(&self, user: u32, name: &str, png: &[u8], caption: &str) -> String {
        FakeTelegram::photo_dm(self, i64::from(user), name, png, caption);
        user.to_string()
    }
    fn group_id(&self, group: u32) -> String {
        format!("-100{group}")
    }
    fn outbox(&self) -> &Outbox {
        FakeTelegram::outbox(self)
    }
    fn rate_limit_next(&self, n: usize, secs: u64) {
        FakeTelegram::rate_limit_next(self, n, secs);
    }
    fn drop_connections(&self) {
        FakeTelegram::drop_connections(self);
    }
}

impl Platform for FakeSlack {
    const CHANNEL: &'static str = "slack";
    const MAX_TEXT: usize = 4000;
    fn user_id(n: u32) -> String {
        format!("U{n}")
    }
    async fn start() -> Self {
        FakeSlack::start().await
    }
    fn section(&self) -> String {
        format!(
            r#"botToken: "{}", appToken: "{}", apiRoot: "{}""#,
            self.token(),
            self.app_token(),
            self.url()
        )
    }
    fn dm(&self, user: u32, name: &str, text: &str) -> String {
        let id = Self::user_id(user);
        FakeSlack::dm(self, &id, name, text);
        self.dm_channel(&id)
    }
    fn group(&self, group: u32, user: u32, name: &str, text: &str, mention: bool) -> String {
        let chat = self.group_id(group);
        self.group_message(&chat, &Self::user_id(user), name, text, mention);
        chat
    }
    fn photo_dm(&self, user: u32, name: &str, png: &[u8], caption: &str) -> String {
        let id = Self::user_id(user);
        FakeSlack::photo_dm(self, &id, name, png, caption);
        self.dm_channel(&id)
    }
    fn group_id(&self, group: u32) -> String {
        format!("C{group}")
    }
    fn outbox(&self) -> &Outbox {
        FakeSlack::outbox(self)
    }
    fn rate_limit_next(&self, n: usize, secs: u64) {
        FakeSlack::rate_limit_next(self, n, secs);
    }
    fn drop_connections(&self) {
        FakeSlack::drop_connections(self);
    }
}

impl Platform for FakeDiscord {
    const CHANNEL: &'static str = "discord";
    const MAX_TEXT: usize = 2000;
    fn user_id(n: u32) -> String {
        format!("10{n}")
    }
    async fn start() -> Self {
        FakeDiscord::start().await
    }
    fn section(&self) -> String {
        format!(r#"token: "{}", apiRoot: "{}""#, self.token(), self.url())
    }
    fn dm(&self, user: u32, name: &str, text: &str) -> String {
        let id = Self::user_id(user);
        FakeDiscord::dm(self, &id, name, text);
        self.dm_channel(&id)
    }
    fn group(&self, group: u32, user: u32, name: &str, text: &str, mention: bool) -> String {
        let chat = self.group_id(group);
        self.group_message(&chat, &Self::user_id(user), name, text, mention);
        chat
    }
    fn photo_dm(&self, user: u32, name: &str, png: &[u8], caption: &str) -> String {
        let id = Self::user_id(user);
        FakeDiscord::photo_dm(self, &id, name, png, caption);
        self.dm_channel(&id)
    }
    fn group_id(&self, group: u32) -> String {
        format!("90{group}")
    }
    fn outbox(&self) -> &Outbox {
        FakeDiscord::outbox(self)
    }
    fn rate_limit_next(&self, n: usize, secs: u64) {
        FakeDiscord::rate_limit_next(self, n, u32::try_from(secs).unwrap());
    }
    fn drop_connections(&self) {
        FakeDiscord::drop_connections(self);
    }
}

const WAIT: Duration = Duration::from_secs(15);

struct Rig<P: Platform> {
    t: TestGateway,
    p: P,
}

async fn rig<P: Platform>(policy: &str) -> Rig<P> {
    let p = P::start().await;
    let extra = format!(
        "channels: {{ {}: {{ {}, {policy} }} }}",
        P::CHANNEL,
        p.section()
    );
    let t = TestGateway::start_with(&extra).await;
    let rig = Rig { t, p };
    rig.wait_connected().await;
    rig
}

impl<P: Platform> Rig<P> {
    async fn wait_connected(&self) {
        let client = self.t.client().await;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let status = client.call::<spec::ChannelsStatus>(Empty {}).await.unwrap();
            let account = status
                .channels
                .iter()
                .find(|c| c.channel == P::CHANNEL)
                .expect("account listed");
            if account.state == ChannelState::Connected {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} never connected: {account:?}",
                P::CHANNEL
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn counts(&self) -> hearth_protocol::methods::ChannelCounts {
        let client = self.t.client().await;
        let status = client.call::<spec::ChannelsStatus>(Empty {}).await.unwrap();
        status
            .channels
            .into_iter()
            .find(|c| c.channel == P::CHANNEL)
            .unwrap()
            .counts
    }

    /// Waits until the last message in `chat` reads `text` (after edits), finished: a streamed
    /// preview ends with `…` until the final edit.
    async fn wait_text(&self, chat: &str, text: &str) -> Vec<SentMessage> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let sent = self.p.sent(chat);
            if sent
                .last()
                .is_some_and(|m| m.text.contains(text) && !m.text.ends_with('…'))
            {
                return sent;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no message `{text}` in {chat}: {sent:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

const OPEN: &str = r#"dmPolicy: "open", allowFrom: ["*"]"#;

pub(crate) async fn pairing_then_answer<P: Platform>() {
    let r = rig::<P>("").await;
    let chat = r.p.dm(4242, "Ann", "hello?");
    let sent = r.p.wait_sent(&chat, 1, WAIT).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].text.contains("pairing code"), "{}", sent[0].text);
    assert_eq!(r.t.fake.request_count(), 0, "a stranger cost a model call");
    let client = r.t.client().await;
    let list = client.call::<spec::PairingList>(Empty {}).await.unwrap();
    assert_eq!(list.requests.len(), 1);
    let request = &list.requests[0];
    assert_eq!(request.sender_id, P::user_id(4242));
    assert!(sent[0].text.contains(&request.code));
    // A second message from the stranger gets nothing more.
    r.p.dm(4242, "Ann", "hello again?");
    let deadline = tokio::time::Instant::now() + WAIT;
    while r.counts().await.received < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "second message never arrived"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let approved = client
        .call::<spec::PairingApprove>(PairingCodeParams {
            code: request.code.to_lowercase(),
        })
        .await
        .unwrap();
    assert_eq!(approved.decision, "approved");
    r.wait_text(&chat, "approved").await;
    r.t.fake.push(Reply::text("Nice to meet you, Ann."));
    r.p.dm(4242, "Ann", "hi, it's Ann");
    let sent = r.wait_text(&chat, "Nice to meet you, Ann.").await;
    assert_eq!(sent.len(), 3, "code, approval, answer: {sent:?}");
    assert_eq!(r.t.fake.request_count(), 1);
    let body = r.t.fake.requests()[0].body.to_string();
    assert!(
        body.contains("hi, it's Ann") && !body.contains("hello again?"),
        "{body}"
    );
}

pub(crate) async fn allowlist_refuses_without_a_model_call<P: Platform>() {
    let r = rig::<P>(&format!(
        r#"dmPolicy: "allowlist", allowFrom: ["{}"]"#,
        P::user_id(7)
    ))
    .await;
    let chat = r.p.dm(4242, "Mallory", "let me in");
    r.t.fake.push(Reply::text("Hello, friend."));
    let friend = r.p.dm(7, "Friend", "hi");
    r.wait_text(&friend, "Hello, friend.").await;
    assert!(r.p.sent(&chat).is_empty(), "{:?}", r.p.sent(&chat));
    assert_eq!(r.t.fake.request_count(), 1);
    let counts = r.counts().await;
    assert_eq!((counts.denied, counts.allowed), (1, 1), "{counts:?}");
}

pub(crate) async fn groups_answer_only_when_mentioned<P: Platform>() {
    let p0 = P::start().await;
    let gid = p0.group_id(77);
    drop(p0);
    let r = rig::<P>(&format!(
        r#"{OPEN}, groups: {{ "{gid}": {{ requireMention: true }} }}"#
    ))
    .await;
    let chat = r.p.group(77, 5, "Bob", "talking among ourselves", false);
    r.t.fake.push(Reply::text("You called?"));
    let other = r.p.group(88, 5, "Bob", "not a listed group", true);
    r.p.group(77, 5, "Bob", "what is the time?", true);
    let sent = r.wait_text(&chat, "You called?").await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(r.p.sent(&other).is_empty());
    assert_eq!(r.t.fake.request_count(), 1);
    let body = r.t.fake.requests()[0].body.to_string();
    assert!(
        body.contains("what is the time?") && body.contains("Bob"),
        "{body}"
    );
    let counts = r.counts().await;
    assert_eq!((counts.ignored, counts.denied), (1, 1), "{counts:?}");
}

pub(crate) async fn long_answers_are_split<P: Platform>() {
    let r = rig::<P>(OPEN).await;
    let paragraph = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(20);
    let answer: Vec<String> = (0..12).map(|i| format!("Part {i}. {paragraph}")).collect();
    let answer = answer.join("\n\n");
    r.t.fake.push(Reply::text(answer.clone()));
    let chat = r.p.dm(1, "Ann", "tell me a lot");
    let sent = r.wait_text(&chat, "Part 11.").await;
    assert!(sent.len() >= 2, "{} messages", sent.len());
    for (i, m) in sent.iter().enumerate() {
        assert!(
            m.text.chars().count() <= P::MAX_TEXT,
            "message {i} is {} chars",
            m.text.chars().count()
        );
    }
    let all: String = sent
        .iter()
        .map(|m| m.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    for i in 0..12 {
        assert!(all.contains(&format!("Part {i}.")), "part {i} lost");
    }
}

pub(crate) async fn answers_stream_by_editing_in_place<P: Platform>() {
    let r = rig::<P>(OPEN).await;
    let answer = "One two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen.";
    r.t.fake
        .push(Reply::paced(answer, 6, Duration::from_millis(150)));
    let chat = r.p.dm(1, "Ann", "count slowly");
    let sent = r.wait_text(&chat, "sixteen.").await;
    assert_eq!(sent.len(), 1, "one message, edited: {sent:?}");
    assert!(
        sent[0].versions.len() >= 2,
        "never edited: {:?}",
        sent[0].versions
    );
    assert!(!sent[0].text.contains('…'), "{}", sent[0].text);
}

pub(crate) async fn images_reach_the_model<P: Platform>() {
    let r = rig::<P>(OPEN).await;
    r.t.fake.push(Reply::text("A tiny picture."));
    let png = tiny_png();
    let chat = r.p.photo_dm(1, "Ann", &png, "what is this?");
    r.wait_text(&chat, "A tiny picture.").await;
    let body = r.t.fake.requests()[0].body.to_string();
    assert!(
        body.contains("image_url") && body.contains("what is this?"),
        "{body}"
    );
}

pub(crate) async fn a_dropped_connection_loses_and_doubles_nothing<P: Platform>() {
    let r = rig::<P>(OPEN).await;
    r.t.fake.push(Reply::text("first answer"));
    let chat = r.p.dm(1, "Ann", "first");
    r.wait_text(&chat, "first answer").await;
    r.p.drop_connections();
    r.t.fake.push(Reply::text("second answer"));
    r.p.dm(1, "Ann", "second");
    r.wait_text(&chat, "second answer").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = r.p.sent(&chat);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(r.t.fake.request_count(), 2);
}

pub(crate) async fn rate_limits_are_honoured<P: Platform>() {
    let r = rig::<P>(OPEN).await;
    r.t.fake.push(Reply::text("worth the wait"));
    r.p.rate_limit_next(1, 1);
    let started = tokio::time::Instant::now();
    let chat = r.p.dm(1, "Ann", "hi");
    r.wait_text(&chat, "worth the wait").await;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "retry_after ignored"
    );
    // The platform has the message a moment before the queue row is marked sent.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let counts = r.counts().await;
        let seen = (counts.sent, counts.send_failures, counts.outbound_pending);
        if seen == (1, 1, 0) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{counts:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) async fn slash_commands_are_answered_by_the_gateway<P: Platform>() {
    let r = rig::<P>(OPEN).await;
    r.t.fake.push(Reply::text("Remembered."));
    let chat = r.p.dm(1, "Ann", "remember this");
    r.wait_text(&chat, "Remembered.").await;
    r.p.dm(1, "Ann", "/status");
    r.wait_text(&chat, "Model: fake/fake-model").await;
    r.p.dm(1, "Ann", "/reset");
    r.wait_text(&chat, "Started a new session").await;
    assert_eq!(r.t.fake.request_count(), 1, "commands cost no model call");
}

/// A 1×1 PNG.
fn tiny_png() -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
        .unwrap()
}

macro_rules! conformance {
    ($($platform:ident: $ty:ty),* $(,)?) => {
        $(
            mod $platform {
                use super::*;
                #[tokio::test]
                async fn pairing_then_answer() { super::pairing_then_answer::<$ty>().await }
                #[tokio::test]
                async fn allowlist_refuses_without_a_model_call() { super::allowlist_refuses_without_a_model_call::<$ty>().await }
                #[tokio::test]
                async fn groups_answer_only_when_mentioned() { super::groups_answer_only_when_mentioned::<$ty>().await }
                #[tokio::test]
                async fn long_answers_are_split() { super::long_answers_are_split::<$ty>().await }
                #[tokio::test]
                async fn answers_stream_by_editing_in_place() { super::answers_stream_by_editing_in_place::<$ty>().await }
                #[tokio::test]
                async fn images_reach_the_model() { super::images_reach_the_model::<$ty>().await }
                #[tokio::test]
                async fn a_dropped_connection_loses_and_doubles_nothing() { super::a_dropped_connection_loses_and_doubles_nothing::<$ty>().await }
                #[tokio::test]
                async fn slash_commands_are_answered_by_the_gateway() { super::slash_commands_are_answered_by_the_gateway::<$ty>().await }
                #[tokio::test]
                async fn rate_limits_are_honoured() { super::rate_limits_are_honoured::<$ty>().await }
            }
        )*
    };
}

conformance! {
    telegram: FakeTelegram,
    discord: FakeDiscord,
    slack: FakeSlack,
}

/// Two accounts of one channel run, fail and are removed each on its own.
#[tokio::test]
async fn accounts_of_one_channel_are_independent() {
    use hearth_protocol::methods::ChannelsRemoveParams;
    let home = FakeTelegram::start().await;
    let work = FakeTelegram::start().await;
    let t = TestGateway::start_with(&format!(
        r#"channels: {{ telegram: {{ dmPolicy: "open", allowFrom: ["*"], accounts: {{
            home: {{ botToken: "{}", apiRoot: "{}" }},
            work: {{ botToken: "123:not-the-token", apiRoot: "{}" }} }} }} }}"#,
        home.token(),
        home.url(),
        work.url()
    ))
    .await;
    let client = t.client().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    let status = loop {
        let status = client.call::<spec::ChannelsStatus>(Empty {}).await.unwrap();
        let state = |account: &str| {
            status
                .channels
                .iter()
                .find(|c| c.channel == "telegram" && c.account == account)
                .map(|c| c.state)
        };
        if state("home") == Some(ChannelState::Connected)
            && state("work") == Some(ChannelState::Failed)
        {
            break status;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let failed = status
        .channels
        .iter()
        .find(|c| c.account == "work")
        .unwrap();
    let error = failed.last_error.clone().unwrap_or_default();
    assert!(error.contains("refused the credentials"), "{error}");
    assert!(
        !error.contains("not-the-token"),
        "the token leaked: {error}"
    );

    t.fake.push(Reply::text("home answers"));
    home.dm(1, "Ann", "hi");
    home.outbox().wait_for("1", 1, WAIT).await;
    assert_eq!(home.outbox().in_chat("1")[0].text, "home answers");

    client
        .call::<spec::ChannelsRemove>(ChannelsRemoveParams {
            channel: "telegram".into(),
            account: Some("work".into()),
            base_hash: None,
        })
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = client.call::<spec::ChannelsStatus>(Empty {}).await.unwrap();
        let accounts: Vec<_> = status
            .channels
            .iter()
            .filter(|c| c.channel == "telegram")
            .map(|c| (c.account.as_str(), c.state))
            .collect();
        if accounts == [("home", ChannelState::Connected)] {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{accounts:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
