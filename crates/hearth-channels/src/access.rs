//! Who may talk to the assistant: the decision made for every inbound message before anything
//! else happens to it (before it is stored as conversation, before any model call).
//!
//! Direct messages follow the account's `dmPolicy`; group messages its `groupPolicy`, the
//! `groups` entries (or `"*"`) and their `requireMention`. Pure: the caller says whether the
//! sender was approved earlier (pairing) and whether the message mentions the bot (a real
//! mention, a reply to the bot, or one of the account's mention patterns).

use hearth_config::{ChannelAccount, DmPolicy, GroupPolicy};

use crate::{Inbound, PeerKind};

/// What happens to one inbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Goes on to routing and the agent.
    Allow,
    /// An unknown sender in a direct chat under `pairing`: they get a pairing code, nothing else.
    Pair,
    /// Not allowed: nothing is stored and no model is called; counted in the channel's status.
    Deny(Reason),
    /// A group message not meant for the bot (no mention where one is required).
    Ignore(Reason),
}

/// Why a message was not allowed, as shown in status and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    DirectDisabled,
    NotOnAllowlist,
    GroupsDisabled,
    GroupNotAllowed,
    SenderNotAllowedInGroup,
    NoMention,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::DirectDisabled => "direct messages are disabled (dmPolicy: disabled)",
            Reason::NotOnAllowlist => "sender is not on allowFrom (dmPolicy: allowlist)",
            Reason::GroupsDisabled => "group messages are disabled (groupPolicy: disabled)",
            Reason::GroupNotAllowed => "group is not listed under groups (groupPolicy: allowlist)",
            Reason::SenderNotAllowedInGroup => "sender is not on the group's allowFrom",
            Reason::NoMention => "the bot was not mentioned (requireMention)",
        }
    }
}

fn listed(list: &[String], sender: &str) -> bool {
    list.iter().any(|entry| entry == "*" || entry == sender)
}

