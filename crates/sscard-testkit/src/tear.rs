//! Power-loss ("tear") testing: cut the power at every NVM write of a scenario and check
//! that the card comes back with each transaction's data old or new, never mixed.
//!
//! # Why
//!
//! A card loses power whenever it is pulled from the reader. LD/T 32 Part 7 §14 requires
//! the COS to back data up before each update and to restore a consistent state at the
//! next power-up without any terminal command; `sscard_core::nvm` does this with a redo
//! journal. This module checks the promise end to end, through APDUs, the way littlefs
//! checks its copy-on-write guarantee: its test runner counts block-device writes
//! (`bd/lfs_emubd.h`, `power_cycles`), cuts power at write *k*, reboots and re-checks,
//! for every *k* (the "exhaustive" power-loss schedule of `runners/test_runner.c`).
//! See `shared/spec/reliability.md` §A1.2 and §A1.4.
//!
//! # Method
//!
//! [`tear_every_write`] takes a card factory, a scenario of [`Step`]s and a domain
//! invariant:
//!
//! 1. **Clean run.** The scenario runs once on a fresh card behind a
//!    [`TearingNvm`] with no tear scheduled, counting NVM writes (*W*) and commits
//!    (*C*, counted by [`TearingNvm`] at the write of a journal body, at
//!    `nvm::JOURNAL_BODY_AT`, the first write of every commit). The final persistent image
//!    is kept.
//! 2. **Commit map.** For every write *k* < *W* the scenario is re-run on a fresh card
//!    with the power cut at write *k* in [`TearMode::Nothing`]. The commit counter at
//!    the cut says which commit write *k* belongs to. At the first write of commit *c*
//!    nothing of that commit has landed, so the raw image at the cut (before any
//!    recovery) is the persistent state *before* commit *c*. The state *after* commit
//!    *c* is the state before commit *c + 1*, or the final image for the last commit:
//!    every write `Store` makes belongs to a commit (journal body, commit record, home
//!    writes, journal erase), so nothing happens between two commits.
//! 3. **Tear runs.** For every write *k* and every [`TearMode`] (the torn write lands
//!    not at all, half, or completely) the scenario runs on a fresh card until the cut;
//!    the card must be mute from then on. Power comes back, `Card::power_on` runs the
//!    journal recovery, and the persistent image must equal the state before or after
//!    the torn commit. Then the caller's invariant runs on the recovered, powered card
//!    (read the data back through APDUs, check that try counters never went up, …).
//!
//! The persistent image is the whole NVM except the journal area
//! (`[JOURNAL_AT, JOURNAL_AT + JOURNAL_AREA_LEN)`), whose bytes are scratch space by
//! design. The scenario must be deterministic (seeded RNG, same card every time); a
//! run that does not reach write *k* is reported as an error rather than skipped.

use crate::{Violation, violation};
use sscard_host::link::LinkError;
use std::fmt;

use sscard_core::fs::layout::JOURNAL_AT;
use sscard_core::nvm::JOURNAL_BODY_AT;
use sscard_core::nvm::{JOURNAL_AREA_LEN, Nvm, NvmError, RamNvm, TearMode, TearingNvm};
use sscard_core::rng::{CardRng, SplitMixRng};
use sscard_core::{Applets, DfApplication};

use crate::snapshot::{self, SnapshotNvm};

/// The card type the harness drives: RAM-backed NVM behind a [`TearingNvm`].
///
/// `D` is the card's DF application: the social-security applications by default, the
/// PSAM for `tests/psam.rs`.
pub type TearCard<R, A = (), M = RamNvm<Vec<u8>>, D = sscard_ssc::SocialSecurity> =
    sscard_core::Card<TearingNvm<M>, R, A, D>;

/// A memory behind the [`TearingNvm`] whose raw bytes the harness compares.
pub trait TornMemory: Nvm {
    /// The raw contents.
    fn bytes(&self) -> &[u8];
}

impl TornMemory for RamNvm<Vec<u8>> {
    fn bytes(&self) -> &[u8] {
        RamNvm::bytes(self)
    }
}

