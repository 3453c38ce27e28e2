//! Pausing the live view without losing events.
//!
//! While paused, frames keep arriving: `hello`, `heartbeat` and `error` are
//! handled at once (they do not touch the engine), while `snapshot`,
//! `events` and `gap` frames queue here, in order, and apply on resume. The
//! published view stays frozen meanwhile.
//!
//! - Events already queued (or applied) are trimmed from later frames, so a
//!   reconnect while paused, which resumes from [`PauseQueue::resume_point`],
//!   does not queue anything twice.
//! - Bounded: at most [`MAX_QUEUED_EVENTS`] events. Beyond, later frames are
//!   dropped and the queue is marked *overflowed*; on resume the dashboard
//!   applies what it holds and reconnects with a resume point, so the
//!   gateway's history sends the rest (or a gap and a snapshot, said so).
//!   Nothing is lost silently.

use std::collections::VecDeque;

use shoppulse_core::frame::{covered_last_seq, event_seq, ResumePoint, ServerFrame};

/// Events held while paused at most.
pub const MAX_QUEUED_EVENTS: u64 = 200_000;

/// One held frame.
#[derive(Debug)]
pub enum Queued {
    /// A parsed text frame (or a `bin1` frame as its JSON equivalent).
    Frame(ServerFrame),
    /// A whole `snap1` binary snapshot, decoded when it applies.
    Snap1(Vec<u8>),
}

/// Frames held while paused.
#[derive(Debug, Default)]
pub struct PauseQueue {
    frames: VecDeque<Queued>,
    events: u64,
    overflowed: bool,
    resume: Option<ResumePoint>,
}

