//! What an error means for the person who ran the command: its text with
//! each cause once, the likely fix of a connection failure, a closed
//! stdout told apart from real failures, and errors as JSON for `--output
//! json` (a script reads one document on stdout whatever happened).

use std::io::Write;

use serde::Serialize;

use super::CliError;
use crate::backend::BackendError;
use crate::manifest::Diagnostic;

/// libvirt's drivers (the part of a URI's scheme before `+transport`).
const DRIVERS: &[&str] = &[
    "qemu",
    "test",
    "lxc",
    "xen",
    "libxl",
    "ch",
    "bhyve",
    "vbox",
    "vmware",
    "vpx",
    "esx",
    "gsx",
    "hyperv",
    "openvz",
    "vz",
    "parallels",
    "uml",
    "phyp",
    "ovirt",
];
const TRANSPORTS: &[&str] = &["unix", "ssh", "libssh", "libssh2", "tcp", "tls", "ext"];

/// The likely fix for failing to connect to `uri` with `error`, if
/// something in them points at one.
pub fn connect_hint(uri: &str, error: &str) -> Option<String> {
    let examples =
        "libvirt URIs look like qemu:///system, qemu+ssh://root@host/system or test:///default";
    let Some((scheme, _)) = uri.split_once("://") else {
        return Some(format!("`{uri}` is not a libvirt URI; {examples}"));
    };
    let (driver, transport) = scheme.split_once('+').unwrap_or((scheme, ""));
    if !DRIVERS.contains(&driver) {
        let close = DRIVERS
            .iter()
            .map(|d| (strsim::levenshtein(d, driver), d))
            .min()
            .filter(|(distance, _)| *distance <= 2)
            .map(|(_, d)| format!(" (did you mean `{d}`?)"))
            .unwrap_or_default();
        return Some(format!(
            "unknown libvirt driver `{driver}` in {uri}{close}; {examples}"
        ));
    }
    if !transport.is_empty() && !TRANSPORTS.contains(&transport) {
        return Some(format!(
            "unknown transport `{transport}` in {uri} (known: {}); {examples}",
            TRANSPORTS.join(", ")
        ));
    }
    let doctor = "run `virtsync doctor` to check the daemon and your access to it";
    if error.contains("No such file or directory") && error.contains("socket") {
        return Some(format!(
            "the libvirt daemon's socket does not exist: is libvirtd (or virtqemud) running and installed? (systemctl status libvirtd); {doctor}"
        ));
    }
    if error.contains("Permission denied") || error.contains("authentication") {
        return Some(format!(
            "this user may not use the daemon: run as root, or join the group of its socket (unix_sock_group in libvirtd.conf, often `libvirt`); {doctor}"
        ));
    }
    if error.contains("Connection refused") {
        return Some(format!(
            "nothing listens where {uri} points; is the daemon running there? {doctor}"
        ));
    }
    if transport == "ssh" || transport == "libssh" || transport == "libssh2" {
        return Some(format!(
            "check that `ssh` reaches the host without a password prompt (a key) and that libvirt runs there; {doctor}"
        ));
    }
    None
}

/// `e` and its causes, each once: a cause whose text the message already
/// holds (thiserror's `{source}` in a message) is not repeated.
pub fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cause = c.source();
    }
    text
}

/// The likely fix for an error that ended a command, if there is one.
pub fn error_hint(e: &CliError) -> Option<String> {
    for_error(e)
}

/// Whether `e` is stdout closed under us (`virtsync schema | head`): not
/// an error worth a message.
pub fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        {
            return true;
        }
        cur = c.source();
    }
    false
}

/// The hint for an error that ended a command, if there is one.
pub fn for_error(e: &CliError) -> Option<String> {
    match e {
        CliError::Backend(BackendError::Connect { uri, message }) => connect_hint(uri, message),
        _ => None,
    }
}

/// Print the hints for hosts that could not be reached (`uri`, `error`),
/// once per URI, on stderr.
pub fn print_connect_hints<'a>(hosts: impl IntoIterator<Item = (&'a str, &'a str)>) {
    let mut seen = std::collections::BTreeSet::new();
    for (uri, error) in hosts {
        if seen.insert(uri) {
            if let Some(h) = connect_hint(uri, error) {
                eprintln!("hint: {h}");
            }
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonError<'a> {
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    diagnostics: &'a [Diagnostic],
}

fn print_json(e: JsonError) {
    let doc = serde_json::json!({ "error": e });
    let text = serde_json::to_string_pretty(&doc).expect("an error serializes");
    // stdout may be what failed (a closed pipe): nothing more to do then.
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// `{"error": {"message", "hint"}}` on stdout.
pub fn print_json_error(e: &CliError) {
    print_json(JsonError {
        message: error_text(e),
        hint: for_error(e),
        diagnostics: &[],
    });
}

/// `{"error": {"message", "diagnostics": [...]}}`: invalid manifests.
pub fn print_json_diagnostics(diags: &[Diagnostic]) {
    print_json(JsonError {
        message: format!("{} error(s) in manifests; nothing was planned", diags.len()),
        hint: None,
        diagnostics: diags,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_in_the_driver_is_named_with_the_closest_one() {
        let h = connect_hint("qemo:///system", "whatever").unwrap();
        assert!(h.contains("unknown libvirt driver `qemo`"), "{h}");
        assert!(h.contains("did you mean `qemu`"), "{h}");
    }

    #[test]
    fn a_missing_socket_points_at_the_daemon_and_doctor() {
        let h = connect_hint(
            "qemu:///system",
            "Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory",
        )
        .unwrap();
        assert!(h.contains("virtsync doctor"), "{h}");
    }

    #[test]
    fn an_unknown_transport_is_named() {
        let h = connect_hint("qemu+sssh://h/system", "x").unwrap();
        assert!(h.contains("unknown transport `sssh`"), "{h}");
    }
}
