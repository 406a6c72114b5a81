fn main() -> std::process::ExitCode {
    tidepool::cli::main()
}
