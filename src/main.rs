//! The `sscard` command line. Every error is one line on stderr and a non-zero exit.

use clap::{Parser, Subcommand, ValueEnum};
use sscard_core::card::applet::Interface;
use sscard_host::link::CardLink;
use sscard_host::profile::Profile;
use sscard_host::script::{Script, StepReport};
use sscard_vcard::control::{Bench, ControlServer, InterfaceArg, Request};
use sscard_vcard::image::{CardKind, ImageFile, Origin};
use sscard_vcard::trace::{TraceFormat, Tracer};
use sscard_vcard::virtual_card::{CardError, HostRng, PsamVirtualCard, ServedKind, SscVirtualCard};
use sscard_vcard::vpcd::{Slot, SlotConfig};
use std::io::{IsTerminal, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod terminal_cmd;

#[derive(Parser)]
#[command(
    name = "sscard",
    version,
    about = "Emulator of China's third-generation social security card (社会保障卡)"
)]
struct Cli {
    /// More log output (-v debug, -vv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only warnings and errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum TraceFormatArg {
    Text,
    Json,
}

#[derive(clap::Args)]
struct CardArgs {
    /// Personalization profile (TOML); default: the built-in gen-3 card.
    #[arg(long, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Keep the card's persistent state in this image file (created from the profile
    /// when missing; saved after every command that changes the card). With several
    /// cards, put `{slot}` in the name.
    #[arg(long, value_name = "FILE")]
    image: Option<PathBuf>,
    /// Interface the card is powered through.
    #[arg(long, value_enum, default_value = "contact")]
    interface: InterfaceArg,
    /// Seed for the card's random numbers (default: the operating system's randomness).
    #[arg(long)]
    seed: Option<u64>,
    /// Write an APDU trace to FILE (appended) or `-` (stdout).
    #[arg(long, value_name = "FILE|-")]
    trace: Option<String>,
    /// Trace format.
    #[arg(long, value_enum, default_value = "text")]
    trace_format: TraceFormatArg,
}

#[derive(Subcommand)]
enum Command {
    /// The national terminal interface's card functions (iReadCardBas, iDoDebit, …) on a
    /// card, in PSAM mode (--psam-reader) or HSM mode (the profile's keys).
    Terminal {
        #[command(flatten)]
        args: terminal_cmd::TerminalArgs,
        #[command(subcommand)]
        function: terminal_cmd::Function,
    },
    /// Personalize the default card and run an iReadCardBas terminal session in-process.
    Demo {
        /// Profile to use instead of the built-in default gen-3 card.
        #[arg(long)]
        profile: Option<PathBuf>,
        /// Seed of the card's and the terminal's random numbers.
        #[arg(long, default_value_t = 2025)]
        seed: u64,
    },
    /// Serve the card in a vpcd reader slot of pcscd (PC/SC), until Ctrl-C / SIGTERM.
    Run {
        #[command(flatten)]
        card: CardArgs,
        /// vpcd address: slot N connects to PORT + N.
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:35963")]
        vpcd: String,
        /// Reader slot (repeat for several cards: `--slot 0 --slot 1`).
        #[arg(long, value_name = "N")]
        slot: Vec<u8>,
        /// Serve N cards on slots 0..N-1.
        #[arg(long, value_name = "N", conflicts_with = "slot")]
        cards: Option<u8>,
        /// Listen for test-bench commands (docs/control.md) on this Unix socket; with
        /// several cards, put `{slot}` in the name.
        #[arg(long, value_name = "PATH")]
        control: Option<PathBuf>,
        /// Serve a shipped persona (`sscard personas`) instead of a profile, in memory.
        #[arg(long, value_name = "NAME", conflicts_with_all = ["profile", "image"])]
        persona: Option<String>,
        /// Serve a PSAM beside the card: the card in slot 0, the PSAM in slot 1 ("Virtual
        /// PCD 00 01"), for `sscard terminal --psam-reader` and other PSAM-mode terminals.
        /// With --control, only the card takes test-bench commands.
        #[arg(long, conflicts_with_all = ["slot", "cards"])]
        psam: bool,
        /// The PSAM of this profile's `[psam]` (default: that of the card's profile, which
        /// holds the roots of the card's keys).
        #[arg(long, value_name = "FILE", requires = "psam")]
        psam_profile: Option<PathBuf>,
    },
    /// List the shipped personas, one line each.
    Personas,
    /// Send one test-bench command to a card served with `run --control`.
    Ctl {
        /// The card's control socket.
        #[arg(long, value_name = "PATH")]
        control: PathBuf,
        #[command(subcommand)]
        action: Request,
    },
    /// Run APDU scripts (`vectors/README.md`; scriptor files too) on an in-process card,
    /// or on the card in a PC/SC reader with --reader.
    Script {
        /// Script files, run in order.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        card: CardArgs,
        /// PC/SC reader to run against (name, or a unique part of it) instead of an
        /// in-process card. Needs a build with the `pcsc` feature.
        #[arg(long, value_name = "NAME")]
        reader: Option<String>,
        /// With --reader: the served card's control socket (`sscard run --control`), which
        /// plays the scripts' fault directives (tear-at, delay, answer-sw, remove, insert).
        #[arg(long, value_name = "PATH", requires = "reader")]
        control: Option<PathBuf>,
        /// Run every step even after a failure.
        #[arg(long)]
        keep_going: bool,
    },
    /// Work with personalization profiles.
    Profile {
        #[command(subcommand)]
        action: ProfileAction,
    },
    /// Work with card images.
    Image {
        #[command(subcommand)]
        action: ImageAction,
    },
}

