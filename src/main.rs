use clap::Parser;

fn main() -> std::process::ExitCode {
    // `gesture-lab ... | head` ends quietly, as Unix tools do, instead of
    // panicking in println! when the reader closes the pipe.
    #[cfg(target_os = "linux")]
    // SAFETY: called first, before any thread exists; restores the default action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = gesture_lab::cli::Cli::parse();
    match gesture_lab::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
