//! A tiny virtual DOM for the read-only, content-heavy parts of the
//! dashboard (alert rows, drill-downs, tables, the live log, the settings
//! form body).
//!
//! Why: each distinct Leptos template compiles its own build, rebuild,
//! mount and drop code, which cost this app most of its wasm budget; the
//! same elements made here cost a few calls each. These parts are rendered
//! by an effect into a container that Leptos owns, so data still flows one
//! way (signals -> effect -> DOM). Every string goes in through
//! `set_attribute`, the CSSOM or a text node, never as HTML.
//!
//! The builders ([`el`], [`E::a`], [`E::t`], [`E::c`]...) make plain Rust
//! values ([`E`], [`VNode`]) with no JavaScript call. Each container keeps
//! the tree it last rendered (with the real node of every virtual node), and
//! a re-render diffs the new tree against it in Rust ([`diff_children`]),
//! emitting DOM calls only for what differs: a changed text is one
//! `nodeValue` write, a changed attribute one `setAttribute`. So the cost of
//! a re-render is the cost of building the virtual tree plus the changes,
//! not the size of the page. The diff is a pure function over the trees and
//! a [`Dom`] sink, tested natively with a recording sink.
//!
//! Re-renders keep the DOM stable: [`patch`] reuses the existing nodes
//! wherever the tag matches at the same place (so a button under the
//! pointer or holding the focus stays the same node); children with keys
//! ([`E::key`]) are matched by key and only moved; [`keyed`] keeps the
//! element of an unchanged list item without building it, and
//! [`keyed_morph`] the element of the same item, diffed.

/// A virtual node: an element or a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VNode {
    /// A text node.
    Text(String),
    /// An element.
    El(Box<VEl>),
}

/// A virtual element.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VEl {
    /// In the SVG namespace.
    pub svg: bool,
    /// Tag name.
    pub tag: String,
    /// Attributes, in the order set (`class` included).
    pub attrs: Vec<(String, String)>,
    /// Inline CSS properties (set through the CSSOM).
    pub css: Vec<(String, String)>,
    /// Children.
    pub children: Vec<VNode>,
    /// Identity among keyed siblings.
    pub key: Option<u64>,
}

/// An element being built (boxed: the builder chains move it at every
/// step, and a pointer is cheaper to move than the element, in time and in
/// wasm size).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct E(pub Box<VEl>);

fn make(svg: bool, tag: &str, class: &str) -> E {
    let mut attrs = Vec::new();
    if !class.is_empty() {
        attrs.push(("class".to_owned(), class.to_owned()));
    }
    E(Box::new(VEl {
        svg,
        tag: tag.to_owned(),
        attrs,
        ..VEl::default()
    }))
}

/// A new `<tag class=...>` (no class when `class` is empty).
pub fn el(tag: &str, class: &str) -> E {
    make(false, tag, class)
}

/// A new SVG element `<tag class=..>`.
pub fn svg(tag: &str, class: &str) -> E {
    make(true, tag, class)
}

impl E {
    /// Sets an attribute.
    #[must_use]
    pub fn a(mut self, name: &str, value: &str) -> E {
        set_pair(&mut self.0.attrs, name, value);
        self
    }

    /// Sets one CSS property through the CSSOM. The Content-Security-Policy
    /// (`style-src 'self'`) blocks `style="…"` attributes, not this.
    #[must_use]
    pub fn css(mut self, property: &str, value: &str) -> E {
        set_pair(&mut self.0.css, property, value);
        self
    }

    /// Appends a text node.
    #[must_use]
    pub fn t(mut self, text: &str) -> E {
        self.0.children.push(VNode::Text(text.to_owned()));
        self
    }

