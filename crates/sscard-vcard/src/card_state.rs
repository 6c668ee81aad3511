//! The observable state of a served card as JSON, for a test to assert on (`sscard ctl
//! state`): what is selected, what is proven, try counters, the purse, the PBOC counters,
//! the lifecycle and the image generation.
//!
//! Everything is read, nothing written: the transient state and NVM of the card are
//! looked at in place; the PBOC values (which live inside the applet's firewalled region)
//! are asked with GET DATA of a throw-away copy of the card's memory, so the served card's
//! selection and security status stay as they are. No key or PIN value leaves: secrets
//! are reported by reference and counter only.

use crate::virtual_card::{HostRng, SscVirtualCard};
use serde_json::{Value, json};
use sscard_core::auth::secret::{SecretKind, read_secret};
use sscard_core::card::applet::Interface;
use sscard_core::fs::access::PIN_REFS;
use sscard_core::fs::layout::{
    CARD_BLOCKED, CARD_STATE_AT, FileEntry, FileIndex, FileKind, LIFECYCLE_BLOCKED, read_entry,
    scan,
};
use sscard_core::tlv::{Tag, find};
use sscard_host::annotate::hex;

/// Name of a DF or EF for people: `3F00`, `SSSE`-like names by their FID, and the DF name
/// in hex when it has one.
fn describe_file(entry: &FileEntry) -> Value {
    json!({
        "index": entry.index,
        "fid": format!("{:04X}", entry.fid),
        "name": hex(entry.name()),
    })
}

/// A DF by its FID, or by its name (hex) when it has no FID (the SSSE).
fn df_label(entry: &FileEntry) -> String {
    if entry.fid == 0 {
        hex(entry.name())
    } else {
        format!("{:04X}", entry.fid)
    }
}

impl SscVirtualCard {
    /// The card's observable state (see the module docs). Works powered or not.
    pub fn state(&self) -> Value {
        let card = self.card();
        let (store, header, t) = (card.store(), card.header(), card.transient());
        let file = |index: FileIndex| -> Value {
            match read_entry(store, header, index) {
                Ok(Some(e)) => describe_file(&e),
                _ => Value::Null,
            }
        };
        let powered = card.is_powered();
        let current_df = if powered {
            file(t.fs.current_df)
        } else {
            Value::Null
        };
        let current_ef = match t.fs.current_ef {
            Some(ef) if powered => file(ef),
            _ => Value::Null,
        };
        let pins_verified: Vec<u8> = (0..PIN_REFS as u8)
            .filter(|&p| t.security.pin_verified(p))
            .collect();
        let keys_authenticated: Vec<u8> =
            (0..=u8::MAX).filter(|&k| t.security.has_key(k)).collect();
        let (mut pins, mut keys) = (Vec::new(), Vec::new());
        for index in 0..header.secrets_used {
            let Ok(Some(secret)) = read_secret(store, header, index) else {
                continue;
            };
            let owner = read_entry(store, header, secret.owner)
                .ok()
                .flatten()
                .map_or_else(String::new, |e| df_label(&e));
            let counter = json!({
                "df": owner,
                "id": secret.id,
                "tries_left": secret.tries_left,
                "try_limit": secret.try_limit,
                "blocked": secret.is_blocked(),
            });
            match secret.kind {
                SecretKind::Pin => pins.push(counter),
                SecretKind::Key => keys.push(counter),
            }
        }
        let purse = match sscard_ssc::purse::read_purse(store, header) {
            Ok(Some(v)) => json!({
                "balance": v.balance,
                "load_sequence": v.load_seq,
                "purchase_sequence": v.purchase_seq,
                "self_pay_total": v.spip,
                "pooled_fund_total": v.spfp,
                "payment_year": hex(&v.year),
                "starting_day": hex(&v.start),
            }),
            _ => Value::Null,
        };
        let card_blocked = store.read_u8(CARD_STATE_AT).ok() == Some(CARD_BLOCKED);
        let mut blocked_applications = Vec::new();
        let _ = scan(store, header, |e| {
            if matches!(e.kind, FileKind::Ddf | FileKind::Adf) && e.lifecycle == LIFECYCLE_BLOCKED {
                blocked_applications.push(describe_file(e));
            }
            None::<()>
        });
        let image = self.image().map_or(Value::Null, |f| {
            json!({
                "path": f.path().display().to_string(),
                "generation": self.image_generation(),
            })
        });
        json!({
            "powered": powered,
            "interface": match self.interface() {
                Interface::Contact => "contact",
                Interface::Contactless => "contactless",
            },
            "current_df": current_df,
            "current_ef": current_ef,
            "current_record": t.fs.current_record.filter(|_| powered),
            "financial_selected": powered && t.applet.is_some(),
            "security": {
                "pins_verified": pins_verified,
                "keys_authenticated": keys_authenticated,
            },
            "pins": pins,
            "keys": keys,
            "purse": purse,
            "pboc": self.pboc_state(),
            "lifecycle": {
                "card_blocked": card_blocked,
                "blocked_applications": blocked_applications,
            },
            "nvm_commits": store.commits(),
            "image": image,
        })
    }

    /// ATC and EC balance of the first PBOC application, asked on a copy of the memory
    /// (PPSE → its first AID → GET DATA `9F36`, `9F79`); `null` without PBOC.
    fn pboc_state(&self) -> Value {
        let copy = SscVirtualCard::new(
            self.nvm().to_vec(),
            *self.card().options(),
            *self.card().df_applications().options(),
            HostRng::seeded(0),
            Interface::Contact,
        );
        let Ok(mut copy) = copy else {
            return Value::Null;
        };
        if copy.power_on_quietly().is_err() {
            return Value::Null;
        }
        let ppse = copy.ask(b"\x00\xA4\x04\x00\x0E2PAY.SYS.DDF01\x00");
        let aid = ppse
            .as_deref()
            .and_then(|fci| find(fci, Tag(0x4F)).ok().flatten())
            .map(|t| t.value().to_vec());
        let Some(aid) = aid else {
            return Value::Null;
        };
        let mut select = vec![0x00, 0xA4, 0x04, 0x00, aid.len() as u8];
        select.extend_from_slice(&aid);
        select.push(0x00);
        if copy.ask(&select).is_none() {
            return Value::Null;
        }
        let number = |data: Option<Vec<u8>>, tag: &[u8]| -> Value {
            let value = data
                .as_deref()
                .and_then(|d| d.strip_prefix(tag))
                .and_then(|d| d.get(1..))
                .map(hex);
            value.map_or(Value::Null, Value::String)
        };
        let atc = copy.ask(&[0x80, 0xCA, 0x9F, 0x36, 0x00]);
        let ec = copy.ask(&[0x80, 0xCA, 0x9F, 0x79, 0x00]);
        let atc = number(atc, &[0x9F, 0x36]);
        let atc = atc
            .as_str()
            .and_then(|h| u16::from_str_radix(h, 16).ok())
            .map_or(Value::Null, Value::from);
        json!({
            "aid": hex(&aid),
            "atc": atc,
            // n12, in fen (cents): BCD digits read as a decimal number.
            "ec_balance": number(ec, &[0x9F, 0x79])
                .as_str()
                .and_then(|h| h.parse::<u64>().ok())
                .map_or(Value::Null, Value::from),
        })
    }
}
