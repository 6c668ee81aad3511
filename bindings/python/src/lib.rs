//! `sscard._sscard`: the Python face of the in-process card ([`sscard_ffi::session`]).
//! The package `sscard` (python/sscard) re-exports it and adds the pyscard-compatible
//! connection (`sscard.pyscard`).

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes};
use sscard_ffi::session::{Error, ErrorKind, Interface, Session, SessionOptions, TraceFormat};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

create_exception!(
    sscard,
    SscardError,
    PyException,
    "Base class of sscard's errors."
);
create_exception!(
    sscard,
    ProfileError,
    SscardError,
    "The profile cannot be read or is invalid."
);
create_exception!(
    sscard,
    ImageError,
    SscardError,
    "The image cannot be read or fails its checks."
);
create_exception!(
    sscard,
    NotPoweredError,
    SscardError,
    "The card is not powered: call power_on() first."
);
create_exception!(
    sscard,
    CardMuteError,
    SscardError,
    "The card gave no response (it lost power because its image could not be saved)."
);

fn to_py(e: Error) -> PyErr {
    match e.kind {
        ErrorKind::InvalidArgument => PyValueError::new_err(e.message),
        ErrorKind::Profile => ProfileError::new_err(e.message),
        ErrorKind::Image => ImageError::new_err(e.message),
        ErrorKind::Io => PyOSError::new_err(e.message),
        ErrorKind::NotPowered => NotPoweredError::new_err(e.message),
        ErrorKind::CardMute => CardMuteError::new_err(e.message),
    }
}

fn trace_format(name: &str) -> PyResult<TraceFormat> {
    match name {
        "text" => Ok(TraceFormat::Text),
        "json" => Ok(TraceFormat::Json),
        other => Err(PyValueError::new_err(format!(
            "trace format {other:?}: 'text' or 'json'"
        ))),
    }
}

/// A social security card in this process.
///
/// ``Card()`` is the default third-generation card (test keys, synthetic holder);
/// ``Card(profile=PATH)`` is personalized from a TOML profile; ``Card(image=PATH)`` is the
/// card kept in an image file (written by ``save_image``, ``sscard image create`` or
/// ``sscard run --image``), read once, or kept up to date with ``persist=True``.
///
/// The card is powered on at creation (``powered=False`` leaves it off). ``seed`` makes
/// its random numbers reproducible; ``contactless=True`` starts it on the contactless
/// interface; ``trace="text"`` or ``"json"`` records every exchange (see ``trace()``).
#[pyclass(module = "sscard", name = "Card")]
struct Card {
    session: Mutex<Session>,
}

impl Card {
    fn session(&self) -> PyResult<MutexGuard<'_, Session>> {
        self.session.lock().map_err(|_| {
            SscardError::new_err("this card stopped after an internal error; make a new one")
        })
    }
}

