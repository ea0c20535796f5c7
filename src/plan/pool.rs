//! Planning storage pools. Pools have no `<metadata>`: ownership comes
//! from the inventory (by name and UUID). A pool is never replaced; its
//! path moves only while it holds no volumes.

use super::*;
use crate::render::storage::*;
use crate::xml::Element;

fn pool_changes(p: &Pool, have: &PoolFacts) -> Vec<Change> {
    let mut out = Vec::new();
    let mut diff = |field: &str, from: &str, to: &str, class: ChangeClass| {
        if from != to {
            out.push(Change {
                field: field.into(),
                from: from.into(),
                to: to.into(),
                class,
            });
        }
    };
    if let Some(t) = p.pool_type {
        diff("type", &have.pool_type, t.as_str(), ChangeClass::Replace);
    }
    if let Some(path) = &p.path {
        let norm = |s: &str| s.trim_end_matches('/').to_string();
        diff(
            "path",
            &norm(&have.path),
            &norm(path),
            ChangeClass::NextBoot,
        );
    }
    if let Some(s) = &p.source {
        let pairs = [
            ("source.host", &s.host, &have.source_host),
            ("source.dir", &s.dir, &have.source_dir),
            ("source.device", &s.device, &have.source_device),
            ("source.name", &s.name, &have.source_name),
            ("source.format", &s.format, &have.source_format),
        ];
        for (f, want, got) in pairs {
            if let Some(w) = want {
                diff(
                    f,
                    got.as_deref().unwrap_or_default(),
                    w,
                    ChangeClass::NextBoot,
                );
            }
        }
    }
    out
}

pub(crate) fn plan_pool(b: &mut Builder, p: &Pool) {
    let Some(host) = b.host_of(Kind::StoragePool, &p.meta) else {
        return;
    };
    if b.unreadable(Kind::StoragePool, &p.meta, host, &p.meta.name) {
        return;
    }
    let hname = p.meta.host.clone();
    let name = p.meta.name.clone();
    let obs = host.pools.get(&name);
    if p.external {
        b.check_external(
            Kind::StoragePool,
            &p.meta,
            obs.map(|o| o.active),
            "virsh pool-start",
        );
        return;
    }
    let Some(obs) = obs else {
        let xml = render_pool(p, None).to_xml();
        b.push(
            &hname,
            &name,
            Effect::Create,
            vec![],
            Step::DefinePool { xml },
            &[],
            false,
        );
        if p.pool_type == Some(PoolType::Dir) {
            b.push(
                &hname,
                &name,
                Effect::Create,
                vec![],
                Step::BuildPool,
                &[],
                false,
            );
        }
        if p.active {
            b.push(
                &hname,
                &name,
                Effect::Power,
                vec![],
                Step::StartPool,
                &[],
                true,
            );
        }
        if p.autostart == Some(true) {
            b.enable_autostart(Kind::StoragePool, &hname, &name);
        }
        return;
    };
    if !b
        .input
        .inventory
        .owns_pool(&host.identity(), &name, &obs.uuid)
    {
        if super::adopt::pool(b, p, obs) {
            return;
        }
        return b.unmanaged(
            Kind::StoragePool,
            &p.meta,
            "a pool of this name exists on the host but virtsync did not create it (not in the inventory); \
             pass --adopt to take it over as it is, mark the manifest `metadata.external: true` to use it without managing it, or rename the manifest",
        );
    }
    let inventory = b.input.inventory;
    if b.other_owner(
        Kind::StoragePool,
        &p.meta,
        inventory.pool_record(&host.identity(), &name),
    ) {
        return;
    }
    let Some(root) = obs.xml.as_deref().and_then(|x| Element::parse(x).ok()) else {
        return b.error(
            Kind::StoragePool,
            &p.meta,
            "its XML could not be read from the host",
        );
    };
    let changes = pool_changes(p, &read_pool(&root));
    if let Some(c) = changes.iter().find(|c| c.class == ChangeClass::Replace) {
        return b.error(
            Kind::StoragePool,
            &p.meta,
            format!("the pool's {} is {} on the host, the manifest says {}; a pool is never replaced automatically: create a new pool and move the volumes", c.field, c.from, c.to),
        );
    }
    if let Some(c) = changes.iter().find(|c| c.field == "path") {
        // The volumes stay where they are: a pool moved away from them
        // would list none, and the domains using them would point at
        // files no pool holds. An empty pool moves at once.
        let held = host
            .volumes
            .keys()
            .filter(|(pool, _)| *pool == name)
            .count();
        if !obs.active || held > 0 {
            let why = if obs.active {
                format!("it holds {held} volume(s) in {}", c.from)
            } else {
                "it is inactive, so its volumes cannot be listed".to_string()
            };
            return b.error(
                Kind::StoragePool,
                &p.meta,
                format!("the pool's path is {} on the host, the manifest says {}, and {why}; move the volumes first (stop the guests using them, `mv` the files into {} and `virsh pool-refresh`), or give the new directory a new pool", c.from, c.to, c.to),
            );
        }
        let xml = render_pool(p, Some(&root)).to_xml();
        for step in [Step::DestroyPool, Step::DefinePool { xml }, Step::BuildPool] {
            let changes = if matches!(step, Step::DefinePool { .. }) {
                changes.clone()
            } else {
                vec![]
            };
            let effect = match step {
                Step::DefinePool { .. } => Effect::Update,
                Step::BuildPool => Effect::Create,
                _ => Effect::Power,
            };
            b.push(&hname, &name, effect, changes, step, &[], false);
        }
        b.autostart_and_active(
            Kind::StoragePool,
            &hname,
            &name,
            (obs.autostart, p.autostart),
            (false, p.active),
        );
        return;
    }
    if !changes.is_empty() {
        let xml = render_pool(p, Some(&root)).to_xml();
        let fields: Vec<String> = changes.iter().map(|c| c.field.clone()).collect();
        b.push(
            &hname,
            &name,
            Effect::Update,
            changes,
            Step::DefinePool { xml },
            &[],
            false,
        );
        if obs.active {
            b.restart_pending(Kind::StoragePool, &p.meta, fields, "when the pool restarts");
        }
    }
    b.autostart_and_active(
        Kind::StoragePool,
        &hname,
        &name,
        (obs.autostart, p.autostart),
        (obs.active, p.active),
    );
}
