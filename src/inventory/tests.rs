use super::*;
use crate::model::{Capabilities, HostName, Kind, ObservedHost, ObservedPool};

const UUID: &str = "6d1f0c1e-5b8e-4f5e-9a55-0f4c7c1f2a10";
const SOCKET: &str = "qemu+unix:///system?socket=/var/run/libvirt/libvirt-sock";

fn host(uri: &str) -> ObservedHost {
    ObservedHost {
        uri: uri.into(),
        caps: Capabilities {
            host_uuid: Some(UUID.into()),
            ..Capabilities::default()
        },
        ..ObservedHost::default()
    }
}

fn observed(h: ObservedHost) -> ObservedState {
    ObservedState {
        hosts: BTreeMap::from([(HostName::DEFAULT, h)]),
        ..ObservedState::default()
    }
}

fn pool(name: &str, uuid: &str) -> ObservedPool {
    ObservedPool {
        name: name.into(),
        uuid: uuid.into(),
        active: true,
        autostart: false,
        xml: None,
    }
}

#[test]
fn a_uri_keyed_file_moves_to_the_hosts_identity_and_both_spellings_share_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(FILE_NAME),
        r#"{"hosts": {"qemu:///system": {"pools": {"images": "p-1"}, "volumes": {"images": ["a.qcow2"]}}}}"#,
    )
    .unwrap();
    let inv = Inventory::load(dir.path()).unwrap();
    let id = HostId::from(UUID);
    assert!(!inv.owns_pool(&id, "images", "p-1"));
    assert!(inv.by_uri.contains_key("qemu:///system"));
    // Reached through another spelling first: the old record is not
    // this URI's, so it waits.
    let other = inv.view(&observed(host(SOCKET)));
    assert!(!other.owns_pool(&id, "images", "p-1"));
    // Reached through its own URI: it is the host's record from then on,
    // whatever the spelling.
    let v = other.view(&observed(host("qemu:///system")));
    assert!(v.by_uri.is_empty());
    assert!(v.owns_pool(&id, "images", "p-1"));
    assert!(v.owns_volume(&id, "images", "a.qcow2"));
    let v = v.view(&observed(host(SOCKET)));
    assert!(v.owns_pool(&id, "images", "p-1"));
    assert_eq!(
        v.hosts[&id].uris,
        BTreeSet::from([SOCKET.to_string(), "qemu:///system".to_string()])
    );
    // Saved and read back in the new format.
    v.save(dir.path()).unwrap();
    let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
    assert!(text.contains("\"formatVersion\": 2"), "{text}");
    assert!(text.contains(UUID), "{text}");
    assert_eq!(Inventory::load(dir.path()).unwrap(), v);
}

#[test]
fn a_newer_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(FILE_NAME),
        r#"{"formatVersion": 99, "hosts": {}}"#,
    )
    .unwrap();
    let e = Inventory::load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("format version 99"), "{e}");
}

#[test]
fn an_intent_for_an_object_that_exists_makes_it_owned() {
    let id = HostId::from(UUID);
    let mut inv = Inventory::default();
    let rec = inv.host_mut(&id, "qemu:///system");
    rec.intend(Intent::create(Kind::StoragePool, "images"));
    rec.intend(Intent::create(Kind::StoragePool, "never-made"));
    rec.intend(Intent::create(Kind::Volume, "images/a.qcow2"));
    rec.intend(Intent::create(Kind::Volume, "images/b.qcow2"));
    rec.intend(Intent::create(Kind::Snapshot, "web/s1"));

    // Nothing listed: nothing can be settled.
    let v = inv.view(&observed(host("qemu:///system")));
    assert_eq!(v.hosts[&id].intents.len(), 5);
    assert!(!v.owns_pool(&id, "images", "p-1"));

    let mut h = host("qemu:///system");
    h.pools_listed = true;
    h.pools.insert("images".into(), pool("images", "p-1"));
    h.volumes_listed.insert("images".into());
    h.volumes.insert(
        ("images".into(), "a.qcow2".into()),
        crate::model::ObservedVolume {
            pool: "images".into(),
            name: "a.qcow2".into(),
            xml: None,
        },
    );
    h.snapshots.insert("web".into(), BTreeMap::new());
    let v = inv.view(&observed(h));
    assert!(v.owns_pool(&id, "images", "p-1"));
    assert!(!v.hosts[&id].pools.contains_key("never-made"));
    assert!(v.owns_volume(&id, "images", "a.qcow2"));
    assert!(!v.owns_volume(&id, "images", "b.qcow2"));
    assert!(!v.took_snapshot(&id, "web", "s1"));
    assert!(
        v.hosts[&id].intents.is_empty(),
        "{:?}",
        v.hosts[&id].intents
    );
}

#[test]
fn a_snapshot_delete_is_settled_by_what_the_listing_shows() {
    let id = HostId::from(UUID);
    let mut inv = Inventory::default();
    let rec = inv.host_mut(&id, "qemu:///system");
    rec.record_snapshot("web", "gone");
    rec.record_snapshot("web", "kept");
    rec.intend(Intent::delete(Kind::Snapshot, "web/gone"));
    rec.intend(Intent::delete(Kind::Snapshot, "web/kept"));
    let mut h = host("qemu:///system");
    h.snapshots.insert(
        "web".into(),
        BTreeMap::from([("kept".to_string(), "<domainsnapshot/>".to_string())]),
    );
    let v = inv.view(&observed(h));
    assert!(!v.took_snapshot(&id, "web", "gone"));
    assert!(v.took_snapshot(&id, "web", "kept"));
    assert!(v.hosts[&id].intents.is_empty());
}

#[test]
fn a_confirmed_create_is_recorded_and_its_intent_dropped() {
    let id = HostId::from(UUID);
    let mut inv = Inventory::default();
    let rec = inv.host_mut(&id, "qemu:///system");
    let i = Intent::create(Kind::StoragePool, "images");
    rec.intend(i.clone());
    // No UUID read back: the intent waits for the next observation.
    rec.confirm(&i, None);
    assert_eq!(rec.intents.len(), 1);
    rec.confirm(&i, Some("p-1"));
    assert!(rec.intents.is_empty());
    assert!(inv.owns_pool(&id, "images", "p-1"));
}
