//! The PSAM that goes with a card profile (`[psam]`, optional): a social-security PSAM
//! (`sscard_psam`) holding the roots the profile's card keys are diversified from, at
//! root level 2 (provincial, the profile's roots as they are) or 3 (city: the roots
//! diversified once with the city factor), so that PSAM-mode external authentications
//! and purchases work against the profile's card out of the box (LD/T 32 P9 §8).
//!
//! Level 1 (national roots) cannot be derived: no national root diversifies into a given
//! provincial one; a PSAM with national roots is built with `sscard_psam::perso`
//! directly, with a card personalized from their province-level children.
//!
//! Key ids (P9 TA1, spec choice): the card's DDF-level keys (IRK, STK, UK, BK, PUK,
//! RKSSSE, in that order) take `08`+i (national), `10`+i (provincial) or `18`+i (city);
//! its DF keys `82`–`85` of DF01, DF02, DF03, DF04, DF07 (DF slot 0–4) take
//! `20`/`40`/`80` plus 4 × slot plus (id − `82`); DPK is the medical-purchase key of
//! version 1. STK keys are of type MAC, the others of type encryption (P9 TB1).

use crate::profile::{Profile, ProfileError, PsamToml, cn};
use sscard_core::crypto::Algorithm;
use sscard_core::crypto::ssc::{city_factor, diversify};
use sscard_core::nvm::RamNvm;
use sscard_psam::keys::{KeyAlgorithm, KeyType};
use sscard_psam::options::{FactorOrder, KeyFileP2, Mac2Failure, MacOutput, TtsnTiming};
use sscard_psam::perso::{self, PsamPersonalization, RootKey, RootLevel};
use sscard_psam::{Psam, PsamOptions};
use sscard_ssc::layout::{AppDf, Location, key_id};
use sscard_ssc::purse::key_id as purse_key;
use zeroize::Zeroizing;

/// A PSAM made for a profile's card.
#[derive(Clone, Debug)]
pub struct PsamImage {
    /// The personalized NVM.
    pub image: Vec<u8>,
    /// Its spec choices.
    pub options: PsamOptions,
    /// The level its roots are at.
    pub level: RootLevel,
}

impl PsamImage {
    /// The PSAM application with this image's choices.
    pub fn application(&self) -> Psam {
        Psam::new(self.options)
    }
}

fn err(field: &str, message: &str) -> ProfileError {
    ProfileError {
        field: field.into(),
        message: message.into(),
    }
}

fn choice<T: Copy>(
    field: &str,
    v: &Option<String>,
    default: T,
    alts: &[(&str, T)],
) -> Result<T, ProfileError> {
    match v.as_deref() {
        None => Ok(default),
        Some(s) => alts
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, t)| *t)
            .ok_or_else(|| {
                let names: Vec<&str> = alts.iter().map(|(n, _)| *n).collect();
                err(field, &format!("one of {names:?}"))
            }),
    }
}

/// The spec choices a `[psam]` section sets.
pub fn psam_options(t: &PsamToml) -> Result<PsamOptions, ProfileError> {
    let d = PsamOptions::default();
    Ok(PsamOptions {
        ttsn: choice(
            "psam.ttsn_timing",
            &t.ttsn_timing,
            d.ttsn,
            &[
                ("use-then-increment", TtsnTiming::UseThenIncrement),
                ("increment-then-use", TtsnTiming::IncrementThenUse),
            ],
        )?,
        mac_output: choice(
            "psam.mac_output",
            &t.mac_output,
            d.mac_output,
            &[("4", MacOutput::Four), ("block", MacOutput::FullBlock)],
        )?,
        mac2_failure: choice(
            "psam.mac2_failure",
            &t.mac2_failure,
            d.mac2_failure,
            &[
                ("9302", Mac2Failure::MacInvalid),
                ("63CF", Mac2Failure::Warning63Cf),
            ],
        )?,
        key_file_p2: choice(
            "psam.key_file_p2",
            &t.key_file_p2,
            d.key_file_p2,
            &[
                ("fid", KeyFileP2::FidLowByte),
                ("number", KeyFileP2::Number),
            ],
        )?,
        factor_order: choice(
            "psam.factor_order",
            &t.factor_order,
            d.factor_order,
            &[
                ("card-first", FactorOrder::CardFirst),
                ("card-last", FactorOrder::CardLast),
            ],
        )?,
        require_environment: t.require_environment,
        purchase_without_factors: t.purchase_without_factors,
    })
}

