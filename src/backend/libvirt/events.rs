//! libvirt's events, as plain notifications: a domain, network or pool
//! changed state or definition, or the connection closed. A small safe
//! wrapper over the `-sys` layer (the `virt` crate has no event
//! registration): callbacks run on libvirt's event loop thread (see
//! `ensure_event_loop`) and hand each event to a Rust closure; the
//! registrations end when the [`Subscription`] is dropped.

use std::ffi::CStr;
use std::os::raw::{c_int, c_void};

use virt::sys;

use super::*;
use crate::model::Kind;

/// What happened, enough to say "look at this host again".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEvent {
    /// A lifecycle event (defined, undefined, started, stopped, suspended,
    /// resumed, ...) of the named object.
    Lifecycle { kind: Kind, name: String },
    /// The connection closed (the daemon went away, keepalive gave up).
    Closed,
}

type Sink = Box<dyn Fn(HostEvent) + Send + Sync>;

/// The registrations of one connection; dropping it ends them.
pub struct Subscription {
    conn: sys::virConnectPtr,
    domain: c_int,
    network: c_int,
    pool: c_int,
    close: bool,
}

// SAFETY: the connection pointer is only used to deregister, which
// libvirt allows from any thread; the connection outlives the subscription
// because `subscribe` takes a reference it holds (virConnectRef).
unsafe impl Send for Subscription {}
unsafe impl Sync for Subscription {}

unsafe fn name_of(p: *const std::os::raw::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    CStr::from_ptr(p).to_string_lossy().into_owned()
}

unsafe fn sink<'a>(opaque: *mut c_void) -> &'a Sink {
    &*(opaque as *const Sink)
}

unsafe extern "C" fn on_domain(
    _c: sys::virConnectPtr,
    d: sys::virDomainPtr,
    _event: c_int,
    _detail: c_int,
    opaque: *mut c_void,
) -> c_int {
    let name = name_of(sys::virDomainGetName(d));
    sink(opaque)(HostEvent::Lifecycle {
        kind: Kind::Domain,
        name,
    });
    0
}

unsafe extern "C" fn on_network(
    _c: sys::virConnectPtr,
    n: sys::virNetworkPtr,
    _event: c_int,
    _detail: c_int,
    opaque: *mut c_void,
) {
    let name = name_of(sys::virNetworkGetName(n));
    sink(opaque)(HostEvent::Lifecycle {
        kind: Kind::Network,
        name,
    });
}

unsafe extern "C" fn on_pool(
    _c: sys::virConnectPtr,
    p: sys::virStoragePoolPtr,
    _event: c_int,
    _detail: c_int,
    opaque: *mut c_void,
) {
    let name = name_of(sys::virStoragePoolGetName(p));
    sink(opaque)(HostEvent::Lifecycle {
        kind: Kind::StoragePool,
        name,
    });
}

unsafe extern "C" fn on_close(_c: sys::virConnectPtr, _reason: c_int, opaque: *mut c_void) {
    sink(opaque)(HostEvent::Closed);
}

unsafe extern "C" fn free_sink(opaque: *mut c_void) {
    drop(Box::from_raw(opaque as *mut Sink));
}

/// A fresh heap copy of the closure per registration: libvirt frees each
/// with `free_sink` when that registration ends.
fn opaque(f: &std::sync::Arc<dyn Fn(HostEvent) + Send + Sync>) -> *mut c_void {
    let f = f.clone();
    let b: Sink = Box::new(move |e| f(e));
    Box::into_raw(Box::new(b)) as *mut c_void
}

impl LibvirtHost {
    /// Call `f` for every domain, network and pool lifecycle event of this
    /// host, and when the connection closes.
    pub fn subscribe(&self, f: impl Fn(HostEvent) + Send + Sync + 'static) -> Result<Subscription> {
        let f: std::sync::Arc<dyn Fn(HostEvent) + Send + Sync> = std::sync::Arc::new(f);
        // SAFETY: the pointer of a live connection; we take our own
        // reference on it below before keeping it.
        let conn = unsafe { self.conn.as_ptr() };
        let err = |what: &'static str| BackendError::Call {
            call: what,
            object: self.uri.clone(),
            message: virt::error::Error::last_error().message().to_string(),
            code: 0,
        };
        // SAFETY: the callbacks match the signatures libvirt calls for
        // each event id (cast to the generic type as libvirt's
        // VIR_*_EVENT_CALLBACK macros do); each opaque pointer is a boxed
        // closure freed by `free_sink` when its registration ends.
        unsafe {
            if sys::virConnectRef(conn) < 0 {
                return Err(err("subscribe to events"));
            }
            let mut s = Subscription {
                conn,
                domain: -1,
                network: -1,
                pool: -1,
                close: false,
            };
            s.domain = sys::virConnectDomainEventRegisterAny(
                conn,
                std::ptr::null_mut(),
                sys::VIR_DOMAIN_EVENT_ID_LIFECYCLE as c_int,
                std::mem::transmute::<
                    sys::virConnectDomainEventCallback,
                    sys::virConnectDomainEventGenericCallback,
                >(Some(on_domain)),
                opaque(&f),
                Some(free_sink),
            );
            if s.domain < 0 {
                return Err(err("subscribe to domain events"));
            }
            s.network = sys::virConnectNetworkEventRegisterAny(
                conn,
                std::ptr::null_mut(),
                sys::VIR_NETWORK_EVENT_ID_LIFECYCLE as c_int,
                std::mem::transmute::<
                    sys::virConnectNetworkEventLifecycleCallback,
                    sys::virConnectNetworkEventGenericCallback,
                >(Some(on_network)),
                opaque(&f),
                Some(free_sink),
            );
            s.pool = sys::virConnectStoragePoolEventRegisterAny(
                conn,
                std::ptr::null_mut(),
                sys::VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE as c_int,
                std::mem::transmute::<
                    sys::virConnectStoragePoolEventLifecycleCallback,
                    sys::virConnectStoragePoolEventGenericCallback,
                >(Some(on_pool)),
                opaque(&f),
                Some(free_sink),
            );
            s.close = sys::virConnectRegisterCloseCallback(
                conn,
                Some(on_close),
                opaque(&f),
                Some(free_sink),
            ) == 0;
            // Networks and pools without event support (some drivers) still
            // get domain events and the periodic resync.
            Ok(s)
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // SAFETY: the ids were returned by the matching registrations on
        // this connection, which we hold a reference to until here.
        unsafe {
            if self.domain >= 0 {
                sys::virConnectDomainEventDeregisterAny(self.conn, self.domain);
            }
            if self.network >= 0 {
                sys::virConnectNetworkEventDeregisterAny(self.conn, self.network);
            }
            if self.pool >= 0 {
                sys::virConnectStoragePoolEventDeregisterAny(self.conn, self.pool);
            }
            if self.close {
                sys::virConnectUnregisterCloseCallback(self.conn, Some(on_close));
            }
            sys::virConnectClose(self.conn);
        }
    }
}