impl PauseQueue {
    /// Events held.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Frames were dropped because the queue was full.
    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Where the stream stands counting what is queued (for a `hello`
    /// while paused), when anything is queued.
    pub fn resume_point(&self) -> Option<&ResumePoint> {
        self.resume.as_ref()
    }

    /// Queues a frame that changes the engine. `applied` is the session's
    /// resume point (what the engine holds).
    pub fn push(&mut self, frame: ServerFrame, applied: Option<&ResumePoint>) {
        match frame {
            ServerFrame::Events {
                epoch,
                first_seq,
                sent_ms,
                mut events,
                seqs,
                last_seq,
            } => {
                let covered = covered_last_seq(first_seq, events.len(), seqs.as_deref(), last_seq);
                let known = self.resume.as_ref().or(applied);
                // Start after what is queued or applied (events numbered
                // `first_seq + i`, or `seqs[i]` on a filtered stream).
                let from = match known {
                    Some(r) if r.epoch == epoch => first_seq.max(r.seq + 1),
                    _ => first_seq,
                };
                if covered < from || self.overflowed {
                    return;
                }
                let skip = (0..events.len())
                    .take_while(|&i| event_seq(first_seq, seqs.as_deref(), i) < from)
                    .count();
                let n = (events.len() - skip) as u64;
                if self.events + n > MAX_QUEUED_EVENTS {
                    self.overflowed = true;
                    return;
                }
                events.drain(..skip);
                let seqs = seqs.map(|mut s| {
                    s.drain(..skip);
                    s
                });
                self.events += n;
                self.resume = Some(ResumePoint {
                    epoch: epoch.clone(),
                    seq: covered,
                });
                self.frames.push_back(Queued::Frame(ServerFrame::Events {
                    epoch,
                    first_seq: from,
                    sent_ms,
                    events,
                    seqs,
                    last_seq,
                }));
            }
            ServerFrame::Snapshot { epoch, seq, state } => {
                let frame = Queued::Frame(ServerFrame::Snapshot {
                    epoch: epoch.clone(),
                    seq,
                    state,
                });
                self.push_snapshot(frame, epoch, seq);
            }
            other => self.frames.push_back(Queued::Frame(other)),
        }
    }

    /// Queues a `snap1` snapshot whose header says `epoch` and `seq`.
    pub fn push_snap1(&mut self, bytes: Vec<u8>, epoch: String, seq: u64) {
        self.push_snapshot(Queued::Snap1(bytes), epoch, seq);
    }

    fn push_snapshot(&mut self, snapshot: Queued, epoch: String, seq: u64) {
        if self.overflowed {
            return;
        }
        // A snapshot replaces everything before it.
        self.frames
            .retain(|f| matches!(f, Queued::Frame(ServerFrame::Gap { .. })));
        self.events = 0;
        self.resume = Some(ResumePoint { epoch, seq });
        self.frames.push_back(snapshot);
    }

    /// Takes everything queued, in order; returns the frames and whether the
    /// queue overflowed.
    pub fn take(&mut self) -> (Vec<Queued>, bool) {
        let frames = self.frames.drain(..).collect();
        let overflowed = std::mem::take(&mut self.overflowed);
        self.events = 0;
        self.resume = None;
        (frames, overflowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shoppulse_core::frame::encode_events_frame;

    const INV: &str = r#"{"kind":"inventory","ts":1000,"product":101,"quantity":5}"#;

    fn events(first: u64, n: usize) -> ServerFrame {
        ServerFrame::parse(&encode_events_frame("e1", first, 0, vec![INV; n])).unwrap()
    }

    fn rp(seq: u64) -> ResumePoint {
        ResumePoint {
            epoch: "e1".into(),
            seq,
        }
    }

    #[test]
    fn queues_in_order_without_duplicates() {
        let mut q = PauseQueue::default();
        q.push(events(1, 3), Some(&rp(1)));
        assert_eq!(q.events(), 2, "seq 1 was already applied");
        q.push(events(2, 4), Some(&rp(1)));
        assert_eq!(q.events(), 4, "2..=3 queued already, 4..=5 new");
        assert_eq!(q.resume_point(), Some(&rp(5)));
        let (frames, over) = q.take();
        assert!(!over);
        assert_eq!(frames.len(), 2);
        assert!(
            matches!(&frames[1], Queued::Frame(ServerFrame::Events { first_seq: 4, events, .. }) if events.len() == 2)
        );
        assert_eq!(q.events(), 0);
        assert_eq!(q.resume_point(), None);
    }

    #[test]
    fn filtered_frames_queue_their_own_seqs_and_coverage() {
        use shoppulse_core::frame::encode_events_frame_with_seqs;
        let filtered = |first, last, seqs: &[u64]| {
            let text =
                encode_events_frame_with_seqs("e1", first, last, 0, seqs, vec![INV; seqs.len()]);
            ServerFrame::parse(&text).unwrap()
        };
        let mut q = PauseQueue::default();
        q.push(filtered(11, 20, &[13, 18]), Some(&rp(10)));
        assert_eq!(q.events(), 2);
        assert_eq!(q.resume_point(), Some(&rp(20)), "the covered range counts");
        // A watermark moves the point on; an overlapping frame adds only 25.
        q.push(filtered(21, 22, &[]), None);
        q.push(filtered(15, 25, &[18, 25]), None);
        assert_eq!(q.events(), 3);
        assert_eq!(q.resume_point(), Some(&rp(25)));
        let (frames, _) = q.take();
        assert!(matches!(
            &frames[2],
            Queued::Frame(ServerFrame::Events { first_seq: 23, seqs: Some(s), last_seq: Some(25), .. }) if s == &[25]
        ));
    }

    #[test]
    fn a_snap1_snapshot_replaces_what_is_queued_before_it() {
        let mut q = PauseQueue::default();
        q.push(events(1, 3), None);
        q.push_snap1(b"SPS1 stand-in".to_vec(), "e1".into(), 40);
        assert_eq!(q.events(), 0);
        assert_eq!(q.resume_point(), Some(&rp(40)));
        q.push(events(39, 4), None);
        assert_eq!(q.events(), 2, "41 and 42 only");
        let (frames, _) = q.take();
        assert!(matches!(&frames[0], Queued::Snap1(b) if b.starts_with(b"SPS1")));
        assert!(matches!(
            &frames[1],
            Queued::Frame(ServerFrame::Events { first_seq: 41, .. })
        ));
    }

    #[test]
    fn overflow_is_flagged_not_silent() {
        let mut q = PauseQueue::default();
        let big = usize::try_from(MAX_QUEUED_EVENTS).unwrap();
        q.push(events(1, big), None);
        assert!(!q.overflowed());
        q.push(events(big as u64 + 1, 1), None);
        assert!(q.overflowed());
        assert_eq!(q.events(), MAX_QUEUED_EVENTS);
        let (_, over) = q.take();
        assert!(over);
    }
}