/// The PSAM key id of the card key `id` at `location` for roots at `level` (module
/// docs); `None` for keys the PSAM does not hold.
pub fn psam_key_id(location: Location, id: u8, level: RootLevel) -> Option<u8> {
    let (ddf_base, app_base) = match level {
        RootLevel::National => (0x08, 0x20),
        RootLevel::Provincial => (0x10, 0x40),
        RootLevel::City => (0x18, 0x80),
    };
    match location {
        Location::Ssse => {
            let order = [
                key_id::IRK,
                key_id::STK,
                key_id::UK,
                key_id::BK,
                key_id::PUK,
                key_id::RK,
            ];
            let i = order.iter().position(|k| *k == id)?;
            Some(ddf_base + i as u8)
        }
        Location::App(app) => {
            let slot = AppDf::ALL.iter().position(|d| *d == app)?;
            let within = id.checked_sub(key_id::DF_STK).filter(|k| *k < 4)?;
            Some(app_base + 4 * slot as u8 + within)
        }
    }
}

/// The PSAM key type of the card key `id` (P9 TB1: STK keys MAC, the others encryption).
pub fn psam_key_type(id: u8) -> KeyType {
    if id == key_id::STK || id == key_id::DF_STK {
        KeyType::Mac
    } else {
        KeyType::Encryption
    }
}

impl Profile {
    /// The PSAM for this profile's card: `[psam]` if given, the defaults otherwise.
    /// Refused when the card's keys are its own (`keys.level = "card"`): a PSAM holds
    /// roots.
    pub fn psam(&self) -> Result<PsamImage, ProfileError> {
        let t = self.toml.psam.clone().unwrap_or_default();
        let options = psam_options(&t)?;
        let level = match t.level.unwrap_or(2) {
            2 => RootLevel::Provincial,
            3 => RootLevel::City,
            1 => {
                return Err(err(
                    "psam.level",
                    "level 1 (national roots) cannot be derived from the card's roots; use sscard_psam::perso with national roots",
                ));
            }
            _ => return Err(err("psam.level", "2 or 3")),
        };
        let serial: [u8; 10] = cn(
            "psam.serial",
            t.serial.as_deref().unwrap_or("00000000000000000001"),
            10,
        )?
        .try_into()
        .map_err(|_| err("psam.serial", "20 digits"))?;
        let terminal_id: [u8; 6] = cn(
            "psam.terminal_id",
            t.terminal_id.as_deref().unwrap_or("000000000000"),
            6,
        )?
        .try_into()
        .map_err(|_| err("psam.terminal_id", "12 digits"))?;
        let algorithm = self.algorithm();
        let key_algorithm = match algorithm {
            Algorithm::Des3 => KeyAlgorithm::TripleDes,
            Algorithm::Sm4 => KeyAlgorithm::Sm4,
        };
        let city = city_factor(&self.area_code()).map_err(|_| err("card.area_code", "6 digits"))?;
        let mut values: Vec<(KeyType, u8, Zeroizing<Vec<u8>>)> = vec![];
        for (location, id, root, version, diversified) in self.key_roots() {
            let (kind, psam_id) =
                if *location == Location::App(AppDf::Df04) && *id == purse_key::DPK {
                    (KeyType::Purchase, *version)
                } else {
                    match psam_key_id(*location, *id, level) {
                        Some(psam_id) => (psam_key_type(*id), psam_id),
                        None => continue,
                    }
                };
            if !diversified {
                return Err(err(
                    "keys.level",
                    "a PSAM holds roots: the card's keys must be diversified (level \"root\")",
                ));
            }
            let value = match level {
                RootLevel::City => Zeroizing::new(
                    diversify(algorithm, root, &city)
                        .map_err(|_| err("keys", "root key length"))?
                        .as_bytes()
                        .to_vec(),
                ),
                _ => Zeroizing::new(root.clone()),
            };
            values.push((kind, psam_id, value));
        }
        let roots: Vec<RootKey<'_>> = values
            .iter()
            .map(|(kind, id, value)| RootKey {
                level,
                kind: *kind,
                id: *id,
                algorithm: key_algorithm,
                value,
            })
            .collect();
        let perso = PsamPersonalization {
            serial,
            terminal_id,
            ttsn: t.ttsn,
            ..PsamPersonalization::test_default(&roots)
        };
        let mut nvm = RamNvm::new(vec![0u8; perso::NVM_SIZE]);
        perso::personalize(&mut nvm, &perso).map_err(|e| err("psam", &e.to_string()))?;
        // The choices travel in the PSAM's memory, as the user card's do.
        Psam::store_options(&mut nvm, &sscard_core::CosOptions::default(), &options)
            .map_err(|e| err("psam", &format!("cannot store the options: {e}")))?;
        Ok(PsamImage {
            image: nvm.into_inner(),
            options,
            level,
        })
    }
}