/// Decides for `inbound` on `account`. `approved`: the sender was paired earlier on this account.
/// `mentioned`: the message addresses the bot.
pub fn decide(
    account: &ChannelAccount,
    inbound: &Inbound,
    approved: bool,
    mentioned: bool,
) -> Decision {
    if inbound.peer_kind == PeerKind::Direct {
        return match account.dm_policy {
            DmPolicy::Disabled => Decision::Deny(Reason::DirectDisabled),
            _ if approved || listed(&account.allow_from, &inbound.sender_id) => Decision::Allow,
            // `open` is only valid with `allowFrom: ["*"]` (checked by config validation), which
            // the line above already allowed; an invalid open config falls back to asking.
            DmPolicy::Allowlist => Decision::Deny(Reason::NotOnAllowlist),
            DmPolicy::Pairing | DmPolicy::Open => Decision::Pair,
        };
    }
    if account.group_policy == GroupPolicy::Disabled {
        return Decision::Deny(Reason::GroupsDisabled);
    }
    let rule = account.group(&inbound.chat_id).or_else(|| {
        inbound
            .parent_id
            .as_deref()
            .and_then(|parent| account.group(parent))
    });
    if rule.and_then(|r| r.enabled) == Some(false)
        || (rule.is_none() && account.group_policy == GroupPolicy::Allowlist)
    {
        return Decision::Deny(Reason::GroupNotAllowed);
    }
    let senders = rule
        .and_then(|r| r.allow_from.as_ref())
        .or(account.group_allow_from.as_ref());
    if let Some(senders) = senders
        && !listed(senders, &inbound.sender_id)
    {
        return Decision::Deny(Reason::SenderNotAllowedInGroup);
    }
    if rule.and_then(|r| r.require_mention).unwrap_or(true) && !mentioned {
        return Decision::Ignore(Reason::NoMention);
    }
    Decision::Allow
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_config::ChannelsConfig;

    fn account(value: serde_json::Value) -> ChannelAccount {
        let channels: ChannelsConfig =
            serde_json::from_value(serde_json::json!({ "telegram": value })).expect("config");
        channels.accounts().remove(0)
    }

    fn message(kind: PeerKind, chat: &str, sender: &str) -> Inbound {
        Inbound {
            channel: "telegram".into(),
            account: "default".into(),
            peer_kind: kind,
            chat_id: chat.into(),
            thread_id: None,
            parent_id: None,
            sender_id: sender.into(),
            sender_name: None,
            text: "hi".into(),
            mentions_bot: false,
            reply_to: None,
            attachments: Vec::new(),
            message_id: "1".into(),
            timestamp_ms: 0,
            guild_id: None,
            roles: Vec::new(),
            team_id: None,
        }
    }

    #[test]
    fn direct_messages_follow_the_dm_policy() {
        let dm = message(PeerKind::Direct, "42", "42");
        let pairing = account(serde_json::json!({}));
        assert_eq!(decide(&pairing, &dm, false, false), Decision::Pair);
        assert_eq!(decide(&pairing, &dm, true, false), Decision::Allow);
        let allowlist = account(serde_json::json!({ "dmPolicy": "allowlist", "allowFrom": ["7"] }));
        assert_eq!(
            decide(&allowlist, &dm, false, false),
            Decision::Deny(Reason::NotOnAllowlist)
        );
        assert_eq!(
            decide(
                &allowlist,
                &message(PeerKind::Direct, "7", "7"),
                false,
                false
            ),
            Decision::Allow
        );
        let open = account(serde_json::json!({ "dmPolicy": "open", "allowFrom": ["*"] }));
        assert_eq!(decide(&open, &dm, false, false), Decision::Allow);
        let disabled = account(serde_json::json!({ "dmPolicy": "disabled", "allowFrom": ["42"] }));
        assert_eq!(
            decide(&disabled, &dm, true, false),
            Decision::Deny(Reason::DirectDisabled)
        );
    }

    #[test]
    fn groups_need_a_listing_a_mention_and_an_allowed_sender() {
        let group = message(PeerKind::Group, "-100", "42");
        let unlisted = account(serde_json::json!({}));
        assert_eq!(
            decide(&unlisted, &group, true, true),
            Decision::Deny(Reason::GroupNotAllowed)
        );
        let listed = account(serde_json::json!({ "groups": { "-100": {} } }));
        assert_eq!(
            decide(&listed, &group, false, false),
            Decision::Ignore(Reason::NoMention)
        );
        assert_eq!(decide(&listed, &group, false, true), Decision::Allow);
        let quiet = account(serde_json::json!({ "groups": { "*": { "requireMention": false } } }));
        assert_eq!(decide(&quiet, &group, false, false), Decision::Allow);
        let open = account(serde_json::json!({ "groupPolicy": "open", "groupAllowFrom": ["7"] }));
        assert_eq!(
            decide(&open, &group, false, true),
            Decision::Deny(Reason::SenderNotAllowedInGroup)
        );
        let off = account(serde_json::json!({ "groupPolicy": "disabled", "groups": { "*": {} } }));
        assert_eq!(
            decide(&off, &group, false, true),
            Decision::Deny(Reason::GroupsDisabled)
        );
        let disabled_one =
            account(serde_json::json!({ "groups": { "*": {}, "-100": { "enabled": false } } }));
        assert_eq!(
            decide(&disabled_one, &group, false, true),
            Decision::Deny(Reason::GroupNotAllowed)
        );
    }

    #[test]
    fn a_thread_inherits_its_parent_group() {
        let mut thread = message(PeerKind::Thread, "-100", "42");
        thread.chat_id = "555".into();
        thread.parent_id = Some("-100".into());
        let listed =
            account(serde_json::json!({ "groups": { "-100": { "requireMention": false } } }));
        assert_eq!(decide(&listed, &thread, false, false), Decision::Allow);
    }
}
