//! Why a connection could not be opened, and what to do: decided on
//! libvirt's error number and domain and on the errno of a system error
//! (never on the wording of the message, which is only quoted), with the
//! facts of [`Local`] for the fix.

use super::local::{Local, Uri, DRIVERS};
use super::{Finding, Status};
use crate::backend::code::{
    ACCESS_DENIED, AUTH_CANCELLED, AUTH_FAILED, AUTH_UNAVAILABLE, NO_CONNECT, SYSTEM_ERROR,
};
use crate::backend::from;
use crate::backend::ConnectFailure;

// errno values (Linux) a socket connection fails with.
const EPERM: i32 = 1;
const ENOENT: i32 = 2;
const EACCES: i32 = 13;
const ECONNREFUSED: i32 = 111;

/// The group Debian, Fedora and Arch give access to the system daemon
/// (its polkit rule and `unix_sock_group` default).
const LIBVIRT_GROUP: &str = "libvirt";

/// The findings that explain `f` (at least one problem).
pub fn explain(f: &ConnectFailure, uri: &Uri, local: &Local) -> Vec<Finding> {
    let quoted = format!(
        "libvirt: {} [code {}, domain {}]",
        f.message, f.code, f.domain
    );
    let problem = |check: &str, message: String, fix: String| Finding {
        check: check.to_string(),
        status: Status::Problem,
        message,
        fix: Some(fix),
    };
    if f.timed_out {
        return vec![problem(
            "connection",
            format!("{} did not answer: {}", uri.text, f.message),
            format!(
                "the daemon is hung or overloaded: `systemctl restart {}` on its host, and look at `journalctl -u {}`",
                local.daemon(),
                local.daemon()
            ),
        )];
    }
    if !DRIVERS.contains(&uri.driver.as_str()) {
        return vec![problem(
            "connection.uri",
            format!("`{}` is not a libvirt driver ({quoted})", uri.driver),
            "use a URI such as qemu:///system, qemu:///session or qemu+ssh://USER@HOST/system"
                .into(),
        )];
    }
    if matches!(f.domain, from::SSH | from::LIBSSH) {
        return vec![problem(
            "connection.ssh",
            format!("cannot reach {} over ssh ({quoted})", uri.server),
            format!(
                "check that `ssh {}` works without a password prompt (a key in the agent, the host key known) and that the remote user may open qemu:///system there",
                uri.server
            ),
        )];
    }
    if matches!(
        f.code,
        AUTH_FAILED | AUTH_CANCELLED | ACCESS_DENIED | AUTH_UNAVAILABLE
    ) || matches!(f.domain, from::POLKIT | from::AUTH | from::ACCESS)
    {
        return vec![problem(
            "connection.auth",
            format!(
                "the daemon refused user {} (groups: {}; {quoted})",
                local.user,
                local.groups.join(", ")
            ),
            format!(
                "with auth_unix_rw = \"polkit\" (the default) the polkit rule of the libvirt package admits group {LIBVIRT_GROUP}: `usermod -aG {LIBVIRT_GROUP} {}` and log in again{}",
                local.user,
                session_hint(uri, local)
            ),
        )];
    }
    match (f.code, f.errno, &local.socket) {
        (SYSTEM_ERROR, Some(ENOENT), Some(s)) => vec![problem(
            "connection.socket",
            format!(
                "socket {} does not exist: no libvirt daemon serves {} ({quoted})",
                s.path.display(),
                uri.text
            ),
            start_fix(uri, local, &s.path),
        )],
        (SYSTEM_ERROR, Some(ECONNREFUSED), Some(s)) => vec![problem(
            "connection.socket",
            format!(
                "nothing listens on socket {}: the daemon stopped and left it behind ({quoted})",
                s.path.display()
            ),
            start_fix(uri, local, &s.path),
        )],
        (SYSTEM_ERROR, Some(EACCES | EPERM), Some(_)) => permission(uri, local, &quoted),
        (NO_CONNECT, _, _) => vec![problem(
            "connection.driver",
            format!("this libvirt cannot open {} ({quoted})", uri.text),
            format!(
                "install the {} driver (Debian: libvirt-daemon-driver-{}) and check the URI",
                uri.driver, uri.driver
            ),
        )],
        _ => vec![problem(
            "connection",
            format!("cannot connect to {} ({quoted})", uri.text),
            format!(
                "`virsh -c '{}' version` shows the same error; see the daemon's log (`journalctl -u {}`)",
                uri.text,
                local.daemon()
            ),
        )],
    }
}

