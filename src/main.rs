// mimalloc: a request allocates many small strings; the system allocator
// was a fifth of the instructions of a point read. See src/alloc.rs.
#[global_allocator]
static GLOBAL: workspaced::alloc::MiMalloc = workspaced::alloc::MiMalloc;

fn main() -> std::process::ExitCode {
    workspaced::cli::main()
}
