fn main() -> std::process::ExitCode {
    workspaced::cli::main()
}
