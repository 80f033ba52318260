//! `web_fetch`: a web page as text, without letting a model reach private networks.
//!
//! A model can be talked (by a page, a message, a file) into fetching `http://169.254.169.254/`
//! or the router's admin page. So, unless `tools.web.fetch.allowPrivateNetwork` is on:
//! - only `http` and `https` URLs are fetched, never through a proxy;
//! - a host given as an IP address is checked before connecting;
//! - a host name is resolved by [`GuardedResolver`], which refuses it when any of its addresses
//!   is loopback, private, link-local, CGNAT, multicast, unspecified, reserved or documentation
//!   space, and hands the connection exactly the addresses it checked: there is no second DNS
//!   lookup a rebinding attack could answer differently;
//! - redirects are followed by hand, at most five, each hop checked the same way.
//!
//! Bodies are capped (`maxBytes`) and so is the time (`timeoutSec`). HTML is turned into
//! readable text ([`super::html`]); other text types come back as they are; binary content is
//! refused before its body is read.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use hearth_config::WebFetchConfig;
use hearth_providers::ToolSpec;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde::Deserialize;
use serde_json::{Value, json};

use super::html::html_to_text;
use super::{Tool, ToolContext, ToolError, ToolOutput, parse_args};

/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 5;

/// `web_fetch`.
#[derive(Debug, Clone)]
pub struct WebFetchTool {
    config: WebFetchConfig,
    /// Addresses treated as public, so unit tests can use a loopback server for the cases that
    /// must succeed. It exists only in test builds: no config or input can reach it.
    #[cfg(test)]
    public_for_tests: Vec<IpAddr>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FetchArgs {
    url: String,
    max_bytes: Option<u64>,
}

/// Which addresses a fetch may connect to.
#[derive(Debug, Clone, Default)]
struct NetPolicy {
    allow_private: bool,
    #[cfg(test)]
    public_for_tests: Vec<IpAddr>,
}

impl NetPolicy {
    fn check(&self, ip: IpAddr) -> Result<(), String> {
        #[cfg(test)]
        if self.public_for_tests.contains(&ip) {
            return Ok(());
        }
        if self.allow_private {
            return Ok(());
        }
        match non_public_reason(ip) {
            None => Ok(()),
            Some(why) => Err(format!(
                "{ip} is {why}; web_fetch does not reach private networks (tools.web.fetch.allowPrivateNetwork)"
            )),
        }
    }
}

/// Why an address is not on the public internet, if it is not.
pub fn non_public_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_reason(v4);
            }
            let seg = v6.segments();
            if v6.is_unspecified() {
                Some("the unspecified address")
            } else if v6.is_loopback() {
                Some("a loopback address")
            } else if seg[0] & 0xfe00 == 0xfc00 {
                Some("a private (unique local) address")
            } else if seg[0] & 0xffc0 == 0xfe80 || seg[0] & 0xffc0 == 0xfec0 {
                Some("a link-local address")
            } else if v6.is_multicast() {
                Some("a multicast address")
            } else if seg[0] == 0x2001 && seg[1] == 0x0db8 {
                Some("a documentation address")
            } else if seg[0] == 0x0064 && seg[1] == 0xff9b {
                // NAT64: the IPv4 address is in the last 32 bits.
                v4_reason(Ipv4Addr::new(
                    (seg[6] >> 8) as u8,
                    seg[6] as u8,
                    (seg[7] >> 8) as u8,
                    seg[7] as u8,
                ))
            } else if seg[0] == 0x2002 {
                // 6to4: the IPv4 address follows the prefix.
                v4_reason(Ipv4Addr::new(
                    (seg[1] >> 8) as u8,
                    seg[1] as u8,
                    (seg[2] >> 8) as u8,
                    seg[2] as u8,
                ))
            } else if seg[..6].iter().all(|s| *s == 0) {
                // IPv4-compatible (deprecated) addresses.
                Some("a reserved address")
            } else {
                None
            }
        }
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("an unspecified (0.0.0.0/8) address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private (RFC 1918) address")
    } else if ip.is_link_local() {
        Some("a link-local address (cloud metadata lives here)")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a carrier-grade NAT (100.64.0.0/10) address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if a >= 240 {
        Some("a reserved or broadcast address")
    } else if a == 192 && b == 0 && c == 0 {
        Some("an IETF protocol assignment (192.0.0.0/24) address")
    } else if (a == 192 && b == 0 && c == 2)
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
    {
        Some("a documentation address")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("a benchmarking (198.18.0.0/15) address")
    } else {
        None
    }
}

