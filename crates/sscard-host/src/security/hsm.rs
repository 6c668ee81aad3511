//! HSM mode (加密机): the issuer's root keys in this process, diversified for each card
//! with its city and card factors as personalization diversified them (spec/ssc.md §6.2;
//! `sscard_ssc::perso`), or used as they are for a profile that holds the card's own
//! keys (`keys.level = "card"`).

use super::{
    CardFactors, KeyRef, Purchase, PurchaseAuthorisation, SecurityModule, Session, SmCommand, Tac,
};
use crate::profile::{Profile, ProfileError, file_ref, hex};
use crate::terminal::TerminalError;
use sscard_core::crypto::ssc::tac_key;
use sscard_core::crypto::ssc::{
    auth_data, diversify_path, session_key, sm_encrypt, sm_encrypted_len,
};
use sscard_core::crypto::{CardKey, Mac, ct_eq};
use sscard_ssc::purse::{DSK_ID, key_id as purse_key};
use zeroize::Zeroizing;

/// One root the HSM holds.
struct Root {
    key: KeyRef,
    value: Zeroizing<Vec<u8>>,
    /// Diversify with the card's city and card factors (false: the card's own key).
    diversify: bool,
}

/// The purchase between MAC1 and MAC2: SESPK and the amounts MAC2 covers.
struct PendingPurchase {
    sespk: CardKey,
    amounts: [u8; 12],
}

/// The HSM of a terminal without PSAM.
pub struct Hsm {
    roots: Vec<Root>,
    terminal_id: [u8; 6],
    ttsn: u32,
    pending: Option<PendingPurchase>,
}

impl std::fmt::Debug for Hsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<KeyRef> = self.roots.iter().map(|r| r.key).collect();
        f.debug_struct("Hsm")
            .field("keys", &keys)
            .field("terminal_id", &self.terminal_id)
            .field("ttsn", &self.ttsn)
            .finish_non_exhaustive()
    }
}

impl Default for Hsm {
    fn default() -> Self {
        Hsm::new()
    }
}

impl Hsm {
    /// An HSM without keys, terminal id 12 zeros (the id of a terminal without PSAM in
    /// `iReadCardBas`, spec/ssc.md §7), TTSN 0.
    pub fn new() -> Self {
        Hsm {
            roots: vec![],
            terminal_id: [0; 6],
            ttsn: 0,
            pending: None,
        }
    }

    /// Adds card key `key`: a root diversified for each card when `diversify`, else the
    /// card's own key.
    pub fn with_key(mut self, key: KeyRef, value: &[u8], diversify: bool) -> Self {
        self.roots.retain(|r| r.key != key);
        self.roots.push(Root {
            key,
            value: Zeroizing::new(value.to_vec()),
            diversify,
        });
        self
    }

    /// Sets the terminal id (cn 6) sent to the card and covered by MAC1 and the TAC.
    pub fn with_terminal_id(mut self, terminal_id: [u8; 6]) -> Self {
        self.terminal_id = terminal_id;
        self
    }

    /// Sets the next terminal transaction serial.
    pub fn with_ttsn(mut self, ttsn: u32) -> Self {
        self.ttsn = ttsn;
        self
    }

    /// The next terminal transaction serial.
    pub fn ttsn(&self) -> u32 {
        self.ttsn
    }

    /// The keys of a profile's `[keys]`: the SSSE keys, the DF keys and the purse keys.
    pub fn from_profile(profile: &Profile) -> Result<Self, ProfileError> {
        let k = &profile.toml.keys;
        let level = |field: &str, level: Option<&str>, default: bool| match level {
            None => Ok(default),
            Some("root") => Ok(true),
            Some("card") => Ok(false),
            Some(_) => Err(ProfileError {
                field: field.to_string(),
                message: "\"root\" or \"card\"".to_string(),
            }),
        };
        let diversify = level("keys.level", k.level.as_deref(), true)?;
        let mut hsm = Hsm::new();
        for (field, key, value) in [
            ("keys.irk", KeyRef::IRK, Some(&k.irk)),
            ("keys.stk", KeyRef::STK, Some(&k.stk)),
            ("keys.uk", KeyRef::UK, Some(&k.uk)),
            ("keys.bk", KeyRef::BK, Some(&k.bk)),
            ("keys.puk", KeyRef::PUK, Some(&k.puk)),
            ("keys.rk", KeyRef::RK, Some(&k.rk)),
            (
                "keys.dlk",
                KeyRef::df(sscard_ssc::layout::AppDf::Df04, purse_key::DLK),
                k.dlk.as_ref(),
            ),
            ("keys.dpk", KeyRef::DPK, k.dpk.as_ref()),
            ("keys.dtk", KeyRef::DTK, k.dtk.as_ref()),
            (
                "keys.dsk",
                KeyRef::df(sscard_ssc::layout::AppDf::Df04, DSK_ID),
                k.dsk.as_ref(),
            ),
        ] {
            if let Some(value) = value {
                hsm = hsm.with_key(key, &Zeroizing::new(hex(field, value)?), diversify);
            }
        }
        for (i, dk) in k.df.iter().enumerate() {
            let field = format!("keys.df[{i}]");
            let (location, _) = file_ref(&field, &format!("{}/EF00", dk.df))?;
            let value = Zeroizing::new(hex(&format!("{field}.root"), &dk.root)?);
            let own = level(&format!("{field}.level"), dk.level.as_deref(), diversify)?;
            hsm = hsm.with_key(
                KeyRef {
                    location,
                    id: dk.id,
                },
                &value,
                own,
            );
        }
        Ok(hsm)
    }