fn cmd_ctl(control: &Path, action: Request) -> Result<(), String> {
    let answer = sscard_vcard::control::request(control, &action)
        .map_err(|e| format!("{}: {e}", control.display()))?;
    if answer.get("ok") == Some(&serde_json::Value::Bool(true)) {
        // A closed pipe (`| head`) is the reader's choice, not an error of the card.
        let _ = writeln!(std::io::stdout(), "{answer}");
        Ok(())
    } else {
        Err(answer
            .get("error")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("the card refused the request")
            .to_string())
    }
}

#[derive(Subcommand)]
enum ProfileAction {
    /// Validate a profile, pointing at the bad field.
    Check {
        /// The profile (TOML).
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum ImageAction {
    /// Check an image and say where it came from.
    Info {
        /// The image.
        file: PathBuf,
    },
    /// Create an image from a profile (refuses to overwrite).
    Create {
        /// The image to create.
        file: PathBuf,
        /// Profile (default: the built-in gen-3 card).
        #[arg(long)]
        profile: Option<PathBuf>,
    },
    /// Write the raw card memory of an image (no header, no metadata): what firmware
    /// loads into its NVM, e.g. with `include_bytes!` (refuses to overwrite).
    ExportNvm {
        /// The image.
        file: PathBuf,
        /// The raw memory to write.
        out: PathBuf,
    },
}

fn load_profile(path: Option<&PathBuf>) -> Result<Profile, String> {
    match path {
        Some(p) => Profile::load(p).map_err(|e| format!("{}: {e}", p.display())),
        None => Ok(Profile::default_gen3()),
    }
}

fn rng(seed: Option<u64>) -> HostRng {
    seed.map_or_else(HostRng::os, HostRng::seeded)
}

fn tracer(args: &CardArgs) -> Result<Option<Tracer>, String> {
    let format = match args.trace_format {
        TraceFormatArg::Text => TraceFormat::Text,
        TraceFormatArg::Json => TraceFormat::Json,
    };
    let sink: Box<dyn std::io::Write + Send> = match args.trace.as_deref() {
        None => return Ok(None),
        Some("-") => Box::new(std::io::stdout()),
        Some(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("trace file {path}: {e}"))?,
        ),
    };
    Ok(Some(Tracer::new(sink, format)))
}

/// The image of a `kind` card at `path` (created from the profile when missing) and a
/// line saying what it is.
fn open_image(
    kind: CardKind,
    path: &Path,
    profile: &Profile,
    profile_given: bool,
) -> Result<(ImageFile, Vec<u8>, String), String> {
    let (file, body, origin) = ImageFile::open_or_create_as(kind, path, profile, profile_given)
        .map_err(|e| e.to_string())?;
    let what = format!(
        "image {} ({}; {})",
        path.display(),
        match origin {
            Origin::Loaded => "loaded",
            Origin::Created => "created",
        },
        sscard_vcard::image::describe(file.meta())
    );
    Ok((file, body, what))
}

/// How a served card of one kind is made: from its image file, or fresh from a profile
/// (its kind is `C::KIND`).
struct CardSource<C> {
    with_image: fn(ImageFile, Vec<u8>, HostRng, Interface) -> Result<C, CardError>,
    from_profile: fn(&Profile, HostRng, Interface) -> Result<C, CardError>,
}

/// Builds a card of `source`: from its image (created from the profile when missing)
/// or, without an image, fresh from the profile; also says where it came from.
fn build_served<C: ServedKind>(
    source: CardSource<C>,
    seed: Option<u64>,
    interface: Interface,
    profile: &Profile,
    profile_given: bool,
    image: Option<&Path>,
) -> Result<(C, String), String> {
    match image {
        Some(path) => {
            let (file, body, what) = open_image(C::KIND, path, profile, profile_given)?;
            let card =
                (source.with_image)(file, body, rng(seed), interface).map_err(|e| e.to_string())?;
            Ok((card, what))
        }
        None => {
            let card =
                (source.from_profile)(profile, rng(seed), interface).map_err(|e| e.to_string())?;
            let of = match C::KIND {
                CardKind::User => "profile",
                CardKind::Psam => "PSAM of profile",
            };
            Ok((card, format!("{of} '{}' (in memory only)", profile.label())))
        }
    }
}

/// Builds one card with [`build_served`], on the interface of `args`.
fn build_card(
    args: &CardArgs,
    profile: &Profile,
    image: Option<&Path>,
) -> Result<(SscVirtualCard, String), String> {
    let given = args.profile.is_some();
    let interface = args.interface.into();
    let source = CardSource {
        with_image: SscVirtualCard::with_image,
        from_profile: SscVirtualCard::from_profile,
    };
    let (mut card, what) = build_served(source, args.seed, interface, profile, given, image)?;
    // An image keeps no UID: the reader's view of the card comes from the profile.
    card.set_uid(profile.uid());
    Ok((card, what))
}

/// Builds the PSAM of `profile`'s `[psam]` with [`build_served`]; always on the contact
/// interface, as in a terminal's SAM slot.
fn build_psam(
    args: &CardArgs,
    profile: &Profile,
    profile_given: bool,
    image: Option<&Path>,
) -> Result<(PsamVirtualCard, String), String> {
    let source = CardSource {
        with_image: PsamVirtualCard::with_image,
        from_profile: PsamVirtualCard::from_profile,
    };
    let contact = Interface::Contact;
    build_served(source, args.seed, contact, profile, profile_given, image)
}

/// Refuses a file that already exists: the image commands never overwrite one.
fn refuse_overwrite(path: &Path) -> Result<(), String> {
    if path.exists() {
        Err(format!("{}: exists; not overwritten", path.display()))
    } else {
        Ok(())
    }
}

/// The file of slot `slot` for option `--flag` (`{slot}` replaced); several cards must
/// not share one.
fn path_for_slot(
    flag: &str,
    path: Option<&PathBuf>,
    slot: u8,
    cards: usize,
) -> Result<Option<PathBuf>, String> {
    let Some(path) = path else { return Ok(None) };
    let text = path.to_string_lossy();
    if text.contains("{slot}") {
        return Ok(Some(PathBuf::from(
            text.replace("{slot}", &slot.to_string()),
        )));
    }
    if cards > 1 {
        return Err(format!(
            "{cards} cards cannot share one {flag}: put {{slot}} in --{flag} (e.g. card-{{slot}}.{})",
            if flag == "image" { "img" } else { "sock" }
        ));
    }
    Ok(Some(path.clone()))
}

/// Where `sscard run` takes its card from besides the common card options.
struct Serve<'a> {
    vpcd: &'a str,
    slots: Vec<u8>,
    cards: Option<u8>,
    control: Option<&'a PathBuf>,
    persona: Option<&'a str>,
    /// Serve a PSAM in slot 1, from this profile (`None`: the card's).
    psam: Option<Option<&'a PathBuf>>,
}

