//! Applets: applications selected by AID that run beside the file system (the PBOC
//! financial application), behind the firewall.
//!
//! An applet never sees the file system, the keys or the PINs of the social-security
//! environment: it gets an [`AppletContext`] bounded to its own NVM region (LD/T 32 P4
//! §5.5 / §6.1: the environments are isolated by an application firewall). Selecting an
//! applet ends the social-security security state, and selecting a DF deselects the
//! applet, whose `deselect` must clear its own.

use super::call::Call;
use crate::nvm::{Nvm, NvmError, Store, Transactional};
use crate::rng::CardRng;
use crate::status::{Result, Status};

/// A command for an [`Applet`]: it acts in its own NVM region.
pub type AppletCall<'a, 'w, N> = Call<'a, 'w, AppletContext<'a, N>>;

/// The interface the card is powered through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interface {
    /// ISO 7816-3 contacts (T=0).
    Contact,
    /// ISO 14443-4 (T=CL).
    Contactless,
}

/// What an applet may touch while it runs: its own NVM region (through transactions),
/// randomness and the interface.
pub struct AppletContext<'a, N: Nvm> {
    store: &'a mut Store<N>,
    region_at: usize,
    region_len: usize,
    rng: &'a mut dyn CardRng,
    interface: Interface,
}

impl<'a, N: Nvm> AppletContext<'a, N> {
    pub(crate) fn new(
        store: &'a mut Store<N>,
        region: (usize, usize),
        rng: &'a mut dyn CardRng,
        interface: Interface,
    ) -> Self {
        AppletContext {
            store,
            region_at: region.0,
            region_len: region.1,
            rng,
            interface,
        }
    }

    /// Size of the applet's region.
    pub fn region_len(&self) -> usize {
        self.region_len
    }

    /// The interface the card is powered through.
    pub fn interface(&self) -> Interface {
        self.interface
    }

    fn bounds(&self, offset: usize, len: usize) -> core::result::Result<usize, NvmError> {
        let end = offset.checked_add(len).ok_or(NvmError::OutOfRange)?;
        if end > self.region_len {
            return Err(NvmError::OutOfRange);
        }
        Ok(self.region_at + offset)
    }

    /// Reads from the region (seeing the open transaction).
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> core::result::Result<(), NvmError> {
        let at = self.bounds(offset, buf.len())?;
        self.store.read(at, buf)
    }

    /// Buffers a write to the region in the open transaction.
    pub fn write(&mut self, offset: usize, data: &[u8]) -> core::result::Result<(), NvmError> {
        let at = self.bounds(offset, data.len())?;
        self.store.write(at, data)
    }

    /// Opens a transaction (see [`Store::begin`]).
    pub fn begin(&mut self) -> core::result::Result<(), NvmError> {
        self.store.begin()
    }

    /// Commits the open transaction atomically.
    pub fn commit(&mut self) -> core::result::Result<(), NvmError> {
        self.store.commit()
    }

    /// Drops the open transaction.
    pub fn abort(&mut self) {
        self.store.abort()
    }

    /// Random bytes.
    pub fn random(&mut self, buf: &mut [u8]) {
        self.rng.fill(buf)
    }
}

impl<N: Nvm> Transactional for AppletContext<'_, N> {
    fn begin_transaction(&mut self) -> core::result::Result<(), NvmError> {
        self.begin()
    }
    fn commit_transaction(&mut self) -> core::result::Result<(), NvmError> {
        self.commit()
    }
    fn abort_transaction(&mut self) {
        self.abort()
    }
}

/// An application selected by AID.
pub trait Applet {
    /// The AID of the NVM region personalization reserved for this applet.
    fn region_name(&self) -> &[u8];
    /// If this applet answers SELECT by DF name `name` (possibly partial), the instance
    /// it selects (an applet may own several names, e.g. PSE, PPSE and applications).
    fn claims(&self, name: &[u8], interface: Interface) -> Option<u8>;
    /// Becomes the selected application; writes its FCI into `reply`.
    fn select<N: Nvm>(&mut self, instance: u8, call: AppletCall<'_, '_, N>) -> Result<()>;
    /// Processes one command while selected.
    fn process<N: Nvm>(&mut self, call: AppletCall<'_, '_, N>) -> Result<()>;
    /// Stops being selected: must clear every transient security state.
    fn deselect(&mut self);
}

/// An applet of a set (its index) and the instance it selects for a name.
pub type Claim = (u8, u8);

/// The set of applets a card carries: `()` for none, or a tuple of applets.
pub trait Applets {
    /// Which applet and instance answer to `name`.
    fn claims(&self, name: &[u8], interface: Interface) -> Option<Claim>;
    /// Region name of applet `index`.
    fn region_name(&self, index: u8) -> &[u8];
    /// See [`Applet::select`]: the applet and instance `claim` names.
    fn select<N: Nvm>(&mut self, claim: Claim, call: AppletCall<'_, '_, N>) -> Result<()>;
    /// See [`Applet::process`].
    fn process<N: Nvm>(&mut self, index: u8, call: AppletCall<'_, '_, N>) -> Result<()>;
    /// See [`Applet::deselect`].
    fn deselect(&mut self, index: u8);
}

/// `Applets` for a tuple of applets (`()`: none): the first that claims a name wins; an
/// index no applet has is not found.
macro_rules! applets_for_tuple {
    ($($applet:ident $index:tt),*) => {
        #[allow(unused_variables)] // `()` looks at none of its arguments
        impl<$($applet: Applet),*> Applets for ($($applet,)*) {
            fn claims(&self, name: &[u8], interface: Interface) -> Option<Claim> {
                $(
                    if let Some(instance) = self.$index.claims(name, interface) {
                        return Some(($index, instance));
                    }
                )*
                None
            }
            fn region_name(&self, index: u8) -> &[u8] {
                match index {
                    $($index => self.$index.region_name(),)*
                    _ => &[],
                }
            }
            fn select<N: Nvm>(&mut self, claim: Claim, call: AppletCall<'_, '_, N>) -> Result<()> {
                let (index, instance) = claim;
                match index {
                    $($index => self.$index.select(instance, call),)*
                    _ => Err(Status::FileNotFound),
                }
            }
            fn process<N: Nvm>(&mut self, index: u8, call: AppletCall<'_, '_, N>) -> Result<()> {
                match index {
                    $($index => self.$index.process(call),)*
                    _ => Err(Status::InstructionNotSupported),
                }
            }
            fn deselect(&mut self, index: u8) {
                match index {
                    $($index => self.$index.deselect(),)*
                    _ => {}
                }
            }
        }
    };
}

applets_for_tuple!();
applets_for_tuple!(A 0);
applets_for_tuple!(A 0, B 1);
applets_for_tuple!(A 0, B 1, C 2);
