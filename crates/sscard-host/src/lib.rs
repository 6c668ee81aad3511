//! sscard-host: the host side of the sscard emulator, shared by the CLI, the virtual
//! card, the bindings and the tests.
//!
//! * [`profile`]: personalization profiles (TOML) → card images and spec choices;
//! * [`link`]: the one card trait, [`link::CardLink`], that terminals, scripts, the tear
//!   harness and the CLI drive: a card in this process, served to PC/SC, or in a reader;
//! * [`psam`]: the PSAM that goes with a profile's card (`[psam]`);
//! * [`script`]: the `.apdu` script language (`vectors/README.md`) and its runner,
//!   against any [`link::CardLink`];
//! * [`terminal`]: an in-process terminal (T=0 handling, `iReadCardBas`);
//! * [`security`]: the terminal's security module, a PSAM behind a link or an HSM;
//! * [`national`]: the national terminal interface's card functions through it;
//! * [`annotate`]: APDUs and status words explained, secrets masked, for traces;
//! * [`demo`]: the main job, an in-process `iReadCardBas` on a card.
//!
//! Using it from a test suite: `docs/suite-author.md` in the repository.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod annotate;
pub mod demo;
pub mod link;
pub mod national;
#[cfg(feature = "pcsc")]
pub mod pcsc_target;
pub mod profile;
pub mod psam;
pub mod script;
pub mod security;
pub mod terminal;
