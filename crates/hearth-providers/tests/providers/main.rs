//! Every provider against its vendor's fake, over real loopback HTTP: the shared conformance
//! suite run for each API kind, plus what only one API kind has. One binary, one module per kind.

mod conformance;

mod anthropic_messages;
mod google_generative_ai;
mod ollama;
mod openai_completions;
mod openai_responses;
