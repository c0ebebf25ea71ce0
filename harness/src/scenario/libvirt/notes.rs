//! What the importer says about each element it looked at.

use roxmltree::Node;

use super::xml::{describe, Source};

/// One element (or attribute) of the domain and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The line it starts on; None for something the domain leaves out.
    pub line: Option<u32>,
    /// The element as written: `<timer name='rtc' tickpolicy='catchup'>`.
    pub element: String,
    pub kind: NoteKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteKind {
    /// It became `key = value`. Exact when clockstorm gives QEMU what libvirt
    /// would; otherwise `how` says what differs.
    Mapped { key: String, value: String, exact: bool, how: String },
    /// It needs no key: clockstorm's guest already behaves so.
    AsIs { how: String },
    /// There is no scenario setting for it.
    NotMapped { why: String },
}

#[derive(Default)]
pub(super) struct Notes(pub Vec<Note>);

impl Notes {
    pub fn mapped(&mut self, src: &Source, node: Node, key: &str, value: impl Into<String>, exact: bool, how: impl Into<String>) {
        self.push(src, node, NoteKind::Mapped { key: key.to_owned(), value: value.into(), exact, how: how.into() });
    }

    pub fn as_is(&mut self, src: &Source, node: Node, how: impl Into<String>) {
        self.push(src, node, NoteKind::AsIs { how: how.into() });
    }

    pub fn not_mapped(&mut self, src: &Source, node: Node, why: impl Into<String>) {
        self.push(src, node, NoteKind::NotMapped { why: why.into() });
    }

    /// A note on part of an element (one kernel parameter, one attribute).
    pub fn part(&mut self, src: &Source, node: Node, part: String, kind: NoteKind) {
        self.0.push(Note { line: Some(src.line(node)), element: part, kind });
    }

    /// A note on something the domain leaves out (libvirt's default applies).
    pub fn absent(&mut self, element: &str, kind: NoteKind) {
        self.0.push(Note { line: None, element: element.to_owned(), kind });
    }

    fn push(&mut self, src: &Source, node: Node, kind: NoteKind) {
        self.0.push(Note { line: Some(src.line(node)), element: describe(node), kind });
    }
}