/// Resolves host names for a fetch and refuses any that leads to a non-public address.
#[derive(Debug, Clone)]
struct GuardedResolver {
    policy: Arc<NetPolicy>,
    /// Why the last refused name was refused, for the tool's answer.
    refused: Arc<Mutex<Option<String>>>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let refused = self.refused.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() {
                return Err(format!("`{host}` has no address").into());
            }
            // One bad address refuses the name: a rebinding answer may mix them.
            for addr in &addrs {
                if let Err(why) = policy.check(addr.ip()) {
                    let why = format!("`{host}`: {why}");
                    *refused.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.clone());
                    return Err(why.into());
                }
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

impl WebFetchTool {
    pub fn new(config: WebFetchConfig) -> Self {
        Self {
            config,
            #[cfg(test)]
            public_for_tests: Vec::new(),
        }
    }

    fn policy(&self) -> NetPolicy {
        NetPolicy {
            allow_private: self.config.allow_private_network,
            #[cfg(test)]
            public_for_tests: self.public_for_tests.clone(),
        }
    }
}

#[async_trait]
impl Tool for WebFetchTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "web_fetch".to_owned(),
            description: format!(
                "Fetch an http(s) URL and answer its content as text (HTML is converted to readable text; binary content is refused). At most {} bytes are read. Private and local network addresses are refused.",
                self.config.max_bytes
            ),
            parameters: json!({
                "type": "object",
                "properties": {
                    "url": { "type": "string", "description": "An http:// or https:// URL." },
                    "maxBytes": { "type": "integer", "minimum": 1, "description": "Read at most this many bytes of the body." }
                },
                "required": ["url"]
            }),
        }
    }

    async fn call(&self, ctx: &ToolContext, arguments: Value) -> ToolOutput {
        let args: FetchArgs = match parse_args(arguments) {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        let timeout = Duration::from_secs(self.config.timeout_sec.max(1));
        let max_bytes = args
            .max_bytes
            .unwrap_or(self.config.max_bytes)
            .min(self.config.max_bytes);
        let max_bytes = usize::try_from(max_bytes).unwrap_or(usize::MAX);
        let policy = self.policy();
        let fetch = fetch(&policy, &args.url, max_bytes, timeout);
        let result = tokio::select! {
            r = tokio::time::timeout(timeout, fetch) => r.unwrap_or_else(|_| Err(ToolError::Failed(format!(
                "the fetch took longer than {} s (tools.web.fetch.timeoutSec)", timeout.as_secs()
            )))),
            () = ctx.cancel.cancelled() => Err(ToolError::Failed("the run was aborted".to_owned())),
        };
        match result {
            Ok(page) => page.into_output(),
            Err(e) => {
                tracing::info!(run_id = %ctx.run_id, error = %e, "web_fetch refused or failed");
                e.into()
            }
        }
    }
}

/// A fetched page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub url: String,
    pub status: u16,
    pub content_type: String,
    pub text: String,
    /// The body was longer than the cap.
    pub truncated: bool,
}

impl Page {
    fn into_output(self) -> ToolOutput {
        let mut text = format!(
            "URL: {}\nStatus: {}\nContent-Type: {}\n\n{}",
            self.url, self.status, self.content_type, self.text
        );
        if self.truncated {
            text.push_str("\n\n[the body was cut at the byte limit]");
        }
        ToolOutput {
            text,
            is_error: !(200..300).contains(&self.status),
        }
    }
}

