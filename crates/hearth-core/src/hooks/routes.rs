//! The HTTP side of webhooks: which call a request is, and whether it may be: the token (in
//! `Authorization: Bearer` or `x-hearth-token`, never the query string), failed attempts counted
//! by the gateway's [`crate::gateway::auth::AuthLimiter`], the body cap (checked while reading,
//! so an oversized body is never held whole), the sender's signature, the mapping's rate, and
//! a JSON body. Refusals use the gateway's JSON error shape ([`ApiError`]); none of them
//! repeats a token, a signature or the body.
//!
//! A mapping with a `signature` is authenticated by the signature alone when no token is
//! sent: GitHub and Stripe cannot add headers of their own, and the HMAC proves the sender
//! holds the mapping's secret. A token that is sent is always checked.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use hearth_config::{DeliveryTarget, HookAction, HookMapping, HooksConfig, SecretValue};
use hearth_config::{SignatureStyle, parse_template};
use http::{HeaderMap, Method, StatusCode, header};
use serde::Deserialize;
use serde_json::Value;

use super::calls::{self, AgentCall};
use super::template::{self, MAX_MESSAGE_BYTES};
use super::{Hooks, signature};
use crate::gateway::{ApiError, auth, client_ip};
use crate::runtime::Runtime;
use crate::util::constant_time_eq;

/// The token header for senders that cannot set `Authorization`.
pub(crate) const TOKEN_HEADER: &str = "x-hearth-token";

/// Longest `timeoutSeconds` a call may ask for.
const MAX_TIMEOUT_SECONDS: u64 = 24 * 3600;

/// Answers one request under the prefix (`rest` is the path after `<prefix>/`).
pub(super) async fn handle(
    hooks: &Arc<Hooks>,
    request: Request,
    prefix: &str,
    rest: &str,
) -> Response {
    let rt = &hooks.rt;
    let config = rt.live().config.hooks.clone();
    if !config.enabled {
        return ApiError::not_found("webhooks are not enabled on this gateway").into_response();
    }
    if let Some(refusal) = foreign_origin(rt, request.headers()) {
        return refusal.into_response();
    }
    let ip = client_ip(&request);
    if let Some(wait) = rt.limiter.locked(ip) {
        return ApiError::locked_out(wait).into_response();
    }
    if query_carries_secret(request.uri().query()) {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "token_in_query",
            "never put the webhook token in the URL (URLs end up in logs and histories); send it \
             in a header: `Authorization: Bearer <token>` or `x-hearth-token: <token>`",
        )
        .into_response();
    }
    let prefix = prefix.trim_end_matches('/');
    let method = request.method().clone();
    let segments: Vec<&str> = rest.split('/').collect();
    let answer = match (&method, segments.as_slice()) {
        (&Method::GET, ["runs", id]) if !id.is_empty() => {
            get_run(rt, request.headers(), &config, ip, id).await
        }
        (&Method::POST, ["wake"]) => {
            match check_token(rt, &config, ip, presented_token(request.headers())).await {
                Ok(()) => calls::wake(hooks, "wake", ip, prefix).await,
                Err(e) => Err(e),
            }
        }
        (&Method::POST, ["agent"]) => agent(hooks, request, &config, ip, prefix).await,
        (&Method::POST, [name]) if !name.is_empty() && *name != "runs" => {
            mapping(hooks, request, &config, ip, prefix, name).await
        }
        (_, ["runs", id]) if !id.is_empty() => Err(method_not_allowed("GET")),
        (_, [name]) if !name.is_empty() && *name != "runs" => Err(method_not_allowed("POST")),
        _ => Err(ApiError::not_found("no such webhook route")),
    };
    answer.unwrap_or_else(IntoResponse::into_response)
}

/// `GET <path>/runs/<id>`: a call and its run, for the token holder.
async fn get_run(
    rt: &Runtime,
    headers: &HeaderMap,
    config: &HooksConfig,
    ip: IpAddr,
    id: &str,
) -> Result<Response, ApiError> {
    check_token(rt, config, ip, presented_token(headers)).await?;
    match rt.store.hook_run(id).await {
        Ok(Some(row)) => Ok(Json(row.to_run()).into_response()),
        Ok(None) => Err(ApiError::not_found(format!("no webhook call `{id}`"))),
        Err(e) => {
            tracing::error!(error = %e, "reading a webhook call failed");
            Err(internal())
        }
    }
}

/// The body of `POST <path>/agent`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AgentBody {
    message: String,
    #[serde(default)]
    agent_id: Option<String>,
    #[serde(default)]
    session_key: Option<String>,
    #[serde(default)]
    deliver: Option<String>,
    #[serde(default)]
    timeout_seconds: Option<u64>,
}

