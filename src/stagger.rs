//! Staggered drawing: while the page drops frames, the view's sections are
//! drawn in [`GROUPS`] groups, at most one group per animation frame, in
//! turn; while it keeps up, every waiting group is drawn at once.
//!
//! Under a busy feed every section changes with every publish, and drawing
//! them all in one frame (style, layout, paint and compositing of a quarter
//! of the page's objects) took longer than a frame: frames were dropped
//! (docs/PERFORMANCE.md, *Staggered drawing*). Drawn in turn, a frame does
//! about a third of that work and each section is still redrawn about 20
//! times a second. Nothing is skipped: a group that is not drawn in this
//! frame is drawn with the latest view in one of the next two, and a group
//! whose sections already show the latest view counts as drawn at once.
//! Drawing in turn costs latency (the oldest group lags up to two frames),
//! so it is used only from the second late frame within [`PAIR_MS`]
//! ([`Stagger::frame`]: one late frame alone, a collection or a chart
//! redraw, says little) until [`HOLD_MS`] pass without one.
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

/// A frame that came this long after the previous one was late: at least
/// one frame was dropped (one frame is 16.7 ms at 60 Hz).
pub const LATE_FRAME_MS: f64 = 25.0;

/// Groups are drawn in turn until this long after the last late frame, ms.
pub const HOLD_MS: f64 = 2000.0;

/// Two late frames this close together (ms) start drawing in turn.
pub const PAIR_MS: f64 = 1000.0;

/// Feed rates (events/s) from which a new view is asked for only every
/// second, then every third animation frame ([`frames_per_view`]).
pub const CADENCE_RATES: [f64; 2] = [25_000.0, 100_000.0];

/// How many animation frames pass between two views drawn from the worker,
/// at a feed of `events_per_s`: 1 (60 views a second) below
/// `CADENCE_RATES[0]`, 2 (30) below `CADENCE_RATES[1]`, 3 (20) above.
///
/// Every view is drawn in full, with every event applied; only how often
/// the page redraws changes. One draw costs about the same whatever the
/// rate (about 11 ms of the main thread and 8 ms of the compositor and
/// raster threads in 1440 x 1000 on the benchmark machine), while the
/// worker's share of the two cores grows with the rate; 60 draws a second
/// and a worker busy with 150k events/s ask more of two cores than they
/// have, and frames are dropped (docs/PERFORMANCE.md, *Paced sweep and
/// drawing cadence*). Below 25k events/s, where the latency target is set,
/// nothing changes.
pub fn frames_per_view(events_per_s: f64) -> u32 {
    1 + u32::from(events_per_s >= CADENCE_RATES[0]) + u32::from(events_per_s >= CADENCE_RATES[1])
}

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
    /// The previous animation frame's time, ms.
    last_frame_ms: f64,
    /// Groups are drawn in turn until then, ms.
    in_turn_until_ms: f64,
    /// When the last late frame began, ms.
    last_late_ms: f64,
    /// Animation frames between two views ([`frames_per_view`]).
    frames_per_view: u32,
}

