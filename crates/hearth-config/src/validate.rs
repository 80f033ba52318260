//! Semantic rules on a typed [`Config`]: what the schema cannot say (cross-references,
//! formats, combinations that are unsafe). Pure: no I/O, no environment, every rule runs and
//! every problem is returned.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::path::{child_index, child_key};
use crate::suggest::{did_you_mean, suggest};
use crate::{AgentModel, AuthMode, BindMode, Config, Issue, ModelSelection, SecretValue};

const SET_MODEL_HINT: &str = "chat will fail until a model is set: hearth config set \
                              agents.defaults.model.primary provider/model";

/// Checks the rules the schema cannot express. Errors refuse the configuration; warnings are
/// shown and the configuration loads.
pub fn validate(config: &Config) -> Vec<Issue> {
    let mut out = Vec::new();
    check_gateway(config, &mut out);
    check_models(config, &mut out);
    check_agents(config, &mut out);
    check_logging(config, &mut out);
    check_mcp(config, &mut out);
    check_channels(config, &mut out);
    check_bindings(config, &mut out);
    check_identity_links(config, &mut out);
    crate::validate_usage::check_session_rules(config, &mut out);
    crate::validate_usage::check_subagents(config, &mut out);
    crate::validate_usage::check_budgets(config, &mut out);
    crate::validate_hooks::check_automation(config, &mut out);
    out
}

/// Platform settings each channel knows; any other is refused with the channel's own names.
const PLATFORM_KEYS: [(&str, &[&str]); 4] = [
    (
        "telegram",
        &[
            "botToken",
            "apiRoot",
            "mode",
            "webhookUrl",
            "webhookSecret",
            "proxy",
        ],
    ),
    ("discord", &["token", "apiRoot", "intents"]),
    (
        "slack",
        &["botToken", "appToken", "signingSecret", "apiRoot", "mode"],
    ),
    (
        "matrix",
        &[
            "homeserver",
            "userId",
            "password",
            "accessToken",
            "deviceId",
            "autoJoin",
        ],
    ),
];

fn platform_keys_set(c: &crate::ChannelConfig) -> Vec<&'static str> {
    let mut set = Vec::new();
    let mut add = |present: bool, key: &'static str| {
        if present {
            set.push(key);
        }
    };
    add(c.bot_token.is_some(), "botToken");
    add(c.token.is_some(), "token");
    add(c.app_token.is_some(), "appToken");
    add(c.signing_secret.is_some(), "signingSecret");
    add(c.api_root.is_some(), "apiRoot");
    add(c.mode.is_some(), "mode");
    add(c.webhook_url.is_some(), "webhookUrl");
    add(c.webhook_secret.is_some(), "webhookSecret");
    add(c.proxy.is_some(), "proxy");
    add(c.intents.is_some(), "intents");
    add(c.homeserver.is_some(), "homeserver");
    add(c.user_id.is_some(), "userId");
    add(c.password.is_some(), "password");
    add(c.access_token.is_some(), "accessToken");
    add(c.device_id.is_some(), "deviceId");
    add(c.auto_join.is_some(), "autoJoin");
    set
}

fn check_channels(config: &Config, out: &mut Vec<Issue>) {
    if config.channels.defaults.dm_policy == crate::DmPolicy::Open {
        out.push(
            Issue::warning(
                "channels.defaults.dmPolicy",
                "`open` lets anyone who can message your bots talk to your assistant and spend \
                 your model budget",
            )
            .with_hint("`pairing` asks you once per new sender"),
        );
    }
    for (channel, section) in config.channels.configured() {
        let known = PLATFORM_KEYS
            .iter()
            .find(|(c, _)| *c == channel)
            .map_or(&[][..], |(_, k)| *k);
        let mut sections = vec![(format!("channels.{channel}"), section)];
        for (id, account) in &section.accounts {
            let path = child_key(&format!("channels.{channel}.accounts"), id);
            if !account.accounts.is_empty() {
                out.push(Issue::error(
                    child_key(&path, "accounts"),
                    "accounts cannot have accounts of their own",
                ));
            }
            sections.push((path, account));
        }
        for (path, c) in &sections {
            for key in platform_keys_set(c) {
                if !known.contains(&key) {
                    out.push(
                        Issue::error(child_key(path, key), format!("is not a {channel} setting"))
                            .with_hint(format!("{channel} uses {}", known.join(", "))),
                    );
                }
            }
            if let Some(root) = &c.api_root
                && !(root.starts_with("http://") || root.starts_with("https://"))
            {
                out.push(
                    Issue::error(
                        child_key(path, "apiRoot"),
                        format!("`{root}` is not an http(s) URL"),
                    )
                    .with_hint("e.g. `https://api.telegram.org`"),
                );
            }
            let modes: &[&str] = match channel {
                "telegram" => &["polling", "webhook"],
                "slack" => &["socket", "http"],
                _ => &[],
            };
            if let Some(mode) = &c.mode
                && !modes.is_empty()
                && !modes.contains(&mode.as_str())
            {
                out.push(
                    Issue::error(
                        child_key(path, "mode"),
                        format!("`{mode}` is not a {channel} mode"),
                    )
                    .with_hint(format!("use {}", modes.join(" or "))),
                );
            }
        }
        for account in config
            .channels
            .accounts()
            .iter()
            .filter(|a| a.channel == channel)
        {
            if account.dm_policy == crate::DmPolicy::Open
                && !account.allow_from.iter().any(|a| a == "*")
            {
                out.push(
                    Issue::error(
                        child_key(&account.path, "dmPolicy"),
                        "`open` needs `allowFrom: [\"*\"]`, so letting everyone in is a deliberate choice",
                    )
                    .with_hint("add `allowFrom: [\"*\"]`, or use `pairing` (the default)"),
                );
            }
        }
    }
}

