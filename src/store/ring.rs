//! The history ring of one check (`History` results). The newest result is kept whole:
//! the plugin JSON, the actions and the metrics read it on every run. The older ones
//! are kept as the durable store's compact record (`durable::encode_result`) and
//! decoded when the history is read (`GET /plugins/{name}`, a reload, tests), so a
//! kept result costs about its output text plus a few dozen bytes of keys and
//! numbers, not a `CheckResult` with its strings, message lists and captured streams
//! (issue 18: that was about 0.6 kB per result on the heap).
//!
//! Older results lose their captured stdout/stderr here; nothing renders them from
//! memory (the runs API reads them from the durable store).

use std::{collections::VecDeque, sync::Arc};

use super::durable::{decode_result, encode_result, encode_result_without_messages};
use crate::check::{CheckResult, Messages};

/// An older result: its run id and its stored record.
#[derive(Debug)]
struct Kept {
    run_id: u64,
    /// The record leaves out `messages` because they are the output's lines
    /// ([`derived_messages`]), as for most plugins: that halves a short result.
    derived: bool,
    record: Box<[u8]>,
}

impl Kept {
    fn of(result: &CheckResult) -> Kept {
        let derived = result.messages.is_some() && result.messages == derived_messages(result);
        let record = if derived {
            encode_result_without_messages(result)
        } else {
            encode_result(result)
        };
        Kept {
            run_id: result.run_id,
            derived,
            record: record.into_boxed_slice(),
        }
    }

    fn read(&self, check: &str) -> Option<CheckResult> {
        let mut result = decode_result(check, self.run_id, &self.record)?;
        if self.derived {
            result.messages = derived_messages(&result);
        }
        Some(result)
    }
}

/// The messages a plugin's output makes (`runner`): each non-empty line of the output
/// and the long output at the result's level.
fn derived_messages(result: &CheckResult) -> Option<Messages> {
    let mut messages = Messages::default();
    messages.add_lines(result.state, &result.output);
    if let Some(long) = &result.long_output {
        messages.add_lines(result.state, long);
    }
    (!messages.is_empty()).then_some(messages)
}

/// The newest result whole, the older ones encoded; at most `keep` in all.
#[derive(Debug, Default)]
pub(super) struct Ring {
    newest: Option<Arc<CheckResult>>,
    /// Oldest first.
    older: VecDeque<Kept>,
}

impl Ring {
    pub(super) fn len(&self) -> usize {
        self.older.len() + usize::from(self.newest.is_some())
    }

    pub(super) fn newest(&self) -> Option<Arc<CheckResult>> {
        self.newest.clone()
    }

    /// Appends `result` as the newest and drops the oldest beyond `keep` (at least 1).
    /// Returns the result that was the newest before.
    pub(super) fn push(
        &mut self,
        result: Arc<CheckResult>,
        keep: usize,
    ) -> Option<Arc<CheckResult>> {
        let previous = self.newest.replace(result);
        let keep_older = keep.max(1) - 1;
        if let Some(previous) = previous.as_ref().filter(|_| keep_older > 0) {
            // Make room first: a full ring never grows its slots to push.
            self.drop_oldest(keep_older - 1);
            self.reserve(keep_older);
            self.older.push_back(Kept::of(previous));
        }
        self.trim(keep);
        previous
    }

    /// Grows the ring's slots by doubling but never past `keep_older`, so a full ring
    /// holds no spare slots.
    fn reserve(&mut self, keep_older: usize) {
        let len = self.older.len();
        if len < self.older.capacity() || len >= keep_older {
            return;
        }
        let want = keep_older.min((len * 2).max(4));
        self.older.reserve_exact(want - len);
    }

    /// Drops the oldest results beyond `keep` (at least 1).
    pub(super) fn trim(&mut self, keep: usize) {
        let keep_older = keep.max(1) - 1;
        self.drop_oldest(keep_older);
        if self.older.capacity() > keep_older.max(4) {
            // `History` was lowered.
            self.older.shrink_to(keep_older);
        }
    }

    /// Drops the oldest older results beyond `keep_older`.
    fn drop_oldest(&mut self, keep_older: usize) {
        if self.older.len() > keep_older {
            self.older.drain(..self.older.len() - keep_older);
        }
    }

    /// Every result, oldest first; `check` names the check if a record cannot be read.
    pub(super) fn to_vec(&self, check: &str) -> Vec<Arc<CheckResult>> {
        let mut all = Vec::with_capacity(self.len());
        all.extend(
            self.older
                .iter()
                .filter_map(|kept| kept.read(check))
                .map(Arc::new),
        );
        all.extend(self.newest.clone());
        all
    }

