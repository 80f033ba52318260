//! One agent turn: from the user's message to the stored answer.
//!
//! [`turn::run_turn`] serialises the turn on its session, loads the transcript, builds the
//! system prompt ([`prompt`]), calls the model, runs the tool calls it asks for ([`tools`]),
//! repeats until it answers, then stores the whole turn in one transaction. Every step is
//! published as `chat` and `agent` events on the bus and, for an HTTP caller, on the turn's own
//! observer channel. A person's message reaches `run_turn` through [`queue::submit`], which
//! decides what a message arriving during a run does (`agents.*.queue.mode`).

pub mod compaction;
pub mod prompt;
pub mod queue;
pub mod skills;
pub mod tools;
pub mod turn;
pub mod workspace;

pub use turn::{
    TurnContext, TurnError, TurnEvent, TurnOutcome, TurnRequest, TurnSession, run_turn,
};