    /// The card's own value of `key`.
    fn card_key(&self, card: &CardFactors, key: KeyRef) -> Result<CardKey, TerminalError> {
        let root = self
            .roots
            .iter()
            .find(|r| r.key == key)
            .ok_or(TerminalError::Check("the HSM holds no such key"))?;
        let factors = if root.diversify {
            card.root_first(2)
        } else {
            vec![]
        };
        diversify_path(card.algorithm, &root.value, &factors)
            .map_err(|_| TerminalError::Check("HSM key length"))
    }

    fn session(
        &self,
        card: &CardFactors,
        key: KeyRef,
        input: &[u8],
    ) -> Result<CardKey, TerminalError> {
        let key = self.card_key(card, key)?;
        session_key(card.algorithm, key.as_bytes(), input)
            .map_err(|_| TerminalError::Check("session key input"))
    }
}

/// The 4-byte purse MAC (P4 §8.2.4, zero IV) of `data`.
fn purse_mac(key: &CardKey, data: &[u8]) -> [u8; 4] {
    let cipher = key.cipher();
    let mut mac = Mac::zero_iv(&cipher);
    mac.update(data);
    mac.finish()
}

impl SecurityModule for Hsm {
    fn kind(&self) -> &'static str {
        "HSM"
    }

    fn terminal_id(&mut self, _card: &CardFactors) -> Result<[u8; 6], TerminalError> {
        Ok(self.terminal_id)
    }

    fn auth_data(
        &mut self,
        session: Session<'_>,
        original: &[u8; 8],
    ) -> Result<[u8; 8], TerminalError> {
        let sk = self.session(session.card, session.key, session.input)?;
        Ok(auth_data(&sk.cipher(), original))
    }

    fn secure_message(
        &mut self,
        session: Session<'_>,
        command: SmCommand<'_>,
    ) -> Result<(Vec<u8>, [u8; 4]), TerminalError> {
        let card = session.card;
        let sk = self.session(card, session.key, session.input)?;
        let cipher = sk.cipher();
        let mut ciphertext = vec![0u8; sm_encrypted_len(card.algorithm, command.plaintext.len())];
        sm_encrypt(&cipher, command.plaintext, &mut ciphertext)
            .map_err(|_| TerminalError::Check("secure messaging: plaintext too long"))?;
        let mut mac = Mac::zero_iv(&cipher);
        mac.update(command.header);
        mac.update(&ciphertext);
        Ok((ciphertext, mac.finish()))
    }

    /// SESPK = KS(DPK, random ‖ sequence ‖ TTSN[2..4]), MAC1 over the amounts, type,
    /// terminal and time (P7 §12.2–12.3); the TTSN is used, then moves on.
    fn init_purchase(
        &mut self,
        card: &CardFactors,
        purchase: &Purchase,
    ) -> Result<PurchaseAuthorisation, TerminalError> {
        let ttsn = self.ttsn.to_be_bytes();
        let [r0, r1, r2, r3] = purchase.card_random;
        let [s0, s1] = purchase.sequence;
        let sespk = self.session(
            card,
            KeyRef::DPK,
            &[r0, r1, r2, r3, s0, s1, ttsn[2], ttsn[3]],
        )?;
        let mac1 = purse_mac(&sespk, &purchase.mac1_data());
        self.ttsn = self.ttsn.wrapping_add(1);
        self.pending = Some(PendingPurchase {
            sespk,
            amounts: purchase.amount_bytes(),
        });
        Ok(PurchaseAuthorisation { ttsn, mac1 })
    }

    /// MAC2 = MAC(SESPK, amounts) (P7 §12.6); the purchase ends either way.
    fn credit_purchase(&mut self, mac2: &[u8; 4]) -> Result<(), TerminalError> {
        let pending = self
            .pending
            .take()
            .ok_or(TerminalError::Check("MAC2 without a purchase"))?;
        if ct_eq(&purse_mac(&pending.sespk, &pending.amounts), mac2) {
            Ok(())
        } else {
            Err(TerminalError::Check(
                "MAC2: the card's debit is not genuine",
            ))
        }
    }

    /// TAC = MAC(K_TAC, amounts ‖ type ‖ terminal ‖ TTSN ‖ time), K_TAC from DTK (P7 §15).
    fn verify_tac(
        &mut self,
        card: &CardFactors,
        tac: Tac<'_>,
    ) -> Result<Option<bool>, TerminalError> {
        let dtk = self.card_key(card, KeyRef::DTK)?;
        let key = tac_key(card.algorithm, dtk.as_bytes())
            .map_err(|_| TerminalError::Check("HSM key length"))?;
        Ok(Some(ct_eq(&purse_mac(&key, tac.data), &tac.value)))
    }
}

/// The issuer's root keys the terminal's HSM holds for `iReadCardBas` (spec/ssc.md
/// §6.1, §7); an [`Hsm`] holds any set.
#[derive(Clone, Debug)]
pub struct HsmKeys {
    /// IRK root (internal authentication).
    pub irk: Vec<u8>,
    /// RKSSSE root (gen-3 EF06 read control).
    pub rk: Vec<u8>,
    /// The keys above are already the card's own keys (a profile's `keys.level =
    /// "card"`): used as they are, not diversified.
    pub card_level: bool,
}

impl From<&HsmKeys> for Hsm {
    fn from(keys: &HsmKeys) -> Hsm {
        Hsm::new()
            .with_key(KeyRef::IRK, &keys.irk, !keys.card_level)
            .with_key(KeyRef::RK, &keys.rk, !keys.card_level)
    }
}
