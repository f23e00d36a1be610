//! The `canalyst` binary: everything lives in the library; see [`canalyst::cli`].

fn main() {
    std::process::exit(canalyst::cli::main());
}