fn check_mcp(config: &Config, out: &mut Vec<Issue>) {
    for (name, server) in &config.mcp.servers {
        let path = child_key("mcp.servers", name);
        let name_ok = (1..=32).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'));
        if !name_ok {
            out.push(
                Issue::error(
                    path.clone(),
                    format!("`{name}` is not a valid MCP server name"),
                )
                .with_hint("use 1 to 32 lowercase letters, digits, `_` and `-`"),
            );
        }
        let transport = match (&server.command, &server.url) {
            (Some(_), None) => crate::McpTransport::Stdio,
            (None, Some(_)) => crate::McpTransport::StreamableHttp,
            (Some(_), Some(_)) => {
                out.push(
                    Issue::error(path.clone(), "has both `command` and `url`")
                        .with_hint("keep `command` for a local server or `url` for a remote one"),
                );
                continue;
            }
            (None, None) => {
                out.push(
                    Issue::error(path.clone(), "needs `command` or `url`")
                        .with_hint("e.g. `command: \"npx\", args: [\"-y\", \"some-mcp-server\"]`"),
                );
                continue;
            }
        };
        if server.transport.is_some_and(|t| t != transport) {
            out.push(
                Issue::error(
                    child_key(&path, "transport"),
                    "does not match `command` (stdio) or `url` (streamable-http)",
                )
                .with_hint("remove it: the transport follows from `command` or `url`"),
            );
        }
        if let Some(url) = &server.url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            out.push(
                Issue::error(
                    child_key(&path, "url"),
                    format!("`{url}` is not an http(s) URL"),
                )
                .with_hint("e.g. `https://mcp.example.com/mcp`"),
            );
        }
        if server.command.is_none() && (!server.args.is_empty() || !server.env.is_empty()) {
            out.push(Issue::warning(
                path.clone(),
                "`args` and `env` are ignored without `command`",
            ));
        }
        if server.url.is_none() && !server.headers.is_empty() {
            out.push(Issue::warning(
                child_key(&path, "headers"),
                "ignored without `url`",
            ));
        }
        if server.timeout_sec == 0 {
            out.push(
                Issue::error(child_key(&path, "timeoutSec"), "must be at least 1")
                    .with_hint("the default is 60"),
            );
        }
    }
}

fn check_gateway(config: &Config, out: &mut Vec<Issue>) {
    let gateway = &config.gateway;
    let auth = &gateway.auth;
    let open_bind = match gateway.bind {
        BindMode::Loopback => {
            if gateway.custom_bind_host.is_some() {
                out.push(
                    Issue::warning(
                        "gateway.customBindHost",
                        "ignored because `gateway.bind` is not `custom`",
                    )
                    .with_hint("set `gateway.bind` to `custom` to use it, or remove it"),
                );
            }
            None
        }
        BindMode::Lan => Some("`gateway.bind` is `lan`".to_owned()),
        BindMode::Custom => match gateway.custom_bind_host.as_deref() {
            None => {
                out.push(
                    Issue::error(
                        "gateway.customBindHost",
                        "required when `gateway.bind` is `custom`",
                    )
                    .with_hint("set it to the IP address to listen on, e.g. `192.168.1.10`"),
                );
                None
            }
            Some(host) => match host.parse::<IpAddr>() {
                Err(_) => {
                    out.push(
                        Issue::error(
                            "gateway.customBindHost",
                            format!("`{host}` is not an IP address"),
                        )
                        .with_hint(
                            "use an address of this machine such as `192.168.1.10` or \
                                 `::1`; host names are not resolved",
                        ),
                    );
                    None
                }
                Ok(ip) if ip.is_loopback() => None,
                Ok(ip) => Some(format!(
                    "`gateway.customBindHost` {ip} is not a loopback address"
                )),
            },
        },
    };
    if let (Some(why), AuthMode::None) = (open_bind, auth.mode) {
        out.push(
            Issue::error(
                "gateway.auth.mode",
                format!(
                    "auth mode `none` is refused because {why}: anyone who can reach this \
                     machine could drive the gateway"
                ),
            )
            .with_hint("set `gateway.auth.mode` to `token`"),
        );
    }
    if auth.mode == AuthMode::Password && is_blank(auth.password.as_ref()) {
        out.push(
            Issue::error(
                "gateway.auth.password",
                "required when `gateway.auth.mode` is `password`",
            )
            .with_hint(
                "set it, preferably as a secret-store reference `{ secret: \"name\" }` \
                     or `${ENV_VAR}`",
            ),
        );
    }

    let ui = &gateway.control_ui;
    if !ui.base_path.starts_with('/') {
        out.push(
            Issue::error("gateway.controlUi.basePath", "must start with `/`")
                .with_hint(format!("e.g. `/{}`", ui.base_path)),
        );
    }
    for (index, origin) in ui.allowed_origins.iter().enumerate() {
        if let Err(issue) = check_origin(origin) {
            out.push(Issue {
                path: child_index("gateway.controlUi.allowedOrigins", index),
                ..issue
            });
        }
    }
}

fn is_blank(secret: Option<&SecretValue>) -> bool {
    match secret {
        None => true,
        Some(SecretValue::Literal(text)) => text.is_empty(),
        Some(SecretValue::Ref { .. }) => false,
    }
}