fn refused(why: impl Into<String>) -> ToolError {
    ToolError::Refused(why.into())
}

/// Checks a URL's scheme and, for an IP-address host, the address.
fn check_url(policy: &NetPolicy, url: &Url) -> Result<(), ToolError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refused(format!(
            "only http and https URLs can be fetched, not `{}:`",
            url.scheme()
        )));
    }
    let host = url
        .host_str()
        .ok_or_else(|| refused(format!("`{url}` has no host")))?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        policy.check(ip).map_err(refused)?;
    }
    Ok(())
}

async fn fetch(
    policy: &NetPolicy,
    url: &str,
    max_bytes: usize,
    timeout: Duration,
) -> Result<Page, ToolError> {
    let mut url = Url::parse(url.trim())
        .map_err(|e| ToolError::Arguments(format!("`url` is not a URL: {e}")))?;
    let policy = Arc::new(policy.clone());
    let resolver = GuardedResolver {
        policy: policy.clone(),
        refused: Arc::new(Mutex::new(None)),
    };
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(resolver.clone()))
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .user_agent(concat!(
            "hearth/",
            env!("CARGO_PKG_VERSION"),
            " (web_fetch)"
        ))
        .build()
        .map_err(|e| ToolError::Failed(format!("cannot set up the HTTP client: {e}")))?;
    let mut hops = 0;
    let response = loop {
        check_url(&policy, &url)?;
        let sent = client
            .get(url.clone())
            .header(
                reqwest::header::ACCEPT,
                "text/html,application/xhtml+xml,text/plain;q=0.9,application/json;q=0.8,*/*;q=0.5",
            )
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                let blocked = resolver
                    .refused
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take();
                return Err(match blocked {
                    Some(why) => refused(why),
                    None => {
                        ToolError::Failed(format!("fetching {url} failed: {}", error_chain(&e)))
                    }
                });
            }
        };
        if response.status().is_redirection()
            && let Some(location) = response.headers().get(reqwest::header::LOCATION)
        {
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err(ToolError::Failed(format!(
                    "more than {MAX_REDIRECTS} redirects; stopped at {url}"
                )));
            }
            let location = location
                .to_str()
                .map_err(|_| ToolError::Failed("a redirect's Location is not text".to_owned()))?;
            url = url
                .join(location)
                .map_err(|e| ToolError::Failed(format!("a redirect's Location is invalid: {e}")))?;
            continue;
        }
        break response;
    };
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let kind = kind_of(&content_type);
    if kind == Kind::Binary {
        return Err(refused(format!(
            "{url} is `{content_type}`, which is not text; web_fetch only reads text and HTML"
        )));
    }
    let final_url = response.url().clone();
    let (body, truncated) = read_capped(response, max_bytes).await?;
    let kind = match kind {
        Kind::Unknown => sniff(&body),
        k => k,
    };
    let raw = String::from_utf8_lossy(&body);
    let text = match kind {
        Kind::Html => html_to_text(&raw, Some(&final_url)),
        Kind::Text => raw.into_owned(),
        Kind::Binary | Kind::Unknown => {
            return Err(refused(format!(
                "{url} does not look like text; web_fetch only reads text and HTML"
            )));
        }
    };
    Ok(Page {
        url: final_url.to_string(),
        status,
        content_type,
        text,
        truncated,
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

async fn read_capped(
    mut response: reqwest::Response,
    max_bytes: usize,
) -> Result<(Vec<u8>, bool), ToolError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ToolError::Failed(format!("reading the body failed: {}", error_chain(&e))))?
    {
        let room = max_bytes - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Html,
    Text,
    Binary,
    Unknown,
}

fn kind_of(content_type: &str) -> Kind {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if mime.is_empty() {
        Kind::Unknown
    } else if mime == "text/html" || mime == "application/xhtml+xml" {
        Kind::Html
    } else if mime.starts_with("text/")
        || mime.ends_with("+json")
        || mime.ends_with("+xml")
        || matches!(
            mime.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-javascript"
                | "application/ecmascript"
                | "application/x-ndjson"
                | "application/yaml"
                | "application/x-yaml"
                | "application/toml"
        )
    {
        Kind::Text
    } else {
        Kind::Binary
    }
}

/// The kind of a body sent without a content type.
fn sniff(body: &[u8]) -> Kind {
    let head = &body[..body.len().min(1024)];
    if head.contains(&0) || std::str::from_utf8(head).is_err() && body.len() < 1024 {
        return Kind::Binary;
    }
    let start = String::from_utf8_lossy(head)
        .trim_start()
        .to_ascii_lowercase();
    if start.starts_with("<!doctype html") || start.starts_with("<html") {
        Kind::Html
    } else {
        Kind::Text
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::http::header;
    use axum::response::{IntoResponse, Redirect};
    use axum::routing::get;

    struct Server {
        addr: SocketAddr,
        hits: Arc<AtomicUsize>,
    }

    async fn server() -> Server {
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = Router::new()
            .route(
                "/page",
                get(|| async {
                    (
                        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                        "<html><head><title>T</title></head><body><h1>Hello</h1><p>World <a href=\"/next\">next</a></p></body></html>",
                    )
                }),
            )
            .route("/plain", get(|| async { "just text" }))
            .route("/big", get(|| async { "x".repeat(10_000) }))
            .route(
                "/image",
                get(|| async { ([(header::CONTENT_TYPE, "image/png")], vec![0u8, 1, 2]) }),
            )
            .route("/to-page", get(|| async { Redirect::temporary("/page") }))
            .route(
                "/to-private",
                get(|| async { Redirect::temporary("http://10.0.0.1/secret") }),
            )
            .route(
                "/to-v6-loopback",
                get(|| async { Redirect::temporary("http://[::1]/secret").into_response() }),
            )
            .route("/loop", get(|| async { Redirect::temporary("/loop") }))
            .layer(axum::middleware::from_fn(
                move |req: axum::extract::Request, next: axum::middleware::Next| {
                    let counter = counter.clone();
                    async move {
                        counter.fetch_add(1, Ordering::SeqCst);
                        next.run(req).await
                    }
                },
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Server { addr, hits }
    }

    fn strict() -> WebFetchTool {
        WebFetchTool::new(WebFetchConfig::default())
    }

    /// A tool for which the loopback test server counts as public.
    fn trusting_loopback() -> WebFetchTool {
        let mut tool = strict();
        tool.public_for_tests = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
        tool
    }

    async fn fetch_with(tool: &WebFetchTool, url: &str) -> ToolOutput {
        let home = tempfile::tempdir().unwrap();
        let ctx = testing::context(home.path(), hearth_config::Config::default()).await;
        tool.call(&ctx, json!({ "url": url })).await
    }

    #[test]
    fn address_classes() {
        let blocked = [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.100.100.200",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
        ];
        for ip in blocked {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(non_public_reason(ip).is_some(), "{ip} should be blocked");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "100.128.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(non_public_reason(ip), None, "{ip} is public");
        }
    }

    #[tokio::test]
    async fn private_and_local_addresses_are_refused_before_connecting() {
        let s = server().await;
        let port = s.addr.port();
        for url in [
            format!("http://127.0.0.1:{port}/page"),
            format!("http://localhost:{port}/page"),
            format!("http://[::1]:{port}/page"),
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "http://10.0.0.1/".to_owned(),
            "http://2130706433/".to_owned(),
            format!("http://[::ffff:127.0.0.1]:{port}/page"),
        ] {
            let out = fetch_with(&strict(), &url).await;
            assert!(out.is_error, "{url}: {out:?}");
            assert!(out.text.contains("private networks"), "{url}: {}", out.text);
        }
        for url in ["file:///etc/passwd", "ftp://example.com/x"] {
            let out = fetch_with(&strict(), url).await;
            assert!(
                out.is_error && out.text.contains("only http"),
                "{url}: {out:?}"
            );
        }
        assert_eq!(
            s.hits.load(Ordering::SeqCst),
            0,
            "nothing reached the server"
        );
    }

    #[tokio::test]
    async fn html_text_and_redirects_through_a_public_server() {
        let s = server().await;
        let base = format!("http://127.0.0.1:{}", s.addr.port());
        let tool = trusting_loopback();

        let out = fetch_with(&tool, &format!("{base}/to-page")).await;
        assert!(!out.is_error, "{out:?}");
        assert!(
            out.text
                .starts_with(&format!("URL: {base}/page\nStatus: 200\n")),
            "{}",
            out.text
        );
        assert!(
            out.text
                .ends_with(&format!("Title: T\n\n# Hello\n\nWorld next ({base}/next)")),
            "{}",
            out.text
        );

        let out = fetch_with(&tool, &format!("{base}/plain")).await;
        assert!(out.text.ends_with("\n\njust text"), "{}", out.text);

        let out = fetch_with(&tool, &format!("{base}/image")).await;
        assert!(out.is_error && out.text.contains("not text"), "{out:?}");

        let home = tempfile::tempdir().unwrap();
        let ctx = testing::context(home.path(), hearth_config::Config::default()).await;
        let out = tool
            .call(&ctx, json!({"url": format!("{base}/big"), "maxBytes": 100}))
            .await;
        assert!(
            out.text
                .contains(&format!("\n\n{}\n\n[the body was cut", "x".repeat(100)))
        );

        let out = fetch_with(&tool, &format!("{base}/loop")).await;
        assert!(out.is_error && out.text.contains("redirects"), "{out:?}");
    }

    #[tokio::test]
    async fn a_redirect_to_a_private_address_is_refused() {
        let s = server().await;
        let base = format!("http://127.0.0.1:{}", s.addr.port());
        let tool = trusting_loopback();
        for path in ["/to-private", "/to-v6-loopback"] {
            let out = fetch_with(&tool, &format!("{base}{path}")).await;
            assert!(out.is_error, "{path}: {out:?}");
            assert!(
                out.text.contains("private networks"),
                "{path}: {}",
                out.text
            );
        }
    }

    #[tokio::test]
    async fn the_test_override_is_not_reachable_from_config() {
        // Every config-built tool starts without the override, whatever the config says...
        let configured: WebFetchConfig =
            serde_json::from_value(json!({"enabled": true, "maxBytes": 1000})).unwrap();
        let tool = WebFetchTool::new(configured);
        assert!(tool.public_for_tests.is_empty());
        let s = server().await;
        let out = fetch_with(&tool, &format!("http://127.0.0.1:{}/page", s.addr.port())).await;
        assert!(out.is_error && out.text.contains("private networks"));
        // ...and the config has no key that could set it.
        for key in ["publicForTests", "public_for_tests"] {
            let parsed = serde_json::from_value::<WebFetchConfig>(json!({ key: ["127.0.0.1"] }));
            assert!(parsed.is_err(), "{key} was accepted");
        }
        // Only allowPrivateNetwork opens loopback, and it is off by default.
        assert!(!WebFetchConfig::default().allow_private_network);
        let open = WebFetchTool::new(WebFetchConfig {
            allow_private_network: true,
            ..WebFetchConfig::default()
        });
        let out = fetch_with(&open, &format!("http://127.0.0.1:{}/plain", s.addr.port())).await;
        assert!(!out.is_error, "{out:?}");
    }

    #[test]
    fn content_kinds() {
        assert_eq!(kind_of("text/html; charset=utf-8"), Kind::Html);
        assert_eq!(kind_of("application/ld+json"), Kind::Text);
        assert_eq!(kind_of("text/markdown"), Kind::Text);
        assert_eq!(kind_of("application/pdf"), Kind::Binary);
        assert_eq!(kind_of(""), Kind::Unknown);
        assert_eq!(sniff(b"<!DOCTYPE html><p>x"), Kind::Html);
        assert_eq!(sniff(b"plain"), Kind::Text);
        assert_eq!(sniff(b"\x00\x01"), Kind::Binary);
    }
}
