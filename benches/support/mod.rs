//! What the benches share: the default gen-3 card and the `iReadCardBas` flow as the
//! exact APDU sequence a terminal sends, with the terminal's cryptograms computed
//! outside the card.
//!
//! The flow is recorded once by running the real terminal code
//! ([`sscard_host::national::read_card_bas`]) against a card; replaying it needs one fresh
//! value per flow, the EXTERNAL AUTHENTICATE cryptogram over the card's GET CHALLENGE
//! value. The card's RNG is the deterministic [`SplitMixRng`], so a second
//! `SplitMixRng` with the same seed ([`Flow::predictor`]) predicts every challenge and
//! the cryptogram is computed before the timed section ([`Flow::external_authenticate`]).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::OnceLock;

use sscard_core::crypto::ssc::{auth_data, card_factor, city_factor, diversify_path, session_key};
use sscard_core::crypto::{Algorithm, CardKey, ct_eq};
use sscard_core::nvm::RamNvm;
use sscard_core::rng::{CardRng, SplitMixRng};
use sscard_core::{Card, CosOptions, Interface};
use sscard_host::link::{CardLink, InProcess, LinkError};
use sscard_host::national::read_card_bas;
use sscard_host::profile::{Profile, hex};
use sscard_host::security::{Hsm, HsmKeys};
use sscard_host::terminal::Terminal;
use sscard_testkit::sample::sample_image;

/// The benches' card: the default gen-3 image in a `Vec`, the deterministic RNG.
pub type BenchCard = sscard_ssc::SscCard<RamNvm<Vec<u8>>, SplitMixRng>;

/// A powered default gen-3 card (contact interface, the profile's options) whose RNG
/// starts from `seed`.
pub fn card(seed: u64) -> BenchCard {
    static OPTIONS: OnceLock<CosOptions> = OnceLock::new();
    card_with(
        seed,
        *OPTIONS.get_or_init(|| Profile::default_gen3().options()),
    )
}

/// [`card`] with other spec choices.
pub fn card_with(seed: u64, options: CosOptions) -> BenchCard {
    let mut card = Card::load(
        RamNvm::new(sample_image().to_vec()),
        SplitMixRng::new(seed),
        (),
        sscard_ssc::SocialSecurity::default(),
        options,
    )
    .expect("default image loads");
    card.power_on(Interface::Contact)
        .expect("RAM card powers on");
    card
}

/// The default profile's root keys, as the terminal's HSM holds them.
pub fn hsm_keys() -> HsmKeys {
    let p = Profile::default_gen3();
    HsmKeys {
        irk: hex("irk", &p.toml.keys.irk).unwrap(),
        rk: hex("rk", &p.toml.keys.rk).unwrap(),
        card_level: false,
    }
}

/// A transport that records every command the terminal sends.
struct Recorder {
    inner: InProcess<RamNvm<Vec<u8>>, SplitMixRng, ()>,
    sent: Vec<Vec<u8>>,
    received: Vec<Vec<u8>>,
}

impl CardLink for Recorder {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, LinkError> {
        self.sent.push(apdu.to_vec());
        let r = self.inner.transmit(apdu)?;
        self.received.push(r.clone());
        Ok(r)
    }
    fn atr(&mut self) -> Result<Vec<u8>, LinkError> {
        self.inner.atr()
    }
    fn power_on(&mut self) -> Result<Vec<u8>, LinkError> {
        self.inner.power_on()
    }
    fn power_off(&mut self) -> Result<(), LinkError> {
        self.inner.power_off()
    }
    fn reset(&mut self) -> Result<Vec<u8>, LinkError> {
        self.inner.reset()
    }
    fn set_interface(&mut self, interface: Interface) -> Result<(), LinkError> {
        self.inner.set_interface(interface)
    }
}

/// The terminal's random P in EXTERNAL AUTHENTICATE (fixed: any value works).
const TERMINAL_P: [u8; 8] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];

/// The `iReadCardBas` flow as the APDUs a PC/SC terminal sends (T=0 GET RESPONSEs
/// included), plus what the terminal needs to answer the card's challenge.
pub struct Flow {
    /// Every command of one flow, in order.
    pub apdus: Vec<Vec<u8>>,
    /// The card's answers in the recording.
    pub responses: Vec<Vec<u8>>,
    /// Index of GET CHALLENGE in `apdus`.
    pub get_challenge: usize,
    /// Index of EXTERNAL AUTHENTICATE in `apdus` (replaced per flow).
    pub external: usize,
    /// Index of INTERNAL AUTHENTICATE in `apdus`.
    pub internal: usize,
    alg: Algorithm,
    rk: CardKey,
    keys: HsmKeys,
    factors: [[u8; 8]; 2],
    seed: u64,
    options: CosOptions,
}

impl Flow {
    /// Records the flow by running the terminal code against a card seeded `seed` that
    /// answers a short `Le = 00` with `6Cxx` (`le_zero = exact`), so the terminal resends:
    /// the 22-APDU flow the README figures are measured on.
    pub fn record(seed: u64) -> Flow {
        Flow::record_with(
            seed,
            CosOptions {
                le_zero: sscard_core::options::LeZero::ExactLength,
                ..Profile::default_gen3().options()
            },
        )
    }

