//! The event bus: every event the gateway pushes goes through here to every WebSocket client.
//!
//! Events are serialised once, when published, and only when someone listens; each connection
//! then wraps the same JSON in a frame with its own `seq`.

use std::sync::Arc;

use hearth_protocol::events::{Event, EventName};
use tokio::sync::broadcast;

/// Events buffered per slow subscriber before it starts missing some (it is told by a gap in
/// `seq`).
const CAPACITY: usize = 1024;

/// An event ready to frame.
#[derive(Debug)]
pub struct BusEvent {
    pub name: EventName,
    pub payload_json: String,
}

impl BusEvent {
    /// The event frame for one connection.
    pub fn frame(&self, seq: u64) -> String {
        format!(
            r#"{{"type":"event","event":"{}","payload":{},"seq":{seq}}}"#,
            self.name.name(),
            self.payload_json
        )
    }
}

#[derive(Debug, Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<BusEvent>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(CAPACITY).0,
        }
    }
}

impl EventBus {
    /// Publishes an event built only if someone is listening.
    pub fn publish_with(&self, build: impl FnOnce() -> Event) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        let event = build();
        let payload_json =
            serde_json::to_string(&event.payload()).unwrap_or_else(|_| "null".into());
        let _ = self.tx.send(Arc::new(BusEvent {
            name: event.name(),
            payload_json,
        }));
    }

    pub fn publish(&self, event: Event) {
        self.publish_with(|| event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<BusEvent>> {
        self.tx.subscribe()
    }

    pub fn has_subscribers(&self) -> bool {
        self.tx.receiver_count() > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_protocol::events::Tick;

    #[tokio::test]
    async fn frames_carry_the_connection_seq() {
        let bus = EventBus::default();
        let mut rx = bus.subscribe();
        bus.publish(Event::Tick(Tick { ts: 5 }));
        let ev = rx.recv().await.unwrap();
        let frame: serde_json::Value = serde_json::from_str(&ev.frame(7)).unwrap();
        assert_eq!(
            frame,
            serde_json::json!({"type":"event","event":"tick","payload":{"ts":5},"seq":7})
        );
    }

    #[test]
    fn nothing_is_built_without_listeners() {
        let bus = EventBus::default();
        bus.publish_with(|| panic!("built without a listener"));
    }
}
