//! Security status (transient) and access-condition evaluation.
//!
//! The status is filled by the security layer (VERIFY, EXTERNAL AUTHENTICATE) and read
//! by the file commands. Scope rules, from LD/T 32:
//! * a verified PIN is remembered until power-off (P7 §5.8) while the current DF stays
//!   inside the PIN owner's subtree;
//! * an external authentication lasts until power-off or until another DF/application is
//!   selected (P7 §6.6; P5 §6.11.1 "kept while the current DF does not change").

use super::layout::{Access, FileIndex};

/// Number of PIN references the status can hold (0–7).
pub const PIN_REFS: usize = 8;

/// What has been proven since power-on in the current context.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecurityStatus {
    pins: u8,
    pins_absent: u8,
    pin_scope: [FileIndex; PIN_REFS],
    keys: [u32; 8],
}

impl SecurityStatus {
    /// Nothing proven.
    pub const fn new() -> Self {
        SecurityStatus {
            pins: 0,
            pins_absent: 0,
            pin_scope: [0; PIN_REFS],
            keys: [0; 8],
        }
    }
    /// Forgets everything proven (power-off, reset, leaving the environment); which
    /// PINs are not in use is a fact of the card and is kept.
    pub fn clear(&mut self) {
        let absent = self.pins_absent;
        *self = SecurityStatus::new();
        self.pins_absent = absent;
    }
    /// Records a verified PIN `pin` owned by DF `scope`. References ≥ 8 are ignored.
    pub fn grant_pin(&mut self, pin: u8, scope: FileIndex) {
        if let Some(slot) = self.pin_scope.get_mut(usize::from(pin)) {
            *slot = scope;
            self.pins |= 1 << pin;
        }
    }
    /// Forgets PIN `pin` (a failed VERIFY clears its status).
    pub fn revoke_pin(&mut self, pin: u8) {
        if usize::from(pin) < PIN_REFS {
            self.pins &= !(1 << pin);
        }
    }
    /// True if PIN `pin` is verified, or the holder has set no PIN (an access condition
    /// "PIN" then holds: LD/T 32 P5 §7.3.1 "if the holder has set one").
    pub fn has_pin(&self, pin: u8) -> bool {
        usize::from(pin) < PIN_REFS && (self.pins | self.pins_absent) & (1 << pin) != 0
    }
    /// True only if PIN `pin` was verified in this session.
    pub fn pin_verified(&self, pin: u8) -> bool {
        usize::from(pin) < PIN_REFS && self.pins & (1 << pin) != 0
    }
    /// Records whether PIN `pin` is empty (not in use).
    pub fn set_pin_absent(&mut self, pin: u8, absent: bool) {
        if usize::from(pin) < PIN_REFS {
            if absent {
                self.pins_absent |= 1 << pin;
            } else {
                self.pins_absent &= !(1 << pin);
            }
        }
    }
    /// Records a successful external authentication with key `key`.
    pub fn grant_key(&mut self, key: u8) {
        if let Some(w) = self.keys.get_mut(usize::from(key / 32)) {
            *w |= 1 << (key % 32);
        }
    }
    /// Forgets key `key`.
    pub fn revoke_key(&mut self, key: u8) {
        if let Some(w) = self.keys.get_mut(usize::from(key / 32)) {
            *w &= !(1 << (key % 32));
        }
    }
    /// True if key `key` has been authenticated in the current DF.
    pub fn has_key(&self, key: u8) -> bool {
        self.keys
            .get(usize::from(key / 32))
            .is_some_and(|w| w & (1 << (key % 32)) != 0)
    }
    /// The current DF changed to `new_df`: key authentications end; PINs survive while
    /// `in_scope(pin_owner)` says the new DF is inside the owner's subtree.
    pub fn on_df_change(&mut self, mut in_scope: impl FnMut(FileIndex) -> bool) {
        self.keys = [0; 8];
        for pin in 0..PIN_REFS as u8 {
            if self.pin_verified(pin) {
                let owner = self.pin_scope.get(usize::from(pin)).copied().unwrap_or(0);
                if !in_scope(owner) {
                    self.revoke_pin(pin);
                }
            }
        }
    }
    /// Evaluates an access condition.
    pub fn allows(&self, access: Access) -> bool {
        match access {
            Access::Always => true,
            Access::Never => false,
            Access::Pin(p) => self.has_pin(p),
            Access::Key(k) => self.has_key(k),
            Access::PinOrKey { pin, key } => self.has_pin(pin) || self.has_key(key),
            Access::PinAndKey { pin, key } => self.has_pin(pin) && self.has_key(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_condition_against_every_state() {
        let conds = [
            Access::Always,
            Access::Never,
            Access::Pin(0),
            Access::Key(0x0A),
            Access::PinOrKey { pin: 0, key: 0x84 },
            Access::PinAndKey { pin: 0, key: 0x84 },
        ];
        // (pin, key 0A, key 84) -> expected per condition
        for pin in [false, true] {
            for k0a in [false, true] {
                for k84 in [false, true] {
                    let mut s = SecurityStatus::new();
                    if pin {
                        s.grant_pin(0, 1);
                    }
                    if k0a {
                        s.grant_key(0x0A);
                    }
                    if k84 {
                        s.grant_key(0x84);
                    }
                    let expect = [true, false, pin, k0a, pin || k84, pin && k84];
                    for (c, e) in conds.iter().zip(expect) {
                        assert_eq!(s.allows(*c), e, "{c:?} pin={pin} 0A={k0a} 84={k84}");
                    }
                }
            }
        }
    }

    #[test]
    fn df_change_ends_keys_and_out_of_scope_pins() {
        let mut s = SecurityStatus::new();
        s.grant_pin(0, 1);
        s.grant_pin(1, 5);
        s.grant_key(0xFF);
        s.on_df_change(|owner| owner == 1);
        assert!(s.has_pin(0) && !s.has_pin(1) && !s.has_key(0xFF));
        s.grant_pin(9, 1); // ignored, out of range
        assert!(!s.has_pin(9));
    }
}
