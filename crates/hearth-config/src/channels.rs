//! Channel accounts as the gateway runs them: each account's settings merged over its
//! channel's, over `channels.defaults`.

use std::collections::BTreeMap;

use crate::{ChannelConfig, ChannelsConfig, DmPolicy, GroupConfig, GroupPolicy, SecretValue};

/// The id of the one account of a channel that lists no `accounts`.
pub const DEFAULT_ACCOUNT: &str = "default";

/// One account with every setting resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelAccount {
    pub channel: &'static str,
    pub account_id: String,
    /// The config path of its section (`channels.telegram` or
    /// `channels.telegram.accounts.work`), for messages.
    pub path: String,
    pub enabled: bool,
    pub name: Option<String>,
    pub dm_policy: DmPolicy,
    pub allow_from: Vec<String>,
    pub group_policy: GroupPolicy,
    pub group_allow_from: Option<Vec<String>>,
    /// The channel's groups with the account's on top.
    pub groups: BTreeMap<String, GroupConfig>,
    pub mention_patterns: Vec<String>,
    pub text_chunk_limit: Option<usize>,
    pub media_max_mb: u32,
    pub streaming: bool,
    /// The platform settings (tokens, URLs), the account's over the channel's; `accounts` and
    /// the policy fields above are left empty here.
    pub platform: ChannelConfig,
}

impl ChannelAccount {
    /// The group rule for `chat_id`: its own entry, else `"*"`.
    pub fn group(&self, chat_id: &str) -> Option<&GroupConfig> {
        self.groups.get(chat_id).or_else(|| self.groups.get("*"))
    }
}

impl ChannelsConfig {
    /// Every configured account of every channel, enabled or not.
    pub fn accounts(&self) -> Vec<ChannelAccount> {
        let mut out = Vec::new();
        for (channel, section) in self.configured() {
            if section.accounts.is_empty() {
                out.push(self.resolve(channel, DEFAULT_ACCOUNT, section, None));
            } else {
                for (id, account) in &section.accounts {
                    out.push(self.resolve(channel, id, section, Some(account)));
                }
            }
        }
        out
    }

    /// One account by channel and id.
    pub fn account(&self, channel: &str, account_id: &str) -> Option<ChannelAccount> {
        self.accounts()
            .into_iter()
            .find(|a| a.channel == channel && a.account_id == account_id)
    }

    fn resolve(
        &self,
        channel: &'static str,
        account_id: &str,
        section: &ChannelConfig,
        account: Option<&ChannelConfig>,
    ) -> ChannelAccount {
        fn first<T: Clone>(
            account: Option<&ChannelConfig>,
            section: &ChannelConfig,
            get: impl Fn(&ChannelConfig) -> &Option<T>,
        ) -> Option<T> {
            account
                .and_then(|a| get(a).clone())
                .or_else(|| get(section).clone())
        }
        let defaults = &self.defaults;
        let mut groups = section.groups.clone();
        if let Some(a) = account {
            groups.extend(a.groups.clone());
        }
        let secret = |get: fn(&ChannelConfig) -> &Option<SecretValue>| first(account, section, get);
        let text = |get: fn(&ChannelConfig) -> &Option<String>| first(account, section, get);
        let platform = ChannelConfig {
            bot_token: secret(|c| &c.bot_token),
            token: secret(|c| &c.token),
            app_token: secret(|c| &c.app_token),
            signing_secret: secret(|c| &c.signing_secret),
            api_root: text(|c| &c.api_root),
            mode: text(|c| &c.mode),
            webhook_url: text(|c| &c.webhook_url),
            webhook_secret: secret(|c| &c.webhook_secret),
            proxy: text(|c| &c.proxy),
            intents: first(account, section, |c| &c.intents),
            homeserver: text(|c| &c.homeserver),
            user_id: text(|c| &c.user_id),
            password: secret(|c| &c.password),
            access_token: secret(|c| &c.access_token),
            device_id: text(|c| &c.device_id),
            auto_join: text(|c| &c.auto_join),
            ..ChannelConfig::default()
        };
        let path = match account {
            Some(_) => crate::path::child_key(
                &crate::path::child_key(&format!("channels.{channel}"), "accounts"),
                account_id,
            ),
            None => format!("channels.{channel}"),
        };
        ChannelAccount {
            channel,
            account_id: account_id.to_owned(),
            path,
            enabled: section.enabled.unwrap_or(true)
                && account.and_then(|a| a.enabled).unwrap_or(true),
            name: text(|c| &c.name),
            dm_policy: first(account, section, |c| &c.dm_policy).unwrap_or(defaults.dm_policy),
            allow_from: first(account, section, |c| &c.allow_from).unwrap_or_default(),
            group_policy: first(account, section, |c| &c.group_policy)
                .unwrap_or(defaults.group_policy),
            group_allow_from: first(account, section, |c| &c.group_allow_from),
            groups,
            mention_patterns: first(account, section, |c| &c.mention_patterns).unwrap_or_default(),
            text_chunk_limit: first(account, section, |c| &c.text_chunk_limit),
            media_max_mb: first(account, section, |c| &c.media_max_mb)
                .unwrap_or(defaults.media_max_mb),
            streaming: first(account, section, |c| &c.streaming).unwrap_or(defaults.streaming),
            platform,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channels(value: serde_json::Value) -> ChannelsConfig {
        serde_json::from_value(value).expect("channels")
    }

    #[test]
    fn a_channel_without_accounts_is_the_default_account() {
        let c = channels(serde_json::json!({
            "telegram": { "botToken": { "secret": "tg" }, "allowFrom": ["42"] }
        }));
        let accounts = c.accounts();
        assert_eq!(accounts.len(), 1);
        let a = &accounts[0];
        assert_eq!((a.channel, a.account_id.as_str()), ("telegram", "default"));
        assert_eq!(a.path, "channels.telegram");
        assert_eq!(a.dm_policy, DmPolicy::Pairing);
        assert_eq!(a.allow_from, ["42"]);
        assert_eq!(
            a.platform.bot_token.as_ref().and_then(|s| s.secret_name()),
            Some("tg")
        );
        assert!(a.enabled && a.streaming);
        assert_eq!(a.media_max_mb, 20);
    }

    #[test]
    fn accounts_inherit_from_their_channel_and_override_it() {
        let c = channels(serde_json::json!({
            "defaults": { "dmPolicy": "allowlist" },
            "discord": {
                "token": "shared", "groups": { "*": { "requireMention": true } },
                "accounts": {
                    "home": {},
                    "work": { "token": "w", "dmPolicy": "disabled", "enabled": false,
                              "groups": { "123": { "requireMention": false } } }
                }
            }
        }));
        let home = c.account("discord", "home").expect("home");
        let work = c.account("discord", "work").expect("work");
        assert_eq!(home.dm_policy, DmPolicy::Allowlist);
        assert_eq!(
            home.platform.token,
            Some(SecretValue::Literal("shared".into()))
        );
        assert_eq!(work.platform.token, Some(SecretValue::Literal("w".into())));
        assert_eq!(work.dm_policy, DmPolicy::Disabled);
        assert!(home.enabled && !work.enabled);
        assert_eq!(work.path, "channels.discord.accounts.work");
        assert_eq!(
            work.group("123").and_then(|g| g.require_mention),
            Some(false)
        );
        assert_eq!(
            work.group("999").and_then(|g| g.require_mention),
            Some(true)
        );
        assert_eq!(
            home.group("123").and_then(|g| g.require_mention),
            Some(true)
        );
    }
}
