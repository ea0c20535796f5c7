//! A small XML element tree on top of quick-xml, for libvirt documents.
//!
//! Updates must keep every element virtsync does not model (docs/design.md:
//! "patch, don't replace"), which a serde round trip would drop. This tree
//! keeps elements, attributes (in order), text, comments and CDATA as read,
//! so a document can be edited at the element level and written back.
//! libvirt re-formats what it stores, so whitespace is kept but not managed.

use quick_xml::events::{BytesCData, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    Text(String),
    /// Comments, CDATA, processing instructions: kept verbatim.
    Raw(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

#[derive(Debug, thiserror::Error)]
#[error("malformed XML at byte {position}: {message}")]
pub struct XmlError {
    pub position: u64,
    pub message: String,
}

impl Element {
    pub fn new(name: &str) -> Element {
        Element {
            name: name.to_string(),
            ..Element::default()
        }
    }

    /// Builder: add an attribute.
    pub fn with_attr(mut self, k: &str, v: impl Into<String>) -> Element {
        self.set_attr(k, v);
        self
    }

    /// Builder: add a child element.
    pub fn with_child(mut self, e: Element) -> Element {
        self.children.push(Node::Element(e));
        self
    }

    /// Builder: set the text content.
    pub fn with_text(mut self, t: impl Into<String>) -> Element {
        self.set_text(t);
        self
    }

    /// Parse a document (or fragment) with exactly one root element.
    pub fn parse(text: &str) -> Result<Element, XmlError> {
        let mut reader = Reader::from_str(text);
        reader.config_mut().check_end_names = true;
        let mut stack: Vec<Element> = Vec::new();
        let mut root: Option<Element> = None;
        let err = |reader: &Reader<&[u8]>, message: String| XmlError {
            position: reader.buffer_position(),
            message,
        };
        loop {
            let ev = reader
                .read_event()
                .map_err(|e| err(&reader, e.to_string()))?;
            match ev {
                Event::Start(s) => stack.push(start_to_element(&s).map_err(|m| err(&reader, m))?),
                Event::Empty(s) => {
                    let e = start_to_element(&s).map_err(|m| err(&reader, m))?;
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(Node::Element(e)),
                        None if root.is_none() => root = Some(e),
                        None => return Err(err(&reader, "more than one root element".into())),
                    }
                }
                Event::End(_) => {
                    let e = stack
                        .pop()
                        .ok_or_else(|| err(&reader, "unbalanced end tag".into()))?;
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(Node::Element(e)),
                        None if root.is_none() => root = Some(e),
                        None => return Err(err(&reader, "more than one root element".into())),
                    }
                }
                Event::Text(t) => {
                    if let Some(parent) = stack.last_mut() {
                        // Entity references arrive as their own events.
                        parent
                            .children
                            .push(Node::Text(t.xml10_content().into_owned()));
                    }
                }
                Event::GeneralRef(r) => {
                    // Entity and character references arrive on their own.
                    if let Some(parent) = stack.last_mut() {
                        let name = r.into_inner();
                        let raw = format!("&{name};");
                        let s = quick_xml::escape::unescape(&raw)
                            .map_err(|e| err(&reader, e.to_string()))?
                            .into_owned();
                        parent.children.push(Node::Text(s));
                    }
                }
                Event::CData(c) => {
                    if let Some(parent) = stack.last_mut() {
                        let s = c.into_inner();
                        parent.children.push(Node::Raw(format!("<![CDATA[{s}]]>")));
                    }
                }
                Event::Comment(c) => {
                    if let Some(parent) = stack.last_mut() {
                        let s = c.into_inner();
                        parent.children.push(Node::Raw(format!("<!--{s}-->")));
                    }
                }
                Event::Eof => break,
                Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            }
        }
        if !stack.is_empty() {
            return Err(XmlError {
                position: text.len() as u64,
                message: format!("element <{}> is not closed", stack[stack.len() - 1].name),
            });
        }
        root.ok_or(XmlError {
            position: 0,
            message: "no element".into(),
        })
    }

    /// Serialize (no declaration; libvirt does not want one).
    pub fn to_xml(&self) -> String {
        let mut w = Writer::new(Vec::new());
        write_element(&mut w, self);
        String::from_utf8(w.into_inner()).expect("written from strings")
    }

    pub fn attr(&self, k: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    pub fn set_attr(&mut self, k: &str, v: impl Into<String>) {
        let v = v.into();
        match self.attrs.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = v,
            None => self.attrs.push((k.to_string(), v)),
        }
    }

    pub fn remove_attr(&mut self, k: &str) {
        self.attrs.retain(|(n, _)| n != k);
    }

    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    pub fn elements_mut(&mut self) -> impl Iterator<Item = &mut Element> {
        self.children.iter_mut().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            _ => None,
        })
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }

    pub fn child_mut(&mut self, name: &str) -> Option<&mut Element> {
        self.elements_mut().find(|e| e.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.elements().filter(move |e| e.name == name)
    }

    /// The child named `name`, appended when missing.
    pub fn ensure_child(&mut self, name: &str) -> &mut Element {
        if self.child(name).is_none() {
            self.children.push(Node::Element(Element::new(name)));
        }
        self.child_mut(name).expect("just ensured")
    }

    /// Follow a path of child names (`["os", "type"]`).
    pub fn find(&self, path: &[&str]) -> Option<&Element> {
        path.iter().try_fold(self, |e, n| e.child(n))
    }

    pub fn remove_children(&mut self, name: &str) {
        self.children
            .retain(|n| !matches!(n, Node::Element(e) if e.name == name));
    }

    /// Replace the first child named like `e` (or append it).
    pub fn replace_child(&mut self, e: Element) {
        match self
            .children
            .iter_mut()
            .find(|n| matches!(n, Node::Element(c) if c.name == e.name))
        {
            Some(slot) => *slot = Node::Element(e),
            None => self.children.push(Node::Element(e)),
        }
    }

    /// Concatenated text content of this element's own text nodes.
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect::<String>()
            .trim()
            .to_string()
    }

    pub fn set_text(&mut self, t: impl Into<String>) {
        self.children.retain(|n| !matches!(n, Node::Text(_)));
        self.children.insert(0, Node::Text(t.into()));
    }

    /// Whether every attribute and child of `want` is present in `self`
    /// (libvirt adds its own attributes and children; order and whitespace
    /// do not matter). Used to compare `xml` escape-hatch fragments.
    pub fn contains(&self, want: &Element) -> bool {
        if self.name != want.name {
            return false;
        }
        if !want
            .attrs
            .iter()
            .all(|(k, v)| self.attr(k) == Some(v.as_str()))
        {
            return false;
        }
        if !want.text().is_empty() && want.text() != self.text() {
            return false;
        }
        // Each wanted child must match a distinct child of ours.
        let mut used = vec![false; self.children.len()];
        want.elements().all(|w| {
            let found = self
                .children
                .iter()
                .enumerate()
                .find(|(i, n)| !used[*i] && matches!(n, Node::Element(c) if c.contains(w)));
            match found {
                Some((i, _)) => {
                    used[i] = true;
                    true
                }
                None => false,
            }
        })
    }
}