    /// Appends a child.
    #[must_use]
    pub fn c(mut self, child: E) -> E {
        self.0.children.push(child.into_node());
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
    pub fn cs(mut self, children: Vec<E>) -> E {
        self.0
            .children
            .extend(children.into_iter().map(E::into_node));
        self
    }

    /// Gives the element an identity among its siblings (set by [`keyed`]
    /// and [`keyed_morph`] on their items).
    #[must_use]
    pub fn key(mut self, key: u64) -> E {
        self.0.key = Some(key);
        self
    }

    /// The virtual node.
    pub fn into_node(self) -> VNode {
        VNode::El(self.0)
    }

    /// A real, detached element made from this one (for code that appends
    /// it itself).
    pub fn materialise(self) -> web_sys::Element {
        use wasm_bindgen::JsCast;
        let mut dom = WebDom;
        create(&mut dom, self.into_node()).node.unchecked_into()
    }
}

fn set_pair(pairs: &mut Vec<(String, String)>, name: &str, value: &str) {
    match pairs.iter_mut().find(|(n, _)| n == name) {
        Some(p) => value.clone_into(&mut p.1),
        None => pairs.push((name.to_owned(), value.to_owned())),
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

// ---------------------------------------------------------------------------
// The diff: pure, over virtual trees and a sink of DOM operations.

/// The DOM operations the diff emits. The browser implementation is
/// [`WebDom`]; tests record them.
pub trait Dom {
    /// A handle to a real node.
    type N: Clone;
    /// A new detached element.
    fn create_el(&mut self, svg: bool, tag: &str) -> Self::N;
    /// A new detached text node.
    fn create_text(&mut self, text: &str) -> Self::N;
    /// Sets a text node's text.
    fn set_text(&mut self, node: &Self::N, text: &str);
    /// Sets an attribute.
    fn set_attr(&mut self, node: &Self::N, name: &str, value: &str);
    /// Removes an attribute.
    fn remove_attr(&mut self, node: &Self::N, name: &str);
    /// Sets an inline CSS property (an empty value removes it).
    fn set_css(&mut self, node: &Self::N, property: &str, value: &str);
    /// Inserts (or moves) `child` into `parent` before `before` (at the
    /// end when `None`).
    fn insert(&mut self, parent: &Self::N, child: &Self::N, before: Option<&Self::N>);
    /// Removes `child` from `parent`.
    fn remove(&mut self, parent: &Self::N, child: &Self::N);
}

/// A rendered node: what was rendered (children moved out into
/// `children`) and the real node it is on the page.
#[derive(Debug, Clone)]
pub struct Live<N> {
    /// The real node.
    pub node: N,
    /// The virtual node as rendered, with its children in `children`.
    pub v: VNode,
    /// The rendered children.
    pub children: Vec<Live<N>>,
}

impl<N> Live<N> {
    fn key(&self) -> Option<u64> {
        match &self.v {
            VNode::El(e) => e.key,
            VNode::Text(_) => None,
        }
    }
}

/// Makes the real nodes for `v` (detached).
pub fn create<D: Dom>(dom: &mut D, v: VNode) -> Live<D::N> {
    match v {
        VNode::Text(t) => Live {
            node: dom.create_text(&t),
            v: VNode::Text(t),
            children: Vec::new(),
        },
        VNode::El(mut e) => {
            let node = dom.create_el(e.svg, &e.tag);
            for (n, v) in &e.attrs {
                dom.set_attr(&node, n, v);
            }
            for (p, v) in &e.css {
                dom.set_css(&node, p, v);
            }
            let kids = std::mem::take(&mut e.children);
            let children: Vec<Live<D::N>> = kids
                .into_iter()
                .map(|c| {
                    let l = create(dom, c);
                    dom.insert(&node, &l.node, None);
                    l
                })
                .collect();
            Live {
                node,
                v: VNode::El(e),
                children,
            }
        }
    }
}

fn same_kind(old: &VNode, new: &VNode) -> bool {
    match (old, new) {
        (VNode::Text(_), VNode::Text(_)) => true,
        (VNode::El(a), VNode::El(b)) => a.svg == b.svg && a.tag == b.tag,
        _ => false,
    }
}

/// Updates the rendered `old` (same kind as `new`) in place to `new`.
fn update<D: Dom>(dom: &mut D, mut old: Live<D::N>, new: VNode) -> Live<D::N> {
    match (&mut old.v, new) {
        (VNode::Text(o), VNode::Text(n)) => {
            if *o != n {
                dom.set_text(&old.node, &n);
                *o = n;
            }
            old
        }
        (VNode::El(o), VNode::El(mut n)) => {
            for (name, value) in &n.attrs {
                if o.attrs.iter().find(|(x, _)| x == name).map(|(_, v)| v) != Some(value) {
                    dom.set_attr(&old.node, name, value);
                }
            }
            for (name, _) in &o.attrs {
                if !n.attrs.iter().any(|(x, _)| x == name) {
                    dom.remove_attr(&old.node, name);
                }
            }
            for (prop, value) in &n.css {
                if o.css.iter().find(|(x, _)| x == prop).map(|(_, v)| v) != Some(value) {
                    dom.set_css(&old.node, prop, value);
                }
            }
            for (prop, _) in &o.css {
                if !n.css.iter().any(|(x, _)| x == prop) {
                    dom.set_css(&old.node, prop, "");
                }
            }
            let kids = std::mem::take(&mut n.children);
            let olds = std::mem::take(&mut old.children);
            let children = diff_children(dom, &old.node, olds, kids);
            Live {
                node: old.node,
                v: VNode::El(n),
                children,
            }
        }
        (_, new) => {
            // Not reached (callers check `same_kind`); replace to be safe.
            create(dom, new)
        }
    }
}

/// Makes the children of `parent` (rendered as `old`) equal to `new` and
/// returns what is rendered now. Children are matched by place: the same
/// tag at the same place is updated in place, anything else replaced (keyed
/// lists: [`keyed`], [`keyed_morph`]).
pub fn diff_children<D: Dom>(
    dom: &mut D,
    parent: &D::N,
    old: Vec<Live<D::N>>,
    new: Vec<VNode>,
) -> Vec<Live<D::N>> {
    let mut out = Vec::with_capacity(new.len());
    let mut olds = old.into_iter();
    for n in new {
        match olds.next() {
            Some(o) if same_kind(&o.v, &n) => out.push(update(dom, o, n)),
            Some(o) => {
                let fresh = create(dom, n);
                dom.insert(parent, &fresh.node, Some(&o.node));
                dom.remove(parent, &o.node);
                out.push(fresh);
            }
            None => {
                let fresh = create(dom, n);
                dom.insert(parent, &fresh.node, None);
                out.push(fresh);
            }
        }
    }
    for o in olds {
        dom.remove(parent, &o.node);
    }
    out
}

/// Keyed children: `items` in order, each a key and its new content, or
/// `None` to keep the rendered item of that key as it is (it must exist).
/// An item whose key was rendered keeps its node (diffed when there is new
/// content); old keys not in `items` are removed; only items out of place
/// are moved. New keys are created, or with `recycle` take over the node
/// of a removed item (diffed into the new content: cheaper than building,
/// for lists whose items are not interactive, such as the live log, where
/// a busy feed replaces most lines on every render). A removed item's node
/// standing where the new item goes is taken over where it stands: when a
/// busy feed replaces every line, no line moves (a move detaches and
/// re-attaches the node's whole layout subtree).
fn place_keyed<D: Dom>(
    dom: &mut D,
    parent: &D::N,
    old: Vec<Live<D::N>>,
    items: Vec<(u64, Option<VNode>)>,
    recycle: bool,
) -> Vec<Live<D::N>> {
    // Linear scans: lists are short (at most a few hundred items), and a
    // sort or a hash map would cost more wasm than the scans cost time.
    let wanted: Vec<u64> = items.iter().map(|(k, _)| *k).collect();
    // The old items in page order: the key of a kept item (`None`: a spare,
    // whose key is gone, or a duplicate), its node, and the item until it is
    // placed or taken. `cursor` is the first slot not taken yet, where the
    // next item goes.
    let mut keys: Vec<Option<u64>> = Vec::with_capacity(old.len());
    let mut nodes: Vec<D::N> = Vec::with_capacity(old.len());
    let mut slots: Vec<Option<Live<D::N>>> = Vec::with_capacity(old.len());
    for o in old {
        let k = o.key().unwrap_or_default();
        let kept = wanted.contains(&k) && !keys.contains(&Some(k));
        keys.push(kept.then_some(k));
        nodes.push(o.node.clone());
        slots.push(Some(o));
    }
    // Old nodes of a kept key whose new content has another tag: removed.
    let mut stale = Vec::new();
    let mut cursor = 0;
    let mut out = Vec::with_capacity(items.len());
    for (k, content) in items {
        while cursor < slots.len() && slots[cursor].is_none() {
            cursor += 1;
        }
        let at = keys.iter().position(|x| *x == Some(k));
        if let Some(i) = at {
            // Spares between here and the kept item stay behind (taken later
            // or removed at the end) rather than the kept item moving.
            if (cursor..i).all(|j| keys[j].is_none()) {
                cursor = i;
            }
        }
        let old = at.and_then(|i| slots[i].take());
        let (live, from) = match (old, content) {
            (Some(o), None) => (o, at),
            (Some(o), Some(n)) if same_kind(&o.v, &n) => (update(dom, o, n), at),
            (Some(o), Some(n)) => {
                // Same key, another tag: a new node (the old one goes).
                stale.push(o);
                (create(dom, n), None)
            }
            (None, Some(n)) => {
                let spare = |j: usize| {
                    keys[j].is_none() && slots[j].as_ref().is_some_and(|s| same_kind(&s.v, &n))
                };
                // The spare where the item goes, else the last one.
                let take = if !recycle {
                    None
                } else if cursor < slots.len() && spare(cursor) {
                    Some(cursor)
                } else {
                    (0..slots.len()).rev().find(|&j| spare(j))
                };
                match take.and_then(|j| slots[j].take().map(|s| (j, s))) {
                    Some((j, s)) => (update(dom, s, n), Some(j)),
                    None => (create(dom, n), None),
                }
            }
            (None, None) => continue, // a caller error: nothing to keep or build
        };
        if from == Some(cursor) {
            cursor += 1;
        } else {
            dom.insert(parent, &live.node, nodes.get(cursor));
        }
        out.push(live);
    }
    for s in slots.into_iter().flatten().chain(stale) {
        dom.remove(parent, &s.node);
    }
    out
}

// ---------------------------------------------------------------------------
// The browser side.

/// The real DOM.
pub struct WebDom;

fn document() -> web_sys::Document {
    web_sys::window()
        .and_then(|w| w.document())
        .expect("a browser document")
}

impl Dom for WebDom {
    type N = web_sys::Node;

    fn create_el(&mut self, svg: bool, tag: &str) -> web_sys::Node {
        let doc = document();
        let e = if svg {
            doc.create_element_ns(Some("http://www.w3.org/2000/svg"), tag)
        } else {
            doc.create_element(tag)
        };
        e.expect("valid tag").into()
    }

    fn create_text(&mut self, text: &str) -> web_sys::Node {
        document().create_text_node(text).into()
    }

    fn set_text(&mut self, node: &web_sys::Node, text: &str) {
        node.set_node_value(Some(text));
    }

    fn set_attr(&mut self, node: &web_sys::Node, name: &str, value: &str) {
        use wasm_bindgen::JsCast;
        let _ = node
            .unchecked_ref::<web_sys::Element>()
            .set_attribute(name, value);
    }

    fn remove_attr(&mut self, node: &web_sys::Node, name: &str) {
        use wasm_bindgen::JsCast;
        let _ = node
            .unchecked_ref::<web_sys::Element>()
            .remove_attribute(name);
    }

    fn set_css(&mut self, node: &web_sys::Node, property: &str, value: &str) {
        use wasm_bindgen::JsCast;
        // Through the CSSOM: the Content-Security-Policy (`style-src
        // 'self'`) refuses `setAttribute("style", …)` (regression: a
        // patched bar width was a CSP violation in every browser test under
        // the policy).
        if let Some(h) = node.dyn_ref::<web_sys::HtmlElement>() {
            let style = h.style();
            if value.is_empty() {
                let _ = style.remove_property(property);
            } else {
                let _ = style.set_property(property, value);
            }
        }
    }

    fn insert(
        &mut self,
        parent: &web_sys::Node,
        child: &web_sys::Node,
        before: Option<&web_sys::Node>,
    ) {
        let _ = parent.insert_before(child, before);
    }

    fn remove(&mut self, parent: &web_sys::Node, child: &web_sys::Node) {
        let _ = parent.remove_child(child);
    }
}

thread_local! {
    /// What each [`patch`]ed container shows: (the container's id, see
    /// [`container_id`]; the container; its rendered children).
    static RENDERED: std::cell::RefCell<Vec<Rendered>> = const { std::cell::RefCell::new(Vec::new()) };
    static NEXT_ID: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    /// Entries left by the last sweep of containers gone from the page.
    static SWEPT_AT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

type Rendered = (u32, web_sys::Element, Vec<Live<web_sys::Node>>);

/// The JS property holding a container's id in [`RENDERED`].
const ID_PROP: &str = "__shoppulseVdom";

/// The id of `container` in [`RENDERED`], if it has one.
fn container_id(container: &web_sys::Element) -> Option<u32> {
    js_sys::Reflect::get(container, &ID_PROP.into())
        .ok()
        .and_then(|v| v.as_f64())
        // reason: ids are u32 written by `patch`
        .map(|x| {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let id = x as u32;
            id
        })
}

/// Takes the rendered children of the container with id `id`.
fn take_rendered(id: u32) -> Option<Vec<Live<web_sys::Node>>> {
    RENDERED.with(|r| {
        let mut r = r.borrow_mut();
        let i = r.iter().position(|x| x.0 == id)?;
        Some(r.swap_remove(i).2)
    })
}

/// Makes the children of `container` equal to `children`, touching only
/// what differs from the last render into it (see the module docs).
pub fn patch(container: &web_sys::Element, children: Vec<E>) {
    let new: Vec<VNode> = children.into_iter().map(E::into_node).collect();
    let id = container_id(container);
    let old = if let Some(old) = id.and_then(take_rendered) {
        old
    } else {
        // First render here (or after `fill`): start from an empty container.
        container.set_text_content(None);
        Vec::new()
    };
    let parent: &web_sys::Node = container;
    let live = diff_children(&mut WebDom, parent, old, new);
    let id = id.unwrap_or_else(|| {
        let id = NEXT_ID.with(|n| {
            n.set(n.get().wrapping_add(1));
            n.get()
        });
        let _ = js_sys::Reflect::set(container, &ID_PROP.into(), &id.into());
        id
    });
    RENDERED.with(|r| {
        let mut r = r.borrow_mut();
        r.push((id, container.clone(), live));
        // Forget containers no longer on the page (a panel rebuilt on a
        // language switch) once the entries have doubled since the last
        // sweep (so sweeps stay rare however many containers there are).
        if r.len() > 2 * SWEPT_AT.with(std::cell::Cell::get).max(32) {
            r.retain(|x| x.1.is_connected());
            SWEPT_AT.with(|s| s.set(r.len()));
        }
    });
}

/// Replaces the children of `container` (nothing kept), keeping the
/// keyboard focus on the element with the same `data-key` when the focus
/// was inside. For forms whose inputs the user edits (the settings form):
/// the rendered tree would not know the edited values.
pub fn fill(container: &web_sys::Element, children: Vec<E>) {
    use wasm_bindgen::JsCast;
    let doc = document();
    let focused_key = doc
        .active_element()
        .filter(|a| container.contains(Some(a)))
        .and_then(|a| a.get_attribute("data-key"));
    if let Some(id) = container_id(container) {
        take_rendered(id);
    }
    patch(container, children); // nothing rendered: empties, then builds
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

/// The rendered items of a keyed list (kept between renders).
#[derive(Debug, Default)]
pub struct KeyCache {
    items: Vec<Live<web_sys::Node>>,
}

impl KeyCache {
    /// An empty cache (nothing rendered yet).
    pub fn new() -> KeyCache {
        KeyCache::default()
    }
}

/// Renders a keyed list into `parent` (which holds nothing else): an item
/// whose key was rendered last time keeps its element (and focus, and
/// scroll position) untouched; only new items are built (`build(i)`), and
/// only moved items touch the DOM.
pub fn keyed(
    cache: &mut KeyCache,
    parent: &web_sys::Element,
    keys: &[u64],
    build: &dyn Fn(usize) -> E,
) {
    let had: Vec<u64> = cache.items.iter().filter_map(Live::key).collect();
    let items = keys
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            if had.contains(&k) {
                (k, None)
            } else {
                (k, Some(build(i).key(k).into_node()))
            }
        })
        .collect();
    render_keyed(cache, parent, items, true);
}

/// Like [`keyed`] with stable identity keys: every item is built anew (as
/// virtual nodes) and diffed against what its key showed, so an item keeps
/// its node while its content changes and only the changes touch the DOM.
pub fn keyed_morph(
    cache: &mut KeyCache,
    parent: &web_sys::Element,
    keys: &[u64],
    build: &dyn Fn(usize) -> E,
) {
    let items = keys
        .iter()
        .enumerate()
        .map(|(i, &k)| (k, Some(build(i).key(k).into_node())))
        .collect();
    render_keyed(cache, parent, items, false);
}

fn render_keyed(
    cache: &mut KeyCache,
    parent: &web_sys::Element,
    items: Vec<(u64, Option<VNode>)>,
    recycle: bool,
) {
    let old = std::mem::take(&mut cache.items);
    if old.is_empty() {
        parent.set_text_content(None);
    }
    let parent: &web_sys::Node = parent;
    cache.items = place_keyed(&mut WebDom, parent, old, items, recycle);
}

/// A stable key for an identity (a product id, an alert id...).
pub fn key_of(parts: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the operations; nodes are numbers.
    #[derive(Default)]
    struct Rec {
        next: u32,
        ops: Vec<String>,
        /// Nodes made by this sink (creating is not counted as an op on the page).
        created: u32,
    }

    impl Dom for Rec {
        type N = u32;
        fn create_el(&mut self, _svg: bool, tag: &str) -> u32 {
            self.next += 1;
            self.created += 1;
            self.ops.push(format!("create <{tag}> #{}", self.next));
            self.next
        }
        fn create_text(&mut self, text: &str) -> u32 {
            self.next += 1;
            self.created += 1;
            self.ops.push(format!("create {text:?} #{}", self.next));
            self.next
        }
        fn set_text(&mut self, node: &u32, text: &str) {
            self.ops.push(format!("text #{node} {text:?}"));
        }
        fn set_attr(&mut self, node: &u32, name: &str, value: &str) {
            self.ops.push(format!("attr #{node} {name}={value:?}"));
        }
        fn remove_attr(&mut self, node: &u32, name: &str) {
            self.ops.push(format!("remove-attr #{node} {name}"));
        }
        fn set_css(&mut self, node: &u32, property: &str, value: &str) {
            self.ops.push(format!("css #{node} {property}={value:?}"));
        }
        fn insert(&mut self, parent: &u32, child: &u32, before: Option<&u32>) {
            self.ops
                .push(format!("insert #{child} into #{parent} before {before:?}"));
        }
        fn remove(&mut self, parent: &u32, child: &u32) {
            self.ops.push(format!("remove #{child} from #{parent}"));
        }
    }

    const ROOT: u32 = 0;

    fn nodes(v: Vec<E>) -> Vec<VNode> {
        v.into_iter().map(E::into_node).collect()
    }

    /// Renders `first` into an empty container, then `second` over it;
    /// returns the ops of the second render and the rendered tree.
    fn rerender(first: Vec<E>, second: Vec<E>) -> (Vec<String>, Vec<Live<u32>>) {
        let mut dom = Rec::default();
        let live = diff_children(&mut dom, &ROOT, Vec::new(), nodes(first));
        dom.ops.clear();
        let live = diff_children(&mut dom, &ROOT, live, nodes(second));
        (dom.ops, live)
    }

    fn row(id: &str, qty: &str) -> E {
        el("li", "row")
            .a("data-id", id)
            .c(drill_button("product", id, id))
            .c(text("span", "num", qty).css("width", "10%"))
    }

    #[test]
    fn the_same_tree_again_touches_nothing() {
        let (ops, _) = rerender(
            vec![row("p1", "3"), row("p2", "4")],
            vec![row("p1", "3"), row("p2", "4")],
        );
        assert_eq!(ops, Vec::<String>::new());
    }

    #[test]
    fn a_changed_text_is_one_text_write_on_its_node() {
        let (ops, live) = rerender(
            vec![row("p1", "3"), row("p2", "4")],
            vec![row("p1", "3"), row("p2", "5")],
        );
        let qty_text = live[1].children[1].children[0].node;
        assert_eq!(ops, vec![format!("text #{qty_text} \"5\"")]);
    }

    #[test]
    fn changed_attributes_and_css_are_set_and_removed_one_by_one() {
        let (ops, live) = rerender(
            vec![el("div", "a")
                .a("data-x", "1")
                .a("data-y", "2")
                .css("width", "1%")],
            vec![el("div", "b").a("data-x", "1").css("height", "2px")],
        );
        let n = live[0].node;
        assert_eq!(
            ops,
            vec![
                format!("attr #{n} class=\"b\""),
                format!("remove-attr #{n} data-y"),
                format!("css #{n} height=\"2px\""),
                format!("css #{n} width=\"\""),
            ]
        );
    }

    #[test]
    fn a_button_keeps_its_node_when_its_text_changes() {
        let mut dom = Rec::default();
        let live = diff_children(
            &mut dom,
            &ROOT,
            Vec::new(),
            nodes(vec![button("b", "k", "Ack")]),
        );
        let before = live[0].node;
        let live = diff_children(
            &mut dom,
            &ROOT,
            live,
            nodes(vec![button("b", "k", "Acked")]),
        );
        assert_eq!(live[0].node, before);
    }

    #[test]
    fn another_tag_at_a_place_replaces_that_node_only() {
        let (ops, live) = rerender(
            vec![text("p", "", "a"), text("p", "", "b")],
            vec![text("p", "", "a"), text("h3", "", "b")],
        );
        assert_eq!(ops.iter().filter(|o| o.starts_with("remove #")).count(), 1);
        assert!(ops.iter().any(|o| o.starts_with("create <h3>")), "{ops:?}");
        assert_eq!(live.len(), 2);
    }

    #[test]
    fn extra_children_are_appended_and_missing_ones_removed() {
        let (ops, _) = rerender(
            vec![text("li", "", "a")],
            vec![text("li", "", "a"), text("li", "", "b")],
        );
        assert_eq!(
            ops.iter()
                .filter(|o| o.starts_with("insert") && o.contains("into #0"))
                .count(),
            1
        );
        let (ops, _) = rerender(
            vec![text("li", "", "a"), text("li", "", "b")],
            vec![text("li", "", "a")],
        );
        assert_eq!(ops.len(), 1);
        assert!(ops[0].starts_with("remove #"), "{ops:?}");
    }

    fn keyed_items(names: &[&str]) -> Vec<E> {
        names
            .iter()
            .map(|n| text("li", "", n).key(key_of(n)))
            .collect()
    }

    /// `keyed_morph`'s items: every item with its new content.
    fn morph_items(names: &[&str]) -> Vec<(u64, Option<VNode>)> {
        keyed_items(names)
            .into_iter()
            .map(|e| (e.0.key.unwrap_or_default(), Some(e.into_node())))
            .collect()
    }

    /// Like `rerender`, for a keyed list (no recycling).
    fn rerender_keyed(first: &[&str], second: &[&str]) -> (Rec, Vec<Live<u32>>) {
        let mut dom = Rec::default();
        let live = place_keyed(&mut dom, &ROOT, Vec::new(), morph_items(first), false);
        dom.ops.clear();
        dom.created = 0;
        let live = place_keyed(&mut dom, &ROOT, live, morph_items(second), false);
        (dom, live)
    }

    #[test]
    fn a_keyed_reorder_only_moves_nodes() {
        let (dom, live) = rerender_keyed(&["a", "b", "c", "d"], &["b", "a", "c", "d"]);
        assert_eq!(dom.ops.len(), 1, "{:?}", dom.ops);
        assert!(
            dom.ops[0].starts_with(&format!("insert #{} into #0", live[0].node)),
            "{:?}",
            dom.ops
        );
        let (dom, _) = rerender_keyed(&["a", "b", "c"], &["c", "b", "a"]);
        assert!(
            !dom.ops.is_empty() && dom.ops.iter().all(|o| o.starts_with("insert")),
            "{:?}",
            dom.ops
        );
    }

    #[test]
    fn the_same_keyed_list_again_touches_nothing() {
        let (dom, _) = rerender_keyed(&["a", "b", "c"], &["a", "b", "c"]);
        assert_eq!(dom.ops, Vec::<String>::new());
    }

    #[test]
    fn prepending_to_a_keyed_list_creates_only_the_new_item() {
        // Newest first, bounded at 3: "a" arrives, "d" falls off.
        let (dom, live) = rerender_keyed(&["b", "c", "d"], &["a", "b", "c"]);
        assert_eq!(dom.created, 2, "one <li> and its text: {:?}", dom.ops);
        assert_eq!(
            dom.ops
                .iter()
                .filter(|o| o.starts_with("insert") && o.contains("into #0"))
                .count(),
            1
        );
        assert_eq!(
            dom.ops.iter().filter(|o| o.starts_with("remove")).count(),
            1
        );
        assert_eq!(live.len(), 3);
    }

    #[test]
    fn keyed_items_kept_as_they_are_are_not_diffed() {
        let mut dom = Rec::default();
        let first = keyed_items(&["a", "b"])
            .into_iter()
            .map(|e| (e.0.key.unwrap_or_default(), Some(e.into_node())))
            .collect();
        let live = place_keyed(&mut dom, &ROOT, Vec::new(), first, false);
        dom.ops.clear();
        let items = vec![
            (
                key_of("x"),
                Some(text("li", "", "x").key(key_of("x")).into_node()),
            ),
            (key_of("a"), None),
            (key_of("b"), None),
        ];
        let live = place_keyed(&mut dom, &ROOT, live, items, false);
        assert_eq!(
            dom.ops.len(),
            4,
            "create <li>, its text, the text into it, it into the list: {:?}",
            dom.ops
        );
        assert_eq!(live.len(), 3);
    }

    #[test]
    fn a_recycling_list_reuses_the_dropped_items_nodes_for_new_ones() {
        let items = |names: &[&str]| -> Vec<(u64, Option<VNode>)> {
            keyed_items(names)
                .into_iter()
                .map(|e| (e.0.key.unwrap_or_default(), Some(e.into_node())))
                .collect()
        };
        let mut dom = Rec::default();
        let live = place_keyed(&mut dom, &ROOT, Vec::new(), items(&["c", "d"]), true);
        let c_node = live[0].node;
        dom.ops.clear();
        dom.created = 0;
        // Newest first, bounded at 2: "a" and "b" arrive, "c" and "d" fall off.
        let live = place_keyed(&mut dom, &ROOT, live, items(&["a", "b"]), true);
        assert_eq!(dom.created, 0, "{:?}", dom.ops);
        assert!(
            dom.ops
                .iter()
                .all(|o| !o.starts_with("remove") && !o.starts_with("insert")),
            "every line replaced: the nodes are taken over where they stand, none moves: {:?}",
            dom.ops
        );
        assert_eq!(
            live[0].node, c_node,
            "the first new item takes the first node"
        );
        assert_eq!(
            live[0].v,
            VNode::El(Box::new(VEl {
                children: Vec::new(),
                ..*text("li", "", "a").key(key_of("a")).0
            }))
        );
    }

    /// A sink that keeps the tree, to check what a render leaves on the page.
    #[derive(Default)]
    struct Tree {
        next: u32,
        kids: std::collections::HashMap<u32, Vec<u32>>,
        texts: std::collections::HashMap<u32, String>,
        moves: usize,
    }

    impl Tree {
        fn detach(&mut self, child: u32) {
            for v in self.kids.values_mut() {
                v.retain(|&c| c != child);
            }
        }
        /// The text under `node`, children in order, each element in brackets.
        fn show(&self, node: u32) -> String {
            match self.texts.get(&node) {
                Some(t) => t.clone(),
                None => self.kids.get(&node).map_or(String::new(), |k| {
                    k.iter()
                        .map(|&c| format!("[{}]", self.show(c)))
                        .collect::<Vec<_>>()
                        .concat()
                }),
            }
        }
    }

    impl Dom for Tree {
        type N = u32;
        fn create_el(&mut self, _svg: bool, _tag: &str) -> u32 {
            self.next += 1;
            self.kids.insert(self.next, Vec::new());
            self.next
        }
        fn create_text(&mut self, text: &str) -> u32 {
            self.next += 1;
            self.texts.insert(self.next, text.to_string());
            self.next
        }
        fn set_text(&mut self, node: &u32, text: &str) {
            self.texts.insert(*node, text.to_string());
        }
        fn set_attr(&mut self, _: &u32, _: &str, _: &str) {}
        fn remove_attr(&mut self, _: &u32, _: &str) {}
        fn set_css(&mut self, _: &u32, _: &str, _: &str) {}
        fn insert(&mut self, parent: &u32, child: &u32, before: Option<&u32>) {
            if self.kids.values().any(|v| v.contains(child)) {
                self.moves += 1;
            }
            self.detach(*child);
            let v = self.kids.entry(*parent).or_default();
            let at = before
                .and_then(|b| v.iter().position(|c| c == b))
                .unwrap_or(v.len());
            v.insert(at, *child);
        }
        fn remove(&mut self, _parent: &u32, child: &u32) {
            self.detach(*child);
        }
    }

    proptest::proptest! {
        /// Whatever two lists of keys (duplicates and shared keys included)
        /// are rendered one over the other, with or without recycling, the
        /// page shows the second list, in order, once.
        #[test]
        fn a_keyed_render_leaves_the_new_list_on_the_page(
            first in proptest::collection::vec(0_u8..12, 0..10),
            second in proptest::collection::vec(0_u8..12, 0..10),
            recycle in proptest::bool::ANY,
        ) {
            let items = |ks: &[u8]| -> Vec<(u64, Option<VNode>)> {
                let mut seen = Vec::new();
                ks.iter()
                    .filter(|k| { let new = !seen.contains(*k); seen.push(**k); new })
                    .map(|k| {
                        let n = k.to_string();
                        // Some keys render as another tag, to cover a key changing kind.
                        let tag = if k % 5 == 0 { "p" } else { "li" };
                        (key_of(&n), Some(text(tag, "", &n).key(key_of(&n)).into_node()))
                    })
                    .collect()
            };
            let mut dom = Tree::default();
            let live = place_keyed(&mut dom, &ROOT, Vec::new(), items(&first), recycle);
            let live = place_keyed(&mut dom, &ROOT, live, items(&second), recycle);
            let mut seen = Vec::new();
            let want: String = second
                .iter()
                .filter(|k| { let new = !seen.contains(*k); seen.push(**k); new })
                .map(|k| format!("[[{k}]]"))
                .collect::<Vec<_>>()
                .concat();
            proptest::prop_assert_eq!(dom.show(ROOT), want);
            proptest::prop_assert_eq!(live.len(), seen.iter().collect::<std::collections::BTreeSet<_>>().len());
        }
    }

    /// Regression (session 9 trace at 10k ev/s): the live log's recycled
    /// lines were all moved on every render (the last removed node went
    /// first), detaching and re-attaching 60 lines' layout four times a
    /// second; now they are taken over where they stand.
    #[test]
    fn a_busy_log_replacing_every_line_moves_no_line() {
        let items = |ks: std::ops::Range<u32>| -> Vec<(u64, Option<VNode>)> {
            ks.map(|k| {
                let n = k.to_string();
                (
                    key_of(&n),
                    Some(text("li", "", &n).key(key_of(&n)).into_node()),
                )
            })
            .collect()
        };
        let mut dom = Tree::default();
        let live = place_keyed(&mut dom, &ROOT, Vec::new(), items(100..160), true);
        let made = dom.next;
        let live = place_keyed(&mut dom, &ROOT, live, items(200..260), true);
        assert_eq!((dom.moves, dom.next), (0, made), "no move, nothing created");
        // A quiet feed: 3 new lines on top, 3 old ones gone: 3 moves.
        let live = place_keyed(&mut dom, &ROOT, live, items(197..257), true);
        assert_eq!(dom.moves, 3);
        assert_eq!(live.len(), 60);
        let want = (197..257)
            .map(|k| format!("[[{k}]]"))
            .collect::<Vec<_>>()
            .concat();
        assert_eq!(dom.show(ROOT), want);
    }

    #[test]
    fn hostile_strings_stay_text_and_attribute_values() {
        let evil = "<img src=x onerror=alert(1)>";
        let mut dom = Rec::default();
        let live = diff_children(
            &mut dom,
            &ROOT,
            Vec::new(),
            nodes(vec![text("td", "", evil).a("title", evil)]),
        );
        assert!(dom
            .ops
            .contains(&format!("create {evil:?} #{}", live[0].children[0].node)));
        assert!(dom
            .ops
            .contains(&format!("attr #{} title={evil:?}", live[0].node)));
    }
}
