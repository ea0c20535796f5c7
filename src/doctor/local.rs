//! Facts about this machine and process that explain a connection
//! failure: the URI's parts, the socket it leads to (exists? owner, group,
//! mode, a directory on the way this user cannot enter), this user and its
//! groups, the daemon's config (`unix_sock_group`, `unix_sock_rw_perms`,
//! `auth_unix_rw`) and `/dev/kvm`. Gathered once by [`Local::gather`];
//! the checks are pure functions of them.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A libvirt URI, in the parts doctor decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    pub text: String,
    /// `qemu` of `qemu+ssh://...`.
    pub driver: String,
    /// `ssh` of `qemu+ssh://...`; empty for the default transport.
    pub transport: String,
    /// The server; empty for a local URI.
    pub server: String,
    /// `/system`, `/session`, `/default`, ...
    pub path: String,
    /// `?socket=PATH`.
    pub socket: Option<PathBuf>,
}

impl Uri {
    pub fn parse(uri: &str) -> Uri {
        let (scheme, rest) = uri.split_once("://").unwrap_or((uri, ""));
        let (driver, transport) = scheme.split_once('+').unwrap_or((scheme, ""));
        let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = match before_query.find('/') {
            Some(i) => before_query.split_at(i),
            None => (before_query, ""),
        };
        let server = authority.rsplit('@').next().unwrap_or_default();
        let socket = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("socket="))
            .map(PathBuf::from);
        Uri {
            text: uri.to_string(),
            driver: driver.to_string(),
            transport: transport.to_string(),
            server: server.to_string(),
            path: path.to_string(),
            socket,
        }
    }

    /// The daemon runs on this machine (a socket doctor can look at,
    /// a /dev/kvm that matters).
    pub fn is_local(&self) -> bool {
        self.server.is_empty() && matches!(self.transport.as_str(), "" | "unix")
    }

    pub fn is_session(&self) -> bool {
        self.path == "/session"
    }
}

/// The libvirt drivers a URI may name (libvirt's `virConnectOpen` list).
pub const DRIVERS: &[&str] = &[
    "qemu",
    "test",
    "lxc",
    "xen",
    "libxl",
    "vbox",
    "vmwareplayer",
    "vmwarews",
    "vmwarefusion",
    "vpx",
    "esx",
    "gsx",
    "hyperv",
    "bhyve",
    "openvz",
    "ch",
    "vz",
    "parallels",
];

/// The socket a local URI leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket {
    pub path: PathBuf,
    pub exists: bool,
    /// Owner and group (names where /etc/passwd and /etc/group know them).
    pub owner: String,
    pub group: String,
    pub mode: u32,
    /// The first directory on the way this user may not enter.
    pub blocked_dir: Option<PathBuf>,
    /// This user may read and write it (`access(2)`).
    pub writable: bool,
}

/// The settings of the daemon's config file that decide who may connect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonConfig {
    pub path: PathBuf,
    /// Every `key = value` set (uncommented), quotes removed.
    pub settings: BTreeMap<String, String>,
}

impl DaemonConfig {
    pub fn read(path: &Path) -> Option<DaemonConfig> {
        let text = std::fs::read_to_string(path).ok()?;
        let settings = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
            .collect();
        Some(DaemonConfig {
            path: path.to_path_buf(),
            settings,
        })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.settings.get(key).map(String::as_str)
    }
}

/// This process and machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Local {
    pub user: String,
    pub uid: u32,
    /// This process's groups, by name.
    pub groups: Vec<String>,
    /// The groups /etc/group lists this user in: one missing from
    /// `groups` was added after this session started.
    pub member_of: Vec<String>,
    pub socket: Option<Socket>,
    pub config: Option<DaemonConfig>,
    /// The modular daemons (virtqemud) serve this machine, not libvirtd.
    pub modular: bool,
    /// `/dev/kvm`: exists, and this user may open it read-write.
    pub kvm_exists: bool,
    pub kvm_usable: bool,
}

