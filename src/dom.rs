//! A tiny DOM builder for the read-only, content-heavy parts of the
//! dashboard (alert rows, drill-downs, the settings form body).
//!
//! Why: each distinct Leptos template compiles its own build, rebuild,
//! mount and drop code, which cost this app most of its wasm budget; the
//! same elements made here cost a few calls each. These parts are rendered
//! by an effect into a container that Leptos owns, so data still flows one
//! way (signals -> effect -> DOM). Every string goes in through
//! `set_attribute` or a text node, never as HTML.
//!
//! Re-renders keep the DOM stable: [`patch`] morphs the existing nodes into
//! the new content (so a button under the pointer or holding the focus stays
//! the same node), [`keyed`] reuses the element of an unchanged list item,
//! and [`keyed_morph`] the element of the same item, morphed.

use wasm_bindgen::JsCast;
use web_sys::{Document, Element, Node};

fn document() -> Document {
    web_sys::window()
        .and_then(|w| w.document())
        .expect("a browser document")
}

/// An element being built.
#[derive(Debug, Clone)]
pub struct E(pub Element);

/// A new `<tag class=...>` (no class when `class` is empty).
pub fn el(tag: &str, class: &str) -> E {
    let e = document().create_element(tag).expect("valid tag");
    if !class.is_empty() {
        e.set_class_name(class);
    }
    E(e)
}

impl E {
    /// Sets an attribute.
    #[must_use]
    pub fn a(self, name: &str, value: &str) -> E {
        let _ = self.0.set_attribute(name, value);
        self
    }

    /// Sets one CSS property through the CSSOM. The Content-Security-Policy
    /// (`style-src 'self'`) blocks `style="…"` attributes, not this.
    #[must_use]
    pub fn css(self, property: &str, value: &str) -> E {
        use wasm_bindgen::JsCast;
        if let Some(h) = self.0.dyn_ref::<web_sys::HtmlElement>() {
            let _ = h.style().set_property(property, value);
        }
        self
    }

    /// Appends a text node.
    #[must_use]
    pub fn t(self, text: &str) -> E {
        let _ = self.0.append_with_str_1(text);
        self
    }

    /// Appends a child.
    #[must_use]
    #[allow(clippy::needless_pass_by_value)] // reason: builder style, the child is used up
    pub fn c(self, child: E) -> E {
        let _ = self.0.append_with_node_1(&child.0);
        self
    }

    /// Appends a child when there is one.
    #[must_use]
    pub fn o(self, child: Option<E>) -> E {
        match child {
            Some(c) => self.c(c),
            None => self,
        }
    }

    /// Appends every child.
    #[must_use]
    pub fn cs(self, children: Vec<E>) -> E {
        for c in children {
            let _ = self.0.append_with_node_1(&c.0);
        }
        self
    }
}

/// `<button type="button" class=.. data-key=..>text</button>`.
pub fn button(class: &str, key: &str, text: &str) -> E {
    el("button", class)
        .a("type", "button")
        .a("data-key", key)
        .t(text)
}

/// A button that opens a drill-down (`data-drill` = `product` / `order`).
pub fn drill_button(kind: &str, id: &str, text: &str) -> E {
    button("link", &format!("{kind}:{id}"), text)
        .a("data-drill", kind)
        .a("data-drill-id", id)
}

/// `<tag class=..>text</tag>`.
pub fn text(tag: &str, class: &str, text: &str) -> E {
    el(tag, class).t(text)
}

/// Makes the children of `container` equal to `children`, reusing the
/// existing nodes wherever the tag matches at the same place (attributes and
/// texts are updated in place), so nothing is replaced that did not change.
pub fn patch(container: &Element, children: Vec<E>) {
    let holder = el("div", "").cs(children);
    morph_children(container, &holder.0);
}

fn same_kind(a: &Node, b: &Node) -> bool {
    a.node_type() == b.node_type() && a.node_name() == b.node_name()
}

/// Morphs `old` (in the page) into `new` (detached).
fn morph(old: &Node, new: &Node) {
    if old.node_type() != Node::ELEMENT_NODE {
        let v = new.node_value();
        if old.node_value() != v {
            old.set_node_value(v.as_deref());
        }
        return;
    }
    let (Some(o), Some(n)) = (old.dyn_ref::<Element>(), new.dyn_ref::<Element>()) else {
        return;
    };
    let names = n.get_attribute_names();
    for i in 0..names.length() {
        let Some(name) = names.get(i).as_string() else {
            continue;
        };
        let v = n.get_attribute(&name);
        if o.get_attribute(&name) != v {
            let v = v.as_deref().unwrap_or_default();
            match (name.as_str(), o.dyn_ref::<web_sys::HtmlElement>()) {
                // Through the CSSOM: the Content-Security-Policy
                // (`style-src 'self'`) refuses `setAttribute("style", …)`
                // (regression: a patched bar width was a CSP violation in
                // every browser test under the policy).
                ("style", Some(h)) => h.style().set_css_text(v),
                _ => {
                    let _ = o.set_attribute(&name, v);
                }
            }
        }
    }
    let olds = o.get_attribute_names();
    for i in 0..olds.length() {
        if let Some(name) = olds.get(i).as_string() {
            if !n.has_attribute(&name) {
                let _ = o.remove_attribute(&name);
            }
        }
    }
    morph_children(o, n);
}

