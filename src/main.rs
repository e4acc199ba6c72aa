// mimalloc: a request allocates many small strings; the system allocator
// was a fifth of the instructions of a point read.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    workspaced::cli::main()
}