/// The vpcd address of slot `slot`, announced on stderr with what it serves.
fn slot_address(base: SocketAddr, slot: u8, what: &str) -> Result<SocketAddr, String> {
    let port = base
        .port()
        .checked_add(u16::from(slot))
        .ok_or_else(|| format!("slot {slot}: port beyond 65535"))?;
    let addr = SocketAddr::new(base.ip(), port);
    eprintln!(
        "sscard: slot {slot}: {what}; vpcd {addr} (reader \"Virtual PCD 00 {slot:02X}\" on a local pcscd)"
    );
    Ok(addr)
}

fn cmd_run(args: &CardArgs, serve: Serve<'_>) -> Result<(), String> {
    let Serve {
        vpcd,
        slots,
        cards,
        control,
        persona,
        psam,
    } = serve;
    let base: SocketAddr = vpcd
        .to_socket_addrs()
        .map_err(|e| format!("--vpcd {vpcd}: {e}"))?
        .next()
        .ok_or_else(|| format!("--vpcd {vpcd}: no address"))?;
    let slots: Vec<u8> = match (slots.is_empty(), cards) {
        (_, Some(0)) => return Err("--cards must be at least 1".into()),
        (_, Some(n)) => (0..n).collect(),
        (true, None) => vec![0],
        (false, None) => slots,
    };
    // The PSAM's slot counts for the image and trace names, not for the control socket:
    // only the card takes test-bench commands.
    let served_cards = slots.len() + usize::from(psam.is_some());
    let mut unique = slots.clone();
    unique.sort_unstable();
    unique.dedup();
    if unique.len() != slots.len() {
        return Err("each --slot may be given once".into());
    }
    let profile = load_profile(args.profile.as_ref())?;
    let trace = tracer(args)?;
    // Made before any card is served, so a bad --psam-profile or PSAM image stops nothing
    // half-started.
    const PSAM_SLOT: u8 = 1;
    let psam = match psam {
        Some(path) => {
            let psam_profile = path.map(|p| load_profile(Some(p))).transpose()?;
            let image = path_for_slot("image", args.image.as_ref(), PSAM_SLOT, served_cards)?;
            let (mut card, what) = build_psam(
                args,
                psam_profile.as_ref().unwrap_or(&profile),
                psam_profile.is_some(),
                image.as_deref(),
            )?;
            if let Some(t) = &trace {
                card.set_tracer(t.with_source(&format!("slot {PSAM_SLOT}")));
            }
            Some((card, what))
        }
        None => None,
    };
    let mut running = Vec::new();
    let mut servers = Vec::new();
    for &slot in &slots {
        let image = path_for_slot("image", args.image.as_ref(), slot, served_cards)?;
        let (mut card, what) = match persona {
            Some(name) => {
                let p = sscard_vcard::personas::build(name, rng(args.seed))?;
                (p.card, format!("persona {name} (in memory only)"))
            }
            None => build_card(args, &profile, image.as_deref())?,
        };
        if let Some(t) = &trace {
            card.set_tracer(t.with_source(&format!("slot {slot}")));
        }
        let addr = slot_address(base, slot, &what)?;
        let vpcd_slot = Slot::new(SlotConfig::new(addr));
        let served: Box<dyn sscard_vcard::VirtualCard> =
            match path_for_slot("control", control, slot, slots.len())? {
                Some(path) => {
                    let bench = Bench::new(card, vpcd_slot.handle(), args.seed);
                    let server = ControlServer::start(&path, std::sync::Arc::clone(&bench))
                        .map_err(|e| format!("slot {slot}: control {}: {e}", path.display()))?;
                    eprintln!("sscard: slot {slot}: control socket {}", path.display());
                    servers.push(server);
                    Box::new(bench.served())
                }
                None => Box::new(card),
            };
        let handle = vpcd_slot
            .spawn(served)
            .map_err(|e| format!("slot {slot}: cannot start: {e}"))?;
        running.push(handle);
    }
    if let Some((card, what)) = psam {
        let addr = slot_address(base, PSAM_SLOT, &what)?;
        let served: Box<dyn sscard_vcard::VirtualCard> = Box::new(card);
        let handle = Slot::new(SlotConfig::new(addr))
            .spawn(served)
            .map_err(|e| format!("slot {PSAM_SLOT}: cannot start: {e}"))?;
        running.push(handle);
    }
    eprintln!(
        "sscard: serving {} card(s); stop with Ctrl-C",
        running.len()
    );
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let signal = signals.forever().next();
    eprintln!(
        "sscard: {} received; removing the card(s)",
        match signal {
            Some(signal_hook::consts::SIGTERM) => "SIGTERM",
            _ => "SIGINT",
        }
    );
    for slot in running {
        // The card's state is already on disk: it is saved after every change.
        if slot.stop().is_err() {
            return Err("a card thread panicked".into());
        }
    }
    drop(servers);
    eprintln!("sscard: stopped");
    Ok(())
}

