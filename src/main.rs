use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = gesture_lab::cli::Cli::parse();
    match gesture_lab::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
