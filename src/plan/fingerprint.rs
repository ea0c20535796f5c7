//! The fingerprint of a plan: what it was made from, per object, so that
//! `apply --plan` can refuse a plan made stale by a change and name what
//! changed.
//!
//! Each object the manifests manage or reference (domains, networks,
//! pools, volumes, snapshots, and each host) gets a digest of its manifest
//! (`desired`, normalised: the line it starts on is left out) and of what
//! the host has of it (`observed`: its entry in the observation, the
//! ownership record that decides whether virtsync may touch it, the
//! listing that says it is absent). Objects nobody declared are not in it:
//! a domain someone else defines on the host does not make a plan stale.
//! Graphics passwords are hashed apart (`secrets`), and only in saved
//! plans: a printed plan must not let anyone test guesses against them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::redact::redact_json;
use super::{kind_noun, obj_key, PlanInput};
use crate::model::*;
use crate::observe::Interest;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fingerprint {
    /// `sha256:…` over `objects` (their secrets left out): two plans with
    /// the same digest were made from the same state.
    pub digest: String,
    /// By object, `[host/]kind/name` as in dependencies (`host/NAME`, and
    /// `host/(default)` for the default connection).
    pub objects: BTreeMap<String, ObjectPrint>,
}

/// What one object hashed to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectPrint {
    /// Its manifest; absent for an object the manifests reference without
    /// declaring it (a pool a volume disk lives in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<String>,
    /// What the host has of it.
    pub observed: String,
    /// The secrets in its manifest and observed state; saved plans only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<String>,
}

