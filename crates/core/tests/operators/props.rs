//! Properties against naive reference models recomputed from the raw events.

use std::collections::BTreeMap;

use proptest::prelude::*;
use shoppulse_core::event::{Target, ACTION_SLOTS};
use shoppulse_core::ops::common::{id_hash, LogHist, Ring, SpaceSaving, LOG_HIST_REL_ERROR};
use shoppulse_core::{Config, Engine, Id};

use super::support::*;

fn cfg() -> ProptestConfig {
    ProptestConfig {
        cases: 48,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cfg())]

    /// Windowed action counts equal sums recomputed from the raw list.
    #[test]
    fn behaviour_windows_match_the_reference(
        evs in prop::collection::vec((0i64..3 * H, 0usize..6), 1..200)
    ) {
        let lines: Vec<String> = evs
            .iter()
            .map(|&(off, a)| {
                let action = if a == 5 { "wishlist" } else { ACTION_SLOTS[a] };
                b(T0 + off, 1, action, 1)
            })
            .collect();
        let v = view(&lines).behavior;
        let now = evs.iter().map(|e| T0 + e.0).max().unwrap();
        let (now_s, now_m) = (now.div_euclid(S), now.div_euclid(M));
        let mut want = [[0u64; 6]; 4];
        for &(off, a) in &evs {
            let ts = T0 + off;
            want[3][a] += 1;
            if ts.div_euclid(S) > now_s - 60 { want[0][a] += 1; }
            if ts.div_euclid(S) > now_s - 300 { want[1][a] += 1; }
            if ts.div_euclid(M) > now_m - 60 { want[2][a] += 1; }
        }
        prop_assert_eq!(v.counts_1m, want[0]);
        prop_assert_eq!(v.counts_5m, want[1]);
        prop_assert_eq!(v.counts_1h, want[2]);
        prop_assert_eq!(v.counts_total, want[3]);
        let per_minute: u64 = v.per_minute.iter().map(|m| m.1.iter().sum::<u64>()).sum();
        prop_assert_eq!(per_minute, want[2].iter().sum::<u64>());
    }

    /// Minute and hour windows equal the reference recomputed from the raw
    /// order events (first created/paid places; a refund of less than is
    /// left gives that much back; else the first cancel subtracts the rest).
    #[test]
    fn sales_windows_match_the_reference(
        evs in prop::collection::vec((0i64..4 * H, 0u64..12, 0usize..5, 0usize..2, 1i64..10_000), 1..150)
    ) {
        const STATUS: [&str; 5] = ["created", "paid", "cancelled", "refunded", "fulfilled"];
        const CH: [&str; 2] = ["a", "b"];
        let lines: Vec<String> = evs
            .iter()
            .map(|&(off, id, s, c, total)| order(T0 + off, id, CH[c], STATUS[s], total))
            .collect();
        let v = view(&lines).sales;
        let now = evs.iter().map(|e| T0 + e.0).max().unwrap();
        // Reference: per-id state in arrival order -> effects -> window sums.
        let mut state: BTreeMap<u64, (bool, bool, i64)> = BTreeMap::new();
        let mut effects: Vec<(i64, i64, u64, u64)> = Vec::new(); // ts, revenue, orders, cancelled
        for &(off, id, s, _, total) in &evs {
            let st = state.entry(id).or_insert((false, false, 0));
            match s {
                0 | 1 if !st.0 && !st.1 => {
                    *st = (true, false, total);
                    effects.push((T0 + off, total, 1, 0));
                }
                3 if st.0 && !st.1 && total < st.2 => {
                    // A partial refund: the order stays counted.
                    st.2 -= total;
                    effects.push((T0 + off, -total, 0, 0));
                }
                2 | 3 if !st.1 => {
                    let sub = if st.0 { st.2 } else { total };
                    st.1 = true;
                    effects.push((T0 + off, -sub, 0, 1));
                }
                _ => {}
            }
        }
        for (len, kept, windows) in [(M, 60, &v.minutes), (H, 48, &v.hours)] {
            let now_idx = now.div_euclid(len);
            let mut want: BTreeMap<i64, (i64, u64, u64)> = BTreeMap::new();
            for &(ts, r, o, c) in &effects {
                let idx = ts.div_euclid(len);
                if idx > now_idx - kept {
                    let w = want.entry(idx * len).or_default();
                    w.0 += r; w.1 += o; w.2 += c;
                }
            }
            for w in windows {
                let got = (w.total.revenue_cents, w.total.orders, w.total.cancelled);
                prop_assert_eq!(got, want.remove(&w.start_ms).unwrap_or_default());
                let rev: i64 = w.by_channel.iter().map(|c| c.revenue_cents).sum();
                prop_assert_eq!(rev, w.total.revenue_cents);
            }
            prop_assert!(want.is_empty(), "windows missing from the view: {:?}", want);
        }
        let total: i64 = effects.iter().map(|e| e.1).sum();
        prop_assert_eq!(v.total.revenue_cents, total);
    }

    /// Space-Saving stays within its error bound of the exact counts.
    #[test]
    fn space_saving_is_within_its_bound(
        items in prop::collection::vec((0u64..400, 0usize..3), 1..3000)
    ) {
        const W: [u64; 3] = [1, 3, 5];
        const K: usize = 64;
        let mut ss = SpaceSaving::default();
        let mut exact: BTreeMap<u64, u64> = BTreeMap::new();
        for &(raw, w) in &items {
            let p = raw * raw / 400; // skewed towards small ids
            ss.add(&Id::Num(p), W[w], K);
            *exact.entry(p).or_default() += W[w];
        }
        let total: u64 = exact.values().sum();
        prop_assert_eq!(ss.total(), total);
        let top = ss.top(K);
        for pc in &top {
            let Id::Num(p) = pc.product else { unreachable!() };
            let f = exact.get(&p).copied().unwrap_or(0);
            prop_assert!(pc.count >= f && pc.count - pc.error <= f, "{pc:?} exact {f}");
            prop_assert!(pc.error <= total / K as u64);
        }
        for (&p, &f) in &exact {
            if f > total / K as u64 {
                prop_assert!(top.iter().any(|pc| pc.product == Id::Num(p)), "heavy {p} ({f}) missing");
            }
        }
        // The exact top 10 by sort agrees with the sketch's top 10 within the bound.
        let mut by_sort: Vec<(u64, u64)> = exact.iter().map(|(&p, &f)| (f, p)).collect();
        by_sort.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let tenth = by_sort.get(9).map_or(0, |e| e.0);
        for pc in ss.top(10) {
            prop_assert!(pc.count + total / K as u64 >= tenth);
        }
    }

    /// Space-Saving's counters are exactly those of the textbook algorithm
    /// (a new item replaces the first counter at the minimum, found by a
    /// full scan), also across a snapshot read mid-way (the replacement
    /// cursor is not kept in snapshots).
    #[test]
    fn space_saving_matches_the_full_scan(
        items in prop::collection::vec((0u64..120, 0usize..3), 1..2000),
        cut in 0usize..2000,
    ) {
        const W: [u64; 3] = [1, 3, 5];
        const K: usize = 16;
        let mut ss = SpaceSaving::default();
        // (id, count, error) in slot order.
        let mut naive: Vec<(u64, u64, u64)> = Vec::new();
        for (n, &(raw, w)) in items.iter().enumerate() {
            if n == cut {
                let json = serde_json::to_string(&ss).unwrap();
                ss = serde_json::from_str(&json).unwrap();
            }
            let p = raw * raw / 120;
            ss.add(&Id::Num(p), W[w], K);
            if let Some(e) = naive.iter_mut().find(|e| e.0 == p) {
                e.1 += W[w];
            } else if naive.len() < K {
                naive.push((p, W[w], 0));
            } else {
                let mut mi = 0;
                for (i, e) in naive.iter().enumerate() {
                    if e.1 < naive[mi].1 {
                        mi = i;
                    }
                }
                let min = naive[mi].1;
                naive[mi] = (p, min + W[w], min);
            }
            let mut want: Vec<(u64, u64, u64)> = naive.clone();
            want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let got: Vec<(u64, u64, u64)> = ss
                .top(K)
                .iter()
                .map(|pc| {
                    let Id::Num(p) = pc.product else { unreachable!() };
                    (p, pc.count, pc.error)
                })
                .collect();
            prop_assert_eq!(got, want, "after item {}", n);
        }
    }

    /// A ring's buckets (which one an event lands in, whether it is refused)
    /// are those computed from scratch for every event: remembering the
    /// last bucket looked up changes nothing, at bucket edges, for late
    /// events, for times near the ends of `i64`, and across a snapshot read.
    #[test]
    fn ring_buckets_match_the_division(
        edges in prop::collection::vec((0u8..4, -4i64..12, 0i64..2_000), 1..300),
        extremes in prop::collection::vec((0u8..3, any::<i64>(), 0i64..2_000), 0..8),
        len_ms in 1i64..1_500,
        n in 1usize..6,
        cut in 0usize..300,
    ) {
        let mut ring: Ring<u64> = Ring::new(n, len_ms);
        // Reference: slot -> (bucket index, count), recomputed by division.
        let mut naive: BTreeMap<i64, (i64, u64)> = BTreeMap::new();
        let mut now = i64::MIN;
        let n_i = n as i64;
        // At or next to bucket edges, then (since "now" only grows, once)
        // anywhere or near either end of time.
        let edge_times = edges.iter().map(|&(kind, bucket, off)| match kind {
            0 => bucket * len_ms + off % len_ms,
            1 => bucket * len_ms - 1,
            _ => bucket * len_ms,
        });
        let extreme_times = extremes.iter().map(|&(kind, raw, off)| match kind {
            0 => raw,
            1 => i64::MIN + off,
            _ => i64::MAX - off,
        });
        for (k, ts) in edge_times.chain(extreme_times).enumerate() {
            if k == cut {
                let json = serde_json::to_string(&ring).unwrap();
                ring = serde_json::from_str(&json).unwrap();
            }
            now = now.max(ts);
            let idx = ts.div_euclid(len_ms);
            let now_idx = now.div_euclid(len_ms).max(idx);
            let want = if i128::from(idx) <= i128::from(now_idx) - i128::from(n_i) {
                None
            } else {
                let e = naive.entry(idx.rem_euclid(n_i)).or_insert((i64::MIN, 0));
                if e.0 > idx {
                    None
                } else {
                    if e.0 != idx {
                        *e = (idx, 0);
                    }
                    e.1 += 1;
                    Some(e.1)
                }
            };
            let got = ring.slot_mut(ts, now).map(|c| {
                *c += 1;
                *c
            });
            prop_assert_eq!(got, want, "event {} at {} (now {})", k, ts, now);
        }
    }

    /// Log-histogram quantiles are within 2 % of the exact nearest-rank value.
    #[test]
    fn percentiles_are_within_the_stated_error(
        values in prop::collection::vec(0u64..2_000_000, 1..500)
    ) {
        let mut h = LogHist::default();
        for &v in &values { h.add(v); }
        let mut sorted = values.clone();
        sorted.sort_unstable();
        for q in [0.5, 0.95, 0.99] {
            let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
            let exact = sorted[rank - 1] as f64;
            let got = h.quantile(q).unwrap();
            prop_assert!((got - exact).abs() <= exact * LOG_HIST_REL_ERROR + 1e-9, "q{q}: {got} vs {exact}");
        }
    }

    /// Current sync counts equal the count of the last status per (order,
    /// target); the stuck count and list equal a recomputation after every
    /// event.
    #[test]
    fn sync_counts_match_the_last_status(
        evs in prop::collection::vec((0u64..25, 0usize..4, 0usize..4, 1u32..4, 0i64..20 * M), 1..300)
    ) {
        const ST: [&str; 4] = ["pending", "synced", "failed", "retrying"];
        const T: [&str; 4] = ["payment", "inventory", "logistics", "customer_service"];
        // Applied one by one, checking the stuck count after every event.
        let mut e = Engine::new(Config::default());
        let mut last: BTreeMap<(u64, usize), (usize, i64)> = BTreeMap::new();
        let mut now = i64::MIN;
        for &(o, t, s, a, off) in &evs {
            let ts = T0 + off;
            e.apply(&ev(&sync(ts, o, "web", T[t], ST[s], a)));
            now = now.max(ts);
            let open = |s: usize| s == 0 || s == 3;
            let since = match last.get(&(o, t)) {
                Some(&(ps, since)) if open(ps) && open(s) => since,
                _ => ts,
            };
            last.insert((o, t), (s, since));
            let cutoff = now - 5 * M;
            let want: Vec<(i64, u64, usize)> = {
                let mut v: Vec<(i64, u64, usize)> = last
                    .iter()
                    .filter(|(_, &(s, since))| open(s) && since < cutoff)
                    .map(|(&(o, t), &(_, since))| (since, o, t))
                    .collect();
                // Ties on `since` are listed in the order id's stable hash order.
                v.sort_unstable_by_key(|&(since, o, t)| (since, id_hash(&Id::Num(o)), t));
                v
            };
            let v = e.view().sync;
            prop_assert_eq!(v.stuck_count, want.len() as u64);
            let got: Vec<(i64, u64, usize)> = v
                .stuck
                .iter()
                .map(|s| (s.since_ms, match s.order { Id::Num(n) => n, Id::Str(_) => u64::MAX }, s.target.slot()))
                .collect();
            prop_assert_eq!(&got[..], &want[..want.len().min(50)]);
        }
        let v = e.view().sync;
        for (ti, target) in Target::ALL.iter().enumerate() {
            let mut want = [0u64; 4];
            for (&(_, t), &(s, _)) in &last { if t == ti { want[s] += 1; } }
            let got = v.cells.iter().find(|c| c.target == *target).map_or([0; 4], |c| c.current);
            prop_assert_eq!(got, want, "target {:?}", target);
        }
    }

    /// Inventory lists equal a recomputation from the latest quantity per product.
    #[test]
    fn inventory_lists_match_the_latest_quantities(
        evs in prop::collection::vec((0u64..30, -3i64..30), 1..200)
    ) {
        let lines: Vec<String> = evs
            .iter()
            .enumerate()
            .map(|(i, &(p, q))| inv(T0 + i as i64, p, q))
            .collect();
        let e = run(&lines);
        let v = e.view().inventory;
        let mut latest: BTreeMap<u64, i64> = BTreeMap::new();
        for &(p, q) in &evs { latest.insert(p, q); }
        let out: Vec<Id> = latest.iter().filter(|e| *e.1 == 0).map(|e| Id::Num(*e.0)).collect();
        let neg: Vec<Id> = latest.iter().filter(|e| *e.1 < 0).map(|e| Id::Num(*e.0)).collect();
        prop_assert_eq!(v.out.iter().map(|r| r.product.clone()).collect::<Vec<_>>(), out);
        prop_assert_eq!(v.oversold.iter().map(|r| r.product.clone()).collect::<Vec<_>>(), neg);
        // Every listed low product is at or below threshold + hysteresis.
        for r in &v.low { prop_assert!(r.quantity > 0 && r.quantity <= 12); }
        // Every product at or below the threshold (and above 0) is listed low.
        let low_want = latest.values().filter(|&&q| q > 0 && q <= 10).count();
        prop_assert!(v.low.len() >= low_want);
    }
}