impl Local {
    /// Look at the machine for `uri`; `socket_hint` is the path libvirt
    /// said it tried, `config` the daemon config to read (default: the
    /// system one of the daemon in use).
    pub fn gather(uri: &Uri, socket_hint: Option<PathBuf>, config: Option<&Path>) -> Local {
        use rustix::fs::Access;
        let uid = rustix::process::getuid().as_raw();
        let users = names("/etc/passwd");
        let groups_by_id = names("/etc/group");
        let group_name = |gid: u32| groups_by_id.get(&gid).cloned().unwrap_or(gid.to_string());
        let mut gids: Vec<u32> = rustix::process::getgroups()
            .map(|g| g.iter().map(|g| g.as_raw()).collect())
            .unwrap_or_default();
        gids.push(rustix::process::getgid().as_raw());
        gids.sort_unstable();
        gids.dedup();
        let modular = Path::new("/run/libvirt/virtqemud-sock").exists()
            || (!Path::new("/usr/sbin/libvirtd").exists()
                && Path::new("/usr/sbin/virtqemud").exists());
        let socket_path = uri.is_local().then(|| {
            uri.socket
                .clone()
                .or(socket_hint)
                .unwrap_or_else(|| default_socket(uri, modular))
        });
        let socket = socket_path.map(|path| {
            let meta = std::fs::metadata(&path).ok();
            let blocked_dir = path
                .ancestors()
                .skip(1)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .find(|d| {
                    !d.as_os_str().is_empty()
                        && d.exists()
                        && rustix::fs::access(*d, Access::EXEC_OK).is_err()
                })
                .map(Path::to_path_buf);
            Socket {
                exists: path.exists(),
                owner: meta
                    .as_ref()
                    .map(|m| users.get(&m.uid()).cloned().unwrap_or(m.uid().to_string()))
                    .unwrap_or_default(),
                group: meta
                    .as_ref()
                    .map(|m| group_name(m.gid()))
                    .unwrap_or_default(),
                mode: meta
                    .as_ref()
                    .map(|m| m.permissions().mode() & 0o7777)
                    .unwrap_or(0),
                writable: rustix::fs::access(&path, Access::READ_OK | Access::WRITE_OK).is_ok(),
                blocked_dir,
                path,
            }
        });
        let config_path = config.map(Path::to_path_buf).unwrap_or_else(|| {
            PathBuf::from(if modular {
                "/etc/libvirt/virtqemud.conf"
            } else {
                "/etc/libvirt/libvirtd.conf"
            })
        });
        let kvm = Path::new("/dev/kvm");
        let user = users.get(&uid).cloned().unwrap_or(uid.to_string());
        Local {
            member_of: members("/etc/group", &user),
            user,
            uid,
            groups: gids.into_iter().map(group_name).collect(),
            socket,
            config: DaemonConfig::read(&config_path),
            modular,
            kvm_exists: kvm.exists(),
            kvm_usable: rustix::fs::access(kvm, Access::READ_OK | Access::WRITE_OK).is_ok(),
        }
    }

    /// The systemd units that serve a local URI.
    pub fn service(&self) -> &'static str {
        if self.modular {
            "virtqemud.socket virtqemud-ro.socket virtqemud-admin.socket"
        } else {
            "libvirtd.socket libvirtd-ro.socket libvirtd-admin.socket"
        }
    }

    /// The daemon's unit, for a restart.
    pub fn daemon(&self) -> &'static str {
        if self.modular {
            "virtqemud"
        } else {
            "libvirtd"
        }
    }
}

/// Where libvirt looks for the socket of a local URI by default.
fn default_socket(uri: &Uri, modular: bool) -> PathBuf {
    let name = if modular {
        "virtqemud-sock"
    } else {
        "libvirt-sock"
    };
    if uri.is_session() {
        let runtime = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(format!("/run/user/{}", rustix::process::getuid().as_raw()))
            });
        runtime.join("libvirt").join(name)
    } else {
        Path::new("/run/libvirt").join(name)
    }
}

/// The groups of /etc/group (`name:x:gid:user,user`) that list `user`.
fn members(file: &str, user: &str) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let listed = f.get(3)?.split(',').any(|m| m.trim() == user);
            listed.then(|| f[0].to_string())
        })
        .collect()
}

/// id → name of /etc/passwd or /etc/group (`name:x:id:...`).
fn names(file: &str) -> BTreeMap<u32, String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let id = f.nth(1)?.parse().ok()?;
            Some((id, name.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_split_into_driver_transport_server_path_and_socket() {
        let u = Uri::parse("qemu+unix:///system?socket=/tmp/d/sock/libvirt-sock");
        assert_eq!(
            (
                u.driver.as_str(),
                u.transport.as_str(),
                u.server.as_str(),
                u.path.as_str()
            ),
            ("qemu", "unix", "", "/system")
        );
        assert_eq!(u.socket, Some(PathBuf::from("/tmp/d/sock/libvirt-sock")));
        assert!(u.is_local() && !u.is_session());
        let u = Uri::parse("qemu+ssh://virtsync@kvm-b.example/system");
        assert_eq!(
            (u.server.as_str(), u.transport.as_str()),
            ("kvm-b.example", "ssh")
        );
        assert!(!u.is_local());
        assert!(Uri::parse("qemu:///session").is_session());
    }

    #[test]
    fn the_daemon_config_is_read_without_comments_and_quotes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("libvirtd.conf");
        std::fs::write(
            &p,
            "#unix_sock_group = \"libvirt\"\nunix_sock_group = \"root\"\nunix_sock_rw_perms = \"0770\"\n",
        )
        .unwrap();
        let c = DaemonConfig::read(&p).unwrap();
        assert_eq!(c.get("unix_sock_group"), Some("root"));
        assert_eq!(c.get("unix_sock_rw_perms"), Some("0770"));
        assert_eq!(c.get("auth_unix_rw"), None);
    }
}
