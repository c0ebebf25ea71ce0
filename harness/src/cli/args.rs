//! The raw command line, as clap parses it. Validation into a plan happens
//! in `commands`, so every check has one place and one error.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::qemu::accel::AccelChoice;

#[derive(Debug, Parser)]
#[command(name = "clockstorm", version = crate::build_info::VERSION, about = "Boot QEMU/KVM guests per clocksource, freeze them, and measure what their clocks do")]
pub struct Cli {
    /// Errors, warnings and the final result only: no progress.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More detail: every phase of every guest (repeatable).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Boot one guest per clocksource of a scenario and measure.
    Run(RunArgs),
    /// Benchmark the probe inside one guest per clocksource: a bare read loop
    /// against the probe's sampler, and what the probe costs a CPU-bound task.
    Bench(BenchArgs),
    /// Manage guest kernels.
    #[command(subcommand)]
    Kernel(KernelCommand),
    /// Measure a kernel's clock rules: freeze a guest on a narrow
    /// clocksource for lengths chosen by bisection until every change of
    /// outcome (time kept, whole wraps lost, the clock stops) is known to
    /// within --resolution; writes the kernel's clock profile beside it in
    /// the kernel cache, which the report's model then uses.
    Characterize(CharacterizeArgs),
    /// Scenario files: list the shipped ones, validate files, show a matrix.
    #[command(subcommand)]
    Scenario(ScenarioCommand),
    /// Render the report of an existing results directory.
    Report {
        dir: PathBuf,
        /// What to write: `json` is the versioned report model, as report.json.
        #[arg(long, value_enum, default_value = "terminal")]
        format: ReportFormat,
        /// An earlier results directory of the same scenario: fail (exit 4)
        /// on a metric that got significantly worse, beyond its noise threshold.
        #[arg(long, value_name = "DIR")]
        baseline: Option<PathBuf>,
    },
    /// Join the results directories of the shards of one matrix.
    Merge {
        /// The merged results directory.
        #[arg(long)]
        out: PathBuf,
        /// The shards' results directories.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Refuse (exit 2) shards of different builds (commit, dirty tree,
        /// release) instead of merging them with a warning.
        #[arg(long)]
        refuse_mixed_builds: bool,
    },
    /// Print the clock events (watchdog, clocksource, lockups, RCU stalls…)
    /// found in a console log, dmesg output or /var/log/messages.
    Events {
        /// Log file; `-` or nothing reads standard input.
        file: Option<String>,
        /// `json`: one JSON object per event (JSON Lines).
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
        /// The same as `--format json` (deprecated).
        #[arg(long, hide = true)]
        json: bool,
        /// Also print the lines that are not clock events.
        #[arg(long)]
        all: bool,
    },
    /// Answer the exchanges of `guest-probe --standalone --reference` over TCP.
    ReferenceServer {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:7420")]
        listen: String,
    },
    /// Turn `guest-probe --standalone` outputs (real VMs, their exchanges
    /// answered by `reference-server`) into a results directory that
    /// `report` renders like any run: one run per file.
    ImportStandalone {
        /// What `guest-probe --standalone --out FILE` wrote, one per machine.
        #[arg(required = true, value_name = "PROBE_OUTPUT")]
        files: Vec<PathBuf>,
        /// The results directory to create.
        #[arg(long)]
        out: PathBuf,
        /// The machine's name (one file only; else each file's name before its first dot).
        #[arg(long)]
        machine: Option<String>,
        /// The host `reference-server` ran on, as the provenance should name it.
        #[arg(long, value_name = "NAME")]
        reference_host: Option<String>,
        /// The reference server ran on this machine: describe it (kernel,
        /// clocksource, CPU) as the run's host.
        #[arg(long)]
        reference_here: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), made from this command line's definition:
    /// `clockstorm man > clockstorm.1`, or one page per subcommand into a directory.
    #[command(hide = true)]
    Man {
        /// Write clockstorm.1 and a page per subcommand (clockstorm-run.1, …) here.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// The fake backend's guest process (a testing aid, started by `run --backend fake`).
    #[command(hide = true)]
    FakeGuest(crate::backend::fake_guest::FakeGuestArgs),
    /// Many short runs with random faults and random interruptions (SIGINT,
    /// SIGTERM, SIGKILL of the harness or the guest, a guest that panics),
    /// counting what each left behind: a testing aid (docs/safety.md).
    Soak(SoakArgs),
    /// The guardian a run starts to undo its faults if it is killed (internal).
    #[command(hide = true)]
    Guardian {
        /// The harness it watches (for its messages).
        #[arg(long)]
        harness_pid: u32,
        /// Also write what it undoes here.
        #[arg(long)]
        log: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario file, or the name of a shipped scenario (`clockstorm scenario list`).
    #[arg(default_value = crate::scenario::DEFAULT_SCENARIO)]
    pub scenario: String,
    /// Comma-separated clocksources to compare, instead of the scenario's
    /// (tsc, hpet, acpi_pm, kvm-clock).
    #[arg(long, value_delimiter = ',')]
    pub clocksource: Option<Vec<String>>,
    /// How long each guest measures (e.g. 10s, 500ms), instead of the scenario's.
    #[arg(long)]
    pub duration: Option<String>,
    /// Guest kernel (bzImage); default: $CLOCKSTORM_KERNEL, the kernel cache, /boot.
    #[arg(long)]
    pub kernel: Option<PathBuf>,
    /// Accelerator: auto uses KVM only when /dev/kvm is usable and the CPU has vmx/svm.
    #[arg(long, value_enum, default_value = "auto")]
    pub accel: AccelChoice,
    /// Results directory; default: results/<scenario>-<UTC time>.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The probe's data channel to the host. auto: virtio-serial when the
    /// kernel's virtio modules are known (round trip ~10x shorter under TCG),
    /// else the second ISA serial port.
    #[arg(long, value_enum, default_value = "auto")]
    pub data_channel: DataChannelArg,
    /// QEMU binary; default: $CLOCKSTORM_QEMU or qemu-system-x86_64 in PATH.
    #[arg(long)]
    pub qemu: Option<String>,
    /// Static guest probe binary; default: $CLOCKSTORM_PROBE or the build's.
    #[arg(long)]
    pub probe: Option<PathBuf>,
    /// A fault on the timeline, KIND:START+DURATION[,KEY=VALUE...], instead of
    /// the scenario's; repeatable. E.g. freeze:3s+6s, pause:15s+3s,
    /// starve:2s+10s,duty=80, vcpu-freeze:4s+2s, command:5s+0s,argv=PROG;ARG.
    #[arg(long = "fault", value_name = "FAULT", conflicts_with = "no_faults")]
    pub faults: Vec<String>,
    /// Run the scenario without its faults (only measure).
    #[arg(long)]
    pub no_faults: bool,
    /// Exchange over the data channel alone, without the shared-memory
    /// reference (the scenario's `probe.shm_reference = false`).
    #[arg(long)]
    pub no_shm_reference: bool,
    /// Let `command` faults run host commands.
    #[arg(long)]
    pub allow_commands: bool,
    /// Run only the K-th of N deterministic parts of the matrix (e.g. 2/4);
    /// join the parts with `clockstorm merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Continue an interrupted results directory (--out): finished runs are
    /// kept, the others are run again.
    #[arg(long, requires = "out")]
    pub resume: bool,
    /// Repetitions of each combination, instead of the scenario's.
    #[arg(long)]
    pub repetitions: Option<u32>,
    /// Guests to run at once, each QEMU pinned to its own share of the host
    /// CPUs. Fault scenarios measure timing, so the default is 1; a warning
    /// says when the host is oversubscribed.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub jobs: u32,
    /// What runs the guests. `fake` is a testing aid: a process that speaks
    /// the probe's protocol and feels faults through a configurable clock
    /// model (docs/clock-model.md); its figures test the pipeline and measure
    /// nothing.
    #[arg(long, value_enum, default_value = "qemu")]
    pub backend: crate::plan::BackendKind,
    /// The fake guest's clock model, KEY=VALUE[,KEY=VALUE...] (wrap=, pause=,
    /// honor=, unstable-after=; docs/clock-model.md). With --backend fake only.
    #[arg(long, default_value = "", value_name = "MODEL")]
    pub fake_model: String,
}

#[derive(Debug, Args)]
pub struct CharacterizeArgs {
    /// The kernel: a kernel cache name or a path ("default": as `run` finds it).
    #[arg(long, default_value = "default")]
    pub kernel: String,
    /// acpi_pm (wraps every 4.687 s) or hpet (every 42.95 s: give it
    /// --from/--to around its thresholds and the minutes that takes).
    #[arg(long, default_value = "acpi_pm")]
    pub clocksource: String,
    /// Shortest and longest freeze searched (default: acpi_pm 0.5 s to
    /// 5.5 s; hpet 2 s to 45 s).
    #[arg(long)]
    pub from: Option<String>,
    #[arg(long)]
    pub to: Option<String>,
    /// Each boundary to within ± this (the bound includes one tick).
    #[arg(long, default_value = "50ms")]
    pub resolution: String,
    /// Freezes per guest.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(2..=20))]
    pub freezes_per_guest: u32,
    /// At most this many guests; a boundary left wider says so.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub max_guests: u32,
    /// Results directory: each guest's run, and profile.json.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Do not keep the profile in the kernel cache (only in --out).
    #[arg(long)]
    pub no_save: bool,
    #[arg(long, value_enum, default_value = "auto")]
    pub accel: AccelChoice,
    /// QEMU binary (default: qemu-system-x86_64 on PATH).
    #[arg(long)]
    pub qemu: Option<String>,
    /// Guest probe binary (default: built beside clockstorm).
    #[arg(long)]
    pub probe: Option<PathBuf>,
    /// `fake`: the fake guest (a testing aid; its profile measures nothing
    /// and only ever serves fake kernels).
    #[arg(long, value_enum, default_value = "qemu")]
    pub backend: crate::plan::BackendKind,
    /// The fake guest's model (`--backend fake`), e.g. refuse-above=0.875.
    #[arg(long, default_value = "", value_name = "MODEL")]
    pub fake_model: String,
}

#[derive(Debug, Args)]
pub struct SoakArgs {
    /// How many runs.
    #[arg(value_parser = clap::value_parser!(u32).range(1..=100000))]
    pub runs: u32,
    /// What runs the guests (`fake`: seconds per run, no guest panics).
    #[arg(long, value_enum, default_value = "qemu")]
    pub backend: crate::plan::BackendKind,
    /// Seed of the random faults, interruptions and moments.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where the runs' results go (default: a new dir in the temp dir).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Guest kernel (as `run --kernel`).
    #[arg(long)]
    pub kernel: Option<String>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Length of each benchmark phase (bare loop, sampler, task alone, task with probe).
    #[arg(long, default_value = "2s")]
    pub phase: String,
}

/// `report --format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Terminal,
    /// The versioned report model.
    Json,
    /// Fits a pull-request comment.
    Markdown,
    /// One test case per run and per gate, for CI systems.
    Junit,
    /// One self-contained page with plots.
    Html,
    /// One row per run and metric and one per fault, for spreadsheets.
    Csv,
}

/// `--format` of the commands that list (`kernel list`, `scenario …`, `events`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    /// For people: aligned columns.
    Text,
    /// For programs: JSON (JSON Lines for `events`).
    Json,
}

