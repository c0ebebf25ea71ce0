//! Reading the domain XML: positions, how an element is written back in a
//! note, and the attribute values libvirt's schema allows.

use roxmltree::Node;

use super::LibvirtError;

/// The document being imported: its text (for line numbers) and its name in
/// messages.
pub(super) struct Source<'a> {
    pub doc: &'a roxmltree::Document<'a>,
    pub origin: &'a str,
}

impl Source<'_> {
    /// The 1-based line an element starts on.
    pub fn line(&self, node: Node) -> u32 {
        self.doc.text_pos_at(node.range().start).row
    }

    /// A value libvirt's schema would refuse, named by file, line and element.
    pub fn bad(&self, node: Node, message: impl Into<String>) -> LibvirtError {
        LibvirtError::BadValue { origin: self.origin.to_owned(), line: self.line(node), element: describe(node), message: message.into() }
    }

    /// `present='yes'|'no'`, None when absent.
    pub fn yes_no(&self, node: Node, attr: &str) -> Result<Option<bool>, LibvirtError> {
        match node.attribute(attr) {
            None => Ok(None),
            Some("yes") => Ok(Some(true)),
            Some("no") => Ok(Some(false)),
            Some(other) => Err(self.bad(node, format!("{attr}='{other}': expected 'yes' or 'no'"))),
        }
    }

    /// The element's text as a number.
    pub fn number(&self, node: Node) -> Result<u64, LibvirtError> {
        let text = node.text().unwrap_or("").trim();
        text.parse().map_err(|_| self.bad(node, format!("{text:?} is not a whole number")))
    }

    /// An attribute as a number, None when absent.
    pub fn number_attr(&self, node: Node, attr: &str) -> Result<Option<u64>, LibvirtError> {
        node.attribute(attr)
            .map(|v| v.trim().parse().map_err(|_| self.bad(node, format!("{attr}='{v}' is not a whole number"))))
            .transpose()
    }
}

/// The element as a note names it: its tag and attributes in document
/// order, and its text when it has one: `<timer name='hpet' present='no'>`,
/// `<vcpu placement='static'>4</vcpu>`.
pub(super) fn describe(node: Node) -> String {
    let name = node.tag_name().name();
    let mut s = format!("<{name}");
    for a in node.attributes() {
        s.push_str(&format!(" {}='{}'", a.name(), a.value()));
    }
    s.push('>');
    if let Some(text) = node.text().map(str::trim).filter(|t| !t.is_empty()) {
        if node.children().all(|c| c.is_text()) {
            s.push_str(&format!("{text}</{name}>"));
        }
    }
    s
}

/// The child elements of `node` called `name` (libvirt's elements have no namespace).
pub(super) fn children<'a, 'i>(node: Node<'a, 'i>, name: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children().filter(move |c| c.is_element() && c.tag_name().name() == name && c.tag_name().namespace().is_none())
}

/// The first child element called `name`.
pub(super) fn child<'a, 'i>(node: Node<'a, 'i>, name: &'static str) -> Option<Node<'a, 'i>> {
    children(node, name).next()
}
