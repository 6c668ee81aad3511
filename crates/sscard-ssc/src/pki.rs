//! The third-generation PKI application (`PKI.社会保障` / `SS.CERT.ADF1`): SM2 key pairs,
//! certificates, the PIN-hash scheme and identity signatures (spec/ssc.md §9 item 4).
//!
//! **Vendor commands.** The public record shows COS-vendor commands seen in two
//! independent issuing tools, not a standard. They live in one table,
//! [`PkiCommands`] (part of `CosOptions`), so another COS vendor's encodings are a
//! configuration. Observed: `80 C4 01 03` PIN hash, `80 40` key-pair generation,
//! `80 C9 82 80` public-key read-out, `80 C2 40/C0` key import, `00 20 01 81|00` VERIFY
//! with an SM4-encrypted challenge. The signature command is not in the record; sscard
//! uses ISO 7816-8 PERFORM SECURITY OPERATION / COMPUTE DIGITAL SIGNATURE
//! `00 2A 9E 9A` (SM2 with SM3 and the distinguishing ID `1234567812345678`).
//!
//! Files of the ADF (FIDs as observed): `0012` signature public key `CA 40 X‖Y`,
//! `0013` its private key `CB 20 d` (never readable), `0014`/`0015` the encryption pair,
//! `0018` signature certificate, `0019` encryption certificate.
//! PINs: user PIN (reference [`USER_PIN`]) and administrator PIN ([`ADMIN_PIN`]), each
//! stored as the first 16 bytes of SM3(PIN in BCD); VERIFY sends SM4-ECB(that key,
//! card challenge), the challenge padded with 00 to 16 bytes.

use sscard_core::apdu::{CommandView, Writer};
use sscard_core::auth::AuthContext;
use sscard_core::auth::secret::{OFF_TRIES_LEFT, SecretKind, find_secret};
use sscard_core::crypto::{
    Algorithm, CardCipher, SM2_DEFAULT_ID, Sm2KeyPair, mac_matches, sm2_public_key_is_valid, sm3,
};
use sscard_core::fs::layout::{Access, FileEntry, FileFlags, FileKind, scan};
use sscard_core::nvm::Nvm;
use sscard_core::nvm::Transactional;
use sscard_core::status::{Result, Status};
use sscard_core::tlv::{BerReader, Tag};
use zeroize::Zeroizing;

/// Role byte of the certificate ADF.
pub const ROLE_PKI_ADF: u8 = 0x05;
/// PIN reference of the PKI user PIN.
pub const USER_PIN: u8 = 1;
/// PIN reference of the PKI administrator PIN.
pub const ADMIN_PIN: u8 = 2;
/// FID of the signature public key.
pub const SIGN_PUBLIC: u16 = 0x0012;
/// FID of the signature private key.
pub const SIGN_PRIVATE: u16 = 0x0013;
/// FID of the encryption public key.
pub const ENC_PUBLIC: u16 = 0x0014;
/// FID of the encryption private key.
pub const ENC_PRIVATE: u16 = 0x0015;
/// FID of the signature certificate.
pub const SIGN_CERT: u16 = 0x0018;
/// FID of the encryption certificate.
pub const ENC_CERT: u16 = 0x0019;
/// `PKI.社会保障` (GBK).
pub const PKI_DDF_NAME: [u8; 12] = [
    0x50, 0x4B, 0x49, 0x2E, 0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF,
];
/// `SS.CERT.ADF1`.
pub const PKI_ADF_NAME: [u8; 12] = *b"SS.CERT.ADF1";

/// The vendor command table (CLA, INS) of the PKI application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PkiCommands {
    /// PIN hash: returns SM3 of the PIN in the `C1` element.
    pub hash_pin: [u8; 2],
    /// Generate the signature key pair.
    pub generate_key_pair: [u8; 2],
    /// Read out a public key (P1 P2 = 82 80) or select a key pair (with data).
    pub read_public_key: [u8; 2],
    /// Import a public (P1 = 40) or private (P1 = C0) key.
    pub import_key: [u8; 2],
    /// SM2 signature over the command data.
    pub sign: [u8; 2],
    /// P1 of VERIFY with an enciphered challenge.
    pub verify_p1: u8,
}

