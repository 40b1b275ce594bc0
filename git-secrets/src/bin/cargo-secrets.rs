//! `cargo secrets …`: cargo runs `cargo-secrets secrets …`, so the extra word is dropped.
fn main() {
    let mut args: Vec<_> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == "secrets") {
        args.remove(1);
    }
    std::process::exit(git_secrets::cli::main(args, "cargo secrets"));
}
