//! The PSAM's fuzz check (target `psam_session`): a session in the format of
//! [`crate::fuzz_checks::split_session`] played against the default PSAM
//! (`Profile::psam` of the default profile), with the oracles of the card sessions that
//! apply to it:
//!
//! * **a status word**: while powered every APDU gets data ‖ SW1 SW2 with SW1 `61`–`6F`
//!   or `90`–`9F`; while unpowered, nothing;
//! * **secrets**: no response of a PSAM command holds a stored key (the PSAM's own keys
//!   or a root): READ BINARY / READ RECORD / GET RESPONSE answers are left out, since
//!   under `cfg(fuzzing)` every authentication passes and the fuzzer may write any bytes
//!   into a file and read them back;
//! * **persistence**: at every power cycle the PSAM is reloaded from a copy of its
//!   memory (and of its random source) and the rest of the session must get the same
//!   answers from both.

use crate::fuzz_checks::{Event, session_events};
use crate::sample::default_profile;
use crate::{Violation, violation};
use sscard_core::nvm::RamNvm;
use sscard_core::rng::SplitMixRng;
use sscard_core::{Card, CosOptions, Interface};
use sscard_host::psam::PsamImage;
use sscard_psam::perso::{TEST_DES_KEYS, TEST_SM4_KEYS};
use sscard_psam::{Psam, PsamCard};
use std::sync::OnceLock;

type FuzzPsam = PsamCard<RamNvm<Vec<u8>>, SplitMixRng>;

/// The default PSAM, made once per process.
pub fn default_psam() -> Result<&'static PsamImage, Violation> {
    static IMAGE: OnceLock<Result<PsamImage, Violation>> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            default_profile()
                .psam()
                .map_err(|e| Violation(e.to_string()))
        })
        .as_ref()
        .map_err(|e| violation!("the default profile's PSAM: {e}"))
}

/// Every key value the default PSAM stores.
fn secrets() -> &'static [Vec<u8>] {
    static SECRETS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SECRETS.get_or_init(|| {
        let mut all: Vec<Vec<u8>> = default_profile()
            .secrets()
            .into_iter()
            .filter(|(field, value)| field.starts_with("keys") && value.len() >= 8)
            .map(|(_, value)| value.to_vec())
            .collect();
        for own in [TEST_DES_KEYS, TEST_SM4_KEYS] {
            for key in [own.ddf_master, own.adf_master].into_iter().chain(own.auth) {
                all.push(key.to_vec());
            }
        }
        all
    })
}

fn load(image: Vec<u8>, rng: SplitMixRng, interface: Interface) -> Result<FuzzPsam, Violation> {
    let mut psam = Card::load(
        RamNvm::new(image),
        rng,
        (),
        Psam::new(default_psam()?.options),
        CosOptions::default(),
    )
    .map_err(|e| format!("load: {e}"))?;
    psam.power_on(interface)
        .map_err(|e| format!("power on: {e}"))?;
    Ok(psam)
}

fn exchange(psam: &mut FuzzPsam, apdu: &[u8], out: &mut [u8]) -> Vec<u8> {
    let n = psam.process(apdu, out);
    out.get(..n).unwrap_or_default().to_vec()
}

fn check_response(apdu: &[u8], powered: bool, response: &[u8]) -> Result<(), Violation> {
    let hex = crate::exchange::to_hex;
    if !powered {
        return if response.is_empty() {
            Ok(())
        } else {
            Err(violation!(
                "unpowered PSAM answered {} to {}",
                hex(response),
                hex(apdu)
            ))
        };
    }
    match response {
        [.., 0x61..=0x6F | 0x90..=0x9F, _] => {}
        _ => {
            return Err(violation!(
                "no status word for {}: {}",
                hex(apdu),
                hex(response)
            ));
        }
    }
    let echoes_files = matches!(apdu.get(1), Some(0xB0 | 0xB2 | 0xC0));
    if !echoes_files
        && let Some(key) = secrets()
            .iter()
            .find(|key| response.windows(key.len()).any(|w| w == key.as_slice()))
    {
        return Err(violation!("{} gave away the key {}", hex(apdu), hex(key)));
    }
    Ok(())
}

/// Plays `data` against a fresh default PSAM with the oracles of the module docs.
pub fn psam_session(data: &[u8]) -> Result<(), Violation> {
    let mut psam = load(
        default_psam()?.image.clone(),
        SplitMixRng::new(0x5A),
        Interface::Contact,
    )?;
    let mut twin: Option<FuzzPsam> = None;
    // Two 64 KiB response buffers per run cost more than the run: the thread keeps them.
    thread_local! {
        static OUT: std::cell::RefCell<(Vec<u8>, Vec<u8>)> =
            std::cell::RefCell::new((vec![0u8; 65_538], vec![0u8; 65_538]));
    }
    OUT.with(|buffers| {
        let (out, out_twin) = &mut *buffers.borrow_mut();
        play_psam(data, &mut psam, &mut twin, out, out_twin)
    })
}

/// The events of `data` on `psam` and, after a power cycle, on its reloaded `twin`.
fn play_psam(
    data: &[u8],
    psam: &mut FuzzPsam,
    twin: &mut Option<FuzzPsam>,
    out: &mut [u8],
    out_twin: &mut [u8],
) -> Result<(), Violation> {
    for event in session_events(data) {
        match event {
            Event::Apdu(apdu) => {
                let powered = psam.is_powered();
                let response = exchange(psam, apdu, out);
                check_response(apdu, powered, &response)?;
                if let Some(t) = twin.as_mut() {
                    let again = exchange(t, apdu, out_twin);
                    if again != response {
                        return Err(violation!(
                            "reloaded PSAM answered {} instead of {} to {}",
                            crate::exchange::to_hex(&again),
                            crate::exchange::to_hex(&response),
                            crate::exchange::to_hex(apdu)
                        ));
                    }
                }
            }
            Event::PowerCycle(interface) => {
                psam.power_off();
                psam.power_on(interface)
                    .map_err(|e| format!("power on: {e}"))?;
                let image = psam.store().nvm().bytes().to_vec();
                *twin = Some(load(image, psam.rng().clone(), interface)?);
            }
            Event::PowerOff => {
                psam.power_off();
                if let Some(t) = twin.as_mut() {
                    t.power_off();
                }
            }
        }
    }
    Ok(())
}