async fn agent(
    hooks: &Arc<Hooks>,
    request: Request,
    config: &HooksConfig,
    ip: IpAddr,
    prefix: &str,
) -> Result<Response, ApiError> {
    let rt = &hooks.rt;
    let (parts, body) = request.into_parts();
    check_token(rt, config, ip, presented_token(&parts.headers)).await?;
    let bytes = read_body(body, &parts.headers, config.max_body_bytes).await?;
    let json = parse_json(&parts.headers, &bytes)?;
    let call: AgentBody = serde_json::from_value(json).map_err(|e| {
        ApiError::bad_request(format!(
            "{e}; send {{\"message\": \"...\", \"agentId\"?, \"sessionKey\"?, \"deliver\"?, \"timeoutSeconds\"?}}"
        ))
    })?;
    if call.message.trim().is_empty() {
        return Err(ApiError::bad_request("`message` is empty"));
    }
    let live = rt.live();
    let agent = match call.agent_id.as_deref() {
        None => live.agents.default_agent(),
        Some(id) => live
            .agents
            .get(id)
            .ok_or_else(|| ApiError::bad_request(format!("no agent `{id}` on this gateway")))?,
    };
    if let Some(key) = &call.session_key {
        crate::sessions::resolve_key(Some(key), &agent.id, &live.config.session.main_key)
            .map_err(|e| ApiError::bad_request(format!("`sessionKey`: {e}")))?;
    }
    let deliver = match call.deliver.as_deref() {
        None => DeliveryTarget::None,
        Some(text) => DeliveryTarget::parse(text)
            .map_err(|e| ApiError::bad_request(format!("`deliver`: {e}")))?,
    };
    let timeout = match call.timeout_seconds {
        None => None,
        Some(s) if (1..=MAX_TIMEOUT_SECONDS).contains(&s) => Some(Duration::from_secs(s)),
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "`timeoutSeconds` must be between 1 and {MAX_TIMEOUT_SECONDS}"
            )));
        }
    };
    let call = AgentCall {
        hook: "agent".to_owned(),
        prompt: call.message,
        agent_id: Some(agent.id.clone()),
        session_key: call.session_key,
        deliver,
        timeout,
    };
    drop(live);
    calls::agent(hooks, call, ip, prefix).await
}

/// `POST <path>/<name>`: a configured mapping.
async fn mapping(
    hooks: &Arc<Hooks>,
    request: Request,
    config: &HooksConfig,
    ip: IpAddr,
    prefix: &str,
    name: &str,
) -> Result<Response, ApiError> {
    let rt = &hooks.rt;
    let (parts, body) = request.into_parts();
    let presented = presented_token(&parts.headers);
    let found = config.mappings.iter().find(|m| m.name == name);
    let signed = found.is_some_and(|m| m.signature.is_some());
    if presented.is_some() || !signed {
        check_token(rt, config, ip, presented).await?;
    }
    let Some(mapping) = found else {
        return Err(ApiError::not_found(format!(
            "no webhook `{name}`: add it to `hooks.mappings`"
        )));
    };
    let cap = mapping
        .max_body_bytes
        .map_or(config.max_body_bytes, |m| m.min(config.max_body_bytes));
    let bytes = read_body(body, &parts.headers, cap).await?;
    if mapping.signature.is_some() {
        check_signature(rt, mapping, &parts.headers, &bytes, ip, presented.is_none()).await?;
    }
    if let Err(wait) = hooks
        .limits
        .take(name, mapping.rate_per_minute, Instant::now())
    {
        tracing::warn!(hook = %name, client = %ip, "webhook over its rate");
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "rate_limited",
            format!(
                "webhook `{name}` accepts {} calls a minute; try again in {} s",
                mapping.rate_per_minute,
                wait.as_secs().max(1)
            ),
        );
        e.retry_after = Some(wait);
        return Err(e);
    }
    match mapping.action {
        HookAction::Wake => calls::wake(hooks, name, ip, prefix).await,
        HookAction::Agent => {
            let json = parse_json(&parts.headers, &bytes)?;
            let prompt = match &mapping.message_template {
                Some(text) => {
                    let template = parse_template(text).map_err(|e| {
                        tracing::error!(hook = %name, error = %e, "the webhook's messageTemplate does not parse");
                        misconfigured()
                    })?;
                    template::render(&template, &json, MAX_MESSAGE_BYTES)
                }
                None => template::body_message(&json, MAX_MESSAGE_BYTES),
            };
            let deliver = match mapping.deliver.as_deref() {
                None => DeliveryTarget::None,
                Some(text) => DeliveryTarget::parse(text).map_err(|e| {
                    tracing::error!(hook = %name, error = %e, "the webhook's deliver target does not parse");
                    misconfigured()
                })?,
            };
            let call = AgentCall {
                hook: name.to_owned(),
                prompt,
                agent_id: mapping.agent_id.clone(),
                session_key: mapping.session_key.clone(),
                deliver,
                timeout: None,
            };
            calls::agent(hooks, call, ip, prefix).await
        }
    }
}

