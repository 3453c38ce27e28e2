//! One stable sort for every caller.
//!
//! Each `slice::sort_by` with its own item type and comparator compiles its
//! own copy of the standard library's sort (about 4.5 KB of wasm each; the
//! dashboard had eleven). [`sort_by`] gives exactly the order of
//! `sort_by` (both are stable, so for a comparator that is a total order the
//! result is the same), and in the wasm build sorts through one shared
//! instantiation ([`sort_by_positions`]); native builds call `sort_by`.

use std::cmp::Ordering;

/// Sorts `v` by `cmp`, stably: the same order as `v.sort_by(cmp)`.
#[allow(clippy::ptr_arg)] // reason: the wasm path moves the items into a new order (a `Vec`, not a slice); native only calls `sort_by`
pub fn sort_by<T>(v: &mut Vec<T>, cmp: impl FnMut(&T, &T) -> Ordering) {
    #[cfg(target_arch = "wasm32")]
    sort_by_positions(v, cmp);
    #[cfg(not(target_arch = "wasm32"))]
    v.sort_by(cmp);
}

/// [`sort_by`] through one instantiation of the standard sort: sorts the
/// positions `0..len` (a `dyn` comparator over positions), then moves the
/// items into that order.
pub fn sort_by_positions<T>(v: &mut Vec<T>, mut cmp: impl FnMut(&T, &T) -> Ordering) {
    if v.len() < 2 {
        return;
    }
    let order = {
        let items: &[T] = v;
        positions(items.len(), &mut |a, b| cmp(&items[a], &items[b]))
    };
    let mut slots: Vec<Option<T>> = std::mem::take(v).into_iter().map(Some).collect();
    v.extend(order.into_iter().filter_map(|i| slots[i].take()));
}

fn positions(len: usize, cmp: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|&a, &b| cmp(a, b));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_give_the_order_of_sort_by_ties_included() {
        // Pairs with many equal keys: a stable sort keeps their input order.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for len in [0, 1, 2, 3, 7, 20, 21, 100, 1000] {
            let v: Vec<(u8, u32)> = (0..len)
                .map(|i| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    ((seed % 5) as u8, i)
                })
                .collect();
            let mut want = v.clone();
            want.sort_by_key(|x| std::cmp::Reverse(x.0));
            let mut got = v.clone();
            sort_by_positions(&mut got, |a, b| b.0.cmp(&a.0));
            assert_eq!(got, want, "len {len}");
            let mut got = v;
            sort_by(&mut got, |a, b| b.0.cmp(&a.0));
            assert_eq!(got, want, "len {len}");
        }
    }

    #[test]
    fn moves_owned_items() {
        let mut v: Vec<String> = ["b", "c", "a", "b"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        sort_by_positions(&mut v, Ord::cmp);
        assert_eq!(v, ["a", "b", "b", "c"]);
    }
}
