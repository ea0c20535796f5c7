//! Reading a host's objects into manifest documents: which objects are
//! selected, each one's document with its comments, and the external
//! declarations of what the imported domains use but was not imported.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::document::{document, external_document, kept_comments, meta, sentence};
use super::*;
use crate::backend::{DomainEntry, Entry};

/// The names selected, per kind.
#[derive(Default)]
struct Picked {
    domains: BTreeSet<String>,
    networks: BTreeSet<String>,
    pools: BTreeSet<String>,
}

/// What `sel` names among the listed objects, or the first name that
/// names nothing.
fn select(
    sel: &Selection,
    uri: &str,
    domains: &[DomainEntry],
    networks: &[Entry],
    pools: &[Entry],
) -> Result<Picked, ImportError> {
    let mut p = Picked::default();
    if sel.all {
        p.domains.extend(domains.iter().map(|d| d.name.clone()));
        p.networks.extend(networks.iter().map(|n| n.name.clone()));
        p.pools.extend(pools.iter().map(|p| p.name.clone()));
    }
    for arg in &sel.names {
        let (kind, name) = match arg.split_once('/') {
            None => (None, arg.as_str()),
            Some((k, n)) => {
                let kind = match k {
                    "domain" => Kind::Domain,
                    "network" => Kind::Network,
                    "pool" => Kind::StoragePool,
                    _ => {
                        return Err(ImportError::UnknownKind {
                            arg: arg.clone(),
                            kind: k.to_string(),
                        })
                    }
                };
                (Some(kind), n)
            }
        };
        let wants = |k: Kind| kind.is_none_or(|x| x == k);
        let mut found = false;
        let mut pick = |k: Kind, exists: bool, set: &mut BTreeSet<String>| {
            if wants(k) && exists {
                set.insert(name.to_string());
                found = true;
            }
        };
        pick(
            Kind::Domain,
            domains.iter().any(|d| d.name == name),
            &mut p.domains,
        );
        pick(
            Kind::Network,
            networks.iter().any(|n| n.name == name),
            &mut p.networks,
        );
        pick(
            Kind::StoragePool,
            pools.iter().any(|p| p.name == name),
            &mut p.pools,
        );
        if !found {
            let what = match kind {
                None => "domain, network or pool",
                Some(Kind::Domain) => "domain",
                Some(Kind::Network) => "network",
                _ => "pool",
            };
            return Err(ImportError::NotFound {
                what,
                name: name.to_string(),
                uri: uri.to_string(),
            });
        }
    }
    Ok(p)
}

fn parse(kind: &'static str, name: &str, xml: &str) -> Result<Element, ImportError> {
    Element::parse(xml).map_err(|e| ImportError::Xml {
        kind,
        name: name.to_string(),
        message: e.to_string(),
    })
}

/// The import under way: the files so far, what was skipped, and what the
/// imported domains use.
struct Reader<'h> {
    host: &'h dyn HostRead,
    /// `imported from URI`, for the comments.
    from: String,
    files: BTreeMap<PathBuf, File>,
    skipped: Vec<Skipped>,
    used_networks: BTreeSet<String>,
    used_volumes: BTreeSet<(String, String)>,
}