fn start_to_element(s: &BytesStart) -> Result<Element, String> {
    let mut e = Element::new(s.name().into_inner());
    for a in s.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let key = a.key.into_inner().to_string();
        let value = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| e.to_string())?
            .into_owned();
        e.attrs.push((key, value));
    }
    Ok(e)
}

fn write_element(w: &mut Writer<Vec<u8>>, e: &Element) {
    let mut start = BytesStart::new(e.name.as_str());
    for (k, v) in &e.attrs {
        start.push_attribute((k.as_str(), v.as_str()));
    }
    if e.children.is_empty() {
        w.write_event(Event::Empty(start)).expect("vec write");
        return;
    }
    w.write_event(Event::Start(start)).expect("vec write");
    for c in &e.children {
        match c {
            Node::Element(child) => write_element(w, child),
            Node::Text(t) => w
                .write_event(Event::Text(BytesText::new(t)))
                .expect("vec write"),
            Node::Raw(r) => {
                if let Some(inner) = r
                    .strip_prefix("<![CDATA[")
                    .and_then(|r| r.strip_suffix("]]>"))
                {
                    w.write_event(Event::CData(BytesCData::new(inner)))
                        .expect("vec write");
                } else {
                    w.get_mut().extend_from_slice(r.as_bytes());
                }
            }
        }
    }
    w.write_event(Event::End(BytesEnd::new(e.name.as_str())))
        .expect("vec write");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_unknown_elements_and_attribute_order() {
        let src = "<domain type='kvm' id='1'><name>a&amp;b</name><!-- note --><devices><emulator>/usr/bin/qemu</emulator><x b='2' a='1'/></devices></domain>";
        let e = Element::parse(src).unwrap();
        assert_eq!(e.find(&["name"]).unwrap().text(), "a&b");
        let out = e.to_xml();
        assert_eq!(
            out,
            "<domain type=\"kvm\" id=\"1\"><name>a&amp;b</name><!-- note --><devices><emulator>/usr/bin/qemu</emulator><x b=\"2\" a=\"1\"/></devices></domain>"
        );
        assert_eq!(Element::parse(&out).unwrap(), e);
    }

    #[test]
    fn subset_comparison() {
        let have = Element::parse("<bios useserial='yes' rebootTimeout='-1'><x/></bios>").unwrap();
        assert!(have.contains(&Element::parse("<bios rebootTimeout='-1'/>").unwrap()));
        assert!(!have.contains(&Element::parse("<bios rebootTimeout='0'/>").unwrap()));
        assert!(!have.contains(&Element::parse("<bios><y/></bios>").unwrap()));
    }

    #[test]
    fn malformed_is_an_error() {
        assert!(Element::parse("<a><b></a>").is_err());
        assert!(Element::parse("<a>").is_err());
        assert!(Element::parse("").is_err());
    }
}
