//! A client for the Hearth gateway's WebSocket protocol.
//!
//! [`Client::connect`] performs the handshake (`connect.challenge` → `connect` → `hello-ok`);
//! afterwards [`Client::call`] sends typed requests and [`Client::events`] subscribes to pushed
//! events. One reader task routes responses to their waiting callers by id and fans events out
//! through a broadcast channel, so many calls can be in flight on one connection.
//!
//! The CLI, the end-to-end tests and the benchmarks all talk to the gateway through this crate,
//! which keeps them honest about the wire format: nothing here reaches into the gateway's memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hearth_protocol::PROTOCOL_VERSION;
use hearth_protocol::frame::{ErrorShape, EventFrame, Frame, RequestFrame, ResponseFrame};
use hearth_protocol::methods::{ClientInfo, ConnectAuth, ConnectParams, HelloOk, MethodSpec};
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};

/// What can go wrong talking to the gateway.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the gateway at {url}: {message}. Is it running? Start it with `hearth gateway start`."
    )]
    Connect { url: String, message: String },
    #[error("the gateway refused the WebSocket upgrade with HTTP {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("handshake failed: {0}")]
    Handshake(String),
    #[error("{}", .0.message)]
    Rejected(ErrorShape),
    #[error("the connection to the gateway closed")]
    Closed,
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("no answer from the gateway within {0:?}")]
    Timeout(Duration),
}

impl ClientError {
    /// The gateway's error, when the failure was an error response.
    pub fn shape(&self) -> Option<&ErrorShape> {
        match self {
            ClientError::Rejected(shape) => Some(shape),
            _ => None,
        }
    }
}