/// A command of the PKI application (vendor COS commands observed in two independent
/// issuing tools, spec/ssc.md §9 item 4), parsed once
/// through the card's [`PkiCommands`] table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PkiCommand {
    /// The PIN hash (`80 C4` by default).
    HashPin,
    /// GENERATE KEY PAIR (`80 40`).
    GenerateKeyPair,
    /// READ PUBLIC KEY / select a key pair (`80 C9`).
    ReadPublicKey,
    /// IMPORT KEY (`80 C2`).
    ImportKey,
    /// SM2 SIGN (`80 4A`, P1 P2 = 9E 9A).
    Sign,
    /// VERIFY of a PKI PIN (`00 20`, P1 from the table).
    Verify,
}

impl PkiCommands {
    /// The PKI command `cmd` is, if it is one of this table's.
    pub fn parse(&self, cmd: &CommandView<'_>) -> Option<PkiCommand> {
        let ci = [cmd.cla(), cmd.ins()];
        if ci == self.hash_pin {
            Some(PkiCommand::HashPin)
        } else if ci == self.generate_key_pair {
            Some(PkiCommand::GenerateKeyPair)
        } else if ci == self.read_public_key {
            Some(PkiCommand::ReadPublicKey)
        } else if ci == self.import_key {
            Some(PkiCommand::ImportKey)
        } else if ci == self.sign && cmd.p1p2() == 0x9E9A {
            Some(PkiCommand::Sign)
        } else if ci == [0x00, 0x20] && cmd.p1() == self.verify_p1 {
            Some(PkiCommand::Verify)
        } else {
            None
        }
    }

    /// True if this command belongs to the PKI application's vendor set.
    pub fn handles(&self, cmd: &CommandView<'_>) -> bool {
        self.parse(cmd).is_some()
    }
}

impl Default for PkiCommands {
    fn default() -> Self {
        PkiCommands {
            hash_pin: [0x80, 0xC4],
            generate_key_pair: [0x80, 0x40],
            read_public_key: [0x80, 0xC9],
            import_key: [0x80, 0xC2],
            sign: [0x00, 0x2A],
            verify_p1: 0x01,
        }
    }
}

/// What the key commands may do with one key-pair slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotPolicy {
    /// GENERATE KEY PAIR may fill this slot (needs the user or administrator PIN).
    pub generate: bool,
    /// IMPORT KEY may fill this slot (needs the administrator PIN).
    pub import: bool,
}

/// Which of the application's two key-pair slots each key command may fill.
///
/// The gen-3 issuing traces (spec/ssc.md §9 item 4) generate the signature pair on the
/// card (`80 40 … C0 02 0012 C2 02 0013`) and import the encryption pair, which the key
/// management centre escrows (`80 C2 40 00 … C0 02 0014`, `80 C2 C0 01 … C2 02 0015`).
/// The defaults allow exactly that; the text does not say whether a COS may also
/// generate the encryption pair or import a signature pair, so a profile can allow it
/// (docs/spec-choices.md, "PKI key slots").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PkiKeyPolicy {
    /// The signature pair (`0012` public, `0013` private).
    pub signature: SlotPolicy,
    /// The encryption pair (`0014` public, `0015` private).
    pub encryption: SlotPolicy,
}

impl Default for PkiKeyPolicy {
    fn default() -> Self {
        PkiKeyPolicy {
            signature: SlotPolicy {
                generate: true,
                import: false,
            },
            encryption: SlotPolicy {
                generate: false,
                import: true,
            },
        }
    }
}

/// One key-pair slot of the application: its two key files and what may fill them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct KeySlot {
    public: u16,
    private: u16,
    policy: SlotPolicy,
}