impl Reader<'_> {
    /// The file at `path` (relative), added if new. A file that also
    /// holds imported objects is not "references only".
    fn file(&mut self, path: String, references_only: bool) -> &mut File {
        let path = PathBuf::from(path);
        let f = self.files.entry(path.clone()).or_insert(File {
            path,
            docs: Vec::new(),
            references_only,
        });
        f.references_only &= references_only;
        f
    }

    /// Keep the names virtsync accepts; the others (names become file
    /// names) are skipped.
    fn named_ok(&mut self, kind: Kind, set: &mut BTreeSet<String>) {
        set.retain(|n| match check_name(n) {
            Ok(()) => true,
            Err(e) => {
                self.skipped.push(Skipped {
                    kind,
                    name: n.clone(),
                    reason: format!("{e}; rename it in libvirt to manage it"),
                });
                false
            }
        })
    }

    fn domain(&mut self, d: &DomainEntry) -> Result<(), ImportError> {
        let root = parse("domain", &d.name, &self.host.domain_xml(&d.name, false)?)?;
        let state = DomainState {
            state: d.state,
            persistent: d.persistent,
            autostart: Some(d.autostart),
        };
        let imp = domain_spec(&root, state);
        self.used_networks.extend(imp.networks.iter().cloned());
        self.used_volumes.extend(imp.volumes.iter().cloned());
        let mut comments = sentence(&format!("Domain {}, {}.", d.name, self.from));
        comments.extend(kept_comments(
            "domain",
            &kept::unmodelled(&root, kept::DOMAIN),
            &imp.left_out,
        ));
        let snapshots: Vec<String> = match self.host.snapshots(&d.name) {
            Ok(list) => list.into_iter().map(|(n, _)| n).collect(),
            Err(e) => vec![format!("(could not be listed: {e})")],
        };
        if !snapshots.is_empty() {
            comments.extend(sentence(&format!(
                "Snapshots on the host, not imported (they stay as they are): {}.",
                snapshots.join(", ")
            )));
        }
        let yaml = document(Kind::Domain, &meta(&d.name, false), Some(&imp.spec));
        self.file(format!("domains/{}.yaml", d.name), false)
            .docs
            .push(Doc {
                kind: Kind::Domain,
                name: d.name.clone(),
                external: false,
                comments,
                yaml,
            });
        Ok(())
    }

    fn network(&mut self, n: &Entry) -> Result<(), ImportError> {
        let root = parse("network", &n.name, &self.host.network_xml(&n.name, false)?)?;
        let imp = network_spec(&root, n.active, n.autostart);
        let mut comments = sentence(&format!("Network {}, {}.", n.name, self.from));
        comments.extend(kept_comments(
            "network",
            &kept::unmodelled(&root, kept::NETWORK),
            &imp.left_out,
        ));
        let yaml = document(Kind::Network, &meta(&n.name, false), Some(&imp.spec));
        self.file(format!("networks/{}.yaml", n.name), false)
            .docs
            .push(Doc {
                kind: Kind::Network,
                name: n.name.clone(),
                external: false,
                comments,
                yaml,
            });
        Ok(())
    }

    /// A pool and, when it is active, its volumes, in one file. A pool of
    /// a type virtsync does not model is declared external, so that what
    /// uses it validates.
    fn pool(&mut self, p: &Entry) -> Result<(), ImportError> {
        let root = parse("pool", &p.name, &self.host.pool_xml(&p.name)?)?;
        let path = format!("storage/{}.yaml", p.name);
        let spec = match pool_spec(&root, p.active, p.autostart).spec {
            Ok(spec) => spec,
            Err(why) => {
                let comments = sentence(&format!(
                    "Pool {}, {}. Declared external: {why}; virtsync uses it as it is and never changes it.",
                    p.name, self.from
                ));
                self.file(path, false).docs.push(Doc {
                    kind: Kind::StoragePool,
                    name: p.name.clone(),
                    external: true,
                    comments,
                    yaml: external_document(Kind::StoragePool, &p.name, None),
                });
                return Ok(());
            }
        };
        let mut comments = sentence(&format!("Pool {} and its volumes, {}.", p.name, self.from));
        comments.extend(kept_comments(
            "pool",
            &kept::unmodelled(&root, kept::POOL),
            &[],
        ));
        let volumes = if p.active {
            self.volumes(&p.name, &mut comments)?
        } else {
            comments.extend(sentence(
                "It is inactive, so its volumes could not be listed: import it again once it runs.",
            ));
            vec![]
        };
        let yaml = document(Kind::StoragePool, &meta(&p.name, false), Some(&spec));
        let file = self.file(path, false);
        file.docs.push(Doc {
            kind: Kind::StoragePool,
            name: p.name.clone(),
            external: false,
            comments,
            yaml,
        });
        file.docs.extend(volumes);
        Ok(())
    }

    /// The documents of the volumes of the active pool `pool`; those that
    /// cannot be imported are said in `comments`, and skipped.
    fn volumes(&mut self, pool: &str, comments: &mut Vec<String>) -> Result<Vec<Doc>, ImportError> {
        let mut docs = Vec::new();
        for v in self.host.list_volumes(pool)? {
            let label = format!("{pool}/{v}");
            let spec = check_name(&v).and_then(|()| {
                let xml = self.host.volume_xml(pool, &v).map_err(|e| e.to_string())?;
                let root = Element::parse(&xml).map_err(|e| e.to_string())?;
                volume_spec(pool, &root)
            });
            match spec {
                Ok(spec) => docs.push(Doc {
                    kind: Kind::Volume,
                    name: label,
                    external: false,
                    comments: vec![],
                    yaml: document(Kind::Volume, &meta(&v, false), Some(&spec)),
                }),
                Err(why) => {
                    comments.extend(sentence(&format!("Volume {v} is not imported: {why}.")));
                    self.skipped.push(Skipped {
                        kind: Kind::Volume,
                        name: label,
                        reason: why,
                    });
                }
            }
        }
        Ok(docs)
    }

    /// External declarations of what the imported domains use and was
    /// not imported: the directory validates, and virtsync never changes
    /// them.
    fn references(&mut self, networks: &[Entry]) {
        let declared: BTreeSet<(Kind, String)> = self
            .files
            .values()
            .flat_map(|f| &f.docs)
            .map(|d| (d.kind, d.name.clone()))
            .collect();
        let is = |k: Kind, n: &str| declared.contains(&(k, n.to_string()));
        for net in std::mem::take(&mut self.used_networks) {
            if is(Kind::Network, &net) {
                continue;
            }
            let mut comments = sentence(&format!(
                "Network {net}: used by the domains imported here, declared external: virtsync \
                 uses it as it is and never changes it (`virtsync import network/{net}` manages it)."
            ));
            if !networks.iter().any(|n| n.name == net) {
                comments.push("It does not exist on the host.".into());
            }
            self.file(format!("networks/{net}.yaml"), true)
                .docs
                .push(Doc {
                    kind: Kind::Network,
                    name: net.clone(),
                    external: true,
                    comments,
                    yaml: external_document(Kind::Network, &net, None),
                });
        }
        for (pool, vol) in std::mem::take(&mut self.used_volumes) {
            let label = format!("{pool}/{vol}");
            if is(Kind::Volume, &label) {
                continue;
            }
            let file = self.file(format!("storage/{pool}.yaml"), true);
            if !file.docs.iter().any(|d| d.kind == Kind::StoragePool) {
                file.docs.push(Doc {
                    kind: Kind::StoragePool,
                    name: pool.clone(),
                    external: true,
                    comments: sentence(&format!(
                        "Pool {pool}: used by the domains imported here, declared external: virtsync \
                         uses it as it is and never changes it (`virtsync import pool/{pool}` manages it)."
                    )),
                    yaml: external_document(Kind::StoragePool, &pool, None),
                });
            }
            file.docs.push(Doc {
                kind: Kind::Volume,
                name: label,
                external: true,
                comments: vec![],
                yaml: external_document(Kind::Volume, &vol, Some(&pool)),
            });
        }
    }
}