/// The memory of [`tear_at_write`]'s card: RAM that notes the write at which each
/// commit starts and keeps a copy of itself at the start of one chosen commit, so one
/// run tells which commit a write belongs to and another gives the state before it
/// (rather than a torn run at each write of the commit).
///
/// Its memory comes from the thread's pool of [`SnapshotNvm`]s and goes back to it on
/// drop: the three cards of a tear point copy only what the runs wrote.
#[derive(Debug)]
pub struct CommitProbe {
    ram: SnapshotNvm,
    writes: u32,
    starts: Vec<u32>,
    keep_at: Option<usize>,
    kept: Option<Vec<u8>>,
}

impl CommitProbe {
    /// A probe over `image`, logging nothing yet.
    pub fn new(image: &'static [u8]) -> Self {
        CommitProbe {
            ram: snapshot::take(image),
            writes: 0,
            starts: Vec::new(),
            keep_at: None,
            kept: None,
        }
    }

    /// Starts the log afresh (writes and commits counted from now) and keeps the bytes
    /// as they are when commit `keep_at` starts.
    fn restart(&mut self, keep_at: Option<usize>) {
        self.writes = 0;
        self.starts.clear();
        self.keep_at = keep_at;
        self.kept = None;
    }
}

impl Nvm for CommitProbe {
    fn len(&self) -> usize {
        self.ram.len()
    }
    fn read(&self, addr: usize, buf: &mut [u8]) -> Result<(), NvmError> {
        self.ram.read(addr, buf)
    }
    fn write(&mut self, addr: usize, data: &[u8]) -> Result<(), NvmError> {
        if addr == JOURNAL_BODY_AT {
            // A commit starts (the journal body is its first write).
            if self.keep_at == Some(self.starts.len()) {
                self.kept = Some(self.ram.bytes().to_vec());
            }
            self.starts.push(self.writes);
        }
        self.writes = self.writes.saturating_add(1);
        self.ram.write(addr, data)
    }
}

impl Drop for CommitProbe {
    fn drop(&mut self) {
        snapshot::give_back(std::mem::take(&mut self.ram));
    }
}

impl TornMemory for CommitProbe {
    fn bytes(&self) -> &[u8] {
        self.ram.bytes()
    }
}

/// Every way the torn write can end, in the order the harness tries them.
pub const TEAR_MODES: [TearMode; 3] = [TearMode::Nothing, TearMode::FirstHalf, TearMode::Complete];

/// A torn scenario: the card after the cut and the step it was cut in.
type TornRun<R, A, M, D> = (TearCard<R, A, M, D>, usize);

/// Largest response a command can produce: an extended Le of 65536 bytes and the SW.
const RESPONSE_CAPACITY: usize = sscard_core::card::MAX_RESPONSE_CAPACITY;

/// One step of a tear scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this command APDU.
    Apdu(Vec<u8>),
    /// Power off and on again on the same interface (ends the session's transient state).
    PowerCycle,
}

/// Where the power was cut, and what the recovered card showed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TearPoint {
    /// Index of the torn NVM write, counted from the start of the scenario.
    pub write: u32,
    /// What the torn write left behind.
    pub mode: TearMode,
    /// Index of the scenario step during which the power was cut.
    pub step: usize,
    /// Index of the torn commit, counted from the start of the scenario.
    pub commit: u32,
    /// True if the recovered image is the state after the torn commit (its data
    /// landed); false if it is the state before. A commit that changes no byte counts
    /// as landed.
    pub landed: bool,
}

impl TearPoint {
    /// A tear whose outcome the recovery has not looked at yet (`landed` false).
    fn unresolved(write: u32, mode: TearMode, step: usize, commit: u32) -> Self {
        TearPoint {
            write,
            mode,
            step,
            commit,
            landed: false,
        }
    }
}

impl fmt::Display for TearPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tear at write {} ({:?}) in step {}, commit {}",
            self.write, self.mode, self.step, self.commit
        )
    }
}

