//! The channel layer of the gateway: one supervised task per channel account, access control
//! before anything else, durable queues both ways.
//!
//! - [`account`]: an account's supervisor (connect, reconnect with backoff and jitter, report)
//!   and its outbound worker (the SQLite queue, in order per chat, retries honouring the
//!   platform's `retry_after`).
//! - [`inbound`]: what happens to a message an adapter hands over: access control, pairing,
//!   storage, then the agent turn with typing and edit-in-place streaming, and the answer queued.
//!
//! The platforms themselves are in `hearth-channels`.

pub(crate) mod account;
pub(crate) mod inbound;

use crate::util::lock;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use hearth_channels::{AccountSettings, ChannelAdapter};
use hearth_config::{ChannelAccount, SecretValue};
use hearth_protocol::events::Event;
use hearth_protocol::methods::ChannelsStatusResult;

use crate::runtime::Runtime;
use account::AccountHandle;

/// Identifies an account: channel and account id.
pub(crate) type AccountKey = (String, String);

/// Every running channel account.
#[derive(Debug, Default)]
pub struct Channels {
    accounts: Mutex<BTreeMap<AccountKey, Arc<AccountHandle>>>,
    paused: AtomicBool,
    config: tokio::sync::Notify,
    /// Identity links waiting for their codes (sent through the accounts).
    pub(crate) links: crate::identity::PendingLinks,
}

impl Channels {
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    pub(crate) fn handle(&self, channel: &str, account: &str) -> Option<Arc<AccountHandle>> {
        lock(&self.accounts)
            .get(&(channel.to_owned(), account.to_owned()))
            .cloned()
    }

    pub(crate) fn handles(&self) -> Vec<Arc<AccountHandle>> {
        lock(&self.accounts).values().cloned().collect()
    }

    /// The config was replaced: accounts are reconciled with it.
    pub(crate) fn config_changed(&self) {
        self.config.notify_one();
    }
}

/// Starts the configured accounts (each answers what the last run left unanswered once its
/// adapter is built) and follows config changes.
pub(crate) fn start(rt: &Arc<Runtime>) {
    reconcile(rt);
    let task_rt = rt.clone();
    rt.tasks.spawn(async move {
        loop {
            tokio::select! {
                () = task_rt.shutdown.cancelled() => return,
                () = task_rt.channels.config.notified() => reconcile(&task_rt),
            }
        }
    });
}

/// Starts (or restarts) the accounts of the live config so they match it: new or changed
/// accounts start, removed ones stop. Answers at once; connecting happens in the background.
pub(crate) fn reconcile(rt: &Arc<Runtime>) {
    let config = rt.live().config.clone();
    let wanted: BTreeMap<AccountKey, ChannelAccount> = config
        .channels
        .accounts()
        .into_iter()
        .map(|a| ((a.channel.to_owned(), a.account_id.clone()), a))
        .collect();
    let mut accounts = lock(&rt.channels.accounts);
    accounts.retain(|key, handle| {
        let keep = wanted.get(key).is_some_and(|a| *a == handle.config);
        if !keep {
            tracing::info!(channel = %key.0, account = %key.1, "channel account stopped (config changed)");
            handle.stop();
        }
        keep
    });
    for (key, account) in wanted {
        if accounts.contains_key(&key) {
            continue;
        }
        let handle = AccountHandle::new(account, &rt.shutdown);
        accounts.insert(key, handle.clone());
        account::spawn(rt, handle);
    }
    drop(accounts);
    publish_status(rt);
}

/// Pauses or resumes every account.
pub(crate) fn set_paused(rt: &Arc<Runtime>, paused: bool) {
    if rt.channels.paused.swap(paused, Ordering::SeqCst) != paused {
        tracing::info!(
            paused,
            "channels {}",
            if paused { "paused" } else { "resumed" }
        );
        for handle in rt.channels.handles() {
            handle.pause_changed();
        }
    }
    publish_status(rt);
}

/// The status of every account, and the web chat.
pub(crate) async fn status(rt: &Runtime) -> ChannelsStatusResult {
    let mut channels = Vec::new();
    for handle in rt.channels.handles() {
        channels.push(handle.status(rt).await);
    }
    channels.push(account::webchat_status(rt));
    ChannelsStatusResult {
        channels,
        paused: rt.channels.is_paused(),
    }
}

/// Sends `channels.changed` to clients that listen.
pub(crate) fn publish_status(rt: &Arc<Runtime>) {
    if !rt.bus.has_subscribers() {
        return;
    }
    let rt = rt.clone();
    tokio::spawn(async move {
        let status = status(&rt).await;
        rt.bus.publish(Event::ChannelsChanged(status));
    });
}

