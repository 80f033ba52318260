//! Slash commands: messages the gateway answers itself, never sent to a model.
//!
//! `/new` and `/reset` start a new session (the old one stays readable), `/stop` aborts the
//! session's runs, `/status` reports the session's model, tokens, cost and context fill.
//! They work the same from every client (the Control UI, `hearth chat`, and later every channel),
//! because they are recognised where a message enters a session.

/// A recognised command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlashCommand {
    /// `/new` or `/reset`.
    Reset,
    /// `/stop`.
    Stop,
    /// `/status`.
    Status,
}

impl SlashCommand {
    /// Recognises a command: the whole message is the command, case-insensitive, surrounding
    /// spaces ignored. Anything else (including unknown `/words`) is an ordinary message.
    pub fn parse(text: &str) -> Option<SlashCommand> {
        let word = text.trim();
        if !word.starts_with('/') || word.contains(char::is_whitespace) {
            return None;
        }
        match word.to_ascii_lowercase().as_str() {
            "/new" | "/reset" => Some(SlashCommand::Reset),
            "/stop" => Some(SlashCommand::Stop),
            "/status" => Some(SlashCommand::Status),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_whole_messages() {
        assert_eq!(SlashCommand::parse("/new"), Some(SlashCommand::Reset));
        assert_eq!(SlashCommand::parse("  /RESET "), Some(SlashCommand::Reset));
        assert_eq!(SlashCommand::parse("/stop"), Some(SlashCommand::Stop));
        assert_eq!(SlashCommand::parse("/status"), Some(SlashCommand::Status));
        assert_eq!(SlashCommand::parse("/new please"), None);
        assert_eq!(SlashCommand::parse("/unknown"), None);
        assert_eq!(SlashCommand::parse("say /new"), None);
    }
}