/// Read the selected objects of `host` into manifests.
pub fn read(host: &dyn HostRead, sel: &Selection) -> Result<Imported, ImportError> {
    let uri = host.uri().to_string();
    let domains = host.list_domains(true)?;
    let networks = host.list_networks(true)?;
    let pools = host.list_pools(true)?;
    let mut picked = select(sel, &uri, &domains, &networks, &pools)?;
    let mut r = Reader {
        host,
        from: format!("imported from {uri}"),
        files: BTreeMap::new(),
        skipped: Vec::new(),
        used_networks: BTreeSet::new(),
        used_volumes: BTreeSet::new(),
    };
    r.named_ok(Kind::Domain, &mut picked.domains);
    r.named_ok(Kind::Network, &mut picked.networks);
    r.named_ok(Kind::StoragePool, &mut picked.pools);
    for d in domains.iter().filter(|d| picked.domains.contains(&d.name)) {
        r.domain(d)?;
    }
    for n in networks
        .iter()
        .filter(|n| picked.networks.contains(&n.name))
    {
        r.network(n)?;
    }
    for p in pools.iter().filter(|p| picked.pools.contains(&p.name)) {
        r.pool(p)?;
    }
    r.references(&networks);
    Ok(Imported {
        uri,
        files: r.files.into_values().collect(),
        skipped: r.skipped,
    })
}
