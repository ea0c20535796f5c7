//! Who uses what on one host: the disks and NICs of every domain, read
//! from its XML (every domain's is read under `--prune`), so that a
//! network, pool or volume a remaining domain uses is never deleted.

use std::collections::BTreeSet;

use crate::model::ObservedHost;
use crate::render::domain::{read_domain, DomainFacts};
use crate::xml::Element;

/// What the domains of one host use, from their XML (read for every domain
/// under `--prune`).
pub(super) struct Usage {
    /// Domain name → what its XML says.
    pub known: Vec<(String, DomainFacts)>,
    /// Domains whose XML is not known: they may use anything.
    pub unknown: Vec<String>,
}

impl Usage {
    pub fn of(host: &ObservedHost) -> Usage {
        let mut u = Usage {
            known: Vec::new(),
            unknown: Vec::new(),
        };
        for (name, d) in &host.domains {
            match d.xml.as_deref().and_then(|x| Element::parse(x).ok()) {
                Some(root) => u.known.push((name.clone(), read_domain(&root))),
                None => u.unknown.push(name.clone()),
            }
        }
        u
    }

    /// The domains (pruned ones apart) whose facts satisfy `uses`, and
    /// those that cannot be told.
    pub fn users(
        &self,
        pruned: &BTreeSet<String>,
        uses: impl Fn(&DomainFacts) -> bool,
    ) -> (Vec<&str>, Vec<&str>) {
        let staying = self
            .known
            .iter()
            .filter(|(n, f)| !pruned.contains(n) && uses(f))
            .map(|(n, _)| n.as_str())
            .collect();
        let unknown = self
            .unknown
            .iter()
            .filter(|n| !pruned.contains(*n))
            .map(String::as_str)
            .collect();
        (staying, unknown)
    }

    /// The pruned domains whose facts satisfy `uses`.
    pub fn pruned_users<'u>(
        &'u self,
        pruned: &'u BTreeSet<String>,
        uses: impl Fn(&DomainFacts) -> bool + 'u,
    ) -> impl Iterator<Item = &'u str> + 'u {
        self.known
            .iter()
            .filter(move |(n, f)| pruned.contains(n) && uses(f))
            .map(|(n, _)| n.as_str())
    }
}

/// Why a network, pool or volume stays: the domains that stay and use it,
/// or whose use cannot be told.
pub(super) fn in_use(noun: &str, staying: &[&str], unknown: &[&str]) -> Option<String> {
    if let Some(d) = staying.first() {
        let more = if staying.len() > 1 {
            format!(" (and {} more)", staying.len() - 1)
        } else {
            String::new()
        };
        return Some(format!(
            "its manifest is gone, but domain {d}{more} still uses this {noun}: not pruned; remove the domain or its use of the {noun} first"
        ));
    }
    unknown.first().map(|d| {
        format!("its manifest is gone, but whether domain {d} uses this {noun} cannot be told (its XML could not be read): not pruned this pass")
    })
}