/// An origin is `scheme://host[:port]`, exactly as browsers send it in the `Origin` header.
fn check_origin(origin: &str) -> Result<(), Issue> {
    let shape = "an origin is `scheme://host[:port]`, e.g. `https://hearth.example.org`";
    if origin == "*" {
        return Err(Issue::error(
            "",
            "`*` is refused: any website open in your browser could then drive the gateway with \
             your credentials",
        )
        .with_hint("list each origin that needs access, e.g. `https://hearth.example.org`"));
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return Err(Issue::error("", format!("`{origin}` is not an origin")).with_hint(shape));
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err(Issue::error("", format!("`{scheme}` is not a URL scheme")).with_hint(shape));
    }
    if let Some(cut) = rest.find(['/', '?', '#']) {
        return Err(
            Issue::error("", format!("`{origin}` has a path; origins have none"))
                .with_hint(format!("use `{scheme}://{}`", &rest[..cut])),
        );
    }
    if rest.contains('@') {
        return Err(
            Issue::error("", "origins cannot contain a user name or password").with_hint(shape),
        );
    }
    let bad_host = || Issue::error("", format!("`{origin}` has no valid host")).with_hint(shape);
    let port = if let Some(bracketed) = rest.strip_prefix('[') {
        let (address, after) = bracketed.split_once(']').ok_or_else(bad_host)?;
        if address.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad_host());
        }
        match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(bad_host)?),
        }
    } else {
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        };
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
        {
            return Err(bad_host());
        }
        port
    };
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|p| p != 0)
    {
        return Err(Issue::error("", format!("`{port}` is not a port")).with_hint(shape));
    }
    Ok(())
}

fn check_models(config: &Config, out: &mut Vec<Issue>) {
    for (id, provider) in &config.models.providers {
        let path = child_key("models.providers", id);
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            out.push(
                Issue::error(path.clone(), format!("`{id}` is not a valid provider id")).with_hint(
                    "use letters, digits, `_`, `.` and `-`: the id is the part before `/` \
                         in `provider/model`",
                ),
            );
        }
        let url = provider.base_url.to_ascii_lowercase();
        let has_host = |prefix: &str| {
            url.strip_prefix(prefix)
                .is_some_and(|rest| !rest.is_empty())
        };
        if !(has_host("http://") || has_host("https://")) {
            out.push(
                Issue::error(
                    child_key(&path, "baseUrl"),
                    "must start with `http://` or `https://`",
                )
                .with_hint("e.g. `https://api.openai.com/v1`"),
            );
        }
        if let Some(proxy) = &provider.proxy {
            let lower = proxy.to_ascii_lowercase();
            let ok = ["http://", "https://"]
                .iter()
                .any(|p| lower.strip_prefix(p).is_some_and(|rest| !rest.is_empty()));
            if !ok {
                // The value may hold credentials: do not repeat it.
                out.push(
                    Issue::error(
                        child_key(&path, "proxy"),
                        "must be an `http://` or `https://` proxy URL",
                    )
                    .with_hint("e.g. `http://proxy.lan:3128`; SOCKS proxies are not supported"),
                );
            }
        }
        let models_path = child_key(&path, "models");
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (index, model) in provider.models.iter().enumerate() {
            let model_path = child_index(&models_path, index);
            if model.id.is_empty() {
                out.push(Issue::error(
                    child_key(&model_path, "id"),
                    "model id is empty",
                ));
            } else if let Some(first) = seen.insert(&model.id, index) {
                out.push(Issue::error(
                    child_key(&model_path, "id"),
                    format!(
                        "duplicate model id `{}` (also {})",
                        model.id,
                        child_index(&models_path, first)
                    ),
                ));
            }
            if model.context_window == 0 {
                out.push(Issue::error(
                    child_key(&model_path, "contextWindow"),
                    "must be greater than 0",
                ));
            }
            if model.max_tokens == 0 {
                out.push(Issue::error(
                    child_key(&model_path, "maxTokens"),
                    "must be greater than 0",
                ));
            } else if model.context_window > 0 && model.max_tokens > model.context_window {
                out.push(Issue::error(
                    child_key(&model_path, "maxTokens"),
                    format!(
                        "{} is larger than the context window ({})",
                        model.max_tokens, model.context_window
                    ),
                ));
            }
        }
    }
}

fn check_agents(config: &Config, out: &mut Vec<Issue>) {
    let defaults = &config.agents.defaults.model;
    check_selection(config, defaults, "agents.defaults.model", out);

    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut first_default: Option<usize> = None;
    let mut modelless = Vec::new();
    for (index, agent) in config.agents.list.iter().enumerate() {
        let path = child_index("agents.list", index);
        let id_path = child_key(&path, "id");
        let id_hint = "use lowercase letters, digits, `-` and `_`";
        if agent.id.is_empty() {
            out.push(Issue::error(id_path, "agent id is empty").with_hint(id_hint));
        } else if !agent
            .id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'))
        {
            out.push(
                Issue::error(id_path, format!("`{}` is not a valid agent id", agent.id))
                    .with_hint(id_hint),
            );
        } else if let Some(first) = ids.insert(&agent.id, index) {
            out.push(Issue::error(
                id_path,
                format!(
                    "duplicate agent id `{}` (also agents.list[{first}])",
                    agent.id
                ),
            ));
        }
        if agent.default {
            match first_default {
                None => first_default = Some(index),
                Some(first) => out.push(
                    Issue::error(
                        child_key(&path, "default"),
                        format!(
                            "more than one agent has `default: true` (also agents.list[{first}])"
                        ),
                    )
                    .with_hint("keep `default: true` on one agent"),
                ),
            }
        }
        let model_path = child_key(&path, "model");
        match &agent.model {
            Some(AgentModel::Ref(reference)) => {
                check_model_ref(config, reference, &model_path, out)
            }
            Some(AgentModel::Selection(selection)) => {
                check_selection(config, selection, &model_path, out);
                if selection.primary.is_none() {
                    modelless.push((model_path, agent.id.as_str()));
                }
            }
            None => modelless.push((model_path, agent.id.as_str())),
        }
    }

    if defaults.primary.is_none() {
        if modelless.len() == config.agents.list.len() {
            out.push(
                Issue::warning(
                    "agents.defaults.model.primary",
                    "no primary model is set anywhere",
                )
                .with_hint(SET_MODEL_HINT),
            );
        } else {
            for (path, id) in modelless {
                out.push(
                    Issue::warning(
                        path,
                        format!(
                            "agent `{id}` has no model and `agents.defaults.model.primary` is \
                             not set"
                        ),
                    )
                    .with_hint(SET_MODEL_HINT),
                );
            }
        }
    }
}

