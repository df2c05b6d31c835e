//! Where each implementation's CPU goes: Linux `perf` samples of its workerd process under
//! the same load, sorted by the code they landed in (the worker's wasm, its JavaScript,
//! the wasm/JS transitions, V8's built-ins, workerd's and V8's own C++, the kernel).
//!
//! workerd runs with V8's `--perf-basic-prof`, which names JIT code (JavaScript functions,
//! and wasm functions by the names in the module's names section) in
//! `/tmp/perf-<pid>.map`, where `perf report` finds them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Samples per second of CPU time (`-e cpu-clock -F`): each sample stands for about
/// 1/FREQUENCY s of one thread's time on a CPU.
pub const FREQUENCY: u32 = 999;

/// What a sample landed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The worker's wasm functions (compiled by Liftoff or TurboFan).
    Wasm,
    /// The worker's JavaScript: wasm-bindgen's glue and worker-build's shim for the Rust
    /// workers, the whole worker for the JavaScript one.
    Js,
    /// Wrappers V8 runs when wasm calls JavaScript or JavaScript calls wasm.
    Transitions,
    /// V8's built-in functions (promises, typed arrays, property access, ...).
    Builtins,
    /// V8's garbage collector, global handles and write barriers.
    Gc,
    /// The rest of V8's C++: API calls, object creation, property lookup.
    V8,
    /// workerd's API layer and its JavaScript bindings (`workerd::`): Request, Response,
    /// Headers, stubs, the storage API.
    Workerd,
    /// kj and Cap'n Proto: the event loop, promises, HTTP, I/O.
    Kj,
    /// The memory allocator (tcmalloc).
    Allocator,
    /// C code in workerd: SQLite, mostly.
    C,
    /// Other C++ in workerd.
    OtherNative,
    /// The kernel: sockets, scheduling, page faults, files.
    Kernel,
    /// Everything else (libc, ...).
    Other,
}

impl Part {
    pub const ALL: [Part; 13] = [
        Part::Wasm,
        Part::Js,
        Part::Transitions,
        Part::Builtins,
        Part::Gc,
        Part::V8,
        Part::Workerd,
        Part::Kj,
        Part::Allocator,
        Part::C,
        Part::OtherNative,
        Part::Kernel,
        Part::Other,
    ];

    /// The worker's own code: what it runs itself, not what workerd does around it.
    pub fn is_worker(self) -> bool {
        matches!(self, Part::Wasm | Part::Js | Part::Transitions)
    }

    pub fn key(self) -> &'static str {
        match self {
            Part::Wasm => "wasm",
            Part::Js => "javascript",
            Part::Transitions => "wasm_js_transitions",
            Part::Builtins => "v8_builtins",
            Part::Gc => "v8_gc",
            Part::V8 => "v8_runtime",
            Part::Workerd => "workerd_api",
            Part::Kj => "kj_capnp",
            Part::Allocator => "allocator",
            Part::C => "c_sqlite",
            Part::OtherNative => "other_native",
            Part::Kernel => "kernel",
            Part::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Part::Wasm => "the worker's wasm",
            Part::Js => "the worker's JavaScript (glue, shim; all of the JavaScript worker)",
            Part::Transitions => "wasm ↔ JavaScript transitions",
            Part::Builtins => "V8 built-ins (promises, typed arrays, property access)",
            Part::Gc => "V8 garbage collection, global handles, write barriers",
            Part::V8 => "V8 runtime, other (API calls, object creation, lookups)",
            Part::Workerd => "workerd API layer (Request, Response, Headers, stubs, storage)",
            Part::Kj => "kj and Cap'n Proto (event loop, promises, HTTP, I/O)",
            Part::Allocator => "allocator (tcmalloc)",
            Part::C => "C code (SQLite, mostly)",
            Part::OtherNative => "other C++ in workerd",
            Part::Kernel => "kernel (sockets, scheduling, memory)",
            Part::Other => "other (libc, ...)",
        }
    }

    fn index(self) -> usize {
        Part::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
}

/// Sorts one `perf report` row: the shared object (`dso`) and symbol it names.
pub fn classify(dso: &str, symbol: &str) -> Part {
    let symbol = symbol
        .trim()
        .trim_start_matches("[.]")
        .trim_start_matches("[k]")
        .trim();
    if dso.contains("kernel") || dso.starts_with("[vdso]") {
        return Part::Kernel;
    }
    if dso.starts_with("[JIT]") || dso.starts_with("perf-") {
        if symbol.starts_with("Stub:")
            || symbol.contains("wasm-to-js")
            || symbol.contains("js-to-wasm")
        {
            return Part::Transitions;
        }
        // V8 names a wasm function `<name>-<index>-<tier>`; JavaScript functions carry a
        // source position (`JS:*fetch index.js:61:14`).
        if symbol.ends_with("-turbofan") || symbol.ends_with("-liftoff") {
            return Part::Wasm;
        }
        return Part::Js;
    }
    if dso.starts_with("workerd") {
        return native(symbol);
    }
    Part::Other
}