/// The card in a PC/SC reader, as a script target.
fn reader_target(name: &str, control: Option<&Path>) -> Result<Box<dyn CardLink>, String> {
    #[cfg(feature = "pcsc")]
    {
        let mut reader =
            sscard_host::pcsc_target::PcscTarget::connect(name).map_err(|e| e.to_string())?;
        eprintln!("sscard: reader \"{}\"", reader.reader_name());
        if let Some(path) = control {
            reader.set_fault_hook(sscard_vcard::control::fault_hook(path.to_path_buf()));
        }
        Ok(Box::new(reader))
    }
    #[cfg(not(feature = "pcsc"))]
    {
        let _ = control;
        Err(format!(
            "--reader {name}: this sscard was built without PC/SC support; rebuild with \
             `cargo install --features pcsc` (needs libpcsclite-dev)"
        ))
    }
}

fn cmd_script(
    files: &[PathBuf],
    args: &CardArgs,
    reader: Option<&str>,
    control: Option<&Path>,
    keep_going: bool,
    quiet: bool,
) -> Result<(), String> {
    let scripts = files
        .iter()
        .map(|f| Script::load(f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let mut target = match reader {
        Some(name) => {
            if args.profile.is_some() || args.image.is_some() {
                return Err(
                    "--reader runs on the card in that reader: drop --profile/--image".into(),
                );
            }
            Some(reader_target(name, control)?)
        }
        None => None,
    };
    let trace = tracer(args)?;
    let (mut commands, mut failures) = (0usize, 0usize);
    let interactive = std::io::stderr().is_terminal();
    for script in &scripts {
        // In-process, each script gets a fresh card (or the shared image, in order).
        let mut fresh;
        let target: &mut dyn CardLink = match target.as_mut() {
            Some(t) => t.as_mut(),
            None => {
                let profile = match (&args.profile, &script.profile) {
                    (Some(p), _) | (None, Some(p)) => load_profile(Some(p))?,
                    (None, None) => Profile::default_gen3(),
                };
                let (mut card, _) = build_card(args, &profile, args.image.as_deref())?;
                if let Some(t) = &trace {
                    card.set_tracer(t.with_source(&script.name()));
                }
                // The fault directives: delay, status word, removal played here, tear-at
                // by the card.
                fresh = sscard_host::link::Faulty::new(card);
                fresh
                    .power_on()
                    .map_err(|e| format!("{}: {e}", script.name()))?;
                &mut fresh
            }
        };
        let name = script.name();
        let total = script.steps.len();
        let mut done = 0usize;
        let mut progress = |r: &StepReport| {
            done += 1;
            match (&r.failure, quiet) {
                (Some(why), _) => {
                    eprintln!("FAIL {name}:{} {}\n     {why}", r.line, r.summary);
                }
                (None, false) => println!("  ok {name}:{} {}", r.line, r.summary),
                (None, true) if interactive => eprint!("\r{name}: {done}/{total}"),
                (None, true) => {}
            }
        };
        let outcome = sscard_host::script::run(script, target, keep_going, &mut progress);
        if quiet && interactive {
            eprintln!();
        }
        commands += outcome.commands;
        failures += outcome.failures.len();
        println!(
            "{name}: {} — {} steps, {} commands, {} failed",
            if outcome.passed() { "PASS" } else { "FAIL" },
            outcome.steps,
            outcome.commands,
            outcome.failures.len()
        );
        if !outcome.passed() && !keep_going {
            break;
        }
    }
    if failures > 0 {
        return Err(format!(
            "{failures} step(s) failed ({commands} commands sent)"
        ));
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => tracing::Level::WARN,
        (false, 0) => tracing::Level::INFO,
        (false, 1) => tracing::Level::DEBUG,
        (false, _) => tracing::Level::TRACE,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let result = match cli.command {
        Command::Terminal { args, function } => terminal_cmd::run(&args, &function),
        Command::Demo { profile, seed } => load_profile(profile.as_ref())
            .and_then(|p| {
                println!(
                    "sscard demo: generation {:?} card, iReadCardBas session",
                    p.generation()
                );
                sscard_host::demo::run(&p, seed, true).map_err(|e| e.to_string())
            })
            .map(|out| println!("\niReadCardBas: {out}")),
        Command::Run {
            card,
            vpcd,
            slot,
            cards,
            control,
            persona,
            psam,
            psam_profile,
        } => cmd_run(
            &card,
            Serve {
                vpcd: &vpcd,
                slots: slot,
                cards,
                control: control.as_ref(),
                persona: persona.as_deref(),
                psam: psam.then_some(psam_profile.as_ref()),
            },
        ),
        Command::Personas => {
            for (name, summary) in sscard_vcard::personas::PERSONAS {
                println!("{name:<17} {summary}");
            }
            Ok(())
        }
        Command::Ctl { control, action } => cmd_ctl(&control, action),
        Command::Script {
            files,
            card,
            reader,
            control,
            keep_going,
        } => cmd_script(
            &files,
            &card,
            reader.as_deref(),
            control.as_deref(),
            keep_going,
            cli.quiet,
        ),
        Command::Profile {
            action: ProfileAction::Check { file },
        } => Profile::load(&file)
            .map(|p| {
                println!(
                    "{}: valid generation {:?} profile ({:?})",
                    file.display(),
                    p.generation(),
                    p.algorithm()
                )
            })
            .map_err(|e| format!("{}: {e}", file.display())),
        Command::Image {
            action: ImageAction::Info { file },
        } => ImageFile::load(&file)
            .map(|(f, body)| {
                println!(
                    "{}: valid image, {} bytes of card memory, {}",
                    file.display(),
                    body.len(),
                    sscard_vcard::image::describe(f.meta())
                )
            })
            .map_err(|e| format!("{}: {e}", file.display())),
        Command::Image {
            action: ImageAction::Create { file, profile },
        } => refuse_overwrite(&file)
            .and_then(|()| load_profile(profile.as_ref()))
            .and_then(|p| {
                ImageFile::open_or_create(&file, &p, true)
                    .map(|_| println!("{}: created from profile '{}'", file.display(), p.label()))
                    .map_err(|e| e.to_string())
            }),
        Command::Image {
            action: ImageAction::ExportNvm { file, out },
        } => refuse_overwrite(&out)
            .and_then(|()| ImageFile::load(&file).map_err(|e| format!("{}: {e}", file.display())))
            .and_then(|(_, body)| {
                sscard_vcard::image::write_atomically(&out, &body)
                    .map_err(|e| format!("{}: {e}", out.display()))?;
                println!(
                    "{}: {} bytes of card memory from {}",
                    out.display(),
                    body.len(),
                    file.display()
                );
                Ok(())
            }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sscard: {e}");
            ExitCode::FAILURE
        }
    }
}