/// Start the daemon that serves a socket.
fn start_fix(uri: &Uri, local: &Local, socket: &std::path::Path) -> String {
    if uri.socket.is_some() {
        return format!(
            "start the daemon that serves {} (the system one: `systemctl enable --now {}`)",
            socket.display(),
            local.service()
        );
    }
    if uri.is_session() {
        return format!(
            "the session daemon starts on demand: check that {} is installed and that XDG_RUNTIME_DIR is set",
            local.daemon()
        );
    }
    format!("`systemctl enable --now {}` (as root)", local.service())
}

/// The socket exists and this user may not open it: who may, and the
/// exact change that lets this user in.
fn permission(uri: &Uri, local: &Local, quoted: &str) -> Vec<Finding> {
    let s = local.socket.as_ref().expect("a local socket");
    let user = &local.user;
    let mut out = Vec::new();
    if let Some(dir) = &s.blocked_dir {
        // The socket itself cannot even be looked at from here.
        out.push(Finding {
            check: "connection.socket-dir".into(),
            status: Status::Problem,
            message: format!(
                "user {user} may not enter {}, on the way to socket {} ({quoted})",
                dir.display(),
                s.path.display()
            ),
            fix: Some(format!(
                "`chmod o+x {}` (as its owner), or connect as a user who may",
                dir.display()
            )),
        });
        return out;
    }
    let group_rw = s.mode & 0o060 == 0o060;
    let in_group = local.groups.contains(&s.group);
    let conf = local.config.as_ref();
    let conf_path = conf.map_or_else(
        || "/etc/libvirt/libvirtd.conf".to_string(),
        |c| c.path.display().to_string(),
    );
    let setting = |k: &str| {
        conf.and_then(|c| c.get(k))
            .unwrap_or("(not set)")
            .to_string()
    };
    // Adding a user to group root is never the fix: move the socket to
    // a group of its own.
    let fix = if group_rw && in_group {
        format!(
            "the socket's group {} admits this user, so something else refuses it: an ACL (`getfacl {}`) or the security module (`journalctl -k | grep -i denied`)",
            s.group,
            s.path.display()
        )
    } else if group_rw && local.member_of.contains(&s.group) {
        format!(
            "user {user} is in group {} but this session started before: log in again (or `newgrp {}`)",
            s.group, s.group
        )
    } else if group_rw && s.group != "root" {
        format!(
            "`usermod -aG {} {user}` and log in again (or `newgrp {}`)",
            s.group, s.group
        )
    } else {
        format!(
            "set unix_sock_group = \"{LIBVIRT_GROUP}\" and unix_sock_rw_perms = \"0770\" in {conf_path}, `systemctl restart {}`, then `usermod -aG {LIBVIRT_GROUP} {user}` and log in again",
            local.daemon()
        )
    };
    out.push(Finding {
        check: "connection.permission".into(),
        status: Status::Problem,
        message: format!(
            "user {user} (groups: {}) may not open socket {} (owner {}, group {}, mode {:04o}; {conf_path}: unix_sock_group = {}, unix_sock_rw_perms = {}, auth_unix_rw = {}; {quoted})",
            local.groups.join(", "),
            s.path.display(),
            s.owner,
            s.group,
            s.mode,
            setting("unix_sock_group"),
            setting("unix_sock_rw_perms"),
            setting("auth_unix_rw"),
        ),
        fix: Some(format!("{fix}{}", session_hint(uri, local))),
    });
    out
}

