//! Staggered drawing: the view's sections are drawn in [`GROUPS`] groups,
//! at most one group per animation frame, in turn.
//!
//! Under a busy feed every section changes with every publish, and drawing
//! them all in one frame (style, layout, paint and compositing of a quarter
//! of the page's objects) took longer than a frame: frames were dropped
//! (docs/PERFORMANCE.md, *Staggered drawing*). Drawn in turn, a frame does
//! about a third of that work and each section is still redrawn about 20
//! times a second. Nothing is skipped: a group that is not drawn in this
//! frame is drawn with the latest view in one of the next two, and a group
//! whose sections already show the latest view counts as drawn at once.
//!
//! [`Stagger`] only decides; [`crate::state::Store`] sets the signals. What
//! the page claims to show ([`Stagger::shown_seq`], the health strip's
//! `data-last-seq`) is the oldest group's sequence number, so the latency
//! the benchmark measures includes the wait.

/// How many groups the sections are drawn in.
pub const GROUPS: usize = 3;

/// Two draws are at least this far apart, ms: one per animation frame
/// (16.7 ms at 60 Hz; callbacks of one frame run within a few ms of each
/// other).
pub const MIN_GAP_MS: f64 = 12.0;

/// Which group to draw next, and what is on screen.
#[derive(Clone, Debug, PartialEq)]
pub struct Stagger {
    /// Sequence number of the view each group shows.
    shown_seq: [u64; GROUPS],
    /// Groups that do not show the latest view yet.
    dirty: [bool; GROUPS],
    /// Sequence number of the latest view.
    latest_seq: u64,
    /// The group whose turn is next.
    cursor: usize,
    /// When the last group was drawn (ms, any monotonic clock).
    last_draw_ms: f64,
}

impl Default for Stagger {
    fn default() -> Self {
        Stagger {
            shown_seq: [0; GROUPS],
            dirty: [false; GROUPS],
            latest_seq: 0,
            cursor: 0,
            last_draw_ms: f64::NEG_INFINITY,
        }
    }
}

impl Stagger {
    /// A view up to `seq` was published; `shows[g]` says whether group `g`
    /// already shows what it holds for that group.
    pub fn published(&mut self, seq: u64, shows: [bool; GROUPS]) {
        self.latest_seq = seq;
        for (g, same) in shows.into_iter().enumerate() {
            if same {
                self.shown_seq[g] = seq;
                self.dirty[g] = false;
            } else {
                self.dirty[g] = true;
            }
        }
    }

    /// The group to draw now (`now_ms`), if one waits and the last draw
    /// was at least [`MIN_GAP_MS`] ago: the first waiting one from the
    /// group after the last drawn, so none waits more than `GROUPS - 1`
    /// draws. It then counts as showing the latest view.
    pub fn take(&mut self, now_ms: f64) -> Option<usize> {
        if now_ms - self.last_draw_ms < MIN_GAP_MS {
            return None;
        }
        let g = (0..GROUPS)
            .map(|i| (self.cursor + i) % GROUPS)
            .find(|&g| self.dirty[g])?;
        self.dirty[g] = false;
        self.shown_seq[g] = self.latest_seq;
        self.cursor = (g + 1) % GROUPS;
        self.last_draw_ms = now_ms;
        Some(g)
    }

    /// Some group still waits to be drawn.
    pub fn waiting(&self) -> bool {
        self.dirty.iter().any(|&d| d)
    }

