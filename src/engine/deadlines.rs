//! Lazy deadlines: one entity's many timeouts behind a single armed timer.
//!
//! Most timeouts never fire: the thing they guard ends long before. Sending one event per
//! timeout fills the pending-event set with dead timers (and costs a push and a pop each).
//! A [`Deadlines`] list keeps an entity's deadlines itself, ordered by (deadline, order of
//! adding), and asks for a timer only when the earliest deadline moves earlier than the one
//! armed. When the timer fires, the owner takes every due entry, skips entries whose guarded
//! thing has already ended, and arms one timer for the first entry still alive.
//!
//! Everything depends only on the owner's own sequence of calls, so the order is the same
//! on every executor and for every partitioning. Entries that fall due at the same time come
//! out in the order they were added, as self-sent timers with rising send counters would.

use std::collections::VecDeque;

/// One pending deadline: when, its place in the order of adding, and the owner's two words.
type Entry = (u64, u64, u32, u32);

/// Deadlines added with one span (deadline minus the time of adding), oldest first. An
/// owner adds as time goes on, so each lane is sorted by deadline by construction: adding is
/// a push at the back and taking the earliest a pop at the front.
#[derive(Debug)]
struct Lane {
    span: u64,
    q: VecDeque<Entry>,
}

/// Lanes kept apart by span; deadlines of further spans share the last lane, sorted in.
const MAX_LANES: usize = 8;

/// An entity's pending deadlines, each carrying two words (a slot and its generation).
#[derive(Debug)]
pub struct Deadlines {
    lanes: Vec<Lane>,
    added: u64,
    len: usize,
    /// The time of the timer the owner must treat as live; `u64::MAX` when none is.
    armed: u64,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            lanes: Vec::new(),
            added: 0,
            len: 0,
            armed: u64::MAX,
        }
    }
}

impl Deadlines {
    /// Adds a deadline at `at`, at time `now`, carrying `(a, b)`. Returns the time at which
    /// the owner must arm a timer, if the armed one (if any) comes later than `at`.
    #[inline]
    pub fn add(&mut self, now: u64, at: u64, a: u32, b: u32) -> Option<u64> {
        let span = at.saturating_sub(now);
        let entry = (at, self.added, a, b);
        self.added += 1;
        self.len += 1;
        let i = match self.lanes.iter().position(|l| l.span == span) {
            Some(i) => i,
            None if self.lanes.len() < MAX_LANES => {
                self.lanes.push(Lane {
                    span,
                    q: VecDeque::new(),
                });
                self.lanes.len() - 1
            }
            None => MAX_LANES - 1,
        };
        let q = &mut self.lanes[i].q;
        match q.back() {
            Some(last) if (last.0, last.1) > (entry.0, entry.1) => {
                let at_ = q.partition_point(|e| (e.0, e.1) < (entry.0, entry.1));
                q.insert(at_, entry);
            }
            _ => q.push_back(entry),
        }
        if at < self.armed {
            self.armed = at;
            Some(at)
        } else {
            None
        }
    }

    /// A timer armed by this list fired at `now`. Returns false for a timer that was
    /// superseded by an earlier one (the owner then ignores it); true otherwise, and the
    /// owner then takes the due entries with [`pop_due`](Self::pop_due) and calls
    /// [`rearm`](Self::rearm).
    #[inline]
    pub fn fire(&mut self, now: u64) -> bool {
        if now != self.armed {
            return false;
        }
        self.armed = u64::MAX;
        true
    }

    /// The lane whose front is the earliest entry, and that entry.
    #[inline]
    fn first(&self) -> Option<(usize, Entry)> {
        let mut best: Option<(usize, Entry)> = None;
        for (i, l) in self.lanes.iter().enumerate() {
            if let Some(&e) = l.q.front() {
                if best.is_none_or(|(_, b)| (e.0, e.1) < (b.0, b.1)) {
                    best = Some((i, e));
                }
            }
        }
        best
    }

    /// Removes and returns the earliest entry if its deadline is at or before `now`.
    #[inline]
    pub fn pop_due(&mut self, now: u64) -> Option<(u32, u32)> {
        match self.first() {
            Some((i, e)) if e.0 <= now => {
                self.lanes[i].q.pop_front();
                self.len -= 1;
                Some((e.2, e.3))
            }
            _ => None,
        }
    }

    /// Drops the entries in front that `alive` says are over, then returns the time at which
    /// the owner must arm a timer for the first live one, if no timer at or before it is
    /// armed already.
    #[inline]
    pub fn rearm(&mut self, mut alive: impl FnMut(u32, u32) -> bool) -> Option<u64> {
        // Dead fronts go first, lane by lane: whatever is left in front is alive.
        for l in &mut self.lanes {
            while let Some(&(_, _, a, b)) = l.q.front() {
                if alive(a, b) {
                    break;
                }
                l.q.pop_front();
                self.len -= 1;
            }
        }
        let (_, e) = self.first()?;
        if e.0 < self.armed {
            self.armed = e.0;
            Some(e.0)
        } else {
            None
        }
    }