/// An unprivileged user can also run guests of its own.
fn session_hint(uri: &Uri, local: &Local) -> String {
    if local.uid != 0 && !uri.is_session() && uri.driver == "qemu" {
        format!("; or use --connect qemu:///session (guests run as {} without the system's networks and pools)", local.user)
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::super::local::Socket;
    use super::*;
    use std::path::PathBuf;

    fn failure(code: u32, domain: u32, errno: Option<i32>) -> ConnectFailure {
        ConnectFailure {
            uri: "qemu:///system".into(),
            code,
            domain,
            errno,
            message: "Failed to connect socket".into(),
            timed_out: false,
        }
    }

    fn local(group: &str, mode: u32, groups: &[&str]) -> Local {
        Local {
            user: "alice".into(),
            uid: 1000,
            groups: groups.iter().map(|g| g.to_string()).collect(),
            socket: Some(Socket {
                path: PathBuf::from("/run/libvirt/libvirt-sock"),
                exists: true,
                owner: "root".into(),
                group: group.into(),
                mode,
                blocked_dir: None,
                writable: false,
            }),
            ..Local::default()
        }
    }

    #[test]
    fn a_missing_socket_says_which_and_how_to_start_the_daemon() {
        let uri = Uri::parse("qemu:///system");
        let f = explain(
            &failure(38, 7, Some(ENOENT)),
            &uri,
            &local("libvirt", 0o770, &[]),
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].check, "connection.socket");
        assert!(
            f[0].message
                .contains("/run/libvirt/libvirt-sock does not exist"),
            "{f:?}"
        );
        assert_eq!(
            f[0].fix.as_deref(),
            Some("`systemctl enable --now libvirtd.socket libvirtd-ro.socket libvirtd-admin.socket` (as root)")
        );
    }

    #[test]
    fn permission_denied_names_the_group_to_join() {
        let uri = Uri::parse("qemu:///system");
        let f = explain(
            &failure(38, 7, Some(EACCES)),
            &uri,
            &local("libvirt", 0o770, &["alice"]),
        );
        assert_eq!(f[0].check, "connection.permission");
        assert!(f[0].message.contains("group libvirt, mode 0770"), "{f:?}");
        let fix = f[0].fix.as_deref().unwrap();
        assert!(fix.starts_with("`usermod -aG libvirt alice`"), "{fix}");
        assert!(fix.contains("qemu:///session"), "{fix}");
    }

    #[test]
    fn a_root_only_socket_is_moved_to_a_group_not_joined() {
        let uri = Uri::parse("qemu:///system");
        let f = explain(
            &failure(38, 7, Some(EACCES)),
            &uri,
            &local("root", 0o770, &["alice"]),
        );
        let fix = f[0].fix.as_deref().unwrap();
        assert!(
            fix.starts_with("set unix_sock_group = \"libvirt\""),
            "{fix}"
        );
    }

    #[test]
    fn a_group_joined_after_login_needs_a_new_session() {
        let uri = Uri::parse("qemu:///system");
        let mut l = local("libvirt", 0o770, &["alice"]);
        l.member_of = vec!["libvirt".into()];
        let f = explain(&failure(38, 7, Some(EACCES)), &uri, &l);
        let fix = f[0].fix.as_deref().unwrap();
        assert!(
            fix.starts_with("user alice is in group libvirt but this session started before"),
            "{fix}"
        );
    }

    #[test]
    fn an_unknown_scheme_is_not_a_driver() {
        let uri = Uri::parse("qemuu:///system");
        let f = explain(&failure(5, 0, None), &uri, &local("libvirt", 0o770, &[]));
        assert_eq!(f[0].check, "connection.uri");
        assert!(f[0].message.contains("`qemuu` is not a libvirt driver"));
    }

    #[test]
    fn polkit_refusals_are_told_apart_from_socket_permissions() {
        let uri = Uri::parse("qemu:///system");
        let f = explain(
            &failure(88, 55, None),
            &uri,
            &local("root", 0o777, &["alice"]),
        );
        assert_eq!(f[0].check, "connection.auth");
        assert!(f[0]
            .fix
            .as_deref()
            .unwrap()
            .contains("usermod -aG libvirt alice"));
    }
}