impl PkiKeyPolicy {
    fn slots(&self) -> [KeySlot; 2] {
        [
            KeySlot {
                public: SIGN_PUBLIC,
                private: SIGN_PRIVATE,
                policy: self.signature,
            },
            KeySlot {
                public: ENC_PUBLIC,
                private: ENC_PRIVATE,
                policy: self.encryption,
            },
        ]
    }

    /// The slot whose files are exactly `public` and `private`; any other pair of FIDs
    /// (a certificate EF, a public EF as the private target, two slots mixed) is not a
    /// key-pair slot: `6985` conditions of use not satisfied (spec/ssc.md §5.1).
    fn pair(&self, public: u16, private: u16) -> Result<KeySlot> {
        self.slots()
            .into_iter()
            .find(|s| s.public == public && s.private == private)
            .ok_or(Status::ConditionsNotSatisfied)
    }

    /// The slot whose public (`private == false`) or private key file is `fid`.
    fn holding(&self, fid: u16, private: bool) -> Result<KeySlot> {
        self.slots()
            .into_iter()
            .find(|s| fid == if private { s.private } else { s.public })
            .ok_or(Status::ConditionsNotSatisfied)
    }
}

/// The PIN key stored for a PKI PIN: SM3(PIN in BCD)[0..16].
pub fn pin_key(pin_bcd: &[u8]) -> [u8; 16] {
    let h = Zeroizing::new(sm3(pin_bcd));
    let mut k = [0u8; 16];
    k.copy_from_slice(h.get(..16).unwrap_or(&[0; 16]));
    k
}

/// One PKI command's context.
pub struct Pki<'a, 'b, 'f, N: Nvm> {
    /// Security context.
    pub auth: &'a mut AuthContext<'b, 'f, N>,
    /// The command table.
    pub commands: PkiCommands,
    /// Which key-pair slots generation and import may fill.
    pub keys: PkiKeyPolicy,
}