fn morph_children(old: &Element, new: &Element) {
    let incoming = new.child_nodes();
    let news: Vec<Node> = (0..incoming.length())
        .filter_map(|i| incoming.item(i))
        .collect();
    let current = old.child_nodes();
    for (i, n) in news.iter().enumerate() {
        let at = u32::try_from(i).unwrap_or(u32::MAX);
        match current.item(at) {
            Some(o) if same_kind(&o, n) => morph(&o, n),
            Some(o) => {
                let _ = old.replace_child(n, &o);
            }
            None => {
                let _ = old.append_child(n);
            }
        }
    }
    while current.length() > u32::try_from(news.len()).unwrap_or(u32::MAX) {
        match old.last_child() {
            Some(c) => {
                let _ = old.remove_child(&c);
            }
            None => break,
        }
    }
}

/// Replaces the children of `container`, keeping the keyboard focus on the
/// element with the same `data-key` when the focus was inside.
pub fn fill(container: &Element, children: Vec<E>) {
    let doc = document();
    let focused_key = doc
        .active_element()
        .filter(|a| container.contains(Some(a)))
        .and_then(|a| a.get_attribute("data-key"));
    container.set_text_content(None);
    for c in children {
        let _ = container.append_with_node_1(&c.0);
    }
    if let Some(key) = focused_key {
        if let Ok(list) = container.query_selector_all("[data-key]") {
            for i in 0..list.length() {
                let Some(e) = list
                    .item(i)
                    .and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
                else {
                    continue;
                };
                if e.get_attribute("data-key").as_deref() == Some(key.as_str()) {
                    let _ = e.focus();
                    break;
                }
            }
        }
    }
}

/// A new SVG element `<tag class=..>`.
pub fn svg(tag: &str, class: &str) -> E {
    let e = document()
        .create_element_ns(Some("http://www.w3.org/2000/svg"), tag)
        .expect("valid svg tag");
    if !class.is_empty() {
        let _ = e.set_attribute("class", class);
    }
    E(e)
}

/// Keys for list items that change when their content changes; identical
/// items are told apart by counting from the end (the oldest, for
/// newest-first lists), so prepending keeps the keys below.
pub fn content_keys<T: std::fmt::Debug>(items: &[T]) -> Vec<u64> {
    use std::hash::{Hash, Hasher};
    let mut seen: std::collections::HashMap<u64, u32> =
        std::collections::HashMap::with_capacity(items.len());
    let mut keys: Vec<u64> = items
        .iter()
        .rev()
        .map(|item| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            format!("{item:?}").hash(&mut h);
            let base = h.finish();
            let n = seen.entry(base).or_insert(0);
            *n += 1;
            base ^ u64::from(*n).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        })
        .collect();
    keys.reverse();
    keys
}

/// Elements of a keyed list, by key (kept between renders).
pub type KeyCache = std::collections::HashMap<u64, Element>;

/// Renders a keyed list into `parent`: an item whose key was rendered last
/// time keeps its element (and focus, and scroll position); only new items
/// are built (`build(i)`), and only moved items touch the DOM.
pub fn keyed(cache: &mut KeyCache, parent: &Element, keys: &[u64], build: &dyn Fn(usize) -> E) {
    place(cache, parent, keys, &|i, old| {
        old.unwrap_or_else(|| build(i).0)
    });
}

/// Like [`keyed`] with stable identity keys: every item is built anew and
/// the element kept for its key is morphed into it (see [`patch`]), so an
/// item keeps its node while its content changes.
pub fn keyed_morph(
    cache: &mut KeyCache,
    parent: &Element,
    keys: &[u64],
    build: &dyn Fn(usize) -> E,
) {
    place(cache, parent, keys, &|i, old| {
        let fresh = build(i).0;
        match old {
            Some(o) => {
                morph(&o, &fresh);
                o
            }
            None => fresh,
        }
    });
}

fn place(
    cache: &mut KeyCache,
    parent: &Element,
    keys: &[u64],
    get: &dyn Fn(usize, Option<Element>) -> Element,
) {
    let mut next = KeyCache::with_capacity(keys.len());
    let mut cursor = parent.first_element_child();
    for (i, k) in keys.iter().enumerate() {
        let e = get(i, cache.remove(k));
        if cursor.as_ref() == Some(&e) {
            cursor = e.next_element_sibling();
        } else {
            let at: Option<&web_sys::Node> = cursor.as_ref().map(AsRef::as_ref);
            let _ = parent.insert_before(&e, at);
        }
        next.insert(*k, e);
    }
    for e in cache.values() {
        e.remove();
    }
    *cache = next;
}

/// A stable key for an identity (a product id, an alert id...).
pub fn key_of(parts: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}