    /// The oldest sequence number on screen: every section shows at least
    /// the events up to it.
    pub fn shown_seq(&self) -> u64 {
        self.shown_seq.iter().copied().min().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What happens, in order.
    #[derive(Clone, Copy, Debug)]
    enum Step {
        /// A view up to this sequence number, with what each group already shows.
        Publish(u64, [bool; GROUPS]),
        /// An animation frame at this time, ms.
        Frame(f64),
    }

    /// Runs `steps` and returns, for every frame, the group drawn and the
    /// sequence number then on screen.
    fn run(steps: &[Step]) -> Vec<(Option<usize>, u64)> {
        let mut s = Stagger::default();
        let mut out = Vec::new();
        for step in steps {
            match *step {
                Step::Publish(seq, shows) => s.published(seq, shows),
                Step::Frame(t) => out.push((s.take(t), s.shown_seq())),
            }
        }
        out
    }

    fn check(steps: &[Step], expected: &[(Option<usize>, u64)]) {
        assert_eq!(run(steps), expected);
    }

    use Step::{Frame, Publish};
    const ALL_NEW: [bool; GROUPS] = [false; GROUPS];

    #[test]
    fn a_view_that_changes_every_group_is_drawn_over_three_frames_in_turn() {
        check(
            &[
                Publish(10, ALL_NEW),
                Frame(0.0),
                Frame(16.7),
                Frame(33.3),
                Frame(50.0),
            ],
            &[(Some(0), 0), (Some(1), 0), (Some(2), 10), (None, 10)],
        );
    }

    #[test]
    fn at_most_one_group_per_frame_even_when_asked_twice_in_one() {
        check(
            &[
                Publish(5, ALL_NEW),
                Frame(100.0),
                Frame(103.0),
                Frame(116.7),
            ],
            &[(Some(0), 0), (None, 0), (Some(1), 0)],
        );
    }

    #[test]
    fn groups_that_already_show_the_view_count_as_drawn_without_a_frame() {
        check(
            &[Publish(7, [true, false, true]), Frame(0.0), Frame(16.7)],
            &[(Some(1), 7), (None, 7)],
        );
    }

    #[test]
    fn under_a_publish_every_frame_each_group_is_drawn_every_third_frame() {
        let mut steps = Vec::new();
        for i in 0..9_u32 {
            steps.push(Publish(u64::from(i + 1) * 100, ALL_NEW));
            steps.push(Frame(f64::from(i) * 16.7));
        }
        let drawn: Vec<_> = run(&steps).into_iter().map(|(g, _)| g).collect();
        let turn = [Some(0), Some(1), Some(2)];
        assert_eq!(drawn, [turn, turn, turn].concat());
    }

    #[test]
    fn the_sequence_on_screen_is_the_oldest_groups() {
        // Group 0 draws seq 100, group 1 seq 200, group 2 seq 300: on
        // screen is 100 until group 0 is drawn again.
        check(
            &[
                Publish(100, ALL_NEW),
                Frame(0.0),
                Publish(200, ALL_NEW),
                Frame(16.7),
                Publish(300, ALL_NEW),
                Frame(33.3),
                Frame(50.0),
                Frame(66.7),
            ],
            &[
                (Some(0), 0),
                (Some(1), 0),
                (Some(2), 100),
                (Some(0), 200),
                (Some(1), 300),
            ],
        );
    }

    #[test]
    fn a_group_that_went_back_to_what_it_shows_stops_waiting() {
        check(
            &[
                Publish(1, ALL_NEW),
                Frame(0.0),
                Publish(2, [true, true, true]),
                Frame(16.7),
            ],
            &[(Some(0), 0), (None, 2)],
        );
    }

    proptest::proptest! {
        /// Against a naive model: after any publishes and frames, every
        /// group is drawn within `GROUPS` frames of the last publish, and
        /// the sequence on screen never passes the latest published.
        #[test]
        fn every_group_catches_up_within_three_frames(
            ops in proptest::collection::vec((proptest::bool::ANY, proptest::array::uniform3(proptest::bool::ANY)), 0..60),
        ) {
            let mut s = Stagger::default();
            let mut t = 0.0;
            let mut seq = 0;
            for (publish, shows) in ops {
                if publish {
                    seq += 1;
                    s.published(seq, shows);
                } else {
                    t += 16.7;
                    let _ = s.take(t);
                }
                proptest::prop_assert!(s.shown_seq() <= seq);
            }
            for _ in 0..GROUPS {
                t += 16.7;
                let _ = s.take(t);
            }
            proptest::prop_assert!(!s.waiting());
            proptest::prop_assert_eq!(s.shown_seq(), seq);
        }
    }
}