/// Symbol fragments of V8's garbage collector and of the handles it traces.
const GC: &[&str] = &[
    "Scaveng",
    "MarkCompact",
    "Marking",
    "Sweep",
    "Evacuat",
    "Heap::",
    "MinorM",
    "MemoryAllocator",
    "WriteBarrier",
    "GlobalHandles",
    "TracedReference",
    "IsUnscavenged",
    "IsUnmodified",
    "HeapTracer",
];

/// Sorts a symbol of the workerd binary (which embeds V8, kj, SQLite and tcmalloc).
fn native(symbol: &str) -> Part {
    if symbol.starts_with("Builtins_") {
        return Part::Builtins;
    }
    if symbol.contains("tcmalloc")
        || symbol.starts_with("TCMalloc")
        || symbol.starts_with("operator new")
        || symbol.starts_with("operator delete")
    {
        return Part::Allocator;
    }
    if symbol.starts_with("cppgc::")
        || symbol.starts_with("heap::base::")
        || GC.iter().any(|g| symbol.contains(g))
    {
        return Part::Gc;
    }
    if symbol.starts_with("v8::") {
        return Part::V8;
    }
    if symbol.starts_with("workerd::") {
        return Part::Workerd;
    }
    if symbol.starts_with("kj::") || symbol.starts_with("capnp::") {
        return Part::Kj;
    }
    if !symbol.contains("::") && !symbol.contains('<') {
        return Part::C;
    }
    Part::OtherNative
}

/// Samples per [`Part`], in the order of [`Part::ALL`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Split(pub [u64; Part::ALL.len()]);

impl Split {
    pub fn get(&self, part: Part) -> u64 {
        self.0[part.index()]
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    pub fn add(&mut self, other: &Split) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }
}

/// Reads `perf report --no-children --sort dso,sym -n -t '\t' -q` output: one row per
/// symbol with its overhead, sample count, shared object and symbol.
pub fn parse_report(text: &str) -> Result<Split, String> {
    let mut split = Split::default();
    let mut rows = 0;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
        let [_overhead, samples, dso, symbol, ..] = fields[..] else {
            return Err(format!("unexpected perf report line: {line:?}"));
        };
        let samples: u64 = samples
            .parse()
            .map_err(|_| format!("unexpected sample count in perf report line: {line:?}"))?;
        split.0[classify(dso, symbol).index()] += samples;
        rows += 1;
    }
    if rows == 0 {
        return Err("perf report has no samples".to_owned());
    }
    Ok(split)
}