/// Runs `scenario` with the power cut at every NVM write of its clean run, in every
/// [`TearMode`], and checks old-or-new after recovery (see the module docs for the
/// method). `make_card` must return the same card every time, powered or not (the
/// harness powers it on through its current interface). After each recovery
/// `invariant` gets the powered card and the tear point.
///
/// Returns the number of tear points checked (writes × modes), or the first failure.
pub fn tear_every_write<R, A, M, D>(
    make_card: impl Fn() -> TearCard<R, A, M, D>,
    scenario: &[Step],
    mut invariant: impl FnMut(&mut TearCard<R, A, M, D>, &TearPoint) -> Result<(), Violation>,
) -> Result<usize, Violation>
where
    R: CardRng,
    A: Applets,
    M: TornMemory,
    D: DfApplication,
{
    let mut out = vec![0u8; RESPONSE_CAPACITY];

    // 1. Clean run.
    let card = clean_run(&make_card, scenario, &mut out)?;
    let writes = card.store().nvm().writes();
    let commits = card.store().nvm().commits();
    let final_image = image(&card).to_vec();

    // 2. Commit map: which commit each write belongs to, and the state before each.
    let mut commit_of_write = Vec::new();
    let mut before_commit: Vec<Vec<u8>> = Vec::new();
    for k in 0..writes {
        let (card, step) = torn_run(&make_card, scenario, k, TearMode::Nothing, &mut out)?;
        let commit = torn_commit(&card, k, step)?;
        if commit as usize == before_commit.len() {
            before_commit.push(image(&card).to_vec());
        } else if commit as usize > before_commit.len() {
            return Err(violation!(
                "write {k} belongs to commit {commit} but commit {} made no write",
                before_commit.len()
            ));
        }
        commit_of_write.push(commit);
    }
    if before_commit.len() != commits as usize {
        return Err(violation!(
            "the clean run started {commits} commits but its writes belong to {}",
            before_commit.len()
        ));
    }
    let after_commit = |c: usize| before_commit.get(c + 1).unwrap_or(&final_image);

    // 3. Tear runs.
    let mut checked = 0;
    for mode in TEAR_MODES {
        for (k, &commit) in (0..writes).zip(&commit_of_write) {
            let (mut card, step) = torn_run(&make_card, scenario, k, mode, &mut out)?;
            if torn_commit(&card, k, step)? != commit {
                return Err(violation!(
                    "write {k} belongs to another commit from run to run: the scenario is \
                     not deterministic"
                ));
            }
            let before = before_commit
                .get(commit as usize)
                .ok_or("commit map out of range")?;
            let after = after_commit(commit as usize);
            let point = TearPoint::unresolved(k, mode, step, commit);
            let point = recover_old_or_new(&mut card, point, before, after)?;
            invariant(&mut card, &point).map_err(|e| format!("{point}: {e}"))?;
            checked += 1;
        }
    }
    Ok(checked)
}

