//! Slash commands: messages the gateway answers itself, never sent to a model.
//!
//! `/new` and `/reset` start a new session (the old one stays readable), `/stop` aborts the
//! session's runs, `/status` reports the session's model, tokens, cost and context fill,
//! `/compact` summarises the session's older turns now, `/model` shows or switches the session's
//! model. They work the same from every client (the Control UI, `hearth chat`, and later every
//! channel), because they are recognised where a message enters a session.
//!
//! `/link <channel>:<id>`, `/link <code>` and `/unlink` manage the sender's identity links
//! (`crate::identity`); they only mean something in a channel's direct chat.

/// A recognised command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlashCommand {
    /// `/new` or `/reset`.
    Reset,
    /// `/stop`.
    Stop,
    /// `/status`.
    Status,
    /// `/compact`.
    Compact,
    /// `/model`, `/model <provider/model>` or `/model default`.
    Model(ModelChoice),
    /// `/link <channel>:<id>` (start linking the sender with that identity) or `/link <code>`
    /// (prove an identity of a pending link).
    Link(String),
    /// `/unlink`: the sender leaves its identity link.
    Unlink,
}

/// What `/model` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelChoice {
    /// `/model`: show the current model and the choices.
    Show,
    /// `/model default`: back to the agent's model.
    Default,
    /// `/model <provider/model>`.
    Set(String),
}

impl SlashCommand {
    /// [`SlashCommand::parse`], plus the texts of `session.resetTriggers` (matched whole,
    /// case-insensitively) as [`SlashCommand::Reset`].
    pub fn parse_with_triggers(text: &str, triggers: &[String]) -> Option<SlashCommand> {
        SlashCommand::parse(text).or_else(|| {
            let text = text.trim();
            triggers
                .iter()
                .any(|t| !t.trim().is_empty() && t.trim().eq_ignore_ascii_case(text))
                .then_some(SlashCommand::Reset)
        })
    }

    /// Recognises a command: the message is the command word (case-insensitive, surrounding
    /// spaces ignored), followed by an argument only for `/model`. Anything else (including
    /// unknown `/words` and arguments to the other commands) is an ordinary message.
    pub fn parse(text: &str) -> Option<SlashCommand> {
        let text = text.trim();
        if !text.starts_with('/') {
            return None;
        }
        let (word, arg) = match text.split_once(char::is_whitespace) {
            Some((word, arg)) => (word, Some(arg.trim())),
            None => (text, None),
        };
        let word = word.to_ascii_lowercase();
        match (word.as_str(), arg) {
            ("/new" | "/reset", None) => Some(SlashCommand::Reset),
            ("/stop", None) => Some(SlashCommand::Stop),
            ("/status", None) => Some(SlashCommand::Status),
            ("/compact", None) => Some(SlashCommand::Compact),
            ("/link", Some(arg)) if !arg.is_empty() && !arg.contains(char::is_whitespace) => {
                Some(SlashCommand::Link(arg.to_owned()))
            }
            ("/unlink", None) => Some(SlashCommand::Unlink),
            ("/model", None) => Some(SlashCommand::Model(ModelChoice::Show)),
            ("/model", Some(arg)) if !arg.contains(char::is_whitespace) => Some(
                SlashCommand::Model(if arg.eq_ignore_ascii_case("default") {
                    ModelChoice::Default
                } else {
                    ModelChoice::Set(arg.to_owned())
                }),
            ),
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
        assert_eq!(SlashCommand::parse("/compact"), Some(SlashCommand::Compact));
        assert_eq!(SlashCommand::parse("/new please"), None);
        assert_eq!(SlashCommand::parse("/compact now"), None);
        assert_eq!(SlashCommand::parse("/unknown"), None);
        assert_eq!(SlashCommand::parse("say /new"), None);
    }

    #[test]
    fn model_takes_one_argument() {
        assert_eq!(
            SlashCommand::parse("/model"),
            Some(SlashCommand::Model(ModelChoice::Show))
        );
        assert_eq!(
            SlashCommand::parse(" /Model  openai/gpt-5 "),
            Some(SlashCommand::Model(ModelChoice::Set("openai/gpt-5".into())))
        );
        assert_eq!(
            SlashCommand::parse("/model DEFAULT"),
            Some(SlashCommand::Model(ModelChoice::Default))
        );
        assert_eq!(SlashCommand::parse("/model a/b c/d"), None);
    }

    #[test]
    fn link_takes_one_argument_and_unlink_none() {
        assert_eq!(
            SlashCommand::parse("/link discord:42"),
            Some(SlashCommand::Link("discord:42".into()))
        );
        assert_eq!(
            SlashCommand::parse(" /LINK 123456 "),
            Some(SlashCommand::Link("123456".into()))
        );
        assert_eq!(SlashCommand::parse("/link"), None);
        assert_eq!(SlashCommand::parse("/link a b"), None);
        assert_eq!(SlashCommand::parse("/unlink"), Some(SlashCommand::Unlink));
        assert_eq!(SlashCommand::parse("/unlink me"), None);
        let triggers = ["start over".to_owned(), " ".to_owned()];
        assert_eq!(
            SlashCommand::parse_with_triggers("  Start Over ", &triggers),
            Some(SlashCommand::Reset)
        );
        assert_eq!(
            SlashCommand::parse_with_triggers("start over now", &triggers),
            None
        );
        assert_eq!(SlashCommand::parse_with_triggers("", &triggers), None);
        assert_eq!(
            SlashCommand::parse_with_triggers("/stop", &triggers),
            Some(SlashCommand::Stop)
        );
    }
}