fn check_selection(config: &Config, selection: &ModelSelection, path: &str, out: &mut Vec<Issue>) {
    if let Some(primary) = &selection.primary {
        check_model_ref(config, primary, &child_key(path, "primary"), out);
    }
    let fallbacks = child_key(path, "fallbacks");
    for (index, fallback) in selection.fallbacks.iter().enumerate() {
        check_model_ref(config, fallback, &child_index(&fallbacks, index), out);
    }
}

/// [`check_model_ref`] for the other rule modules.
pub(crate) fn check_model_ref_pub(
    config: &Config,
    reference: &str,
    path: &str,
    out: &mut Vec<Issue>,
) {
    check_model_ref(config, reference, path, out);
}

/// A `provider/model` ref must name a configured provider; a model the provider does not list
/// still works, with default limits, so that is only a warning.
fn check_model_ref(config: &Config, reference: &str, path: &str, out: &mut Vec<Issue>) {
    let providers = &config.models.providers;
    let split = reference
        .split_once('/')
        .filter(|(p, m)| !p.is_empty() && !m.is_empty());
    let Some((provider_id, model_id)) = split else {
        let owners: Vec<String> = providers
            .iter()
            .filter(|(_, p)| p.models.iter().any(|m| m.id == reference))
            .map(|(id, _)| format!("{id}/{reference}"))
            .collect();
        let hint = if owners.is_empty() {
            "write it as `provider/model`, e.g. `openai/gpt-4o`".to_owned()
        } else {
            did_you_mean(&owners)
        };
        out.push(
            Issue::error(path, format!("`{reference}` is not a `provider/model` ref"))
                .with_hint(hint),
        );
        return;
    };
    let Some(provider) = providers.get(provider_id) else {
        let known: Vec<&str> = providers.keys().map(String::as_str).collect();
        let hint = match suggest(provider_id, &known) {
            Some(close) => did_you_mean(&close),
            None if known.is_empty() => {
                "no providers are configured: add one under `models.providers`".to_owned()
            }
            None => format!("configured providers: {}", known.join(", ")),
        };
        out.push(
            Issue::error(
                path,
                format!("unknown provider `{provider_id}` in `{reference}`"),
            )
            .with_hint(hint),
        );
        return;
    };
    if !provider.models.iter().any(|m| m.id == model_id) {
        let listed: Vec<&str> = provider.models.iter().map(|m| m.id.as_str()).collect();
        let hint = suggest(model_id, &listed)
            .map(|close| did_you_mean(&close))
            .unwrap_or_else(|| {
                format!(
                    "add it to {} to set its limits",
                    child_key(&child_key("models.providers", provider_id), "models")
                )
            });
        out.push(
            Issue::warning(
                path,
                format!(
                    "model `{model_id}` is not listed for provider `{provider_id}`; it will use \
                     default limits"
                ),
            )
            .with_hint(hint),
        );
    }
}

const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

fn check_logging(config: &Config, out: &mut Vec<Issue>) {
    check_filter("logging.level", &config.logging.level, out);
    if let Some(console) = &config.logging.console_level {
        check_filter("logging.consoleLevel", console, out);
    }
}

/// `level` or `target=level` directives separated by commas, as `RUST_LOG` takes them.
fn check_filter(path: &str, filter: &str, out: &mut Vec<Issue>) {
    let hint = "use trace, debug, info, warn, error or off, optionally per target: \
                `info,hearth_core=debug`";
    if filter.trim().is_empty() {
        out.push(Issue::error(path, "no log level").with_hint(hint));
        return;
    }
    let level_ok = |level: &str| LEVELS.iter().any(|l| l.eq_ignore_ascii_case(level.trim()));
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let problem = match directive.split_once('=') {
            Some((target, level)) => {
                let target = target.trim();
                if target.is_empty()
                    || !target
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-' | '.'))
                {
                    Some(format!("`{target}` in `{directive}` is not a log target"))
                } else if !level_ok(level) {
                    Some(format!(
                        "`{}` in `{directive}` is not a log level",
                        level.trim()
                    ))
                } else {
                    None
                }
            }
            None => (!level_ok(directive)).then(|| format!("`{directive}` is not a log level")),
        };
        if let Some(message) = problem {
            out.push(Issue::error(path, message).with_hint(hint));
        }
    }
}

/// Channels a binding or an identity may name.
pub const ROUTABLE_CHANNELS: [&str; 5] = ["telegram", "discord", "slack", "matrix", "webchat"];

/// Keeps `[A-Za-z0-9._-]` and turns every other character into `_`, so a platform id can be
/// part of a file name; a name of dots only is not allowed to climb directories.
pub fn sanitize_name(raw: &str) -> String {
    let out: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.chars().all(|c| c == '.') {
        out.replace('.', "_")
    } else {
        out
    }
}

impl crate::BindingConfig {
    /// The binding's name: its own, or one derived from the match, e.g. `telegram-peer-123`,
    /// `discord-guild-9`, `slack-channel` (sanitised like a file name; it names the binding's
    /// audit log).
    pub fn display_name(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        let m = &self.matches;
        let ch = &m.channel;
        let derived = if let Some(peer) = &m.peer {
            format!("{ch}-peer-{}", peer.id)
        } else if let Some(guild) = &m.guild_id {
            if m.roles.is_empty() {
                format!("{ch}-guild-{guild}")
            } else {
                format!("{ch}-guild-{guild}-roles-{}", m.roles.join("-"))
            }
        } else if let Some(team) = &m.team_id {
            format!("{ch}-team-{team}")
        } else if let Some(account) = &m.account_id {
            format!("{ch}-account-{account}")
        } else {
            format!("{ch}-channel")
        };
        sanitize_name(&derived)
    }
}

