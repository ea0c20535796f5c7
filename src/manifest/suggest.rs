//! "Did you mean": the closest known name to a misspelt one.
//!
//! Every message about an unknown name (kind, field, value, host, pool,
//! volume, network, domain) suggests through here, so that all of them
//! agree on what counts as a typo and on how the hint reads.

/// The candidate closest to `bad`, if it is close enough to be a typo.
///
/// Case is ignored (`domain` finds `Domain`); Jaro-Winkler favours a shared
/// prefix, which is how names in one directory usually differ.
pub fn did_you_mean<'a>(bad: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = bad.to_ascii_lowercase();
    candidates
        .map(|c| {
            let d = if c.to_ascii_lowercase() == lower {
                0.0
            } else {
                1.0 - strsim::jaro_winkler(&lower, &c.to_ascii_lowercase())
            };
            (d, c)
        })
        .filter(|(d, _)| *d < 0.25)
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// `` (did you mean `best`?)`` to append to a message, or nothing when no
/// candidate is close.
pub fn hint<'a>(bad: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    did_you_mean(bad, candidates)
        .map(|best| format!(" (did you mean `{best}`?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_suggested() {
        let known = ["kvm-a", "web"];
        assert_eq!(hint("kvm-b", known.into_iter()), " (did you mean `kvm-a`?)");
        assert_eq!(did_you_mean("WEB", known.into_iter()), Some("web"));
    }

    #[test]
    fn distant_names_are_not() {
        assert_eq!(hint("database", ["kvm-a", "web"].into_iter()), "");
        assert_eq!(hint("anything", std::iter::empty()), "");
    }
}