fn sha(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

fn digest(v: &Value) -> String {
    sha(&serde_json::to_vec(v).unwrap_or_default())
}

/// A manifest as data, without what does not change its meaning (the line
/// it starts on).
fn manifest<T: Serialize>(o: &T) -> Value {
    let mut v = serde_json::to_value(o).unwrap_or(Value::Null);
    if let Some(src) = v.pointer_mut("/meta/source").and_then(Value::as_object_mut) {
        src.remove("line");
    }
    v
}

/// What the host reports of a pool or volume without what changes by
/// itself while nothing is done to it: the space used and left, the size
/// of the file, its access times (a running guest changes them by writing
/// to its disk). Nothing the planner decides on is among them; a plan must
/// not go stale because a guest wrote a file.
fn steady(xml: Option<&String>, kind: Kind) -> Option<String> {
    let xml = xml?;
    let Ok(mut root) = crate::xml::Element::parse(xml) else {
        return Some(xml.clone());
    };
    let volatile: &[&str] = match kind {
        Kind::StoragePool => &["capacity", "allocation", "available"],
        _ => &["allocation", "physical"],
    };
    for name in volatile {
        root.remove_children(name);
    }
    for part in ["target", "backingStore"] {
        if let Some(t) = root.child_mut(part) {
            t.remove_children("timestamps");
        }
    }
    Some(root.to_xml())
}

fn steady_pool(p: Option<&ObservedPool>) -> Option<ObservedPool> {
    p.map(|p| ObservedPool {
        xml: steady(p.xml.as_ref(), Kind::StoragePool),
        ..p.clone()
    })
}

fn host_key(h: &HostName) -> String {
    format!("host/{}", h.name().unwrap_or("(default)"))
}

#[derive(Default)]
struct Prints(BTreeMap<String, ObjectPrint>);

impl Prints {
    fn add(&mut self, key: String, desired: Option<Value>, mut observed: Value) {
        let mut secrets = Vec::new();
        let desired = desired.map(|mut v| {
            redact_json(&mut v, &mut secrets);
            digest(&v)
        });
        redact_json(&mut observed, &mut secrets);
        let secrets = (!secrets.is_empty()).then(|| sha(secrets.join("\0").as_bytes()));
        self.0.insert(
            key,
            ObjectPrint {
                desired,
                observed: digest(&observed),
                secrets,
            },
        );
    }
}

/// The fingerprint of what `input` plans from.
pub fn fingerprint(input: &PlanInput) -> Fingerprint {
    let (d, o, inv) = (input.desired, input.observed, input.inventory);
    let mut hosts: BTreeSet<HostName> = o
        .uris
        .keys()
        .chain(o.hosts.keys())
        .chain(o.unreachable.keys())
        .cloned()
        .collect();
    hosts.extend(d.domains.keys().map(|k| k.host.clone()));
    hosts.extend(d.networks.keys().map(|k| k.host.clone()));
    hosts.extend(d.pools.keys().map(|k| k.host.clone()));
    hosts.extend(d.volumes.keys().map(|k| k.host.clone()));
    hosts.extend(d.snapshots.keys().map(|k| k.host.clone()));
    let unreachable = || json!({ "unreachable": true });
    let mut p = Prints::default();
    for hn in &hosts {
        let declared = hn.name().and_then(|n| d.hosts.get(n)).map(manifest);
        let seen = match o.hosts.get(hn) {
            Some(h) => json!({ "identity": h.identity(), "caps": h.caps }),
            None => unreachable(),
        };
        p.add(host_key(hn), declared, seen);
        let want = Interest::of(d, hn);
        let h = o.hosts.get(hn);
        let id = h.map(ObservedHost::identity);
        let err =
            |kind: Kind, name: &str| h.and_then(|h| h.read_errors.get(&(kind, name.to_string())));
        for name in &want.domains {
            let key = ObjKey {
                host: hn.clone(),
                name: name.clone(),
            };
            let seen = match h {
                None => unreachable(),
                Some(h) => {
                    // The same name on the other hosts: a domain whose
                    // `metadata.host` moved is planned from there too.
                    let elsewhere: BTreeMap<String, &ObservedDomain> = o
                        .hosts
                        .iter()
                        .filter(|(other, _)| *other != hn)
                        .filter_map(|(other, oh)| {
                            oh.domains.get(name).map(|x| (host_key(other), x))
                        })
                        .collect();
                    json!({
                        "domain": h.domains.get(name),
                        "snapshots": h.snapshots.get(name),
                        "elsewhere": elsewhere,
                        "readError": err(Kind::Domain, name),
                        "snapshotsError": err(Kind::Snapshot, name),
                    })
                }
            };
            p.add(
                obj_key(Kind::Domain, hn, name),
                d.domains.get(&key).map(manifest),
                seen,
            );
        }
        for name in &want.networks {
            let key = ObjKey {
                host: hn.clone(),
                name: name.clone(),
            };
            let seen = match h {
                None => unreachable(),
                Some(h) => json!({
                    "network": h.networks.get(name),
                    "readError": err(Kind::Network, name),
                }),
            };
            p.add(
                obj_key(Kind::Network, hn, name),
                d.networks.get(&key).map(manifest),
                seen,
            );
        }
        for name in &want.pools {
            let key = ObjKey {
                host: hn.clone(),
                name: name.clone(),
            };
            let seen = match (h, &id) {
                (Some(h), Some(id)) => {
                    let pool = h.pools.get(name);
                    json!({
                        "pool": steady_pool(pool),
                        "listed": h.pools_listed,
                        "owned": pool.map(|x| inv.owns_pool(id, name, &x.uuid)),
                        "readError": err(Kind::StoragePool, name),
                    })
                }
                _ => unreachable(),
            };
            p.add(
                obj_key(Kind::StoragePool, hn, name),
                d.pools.get(&key).map(manifest),
                seen,
            );
        }
        for (pool, name) in &want.volumes {
            let label = format!("{pool}/{name}");
            let key = VolKey {
                host: hn.clone(),
                pool: pool.clone(),
                name: name.clone(),
            };
            let seen = match (h, &id) {
                (Some(h), Some(id)) => json!({
                    "volume": h.volumes.get(&(pool.clone(), name.clone())).map(|v| ObservedVolume {
                        xml: steady(v.xml.as_ref(), Kind::Volume),
                        ..v.clone()
                    }),
                    "listed": h.volumes_listed.contains(pool),
                    "pool": steady_pool(h.pools.get(pool)),
                    "owned": inv.owns_volume(id, pool, name),
                    "readError": err(Kind::Volume, &label),
                }),
                _ => unreachable(),
            };
            p.add(
                obj_key(Kind::Volume, hn, &label),
                d.volumes.get(&key).map(manifest),
                seen,
            );
        }
    }
    for (k, s) in &d.snapshots {
        let h = o.hosts.get(&k.host);
        let seen = match h {
            None => unreachable(),
            Some(h) => json!({
                "snapshot": h.snapshots.get(&k.domain).and_then(|l| l.get(&k.name)),
                "listed": h.snapshots.contains_key(&k.domain),
                "taken": inv.took_snapshot(&h.identity(), &k.domain, &k.name),
                "snapshotsError": h.read_errors.get(&(Kind::Snapshot, k.domain.clone())),
            }),
        };
        p.add(
            obj_key(Kind::Snapshot, &k.host, &format!("{}/{}", k.domain, k.name)),
            Some(manifest(s)),
            seen,
        );
    }
    let objects = p.0;
    Fingerprint {
        digest: digest_of(&objects),
        objects,
    }
}

/// The overall digest: of every object's prints, secrets left out (so
/// that a printed plan shows the same digest as the saved one).
fn digest_of(objects: &BTreeMap<String, ObjectPrint>) -> String {
    let bare: BTreeMap<&String, (&Option<String>, &String)> = objects
        .iter()
        .map(|(k, v)| (k, (&v.desired, &v.observed)))
        .collect();
    sha(&serde_json::to_vec(&bare).unwrap_or_default())
}

/// How messages name the object of a fingerprint key.
fn label(key: &str) -> String {
    const KINDS: [Kind; 6] = [
        Kind::Host,
        Kind::Domain,
        Kind::Network,
        Kind::StoragePool,
        Kind::Volume,
        Kind::Snapshot,
    ];
    let kind_of = |s: &str| {
        KINDS
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    };
    let (first, rest) = key.split_once('/').unwrap_or((key, ""));
    let (host, kind, name) = match kind_of(first) {
        Some(k) => (None, k, rest),
        None => {
            let (k, name) = rest.split_once('/').unwrap_or((rest, ""));
            match kind_of(k) {
                Some(k) => (Some(first), k, name),
                None => return key.to_string(),
            }
        }
    };
    match (kind, host) {
        (Kind::Host, _) if name == "(default)" => "the default connection".into(),
        (_, None) => format!("{} {name}", kind_noun(kind)),
        (_, Some(h)) => format!("{} {name} on host {h}", kind_noun(kind)),
    }
}

impl Fingerprint {
    /// The same fingerprint without the digests of secrets (printed plans).
    pub fn without_secrets(&self) -> Fingerprint {
        let mut f = self.clone();
        for o in f.objects.values_mut() {
            o.secrets = None;
        }
        f
    }

    /// What changed between the state this fingerprint was made from and
    /// `now`: one line per object, empty when nothing did.
    pub fn changes_since(&self, now: &Fingerprint) -> Vec<String> {
        let keys: BTreeSet<&String> = self.objects.keys().chain(now.objects.keys()).collect();
        let mut out = Vec::new();
        for k in keys {
            let what = match (self.objects.get(k), now.objects.get(k)) {
                (Some(_), None) => vec!["is no longer in the manifests"],
                (None, Some(_)) => vec!["is new in the manifests"],
                (Some(a), Some(b)) => {
                    let mut w = Vec::new();
                    if a.desired != b.desired {
                        w.push(match (&a.desired, &b.desired) {
                            (None, _) => "is now declared by a manifest",
                            (_, None) => "is no longer declared by a manifest",
                            _ => "its manifest changed",
                        });
                    }
                    if a.observed != b.observed {
                        w.push("changed on the host");
                    } else if a.secrets != b.secrets {
                        w.push("its secrets changed");
                    }
                    w
                }
                (None, None) => vec![],
            };
            if !what.is_empty() {
                out.push(format!("{}: {}", label(k), what.join(", ")));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_changes_by_itself_is_not_fingerprinted() {
        let vol = |alloc: u64, atime: &str| {
            format!("<volume type='file'><name>a.qcow2</name><capacity unit='bytes'>1073741824</capacity><allocation unit='bytes'>{alloc}</allocation><physical unit='bytes'>{alloc}</physical><target><path>/p/a.qcow2</path><format type='qcow2'/><timestamps><atime>{atime}</atime></timestamps></target></volume>")
        };
        let a = steady(Some(&vol(200704, "1.5")), Kind::Volume);
        assert_eq!(a, steady(Some(&vol(1_000_000, "9.1")), Kind::Volume));
        assert!(a.as_deref().unwrap().contains("1073741824"));
        let bigger = vol(200704, "1.5").replace("1073741824", "2147483648");
        assert_ne!(a, steady(Some(&bigger), Kind::Volume));
        let pool = |avail: u64| {
            format!("<pool type='dir'><name>p</name><capacity unit='bytes'>9</capacity><allocation unit='bytes'>1</allocation><available unit='bytes'>{avail}</available><target><path>/p</path></target></pool>")
        };
        assert_eq!(
            steady(Some(&pool(8)), Kind::StoragePool),
            steady(Some(&pool(3)), Kind::StoragePool)
        );
    }

    #[test]
    fn keys_are_named_for_people() {
        assert_eq!(label("domain/web-1"), "domain web-1");
        assert_eq!(
            label("kvm-a/volume/images/a.qcow2"),
            "volume images/a.qcow2 on host kvm-a"
        );
        assert_eq!(label("storagepool/images"), "pool images");
        assert_eq!(label("host/(default)"), "the default connection");
        assert_eq!(label("host/kvm-b"), "host kvm-b");
    }
}
