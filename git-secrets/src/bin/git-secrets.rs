fn main() {
    std::process::exit(git_secrets::cli::main(
        std::env::args_os().collect(),
        "git secrets",
    ));
}
