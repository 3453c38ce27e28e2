//! Whether the dashboard keeps up with its feed: a pure detector the health
//! strip reads to suggest turning off the costliest panels (the settings'
//! *Panels computed*) when it does not.
//!
//! "Behind" is the events the gateway has that this dashboard has not
//! applied yet. A burst is normal; the hint shows only when the dashboard
//! stays more than [`BEHIND_S`] of its own applied rate behind (and at
//! least [`MIN_BEHIND`] events) for [`SUSTAIN_MS`] of wall time in a row,
//! and never while the operator has paused the view (the queue then grows
//! on purpose).

/// Behind by more than this many seconds of the applied rate...
pub const BEHIND_S: f64 = 1.0;
/// ...and at least this many events...
pub const MIN_BEHIND: u64 = 10_000;
/// ...for this long in a row (wall time, ms) before the hint shows.
pub const SUSTAIN_MS: i64 = 5_000;

/// The detector's memory: since when the dashboard has been behind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overload {
    since_ms: Option<i64>,
}

impl Overload {
    /// Notes the state at wall time `now_ms`: `behind` events not applied
    /// yet, `rate_per_s` events applied per second lately. True while the
    /// dashboard has been behind for at least [`SUSTAIN_MS`].
    pub fn observe(&mut self, now_ms: i64, behind: u64, rate_per_s: f64, paused: bool) -> bool {
        #[allow(clippy::cast_precision_loss)] // reason: a count compared with a rate
        let over = (behind as f64) > (rate_per_s * BEHIND_S).max(MIN_BEHIND as f64);
        if paused || !over {
            self.since_ms = None;
            return false;
        }
        let since = *self.since_ms.get_or_insert(now_ms);
        now_ms.saturating_sub(since) >= SUSTAIN_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `(now_ms, behind, rate, paused)` samples; the answers.
    fn check(samples: &[(i64, u64, f64, bool)], expected: &[bool]) {
        let mut o = Overload::default();
        let got: Vec<bool> = samples
            .iter()
            .map(|&(t, b, r, p)| o.observe(t, b, r, p))
            .collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn sustained_lag_of_more_than_a_second_of_feed_shows_the_hint() {
        let r = 1_000_000.0;
        check(
            &[
                (0, 2_000_000, r, false),
                (4_999, 2_000_000, r, false),
                (5_000, 1_500_000, r, false),
                (9_000, 3_000_000, r, false),
            ],
            &[false, false, true, true],
        );
    }

    #[test]
    fn a_burst_that_is_caught_up_restarts_the_clock() {
        let r = 100_000.0;
        check(
            &[
                (0, 500_000, r, false),
                (3_000, 50_000, r, false),
                (4_000, 500_000, r, false),
                (8_000, 500_000, r, false),
                (9_000, 500_000, r, false),
            ],
            &[false, false, false, false, true],
        );
    }

    #[test]
    fn small_feeds_and_a_paused_view_never_show_it() {
        // Under MIN_BEHIND events behind, whatever the rate.
        check(
            &[(0, 9_000, 10.0, false), (60_000, 9_000, 10.0, false)],
            &[false, false],
        );
        // Paused: the queue grows on purpose.
        check(
            &[(0, 5_000_000, 1e5, true), (60_000, 5_000_000, 1e5, true)],
            &[false, false],
        );
        // A second behind at most is keeping up.
        check(
            &[(0, 900_000, 1e6, false), (60_000, 1_000_000, 1e6, false)],
            &[false, false],
        );
    }
}