impl<N: Nvm> Pki<'_, '_, '_, N> {
    /// Executes a PKI command.
    pub fn process(&mut self, cmd: &CommandView<'_>, reply: &mut Writer<'_>) -> Result<()> {
        match self.commands.parse(cmd) {
            // spec/ssc.md §9 item 4: `80C4 0103 C1 <PIN>` → SM3(PIN)
            Some(PkiCommand::HashPin) => self.hash_pin(cmd, reply),
            // spec/ssc.md §9 item 4, docs/spec-choices.md "PKI application": the signature pair
            Some(PkiCommand::GenerateKeyPair) => self.generate(cmd),
            // spec/ssc.md §9 item 4: `80C9 8280` reads a public key
            Some(PkiCommand::ReadPublicKey) => self.read_public_key(cmd, reply),
            // spec/ssc.md §9 item 4, docs/spec-choices.md "PKI application": the encryption pair
            Some(PkiCommand::ImportKey) => self.import_key(cmd),
            // spec/ssc.md §9 item 4: SM2 signature (GB/T 32918.2) over the data
            Some(PkiCommand::Sign) => self.sign(cmd, reply),
            // LD/T 32 P5 §6.14 rules for the PKI PINs
            Some(PkiCommand::Verify) => self.verify(cmd),
            None => Err(Status::InstructionNotSupported),
        }
    }

    fn file(&self, fid: u16) -> Result<FileEntry> {
        let df = self.auth.fs.state.current_df;
        scan(self.auth.fs.store, self.auth.fs.header, |e| {
            (e.parent == df && e.kind == FileKind::Transparent && e.fid == fid).then_some(*e)
        })?
        .ok_or(Status::FileNotFound)
    }

    fn require_pin(&self, refs: &[u8]) -> Result<()> {
        if refs.iter().any(|r| self.auth.fs.security.pin_verified(*r)) {
            Ok(())
        } else {
            Err(Status::SecurityStatusNotSatisfied)
        }
    }

    /// `80 C4 01 03 Lc C1 L <PIN BCD>` → SM3(PIN BCD), 32 bytes (spec/ssc.md §9 item 4, the
    /// response recorded in the Z390 tool is SM3(`123456`)).
    fn hash_pin(&mut self, cmd: &CommandView<'_>, reply: &mut Writer<'_>) -> Result<()> {
        if cmd.p1p2() != 0x0103 {
            return Err(Status::WrongP1P2);
        }
        let tlv = BerReader::new(cmd.data())
            .next()
            .ok_or(Status::WrongLength)?
            .map_err(|_| Status::WrongData)?;
        if tlv.tag() != Tag(0xC1) || tlv.raw().len() != cmd.data().len() || tlv.value().is_empty() {
            return Err(Status::WrongData);
        }
        reply.push(&sm3(tlv.value()))
    }

    /// `00 20 01 <81 user | 00 admin> 10 <SM4-ECB(K, challenge)>` with K = SM3(PIN)[0..16]
    /// and the last challenge padded with 00 to 16 bytes. Try counter decremented and
    /// committed before the comparison.
    fn verify(&mut self, cmd: &CommandView<'_>) -> Result<()> {
        let pin_ref = match cmd.p2() {
            0x81 => USER_PIN,
            0x00 => ADMIN_PIN,
            _ => return Err(Status::WrongP1P2),
        };
        let pin = find_secret(
            self.auth.fs.store,
            self.auth.fs.header,
            self.auth.fs.state.current_df,
            SecretKind::Pin,
            pin_ref,
            |_| true,
        )?
        .ok_or(Status::ReferencedDataNotFound)?;
        if cmd.data().is_empty() {
            return if pin.is_blocked() {
                Err(Status::AuthMethodBlocked)
            } else {
                Err(Status::RemainingTries(pin.tries_left))
            };
        }
        if cmd.lc() != 16 {
            return Err(Status::WrongLength);
        }
        if pin.is_blocked() {
            return Err(Status::AuthMethodBlocked);
        }
        let (challenge, n) = self.auth.take_challenge()?;
        let mut block = Zeroizing::new([0u8; 16]);
        block
            .get_mut(..n.min(16))
            .ok_or(Status::ReferencedDataInvalid)?
            .copy_from_slice(challenge.get(..n.min(16)).unwrap_or(&[]));
        let tries_at = self
            .auth
            .fs
            .header
            .secret_at(pin.index)
            .ok_or(Status::MemoryFailure)?
            + OFF_TRIES_LEFT;
        let left = pin.tries_left.saturating_sub(1);
        if pin.try_limit != 0 {
            self.auth.fs.store.atomic(|s| s.write(tries_at, &[left]))?;
        }
        let cipher = CardCipher::new(Algorithm::Sm4, pin.value())
            .map_err(|_| Status::ReferencedDataNotFound)?;
        cipher
            .encrypt_block(&mut block[..])
            .map_err(|_| Status::MemoryFailure)?;
        if mac_matches(&block[..], cmd.data()) {
            let limit = pin.try_limit;
            if limit != 0 {
                self.auth.fs.store.atomic(|s| s.write(tries_at, &[limit]))?;
            }
            self.auth.fs.security.grant_pin(pin_ref, pin.owner);
            Ok(())
        } else {
            self.auth.fs.security.revoke_pin(pin_ref);
            Err(Status::RemainingTries(left))
        }
    }

    /// `80 40 00 00 08 C0 02 <pub FID> C2 02 <priv FID>`: generates an SM2 key pair on the
    /// card into one of the application's key-pair slots whose policy allows generation
    /// (`6985` for any other target). Needs the user or administrator PIN (`6982`).
    fn generate(&mut self, cmd: &CommandView<'_>) -> Result<()> {
        if cmd.p1p2() != 0 {
            return Err(Status::WrongP1P2);
        }
        let (public_fid, private_fid) = key_pair_fids(cmd.data())?;
        self.require_pin(&[USER_PIN, ADMIN_PIN])?;
        let slot = self.keys.pair(public_fid, private_fid)?;
        if !slot.policy.generate {
            return Err(Status::ConditionsNotSatisfied);
        }
        let (public, private) = self.slot_files(&slot)?;
        let pair = {
            let rng = &mut *self.auth.rng;
            Sm2KeyPair::generate(|b| rng.fill(b)).map_err(|_| Status::MemoryFailure)?
        };
        self.store_pair(&public, &private, &pair)
    }

    /// The two files of a slot. The private one must be unreachable by file commands: a
    /// key object, or (images personalized before key objects existed) an EF that nobody
    /// may read or write. A file anyone could read never receives a private key.
    fn slot_files(&self, slot: &KeySlot) -> Result<(FileEntry, FileEntry)> {
        let public = self.file(slot.public)?;
        let private = self.file(slot.private)?;
        let sealed = private.read == Access::Never && private.write == Access::Never;
        if !private.flags.contains(FileFlags::KEY_OBJECT) && !sealed {
            return Err(Status::ConditionsNotSatisfied);
        }
        Ok((public, private))
    }

    fn store_pair(
        &mut self,
        public: &FileEntry,
        private: &FileEntry,
        pair: &Sm2KeyPair,
    ) -> Result<()> {
        let mut pub_rec = [0u8; 66];
        pub_rec[0] = 0xCA;
        pub_rec[1] = 0x40;
        pub_rec[2..].copy_from_slice(pair.public_key_xy());
        let secret = pair.secret_bytes();
        let mut priv_rec = Zeroizing::new([0u8; 34]);
        let rec: &mut [u8; 34] = &mut priv_rec;
        rec[0] = 0xCB;
        rec[1] = 0x20;
        rec[2..].copy_from_slice(&secret[..]);
        if (public.body_len as usize) < pub_rec.len()
            || (private.body_len as usize) < priv_rec.len()
        {
            return Err(Status::NotEnoughMemory);
        }
        let (pa, sa) = (public.body_at as usize, private.body_at as usize);
        self.auth.fs.store.atomic(|s| {
            s.write(pa, &pub_rec)?;
            s.write(sa, &priv_rec[..])
        })?;
        Ok(())
    }

    /// `80 C9 82 80 Le`: the signature public key `CA 40 X‖Y`; with data
    /// `C0 02 <pub> C2 02 <priv>` (P1 P2 = 82 00): checks that the pair exists.
    fn read_public_key(&mut self, cmd: &CommandView<'_>, reply: &mut Writer<'_>) -> Result<()> {
        let fid = match (cmd.p1(), cmd.p2(), cmd.data().is_empty()) {
            (0x82, 0x80, true) => SIGN_PUBLIC,
            (0x82, 0x00, false) => key_pair_fids(cmd.data())?.0,
            _ => return Err(Status::WrongP1P2),
        };
        let file = self.file(fid)?;
        let mut rec = [0u8; 66];
        self.auth.fs.store.read(file.body_at as usize, &mut rec)?;
        if rec[0] != 0xCA {
            return Err(Status::ReferencedDataNotFound); // no key generated yet
        }
        if cmd.data().is_empty() {
            reply.push(&rec)
        } else {
            Ok(())
        }
    }

    /// `80 C2 40 00 Lc C0 02 <FID> CA 40 <X‖Y>` imports a public key; `80 C2 C0 01 Lc
    /// C2 02 <FID> CB 20 <d>` a private key, which must match the public key already in
    /// the pair's public file. Only into the public or private file of a key-pair slot
    /// whose policy allows import (`6985` otherwise). Needs the administrator PIN.
    fn import_key(&mut self, cmd: &CommandView<'_>) -> Result<()> {
        self.require_pin(&[ADMIN_PIN])?;
        let mut items = BerReader::new(cmd.data());
        let target = items
            .next()
            .ok_or(Status::WrongData)?
            .map_err(|_| Status::WrongData)?;
        let key = items
            .next()
            .ok_or(Status::WrongData)?
            .map_err(|_| Status::WrongData)?;
        if items.next().is_some() {
            return Err(Status::WrongData);
        }
        let fid = match target.value() {
            [a, b] => u16::from_be_bytes([*a, *b]),
            _ => return Err(Status::WrongData),
        };
        match (cmd.p1(), target.tag(), key.tag()) {
            // spec/ssc.md §9 item 4: `80C2400046 C0020014 CA40 X‖Y`, the public half.
            (0x40, Tag(0xC0), Tag(0xCA)) => {
                let slot = self.importable(fid, false)?;
                let xy: &[u8; 64] = key.value().try_into().map_err(|_| Status::WrongData)?;
                if !sm2_public_key_is_valid(xy) {
                    return Err(Status::WrongData);
                }
                let (file, _) = self.slot_files(&slot)?;
                let at = file.body_at as usize;
                let raw = key.raw();
                if (file.body_len as usize) < raw.len() {
                    return Err(Status::NotEnoughMemory);
                }
                self.auth.fs.store.atomic(|s| s.write(at, raw))?;
                Ok(())
            }
            // spec/ssc.md §9 item 4: `80C2C00126 C2020015 CB20 d`, the private half,
            // after its public half.
            (0xC0, Tag(0xC2), Tag(0xCB)) => {
                let slot = self.importable(fid, true)?;
                let d: &[u8; 32] = key.value().try_into().map_err(|_| Status::WrongData)?;
                let pair = Sm2KeyPair::from_secret_bytes(d).map_err(|_| Status::WrongData)?;
                let (public, private) = self.slot_files(&slot)?;
                let mut rec = [0u8; 66];
                self.auth.fs.store.read(public.body_at as usize, &mut rec)?;
                if rec[0] != 0xCA || rec[2..] != pair.public_key_xy()[..] {
                    return Err(Status::WrongData);
                }
                self.store_pair(&public, &private, &pair)
            }
            _ => Err(Status::WrongP1P2),
        }
    }

    /// The slot holding `fid` as its public or private file, if import may fill it.
    fn importable(&self, fid: u16, private: bool) -> Result<KeySlot> {
        let slot = self.keys.holding(fid, private)?;
        if slot.policy.import {
            Ok(slot)
        } else {
            Err(Status::ConditionsNotSatisfied)
        }
    }

    /// `00 2A 9E 9A Lc <data> 00`: SM2 signature (r‖s, 64 bytes) over the data with the
    /// signature private key and the default ID; needs the user PIN.
    fn sign(&mut self, cmd: &CommandView<'_>, reply: &mut Writer<'_>) -> Result<()> {
        if cmd.data().is_empty() {
            return Err(Status::WrongLength);
        }
        self.require_pin(&[USER_PIN])?;
        let private = self.file(SIGN_PRIVATE)?;
        let mut rec = Zeroizing::new([0u8; 34]);
        self.auth
            .fs
            .store
            .read(private.body_at as usize, &mut rec[..])?;
        let rec: &[u8; 34] = &rec;
        if rec[0] != 0xCB {
            return Err(Status::ReferencedDataNotFound);
        }
        let d: &[u8; 32] = rec[2..].try_into().map_err(|_| Status::MemoryFailure)?;
        let pair = Sm2KeyPair::from_secret_bytes(d).map_err(|_| Status::MemoryFailure)?;
        let sig = pair
            .sign(SM2_DEFAULT_ID, cmd.data())
            .map_err(|_| Status::MemoryFailure)?;
        reply.push(&sig)
    }
}

/// Parses `C0 02 <pub FID> C2 02 <priv FID>`.
fn key_pair_fids(data: &[u8]) -> Result<(u16, u16)> {
    match data {
        [0xC0, 0x02, a, b, 0xC2, 0x02, c, d] => {
            Ok((u16::from_be_bytes([*a, *b]), u16::from_be_bytes([*c, *d])))
        }
        _ => Err(Status::WrongData),
    }
}