/// One tear point instead of all of them: the power is cut at write `k` (taken modulo
/// the clean run's writes) in `mode`, the card recovers, and its persistent image must
/// be the state before or after the torn commit. The clean run's [`CommitProbe`] tells
/// where each commit starts; the torn run keeps the image at the start of the torn
/// commit (the state before it), and a second clean run the image at the start of the
/// next one (the state after it; for the last commit, the clean run's final image):
/// the same states as torn runs with nothing written at those writes. For fuzzing,
/// where the input picks the point. `Ok(None)` when the scenario writes nothing.
pub fn tear_at_write<R, A>(
    make_card: impl Fn() -> TearCard<R, A, CommitProbe>,
    scenario: &[Step],
    k: u32,
    mode: TearMode,
) -> Result<Option<TearPoint>, Violation>
where
    R: CardRng,
    A: Applets,
{
    let mut out = vec![0u8; RESPONSE_CAPACITY];
    let probed = |keep_at: Option<usize>, tear: Option<(u32, TearMode)>, out: &mut [u8]| {
        let mut card = powered(&make_card)?;
        let nvm = card.store_mut().nvm_mut();
        match tear {
            Some((k, mode)) => nvm.tear_at(k, mode),
            None => nvm.reset_counter(),
        }
        nvm.inner_mut().restart(keep_at);
        let torn = run(&mut card, scenario, out)?;
        Ok::<_, Violation>((card, torn))
    };
    let (clean, torn) = probed(None, None, &mut out)?;
    if let Some(step) = torn {
        return Err(violation!("the clean run lost power in step {step}"));
    }
    let writes = clean.store().nvm().writes();
    if writes == 0 {
        return Ok(None);
    }
    let k = k % writes;
    let starts = &clean.store().nvm().inner().starts;
    let commit = starts
        .iter()
        .rposition(|&start| start <= k)
        .ok_or_else(|| violation!("write {k} happened outside any commit"))?;
    let after = match starts.get(commit + 1) {
        Some(_) => {
            let (mut card, _) = probed(Some(commit + 1), None, &mut out)?;
            card.store_mut().nvm_mut().inner_mut().kept.take()
        }
        None => Some(image(&clean).to_vec()),
    }
    .ok_or(
        "the second clean run never started the next commit: the scenario is not deterministic",
    )?;
    let (mut card, step) = match probed(Some(commit), Some((k, mode)), &mut out)? {
        (card, Some(step)) => (card, step),
        (_, None) => {
            return Err(violation!(
                "write {k} of the clean run never happened: the scenario is not deterministic"
            ));
        }
    };
    let commit = u32::try_from(commit).map_err(|e| Violation(e.to_string()))?;
    if torn_commit(&card, k, step)? != commit {
        return Err(violation!(
            "write {k} belongs to another commit from run to run: the scenario is not \
             deterministic"
        ));
    }
    let before = card
        .store_mut()
        .nvm_mut()
        .inner_mut()
        .kept
        .take()
        .ok_or("no state before the torn commit")?;
    let point = TearPoint::unresolved(k, mode, step, commit);
    let point = recover_old_or_new(&mut card, point, &before, &after)?;
    // The recovered card works: it answers with a status word.
    let n = card.process(&[0x00, 0xA4, 0x00, 0x00, 0x02, 0x3F, 0x00], &mut out);
    if n < 2 {
        return Err(violation!("{point}: the recovered card does not answer"));
    }
    Ok(Some(point))
}

/// The scenario on a fresh card without a tear, counting from its start.
fn clean_run<R: CardRng, A: Applets, M: TornMemory, D: DfApplication>(
    make_card: &impl Fn() -> TearCard<R, A, M, D>,
    scenario: &[Step],
    out: &mut [u8],
) -> Result<TearCard<R, A, M, D>, Violation> {
    let mut card = powered(make_card)?;
    card.store_mut().nvm_mut().reset_counter();
    if let Some(step) = run(&mut card, scenario, out)? {
        return Err(violation!("the clean run lost power in step {step}"));
    }
    Ok(card)
}

/// Power back on the torn `card` (recovery runs), then its persistent image must be
/// `before` or `after` the torn commit; returns `point` with `landed` set.
fn recover_old_or_new<R: CardRng, A: Applets, M: TornMemory, D: DfApplication>(
    card: &mut TearCard<R, A, M, D>,
    mut point: TearPoint,
    before: &[u8],
    after: &[u8],
) -> Result<TearPoint, Violation> {
    let interface = card.interface();
    card.store_mut().nvm_mut().restore_power();
    card.power_on(interface).map_err(|e| {
        format!(
            "power-up after the tear at write {} failed: {e}",
            point.write
        )
    })?;
    let now = image(card);
    point.landed = same_persistent_state(now, after);
    if !point.landed && !same_persistent_state(now, before) {
        return Err(violation!(
            "{point}: the recovered image is neither old nor new (first difference from the \
             old state at {}, from the new state at {})",
            first_difference(now, before),
            first_difference(now, after)
        ));
    }
    Ok(point)
}

