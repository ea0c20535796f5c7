//! `--host NAME` on the machine of host NAME: the guard that the local
//! connection is that host.

use crate::backend::{BackendError, LibvirtHost};
use crate::model::{DesiredState, HostName};

/// With `--host NAME`, host NAME is reached at the default URI (the local
/// libvirt of the machine its controller runs on): make sure that machine
/// is the one NAME's Host manifest points at, when its URI names a server
/// (`qemu+ssh://kvm-a.example/system`), by libvirt's host name (first
/// label, case-insensitive). A controller started on the wrong machine
/// would otherwise apply another host's guests to this one.
pub(super) fn check_placement(
    desired: &DesiredState,
    name: &HostName,
    h: &LibvirtHost,
) -> Result<(), BackendError> {
    // Without --host every host is reached at its manifest's own URI:
    // nothing to check (and no call to pay).
    if desired.only_host.as_ref() != Some(name) {
        return Ok(());
    }
    let Some(manifest) = name.name().and_then(|n| desired.hosts.get(n)) else {
        return Ok(());
    };
    let Some(server) = uri_server(&manifest.uri) else {
        return Ok(());
    };
    let here = h.hostname()?;
    let label = |s: &str| s.split('.').next().unwrap_or(s).to_ascii_lowercase();
    if label(&here) == label(server) {
        return Ok(());
    }
    Err(BackendError::Connect {
        uri: h.uri().to_string(),
        message: format!(
            "--host {n}: this connection reaches host {here}, but the Host manifest {n} is {uri}; run this controller on {server} or point --connect at it; if this machine is {server} under another name, write its host name ({here}) in the Host manifest's URI",
            n = name.label(),
            uri = manifest.uri
        ),
    })
}

/// The server of a libvirt URI (`driver+transport://[user@]server[:port]/...`),
/// when it names one by host name (not a local URI, an address or
/// `localhost`).
fn uri_server(uri: &str) -> Option<&str> {
    let rest = uri.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let host = authority.rsplit('@').next()?;
    let host = host.split(':').next()?;
    let named = !host.is_empty()
        && host != "localhost"
        && host.parse::<std::net::Ipv4Addr>().is_err()
        && !host.starts_with('[');
    named.then_some(host)
}

#[cfg(test)]
mod tests {
    use super::uri_server;
    use crate::model::{DesiredState, HostName};

    #[test]
    fn with_host_only_that_host_is_known_at_the_default_uri() {
        let mut d = DesiredState::default();
        assert_eq!(
            crate::reconcile::known_hosts(&d, "qemu:///system"),
            [(HostName::DEFAULT, "qemu:///system".to_string())].into()
        );
        d.only_host = Some(HostName::named("kvm-a"));
        assert_eq!(
            crate::reconcile::known_hosts(&d, "qemu:///system"),
            [(HostName::named("kvm-a"), "qemu:///system".to_string())].into()
        );
    }

    #[test]
    fn the_server_of_a_uri_is_its_host_name_only() {
        assert_eq!(
            uri_server("qemu+ssh://virtsync@kvm-a.lab.example:2222/system"),
            Some("kvm-a.lab.example")
        );
        assert_eq!(uri_server("qemu+tcp://kvm-b/system?x=1"), Some("kvm-b"));
        for local in [
            "qemu:///system",
            "qemu+unix:///system?socket=/tmp/s",
            "qemu+ssh://root@10.0.0.2/system",
            "qemu+ssh://localhost/system",
            "qemu+ssh://[::1]/system",
            "test:///default",
        ] {
            assert_eq!(uri_server(local), None, "{local}");
        }
    }
}