/// Checks the mapping's signature over the exact body. When it is the only proof the caller
/// gave (`counts`), a refusal counts as a failed attempt of `ip`.
async fn check_signature(
    rt: &Runtime,
    mapping: &HookMapping,
    headers: &HeaderMap,
    body: &[u8],
    ip: IpAddr,
    counts: bool,
) -> Result<(), ApiError> {
    let Some(sig) = &mapping.signature else {
        return Ok(());
    };
    let secret = resolve_secret(rt, &sig.secret, "signature.secret").await?;
    let header_str = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let checked = match sig.style {
        SignatureStyle::Github => {
            signature::verify_github(secret.as_bytes(), body, header_str("x-hub-signature-256"))
        }
        SignatureStyle::Stripe => signature::verify_stripe(
            secret.as_bytes(),
            body,
            header_str("stripe-signature"),
            rt.now_ms().div_euclid(1000),
            i64::try_from(sig.tolerance_seconds).unwrap_or(i64::MAX),
        ),
    };
    match checked {
        Ok(()) => {
            if counts {
                rt.limiter.record_success(ip);
            }
            Ok(())
        }
        Err(e) => {
            tracing::warn!(hook = %mapping.name, client = %ip, reason = %e, "webhook signature refused");
            let refusal = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "bad_signature",
                e.to_string(),
            );
            Err(if counts {
                refuse(rt, ip, refusal)
            } else {
                refusal
            })
        }
    }
}

/// Senders are servers and send no `Origin`; a browser page from another origin is refused
/// as the gateway's guard refuses it, before it can count failed attempts against the owner's
/// own address (a page could otherwise lock the owner out of their gateway).
fn foreign_origin(rt: &Runtime, headers: &HeaderMap) -> Option<ApiError> {
    let origin = headers.get(header::ORIGIN)?.to_str().unwrap_or("");
    let live = rt.live();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let port = rt
        .listen_addr()
        .map_or(live.config.gateway.port, |a| a.port());
    let loopback = rt.listen_addr().is_none_or(|a| a.ip().is_loopback());
    let allowed = &live.config.gateway.control_ui.allowed_origins;
    if auth::origin_allowed(origin, host, port, loopback, allowed) {
        None
    } else {
        tracing::warn!(%origin, "refused a webhook call from a foreign origin");
        Some(ApiError::forbidden_origin(origin))
    }
}

/// The token a caller sent, in either header.
fn presented_token(headers: &HeaderMap) -> Option<&str> {
    auth::bearer(headers)
        .or_else(|| {
            headers
                .get(TOKEN_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        })
        .filter(|t| !t.is_empty())
}

async fn check_token(
    rt: &Runtime,
    config: &HooksConfig,
    ip: IpAddr,
    presented: Option<&str>,
) -> Result<(), ApiError> {
    let Some(value) = &config.token else {
        tracing::error!("webhooks are enabled without `hooks.token`; every call is refused");
        return Err(misconfigured());
    };
    let expected = resolve_secret(rt, value, "hooks.token").await?;
    match presented {
        Some(given) if constant_time_eq(expected.as_bytes(), given.as_bytes()) => {
            rt.limiter.record_success(ip);
            Ok(())
        }
        _ => {
            tracing::warn!(client = %ip, sent = presented.is_some(), "webhook call with a missing or wrong token");
            Err(refuse(
                rt,
                ip,
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "authentication_error",
                    "unauthorized",
                    "missing or wrong webhook token: send `Authorization: Bearer <token>` or \
                     `x-hearth-token: <token>` with the value of `hooks.token`",
                ),
            ))
        }
    }
}

/// Counts a failed attempt of `ip`: the lockout when this one started it, else `refusal`.
fn refuse(rt: &Runtime, ip: IpAddr, refusal: ApiError) -> ApiError {
    match rt.limiter.record_failure(ip) {
        Some(wait) => ApiError::locked_out(wait),
        None => refusal,
    }
}