/// Builds an adapter for an account: resolves its secrets and prepares its state directory.
pub(crate) async fn build_adapter(
    rt: &Runtime,
    account: &ChannelAccount,
) -> Result<Arc<dyn ChannelAdapter>, hearth_channels::ChannelError> {
    let settings = settings_for(rt, account).await?;
    hearth_channels::adapter(settings, rt.http.clone())
}

async fn settings_for(
    rt: &Runtime,
    account: &ChannelAccount,
) -> Result<AccountSettings, hearth_channels::ChannelError> {
    use hearth_channels::ChannelError;
    let p = &account.platform;
    let refs: Vec<String> = [
        &p.bot_token,
        &p.token,
        &p.app_token,
        &p.signing_secret,
        &p.webhook_secret,
        &p.password,
        &p.access_token,
    ]
    .into_iter()
    .filter_map(|v| v.as_ref().and_then(|s| s.secret_name()).map(str::to_owned))
    .collect();
    let store_key = format!("channels.{}.{}.store", account.channel, account.account_id);
    let needs_store = account.channel == "matrix";
    let mut found = std::collections::HashMap::new();
    if !refs.is_empty() || needs_store {
        let store = rt
            .secrets()
            .await
            .map_err(|e| ChannelError::Config(format!("the secret store cannot be opened: {e}")))?;
        let names = refs.clone();
        let key = store_key.clone();
        found = tokio::task::spawn_blocking(move || {
            let mut out = std::collections::HashMap::new();
            for name in names {
                if let Ok(Some(v)) = store.get(&name) {
                    out.insert(name, v.expose().to_owned());
                }
            }
            if needs_store {
                let value = match store.get(&key) {
                    Ok(Some(v)) => Some(v.expose().to_owned()),
                    _ => {
                        let fresh = crate::runtime::generate_token();
                        store.set(&key, &fresh).ok().map(|()| fresh)
                    }
                };
                if let Some(v) = value {
                    out.insert(key, v);
                }
            }
            out
        })
        .await
        .map_err(|e| ChannelError::Config(format!("secret lookup failed: {e}")))?;
    }
    let resolve = |v: &Option<SecretValue>, key: &str| -> Result<Option<String>, ChannelError> {
        match v {
            None => Ok(None),
            Some(SecretValue::Literal(s)) => Ok(Some(s.clone())),
            Some(SecretValue::Ref { secret }) => match found.get(secret) {
                Some(v) => Ok(Some(v.clone())),
                None => Err(ChannelError::Config(format!(
                    "`{}.{key}` refers to the secret `{secret}`, which is not in the secret store; add it with `hearth secrets set {secret}`",
                    account.path
                ))),
            },
        }
    };
    let token = match account.channel {
        "telegram" | "slack" => resolve(&p.bot_token, "botToken")?,
        "matrix" => resolve(&p.access_token, "accessToken")?,
        _ => resolve(&p.token, "token")?,
    };
    let state_dir = rt
        .home
        .root()
        .join("channels")
        .join(account.channel)
        .join(&account.account_id);
    create_private_dir(&state_dir)
        .map_err(|e| ChannelError::Config(format!("cannot create {}: {e}", state_dir.display())))?;
    let mut allow_from = account.allow_from.clone();
    if let Ok(approved) = rt.store.approved_senders().await {
        allow_from.extend(
            approved
                .into_iter()
                .filter(|a| a.channel == account.channel && a.account == account.account_id)
                .map(|a| a.sender_id),
        );
    }
    // A stranger must be able to open a DM to ask for pairing; otherwise only allowed senders'
    // invites are accepted.
    let auto_join = p.auto_join.clone().or_else(|| {
        Some(
            if matches!(
                account.dm_policy,
                hearth_config::DmPolicy::Pairing | hearth_config::DmPolicy::Open
            ) {
                "all"
            } else {
                "allowlist"
            }
            .to_owned(),
        )
    });
    Ok(AccountSettings {
        store_passphrase: found.get(&store_key).cloned(),
        channel: account.channel.to_owned(),
        account_id: account.account_id.clone(),
        api_root: p.api_root.clone(),
        token,
        app_token: resolve(&p.app_token, "appToken")?,
        signing_secret: resolve(&p.signing_secret, "signingSecret")?,
        mode: p.mode.clone(),
        webhook_url: p.webhook_url.clone(),
        webhook_secret: resolve(&p.webhook_secret, "webhookSecret")?,
        proxy: p.proxy.clone(),
        intents: p.intents,
        homeserver: p.homeserver.clone(),
        user_id: p.user_id.clone(),
        password: resolve(&p.password, "password")?,
        device_id: p.device_id.clone(),
        auto_join,
        allow_from,
        state_dir,
    })
}

fn create_private_dir(path: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}
