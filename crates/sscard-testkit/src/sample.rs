//! The default third-generation card, personalized once per process, for fuzzing,
//! property tests and benchmarks. Not a stable API.

use std::sync::OnceLock;

use crate::snapshot::SnapshotNvm;
use sscard_core::fs::build::{Capacities, Personalizer};
use sscard_core::nvm::RamNvm;
use sscard_core::rng::SplitMixRng;
use sscard_core::{Card, CosOptions, Interface};
use sscard_ssc::SscCard;

use sscard_host::profile::Profile;

/// The SSSE DDF name "sx1.sh.社会保障" (GBK), spec/ssc.md §2.1.
pub const SSSE_NAME: &[u8] = &sscard_ssc::layout::SSSE_NAME;

/// The commands the round-trip benches time (PC/SC, C ABI; the C and Python benches
/// use the same labels), as each prints it. READ RECORD by SFI and the PIN query need
/// the SSSE selected; SELECT MF comes last.
pub const ROUND_TRIP_WORKLOADS: [(&str, &[u8]); 3] = [
    (
        "READ RECORD EF05/1 (00B2012C12)",
        &[0x00, 0xB2, 0x01, 0x2C, 0x12],
    ),
    ("VERIFY query (0020000000)", &[0x00, 0x20, 0x00, 0x00]),
    (
        "SELECT MF (00A4000C023F00)",
        &[0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00],
    ),
];

/// The default profile, parsed once per process.
pub fn default_profile() -> &'static Profile {
    static PROFILE: OnceLock<Profile> = OnceLock::new();
    PROFILE.get_or_init(Profile::default_gen3)
}

/// The personalized NVM image of the default gen-3 profile (built once per process).
pub fn sample_image() -> &'static [u8] {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    IMAGE.get_or_init(|| match default_profile().image() {
        Ok(image) => image,
        // The built-in profile is validated by its own tests.
        Err(e) => unreachable!("default profile: {e}"),
    })
}

/// A fresh default card with the profile's spec choices, powered on the contact interface.
pub fn sample_card() -> SscCard<RamNvm<Vec<u8>>, SplitMixRng> {
    sample_card_with(default_profile().options())
}

/// A fresh default card with other spec choices, powered on the contact interface.
pub fn sample_card_with(options: CosOptions) -> SscCard<RamNvm<Vec<u8>>, SplitMixRng> {
    card_over(RamNvm::new(sample_image().to_vec()), (), options)
}

/// A fresh gen-3 card with the PBOC applet, powered on the contact interface.
pub fn pboc_sample_card() -> SscCard<RamNvm<Vec<u8>>, SplitMixRng, (sscard_pboc::PbocApplet,)> {
    pboc_card_over(RamNvm::new(sample_image().to_vec()))
}

/// A fresh default card with `applets` over a memory reused from an earlier run of this
/// thread ([`crate::snapshot`]): the same card as [`sample_card`] (or
/// [`pboc_sample_card`]), without copying the whole image. Give the memory back with
/// `snapshot::give_back(card.into_nvm())`.
pub fn snapshot_card<A: sscard_core::Applets>(applets: A) -> SscCard<SnapshotNvm, SplitMixRng, A> {
    card_over(
        crate::snapshot::take(sample_image()),
        applets,
        default_profile().options(),
    )
}

/// A fresh default card over `nvm` (holding the sample image) with `applets`, powered on
/// the contact interface.
pub fn card_over<N: sscard_core::nvm::Nvm, A: sscard_core::Applets>(
    nvm: N,
    applets: A,
    options: CosOptions,
) -> SscCard<N, SplitMixRng, A> {
    let mut card = match Card::load(
        nvm,
        SplitMixRng::new(0x5EED),
        applets,
        default_profile().applications(),
        options,
    ) {
        Ok(card) => card,
        Err(e) => unreachable!("default image: {e}"),
    };
    // A RAM card powers up without fail; a failure would show as a mute card.
    let _ = card.power_on(Interface::Contact);
    card
}

/// The default card with the PBOC applet over `nvm` (holding the sample image), powered
/// on the contact interface.
pub fn pboc_card_over<N: sscard_core::nvm::Nvm>(
    nvm: N,
) -> SscCard<N, SplitMixRng, (sscard_pboc::PbocApplet,)> {
    card_over(
        nvm,
        (sscard_pboc::PbocApplet::new(),),
        default_profile().options(),
    )
}

/// The PBOC-only card: the `[pboc]` section of `vectors/profiles/pboc-default.toml`
/// personalized alone on a formatted 64 KiB card with the default ATR (no
/// social-security files), for the PBOC tests and benches.
pub fn pboc_only_image() -> Vec<u8> {
    const PROFILE: &str = include_str!("../../../vectors/profiles/pboc-default.toml");
    #[derive(serde::Deserialize)]
    struct File {
        pboc: sscard_pboc::profile::PbocSection,
    }
    let built = toml::from_str::<File>(PROFILE)
        .map_err(|e| e.to_string())
        .and_then(|file| file.pboc.build().map_err(|e| e.to_string()));
    let profile = match built {
        Ok(profile) => profile,
        Err(e) => unreachable!("pboc-default.toml is validated by its own tests: {e}"),
    };
    let mut nvm = RamNvm::new(vec![0u8; 64 * 1024]);
    let atr = default_profile().atr().to_vec();
    let personalized = Personalizer::format(&mut nvm, Capacities::default(), &atr)
        .map_err(|e| e.to_string())
        .and_then(|mut p| {
            profile.personalize(&mut p).map_err(|e| e.to_string())?;
            p.finish().map_err(|e| e.to_string())
        });
    if let Err(e) = personalized {
        unreachable!("the PBOC-only card fits its memory: {e}");
    }
    nvm.into_inner()
}