fn is_id_like(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_'))
}

fn check_bindings(config: &Config, out: &mut Vec<Issue>) {
    let agent_ids: Vec<&str> = if config.agents.list.is_empty() {
        vec!["main"]
    } else {
        config.agents.list.iter().map(|a| a.id.as_str()).collect()
    };
    let mut names: HashMap<String, usize> = HashMap::new();
    for (index, binding) in config.bindings.iter().enumerate() {
        let path = child_index("bindings", index);
        let m = &binding.matches;
        let match_path = child_key(&path, "match");
        if !agent_ids.contains(&binding.agent_id.as_str()) {
            let hint = match suggest(&binding.agent_id, &agent_ids) {
                Some(close) => did_you_mean(&close),
                None if config.agents.list.is_empty() => {
                    "without `agents.list` the only agent is `main`; add agents with `hearth agents add`"
                        .to_owned()
                }
                None => format!("configured agents: {}", agent_ids.join(", ")),
            };
            out.push(
                Issue::error(
                    child_key(&path, "agentId"),
                    format!("unknown agent `{}`", binding.agent_id),
                )
                .with_hint(hint),
            );
        }
        if !ROUTABLE_CHANNELS.contains(&m.channel.as_str()) {
            let hint = suggest(&m.channel, &ROUTABLE_CHANNELS).map_or_else(
                || format!("use one of {}", ROUTABLE_CHANNELS.join(", ")),
                |close| did_you_mean(&close),
            );
            out.push(
                Issue::error(
                    child_key(&match_path, "channel"),
                    format!("`{}` is not a channel", m.channel),
                )
                .with_hint(hint),
            );
        }
        if let Some(peer) = &m.peer
            && peer.id.trim().is_empty()
        {
            out.push(
                Issue::error(
                    child_key(&child_key(&match_path, "peer"), "id"),
                    "peer id is empty",
                )
                .with_hint("the chat id on the platform (for `direct`, the person's id)"),
            );
        }
        if !m.roles.is_empty() && m.guild_id.is_none() {
            out.push(
                Issue::error(child_key(&match_path, "roles"), "roles need `guildId`")
                    .with_hint("roles are Discord role ids of one server"),
            );
        }
        if binding.shared_memory && m.team_id.is_none() && m.guild_id.is_none() {
            out.push(
                Issue::error(
                    child_key(&path, "sharedMemory"),
                    "`sharedMemory` needs `teamId` or `guildId`",
                )
                .with_hint(
                    "memory is shared by the people of one Slack workspace or Discord server",
                ),
            );
        }
        if let Some(name) = &binding.name {
            let valid = !name.is_empty()
                && name.len() <= 64
                && !name.starts_with('.')
                && sanitize_name(name) == *name;
            if !valid {
                out.push(
                    Issue::error(
                        child_key(&path, "name"),
                        format!("`{name}` is not a valid binding name"),
                    )
                    .with_hint("use up to 64 letters, digits, `.`, `_` and `-` (it names the binding's audit file)"),
                );
            }
        }
        let name = binding.display_name();
        if let Some(first) = names.insert(name.clone(), index) {
            let name_path = if binding.name.is_some() {
                child_key(&path, "name")
            } else {
                path.clone()
            };
            out.push(
                Issue::error(
                    name_path,
                    format!("duplicate binding name `{name}` (also bindings[{first}])"),
                )
                .with_hint("give one of them another `name`"),
            );
        }
    }
}

