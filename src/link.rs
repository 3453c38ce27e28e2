//! The messages between the page ([`crate::state::Store`]: signals, alerts,
//! views) and the engine host ([`crate::host::Host`]: socket, protocol,
//! operators), and the two ways of carrying them.
//!
//! The host runs either on the page's main thread (the default) or in a
//! dedicated Web Worker (`?worker=1`: decoding and the operators never take
//! the page's main thread; back on the main thread when a worker cannot be
//! started). Both run the same
//! [`crate::host::Host`] code and exchange the same messages: [`Cmd`] from
//! the page, [`Published`] and [`Answer`] from the host. On the main thread
//! they are passed by value; to and from a worker they are `postcard` bytes
//! ([`encode`], [`decode`]). The data keeps flowing one way: the page sends
//! intentions (pause, settings, what a drill-down or a lookup looks at), the
//! host publishes what the views read.

use serde::{Deserialize, Serialize};
use shoppulse_core::id::Id;
use shoppulse_core::view::{OrderTargetState, StockRow, UserRecs, View};

use crate::session::OrderNote;
use crate::state::{ConnInfo, Progress};
use crate::ui::Drill;

/// How the host starts: everything it would otherwise read from the page.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct Start {
    /// The feed URL.
    pub url: String,
    /// `?shops=`: only these shops.
    pub shops: Option<Vec<String>>,
    /// Ask for `bin1` events frames.
    pub bin1: bool,
    /// `?bench_resume_epoch=`: ask for the whole history of this epoch.
    pub resume_epoch: Option<String>,
    /// A problem to show from the start (why the host is not in a worker).
    pub note: Option<String>,
}

/// The operator's settings the host needs (the engine thresholds and SLA).
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct EngineSettings {
    /// Low stock at or below this quantity.
    pub low_stock_threshold: i64,
    /// Per-product overrides `(product id, threshold)`.
    pub product_thresholds: Vec<(String, i64)>,
    /// Pending/retrying longer than this is stuck, seconds.
    pub sync_sla_s: i64,
    /// Compute the recommendations operator.
    pub compute_recs: bool,
    /// Compute the order-sync operator.
    pub compute_sync: bool,
}

/// What the page is looking at beyond the published view: answered in
/// [`Extras`] with every publish while it stays of interest.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct Interest {
    /// The user typed in the recommendation lookup (trimmed; empty: none).
    pub lookup: String,
    /// The open drill-down.
    pub drill: Option<Drill>,
}

/// The host's answers to the page's [`Interest`].
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct Extras {
    /// Recommendations for the looked-up user: `(query, answer)`.
    pub lookup: Option<(String, UserRecs)>,
    /// What the open drill-down shows.
    pub drill: Option<(Drill, DrillData)>,
}

/// The engine's side of a drill-down.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub enum DrillData {
    /// A product.
    Product {
        /// Its stock row, when known.
        stock: Option<StockRow>,
        /// What sells with it.
        partners: Vec<(Id, u64)>,
        /// Its trend score.
        score: Option<f64>,
        /// The engine's event time, ms.
        now_ms: i64,
    },
    /// A sync cell: its unsynced orders.
    Cell {
        /// Failed, then retrying, then pending; newest first.
        orders: Vec<OrderTargetState>,
    },
    /// An order.
    Order {
        /// Its per-target sync state.
        states: Vec<OrderTargetState>,
        /// Its timeline.
        notes: Vec<OrderNote>,
    },
}

/// From the page to the host.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub enum Cmd {
    /// Start (once, first).
    Start(Start),
    /// New engine settings and feed URL (a change of URL reconnects).
    Settings(EngineSettings, String),
    /// The viewer token for the next hello.
    Token(Option<String>),
    /// Pause or resume the live view.
    Pause(bool),
    /// What the page looks at.
    Interest(Interest),
    /// The page drew the last publish; the next may come.
    Drawn,
    /// The benchmark hook: the aggregates, with the stock of these products
    /// (a JSON array of ids), answered as [`Answer::Aggregates`].
    Aggregates(u32, String),
}

/// What changed since the previous publish (`None`: unchanged).
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
pub struct Published {
    /// Connection facts.
    pub conn: Option<ConnInfo>,
    /// Stream position.
    pub progress: Option<Progress>,
    /// The view.
    pub view: Option<View>,
    /// Events queued while paused.
    pub queued: Option<u64>,
    /// Answers to the page's interest.
    pub extras: Option<Extras>,
    /// The host's wasm memory, bytes (only from a worker: the page counts
    /// its own).
    pub host_memory_bytes: Option<u64>,
}

/// From the host to the page.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub enum Answer {
    /// What changed.
    Publish(Box<Published>),
    /// The benchmark hook's answer: `(request, JSON)`.
    Aggregates(u32, String),
}

/// A message as bytes for `postMessage`.
pub fn encode<T: Serialize>(msg: &T) -> Vec<u8> {
    postcard::to_allocvec(msg).unwrap_or_default()
}

