//! Secrets in plans: graphics passwords (`passwd='…'`, which the secure
//! XML read keeps so that a patched define does not drop them) are masked
//! wherever a plan is shown — the XML a step carries, the device XML of
//! live attaches, and the `from`/`to` of field changes — and never enter
//! a printed fingerprint. Saved plans keep them (apply executes that XML;
//! the file is written with mode 0600).

/// The attribute whose value is a secret in libvirt XML.
const SECRET_ATTR: &str = "passwd";
pub const REDACTED: &str = "(redacted)";

/// Each secret value in `text`, with its byte range (quotes excluded).
fn secret_spans(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(SECRET_ATTR).map(|i| i + from) {
        from = i + SECRET_ATTR.len();
        // An attribute name: after whitespace, then `=` (spaces allowed
        // around it, as XML allows), then a quoted value.
        if i == 0 || !bytes[i - 1].is_ascii_whitespace() {
            continue;
        }
        let mut j = from;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        if bytes.get(j) != Some(&b'=') {
            continue;
        }
        j += 1;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        let Some(&q) = bytes.get(j).filter(|q| **q == b'"' || **q == b'\'') else {
            continue;
        };
        let Some(len) = text[j + 1..].find(q as char) else {
            continue;
        };
        out.push((j + 1, j + 1 + len));
        from = j + 1 + len;
    }
    out
}

/// `text` with every `passwd` value replaced by `(redacted)`.
pub fn redact_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, end) in secret_spans(text) {
        out.push_str(&text[last..start]);
        out.push_str(REDACTED);
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

/// The `passwd` values in `text`.
pub fn passwords(text: &str) -> Vec<&str> {
    secret_spans(text)
        .into_iter()
        .map(|(s, e)| &text[s..e])
        .collect()
}

/// Whether a field change's field names a secret (`graphics.passwd`):
/// then its values are masked whole.
pub fn is_secret_field(field: &str) -> bool {
    field
        .rsplit(['.', '@', '[', '/'])
        .next()
        .is_some_and(|last| last.trim_end_matches(']') == SECRET_ATTR)
}

/// Mask the secrets in every string of a JSON value, returning them.
pub fn redact_json(v: &mut serde_json::Value, secrets: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => {
            let found = passwords(s);
            if !found.is_empty() {
                secrets.extend(found.iter().map(|p| p.to_string()));
                *s = redact_passwords(s);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| redact_json(x, secrets)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| redact_json(x, secrets)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_passwords(r#"<graphics type="vnc" passwd="s3cret" port="-1"/>"#),
            r#"<graphics type="vnc" passwd="(redacted)" port="-1"/>"#
        );
        assert_eq!(
            redact_passwords("<graphics type='spice' passwd = 'a b'/><x passwdValidTo='1'/>"),
            "<graphics type='spice' passwd = '(redacted)'/><x passwdValidTo='1'/>"
        );
        assert_eq!(redact_passwords("<a b='1'/>"), "<a b='1'/>");
        assert_eq!(redact_passwords("mypasswd='x'"), "mypasswd='x'");
        assert_eq!(
            passwords("<g passwd='p1'/><g\npasswd=\"p2\"/>"),
            ["p1", "p2"]
        );
    }

    #[test]
    fn secret_fields_are_recognised() {
        assert!(is_secret_field("graphics.passwd"));
        assert!(is_secret_field("xml[/domain/devices/graphics]@passwd"));
        assert!(!is_secret_field("memory"));
        assert!(!is_secret_field("graphics.listen"));
    }
}