#[pymethods]
impl Card {
    #[new]
    #[pyo3(signature = (profile=None, image=None, *, seed=None, contactless=false, persist=false, powered=true, trace=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        profile: Option<PathBuf>,
        image: Option<PathBuf>,
        seed: Option<u64>,
        contactless: bool,
        persist: bool,
        powered: bool,
        trace: Option<&str>,
    ) -> PyResult<Self> {
        let options = SessionOptions {
            seed,
            contactless,
            persist,
        };
        let mut session = match (profile, image) {
            (Some(_), Some(_)) => {
                return Err(PyValueError::new_err(
                    "give a profile or an image, not both",
                ));
            }
            (_, None) if persist => {
                return Err(PyValueError::new_err(
                    "persist=True needs an image: the card is saved there",
                ));
            }
            (profile, None) => Session::from_profile(profile.as_deref(), &options),
            (None, Some(image)) => Session::from_image(&image, &options),
        }
        .map_err(to_py)?;
        if let Some(format) = trace {
            session.enable_trace(trace_format(format)?);
        }
        if powered {
            session.power_on().map_err(to_py)?;
        }
        Ok(Card {
            session: Mutex::new(session),
        })
    }

    /// Sends one command APDU (bytes, bytearray or a list of ints); returns
    /// ``(data, sw)``: the response data as bytes and the status word as an int (0x9000).
    /// On the contact interface the card answers as in a PC/SC reader with T=0: case-4
    /// commands give ``0x61xx`` and the data comes with GET RESPONSE.
    fn transmit<'py>(
        &self,
        py: Python<'py>,
        apdu: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyBytes>, u16)> {
        let owned;
        let command: &[u8] = if let Ok(bytes) = apdu.cast::<PyBytes>() {
            bytes.as_bytes()
        } else if let Ok(array) = apdu.cast::<PyByteArray>() {
            owned = array.to_vec();
            &owned
        } else {
            owned = apdu.extract::<Vec<u8>>()?;
            &owned
        };
        let mut session = self.session()?;
        let response = session.transmit(command).map_err(to_py)?;
        let (data, sw) = response.split_at(response.len().saturating_sub(2));
        let sw = match sw {
            [sw1, sw2] => u16::from_be_bytes([*sw1, *sw2]),
            _ => return Err(CardMuteError::new_err("response without a status word")),
        };
        Ok((PyBytes::new(py, data), sw))
    }

    /// Powers the card on (cold reset); returns the ATR.
    fn power_on<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let mut session = self.session()?;
        let atr = session.power_on().map_err(to_py)?;
        Ok(PyBytes::new(py, atr))
    }

    /// Powers the card off: selection, security status and challenge are lost.
    fn power_off(&self) -> PyResult<()> {
        self.session()?.power_off();
        Ok(())
    }

    /// Warm reset (an unpowered card is powered on); returns the ATR.
    fn reset<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let mut session = self.session()?;
        let atr = session.reset().map_err(to_py)?;
        Ok(PyBytes::new(py, atr))
    }

    /// The ATR of the current interface (known while unpowered too).
    #[getter]
    fn atr<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        Ok(PyBytes::new(py, &self.session()?.atr()))
    }

    /// Whether the card is powered.
    #[getter]
    fn powered(&self) -> PyResult<bool> {
        Ok(self.session()?.is_powered())
    }

    /// ``"contact"`` or ``"contactless"``. Setting it moves the card to that interface:
    /// like a card moved between readers, it loses power (call ``power_on()``).
    #[getter]
    fn interface(&self) -> PyResult<&'static str> {
        Ok(match self.session()?.interface() {
            Interface::Contact => "contact",
            Interface::Contactless => "contactless",
        })
    }

    #[setter]
    fn set_interface(&self, name: &str) -> PyResult<()> {
        let interface = match name {
            "contact" => Interface::Contact,
            "contactless" => Interface::Contactless,
            other => {
                return Err(PyValueError::new_err(format!(
                    "interface {other:?}: 'contact' or 'contactless'"
                )));
            }
        };
        self.session()?.set_interface(interface).map_err(to_py)
    }

    /// Writes the card's persistent state to an image file (atomically). ``Card(image=)``
    /// and ``sscard run --image`` load it.
    fn save_image(&self, path: PathBuf) -> PyResult<()> {
        self.session()?.save_image(&path).map_err(to_py)
    }

    /// Starts (or restarts in another format) the trace of exchanges and power events:
    /// ``"text"`` lines for people, ``"json"`` lines for programs. PINs and keys are masked.
    #[pyo3(signature = (format="text"))]
    fn start_trace(&self, format: &str) -> PyResult<()> {
        self.session()?.enable_trace(trace_format(format)?);
        Ok(())
    }

    /// The trace lines recorded since the last call (a str, lines ending in newlines;
    /// empty when tracing is off).
    fn trace(&self) -> PyResult<String> {
        let bytes = self
            .session()?
            .take_trace(usize::MAX)
            .map_err(|_| SscardError::new_err("trace line larger than memory"))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn __repr__(&self) -> PyResult<String> {
        let session = self.session()?;
        Ok(format!(
            "<sscard.Card {} {}>",
            match session.interface() {
                Interface::Contact => "contact",
                Interface::Contactless => "contactless",
            },
            if session.is_powered() {
                "powered"
            } else {
                "unpowered"
            }
        ))
    }
}

/// The sscard card in-process.
#[pymodule]
fn _sscard(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Card>()?;
    m.add("SscardError", py.get_type::<SscardError>())?;
    m.add("ProfileError", py.get_type::<ProfileError>())?;
    m.add("ImageError", py.get_type::<ImageError>())?;
    m.add("NotPoweredError", py.get_type::<NotPoweredError>())?;
    m.add("CardMuteError", py.get_type::<CardMuteError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