/// `perf`, if it is installed and may record this user's processes.
pub fn perf() -> Result<PathBuf, String> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("perf"))
        .find(|p| p.is_file())
        .ok_or("`perf` is not installed (Debian: linux-perf)")?;
    let data = std::env::temp_dir().join(format!("duro-perf-check-{}.data", std::process::id()));
    let status = Command::new(&found)
        .args(["record", "-q", "-e", "cpu-clock", "-o"])
        .arg(&data)
        .args(["--", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = std::fs::remove_file(&data);
    match status {
        Ok(s) if s.success() => Ok(found),
        Ok(s) => Err(format!(
            "`perf record` does not work here ({s}); see /proc/sys/kernel/perf_event_paranoid"
        )),
        Err(e) => Err(format!("cannot run {}: {e}", found.display())),
    }
}

/// A running `perf record` attached to one process.
pub struct Recording {
    child: Child,
    data: PathBuf,
}

/// Starts sampling process `pid` (all its threads) into `data`.
pub fn record(perf: &Path, pid: u32, data: &Path) -> Result<Recording, String> {
    let child = Command::new(perf)
        .args(["record", "-q", "-e", "cpu-clock", "-F"])
        .arg(FREQUENCY.to_string())
        .arg("-p")
        .arg(pid.to_string())
        .arg("-o")
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", perf.display()))?;
    // perf attaches to every thread before it samples.
    std::thread::sleep(Duration::from_millis(300));
    Ok(Recording {
        child,
        data: data.to_path_buf(),
    })
}

impl Recording {
    /// Stops sampling (SIGINT, as on Ctrl-C, so that perf writes its file) and sorts the
    /// samples with `perf report`.
    pub fn finish(mut self, perf: &Path) -> Result<Split, String> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let status = self
            .child
            .wait()
            .map_err(|e| format!("waiting for perf: {e}"))?;
        if !self.data.is_file() {
            return Err(format!("perf record wrote nothing ({status})"));
        }
        let output = Command::new(perf)
            .args([
                "report",
                "--stdio",
                "-q",
                "-n",
                "--no-children",
                "--sort",
                "dso,sym",
                "-t",
                "\t",
                "-i",
            ])
            .arg(&self.data)
            .stderr(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run perf report: {e}"))?;
        if !output.status.success() {
            return Err(format!("perf report failed ({})", output.status));
        }
        parse_report(&String::from_utf8_lossy(&output.stdout))
    }
}

/// Removes the JIT symbol map V8 wrote for process `pid`.
pub fn remove_map(pid: u32) {
    let _ = std::fs::remove_file(format!("/tmp/perf-{pid}.map"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_symbols_into_parts() {
        let rows = [
            (
                "[kernel.kallsyms]",
                "[k] finish_task_switch.isra.0",
                Part::Kernel,
            ),
            (
                "[JIT] tid 25705",
                "[.] JS:<dlmalloc::Dlmalloc>::malloc-144-turbofan",
                Part::Wasm,
            ),
            (
                "[JIT] tid 25705",
                "[.] JS:worker::durable::State::storage::h1-368-liftoff",
                Part::Wasm,
            ),
            (
                "[JIT] tid 25705",
                "[.] JS:*'__wbg_url_1be993c7b186415b index.js:1:19694",
                Part::Js,
            ),
            ("[JIT] tid 25707", "[.] JS:^fetch index.js:61:14", Part::Js),
            (
                "[JIT] tid 25707",
                "[.] RegExp.< src: '^\\/' flags: ''",
                Part::Js,
            ),
            (
                "[JIT] tid 25705",
                "[.] JS:wasm-to-js-<anonymous>-none",
                Part::Transitions,
            ),
            (
                "[JIT] tid 25705",
                "[.] Stub:js-to-wasm:iin:ii",
                Part::Transitions,
            ),
            ("workerd", "[.] Builtins_WasmTableSet", Part::Builtins),
            (
                "workerd",
                "[.] workerd::api::Headers::~Headers",
                Part::Workerd,
            ),
            (
                "workerd",
                "[.] workerd::jsg::HeapTracer::ResetRoot",
                Part::Gc,
            ),
            (
                "workerd",
                "[.] v8::internal::GlobalHandles::Create",
                Part::Gc,
            ),
            (
                "workerd",
                "[.] v8::internal::Scavenger::ScavengeObject<v8::internal::Slot>",
                Part::Gc,
            ),
            (
                "workerd",
                "[.] cppgc::internal::SweepFinalizer::FinalizePage",
                Part::Gc,
            ),
            ("workerd", "[.] v8::ObjectTemplate::NewInstance", Part::V8),
            ("workerd", "[.] kj::_::ChainPromiseNode::fire", Part::Kj),
            (
                "workerd",
                "[.] capnp::_::PointerBuilder::initStruct",
                Part::Kj,
            ),
            (
                "workerd",
                "[.] tcmalloc::tcmalloc_internal::ThreadCache::Scavenge",
                Part::Allocator,
            ),
            ("workerd", "[.] TCMallocInternalNewArray", Part::Allocator),
            ("workerd", "[.] sqlite3VdbeExec", Part::C),
            ("workerd", "[.] walChecksumBytes", Part::C),
            (
                "workerd",
                "[.] std::__1::basic_string<char>::append",
                Part::OtherNative,
            ),
            (
                "libc.so.6",
                "[.] __memmove_avx512_unaligned_erms",
                Part::Other,
            ),
        ];
        for (dso, symbol, part) in rows {
            assert_eq!(classify(dso, symbol), part, "{dso} {symbol}");
        }
    }

    #[test]
    fn parses_perf_report_rows() {
        let text = "\n     2.34%  \t 307        \t[kernel.kallsyms]  \t[k] finish_task_switch.isra.0\n\
                    \x20    0.37%  \t 48         \t[JIT] tid 25705  \t[.] JS:malloc-144-turbofan\n\
                    \x20    0.56%  \t 73         \t workerd         \t[.] workerd::api::Headers::~Headers\n\
                    \x20    0.33%  \t 43         \t workerd         \t[.] Builtins_WasmTableSet\n";
        let split = parse_report(text).unwrap();
        assert_eq!(split.get(Part::Kernel), 307);
        assert_eq!(split.get(Part::Wasm), 48);
        assert_eq!(split.get(Part::Workerd), 73);
        assert_eq!(split.get(Part::Builtins), 43);
        assert_eq!(split.total(), 307 + 48 + 73 + 43);
        assert!(parse_report("").is_err());
        assert!(parse_report("  1.00%\tmany\tworkerd\t[.] x\n").is_err());
    }
}