fn check_identity_links(config: &Config, out: &mut Vec<Issue>) {
    let mut owners: HashMap<&str, &str> = HashMap::new();
    for (name, identities) in &config.session.identity_links {
        let path = child_key("session.identityLinks", name);
        if !is_id_like(name) {
            out.push(
                Issue::error(path.clone(), format!("`{name}` is not a valid link name"))
                    .with_hint("use lowercase letters, digits, `-` and `_`"),
            );
        }
        for (index, identity) in identities.iter().enumerate() {
            let item = child_index(&path, index);
            let parsed = identity
                .split_once(':')
                .filter(|(channel, id)| !channel.is_empty() && !id.trim().is_empty());
            let Some((channel, id)) = parsed else {
                out.push(
                    Issue::error(item, format!("`{identity}` is not an identity"))
                        .with_hint("write `<channel>:<id>`, e.g. `telegram:123`"),
                );
                continue;
            };
            if !ROUTABLE_CHANNELS.contains(&channel) {
                out.push(
                    Issue::error(
                        item,
                        format!("`{channel}` in `{identity}` is not a channel"),
                    )
                    .with_hint(format!("use one of {}", ROUTABLE_CHANNELS.join(", "))),
                );
                continue;
            }
            if channel == "webchat" && id != "owner" {
                out.push(
                    Issue::error(item, format!("`{identity}` is not an identity"))
                        .with_hint("the Control UI's only identity is `webchat:owner`"),
                );
                continue;
            }
            match owners.insert(identity.as_str(), name.as_str()) {
                Some(other) if other == name => {
                    out.push(Issue::error(item, format!("`{identity}` is listed twice")))
                }
                Some(other) => out.push(
                    Issue::error(item, format!("`{identity}` is also linked as `{other}`"))
                        .with_hint("an identity belongs to one person: remove it from one link"),
                ),
                None => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::{AgentConfig, ModelDef, ProviderConfig, Severity};

    fn model(id: &str) -> ModelDef {
        serde_json::from_value(serde_json::json!({ "id": id })).unwrap()
    }

    fn provider(models: &[&str]) -> ProviderConfig {
        ProviderConfig {
            base_url: "https://api.example.org/v1".to_owned(),
            api_key: None,
            api: crate::ApiKind::OpenaiCompletions,
            headers: BTreeMap::new(),
            models: models.iter().map(|id| model(id)).collect(),
            api_keys: Vec::new(),
            auth_header: false,
            timeouts: crate::ProviderTimeouts::default(),
            proxy: None,
        }
    }

    /// A valid config with one provider `openai` offering `gpt-4o`, used as the primary.
    fn base() -> Config {
        let mut config = Config::default();
        config
            .models
            .providers
            .insert("openai".to_owned(), provider(&["gpt-4o", "gpt-4o-mini"]));
        config.agents.defaults.model.primary = Some("openai/gpt-4o".to_owned());
        config
    }

    fn shown(config: &Config) -> Vec<String> {
        validate(config).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn the_base_config_is_clean() {
        assert_eq!(shown(&base()), Vec::<String>::new());
    }

    #[test]
    fn open_binds_without_auth_are_refused() {
        let mut config = base();
        config.gateway.bind = BindMode::Lan;
        config.gateway.auth.mode = AuthMode::None;
        let issues = validate(&config);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].path, "gateway.auth.mode");
        assert_eq!(issues[0].severity, Severity::Error);
        assert!(issues[0].message.contains("`lan`"), "{}", issues[0]);
        assert_eq!(
            issues[0].hint.as_deref(),
            Some("set `gateway.auth.mode` to `token`")
        );

        config.gateway.bind = BindMode::Custom;
        config.gateway.custom_bind_host = Some("127.0.0.1".to_owned());
        assert_eq!(shown(&config), Vec::<String>::new());
        config.gateway.custom_bind_host = Some("0.0.0.0".to_owned());
        assert_eq!(validate(&config)[0].path, "gateway.auth.mode");
        config.gateway.auth.mode = AuthMode::Token;
        assert_eq!(shown(&config), Vec::<String>::new());
    }

    #[test]
    fn custom_bind_needs_an_ip_address() {
        let mut config = base();
        config.gateway.bind = BindMode::Custom;
        assert_eq!(validate(&config)[0].path, "gateway.customBindHost");
        config.gateway.custom_bind_host = Some("my-host.local".to_owned());
        assert!(validate(&config)[0].message.contains("not an IP address"));
        config.gateway.custom_bind_host = Some("::1".to_owned());
        assert_eq!(shown(&config), Vec::<String>::new());
    }

    #[test]
    fn password_mode_needs_a_password() {
        let mut config = base();
        config.gateway.auth.mode = AuthMode::Password;
        assert_eq!(validate(&config)[0].path, "gateway.auth.password");
        config.gateway.auth.password = Some(SecretValue::Literal(String::new()));
        assert_eq!(validate(&config)[0].path, "gateway.auth.password");
        config.gateway.auth.password = Some(SecretValue::Ref {
            secret: "pw".to_owned(),
        });
        assert_eq!(shown(&config), Vec::<String>::new());
    }

    #[test]
    fn model_refs_are_checked_against_providers() {
        let mut config = base();
        config.agents.defaults.model.primary = Some("opnai/gpt-4o".to_owned());
        config.agents.defaults.model.fallbacks =
            vec!["gpt-4o-mini".to_owned(), "openai/o9".to_owned()];
        config.agents.list = vec![
            AgentConfig {
                id: "a".to_owned(),
                model: Some(AgentModel::Ref("anthropic/claude".to_owned())),
                ..AgentConfig::default()
            },
            AgentConfig {
                id: "b".to_owned(),
                model: Some(AgentModel::Selection(ModelSelection {
                    primary: Some("openai/gpt-4o-mni".to_owned()),
                    fallbacks: vec![],
                })),
                ..AgentConfig::default()
            },
        ];
        assert_eq!(
            shown(&config),
            [
                "agents.defaults.model.primary: unknown provider `opnai` in `opnai/gpt-4o` (did you mean `openai`?)",
                "agents.defaults.model.fallbacks[0]: `gpt-4o-mini` is not a `provider/model` ref (did you mean `openai/gpt-4o-mini`?)",
                "warning: agents.defaults.model.fallbacks[1]: model `o9` is not listed for provider `openai`; it will use default limits (add it to models.providers.openai.models to set its limits)",
                "agents.list[0].model: unknown provider `anthropic` in `anthropic/claude` (configured providers: openai)",
                "warning: agents.list[1].model.primary: model `gpt-4o-mni` is not listed for provider `openai`; it will use default limits (did you mean `gpt-4o-mini`?)",
            ]
        );
    }

    #[test]
    fn an_open_dm_policy_is_a_warning() {
        let mut config = base();
        config.channels.defaults.dm_policy = crate::DmPolicy::Allowlist;
        assert_eq!(shown(&config), Vec::<String>::new());
        config.channels.defaults.dm_policy = crate::DmPolicy::Open;
        let issues = validate(&config);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].path, "channels.defaults.dmPolicy");
        assert_eq!(issues[0].severity, Severity::Warning);
    }

    #[test]
    fn channel_settings_are_checked_per_platform() {
        let mut config = base();
        config.channels = serde_json::from_value(serde_json::json!({
            "telegram": { "botToken": "t", "appToken": "x", "mode": "socket", "dmPolicy": "open" },
            "discord": { "token": "d", "apiRoot": "discord.com",
                         "accounts": { "a": { "accounts": { "b": {} } } } },
            "slack": { "botToken": "b", "appToken": "a", "dmPolicy": "open", "allowFrom": ["*"] },
        }))
        .unwrap();
        assert_eq!(
            shown(&config),
            [
                "channels.telegram.appToken: is not a telegram setting (telegram uses botToken, apiRoot, mode, webhookUrl, webhookSecret, proxy)",
                "channels.telegram.mode: `socket` is not a telegram mode (use polling or webhook)",
                "channels.telegram.dmPolicy: `open` needs `allowFrom: [\"*\"]`, so letting everyone in is a deliberate choice (add `allowFrom: [\"*\"]`, or use `pairing` (the default))",
                "channels.discord.accounts.a.accounts: accounts cannot have accounts of their own",
                "channels.discord.apiRoot: `discord.com` is not an http(s) URL (e.g. `https://api.telegram.org`)",
            ]
        );
    }

    #[test]
    fn mcp_servers_need_exactly_one_of_command_and_url() {
        let mut config = base();
        config.mcp = serde_json::from_value(serde_json::json!({ "servers": {
            "both": { "command": "x", "url": "http://127.0.0.1:1/mcp" },
            "neither": {},
            "Bad.Name": { "command": "x" },
            "ok": { "command": "x" },
            "web": { "url": "ftp://x", "transport": "stdio" },
        } }))
        .unwrap();
        assert_eq!(
            shown(&config),
            [
                "mcp.servers[\"Bad.Name\"]: `Bad.Name` is not a valid MCP server name (use 1 to 32 lowercase letters, digits, `_` and `-`)",
                "mcp.servers.both: has both `command` and `url` (keep `command` for a local server or `url` for a remote one)",
                "mcp.servers.neither: needs `command` or `url` (e.g. `command: \"npx\", args: [\"-y\", \"some-mcp-server\"]`)",
                "mcp.servers.web.transport: does not match `command` (stdio) or `url` (streamable-http) (remove it: the transport follows from `command` or `url`)",
                "mcp.servers.web.url: `ftp://x` is not an http(s) URL (e.g. `https://mcp.example.com/mcp`)",
            ]
        );
    }

    #[test]
    fn a_missing_model_is_a_warning() {
        let mut config = base();
        config.agents.defaults.model.primary = None;
        let issues = validate(&config);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].severity, Severity::Warning);
        assert_eq!(issues[0].hint.as_deref(), Some(SET_MODEL_HINT));

        config.agents.list = vec![
            AgentConfig {
                id: "a".to_owned(),
                model: Some(AgentModel::Ref("openai/gpt-4o".to_owned())),
                ..AgentConfig::default()
            },
            AgentConfig {
                id: "b".to_owned(),
                ..AgentConfig::default()
            },
        ];
        let issues = validate(&config);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].path, "agents.list[1].model");
    }

    #[test]
    fn agent_ids_are_valid_unique_and_one_is_default() {
        let mut config = base();
        let agent = |id: &str, default: bool| AgentConfig {
            id: id.to_owned(),
            default,
            ..AgentConfig::default()
        };
        config.agents.list = vec![
            agent("main", true),
            agent("", false),
            agent("Work", true),
            agent("main", true),
        ];
        assert_eq!(
            shown(&config),
            [
                "agents.list[1].id: agent id is empty (use lowercase letters, digits, `-` and `_`)",
                "agents.list[2].id: `Work` is not a valid agent id (use lowercase letters, digits, `-` and `_`)",
                "agents.list[2].default: more than one agent has `default: true` (also agents.list[0]) (keep `default: true` on one agent)",
                "agents.list[3].id: duplicate agent id `main` (also agents.list[0])",
                "agents.list[3].default: more than one agent has `default: true` (also agents.list[0]) (keep `default: true` on one agent)",
            ]
        );
    }

    #[test]
    fn providers_and_their_models_are_checked() {
        let mut config = base();
        let mut bad = provider(&["m", "m"]);
        bad.base_url = "api.example.org".to_owned();
        bad.models[0].context_window = 0;
        bad.models[1].max_tokens = 200_000;
        config.models.providers.insert("bad id".to_owned(), bad);
        assert_eq!(
            shown(&config),
            [
                r#"models.providers["bad id"]: `bad id` is not a valid provider id (use letters, digits, `_`, `.` and `-`: the id is the part before `/` in `provider/model`)"#,
                r#"models.providers["bad id"].baseUrl: must start with `http://` or `https://` (e.g. `https://api.openai.com/v1`)"#,
                r#"models.providers["bad id"].models[0].contextWindow: must be greater than 0"#,
                r#"models.providers["bad id"].models[1].id: duplicate model id `m` (also models.providers["bad id"].models[0])"#,
                r#"models.providers["bad id"].models[1].maxTokens: 200000 is larger than the context window (128000)"#,
            ]
        );
    }

    #[test]
    fn origins_must_be_exact() {
        let ok = [
            "https://hearth.example.org",
            "http://localhost:5173",
            "tauri://localhost",
            "http://[::1]:8080",
            "http://192.168.1.2",
        ];
        for origin in ok {
            assert!(check_origin(origin).is_ok(), "{origin}");
        }
        let star = check_origin("*").unwrap_err();
        assert!(star.message.contains("any website"), "{}", star.message);
        for origin in [
            "https://x.org/",
            "https://x.org/ui",
            "x.org",
            "https://",
            "https://x.org:0",
            "https://x.org:99999",
            "https://u@x.org",
            "1http://x",
            "null",
        ] {
            assert!(check_origin(origin).is_err(), "{origin}");
        }
        assert_eq!(
            check_origin("https://x.org/").unwrap_err().hint.as_deref(),
            Some("use `https://x.org`")
        );

        let mut config = base();
        config.gateway.control_ui.allowed_origins =
            vec!["https://ok.org".to_owned(), "*".to_owned()];
        let issues = validate(&config);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].path, "gateway.controlUi.allowedOrigins[1]");
    }

    #[test]
    fn base_path_and_log_filters() {
        let mut config = base();
        config.gateway.control_ui.base_path = "ui".to_owned();
        config.logging.level = "info,hearth_core::agent=DEBUG,,warn".to_owned();
        config.logging.console_level = Some("verbose,=info,hearth=loud".to_owned());
        assert_eq!(
            validate(&config)
                .iter()
                .map(|i| format!("{}: {}", i.path, i.message))
                .collect::<Vec<_>>(),
            [
                "gateway.controlUi.basePath: must start with `/`",
                "logging.consoleLevel: `verbose` is not a log level",
                "logging.consoleLevel: `` in `=info` is not a log target",
                "logging.consoleLevel: `loud` in `hearth=loud` is not a log level",
            ]
        );
        config.logging.level = " ".to_owned();
        config.logging.console_level = None;
        config.gateway.control_ui.base_path = "/ui".to_owned();
        assert_eq!(validate(&config)[0].message, "no log level");
    }
}