/// A `SecretValue` of the webhook settings, read from the secret store when it is a reference
/// (at each call, so `hearth secrets set` takes effect at once).
async fn resolve_secret(
    rt: &Runtime,
    value: &SecretValue,
    setting: &str,
) -> Result<String, ApiError> {
    let found = match value {
        SecretValue::Literal(text) => Some(text.clone()),
        SecretValue::Ref { secret } => {
            let store = rt.secrets().await.map_err(|e| {
                tracing::error!(error = %e, %setting, "the secret store cannot be opened");
                misconfigured()
            })?;
            let name = secret.clone();
            match tokio::task::spawn_blocking(move || store.get(&name)).await {
                Ok(Ok(found)) => found.map(|s| s.expose().to_owned()),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, %setting, "reading the secret store failed");
                    None
                }
                Err(e) => {
                    tracing::error!(error = %e, %setting, "the secret lookup task failed");
                    None
                }
            }
        }
    };
    match found {
        Some(text) if !text.is_empty() => Ok(text),
        _ => {
            let name = value.secret_name().unwrap_or("(literal)");
            tracing::error!(
                %setting,
                secret = %name,
                "a webhook secret is empty or missing from the secret store; add it with `hearth secrets set <name>`"
            );
            Err(misconfigured())
        }
    }
}

/// Reads the body, refusing it as soon as it passes `cap` bytes.
async fn read_body(body: Body, headers: &HeaderMap, cap: usize) -> Result<bytes::Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > cap as u64) {
        return Err(too_large(cap));
    }
    let mut stream = body.into_data_stream();
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::bad_request("the request body could not be read"))?;
        if buf.len() + chunk.len() > cap {
            return Err(too_large(cap));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// The body as JSON; a declared content type other than JSON is refused as such.
fn parse_json(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    if let Some(value) = headers.get(header::CONTENT_TYPE) {
        let text = value.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = text.split(';').next().unwrap_or("").trim();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request_error",
                "unsupported_media_type",
                format!(
                    "the body must be JSON (`Content-Type: application/json`), not `{essence}`; \
                     for GitHub, set the webhook's content type to application/json"
                ),
            ));
        }
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))
}

/// Query parameters that look like a credential. The token never belongs in a URL: URLs are
/// logged by proxies and kept in shell histories.
fn query_carries_secret(query: Option<&str>) -> bool {
    query.into_iter().flat_map(|q| q.split('&')).any(|pair| {
        let key = pair.split('=').next().unwrap_or("").to_ascii_lowercase();
        key.contains("token")
            || key.contains("secret")
            || key.contains("password")
            || matches!(key.as_str(), "key" | "apikey" | "api_key" | "auth")
    })
}

fn too_large(cap: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request_error",
        "body_too_large",
        format!("the body is larger than this webhook's limit of {cap} bytes (`maxBodyBytes`)"),
    )
}

fn method_not_allowed(allowed: &'static str) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        "method_not_allowed",
        format!("use {allowed} here"),
    )
}

pub(super) fn misconfigured() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "api_error",
        "hooks_misconfigured",
        "webhooks are not set up completely on this gateway; its log says what is missing",
    )
}

pub(super) fn internal() -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "api_error",
        "internal",
        "the gateway failed to record the call; see its log",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_the_query_are_spotted() {
        for q in [
            "token=abc",
            "x=1&hearth_token=abc",
            "access_token",
            "Key=1",
            "api_key=1",
            "client_secret=s",
        ] {
            assert!(query_carries_secret(Some(q)), "{q}");
        }
        for q in ["", "x=1", "ref=main&keys=3", "monkey=1"] {
            assert!(!query_carries_secret(Some(q)), "{q}");
        }
        assert!(!query_carries_secret(None));
    }

    #[test]
    fn the_token_comes_from_either_header() {
        let mut h = HeaderMap::new();
        assert_eq!(presented_token(&h), None);
        h.insert(TOKEN_HEADER, " tok ".parse().unwrap());
        assert_eq!(presented_token(&h), Some("tok"));
        h.insert(header::AUTHORIZATION, "Bearer other".parse().unwrap());
        assert_eq!(presented_token(&h), Some("other"));
        h.insert(header::AUTHORIZATION, "Bearer ".parse().unwrap());
        h.remove(TOKEN_HEADER);
        assert_eq!(presented_token(&h), None);
    }

    #[test]
    fn only_json_bodies_are_taken() {
        let mut h = HeaderMap::new();
        assert_eq!(parse_json(&h, br#"{"a":1}"#).unwrap()["a"], 1);
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert!(parse_json(&h, b"[1]").is_ok());
        assert_eq!(
            parse_json(&h, b"{nope").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        h.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        assert_eq!(
            parse_json(&h, b"payload=%7B%7D").unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }
}
