//! A rate schedule for resumed history (`--resume-pace`), so a benchmark can
//! offer a dashboard a known number of events per second from pre-encoded
//! frames, far above what the live sources (`/ingest` tops out near 100k
//! events/s on a 2-core machine, as it decodes and applies every event) can
//! offer.
//!
//! A schedule is a list of steps `RATE:SECONDS` (events per second for so
//! many seconds; rate 0 is a pause). Time starts when the resumed frames are
//! ready to go; a frame of `n` events leaves when the schedule has allowed
//! every event up to its last. Events beyond the schedule's total leave as
//! fast as the socket takes them. A client that cannot keep up holds the
//! sender back (the socket's back-pressure): it falls behind the schedule,
//! which is what the benchmark measures.

use std::time::Duration;

/// One step: `rate` events per second for `secs` seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    /// Events per second (0: a pause).
    pub rate: f64,
    /// Length of the step, seconds.
    pub secs: f64,
}

/// A schedule of [`Step`]s.
#[derive(Clone, Debug, PartialEq)]
pub struct Pace {
    steps: Vec<Step>,
}

impl Pace {
    /// Parses `RATE:SECONDS[,RATE:SECONDS...]`, e.g. `0:2,10000:6,50000:4`.
    ///
    /// # Errors
    /// A clear message for an empty schedule, a step without `:`, or a rate
    /// or length that is not a finite number >= 0 (a length must be > 0).
    pub fn parse(s: &str) -> Result<Pace, String> {
        let mut steps = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (rate, secs) = part
                .split_once(':')
                .ok_or_else(|| format!("step {part:?}: expected RATE:SECONDS"))?;
            let num = |what: &str, v: &str| -> Result<f64, String> {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| format!("step {part:?}: {what} {v:?} is not a number >= 0"))
            };
            let step = Step {
                rate: num("rate", rate)?,
                secs: num("length", secs)?,
            };
            if step.secs <= 0.0 {
                return Err(format!("step {part:?}: the length must be > 0 seconds"));
            }
            steps.push(step);
        }
        if steps.is_empty() {
            return Err("an empty schedule: expected RATE:SECONDS[,RATE:SECONDS...]".into());
        }
        Ok(Pace { steps })
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Events the whole schedule allows.
    pub fn total(&self) -> u64 {
        let sum: f64 = self.steps.iter().map(|s| s.rate * s.secs).sum();
        // reason: a sum of finite, non-negative products; floor is the events allowed.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let total = sum.floor() as u64;
        total
    }

    /// When (from the schedule's start) the schedule has allowed `events`
    /// events in all; `None` when `events` is beyond the schedule (no more
    /// waiting).
    pub fn due(&self, events: u64) -> Option<Duration> {
        // reason: event counts far below 2^52, exact in f64.
        #[allow(clippy::cast_precision_loss)]
        let mut left = events as f64;
        let mut at = 0.0;
        if left <= 0.0 {
            return Some(Duration::ZERO);
        }
        for s in &self.steps {
            let here = s.rate * s.secs;
            if here >= left {
                return Some(Duration::from_secs_f64(at + left / s.rate));
            }
            left -= here;
            at += s.secs;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(d: Option<Duration>) -> Option<u128> {
        d.map(|d| d.as_millis())
    }

    #[test]
    fn parses_steps_and_refuses_bad_ones_with_a_reason() {
        let p = Pace::parse("0:2, 10000:6,50000:0.5").unwrap();
        assert_eq!(
            p.steps(),
            &[
                Step {
                    rate: 0.0,
                    secs: 2.0
                },
                Step {
                    rate: 10_000.0,
                    secs: 6.0
                },
                Step {
                    rate: 50_000.0,
                    secs: 0.5
                }
            ]
        );
        assert_eq!(p.total(), 85_000);
        for (bad, says) in [
            ("", "empty"),
            ("10000", "RATE:SECONDS"),
            ("x:1", "rate"),
            ("10:-1", "length"),
            ("10:0", "> 0"),
            ("inf:1", "rate"),
            ("NaN:1", "rate"),
        ] {
            let e = Pace::parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad:?} -> {e}");
        }
    }

    #[test]
    fn a_frame_is_due_when_the_schedule_allowed_its_last_event() {
        let p = Pace::parse("0:2,1000:1,0:1,10000:1").unwrap();
        assert_eq!(ms(p.due(0)), Some(0));
        // The pause first: the first event is due just after 2 s.
        assert_eq!(ms(p.due(1)), Some(2001));
        assert_eq!(ms(p.due(500)), Some(2500));
        assert_eq!(ms(p.due(1000)), Some(3000));
        // The next pause, then 10 events per ms.
        assert_eq!(ms(p.due(1001)), Some(4000));
        assert_eq!(ms(p.due(6000)), Some(4500));
        assert_eq!(ms(p.due(11_000)), Some(5000));
        // Beyond the schedule: no waiting.
        assert_eq!(p.due(11_001), None);
    }

    #[test]
    fn due_never_goes_back_in_time() {
        let p = Pace::parse("10:0.5,0:0.25,1000:2,7:3,250000:1").unwrap();
        let mut last = Duration::ZERO;
        for n in 0..=p.total() {
            let d = p.due(n).unwrap();
            assert!(d >= last, "due({n}) = {d:?} < {last:?}");
            last = d;
        }
        assert_eq!(p.due(p.total() + 1), None);
    }
}