fn extreme() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MIN),
        Just(-1i64),
        Just(0i64),
        Just(1i64),
        Just(i64::MAX),
        any::<i64>(),
        (0i64..4 * H).prop_map(|x| T0 + x),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any mix of extreme times, quantities, totals and settings: no panic
    /// (overflow is checked in tests), and the state views and round-trips.
    #[test]
    fn extreme_values_never_panic(
        evs in prop::collection::vec((0usize..6, extreme(), extreme(), 0u64..4), 1..40),
        lateness in extreme(),
        sla in extreme(),
        window in extreme(),
    ) {
        const ACT: [&str; 4] = ["browse", "add_to_cart", "purchase", "checkout"];
        const ST: [&str; 4] = ["pending", "synced", "failed", "retrying"];
        const OS: [&str; 4] = ["created", "paid", "cancelled", "refunded"];
        let lines: Vec<String> = evs
            .iter()
            .map(|&(k, ts, v, id)| match k {
                0 => b(ts, id, ACT[id as usize], id),
                1 => format!(r#"{{"kind":"inventory","ts":{ts},"product":{id},"quantity":{v}}}"#),
                2 => format!(
                    r#"{{"kind":"order","ts":{ts},"order":{id},"channel":"c{id}","status":"{}","total_cents":{v},"currency":"GBP","user":{id},"lines":[{{"product":{id},"quantity":{v},"unit_price_cents":{v}}},{{"product":9,"quantity":1,"unit_price_cents":1}}]}}"#,
                    OS[id as usize]
                ),
                3 => format!(
                    r#"{{"kind":"sync","ts":{ts},"order":{id},"channel":"c","target":"logistics","status":"{}","attempt":{},"latency_ms":{}}}"#,
                    ST[id as usize],
                    1 + v.rem_euclid(5),
                    v.unsigned_abs() / 2
                ),
                4 => format!(r#"{{"date":"d","sales":{v}}}"#),
                _ => format!(r#"{{"kind":"behavior","ts":{ts},"user":{v},"session":"{v}","action":"purchase","product":{id}}}"#),
            })
            .collect();
        let cfg = Config {
            allowed_lateness_ms: lateness,
            sync_sla_ms: sla,
            active_window_ms: window,
            exact_distinct_limit: 2,
            ..Config::default()
        };
        let mut e = Engine::new(cfg);
        for l in &lines {
            if e.apply_json(l, 0, "prop").is_ok() {
                let _ = e.view();
            }
        }
        e.mark_gap();
        let _ = e.recommend_for(&Id::Num(1));
        let back: Engine = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        prop_assert_eq!(back.view(), e.view());
    }
}

#[test]
fn hll_estimate_is_close_at_scale() {
    let cfg = Config {
        exact_distinct_limit: 10,
        ..Config::default()
    };
    let mut e = Engine::new(cfg);
    for u in 0..50_000u64 {
        e.apply(&ev(&b(T0 + (u as i64) % 1000, u, "browse", 1)));
    }
    let v = e.view().behavior;
    assert!(!v.active_exact);
    let err = (v.active_shoppers as f64 - 50_000.0).abs() / 50_000.0;
    assert!(err < 0.05, "{}", v.active_shoppers);
}