#[cfg(test)]
mod routing_tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::{AgentConfig, BindingConfig, BindingMatch, PeerMatch, PeerMatchKind};

    fn binding(agent: &str, channel: &str) -> BindingConfig {
        BindingConfig {
            agent_id: agent.to_owned(),
            matches: BindingMatch {
                channel: channel.to_owned(),
                ..BindingMatch::default()
            },
            ..BindingConfig::default()
        }
    }

    fn routing_issues(config: &Config) -> Vec<String> {
        let mut out = Vec::new();
        check_bindings(config, &mut out);
        check_identity_links(config, &mut out);
        out.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn bindings_name_existing_agents_and_channels() {
        let mut config = Config {
            bindings: vec![binding("main", "telegram"), binding("ops", "telgram")],
            ..Config::default()
        };
        assert_eq!(
            routing_issues(&config),
            [
                "bindings[1].agentId: unknown agent `ops` (without `agents.list` the only agent is `main`; add agents with `hearth agents add`)",
                "bindings[1].match.channel: `telgram` is not a channel (did you mean `telegram`?)",
            ]
        );
        config.agents.list = vec![
            AgentConfig {
                id: "home".into(),
                ..AgentConfig::default()
            },
            AgentConfig {
                id: "work".into(),
                ..AgentConfig::default()
            },
        ];
        config.bindings = vec![binding("main", "irc")];
        assert_eq!(
            routing_issues(&config),
            [
                "bindings[0].agentId: unknown agent `main` (configured agents: home, work)",
                "bindings[0].match.channel: `irc` is not a channel (use one of telegram, discord, slack, matrix, webchat)",
            ]
        );
    }

    #[test]
    fn roles_shared_memory_peers_and_names_are_checked() {
        let mut roles = binding("main", "discord");
        roles.matches.roles = vec!["7".into()];
        roles.shared_memory = true;
        let mut peer = binding("main", "telegram");
        peer.matches.peer = Some(PeerMatch {
            kind: PeerMatchKind::Direct,
            id: " ".into(),
        });
        let mut named = binding("main", "slack");
        named.name = Some("../escape".into());
        let mut team = binding("main", "slack");
        team.matches.team_id = Some("T1".into());
        team.shared_memory = true;
        let config = Config {
            bindings: vec![
                roles,
                peer,
                named,
                team.clone(),
                team,
                binding("main", "slack"),
            ],
            ..Config::default()
        };
        assert_eq!(
            routing_issues(&config),
            [
                "bindings[0].match.roles: roles need `guildId` (roles are Discord role ids of one server)",
                "bindings[0].sharedMemory: `sharedMemory` needs `teamId` or `guildId` (memory is shared by the people of one Slack workspace or Discord server)",
                "bindings[1].match.peer.id: peer id is empty (the chat id on the platform (for `direct`, the person's id))",
                "bindings[2].name: `../escape` is not a valid binding name (use up to 64 letters, digits, `.`, `_` and `-` (it names the binding's audit file))",
                "bindings[4]: duplicate binding name `slack-team-T1` (also bindings[3]) (give one of them another `name`)",
            ]
        );
    }

    #[test]
    fn derived_binding_names_follow_the_tier() {
        let mut b = binding("main", "discord");
        assert_eq!(b.display_name(), "discord-channel");
        b.matches.account_id = Some("work".into());
        assert_eq!(b.display_name(), "discord-account-work");
        b.matches.guild_id = Some("9".into());
        assert_eq!(b.display_name(), "discord-guild-9");
        b.matches.roles = vec!["1".into(), "2".into()];
        assert_eq!(b.display_name(), "discord-guild-9-roles-1-2");
        b.matches.peer = Some(PeerMatch {
            kind: PeerMatchKind::Channel,
            id: "chan/1".into(),
        });
        assert_eq!(b.display_name(), "discord-peer-chan_1");
        b.name = Some("mine".into());
        assert_eq!(b.display_name(), "mine");
        assert_eq!(sanitize_name("matrix:@a:hs.org"), "matrix__a_hs.org");
        assert_eq!(sanitize_name(".."), "__");
    }

    #[test]
    fn identity_links_are_checked() {
        let mut config = Config::default();
        config.session.identity_links = BTreeMap::from([
            (
                "alice".to_owned(),
                vec![
                    "telegram:1".to_owned(),
                    "discord:2".to_owned(),
                    "telegram:1".to_owned(),
                ],
            ),
            (
                "Bob".to_owned(),
                vec![
                    "discord:2".to_owned(),
                    "nochannel".to_owned(),
                    "irc:5".to_owned(),
                    "webchat:guest".to_owned(),
                    "webchat:owner".to_owned(),
                ],
            ),
        ]);
        assert_eq!(
            routing_issues(&config),
            [
                "session.identityLinks.Bob: `Bob` is not a valid link name (use lowercase letters, digits, `-` and `_`)",
                "session.identityLinks.Bob[1]: `nochannel` is not an identity (write `<channel>:<id>`, e.g. `telegram:123`)",
                "session.identityLinks.Bob[2]: `irc` in `irc:5` is not a channel (use one of telegram, discord, slack, matrix, webchat)",
                "session.identityLinks.Bob[3]: `webchat:guest` is not an identity (the Control UI's only identity is `webchat:owner`)",
                "session.identityLinks.alice[1]: `discord:2` is also linked as `Bob` (an identity belongs to one person: remove it from one link)",
                "session.identityLinks.alice[2]: `telegram:1` is listed twice",
            ]
        );
    }
}
