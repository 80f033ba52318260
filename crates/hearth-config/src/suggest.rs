//! "Did you mean" suggestions for misspelt keys, enum values and ids.

/// Lowercase without separators, so `base_url`, `BaseURL` and `baseUrl` compare equal.
fn normalized(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The candidates `input` was most likely meant to be, best first; `None` when nothing is
/// close enough to be worth saying.
pub(crate) fn suggest(input: &str, candidates: &[&str]) -> Option<Vec<String>> {
    let wanted = normalized(input);
    if wanted.is_empty() {
        return None;
    }
    if let Some(same) = candidates.iter().find(|c| normalized(c) == wanted) {
        return Some(vec![(*same).to_owned()]);
    }
    // `openai` for `openai-completions`: a truncated value is close to every longer one.
    if wanted.chars().count() >= 3 {
        let prefixed: Vec<String> = candidates
            .iter()
            .filter(|c| normalized(c).starts_with(&wanted))
            .take(3)
            .map(|c| (*c).to_owned())
            .collect();
        if !prefixed.is_empty() {
            return Some(prefixed);
        }
    }
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(&wanted, &normalized(c)), *c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| vec![c.to_owned()])
}

/// "did you mean `a`?" or "did you mean `a` or `b`?".
pub(crate) fn did_you_mean(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    let listed = match quoted.as_slice() {
        [init @ .., last] if !init.is_empty() => format!("{} or {last}", init.join(", ")),
        _ => quoted.concat(),
    };
    format!("did you mean {listed}?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_suggested() {
        let keys = ["port", "bind", "customBindHost", "auth", "controlUi"];
        assert_eq!(suggest("prot", &keys), Some(vec!["port".to_owned()]));
        assert_eq!(
            suggest("custom_bind_host", &keys),
            Some(vec!["customBindHost".to_owned()])
        );
        assert_eq!(
            suggest("contrlUi", &keys),
            Some(vec!["controlUi".to_owned()])
        );
        assert_eq!(suggest("zzz", &keys), None);
        assert_eq!(suggest("", &keys), None);
        let apis = ["openai-completions", "openai-responses", "ollama"];
        assert_eq!(
            suggest("openai", &apis),
            Some(vec![
                "openai-completions".to_owned(),
                "openai-responses".to_owned()
            ])
        );
    }

    #[test]
    fn hints_read_naturally() {
        assert_eq!(did_you_mean(&["port".to_owned()]), "did you mean `port`?");
        assert_eq!(
            did_you_mean(&["a".to_owned(), "b".to_owned(), "c".to_owned()]),
            "did you mean `a`, `b` or `c`?"
        );
    }
}
