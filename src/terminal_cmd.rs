//! `sscard terminal`: the national terminal interface's card functions
//! (`sscard_host::national`) against a card — in-process or in a PC/SC reader — with a
//! PSAM in a PC/SC reader (PSAM mode) or the profile's keys (HSM mode), printing the
//! annotated APDUs of both readers and the function's output.

use clap::{Args, Subcommand};
use sscard_core::card::applet::Interface;
use sscard_core::rng::{CardRng, SplitMixRng};
use sscard_host::link::CardLink;
use sscard_host::national::{self, DebitRequest};
use sscard_host::security::{Hsm, Psam, SecurityModule};
use sscard_host::terminal::Terminal;
use sscard_vcard::virtual_card::{HostRng, SscVirtualCard};
use std::path::PathBuf;

/// Where the card, the keys and the randomness come from.
#[derive(Args)]
pub struct TerminalArgs {
    /// PC/SC reader of the user card (name or a unique part of it); default: a fresh
    /// in-process card from --profile. Needs a build with the `pcsc` feature.
    #[arg(long, value_name = "NAME", global = true)]
    reader: Option<String>,
    /// PC/SC reader of the PSAM (PSAM mode); default: HSM mode with --profile's keys.
    #[arg(long, value_name = "NAME", global = true)]
    psam_reader: Option<String>,
    /// Profile of the in-process card and of the HSM's keys; default: the built-in
    /// gen-3 card.
    #[arg(long, value_name = "FILE", global = true)]
    profile: Option<PathBuf>,
    /// Holder PIN (the PIN pad's); default: the profile's.
    #[arg(long, value_name = "DIGITS", global = true)]
    pin: Option<String>,
    /// Seed of the terminal's random numbers and of the in-process card's.
    #[arg(long, default_value_t = 2025, global = true)]
    seed: u64,
}

/// The card functions.
#[derive(Subcommand)]
pub enum Function {
    /// iReadCardBas: the card's basic information, the card authenticated.
    ReadCardBas,
    /// iVerifyPIN.
    VerifyPin,
    /// iChangePIN: from --pin to --new.
    ChangePin {
        /// The new PIN.
        #[arg(long, value_name = "DIGITS")]
        new: String,
    },
    /// iReloadPIN: PUK external authentication, then the new PIN under STK secure
    /// messaging (84 24 00 01).
    ReloadPin {
        /// The new PIN.
        #[arg(long, value_name = "DIGITS")]
        new: String,
    },
    /// iDoDebit: a medical-purse purchase (MAC1, MAC2, TAC).
    Debit {
        /// Amount paid from the account, in fen.
        #[arg(long)]
        amount: u32,
        /// Self-paid amount, in fen.
        #[arg(long, default_value_t = 0)]
        self_pay: u32,
        /// Pooled-fund amount, in fen.
        #[arg(long, default_value_t = 0)]
        pooled: u32,
        /// Transaction time yyyymmddhhmmss; default: now (UTC).
        #[arg(long)]
        time: Option<String>,
        /// Purchase key index (DPK version).
        #[arg(long, default_value_t = 1)]
        key_index: u8,
    },
    /// iReadDebitRecord: the medical transaction log (DF04/EF08).
    ReadDebitRecord,
    /// The external authentication of an application DF with its key.
    ExternalAuth {
        /// The DF: 1, 2, 3, 4 or 7.
        #[arg(long)]
        df: u8,
        /// The card's key id, hex (84: RK1DFxx).
        #[arg(long, default_value = "84")]
        key: String,
    },
}

/// Runs `function`; prints the trace as it goes and the output at the end.
pub fn run(args: &TerminalArgs, function: &Function) -> Result<(), String> {
    let profile = crate::load_profile(args.profile.as_ref())?;
    let psam_mode = args.psam_reader.is_some();
    let card: Box<dyn CardLink> = match &args.reader {
        Some(name) => crate::reader_target(name, None)?,
        None => {
            let mut card = SscVirtualCard::from_profile(
                &profile,
                HostRng::seeded(args.seed),
                Interface::Contact,
            )
            .map_err(|e| e.to_string())?;
            card.power_on().map_err(|e| e.to_string())?;
            Box::new(card)
        }
    };
    let mut module: Box<dyn SecurityModule> = match &args.psam_reader {
        Some(name) => {
            let mut psam = Psam::new(crate::reader_target(name, None)?);
            psam.terminal.echo = true;
            Box::new(psam)
        }
        None => Box::new(Hsm::from_profile(&profile).map_err(|e| e.to_string())?),
    };
    println!(
        "sscard terminal: {} mode",
        if psam_mode { "PSAM" } else { "HSM" }
    );
    let mut t = Terminal::new(card);
    t.echo = true;
    if psam_mode {
        t.label = "card";
    }
    let pin = args
        .pin
        .clone()
        .unwrap_or_else(|| profile.toml.pin.value.clone());
    let mut rng = SplitMixRng::new(args.seed ^ 0x5EED);
    let mut random = |b: &mut [u8]| rng.fill(b);
    let e = |e: sscard_host::terminal::TerminalError| e.to_string();
    let output = match function {
        Function::ReadCardBas => {
            let bas = national::read_card_bas(&mut t, &mut *module, &mut random).map_err(e)?;
            format!("iReadCardBas: {bas}")
        }
        Function::VerifyPin => {
            let outcome = national::verify_pin(&mut t, &pin).map_err(e)?;
            format!("iVerifyPIN: {outcome}")
        }
        Function::ChangePin { new } => {
            let outcome = national::change_pin(&mut t, &pin, new).map_err(e)?;
            format!("iChangePIN: {outcome}")
        }
        Function::ReloadPin { new } => {
            national::reload_pin(&mut t, &mut *module, new, &mut random).map_err(e)?;
            "iReloadPIN: 0".to_string()
        }
        Function::Debit {
            amount,
            self_pay,
            pooled,
            time,
            key_index,
        } => {
            let time = time.clone().unwrap_or_else(now_utc);
            let mut request = DebitRequest::new(*amount, &time).map_err(e)?;
            request.amounts = [*amount, *self_pay, *pooled];
            request.key_index = *key_index;
            request.kind = profile.ssc_options().purse.purchase_type;
            request.pin = Some(pin);
            let debit = national::do_debit(&mut t, &mut *module, &request).map_err(e)?;
            format!("iDoDebit: {debit}")
        }
        Function::ReadDebitRecord => {
            let records = national::read_debit_records(&mut t, Some(&pin)).map_err(e)?;
            let lines: Vec<String> = records.iter().map(|r| format!("\n  {r}")).collect();
            format!(
                "iReadDebitRecord: {} record(s){}",
                records.len(),
                lines.concat()
            )
        }
        Function::ExternalAuth { df, key } => {
            let app = national::application_df(*df)
                .ok_or_else(|| format!("--df {df}: one of 1, 2, 3, 4, 7"))?;
            let key_id = u8::from_str_radix(key.trim_start_matches("0x"), 16)
                .map_err(|_| format!("--key {key}: a key id in hex"))?;
            national::external_authenticate_df(&mut t, &mut *module, app, key_id, &mut random)
                .map_err(e)?;
            format!("external authentication of DF{df:02}, key {key_id:02X}: 0")
        }
    };
    println!("\n{output}");
    Ok(())
}

/// The current UTC time as yyyymmddhhmmss.
fn now_utc() -> String {
    sscard_vcard::trace::rfc3339(std::time::SystemTime::now())
        .chars()
        .take(19)
        .filter(char::is_ascii_digit)
        .collect()
}