    /// Entries held (live or not yet skipped).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::below;
    use std::collections::{BTreeMap, BTreeSet};

    /// Drives a list as its owner would, against eager timers: a model event loop of
    /// call starts, early call ends and armed timers, in time order. Every call still open
    /// at its deadline must time out exactly then, in (deadline, order added) order, and no
    /// open call may be missed; far fewer timers than calls may be armed.
    #[test]
    fn fires_like_eager_timers_but_arms_fewer() {
        // One call site: a timer per several calls at most.
        let (sent, calls) = drive(&[1000], false);
        assert!(sent * 5 < calls, "{sent} timers for {calls} deadlines");
        // Several, and now and then one of many others (more than the list keeps lanes
        // for): shorter deadlines behind longer ones need timers of their own.
        let (sent, calls) = drive(&[100, 100, 100, 40, 1000], true);
        assert!(sent * 4 < calls * 3, "{sent} timers for {calls} deadlines");
    }

    /// Runs the model loop with call timeouts drawn from `spans` (and from many more when
    /// `many`); returns the timers armed and the calls made.
    fn drive(spans: &[u64], many: bool) -> (u64, u64) {
        let mut rng = crate::engine::rng::entity_stream(7, 1);
        let mut d = Deadlines::default();
        // Pending model events: (time, class, n): class 0 = a call ends early (slot n),
        // 1 = a timer fires (send order n), 2 = the next call starts.
        let mut events: BTreeSet<(u64, u8, u64)> = BTreeSet::new();
        let mut sent = 0u64;
        let mut open: BTreeMap<u32, u64> = BTreeMap::new(); // slot -> deadline
        let mut timed_out: Vec<(u64, u32)> = Vec::new();
        let mut expect: Vec<(u64, u32)> = Vec::new();
        let mut calls = 0u32;
        events.insert((0, 2, 0));
        while let Some((now, class, n)) = events.pop_first() {
            match class {
                0 => {
                    open.remove(&(n as u32));
                }
                1 => {
                    if d.fire(now) {
                        while let Some((slot, _)) = d.pop_due(now) {
                            if let Some(dl) = open.remove(&slot) {
                                assert_eq!(dl, now, "slot {slot} fired at {now}, deadline {dl}");
                                timed_out.push((now, slot));
                            }
                        }
                        if let Some(at) = d.rearm(|slot, _| open.contains_key(&slot)) {
                            assert!(at > now);
                            events.insert((at, 1, sent));
                            sent += 1;
                        }
                    }
                }
                _ => {
                    let timeout = if many && below(&mut rng, 8) == 0 {
                        5 + 10 * below(&mut rng, 20)
                    } else {
                        spans[below(&mut rng, spans.len() as u64) as usize]
                    };
                    let slot = calls;
                    calls += 1;
                    open.insert(slot, now + timeout);
                    if let Some(at) = d.add(now, now + timeout, slot, 0) {
                        events.insert((at, 1, sent));
                        sent += 1;
                    }
                    if below(&mut rng, 10) != 0 {
                        // Nine calls in ten end long before their deadline.
                        events.insert((now + below(&mut rng, 4), 0, u64::from(slot)));
                    } else {
                        expect.push((now + timeout, slot));
                    }
                    if calls < 20_000 {
                        events.insert((now + below(&mut rng, 50), 2, 0));
                    }
                }
            }
        }
        assert!(open.is_empty(), "open calls never timed out: {open:?}");
        expect.sort();
        let first_diff = timed_out.iter().zip(&expect).position(|(a, b)| a != b);
        assert!(
            timed_out.len() == expect.len() && first_diff.is_none(),
            "{} timed out, {} expected, first difference at {first_diff:?}",
            timed_out.len(),
            expect.len()
        );
        (sent, u64::from(calls))
    }

    #[test]
    fn superseded_timer_is_ignored_and_ties_keep_order() {
        let mut d = Deadlines::default();
        assert_eq!(d.add(0, 100, 1, 0), Some(100));
        assert_eq!(d.add(0, 100, 2, 0), None);
        assert_eq!(d.add(10, 50, 3, 0), Some(50));
        assert!(d.fire(50));
        assert_eq!(d.pop_due(50), Some((3, 0)));
        assert_eq!(d.pop_due(50), None);
        assert_eq!(d.rearm(|_, _| true), Some(100));
        // The first timer at 100 and the re-armed one: one is served, the other ignored.
        assert!(d.fire(100));
        assert_eq!(d.pop_due(100), Some((1, 0)));
        assert_eq!(d.pop_due(100), Some((2, 0)));
        assert_eq!(d.rearm(|_, _| true), None);
        assert!(!d.fire(100));
        assert!(d.is_empty());
    }
}
