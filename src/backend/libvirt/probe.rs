//! What `doctor` asks of libvirt beyond observing: why a connection could
//! not be opened, as libvirt reported it (error number, error domain, the
//! errno of a system error — never only its message), and what a host
//! runs (driver, versions, host name).

use serde::Serialize;
use virt::sys;

use super::{call_err, LibvirtHost, Result};

/// Why opening a connection failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectFailure {
    pub uri: String,
    /// libvirt's error number (`virErrorNumber`), 0 when libvirt gave none.
    pub code: u32,
    /// libvirt's error domain (`virErrorDomain`: which part failed).
    pub domain: u32,
    /// The errno of a system error (`VIR_ERR_SYSTEM_ERROR` carries it as
    /// `int1`): `ENOENT` for a missing socket, `EACCES` for one this user
    /// may not open, `ECONNREFUSED` for one nobody listens on.
    pub errno: Option<i32>,
    pub message: String,
    /// The daemon did not answer within the open timeout.
    pub timed_out: bool,
}

impl ConnectFailure {
    /// From the error `Connect::open` returned, on the thread that called
    /// it (libvirt keeps the last error, with its `int1`, per thread).
    pub(super) fn of(uri: &str, e: &virt::error::Error) -> ConnectFailure {
        let code = e.code().to_raw();
        let domain = e.domain().to_raw();
        // SAFETY: virGetLastError returns this thread's last error or
        // NULL; the pointer stays valid until the next libvirt call on
        // this thread, and only an integer is read from it.
        let int1 = unsafe {
            let p = sys::virGetLastError();
            (!p.is_null()).then(|| (*p).int1)
        };
        let errno = int1.filter(|n| code == crate::backend::code::SYSTEM_ERROR && *n > 0);
        ConnectFailure {
            uri: uri.to_string(),
            code,
            domain,
            errno,
            message: e.message().to_string(),
            timed_out: false,
        }
    }

    /// A failure that did not come from libvirt.
    pub(super) fn other(uri: &str, message: String) -> ConnectFailure {
        ConnectFailure {
            uri: uri.to_string(),
            code: 0,
            domain: 0,
            errno: None,
            message,
            timed_out: false,
        }
    }
}

/// What a host runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct About {
    /// The driver's name (`QEMU`, `Test`).
    pub driver: String,
    /// `virConnectGetLibVersion`, as `major.minor.release`.
    pub libvirt_version: String,
    /// `virConnectGetVersion`: the hypervisor's (QEMU's) version.
    pub hypervisor_version: String,
    pub hostname: String,
}

/// libvirt's version number (`major * 1_000_000 + minor * 1000 + release`)
/// as `major.minor.release`.
pub fn version_string(v: u32) -> String {
    format!("{}.{}.{}", v / 1_000_000, (v / 1000) % 1000, v % 1000)
}

impl LibvirtHost {
    /// The host name of the machine the daemon runs on.
    pub fn hostname(&self) -> Result<String> {
        self.count("hostname");
        self.conn
            .hostname()
            .map_err(|e| call_err("read host name of", &self.uri, e))
    }

    /// Driver, versions and host name: four calls.
    pub fn about(&self) -> Result<About> {
        self.count("about");
        let uri = &self.uri;
        let driver = self
            .conn
            .driver_type()
            .map_err(|e| call_err("read driver of", uri, e))?;
        let lib = self
            .conn
            .lib_version()
            .map_err(|e| call_err("read libvirt version of", uri, e))?;
        // Drivers without a hypervisor version (test) answer 0 or fail.
        let hyp = self.conn.hyp_version().unwrap_or(0);
        Ok(About {
            driver,
            libvirt_version: version_string(lib),
            hypervisor_version: version_string(hyp),
            hostname: self.hostname()?,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_read_as_libvirt_writes_them() {
        assert_eq!(super::version_string(9_000_000), "9.0.0");
        assert_eq!(super::version_string(7_002_011), "7.2.11");
    }
}