/// How to reach and authenticate to a gateway.
#[derive(Clone)]
pub struct ConnectOptions {
    /// `ws://127.0.0.1:18789/`.
    pub url: String,
    pub token: Option<String>,
    pub password: Option<String>,
    pub client: ClientInfo,
    /// Sent as the `Origin` header, as a browser would.
    pub origin: Option<String>,
    /// Upper bound for the handshake and for each call.
    pub timeout: Duration,
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("client", &self.client.id)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl ConnectOptions {
    pub fn new(url: impl Into<String>, token: Option<String>, client_id: &str) -> Self {
        Self {
            url: url.into(),
            token,
            password: None,
            client: ClientInfo {
                id: client_id.to_owned(),
                display_name: None,
                version: env!("CARGO_PKG_VERSION").to_owned(),
                platform: std::env::consts::OS.to_owned(),
                mode: Some("cli".to_owned()),
            },
            origin: None,
            timeout: Duration::from_secs(30),
        }
    }
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<ResponseFrame>>>>;

/// A connected, authenticated client.
#[derive(Debug)]
pub struct Client {
    out: mpsc::UnboundedSender<WsMessage>,
    pending: Pending,
    events: broadcast::Sender<EventFrame>,
    next_id: AtomicU64,
    hello: HelloOk,
    timeout: Duration,
    reader: tokio::task::JoinHandle<()>,
}

impl Client {
    /// Opens the socket and completes the handshake.
    pub async fn connect(opts: ConnectOptions) -> Result<Client, ClientError> {
        let mut request =
            opts.url
                .as_str()
                .into_client_request()
                .map_err(|e| ClientError::Connect {
                    url: opts.url.clone(),
                    message: e.to_string(),
                })?;
        if let Some(origin) = &opts.origin {
            let value = origin.parse().map_err(|_| ClientError::Connect {
                url: opts.url.clone(),
                message: "invalid origin".to_owned(),
            })?;
            request.headers_mut().insert("origin", value);
        }
        let connecting = tokio_tungstenite::connect_async(request);
        let (socket, _) = match tokio::time::timeout(opts.timeout, connecting).await {
            Err(_) => return Err(ClientError::Timeout(opts.timeout)),
            Ok(Err(tungstenite::Error::Http(resp))) => {
                let status = resp.status().as_u16();
                let body = resp
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                return Err(ClientError::Refused {
                    status,
                    message: body,
                });
            }
            Ok(Err(e)) => {
                return Err(ClientError::Connect {
                    url: opts.url.clone(),
                    message: e.to_string(),
                });
            }
            Ok(Ok(pair)) => pair,
        };
        let (mut sink, mut stream) = socket.split();

        // The gateway speaks first: connect.challenge.
        let first = tokio::time::timeout(opts.timeout, next_frame(&mut stream))
            .await
            .map_err(|_| ClientError::Timeout(opts.timeout))??;
        match first {
            Frame::Event(ev) if ev.event == "connect.challenge" => {}
            other => {
                return Err(ClientError::Handshake(format!(
                    "expected connect.challenge, got {other:?}"
                )));
            }
        }
        let params = ConnectParams {
            min_protocol: PROTOCOL_VERSION,
            max_protocol: PROTOCOL_VERSION,
            client: opts.client.clone(),
            role: Some("operator".to_owned()),
            scopes: Vec::new(),
            auth: Some(ConnectAuth {
                token: opts.token.clone(),
                password: opts.password.clone(),
            }),
        };
        let connect = Frame::Req(RequestFrame {
            id: "connect".to_owned(),
            method: "connect".to_owned(),
            params: serde_json::to_value(params)
                .map_err(|e| ClientError::Protocol(e.to_string()))?,
        });
        sink.send(WsMessage::text(encode(&connect)?))
            .await
            .map_err(|_| ClientError::Closed)?;
        let answer = tokio::time::timeout(opts.timeout, next_frame(&mut stream))
            .await
            .map_err(|_| ClientError::Timeout(opts.timeout))??;
        let hello: HelloOk = match answer {
            Frame::Res(res) if res.ok => serde_json::from_value(res.payload.unwrap_or_default())
                .map_err(|e| ClientError::Handshake(format!("bad hello-ok: {e}")))?,
            Frame::Res(res) => {
                return Err(res
                    .error
                    .map(ClientError::Rejected)
                    .unwrap_or(ClientError::Closed));
            }
            other => {
                return Err(ClientError::Handshake(format!(
                    "expected hello-ok, got {other:?}"
                )));
            }
        };

        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<WsMessage>();
        let pending: Pending = Arc::default();
        let (events, _) = broadcast::channel(4096);

        let reader_pending = pending.clone();
        let reader_events = events.clone();
        let reader = tokio::spawn(async move {
            loop {
                tokio::select! {
                    out = out_rx.recv() => match out {
                        Some(msg) => {
                            if sink.send(msg).await.is_err() {
                                break;
                            }
                        }
                        None => {
                            let _ = sink.send(WsMessage::Close(None)).await;
                            break;
                        }
                    },
                    incoming = next_frame(&mut stream) => match incoming {
                        Ok(Frame::Res(res)) => {
                            // A response to a frame too broken to carry an id has `id: null`.
                            let key = res.id.clone().unwrap_or_default();
                            let waiter = lock(&reader_pending).remove(&key);
                            if let Some(waiter) = waiter {
                                let _ = waiter.send(res);
                            }
                        }
                        Ok(Frame::Event(ev)) => {
                            let _ = reader_events.send(ev);
                        }
                        Ok(Frame::Req(_)) => {}
                        Err(ClientError::Protocol(msg)) => {
                            tracing::warn!(%msg, "ignoring a frame the client cannot parse");
                        }
                        Err(_) => break,
                    },
                }
            }
            // Fail every waiting call: dropping the senders wakes them with Closed.
            lock(&reader_pending).clear();
        });

        Ok(Client {
            out: out_tx,
            pending,
            events,
            next_id: AtomicU64::new(1),
            hello,
            timeout: opts.timeout,
            reader,
        })
    }

    /// The gateway's `hello-ok`: its version, methods, events and limits.
    pub fn hello(&self) -> &HelloOk {
        &self.hello
    }

    /// Subscribes to events. Subscribe before sending the request whose events you want.
    pub fn events(&self) -> broadcast::Receiver<EventFrame> {
        self.events.subscribe()
    }

    /// A typed call: `client.call::<spec::Status>(Empty {})`.
    pub async fn call<M: MethodSpec>(&self, params: M::Params) -> Result<M::Result, ClientError> {
        let params =
            serde_json::to_value(params).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let payload = self.request(M::NAME, params).await?;
        serde_json::from_value(payload)
            .map_err(|e| ClientError::Protocol(format!("bad result for {}: {e}", M::NAME)))
    }

    /// An untyped call; answers the response's payload.
    pub async fn request(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed).to_string();
        let frame = Frame::Req(RequestFrame {
            id: id.clone(),
            method: method.to_owned(),
            params,
        });
        let response = self.send_and_wait(id, encode(&frame)?).await?;
        if response.ok {
            Ok(response.payload.unwrap_or(Value::Null))
        } else {
            Err(response
                .error
                .map(ClientError::Rejected)
                .unwrap_or(ClientError::Closed))
        }
    }

    /// Sends raw text as a frame (for tests of malformed input) and waits for the response
    /// carrying `expect_id` (use `None` for frames too broken to carry an id).
    pub async fn send_raw(
        &self,
        text: &str,
        expect_id: Option<&str>,
    ) -> Result<ResponseFrame, ClientError> {
        let key = expect_id.unwrap_or("").to_owned();
        self.send_and_wait(key, text.to_owned()).await
    }

    async fn send_and_wait(&self, id: String, text: String) -> Result<ResponseFrame, ClientError> {
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id.clone(), tx);
        if self.out.send(WsMessage::text(text)).is_err() {
            lock(&self.pending).remove(&id);
            return Err(ClientError::Closed);
        }
        match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(res)) => Ok(res),
            Ok(Err(_)) => Err(ClientError::Closed),
            Err(_) => {
                lock(&self.pending).remove(&id);
                Err(ClientError::Timeout(self.timeout))
            }
        }
    }

    /// Closes the connection politely.
    pub async fn close(self) {
        drop(self.out);
        let _ = tokio::time::timeout(Duration::from_secs(2), self.reader).await;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn encode(frame: &Frame) -> Result<String, ClientError> {
    serde_json::to_string(frame).map_err(|e| ClientError::Protocol(e.to_string()))
}

async fn next_frame<S>(stream: &mut S) -> Result<Frame, ClientError>
where
    S: futures_util::Stream<Item = Result<WsMessage, tungstenite::Error>> + Unpin,
{
    loop {
        match stream.next().await {
            None | Some(Err(_)) => return Err(ClientError::Closed),
            Some(Ok(WsMessage::Text(text))) => {
                return serde_json::from_str::<Frame>(&text)
                    .map_err(|e| ClientError::Protocol(e.to_string()));
            }
            Some(Ok(WsMessage::Close(_))) => return Err(ClientError::Closed),
            Some(Ok(_)) => {}
        }
    }
}