impl Default for Stagger {
    fn default() -> Self {
        Stagger {
            shown_seq: [0; GROUPS],
            dirty: [false; GROUPS],
            latest_seq: 0,
            cursor: 0,
            last_draw_ms: f64::NEG_INFINITY,
            last_frame_ms: f64::NEG_INFINITY,
            in_turn_until_ms: f64::NEG_INFINITY,
            last_late_ms: f64::NEG_INFINITY,
            frames_per_view: 1,
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

    /// An animation frame at `now_ms` (the page watches every frame while
    /// the feed is busy). One that came [`LATE_FRAME_MS`] or more after the
    /// previous one is late; a late frame within [`PAIR_MS`] of the one
    /// before, or while drawing in turn, makes the groups be drawn in turn
    /// for [`HOLD_MS`] from it. `first` says the previous frame was not
    /// watched.
    pub fn frame(&mut self, now_ms: f64, first: bool) {
        if !first && now_ms - self.last_frame_ms >= LATE_FRAME_MS {
            if now_ms - self.last_late_ms <= PAIR_MS || self.in_turn(now_ms) {
                self.in_turn_until_ms = now_ms + HOLD_MS;
            }
            self.last_late_ms = now_ms;
        }
        self.last_frame_ms = now_ms;
    }

    /// Groups are drawn in turn at `now_ms`: a frame was late recently and
    /// a view comes every frame ([`Stagger::set_frames_per_view`]).
    pub fn in_turn(&self, now_ms: f64) -> bool {
        self.frames_per_view == 1 && now_ms < self.in_turn_until_ms
    }

    /// Views now come every `n` animation frames ([`frames_per_view`]).
    /// From 2, the groups are drawn together in the frame a view comes,
    /// never in turn: a frame in between has no drawing to take over, and
    /// drawing in turn would make every frame a drawing frame (style,
    /// layout, paint and commit of the page each time) where one in `n`
    /// is enough; under a busy feed that cost frames (docs/PERFORMANCE.md,
    /// *Long frames, attributed*).
    pub fn set_frames_per_view(&mut self, n: u32) {
        self.frames_per_view = n;
    }

    /// The groups to draw now (`now_ms`); they then count as showing the
    /// latest view. While the page keeps up, every waiting group. In turn:
    /// none if the last draw was less than [`MIN_GAP_MS`] ago, else the
    /// first waiting one from the group after the last drawn, so none
    /// waits more than `GROUPS - 1` draws.
    pub fn take(&mut self, now_ms: f64) -> Vec<usize> {
        let waiting = (0..GROUPS)
            .map(|i| (self.cursor + i) % GROUPS)
            .filter(|&g| self.dirty[g]);
        let drawn: Vec<usize> = if !self.in_turn(now_ms) {
            waiting.collect()
        } else if now_ms - self.last_draw_ms < MIN_GAP_MS {
            Vec::new()
        } else {
            waiting.take(1).collect()
        };
        for &g in &drawn {
            self.dirty[g] = false;
            self.shown_seq[g] = self.latest_seq;
            self.cursor = (g + 1) % GROUPS;
            self.last_draw_ms = now_ms;
        }
        drawn
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

/// Catching up the sections out of view ([`crate::state::Panel`]), one
/// per task: decides, the store draws. A round starts [`OFF_SCREEN_MS`]
/// after a view leaves a section out of view behind ([`CatchUp::stale`]),
/// then draws the sections that were behind, one per task
/// ([`CatchUp::next`]): drawn in one task they took up to 30 ms of the
/// main thread once a second, the sweep's one long task under a busy feed
/// (docs/PERFORMANCE.md, *Long frames, attributed*). A view published
/// during a round starts none; when the round ends, any section behind
/// then starts the next.
///
/// [`OFF_SCREEN_MS`]: crate::state::OFF_SCREEN_MS
#[derive(Clone, Debug, PartialEq)]
pub struct CatchUp<P> {
    /// The sections of this round not drawn yet (drawn from the end).
    round: Vec<P>,
    /// A round is scheduled or under way.
    active: bool,
}

impl<P> Default for CatchUp<P> {
    fn default() -> Self {
        CatchUp {
            round: Vec::new(),
            active: false,
        }
    }
}

/// What the store does in a catch-up task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatchUpStep<P> {
    /// Draw this section with the latest view, then run the next task at once.
    Draw(P),
    /// The round is over and sections are behind: a new round, later.
    Again,
    /// The round is over; nothing is behind.
    Done,
}

impl<P: Copy> CatchUp<P> {
    /// A view was drawn; `behind` lists the sections out of view that do not
    /// show it (asked only when no round is under way). True when a round
    /// is to be scheduled.
    pub fn stale(&mut self, behind: impl FnOnce() -> Vec<P>) -> bool {
        if self.active {
            return false;
        }
        let behind = behind();
        if behind.is_empty() {
            return false;
        }
        self.round = behind;
        self.active = true;
        true
    }

    /// A task of the round: the next section still out of view
    /// (`out_of_view`) to draw; at the end, whether sections are `behind`
    /// now (views published during the round), which starts the next.
    pub fn next(
        &mut self,
        out_of_view: impl Fn(P) -> bool,
        behind: impl FnOnce() -> Vec<P>,
    ) -> CatchUpStep<P> {
        while let Some(p) = self.round.pop() {
            // A section back on screen is drawn with every view anyway.
            if out_of_view(p) {
                return CatchUpStep::Draw(p);
            }
        }
        self.active = false;
        if self.stale(behind) {
            CatchUpStep::Again
        } else {
            CatchUpStep::Done
        }
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
        /// An animation frame at this time, ms: watched, then a draw.
        Frame(f64),
    }

    /// Runs `steps` (after a late frame when `late`) and returns, for every
    /// frame, the groups drawn and the sequence number then on screen.
    fn run(late: bool, steps: &[Step]) -> Vec<(Vec<usize>, u64)> {
        let mut s = Stagger::default();
        let mut first = true;
        if late {
            s.frame(-1000.0, true);
            s.frame(-950.0, false);
            s.frame(-900.0, false);
            first = false;
        }
        let mut out = Vec::new();
        for step in steps {
            match *step {
                Step::Publish(seq, shows) => s.published(seq, shows),
                Step::Frame(t) => {
                    s.frame(t, first);
                    first = false;
                    out.push((s.take(t), s.shown_seq()));
                }
            }
        }
        out
    }

    /// The groups drawn per frame and the sequence on screen, in turn
    /// (after a late frame).
    fn check_in_turn(steps: &[Step], expected: &[(&[usize], u64)]) {
        let expected: Vec<_> = expected.iter().map(|(g, q)| (g.to_vec(), *q)).collect();
        assert_eq!(run(true, steps), expected);
    }

    use Step::{Frame, Publish};
    const ALL_NEW: [bool; GROUPS] = [false; GROUPS];

    #[test]
    fn while_frames_are_on_time_every_waiting_group_is_drawn_at_once() {
        assert_eq!(
            run(
                false,
                &[
                    Frame(0.0),
                    Publish(10, ALL_NEW),
                    Frame(16.7),
                    Publish(11, [true, false, true]),
                    Frame(33.4)
                ]
            ),
            [(vec![], 0), (vec![0, 1, 2], 10), (vec![1], 11)]
        );
    }

    #[test]
    fn views_are_drawn_every_frame_below_25k_then_every_second_then_every_third() {
        for (rate, frames) in [
            (0.0, 1),
            (10_000.0, 1),
            (24_999.0, 1),
            (25_000.0, 2),
            (99_999.0, 2),
            (100_000.0, 3),
            (1_000_000.0, 3),
            (f64::NAN, 1),
        ] {
            assert_eq!(frames_per_view(rate), frames, "at {rate} events/s");
        }
    }

    #[test]
    fn one_late_frame_alone_does_not_make_the_groups_drawn_in_turn() {
        // A publish and a frame every 16.7 ms for 2 s, with two late frames
        // more than PAIR_MS apart: every frame draws every group.
        let mut steps = Vec::new();
        let mut t = 0.0;
        for seq in 1..120 {
            t += if seq == 10 || seq == 80 { 40.0 } else { 16.7 };
            steps.extend([Publish(seq, ALL_NEW), Frame(t)]);
        }
        assert!(t > PAIR_MS + 200.0);
        for (i, (g, q)) in run(false, &steps).into_iter().enumerate() {
            let mut g = g;
            g.sort_unstable();
            assert_eq!((g, q), (vec![0, 1, 2], i as u64 + 1), "frame {i}");
        }
    }

    #[test]
    fn two_late_frames_make_the_groups_drawn_in_turn_until_the_hold_ends() {
        // Two frames 30 ms late in a row.
        let late = 16.7 + 30.0 + 30.0;
        let mut steps = vec![Frame(0.0), Frame(16.7), Frame(46.7), Frame(late)];
        // A publish and a frame every 16.7 ms until past the hold.
        let mut t = late;
        let mut seq = 0;
        let mut hold_frames = 0;
        while t < late + HOLD_MS + 50.0 {
            seq += 1;
            t += 16.7;
            steps.extend([Publish(seq, ALL_NEW), Frame(t)]);
            if t < late + HOLD_MS {
                hold_frames += 1;
            }
        }
        let drawn = run(false, &steps);
        // In turn through the hold: one group per frame, in order.
        for (i, (g, _)) in drawn[4..4 + hold_frames].iter().enumerate() {
            assert_eq!(g, &vec![i % GROUPS], "frame {i} of the hold");
        }
        // After it, every waiting group at once.
        let (mut last, shown) = drawn.last().cloned().unwrap_or_default();
        last.sort_unstable();
        assert_eq!((last, shown), (vec![0, 1, 2], seq));
    }

    /// Runs a catch-up: `script` gives, per task, the sections behind if a
    /// view is published before it (`None`: no view); returns the steps.
    fn catch_up(
        first: Vec<u8>,
        script: &[Option<Vec<u8>>],
        last_behind: &[u8],
    ) -> Vec<CatchUpStep<u8>> {
        let mut c = CatchUp::default();
        assert!(c.stale(|| first));
        let mut steps = Vec::new();
        for published in script {
            if let Some(behind) = published {
                assert!(!c.stale(|| behind.clone()), "no round starts during one");
            }
            steps.push(c.next(|_| true, || last_behind.to_vec()));
        }
        steps
    }

    #[test]
    fn sections_out_of_view_catch_up_one_per_task() {
        use CatchUpStep::{Done, Draw};
        assert_eq!(
            catch_up(vec![1, 2, 3], &[None, None, None, None], &[]),
            [Draw(3), Draw(2), Draw(1), Done]
        );
    }

    #[test]
    fn regression_a_view_published_during_a_catch_up_round_is_not_lost() {
        // Section 2 is drawn, then a view leaves it behind again: the
        // round's end starts another (the Online Retail replay's sales
        // panel kept an old total when the last view came mid-round).
        use CatchUpStep::{Again, Draw};
        assert_eq!(
            catch_up(vec![1, 2], &[None, Some(vec![1, 2]), None], &[2]),
            [Draw(2), Draw(1), Again]
        );
    }

    #[test]
    fn a_section_back_on_screen_is_skipped_by_the_catch_up() {
        let mut c = CatchUp::default();
        assert!(c.stale(|| vec![1, 2, 3]));
        assert_eq!(c.next(|p| p != 3, Vec::new), CatchUpStep::Draw(2));
        assert_eq!(c.next(|_| true, Vec::new), CatchUpStep::Draw(1));
        assert_eq!(c.next(|_| true, Vec::new), CatchUpStep::Done);
        assert!(c.stale(|| vec![1]), "a new round once the last one is done");
    }

    #[test]
    fn with_a_view_every_second_frame_or_less_late_frames_never_make_the_groups_drawn_in_turn() {
        for frames in [2, 3] {
            let mut s = Stagger::default();
            s.set_frames_per_view(frames);
            // Late frames in a row, each with a new view.
            let mut t = 0.0;
            s.frame(t, true);
            for seq in 1..10 {
                t += 40.0;
                s.frame(t, false);
                s.published(seq, ALL_NEW);
                assert!(!s.in_turn(t), "{frames} frames per view, view {seq}");
                let mut g = s.take(t);
                g.sort_unstable();
                assert_eq!((g, s.shown_seq()), (vec![0, 1, 2], seq));
            }
            // Back to a view every frame: the late frames seen count.
            s.set_frames_per_view(1);
            assert!(s.in_turn(t));
        }
    }

    #[test]
    fn a_view_that_changes_every_group_is_drawn_over_three_frames_in_turn() {
        check_in_turn(
            &[
                Publish(10, ALL_NEW),
                Frame(0.0),
                Frame(16.7),
                Frame(33.3),
                Frame(50.0),
            ],
            &[(&[0], 0), (&[1], 0), (&[2], 10), (&[], 10)],
        );
    }

    #[test]
    fn in_turn_at_most_one_group_per_frame_even_when_asked_twice_in_one() {
        check_in_turn(
            &[
                Publish(5, ALL_NEW),
                Frame(100.0),
                Frame(103.0),
                Frame(116.7),
            ],
            &[(&[0], 0), (&[], 0), (&[1], 0)],
        );
    }

    #[test]
    fn groups_that_already_show_the_view_count_as_drawn_without_a_frame() {
        check_in_turn(
            &[Publish(7, [true, false, true]), Frame(0.0), Frame(16.7)],
            &[(&[1], 7), (&[], 7)],
        );
    }

    #[test]
    fn in_turn_under_a_publish_every_frame_each_group_is_drawn_every_third_frame() {
        let mut steps = Vec::new();
        for i in 0..9_u32 {
            steps.push(Publish(u64::from(i + 1) * 100, ALL_NEW));
            steps.push(Frame(f64::from(i) * 16.7));
        }
        let drawn: Vec<_> = run(true, &steps).into_iter().map(|(g, _)| g).collect();
        let turn = [vec![0], vec![1], vec![2]];
        assert_eq!(drawn, [turn.clone(), turn.clone(), turn].concat());
    }

    #[test]
    fn in_turn_the_sequence_on_screen_is_the_oldest_groups() {
        // Group 0 draws seq 100, group 1 seq 200, group 2 seq 300: on
        // screen is 100 until group 0 is drawn again.
        check_in_turn(
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
            &[(&[0], 0), (&[1], 0), (&[2], 100), (&[0], 200), (&[1], 300)],
        );
    }

    #[test]
    fn a_group_that_went_back_to_what_it_shows_stops_waiting() {
        check_in_turn(
            &[
                Publish(1, ALL_NEW),
                Frame(0.0),
                Publish(2, [true, true, true]),
                Frame(16.7),
            ],
            &[(&[0], 0), (&[], 2)],
        );
    }

    proptest::proptest! {
        /// Against a naive model: after any publishes and frames (on time
        /// or late), every group is drawn within `GROUPS` frames of the
        /// last publish, and the sequence on screen never passes the latest
        /// published.
        #[test]
        fn every_group_catches_up_within_three_frames(
            ops in proptest::collection::vec(
                (0_u8..3, proptest::array::uniform3(proptest::bool::ANY)),
                0..60,
            ),
        ) {
            let mut s = Stagger::default();
            let mut t = 0.0;
            let mut seq = 0;
            let mut first = true;
            for (op, shows) in ops {
                if op == 0 {
                    seq += 1;
                    s.published(seq, shows);
                } else {
                    // 1: a frame on time; 2: a late one.
                    t += if op == 1 { 16.7 } else { 50.0 };
                    s.frame(t, first);
                    first = false;
                    let _ = s.take(t);
                }
                proptest::prop_assert!(s.shown_seq() <= seq);
            }
            for _ in 0..GROUPS {
                t += 16.7;
                s.frame(t, first);
                first = false;
                let _ = s.take(t);
            }
            proptest::prop_assert!(!s.waiting());
            proptest::prop_assert_eq!(s.shown_seq(), seq);
        }
    }
}
