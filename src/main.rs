//! The `l2net` command: a demo, tools for real interfaces, and benchmarks.

#[cfg(target_os = "linux")]
mod cli;

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    cli::main()
}

#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    eprintln!("l2net: this command currently supports Linux only");
    std::process::ExitCode::FAILURE
}