    /// [`Flow::record`] on a card with other spec choices.
    pub fn record_with(seed: u64, options: CosOptions) -> Flow {
        let keys = hsm_keys();
        let mut t = Terminal::new(Recorder {
            inner: InProcess::new(card_with(seed, options), Interface::Contact).unwrap(),
            sent: vec![],
            received: vec![],
        });
        let mut trng = SplitMixRng::new(0x7E57);
        let bas = read_card_bas(&mut t, &mut Hsm::from(&keys), &mut |b| trng.fill(b))
            .expect("iReadCardBas");
        assert!(bas.spec_version.starts_with("3."), "a gen-3 flow");
        let (apdus, responses) = (t.link.sent, t.link.received);
        let at = |ins: u8| {
            apdus
                .iter()
                .position(|a| a[1] == ins)
                .expect("command in flow")
        };
        let (get_challenge, external, internal) = (at(0x84), at(0x82), at(0x88));

        let atr = card(seed).atr().to_vec();
        let hist = sscard_core::atr::historical_bytes(&atr).unwrap();
        let area = Profile::default_gen3().area_code();
        let factors = [city_factor(&area).unwrap(), card_factor(hist).unwrap()];
        let alg = Profile::default_gen3().algorithm();
        let rk = diversify_path(alg, &keys.rk, &factors).unwrap();
        Flow {
            apdus,
            responses,
            get_challenge,
            external,
            internal,
            alg,
            rk,
            keys,
            factors,
            seed,
            options,
        }
    }

    /// A fresh card for replaying: the same image, RNG seeded like [`Flow::predictor`].
    pub fn card(&self) -> BenchCard {
        card_with(self.seed, self.options)
    }

    /// The generator that predicts the challenges of [`Flow::card`]: one
    /// `fill(&mut [u8; 8])` per flow (GET CHALLENGE is the flow's only use of the RNG).
    pub fn predictor(&self) -> SplitMixRng {
        SplitMixRng::new(self.seed)
    }

    /// EXTERNAL AUTHENTICATE with RKSSSE (key 0A) answering `challenge`: the terminal's
    /// work (session key from the diversified RK, authentication data over P).
    pub fn external_authenticate(&self, challenge: &[u8]) -> [u8; 21] {
        external_apdu(self.alg, &self.rk, challenge)
    }

    /// The card side of one flow: every APDU, with `external` as EXTERNAL AUTHENTICATE.
    /// Returns the EXTERNAL AUTHENTICATE status word (9000 when the prediction held).
    #[inline]
    pub fn run(&self, card: &mut BenchCard, external: &[u8], out: &mut [u8]) -> u16 {
        let mut sw = 0;
        for (i, apdu) in self.apdus.iter().enumerate() {
            if i == self.external {
                let n = card.process(external, out);
                sw = u16::from_be_bytes([out[n - 2], out[n - 1]]);
            } else {
                card.process(apdu, out);
            }
        }
        sw
    }

    /// One flow with the terminal's own crypto inside: the HSM diversifies IRK and RK
    /// for this card, checks the INTERNAL AUTHENTICATE answer and computes EXTERNAL
    /// AUTHENTICATE from the challenge the card returns. Returns that command's SW.
    pub fn run_with_terminal(&self, card: &mut BenchCard, out: &mut [u8]) -> u16 {
        let irk = diversify_path(self.alg, &self.keys.irk, &self.factors).unwrap();
        let rk = diversify_path(self.alg, &self.keys.rk, &self.factors).unwrap();
        let mut challenge = [0u8; 8];
        let mut sw = 0;
        for (i, apdu) in self.apdus.iter().enumerate() {
            if i == self.external {
                let ext = external_apdu(self.alg, &rk, &challenge);
                let n = card.process(&ext, out);
                sw = u16::from_be_bytes([out[n - 2], out[n - 1]]);
                continue;
            }
            let n = card.process(apdu, out);
            if i == self.get_challenge {
                challenge.copy_from_slice(&out[..8]);
            } else if i == self.internal + 1 {
                // The GET RESPONSE after INTERNAL AUTHENTICATE carries the card's answer.
                let r = &self.apdus[self.internal][5..21];
                let sk = session_key(self.alg, irk.as_bytes(), &r[..8]).unwrap();
                let expected = auth_data(&sk.cipher(), r[8..].try_into().unwrap());
                assert!(ct_eq(&expected, &out[..n - 2]), "card not genuine");
            }
        }
        sw
    }
}

fn external_apdu(alg: Algorithm, rk: &CardKey, challenge: &[u8]) -> [u8; 21] {
    let sk = session_key(alg, rk.as_bytes(), challenge).unwrap();
    let mut apdu = [0u8; 21];
    apdu[..5].copy_from_slice(&[0x00, 0x82, 0x00, 0x0A, 0x10]);
    apdu[5..13].copy_from_slice(&auth_data(&sk.cipher(), &TERMINAL_P));
    apdu[13..].copy_from_slice(&TERMINAL_P);
    apdu
}

/// Checks the replay against the recording: the same responses (the T=0 `61xx` and
/// `6Cxx` answers included), challenges as predicted, and EXTERNAL AUTHENTICATE
/// accepted, for `flows` flows in a row.
pub fn check_replay(flow: &Flow, flows: usize) {
    let mut card = flow.card();
    let mut predictor = flow.predictor();
    let mut out = vec![0u8; 65_538];
    for _ in 0..flows {
        let mut challenge = [0u8; 8];
        predictor.fill(&mut challenge);
        let ext = flow.external_authenticate(&challenge);
        for (i, apdu) in flow.apdus.iter().enumerate() {
            let apdu: &[u8] = if i == flow.external { &ext } else { apdu };
            let n = card.process(apdu, &mut out);
            if i == flow.get_challenge {
                assert_eq!(
                    &out[..n],
                    &[&challenge[..], &[0x90, 0x00]].concat(),
                    "challenge"
                );
            } else {
                assert_eq!(&out[..n], &flow.responses[i][..], "step {i}");
            }
        }
    }
}