/// `--data-channel` values.
pub use crate::qemu::args::DataChannelChoice as DataChannelArg;

#[derive(Debug, Subcommand)]
pub enum ScenarioCommand {
    /// The shipped scenarios, one line each.
    List {
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// Check scenario files; every error names the file, line, key and value.
    Validate {
        #[arg(required = true)]
        files: Vec<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// The fully expanded matrix (every run, with its id, in run order) and the timeline.
    Show {
        scenario: String,
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// Write a scenario from a libvirt domain definition (`virsh dumpxml`):
    /// its clock offset and timers, vCPUs, memory, CPU model, kernel
    /// parameters (a clocksource= there is the one measured); the file's
    /// comments say what each element became, and what could not be mapped
    /// (also on stderr).
    ImportLibvirt {
        /// The domain XML.
        #[arg(value_name = "DOMAIN.xml")]
        domain: std::path::PathBuf,
        /// Write the scenario here instead of to stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
        /// The scenario's name (default: the domain's <name>).
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KernelCommand {
    /// Show the cached guest kernels (name, release, size, sha256).
    List {
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// Download a Debian kernel into the cache (apt, private state), as the
    /// entry debian-SUITE-FLAVOUR-amd64.
    Fetch {
        /// Debian suite: bullseye, bookworm, bookworm-backports, trixie,
        /// trixie-backports, sid, experimental, ...
        #[arg(long, default_value = crate::kernel::DEFAULT_SUITE)]
        suite: String,
        /// Kernel flavour: cloud, or rt (PREEMPT_RT).
        #[arg(long, default_value = crate::kernel::DEFAULT_FLAVOUR)]
        flavour: String,
        /// Debian mirror URL.
        #[arg(long, default_value = crate::kernel::DEFAULT_MIRROR)]
        mirror: String,
    },
}