    /// Bytes the older results hold on the heap (their records and slots).
    #[cfg(test)]
    pub(super) fn older_bytes(&self) -> usize {
        self.older.capacity() * std::mem::size_of::<Kept>()
            + self.older.iter().map(|k| k.record.len()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::Local;
    use indexmap::IndexMap;
    use smoker_compat::output::PerfDatum;

    use super::*;
    use crate::{
        check::{ComponentResult, State},
        render,
    };

    /// A plugin's result as the runner makes it: output, its message line, its stream.
    fn plain(n: u64, output: &str) -> CheckResult {
        let mut r = CheckResult::synthetic(State::Ok, output, Local::now());
        r.exit_code = Some(0);
        r.duration = Duration::from_micros(1234 + n);
        r.stdout = Arc::from(format!("{output}\n"));
        r.run_id = n;
        r
    }

    /// Every field the API shows set to something.
    fn rich(n: u64) -> CheckResult {
        let mut r = plain(n, &format!("DISK WARNING - {n}% free"));
        r.state = State::Warning;
        r.long_output = Some("line 2\nline 3".into());
        r.perfdata = vec![PerfDatum {
            label: "/".into(),
            value: Some(91.5),
            uom: "%".into(),
            warn: Some("80".into()),
            crit: Some("90".into()),
            min: Some(0.0),
            max: None,
            text: "/=91.5%;80;90;0".into(),
            in_long_output: false,
        }];
        let mut messages = Messages::default();
        messages.add_lines(State::Warning, "w1\nw2");
        messages.add_lines(State::Critical, "e1");
        let mut components = IndexMap::new();
        components.insert(
            "part".to_string(),
            ComponentResult {
                state: State::Critical,
                messages: Some(messages.clone()),
            },
        );
        r.messages = Some(messages);
        r.component_results = Some(components);
        r.action = Some(Box::new(CheckResult::synthetic(
            State::Critical,
            "nsca: refused",
            Local::now(),
        )));
        r.signal = Some(9);
        r.forced = true;
        r.truncated = true;
        r.catch_up = true;
        r.timed_out = true;
        r
    }

    #[test]
    fn older_results_read_back_as_recorded_without_their_streams() {
        let mut ring = Ring::default();
        let mut long = plain(6, "DISK OK");
        long.long_output = Some("/ 10%\n\n  /var 20%".into());
        long.messages = derived_messages(&long);
        let mut empty = plain(7, "");
        empty.messages = None;
        let mut reordered = plain(8, "OK");
        reordered
            .messages
            .as_mut()
            .expect("messages")
            .info
            .push("extra".into());
        let recorded: Vec<Arc<CheckResult>> = (1..=5)
            .map(|n| if n % 2 == 0 { rich(n) } else { plain(n, "OK") })
            .chain([long, reordered, empty])
            .map(Arc::new)
            .collect();
        for r in &recorded {
            ring.push(r.clone(), 10);
        }
        let history = ring.to_vec("c");
        assert_eq!(history.len(), 8);
        let derived: Vec<bool> = ring.older.iter().map(|k| k.derived).collect();
        assert_eq!(derived, [true, false, true, false, true, true, false]);
        for (read, original) in history.iter().zip(&recorded) {
            assert_eq!(read.run_id, original.run_id);
            // The API shows exactly what it showed before the result was compacted.
            assert_eq!(render::result(read, true), render::result(original, true));
            assert_eq!(render::result(read, false), render::result(original, false));
            let mut expected = (**original).clone();
            if !Arc::ptr_eq(read, original) {
                expected.stdout = Arc::from("");
                expected.stderr = Arc::from("");
            }
            assert_eq!(**read, expected);
        }
        assert!(
            Arc::ptr_eq(&history[7], &recorded[7]),
            "the newest is whole"
        );
        assert_eq!(&*history[7].stdout, "\n");
    }

    #[test]
    fn the_ring_keeps_the_last_history_results() {
        let mut ring = Ring::default();
        let mut previous = None;
        for n in 1..=7 {
            let r = Arc::new(plain(n, &format!("run {n}")));
            let before = ring.push(r.clone(), 3);
            assert_eq!(before.map(|b| b.run_id), previous);
            previous = Some(n);
        }
        let ids = |ring: &Ring| -> Vec<u64> { ring.to_vec("c").iter().map(|r| r.run_id).collect() };
        assert_eq!(ids(&ring), [5, 6, 7]);
        assert_eq!(ring.older.capacity(), 2, "a full ring holds no spare slots");
        let mut big = Ring::default();
        for n in 1..=300 {
            big.push(Arc::new(plain(n, "OK")), 100);
            assert!(big.older.capacity() <= 99, "{n}: {}", big.older.capacity());
        }
        assert_eq!(big.older.capacity(), 99, "a full ring holds no spare slots");
        ring.trim(1);
        assert_eq!(ids(&ring), [7]);
        ring.push(Arc::new(plain(8, "run 8")), 1);
        assert_eq!(ids(&ring), [8]);
        assert_eq!(ring.len(), 1);
        // `History: 0` keeps the newest, as before.
        ring.push(Arc::new(plain(9, "run 9")), 0);
        assert_eq!(ids(&ring), [9]);
    }

    /// Issue 18: a kept result costs at most about 400 bytes beyond its output text.
    /// Counted here: its record and its slot in the ring, plus glibc's 16-byte chunk
    /// header per allocation (`scripts/bench` row 12 measures the daemon's RSS).
    #[test]
    fn a_kept_result_costs_its_output_text_plus_less_than_400_bytes() {
        let output = "OK - all fine here, value 0042 within limits";
        let mut ring = Ring::default();
        for n in 1..=100 {
            ring.push(Arc::new(plain(n, output)), 100);
        }
        assert_eq!(ring.older.len(), 99);
        let per_result = ring.older_bytes() / 99 + 16;
        let beyond = per_result - output.len();
        eprintln!("{per_result} bytes per kept result, {beyond} beyond its output");
        assert!(beyond <= 400, "{per_result} bytes per kept result");
        // The figure the issue measured on main (about 0.6 kB of heap per result) is
        // what a whole `CheckResult` costs; the record is several times smaller.
        let whole = std::mem::size_of::<CheckResult>() + output.len() * 3 + 96;
        assert!(per_result * 2 < whole, "{per_result} vs {whole}");
    }
}