/// A message from bytes (`None`: unreadable, which only a build mismatch
/// between page and worker could cause).
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Option<T> {
    postcard::from_bytes(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Host;
    use crate::state::ConnState;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// Feeds `lines` (JSON events) through a host whose publishes are
    /// collected, as the worker would (`through_bytes`: every message
    /// encoded and decoded as between page and worker).
    fn run(lines: &[&str], interest: Interest, through_bytes: bool) -> Vec<Published> {
        let out: Rc<RefCell<Vec<Published>>> = Rc::default();
        let sink = Rc::clone(&out);
        let host = Host::new(
            Start {
                url: "ws://test/ws".into(),
                bin1: true,
                ..Start::default()
            },
            Box::new(move |a: Answer| {
                let a = if through_bytes {
                    decode::<Answer>(&encode(&a)).expect("readable")
                } else {
                    a
                };
                if let Answer::Publish(p) = a {
                    sink.borrow_mut().push(*p);
                }
            }),
        );
        let send = |c: Cmd| {
            let c = if through_bytes {
                decode::<Cmd>(&encode(&c)).expect("readable")
            } else {
                c
            };
            host.handle(c);
        };
        send(Cmd::Interest(interest));
        let hello = r#"{"type":"hello","protocol":1,"epoch":"e1","head_seq":0,"server":"t","source":"simulator"}"#;
        let _ = host.on_text(hello);
        for (i, l) in lines.iter().enumerate() {
            let frame = format!(
                r#"{{"type":"events","epoch":"e1","first_seq":{},"sent_ms":0,"events":[{l}]}}"#,
                i + 1
            );
            let _ = host.on_text(&frame);
            host.publish_now();
            send(Cmd::Drawn);
        }
        out.take()
    }

    const LINES: &[&str] = &[
        r#"{"kind":"behavior","ts":60000,"user":1,"action":"browse","product":7}"#,
        r#"{"kind":"behavior","ts":61000,"user":1,"action":"add_to_cart","product":7}"#,
        r#"{"kind":"inventory","ts":62000,"product":7,"quantity":4}"#,
        r#"{"kind":"behavior","ts":63000,"user":2,"action":"purchase","product":8}"#,
        r#"{"kind":"order","ts":64000,"order":5,"channel":"web","status":"paid","total_cents":1250,"currency":"GBP"}"#,
        r#"{"kind":"sync","ts":65000,"order":5,"channel":"web","target":"payment","status":"failed","attempt":1,"error":"card <b>declined</b>"}"#,
    ];

    #[test]
    fn a_worker_publishes_exactly_what_the_main_thread_host_publishes() {
        for interest in [
            Interest::default(),
            Interest {
                lookup: "1".into(),
                drill: Some(Drill::Product(Id::Num(7))),
            },
            Interest {
                lookup: String::new(),
                drill: Some(Drill::Order(Id::Num(5))),
            },
        ] {
            let direct = run(LINES, interest.clone(), false);
            let worker = run(LINES, interest, true);
            assert_eq!(direct.len(), LINES.len());
            assert_eq!(direct, worker);
        }
    }

    #[test]
    fn the_host_answers_what_the_page_looks_at() {
        let p = run(
            LINES,
            Interest {
                lookup: "1".into(),
                drill: Some(Drill::Order(Id::Num(5))),
            },
            true,
        );
        let last = p
            .iter()
            .rev()
            .find_map(|p| p.extras.clone())
            .expect("extras published");
        let (q, recs) = last.lookup.expect("lookup answered");
        assert_eq!((q.as_str(), &recs.user), ("1", &Id::Num(1)));
        match last.drill {
            Some((Drill::Order(id), DrillData::Order { states, notes })) => {
                assert_eq!(id, Id::Num(5));
                assert_eq!(states.len(), 1);
                assert_eq!(notes.len(), 2);
            }
            other => panic!("order drill expected, got {other:?}"),
        }
        let conn = p
            .iter()
            .find_map(|p| p.conn.clone())
            .expect("conn published");
        assert_eq!(conn.state, ConnState::Connecting);
        assert_eq!(
            p.last()
                .and_then(|p| p.progress.clone())
                .map(|p| p.last_seq),
            Some(6)
        );
    }

    #[test]
    fn nothing_is_published_until_the_page_drew_the_previous_one() {
        let out: Rc<RefCell<u32>> = Rc::default();
        let n = Rc::clone(&out);
        let host = Host::new(Start::default(), Box::new(move |_| *n.borrow_mut() += 1));
        host.set_paced_by_page();
        let _ = host.on_text(r#"{"type":"heartbeat","sent_ms":1,"head_seq":3}"#);
        host.publish_now();
        let _ = host.on_text(r#"{"type":"heartbeat","sent_ms":2,"head_seq":4}"#);
        host.publish_now();
        assert_eq!(*out.borrow(), 1, "one publish in flight at a time");
        host.handle(Cmd::Drawn);
        host.publish_now();
        assert_eq!(*out.borrow(), 2);
    }

    /// Regression: with publishes coalesced, a second refused token in a row
    /// reached the page as the same `unauthorized` state it already showed,
    /// so the page did not forget that token (found by security.test.mjs).
    #[test]
    fn a_second_refusal_in_a_row_reaches_the_page_so_it_forgets_that_token_too() {
        let out: Rc<RefCell<Vec<Published>>> = Rc::default();
        let sink = Rc::clone(&out);
        let host = Host::new(
            Start::default(),
            Box::new(move |a| {
                if let Answer::Publish(p) = a {
                    sink.borrow_mut().push(*p);
                }
            }),
        );
        host.note_refused();
        host.publish_now();
        host.set_state(ConnState::Connecting);
        host.note_refused();
        host.publish_now();
        let seen: Vec<(ConnState, u32)> = out
            .borrow()
            .iter()
            .filter_map(|p| p.conn.as_ref().map(|c| (c.state, c.refusals)))
            .collect();
        assert_eq!(
            seen,
            vec![(ConnState::Unauthorized, 1), (ConnState::Unauthorized, 2)]
        );
    }
}