/// A fresh card from the factory, powered.
fn powered<R: CardRng, A: Applets, M: TornMemory, D: DfApplication>(
    make_card: &impl Fn() -> TearCard<R, A, M, D>,
) -> Result<TearCard<R, A, M, D>, Violation> {
    let mut card = make_card();
    if !card.is_powered() {
        let interface = card.interface();
        card.power_on(interface)
            .map_err(|e| format!("the fresh card does not power up: {e}"))?;
    }
    Ok(card)
}

/// Runs the scenario on a fresh card with the power cut at write `k`; returns the dead
/// card and the step in which the power went.
fn torn_run<R: CardRng, A: Applets, M: TornMemory, D: DfApplication>(
    make_card: &impl Fn() -> TearCard<R, A, M, D>,
    scenario: &[Step],
    k: u32,
    mode: TearMode,
    out: &mut [u8],
) -> Result<TornRun<R, A, M, D>, Violation> {
    let mut card = powered(make_card)?;
    card.store_mut().nvm_mut().tear_at(k, mode);
    match run(&mut card, scenario, out)? {
        Some(step) => Ok((card, step)),
        None => Err(violation!(
            "write {k} of the clean run never happened: the scenario is not deterministic"
        )),
    }
}

/// Index of the commit torn at write `k` (the hook counted it before its first write).
fn torn_commit<R: CardRng, A: Applets, M: TornMemory, D: DfApplication>(
    card: &TearCard<R, A, M, D>,
    k: u32,
    step: usize,
) -> Result<u32, Violation> {
    card.store()
        .nvm()
        .commits()
        .checked_sub(1)
        .ok_or_else(|| violation!("write {k} (step {step}) happened outside any commit"))
}

/// Runs the steps until the end or until the power is cut; returns the torn step.
fn run<R: CardRng, A: Applets, M: TornMemory, D: DfApplication>(
    card: &mut TearCard<R, A, M, D>,
    scenario: &[Step],
    out: &mut [u8],
) -> Result<Option<usize>, Violation> {
    for (i, step) in scenario.iter().enumerate() {
        match step {
            Step::Apdu(apdu) => {
                let n = card.process(apdu, out);
                if card.store().nvm().is_torn() {
                    // A card without power cannot answer.
                    return if n == 0 {
                        Ok(Some(i))
                    } else {
                        Err(violation!("step {i}: the card answered after losing power"))
                    };
                }
                if n < 2 {
                    return Err(violation!(
                        "step {i}: {n}-byte response from a powered card"
                    ));
                }
            }
            Step::PowerCycle => {
                let interface = card.interface();
                card.power_off();
                if let Err(e) = card.power_on(interface) {
                    return if card.store().nvm().is_torn() {
                        Ok(Some(i))
                    } else {
                        Err(violation!("step {i}: power-up failed: {e}"))
                    };
                }
            }
        }
    }
    Ok(None)
}

/// The raw NVM bytes.
fn image<R: CardRng, A: Applets, M: TornMemory, D: DfApplication>(
    card: &TearCard<R, A, M, D>,
) -> &[u8] {
    card.store().nvm().inner().bytes()
}

/// The journal area is scratch space: it differs between runs without meaning anything.
fn journal_area() -> std::ops::Range<usize> {
    JOURNAL_AT..JOURNAL_AT + JOURNAL_AREA_LEN
}

/// Equal outside the journal area (compared as slices: this runs on every fuzz
/// execution of `tear_session`).
fn same_persistent_state(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && outside_journal(a) == outside_journal(b)
}

/// The bytes of an image before and after the journal area.
fn outside_journal(image: &[u8]) -> (&[u8], &[u8]) {
    let journal = journal_area();
    (
        image.get(..journal.start).unwrap_or(image),
        image.get(journal.end..).unwrap_or_default(),
    )
}

