//! The `outagesim` command: thin glue from command-line flags to the library.

mod cli;

/// mimalloc: the event sets allocate and free many small buffers; measured faster than the
/// system allocator on PHOLD (see the README's engine figures).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(cli::main());
}