/// Describes the first persistent address where `a` and `b` differ.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let journal = journal_area();
    let hit = a
        .iter()
        .zip(b)
        .enumerate()
        .find(|(at, (x, y))| x != y && !journal.contains(at));
    match hit {
        Some((at, (x, y))) => format!("{at:#06x} ({x:02X} vs {y:02X})"),
        None if a.len() != b.len() => "the image length".to_string(),
        None => "nowhere".to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_area_is_ignored_and_the_rest_is_not() {
        let a = vec![0u8; JOURNAL_AT + JOURNAL_AREA_LEN + 8];
        let mut b = a.clone();
        b[JOURNAL_AT] = 1;
        b[JOURNAL_AT + JOURNAL_AREA_LEN - 1] = 1;
        assert!(same_persistent_state(&a, &b));
        b[JOURNAL_AT + JOURNAL_AREA_LEN] = 1;
        assert!(!same_persistent_state(&a, &b));
        assert_eq!(
            first_difference(&a, &b),
            format!("{:#06x} (00 vs 01)", JOURNAL_AT + JOURNAL_AREA_LEN)
        );
        b[JOURNAL_AT - 1] = 2;
        assert_eq!(
            first_difference(&a, &b),
            format!("{:#06x} (00 vs 02)", JOURNAL_AT - 1)
        );
    }

    #[test]
    fn one_tear_point_agrees_with_the_exhaustive_harness() {
        // A wrong PIN (a try-counter commit), a power cycle, and a PIN change (counter
        // and PIN in one commit): commits of different sizes, every write torn.
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let scenario = [
            Step::Apdu(hex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")),
            Step::Apdu(hex("0020000003999999")),
            Step::PowerCycle,
            Step::Apdu(hex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")),
            Step::Apdu(hex("805E00000703123456FF654321")),
        ];
        let mut seen = Vec::new();
        let checked = tear_every_write(tear_sample_card, &scenario, |_, point| {
            seen.push(*point);
            Ok(())
        })
        .unwrap();
        assert!(checked >= 6, "{checked} tear points");
        for point in &seen {
            let one = tear_at_write(probed_tear_card, &scenario, point.write, point.mode)
                .unwrap()
                .unwrap();
            assert_eq!(one, *point);
        }
        // Past the last write: taken modulo the writes.
        let wrapped = tear_at_write(
            probed_tear_card,
            &scenario,
            seen.iter().map(|p| p.write).max().unwrap() + 1,
            TearMode::Complete,
        )
        .unwrap()
        .unwrap();
        assert_eq!(wrapped.write, 0);
    }
}

/// A fresh gen-3 card with the PBOC applet behind a [`TearingNvm`]
/// (no tear scheduled), powered on the contact interface: the tear harness's card.
pub fn tear_sample_card() -> TearCard<SplitMixRng, (sscard_pboc::PbocApplet,)> {
    crate::sample::pboc_card_over(sscard_core::nvm::TearingNvm::new(RamNvm::new(
        crate::sample::sample_image().to_vec(),
    )))
}

/// [`tear_sample_card`] over a [`CommitProbe`]: the card of
/// [`tear_at_write`].
pub fn probed_tear_card() -> TearCard<SplitMixRng, (sscard_pboc::PbocApplet,), CommitProbe> {
    crate::sample::pboc_card_over(sscard_core::nvm::TearingNvm::new(CommitProbe::new(
        crate::sample::sample_image(),
    )))
}

/// A card of `profile` behind a [`TearingNvm`] (no tear scheduled), with the PBOC applet
/// and the profile's spec choices, its randomness seeded with `seed`: the card
/// [`tear_script`] tears. Unpowered.
pub fn tear_card_from_profile(
    profile: &sscard_host::profile::Profile,
    seed: u64,
) -> Result<TearCard<SplitMixRng, (sscard_pboc::PbocApplet,)>, Violation> {
    let image = profile.image().map_err(|e| Violation(e.to_string()))?;
    sscard_core::Card::load(
        TearingNvm::new(RamNvm::new(image)),
        SplitMixRng::new(seed),
        (sscard_pboc::PbocApplet::new(),),
        profile.applications(),
        profile.options(),
    )
    .map_err(|e| Violation(e.to_string()))
}

/// Records what a script sends to a tear card (on the contact interface), so that the
/// harness can replay it: every APDU, and a power cycle for `reset` / `power-off` +
/// `power-on`.
struct Recorder<R: CardRng, A: Applets> {
    card: TearCard<R, A>,
    steps: Vec<Step>,
    out: Vec<u8>,
}

impl<R: CardRng, A: Applets> sscard_host::link::CardLink for Recorder<R, A> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, LinkError> {
        self.steps.push(Step::Apdu(apdu.to_vec()));
        let n = self.card.process(apdu, &mut self.out);
        Ok(self.out.get(..n).unwrap_or(&[]).to_vec())
    }
    fn reset(&mut self) -> Result<Vec<u8>, LinkError> {
        self.steps.push(Step::PowerCycle);
        self.card
            .reset()
            .map(<[u8]>::to_vec)
            .map_err(LinkError::Memory)
    }
    fn power_off(&mut self) -> Result<(), LinkError> {
        self.card.power_off();
        Ok(())
    }
    fn power_on(&mut self) -> Result<Vec<u8>, LinkError> {
        self.steps.push(Step::PowerCycle);
        let interface = self.card.interface();
        self.card
            .power_on(interface)
            .map(<[u8]>::to_vec)
            .map_err(LinkError::Memory)
    }
    fn set_interface(&mut self, _: sscard_core::Interface) -> Result<(), LinkError> {
        Err(LinkError::Unsupported(
            "the tear harness runs scripts on the contact interface only",
        ))
    }
    fn atr(&mut self) -> Result<Vec<u8>, LinkError> {
        Ok(self.card.atr().to_vec())
    }
}

/// Tears `script` at every NVM write of every step: the script runs once on a card of
/// `profile` (it must pass: its expected responses are checked), then the APDUs it sent
/// (GET RESPONSE and resends included) are replayed by [`tear_every_write`] with the
/// power cut at each write, in each [`TearMode`]; after recovery the memory must be old
/// or new. The card's randomness is seeded, so challenges, and the cryptograms the
/// script computed from them, repeat on every replay. Returns the tear points checked.
pub fn tear_script(
    profile: &sscard_host::profile::Profile,
    script: &sscard_host::script::Script,
) -> Result<usize, Violation> {
    const SEED: u64 = 0x7EA2;
    let mut card = tear_card_from_profile(profile, SEED)?;
    card.power_on(sscard_core::Interface::Contact)
        .map_err(|e| Violation(e.to_string()))?;
    let mut recorder = Recorder {
        card,
        steps: Vec::new(),
        out: vec![0u8; RESPONSE_CAPACITY],
    };
    let outcome = sscard_host::script::run(script, &mut recorder, false, &mut |_| {});
    if !outcome.passed() {
        return Err(violation!(
            "{} fails before any tear: {:?}",
            script.name(),
            outcome.failures
        ));
    }
    let make = || match tear_card_from_profile(profile, SEED) {
        Ok(card) => card,
        // The same profile loaded a moment ago.
        Err(e) => unreachable!("{e}"),
    };
    tear_every_write(make, &recorder.steps, |_, _| Ok(()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod script_tests {
    use super::*;

    #[test]
    fn a_script_with_a_pin_change_is_torn_at_every_write() {
        let profile = sscard_host::profile::Profile::default_gen3();
        let text = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF00 => 61XX | 9000\n\
                    0020000003123456 => 9000\n\
                    805E0100071234 56FF 654321 => 9000\n\
                    0020000003654321 => 9000\n";
        let script = sscard_host::script::Script::parse(text, None).unwrap();
        let points = tear_script(&profile, &script).unwrap();
        // Each VERIFY and the CHANGE PIN write; three modes per write.
        assert!(points >= 3 * 3, "{points}");
        assert_eq!(points % 3, 0);
    }

    #[test]
    fn a_script_that_fails_cleanly_is_reported_not_torn() {
        let profile = sscard_host::profile::Profile::default_gen3();
        let script =
            sscard_host::script::Script::parse("0020000003999999 => 9000\n", None).unwrap();
        assert!(
            tear_script(&profile, &script)
                .unwrap_err()
                .0
                .contains("fails before any tear")
        );
    }
}
